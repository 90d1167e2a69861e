import assert from "node:assert/strict";
import { createCpuBackend } from "../../lib/backend/cpu/cpu_backend.ts";

Deno.test("CPU backend reuses freed float arrays, zeroed, and keeps live accounting exact", () => {
  const b = createCpuBackend({ nativeKernels: false });
  const n = 100_000; // 400 kB: pooled
  const a = b.alloc("float32", n);
  b.fill(a, 7);
  const before = b.memory();
  b.free(a);
  assert.equal(b.memory().liveBytes, before.liveBytes - 4 * n);
  assert.equal(b.pooledBytes, 4 * n);
  const again = b.alloc("float32", n);
  assert.equal(b.pooledBytes, 0, "the pooled array was taken");
  const values = b.download(again);
  assert.ok(values.every((v) => v === 0), "a reused array comes back zero-filled");
  assert.equal(b.memory().liveBytes, before.liveBytes);
  // Small arrays and int32 arrays are not pooled.
  b.free(b.alloc("float32", 10));
  b.free(b.alloc("int32", n));
  assert.equal(b.pooledBytes, 0);
  b.free(again);
  assert.equal(b.pooledBytes, 4 * n);
  b.releaseCache();
  assert.equal(b.pooledBytes, 0);
});

Deno.test("CPU backend pool stays within its budget", () => {
  const b = createCpuBackend({ nativeKernels: false });
  const arrays = Array.from({ length: 200 }, () => b.alloc("float32", 1_000_000)); // 800 MB peak
  for (const a of arrays) b.free(a);
  assert.ok(
    b.pooledBytes <= b.memory().peakBytes,
    `${b.pooledBytes} pooled vs peak ${b.memory().peakBytes}`,
  );
  assert.equal(b.memory().liveBytes, 0);
  b.releaseCache();
});
