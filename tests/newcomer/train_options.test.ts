/**
 * Training options a CGCNN user expects: early stopping (`--patience`), SGD milestones
 * (`--lr-milestones`), a complete `config.json` that `--config` reads back.
 */

import assert from "node:assert/strict";
import { parseFlags, TRAIN_FLAGS, trainConfig, UsageError } from "../../cli/args.ts";
import { readRunConfig } from "../../lib/train/config.ts";
import { stopEarly, train } from "../../lib/train/trainer.ts";

Deno.test("stopEarly: after exactly `patience` epochs without a new best", () => {
  const lines: string[] = [];
  const log = (l: string) => lines.push(l);
  assert.equal(stopEarly(undefined, 50, 1, log), false);
  assert.equal(stopEarly(3, 4, 2, log), false);
  assert.equal(stopEarly(3, 5, 2, log), true);
  assert.match(lines[0], /early stop after epoch 5/);
});

Deno.test("flags: --lr-milestones, --patience, --task, --threshold", () => {
  const c = trainConfig(parseFlags([
    "--lr-milestones",
    "100,200",
    "--patience",
    "5",
    "--task",
    "classification",
    "--threshold",
    "-0.5",
  ], TRAIN_FLAGS));
  assert.deepEqual(c.milestones, [100, 200]);
  assert.equal(c.patience, 5);
  assert.equal(c.task, "classification");
  assert.equal(c.threshold, -0.5);
  assert.throws(() => trainConfig(parseFlags(["--lr-milestones", "1.5"], TRAIN_FLAGS)), UsageError);
  assert.throws(() => trainConfig(parseFlags(["--task", "ranking"], TRAIN_FLAGS)), UsageError);
});

Deno.test("patience stops the run; config.json is complete and --config reads it back", async () => {
  const dir = await Deno.makeTempDir({ prefix: "facgcnn-options-" });
  try {
    const run = await train({
      data: "synthetic:60:5",
      epochs: 40,
      patience: 2,
      lr: 0.05, // large: the validation score stops improving early
      atomFeaLen: 8,
      hFeaLen: 8,
      nConv: 1,
      device: "cpu",
      cacheDir: null,
      out: `${dir}/run`,
      quiet: true,
    }, { log: () => {} });
    run.model.dispose();
    const epochs = run.history.length;
    assert.ok(epochs < 40, "stopped early");
    assert.equal(epochs, run.bestEpoch + 2);
    const saved = JSON.parse(await Deno.readTextFile(`${dir}/run/config.json`));
    for (const key of ["data", "model", "task", "atomFeaLen", "hFeaLen", "nConv", "nH", "seed"]) {
      assert.ok(saved[key] !== undefined, `config.json has ${key}`);
    }
    assert.equal(saved.patience, 2);
    const again = await readRunConfig(`${dir}/run/config.json`, { epochs: 3, data: undefined });
    assert.equal(again.data, "synthetic:60:5");
    assert.equal(again.epochs, 3);
    assert.equal(again.atomFeaLen, 8);
    assert.equal(again.out, undefined, "a new run gets a new folder");
    await assert.rejects(() => readRunConfig(`${dir}/run/metrics.csv`), /cannot read|not a run/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
