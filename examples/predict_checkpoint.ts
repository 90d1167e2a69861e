/**
 * Predict with a saved checkpoint and write `id,target,prediction` CSV. Without
 * `--checkpoint`, a tiny model is trained first (2 epochs) so the script runs as is.
 *
 *   deno run -A examples/predict_checkpoint.ts [--checkpoint runs/<run>/best.safetensors]
 *     [--data synthetic:100|my_cifs/|data.csv] [--frames all|stochastic|none]
 *     [--out predictions.csv]
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  type FrameMode,
  loadCheckpoint,
  loadDataset,
  regressionMetrics,
  showPredictions,
  train,
} from "../mod.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    checkpoint: { type: "string" },
    data: { type: "string", default: Deno.env.get("EXAMPLE_DATA") ?? "synthetic:100:5" },
    frames: { type: "string", default: "all" },
    out: { type: "string" },
    device: { type: "string", default: Deno.env.get("EXAMPLE_DEVICE") ?? "cpu" },
  },
});
const device = flags.device as "cpu" | "cuda" | "auto";

const tmp = await Deno.makeTempDir({ prefix: "facgcnn-predict-" });
let checkpoint = flags.checkpoint;
if (!checkpoint) {
  console.log("no --checkpoint: training a tiny model first (2 epochs on synthetic:160)");
  const run = await train({
    data: "synthetic:160",
    epochs: 2,
    atomFeaLen: 16,
    hFeaLen: 32,
    batchSize: 32,
    device,
    out: `${tmp}/run`,
    cacheDir: null,
    quiet: true,
  }, { log: () => {} });
  run.model.dispose();
  checkpoint = `${run.out}/best.safetensors`;
}

const { model, info } = await loadCheckpoint(checkpoint, { device });
console.log(
  `${checkpoint}: ${model.config.kind}, A = ${model.config.atomFeaLen}, epoch ${info.epoch ?? "?"}`,
);
const data = await loadDataset(flags.data, { quiet: true });
const predictions = await model.predict(data, { frames: flags.frames as FrameMode });
const ids = Array.from({ length: data.length }, (_, i) => data.get(i).id);
const targets = Array.from({ length: data.length }, (_, i) => data.get(i).target);
const result = showPredictions(targets, predictions, { ids });
const out = flags.out ?? `${tmp}/predictions.csv`;
await Deno.writeTextFile(out, result.toCsv());
console.log(`${data.length} predictions → ${out}`);
const m = regressionMetrics(targets, predictions);
console.log(`against the file's targets: MAE ${m.mae.toFixed(4)}, R² ${m.r2.toFixed(3)}`);
model.dispose();
if (!flags.out) await Deno.remove(tmp, { recursive: true });
