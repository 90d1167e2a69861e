/**
 * Trains a small CGCNN on synthetic data with the library's `train()`; run in one process
 * (with `--shards P` to reproduce a P-process run) or under `mpirun -np P`. Rank 0 prints one
 * JSON line with the per-epoch records. `--fail-rank R` makes rank R throw in its third step
 * (while the others wait in the gradient all-reduce).
 *
 *   deno run -A tests/distributed/train_worker.ts OUT [--shards P] [--fail-rank R] [--optimizer K]
 *     [--epochs N] [--resume]
 * @module
 */

import { parseArgs } from "node:util";
import { initDistributed } from "../../lib/distributed/communicator.ts";
import { failRank } from "../../lib/distributed/failure.ts";
import { train } from "../../lib/train/trainer.ts";

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    shards: { type: "string" },
    "fail-rank": { type: "string" },
    optimizer: { type: "string", default: "sf-adamw" },
    epochs: { type: "string", default: "3" },
    resume: { type: "boolean", default: false },
  },
});
const comm = initDistributed();
try {
  let steps = 0;
  const result = await train({
    data: "synthetic:150:5",
    split: [0.8, 0.1, 0.1],
    model: "cgcnn",
    atomFeaLen: 16,
    hFeaLen: 16,
    nConv: 2,
    epochs: Number(values.epochs),
    batchSize: 20,
    lr: 2e-3,
    optimizer: values.optimizer as "sf-adamw" | "adamw" | "sgd",
    bnBatches: 3,
    device: "cpu",
    cacheDir: null,
    out: positionals[0],
    seed: 1,
    ...(values.shards ? { shards: Number(values.shards) } : {}),
    ...(values.resume ? { resume: true } : {}),
  }, {
    log: () => {},
    onBatch: () => {
      steps++;
      if (values["fail-rank"] !== undefined && comm.rank === Number(values["fail-rank"])) {
        if (steps === 3) throw new Error("injected failure in the third step (test)");
      }
    },
  });
  if (comm.rank === 0) {
    console.log(JSON.stringify({ history: result.history, test: result.test, size: comm.size }));
  }
  result.model.dispose();
  comm.finalize();
} catch (e) {
  failRank(comm, e);
}
