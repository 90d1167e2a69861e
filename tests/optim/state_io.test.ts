import assert from "node:assert/strict";
import { forEachBackend } from "../helpers/backends.ts";
import { ScheduleFreeAdamW } from "../../lib/optim/schedule_free_adamw.ts";
import { loadOptimizerState, saveOptimizerState } from "../../lib/optim/state_io.ts";
import { param, release, setGrad } from "./helpers.ts";

forEachBackend("optimizer state file round trip keeps float64 scalars exactly", async (backend) => {
  const p = param(backend, "a.b", [0.1, 0.2, 0.3]);
  const opt = new ScheduleFreeAdamW([p], { lr: 0.0123, warmupSteps: 3 });
  for (let k = 0; k < 3; k++) {
    setGrad(backend, p, [0.3, -0.1 * k, 0.7]);
    opt.step();
  }
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/optim.safetensors`;
    const state = opt.stateDict();
    await saveOptimizerState(path, state);
    const back = await loadOptimizerState(path);
    assert.deepEqual(back, state);
    assert.equal(back.scalars.weightSum, state.scalars.weightSum);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["optim.safetensors"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
    release(opt, p);
  }
});

forEachBackend("a state of the wrong size is rejected and nothing leaks", (backend) => {
  const p = param(backend, "w", [1, 2, 3]);
  const opt = new ScheduleFreeAdamW([p]);
  setGrad(backend, p, [1, 1, 1]);
  opt.step();
  const state = opt.stateDict();
  const q = param(backend, "w", [1, 2]);
  const other = new ScheduleFreeAdamW([q]);
  const live = backend.memory().liveBuffers;
  assert.throws(() => other.loadStateDict(state), /"z\/w" has 3 elements, expected 2/);
  assert.equal(backend.memory().liveBuffers, live);
  release(opt, other, p, q);
});
