/**
 * One training step waits on the device once: the loss download. Counted through the Backend
 * contract on a CPU backend standing in for the device (every call forwarded, `download`,
 * `synchronize` and the uploads counted); the stand-in also reports itself as "cuda", so the
 * model takes the device input path (frames applied by the backend). On the CUDA backend
 * `uploadBatch` and small `upload`s (the targets) are staged without a wait and `download`
 * waits (tests/cuda/fake_device.test.ts counts the waits), so one download is one sync.
 * On the "cuda" path the device builds the frames (`Backend.buildFrames`) and counts degenerate
 * ones on the device: reading `degenerateSeen` is then one download (at epoch end), and gives
 * the host path's count.
 */
import assert from "node:assert/strict";
import type { Backend } from "../../lib/backend/backend.ts";
import { cpuBackend } from "../../lib/backend/select.ts";
import { collate } from "../../lib/graph/batch.ts";
import { Model, type ModelConfig } from "../../lib/models/model.ts";
import { createOptimizer } from "../../lib/optim/create.ts";
import { trainStep } from "../../lib/train/step.ts";
import "../../lib/autograd/backward.ts"; // installs Tensor.backward()
import { syntheticGraphs } from "../models/_fixtures.ts";

const graphs = await syntheticGraphs(8, 7);
const batch = collate(graphs, Int32Array.from({ length: 8 }, (_, i) => i));
const targets = Float32Array.from({ length: 8 }, (_, i) => Math.sin(i));

/** The CPU backend behind a counter of the calls that read the device or write to it. */
function counting(name: "cpu" | "cuda") {
  const inner = cpuBackend();
  const calls = { download: 0, synchronize: 0, upload: 0, uploadBatch: 0 };
  const backend = new Proxy(inner, {
    get(target, prop) {
      if (prop === "name") return name;
      const v = Reflect.get(target, prop, target);
      if (typeof v !== "function") return v;
      return (...args: unknown[]) => {
        if (prop in calls) calls[prop as keyof typeof calls]++;
        return v.apply(target, args);
      };
    },
  }) as Backend;
  return { backend, calls };
}

/** Degenerate frames seen over the 4 steps of each case and path (compared across paths). */
const degenerate = new Map<string, number>();

const cases: { name: string; config: Partial<ModelConfig> & Pick<ModelConfig, "kind"> }[] = [
  { name: "cgcnn", config: { kind: "cgcnn" } },
  { name: "facgcnn pca k=1", config: { kind: "facgcnn", frameKind: "pca", frames: "stochastic" } },
  { name: "facgcnn hybrid k=8", config: { kind: "facgcnn", frameKind: "hybrid", frames: "all" } },
];

for (const c of cases) {
  for (const name of ["cuda", "cpu"] as const) {
    Deno.test(`step syncs: ${c.name} (${name} input path): one download per step, no waits`, () => {
      const { backend, calls } = counting(name);
      const model = new Model({ atomFeaLen: 16, hFeaLen: 16, seed: 2, ...c.config }, backend);
      const opt = createOptimizer("sf-adamw", model.parameters(), { lr: 1e-3 });
      try {
        model.train();
        trainStep(model, opt, batch, targets); // warm-up: first-step allocations
        for (let s = 0; s < 3; s++) {
          for (const k of Object.keys(calls) as (keyof typeof calls)[]) calls[k] = 0;
          const loss = trainStep(model, opt, batch, targets);
          assert.ok(Number.isFinite(loss));
          assert.deepEqual(
            calls,
            { download: 1, synchronize: 0, upload: 1, uploadBatch: 1 },
            "one packed input upload, the targets, and the loss as the one read",
          );
        }
        calls.download = 0;
        const seen = model.degenerateSeen;
        const onDevice = name === "cuda" && c.config.kind === "facgcnn";
        assert.equal(calls.download, onDevice ? 1 : 0, "the count is read once, when asked");
        degenerate.set(`${c.name} ${name}`, seen);
        const other = degenerate.get(`${c.name} ${name === "cuda" ? "cpu" : "cuda"}`);
        if (other !== undefined) assert.equal(seen, other, "the same count on both paths");
        model.degenerateSeen = 0;
        assert.equal(model.degenerateSeen, 0, "reset");
      } finally {
        opt.dispose();
        model.dispose();
      }
    });
  }
}
