import assert from "node:assert/strict";
import {
  bucketSize,
  CachingAllocator,
  type DeviceMemory,
  DeviceOutOfMemoryError,
} from "../../lib/backend/cuda/allocator.ts";

/** A fake device with a byte capacity: counts mallocs/frees and rejects what does not fit. */
class FakeDevice implements DeviceMemory {
  next = 0x1000n;
  used = 0;
  mallocs = 0;
  frees = 0;
  readonly sizes = new Map<bigint, number>();
  constructor(readonly capacity: number) {}
  malloc(bytes: number): bigint | null {
    this.mallocs++;
    if (this.used + bytes > this.capacity) return null;
    const p = this.next;
    this.next += BigInt(bytes);
    this.used += bytes;
    this.sizes.set(p, bytes);
    return p;
  }
  free(ptr: bigint): void {
    const size = this.sizes.get(ptr);
    if (size === undefined) throw new Error("fake device: double free");
    this.sizes.delete(ptr);
    this.used -= size;
    this.frees++;
  }
}

const MiB = 1024 * 1024;

Deno.test("bucketSize: 512 B steps below 1 MiB, 2 MiB steps from 1 MiB", () => {
  assert.equal(bucketSize(0), 512);
  assert.equal(bucketSize(1), 512);
  assert.equal(bucketSize(512), 512);
  assert.equal(bucketSize(513), 1024);
  assert.equal(bucketSize(MiB - 1), MiB);
  assert.equal(bucketSize(MiB), 2 * MiB);
  assert.equal(bucketSize(2 * MiB + 1), 4 * MiB);
  assert.throws(() => bucketSize(-1), RangeError);
});

Deno.test("allocator reuses a released block of the same bucket", () => {
  const dev = new FakeDevice(64 * MiB);
  const a = new CachingAllocator(dev);
  const b1 = a.alloc(1000);
  a.release(b1);
  const b2 = a.alloc(1024); // same 1024-byte bucket
  assert.equal(b2.ptr, b1.ptr);
  assert.equal(dev.mallocs, 1);
  const b3 = a.alloc(2000); // another bucket: a fresh block
  assert.notEqual(b3.ptr, b1.ptr);
  assert.equal(dev.mallocs, 2);
  const s = a.stats();
  assert.equal(s.liveBlocks, 2);
  assert.equal(s.liveBytes, 1024 + 2048);
  assert.equal(s.cachedBytes, 0);
});

Deno.test("allocator stats: live, cached, peaks, resetPeak", () => {
  const a = new CachingAllocator(new FakeDevice(64 * MiB));
  const x = a.alloc(3 * MiB); // 4 MiB bucket
  const y = a.alloc(100); // 512
  a.release(x);
  let s = a.stats();
  assert.equal(s.liveBytes, 512);
  assert.equal(s.cachedBytes, 4 * MiB);
  assert.equal(s.peakLiveBytes, 4 * MiB + 512);
  assert.equal(s.peakReservedBytes, 4 * MiB + 512);
  a.resetPeak();
  assert.equal(a.stats().peakLiveBytes, 512);
  a.release(y);
  a.emptyCache();
  s = a.stats();
  assert.equal(s.cachedBytes, 0);
  assert.equal(s.liveBytes, 0);
  assert.equal(s.deviceFrees, 2);
  assert.throws(() => a.release(y), /not a live block/);
});

Deno.test("allocator releases the cache on OOM and retries once", () => {
  const dev = new FakeDevice(8 * MiB);
  const a = new CachingAllocator(dev);
  const big = a.alloc(5 * MiB); // 6 MiB bucket
  a.release(big); // cached, still held on the device
  const other = a.alloc(3 * MiB); // 4 MiB bucket: 6 + 4 > 8 → OOM, release cache, retry
  assert.equal(a.stats().oomRetries, 1);
  assert.equal(a.stats().cachedBytes, 0);
  assert.equal(dev.used, 4 * MiB);
  // Nothing left to release: a second OOM is an error naming the request.
  assert.throws(() => a.alloc(6 * MiB), DeviceOutOfMemoryError);
  a.release(other);
});

Deno.test("allocator: N training-like steps keep device memory at the one-step level", () => {
  const dev = new FakeDevice(1024 * MiB);
  const a = new CachingAllocator(dev);
  // A "step": parameters persist; activations of varied sizes are allocated then freed.
  const params = [a.alloc(92 * 128 * 4), a.alloc(128 * 4)];
  const sizes = [2048 * 15 * 128 * 4, 2048 * 15 * 12 * 297 * 4, 2048 * 4, 777, 3 * MiB + 5];
  const step = (jitter: number) => {
    const blocks = sizes.map((s) => a.alloc(s - jitter));
    for (const b of blocks.reverse()) a.release(b);
  };
  step(0);
  const afterOne = { used: dev.used, mallocs: dev.mallocs };
  for (let i = 1; i < 50; i++) step(i % 7); // slightly smaller requests: the same buckets
  assert.equal(dev.used, afterOne.used);
  assert.equal(dev.mallocs, afterOne.mallocs);
  assert.equal(a.stats().liveBlocks, params.length);
});
