/**
 * Model step cost on the CPU: forward and forward+backward (MSE loss) per batch of 256
 * synthetic crystals, CGCNN vs FACGCNN with one stochastic frame per crystal (the paper's
 * k = 1), A = 64 and 128, training mode. The companion `bench/model_report.ts` prints
 * ms/batch, crystals/s, the GEMM share and the FACGCNN/CGCNN ratio.
 *
 *   deno bench --allow-read --allow-write --allow-env --allow-ffi --allow-sys bench/model.bench.ts
 * @module
 */

import { createCpuBackend } from "../lib/backend/cpu/cpu_backend.ts";
import { featurize } from "../lib/data/featurize.ts";
import { syntheticCrystals } from "../lib/data/synthetic.ts";
import { collate } from "../lib/graph/batch.ts";
import { Model } from "../lib/models/model.ts";
import { tidy } from "../lib/tensor/scope.ts";
import "../lib/autograd/backward.ts"; // installs Tensor.backward()
import { lossAndGradients } from "../lib/train/step.ts";

const BATCH = 256;
/** Each step takes 0.1–1 s on a small CPU: a fixed count keeps `deno task bench` short. */
const ITERATIONS = 10;
const backend = createCpuBackend();
const { graphs } = await featurize(syntheticCrystals({ count: BATCH, seed: 42 }), {
  cacheDir: null,
  quiet: true,
});
const batch = collate(graphs, Int32Array.from({ length: graphs.count }, (_, i) => i));
const targets = Float32Array.from(batch.targets);

for (const A of [64, 128]) {
  for (const kind of ["cgcnn", "facgcnn"] as const) {
    const model = new Model({ kind, atomFeaLen: A, frames: "stochastic", seed: 1 }, backend);
    model.train();
    const label = `${kind === "cgcnn" ? "CGCNN" : "FACGCNN k=1"} A=${A}`;
    Deno.bench(`${label} forward`, {
      n: ITERATIONS,
      warmup: 2,
      group: `forward A=${A}`,
      baseline: kind === "cgcnn",
    }, () => {
      tidy(() => {
        model.forward(batch);
      });
    });
    Deno.bench(`${label} forward+backward`, {
      n: ITERATIONS,
      warmup: 2,
      group: `forward+backward A=${A}`,
      baseline: kind === "cgcnn",
    }, () => {
      model.network.zeroGrad();
      lossAndGradients(model, batch, targets);
    });
  }
}
