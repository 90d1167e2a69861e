/**
 * Child of fake_device.test.ts (run with --expose-gc): allocates 64 storages on the fake
 * device, drops them without `free`, collects, and prints the memory counters before and after.
 */
import { CudaBackend } from "../../lib/backend/cuda/cuda_backend.ts";
import { fakeLibraries } from "./_fake_device.ts";

const be = new CudaBackend(fakeLibraries().libs, { tf32: false, device: 0 });
const kept = be.alloc("float32", 1024);
(() => {
  for (let i = 0; i < 64; i++) be.alloc("float32", 256);
})();
const before = be.memory();
const gc = (globalThis as { gc?: () => void }).gc!;
for (let i = 0; i < 20 && be.memory().liveBuffers > 1; i++) {
  gc();
  await new Promise((r) => setTimeout(r, 10));
}
const after = be.memory();
console.log(JSON.stringify({ before, after, allocatorLiveBlocks: be.allocatorStats().liveBlocks }));
be.free(kept);
