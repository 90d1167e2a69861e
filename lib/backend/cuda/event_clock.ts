/**
 * The CUDA clock of the profiling mode (`FACGCNN_PROFILE=1`, see `../profiler.ts`): a mark
 * records a CUDA event on the backend's stream, so the time between two marks is what the
 * device spent on the work enqueued between them, not the host's launch time. Events are
 * created on demand and reused after `reset`, so a profiled step creates none once warm.
 * @module
 */

import type { Cudart } from "./ffi/cudart.ts";
import type { ProfileClock } from "../profiler.ts";

/** The cudart functions the clock uses (a fake device supplies these in tests). */
export type EventRuntime = Pick<
  Cudart,
  | "cudaEventCreate"
  | "cudaEventRecord"
  | "cudaEventSynchronize"
  | "cudaEventElapsedTime"
  | "cudaEventDestroy"
>;

/** A {@linkcode ProfileClock} of CUDA events recorded on `stream`. */
export function eventClock(rt: EventRuntime, stream: Deno.PointerValue): ProfileClock {
  const events: Deno.PointerValue[] = [];
  let used = 0;
  const out = new BigUint64Array(1);
  const ms = new Float32Array(1);
  const check = (op: string, code: number) => {
    if (code !== 0) throw new Error(`CUDA profiler: ${op} failed (error ${code})`);
  };
  return {
    mark() {
      if (used === events.length) {
        check("cudaEventCreate", rt.cudaEventCreate(out));
        events.push(Deno.UnsafePointer.create(out[0]));
      }
      check("cudaEventRecord", rt.cudaEventRecord(events[used], stream));
      return used++;
    },
    elapsed(from, to) {
      check("cudaEventSynchronize", rt.cudaEventSynchronize(events[to]));
      check("cudaEventElapsedTime", rt.cudaEventElapsedTime(ms, events[from], events[to]));
      return ms[0];
    },
    reset() {
      used = 0;
    },
    dispose() {
      for (const e of events) rt.cudaEventDestroy(e);
      events.length = 0;
      used = 0;
    },
  };
}
