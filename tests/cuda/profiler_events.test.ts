/**
 * Profiling mode on the fake CUDA device: the event bookkeeping of `eventClock` (two events
 * per op and one pair per step, created once and reused, synchronised before reading, all
 * destroyed at the end) and the per-kind tally of `profiledBackend` over a CUDA backend.
 */
import assert from "node:assert/strict";
import { CudaBackend } from "../../lib/backend/cuda/cuda_backend.ts";
import type { EventRuntime } from "../../lib/backend/cuda/event_clock.ts";
import { profiledBackend, Profiler, profilerOf } from "../../lib/backend/profiler.ts";
import { fakeLibraries } from "./_fake_device.ts";

/** Fake events: a record stamps the device clock, which advances 0.5 ms per record. */
function fakeEvents() {
  const stamps = new Map<bigint, number>();
  const counts = { created: 0, recorded: 0, synced: 0, elapsed: 0, destroyed: 0 };
  let next = 0x9000n, clock = 0;
  const id = (p: Deno.PointerValue) => BigInt(Deno.UnsafePointer.value(p));
  const rt: EventRuntime = {
    cudaEventCreate: (out) => {
      (out as BigUint64Array)[0] = next++;
      counts.created++;
      return 0;
    },
    cudaEventRecord: (e, stream) => {
      assert.equal(id(stream), 0x5000n, "recorded on the backend's stream");
      stamps.set(id(e), clock += 0.5);
      counts.recorded++;
      return 0;
    },
    cudaEventSynchronize: () => (counts.synced++, 0),
    cudaEventElapsedTime: (ms, a, b) => {
      (ms as Float32Array)[0] = stamps.get(id(b))! - stamps.get(id(a))!;
      counts.elapsed++;
      return 0;
    },
    cudaEventDestroy: (e) => (stamps.delete(id(e)), counts.destroyed++, 0),
  };
  return { rt, counts };
}

Deno.test("profiler: CUDA event pairs per op, reused across steps, destroyed at the end", () => {
  const { libs } = fakeLibraries();
  const { rt, counts } = fakeEvents();
  const inner = new CudaBackend({ ...libs, cudart: { ...libs.cudart, ...rt } }, {
    tf32: false,
    device: 0,
  });
  // The backend's own clock records on its stream (checked by the fake's assertion).
  const clock = inner.eventClock();
  const profiler = new Profiler(clock);
  const be = profiledBackend(inner, profiler);
  assert.equal(profilerOf(be), profiler);
  assert.equal(profilerOf(inner), null);

  const a = be.upload(new Float32Array([1, 2, 3, 4])), c = be.alloc("float32", 4);
  const idx = be.upload(new Int32Array([1, 0]));
  be.fill(c, 0); // outside a step: not timed, no event
  assert.equal(counts.recorded, 0);
  for (let step = 0; step < 2; step++) {
    profiler.stepBegin();
    be.fill(c, 1);
    be.gemm({
      ...{ transA: false, transB: false, m: 2, n: 2, k: 2, alpha: 1, beta: 0 },
      ...{ a, lda: 2, b: a, ldb: 2, c, ldc: 2 },
    });
    be.gatherRows(a, idx, c, 2, 2);
    be.copy(a, c, 4);
    profiler.stepEnd();
  }
  // Per step: 1 step pair + 4 op pairs = 10 records; events made by the first step only.
  assert.equal(counts.recorded, 20);
  assert.equal(counts.created, 10);
  assert.equal(counts.elapsed, 2 * 5);
  assert.equal(counts.synced, counts.elapsed, "each read waits for its end event");
  const s = profiler.summary();
  assert.equal(s.steps, 2);
  // Step: first to last of 10 records = 4.5 ms of fake device time; each op 0.5 ms.
  assert.equal(s.stepMs, 2 * 4.5);
  const byKind = Object.fromEntries(s.kinds.map((k) => [k.kind, k]));
  assert.deepEqual(Object.keys(byKind).sort(), ["copy", "fill", "gatherRows", "gemm"]);
  for (const k of s.kinds) assert.deepEqual([k.calls, k.ms], [2, 1], k.kind);
  assert.equal(byKind.gemm.flops, 2 * 2 * 2 * 2 * 2);
  assert.equal(byKind.gemm.bytes, 2 * 4 * 12);
  assert.equal(byKind.gatherRows.bytes, 2 * (16 + 8 + 16));
  be.free(idx);
  be.free(a);
  be.free(c);
  profiler.dispose();
  assert.equal(counts.destroyed, 10);
  inner.dispose();
});
