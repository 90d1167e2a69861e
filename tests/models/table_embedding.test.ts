/**
 * The atom embedding from the atom feature table (`network.forward({ table }, inputs)`: the
 * table's rows embedded once and gathered per atom, FACGCNN's coordinates added per atom)
 * against the embedding of the gathered `[N, F]` features: the same predictions and the same
 * gradient of every parameter, on every backend, for CGCNN and FACGCNN (one and all frames).
 */
import { collate } from "../../lib/graph/batch.ts";
import { Model, type ModelConfig } from "../../lib/models/model.ts";
import { gatherRows, mseLoss, tensor } from "../../lib/tensor/ops.ts";
import { tidy } from "../../lib/tensor/scope.ts";
import "../../lib/autograd/backward.ts"; // installs Tensor.backward()
import { forEachBackend } from "../helpers/backends.ts";
import { assertClose } from "../helpers/numeric.ts";
import { syntheticGraphs } from "./_fixtures.ts";

const graphs = await syntheticGraphs(10, 5);
const batch = collate(graphs, Int32Array.from({ length: 10 }, (_, i) => i));
const targets = Float32Array.from({ length: 10 }, (_, i) => Math.cos(i));

const configs: (Partial<ModelConfig> & Pick<ModelConfig, "kind">)[] = [
  { kind: "cgcnn" },
  { kind: "facgcnn", frames: "stochastic" },
  { kind: "facgcnn", frames: "all" },
];

for (const config of configs) {
  forEachBackend(
    `table embedding = feature embedding: ${config.kind} ${config.frames ?? ""}`,
    (b) => {
      const model = new Model({ atomFeaLen: 16, hFeaLen: 16, seed: 4, ...config }, b);
      try {
        model.train();
        const h = model.hostInputs(batch); // one frame draw for both paths
        const run = (fromTable: boolean) => {
          model.network.zeroGrad();
          const pred = tidy(() => {
            const inputs = model.uploadInputs(h);
            const atoms = fromTable
              ? { table: model.atomTable }
              : gatherRows(model.atomTable, inputs.numbers);
            const p = model.network.forward(atoms, inputs);
            mseLoss(p, tensor(b, targets, [10, 1])).backward();
            return p.toFloat32Array();
          });
          const grads = model.parameters().map((p) => p.value.grad!.toFloat32Array());
          return { pred, grads };
        };
        const table = run(true), features = run(false);
        assertClose(table.pred, features.pred, 1e-5, 1e-6, "predictions");
        // Absolute slack from the largest gradient of the network: fc_full's bias has a true
        // gradient of 0 under BN1 in training mode, so its entries are float32 roundoff.
        const largest = Math.max(
          ...features.grads.map((g) => g.reduce((m, v) => Math.max(m, Math.abs(v)), 0)),
        );
        model.parameters().forEach((p, i) => {
          assertClose(table.grads[i], features.grads[i], 1e-4, 1e-6 * largest, p.name);
        });
      } finally {
        model.network.zeroGrad();
        model.dispose();
      }
    },
  );
}
