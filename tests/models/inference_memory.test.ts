/**
 * Inference frees each layer's intermediates as it goes (`releaseUnrecorded`): an eval-mode
 * forward under `noGrad` gives the same predictions as one that records the graph, while
 * holding less memory at its peak (the `[E, 2A]` pre-activations of the three convolutions
 * are not all alive at once).
 */

import assert from "node:assert/strict";
import { createCpuBackend } from "../../lib/backend/cpu/cpu_backend.ts";
import { collate } from "../../lib/graph/batch.ts";
import { Model } from "../../lib/models/model.ts";
import { noGrad, tidy } from "../../lib/tensor/scope.ts";
import { syntheticGraphs } from "./_fixtures.ts";

const graphs = await syntheticGraphs(48, 11);

for (const kind of ["cgcnn", "facgcnn"] as const) {
  Deno.test(`${kind} inference under noGrad: same outputs, lower peak memory`, () => {
    const backend = createCpuBackend();
    const model = new Model({ kind, atomFeaLen: 32, frames: "all", seed: 3 }, backend).eval();
    const batch = collate(graphs, Int32Array.from({ length: graphs.count }, (_, i) => i));
    const run = (grad: boolean) => {
      backend.resetPeak();
      const before = backend.memory().liveBytes;
      const out = tidy(() => {
        const f = () => model.forward(batch, "all").toFloat32Array();
        return grad ? f() : noGrad(f);
      });
      return { out, peak: backend.memory().peakBytes - before };
    };
    const recorded = run(true), inference = run(false);
    assert.deepEqual(inference.out, recorded.out, "the same predictions");
    assert.ok(
      inference.peak < 0.75 * recorded.peak,
      `peak ${inference.peak} B under noGrad vs ${recorded.peak} B recording`,
    );
    model.dispose();
  });
}
