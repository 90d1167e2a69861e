/**
 * Profiling mode on the GPU stand-in (`FACGCNN_GPU_STANDIN=cpu`: the CPU backend, timed with
 * the host clock): training steps through `trainEpoch` (its step marks) and predictions
 * through `predictGraphs`, then the table. The shares in the table (op kinds plus the time
 * outside ops) must add up to the step time measured around the epoch within 5%, and the op
 * kinds must be what a CGCNN step runs.
 */
import assert from "node:assert/strict";
import { createCpuBackend } from "../../lib/backend/cpu/cpu_backend.ts";
import {
  hostClock,
  maybeProfiled,
  measureRates,
  profiledBackend,
  Profiler,
  profileReport,
  profilerOf,
  profileTable,
} from "../../lib/backend/profiler.ts";
import { featurize } from "../../lib/data/featurize.ts";
import { syntheticCrystals } from "../../lib/data/synthetic.ts";
import { Model } from "../../lib/models/model.ts";
import { createOptimizer } from "../../lib/optim/create.ts";
import { trainEpoch } from "../../lib/train/epoch.ts";
import { Normalizer } from "../../lib/train/normalizer.ts";
import "../../lib/autograd/backward.ts";

Deno.test("profiler on the stand-in: the table's shares add up to the measured step time", async () => {
  const profiler = new Profiler(hostClock());
  const backend = profiledBackend(createCpuBackend(), profiler);
  const { graphs } = await featurize(syntheticCrystals({ count: 64, seed: 3 }), {
    cacheDir: null,
    quiet: true,
  });
  const model = new Model(
    { kind: "facgcnn", atomFeaLen: 64, frames: "stochastic", seed: 1 },
    backend,
  );
  const optimizer = createOptimizer("sf-adamw", model.parameters(), { lr: 1e-3 });
  const order = Int32Array.from({ length: graphs.count }, (_, i) => i);
  const normalizer = new Normalizer(0, 1);
  const at = { epoch: 1, epochs: 1 };
  trainEpoch(model, optimizer, graphs, normalizer, order, 32, at); // warm-up, profiled too
  const before = profiler.summary();
  const t0 = performance.now();
  trainEpoch(model, optimizer, graphs, normalizer, order, 32, at);
  const wallMs = performance.now() - t0;
  const s = profiler.summary();
  assert.equal(s.steps - before.steps, 2, "one profiled step per batch");
  const stepMs = s.stepMs - before.stepMs;
  // Steps cover the epoch's batches: the measured epoch time is the steps plus the loop.
  assert.ok(stepMs <= wallMs && stepMs >= 0.95 * wallMs, `steps ${stepMs} ms, epoch ${wallMs} ms`);

  const table = profileTable(s, measureRates(backend, profiler.clock, 256));
  console.log(table);
  const rows = table.split("\n").slice(2, -1);
  assert.match(table, /^profile \(train\): 4 steps/); // op kinds and "outside ops"
  const shares = rows.map((r) => Number(/(-?[\d.]+)%/.exec(r)![1]));
  const sum = shares.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(sum - 100) <= 5, `shares sum to ${sum}%`);
  const perStepMs = rows.map((r) => Number(r.slice(29, 38)));
  const total = perStepMs.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(total - s.stepMs / s.steps) <= 0.05 * (s.stepMs / s.steps), `${total} ms`);
  const kinds = s.kinds.map((k) => k.kind);
  for (const k of ["gemm", "gatherRows", "scheduleFreeAdamWStep"]) {
    assert.ok(kinds.some((x) => x.startsWith(k)), `no ${k} in ${kinds.join(", ")}`);
  }
  const ops = s.kinds.reduce((a, k) => a + k.ms, 0);
  console.log(`ops cover ${(100 * ops / s.stepMs).toFixed(1)}% of the step time`);

  // Prediction batches are steps of their own phase, apart from the training steps.
  const n = s.steps;
  model.predictGraphs(graphs, { batchSize: 64 });
  assert.equal(profiler.summary().steps, n);
  assert.equal(profiler.summary("predict").steps, 1);
  assert.deepEqual(profiler.phases(), ["train", "predict"]);
  model.dispose();
  profiler.dispose();
});

Deno.test("profiler: FACGCNN_PROFILE=1 wraps the backend; unset, the backend is returned as is", () => {
  const previous = Deno.env.get("FACGCNN_PROFILE");
  try {
    const cpu = createCpuBackend();
    Deno.env.delete("FACGCNN_PROFILE");
    assert.equal(maybeProfiled(cpu), cpu, "off: no wrapper, no cost");
    assert.equal(profilerOf(cpu), null);
    Deno.env.set("FACGCNN_PROFILE", "1");
    const wrapped = maybeProfiled(cpu);
    assert.notEqual(wrapped, cpu);
    assert.ok(profilerOf(wrapped));
    assert.equal(profileReport(cpu), null);
    profilerOf(wrapped)!.dispose();
  } finally {
    if (previous === undefined) Deno.env.delete("FACGCNN_PROFILE");
    else Deno.env.set("FACGCNN_PROFILE", previous);
  }
});
