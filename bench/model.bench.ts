/**
 * Model step cost: forward and forward+backward (MSE loss) per batch of synthetic crystals,
 * CGCNN vs FACGCNN with one stochastic frame per crystal (the paper's k = 1), A = 64 and 128,
 * training mode, on every backend present (`bench/_backends.ts`: `cpu-ts`, `cpu-native`,
 * `cuda` or its stand-in with `FACGCNN_GPU_STANDIN=cpu`). The companion
 * `bench/model_report.ts` prints ms/batch, crystals/s, the GEMM share and the FACGCNN/CGCNN
 * ratio.
 *
 * Batch 256 runs by default; batch 2048 (eight times the work: seconds per step on a small
 * CPU) registers only with `BENCH_LARGE=1`, e.g. on a GPU machine:
 *
 *   BENCH_LARGE=1 deno bench -A bench/model.bench.ts --filter "batch=2048"
 *
 * Group names (`forward+backward A=64 batch=256`) put the backends and both models side by
 * side. The all-TypeScript GEMM configuration runs each step once (it takes seconds).
 * @module
 */

import { featurize } from "../lib/data/featurize.ts";
import { syntheticCrystals } from "../lib/data/synthetic.ts";
import { collate } from "../lib/graph/batch.ts";
import { Model } from "../lib/models/model.ts";
import { tidy } from "../lib/tensor/scope.ts";
import "../lib/autograd/backward.ts"; // installs Tensor.backward()
import { lossAndGradients } from "../lib/train/step.ts";
import { envVar } from "../lib/util/settings.ts";
import { registerCases } from "./_backends.ts";

/** Batch sizes: 256 always, 2048 with `BENCH_LARGE=1`. */
const BATCHES = envVar("BENCH_LARGE") === "1" ? [256, 2048] : [256];
/** Each step takes 0.1–1 s on a small CPU: a fixed count keeps `deno task bench` short. */
const ITERATIONS = 10;

for (const size of BATCHES) {
  const { graphs } = await featurize(syntheticCrystals({ count: size, seed: 42 }), {
    cacheDir: null,
    quiet: true,
  });
  const batch = collate(graphs, Int32Array.from({ length: graphs.count }, (_, i) => i));
  const targets = Float32Array.from(batch.targets);
  for (const A of [64, 128]) {
    registerCases((backend, config) =>
      (["cgcnn", "facgcnn"] as const).flatMap((kind) => {
        const model = new Model({ kind, atomFeaLen: A, frames: "stochastic", seed: 1 }, backend);
        model.train();
        const label = kind === "cgcnn" ? "CGCNN" : "FACGCNN k=1";
        return [
          {
            group: `forward A=${A} batch=${size} ${label}`,
            slow: config.slowGemm,
            run: () =>
              tidy(() => {
                model.forward(batch);
              }),
          },
          {
            group: `forward+backward A=${A} batch=${size} ${label}`,
            slow: config.slowGemm,
            run: () => {
              model.network.zeroGrad();
              lossAndGradients(model, batch, targets);
            },
          },
        ];
      }), { n: ITERATIONS, warmup: 2 });
  }
}
