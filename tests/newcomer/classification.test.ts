/**
 * `--task classification` with CGCNN's semantics: two class scores, NLL of the log-softmax,
 * predictions P(class 1), accuracy/precision/recall/F1/AUC, test_results.csv holding
 * id, label, P(class 1). Metrics against hand computations and a brute-force AUC; the loss and
 * its gradient against a float64 log-softmax; end to end on a synthetic two-class set and on
 * the CGCNN sample folder with a threshold target.
 */

import assert from "node:assert/strict";
import "../../lib/autograd/backward.ts";
import { createCpuBackend } from "../../lib/backend/cpu/cpu_backend.ts";
import { parameter } from "../../lib/tensor/ops.ts";
import { classificationMetrics } from "../../lib/train/metrics.ts";
import { binaryNllLoss } from "../../lib/train/step.ts";
import { loadCheckpoint } from "../../lib/train/checkpoint.ts";
import { train } from "../../lib/train/trainer.ts";
import { Rng } from "../../lib/util/random.ts";

Deno.test("classificationMetrics: a hand-computed case", () => {
  // predicted (p ≥ 0.5):  0    1    0    1    1    1
  const labels = [0, 0, 1, 1, 1, 0];
  const probs = [0.1, 0.6, 0.4, 0.8, 0.8, 0.8];
  const m = classificationMetrics(labels, probs);
  // tp = 2 (items 3, 4), fp = 2 (1, 5), fn = 1 (2), tn = 1 (0).
  assert.equal(m.accuracy, 3 / 6);
  assert.equal(m.precision, 2 / 4);
  assert.equal(m.recall, 2 / 3);
  assert.ok(Math.abs(m.f1 - (2 * 0.5 * (2 / 3)) / (0.5 + 2 / 3)) < 1e-12);
  // AUC: positives {0.4, 0.8, 0.8} vs negatives {0.1, 0.6, 0.8}: 0.4 beats 1; each 0.8 beats
  // 2 and ties 1 (½) → (1 + 2.5 + 2.5) / 9.
  assert.ok(Math.abs(m.auc - 6 / 9) < 1e-12);
  assert.equal(m.n, 6);
  const one = classificationMetrics([1, 1], [0.9, 0.2]);
  assert.ok(Number.isNaN(one.auc), "one class: no AUC");
  assert.throws(() => classificationMetrics([2], [0.5]), /expected 0 or 1/);
});

Deno.test("classificationMetrics: AUC equals the brute-force pair count", () => {
  const rng = new Rng(5, 1);
  const n = 301;
  const labels = Array.from({ length: n }, () => (rng.next() < 0.4 ? 1 : 0));
  // Rounded probabilities, so ties occur.
  const probs = labels.map((y) => Math.round((0.3 * y + 0.7 * rng.next()) * 20) / 20);
  let wins = 0, pairs = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (labels[i] === 1 && labels[j] === 0) {
        pairs++;
        wins += probs[i] > probs[j] ? 1 : probs[i] === probs[j] ? 0.5 : 0;
      }
    }
  }
  assert.ok(Math.abs(classificationMetrics(labels, probs).auc - wins / pairs) < 1e-12);
});

Deno.test("binaryNllLoss: log-softmax NLL of two scores, and its gradient σ(d) − y", () => {
  const be = createCpuBackend();
  const d = [-3, -0.5, 0, 0.7, 4, 12];
  const y = Float32Array.from([1, 0, 1, 1, 0, 1]);
  const p = parameter(be, Float32Array.from(d), [d.length, 1]);
  const loss = binaryNllLoss(p, y);
  // float64 reference from two scores z = (0, d): −log softmax(z)_y.
  let ref = 0;
  for (let i = 0; i < d.length; i++) {
    const z = [0, d[i]];
    const m = Math.max(...z);
    const lse = m + Math.log(Math.exp(z[0] - m) + Math.exp(z[1] - m));
    ref += lse - z[y[i]];
  }
  ref /= d.length;
  const value = loss.toFloat32Array()[0];
  assert.ok(Math.abs(value - ref) < 1e-5 * Math.max(1, ref), `${value} vs ${ref}`);
  loss.backward();
  const g = p.grad!.toFloat32Array();
  for (let i = 0; i < d.length; i++) {
    const want = (1 / (1 + Math.exp(-d[i])) - y[i]) / d.length;
    assert.ok(Math.abs(g[i] - want) < 1e-5, `grad ${i}: ${g[i]} vs ${want}`);
  }
  p.dispose();
  loss.dispose();
});

