import assert from "node:assert/strict";
import { createCpuBackend } from "../../lib/backend/cpu/cpu_backend.ts";
import { sizeClass, SizeClassPool } from "../../lib/backend/size_class_pool.ts";

Deno.test("size classes: the next of 2^k·{1, 1.25, 1.5, 1.75}, brute-force checked", () => {
  const classes: number[] = [];
  for (let k = 10; k < 40; k++) for (const f of [1, 1.25, 1.5, 1.75]) classes.push(f * 2 ** k);
  for (const bytes of [1024, 1025, 1280, 1281, 4000, 4096, 400_000, 123_456_789, 2 ** 33 + 1]) {
    const expected = classes.find((c) => c >= bytes)!;
    assert.equal(sizeClass(bytes), expected, `class of ${bytes}`);
    assert.ok(sizeClass(bytes) < 1.25 * bytes + 1, "at most 25% waste");
  }
  assert.equal(sizeClass(100), 100, "below the minimum: the size itself");
});

Deno.test("size-class pool: reuse across sizes of one class, counters, bound, trim", () => {
  const destroyed: ArrayBuffer[] = [];
  const pool = new SizeClassPool<ArrayBuffer>(
    (n) => new ArrayBuffer(n),
    (b) => destroyed.push(b),
    (b) => b.byteLength,
    { maxCachedBytes: 8192 },
  );
  const a = pool.acquire(5000);
  assert.equal(a.byteLength, 5120);
  pool.release(a);
  assert.equal(pool.acquire(4200), a, "another size of the same class reuses the block");
  const other = pool.acquire(4200);
  assert.notEqual(other, a);
  let s = pool.stats();
  assert.deepEqual([s.freshAllocations, s.reusedAllocations, s.liveBlocks], [2, 1, 2]);
  assert.equal(s.liveBytes, 2 * 5120);
  pool.release(a);
  pool.release(other);
  pool.trim();
  // The bound is max(maxCachedBytes, peak live + the largest block) = max(8192, …).
  const x = pool.acquire(6000), y = pool.acquire(7000); // 6144 + 7168 live: peak 13312
  pool.release(x);
  pool.release(y); // 13312 ≤ 13312 + 7168: cached
  const z = pool.acquire(1500); // 1536, a new class
  pool.release(z); // 13312 + 1536 ≤ 20480: cached (one largest block above the peak)
  const big = pool.acquire(9000); // 10240, a new class: the bound is now 13312 + 10240
  pool.release(big); // 14848 + 10240 > 23552: dropped
  s = pool.stats();
  assert.equal(s.evictions, 1);
  assert.ok(destroyed.includes(big) && !destroyed.includes(y) && !destroyed.includes(z));
  assert.equal(s.cachedBytes, 14848);
  pool.trim();
  assert.equal(pool.stats().cachedBytes, 0);
  assert.ok(destroyed.includes(a));
});

Deno.test("CPU backend reuses freed arrays by size class, zeroed on request, exact accounting", () => {
  const b = createCpuBackend({ nativeKernels: false });
  const n = 100_000; // 400 kB: class 458752 bytes
  const a = b.alloc("float32", n);
  b.fill(a, 7);
  const before = b.memory();
  b.free(a);
  assert.equal(b.memory().liveBytes, before.liveBytes - 4 * n);
  assert.equal(b.pooledBytes, 458752);
  // A different length of the same class (a batch of another size) takes the block.
  const again = b.alloc("float32", n + 1000);
  assert.equal(again.length, n + 1000);
  assert.equal(b.pooledBytes, 0, "the pooled block was taken");
  assert.equal(b.download(again).length, n + 1000, "the storage has its own length");
  assert.ok(b.download(again).every((v) => v === 0), "a reused block comes back zero-filled");
  b.fill(again, 7);
  b.free(again);
  const raw = b.alloc("float32", n, false);
  assert.ok(b.download(raw).some((v) => v === 7), "zeroed = false skips the clearing");
  b.free(raw);
  // int32 storage shares the blocks; small arrays are not pooled.
  const idx = b.alloc("int32", n);
  assert.ok(b.download(idx).every((v) => v === 0));
  b.free(idx);
  b.free(b.alloc("float32", 10));
  assert.equal(b.pooledBytes, 458752);
  const m = b.memory();
  assert.ok(m.reusedAllocations! >= 3 && m.freshAllocations! >= 1);
  b.releaseCache();
  assert.equal(b.pooledBytes, 0);
});

Deno.test("CPU backend pool stays within its budget", () => {
  const b = createCpuBackend({ nativeKernels: false });
  const arrays = Array.from({ length: 200 }, () => b.alloc("float32", 1_000_000)); // 800 MB peak
  for (const a of arrays) b.free(a);
  assert.ok(
    b.pooledBytes <= 1.25 * b.memory().peakBytes,
    `${b.pooledBytes} pooled vs peak ${b.memory().peakBytes}`,
  );
  assert.equal(b.memory().liveBytes, 0);
  b.releaseCache();
});

Deno.test("size-class pool: a miss takes a cached block of a larger class, up to 2×", () => {
  const pool = new SizeClassPool<ArrayBuffer>(
    (n) => new ArrayBuffer(n),
    () => {},
    (b) => b.byteLength,
    { maxCachedBytes: 1 << 20 },
  );
  const big = pool.acquire(7000); // class 7168
  const huge = pool.acquire(20000); // class 20480
  pool.release(big);
  pool.release(huge);
  // 4000 B (class 4096): no 4096 block cached; 7168 is 3 classes up (≤ 2×): reused.
  assert.equal(pool.acquire(4000), big);
  // 9000 B (class 10240): 20480 is 4 classes up, exactly 2×: reused.
  assert.equal(pool.acquire(9000), huge);
  let s = pool.stats();
  assert.deepEqual([s.freshAllocations, s.reusedAllocations], [2, 2]);
  assert.equal(s.liveBytes, 7168 + 20480, "live bytes count the block's real size");
  assert.equal(s.cachedBytes, 0);
  pool.release(big);
  pool.release(huge);
  // 3000 B (class 3072): 7168 is more than 2× and 5 classes up: a fresh block.
  const small = pool.acquire(3000);
  assert.ok(small !== big && small !== huge && small.byteLength === 3072);
  s = pool.stats();
  assert.deepEqual([s.freshAllocations, s.reusedAllocations], [3, 2]);
  assert.equal(s.cachedBytes, 7168 + 20480);
});
