/**
 * Every HTML page the toolkit writes (the run report, the experiment report, the prediction
 * parity page), rendered in headless Chromium: no figure may be empty, drawn larger than its
 * box, or overlap another figure or a heading, and legends, titles and annotations must not
 * cover each other. Skipped, saying so, where Chromium is not installed (Debian: `chromium`).
 * `FACGCNN_SCREENSHOTS=<dir>` also saves a full-page PNG of each page there.
 */

import assert from "node:assert/strict";
import { runExperiment } from "../../lib/train/experiment.ts";
import { train } from "../../lib/train/trainer.ts";
import { checkPage, findChromium } from "./browser.ts";

const chromium = findChromium();
if (!chromium) {
  console.warn(
    "browser tests skipped: no chromium on PATH (apt-get install chromium, or set FACGCNN_CHROMIUM)",
  );
}

const SMALL = { atomFeaLen: 8, hFeaLen: 8, nConv: 1, batchSize: 16, cacheDir: null } as const;

async function check(path: string, name: string): Promise<void> {
  const shots = Deno.env.get("FACGCNN_SCREENSHOTS");
  const report = await checkPage(chromium!, path, {
    screenshot: shots ? `${shots}/${name}.png` : undefined,
  });
  assert.deepEqual(report.problems, [], `${name}: ${report.problems.join("; ")}`);
  assert.ok(report.figures.length > 0, `${name}: no figure found`);
  for (const f of report.figures) assert.ok(f.marks > 0, `${name}: figure ${f.index} is empty`);
}

Deno.test({
  name: "browser: run report, experiment report and prediction parity page lay out cleanly",
  ignore: chromium === null,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "facgcnn-browser-" });
    try {
      const run = await train({
        ...SMALL,
        data: "synthetic:80:2",
        epochs: 3,
        device: "cpu",
        out: `${dir}/run`,
        quiet: true,
      }, { log: () => {} });
      run.model.dispose();
      await check(`${dir}/run/report.html`, "run-report");

      await runExperiment({
        ...SMALL,
        data: "synthetic:60:4",
        seeds: 2,
        epochsList: [1, 2],
        device: "cpu",
        out: `${dir}/experiment`,
        quiet: true,
      }, { log: () => {} });
      await check(`${dir}/experiment/results.html`, "experiment-report");

      const predict = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          new URL("../../cli/predict.ts", import.meta.url).pathname,
          "--checkpoint",
          `${dir}/run/best.safetensors`,
          "--data",
          "synthetic:30:7",
          "--device",
          "cpu",
          "--out",
          `${dir}/preds.csv`,
          "--report",
          `${dir}/parity.html`,
        ],
        env: { FACGCNN_QUIET: "1", NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
        stdin: "null",
      }).output();
      assert.equal(predict.code, 0, new TextDecoder().decode(predict.stderr));
      await check(`${dir}/parity.html`, "prediction-parity");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