const SMALL = { atomFeaLen: 16, hFeaLen: 16, nConv: 2, device: "cpu", cacheDir: null } as const;

function readTestResults(path: string): { id: string; label: number; p: number }[] {
  return Deno.readTextFileSync(path).trim().split("\n").map((line) => {
    const [id, label, p] = line.split(",");
    return { id, label: Number(label), p: Number(p) };
  });
}

Deno.test("classification: synthetic two-class set, CGCNN test_results.csv, metrics, checkpoint", async () => {
  const dir = await Deno.makeTempDir({ prefix: "facgcnn-classify-" });
  try {
    const run = await train({
      ...SMALL,
      data: "synthetic:160:8",
      task: "classification",
      threshold: -0.5, // energy per atom above −0.5 eV/atom: class 1
      epochs: 3,
      batchSize: 32,
      out: `${dir}/run`,
      quiet: true,
    }, { log: () => {} });
    try {
      const rows = readTestResults(`${dir}/run/test_results.csv`);
      assert.equal(rows.length, run.data.test.count);
      assert.ok(!/[a-z]/i.test(rows[0].label + "" + rows[0].p), "no header row (CGCNN layout)");
      for (const r of rows) {
        assert.ok(r.label === 0 || r.label === 1);
        assert.ok(r.p > 0 && r.p < 1, `P(class 1) = ${r.p}`);
      }
      // The summary's metrics are the metrics of test_results.csv.
      const k = run.testClassification!;
      const again = classificationMetrics(rows.map((r) => r.label), rows.map((r) => r.p));
      for (const key of ["accuracy", "precision", "recall", "f1", "auc"] as const) {
        if (Number.isNaN(k[key])) assert.ok(Number.isNaN(again[key]));
        else assert.ok(Math.abs(k[key] - again[key]) < 1e-6, key);
      }
      const summary = JSON.parse(Deno.readTextFileSync(`${dir}/run/summary.json`));
      assert.equal(summary.testClassification.n, rows.length);
      const config = JSON.parse(Deno.readTextFileSync(`${dir}/run/config.json`));
      assert.equal(config.task, "classification");
      assert.equal(config.threshold, -0.5);
      // The checkpoint remembers the task: predictions are probabilities again.
      const { model } = await loadCheckpoint(`${dir}/run/best.safetensors`, { device: "cpu" });
      assert.equal(model.config.task, "classification");
      const p = model.predictGraphs(run.data.test, { frames: "all" });
      model.dispose();
      for (const v of p) assert.ok(v > 0 && v < 1);
    } finally {
      run.model.dispose();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("classification: CGCNN sample folder with a threshold target; 0/1 check without one", async () => {
  const sample = new URL("../../../shared/reference/cgcnn-sample", import.meta.url).pathname;
  try {
    Deno.statSync(`${sample}/id_prop.csv`);
  } catch {
    console.warn(`skipped: ${sample} is not here`);
    return;
  }
  const dir = await Deno.makeTempDir({ prefix: "facgcnn-classify-cgcnn-" });
  try {
    await assert.rejects(
      () =>
        train({
          ...SMALL,
          data: sample,
          task: "classification",
          epochs: 1,
          out: `${dir}/bad`,
          quiet: true,
        }, { log: () => {} }),
      /needs 0\/1 targets.*--threshold/,
    );
    const run = await train({
      ...SMALL,
      model: "cgcnn",
      data: sample,
      task: "classification",
      threshold: 5, // id_prop.csv targets are 1..10: five of each class
      split: [0.6, 0.2, 0.2],
      epochs: 2,
      out: `${dir}/run`,
      quiet: true,
    }, { log: () => {} });
    run.model.dispose();
    const props = new Map(
      Deno.readTextFileSync(`${sample}/id_prop.csv`).trim().split("\n").map((l) => {
        const [id, t] = l.split(",");
        return [id, Number(t)] as const;
      }),
    );
    const rows = readTestResults(`${dir}/run/test_results.csv`);
    assert.equal(rows.length, 2);
    for (const r of rows) {
      assert.equal(r.label, props.get(r.id)! > 5 ? 1 : 0, `label of ${r.id}`);
      assert.ok(r.p > 0 && r.p < 1);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
