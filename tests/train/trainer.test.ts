import assert from "node:assert/strict";
import { cpuBackend } from "../../lib/backend/select.ts";
import { loadDataset } from "../../lib/data/dataset.ts";
import { featurize } from "../../lib/data/featurize.ts";
import { Rng } from "../../lib/util/random.ts";
import { collate } from "../../lib/graph/batch.ts";
import { readSafetensors } from "../../lib/io/safetensors.ts";
import { Model } from "../../lib/models/model.ts";
import { createOptimizer } from "../../lib/optim/create.ts";
import { loadOptimizerState, saveOptimizerState } from "../../lib/optim/state_io.ts";
import { PLOTLY_VERSION } from "../../lib/plot/bundle.ts";
import { mseLoss, tensor } from "../../lib/tensor/ops.ts";
import { tidy } from "../../lib/tensor/scope.ts";
import "../../lib/autograd/backward.ts"; // installs Tensor.backward()
import { loadCheckpoint, saveCheckpoint } from "../../lib/train/checkpoint.ts";
import { FACGCNN_PAPER_MODEL } from "../../lib/train/config.ts";
import { loadTrainingData } from "../../lib/train/data.ts";
import { regressionMetrics } from "../../lib/train/metrics.ts";
import { Normalizer } from "../../lib/train/normalizer.ts";
import { train, TrainingDivergedError } from "../../lib/train/trainer.ts";
import {
  assertSameTensors,
  metricsWithoutSeconds,
  QUIET,
  readMetrics,
  ROOT,
  runCli,
  tempDir,
  tensorsDiffer,
  tensorsOf,
  tinyConfig,
} from "./_helpers.ts";

Deno.test("trainer: same seed gives identical metrics and weights; another seed differs", async () => {
  const [dir, cleanup] = await tempDir("determinism");
  try {
    const runs = [];
    for (const [name, seed] of [["a", 1], ["b", 1], ["c", 2]] as const) {
      const r = await train(tinyConfig(`${dir}/${name}`, { seed }), QUIET);
      r.model.dispose();
      runs.push(`${dir}/${name}`);
    }
    const [a, b, c] = runs;
    const ma = await metricsWithoutSeconds(a);
    assert.equal(ma.length, 2);
    assert.deepEqual(await metricsWithoutSeconds(b), ma, "metrics.csv to the last digit");
    for (const f of ["best.safetensors", "last.safetensors"]) {
      assertSameTensors(await tensorsOf(`${a}/${f}`), await tensorsOf(`${b}/${f}`), f);
      // Metadata (config, scaling, epoch, metrics) too: the files are byte-identical.
      assert.deepEqual(await Deno.readFile(`${b}/${f}`), await Deno.readFile(`${a}/${f}`), f);
    }
    assertSameTensors(
      await tensorsOf(`${a}/last.optim.safetensors`),
      await tensorsOf(`${b}/last.optim.safetensors`),
      "optimizer state",
    );
    assert.equal(
      await Deno.readTextFile(`${b}/test_results.csv`),
      await Deno.readTextFile(`${a}/test_results.csv`),
    );
    // A different seed: different initialisation, split and frames.
    assert.notDeepEqual(await metricsWithoutSeconds(c), ma);
    assert.ok(
      tensorsDiffer(
        await tensorsOf(`${a}/last.safetensors`),
        await tensorsOf(`${c}/last.safetensors`),
      ),
      "seed 2 weights differ from seed 1",
    );
  } finally {
    await cleanup();
  }
});

Deno.test("trainer: a non-finite loss stops with TrainingDivergedError and keeps the last good checkpoint", async () => {
  const [dir, cleanup] = await tempDir("diverge");
  try {
    const out = `${dir}/run`;
    const r = await train(tinyConfig(out, { epochs: 1 }), QUIET);
    r.model.dispose();
    const lastBytes = await Deno.readFile(`${out}/last.safetensors`);
    const bestBytes = await Deno.readFile(`${out}/best.safetensors`);
    const metricsBefore = await Deno.readTextFile(`${out}/metrics.csv`);
    // Poison the resume point: an absurd learning rate in the saved optimizer state.
    const state = await loadOptimizerState(`${out}/last.optim.safetensors`);
    assert.equal(typeof state.scalars.lr, "number");
    state.scalars.lr = 1e30;
    await saveOptimizerState(`${out}/last.optim.safetensors`, state);

    await assert.rejects(
      () => train(tinyConfig(out, { epochs: 3, resume: true }), QUIET),
      (e: unknown) => {
        assert.ok(e instanceof TrainingDivergedError, `got ${e}`);
        assert.match(e.message, /(NaN|Infinity)/);
        assert.match(e.message, /epoch 2 batch \d+\/\d+/, e.message);
        return true;
      },
    );
    // The good epoch's files are untouched and still load.
    assert.deepEqual(await Deno.readFile(`${out}/last.safetensors`), lastBytes);
    assert.deepEqual(await Deno.readFile(`${out}/best.safetensors`), bestBytes);
    assert.equal(await Deno.readTextFile(`${out}/metrics.csv`), metricsBefore);
    assert.equal(JSON.parse(await Deno.readTextFile(`${out}/state.json`)).epochsDone, 1);
    const { model, info } = await loadCheckpoint(`${out}/last.safetensors`, {
      backend: cpuBackend(),
    });
    try {
      assert.equal(info.epoch, 1);
      const ds = await loadDataset("synthetic:6", { quiet: true });
      const p = await model.predict(ds, { frames: "all" });
      assert.ok(p.every(Number.isFinite));
    } finally {
      model.dispose();
    }

    // Diverging in the first epoch leaves no checkpoint at all (none was good).
    const out2 = `${dir}/run2`;
    await assert.rejects(
      () => train(tinyConfig(out2, { epochs: 2, optimizer: "sgd", lr: 1e30 }), QUIET),
      (e: unknown) => e instanceof TrainingDivergedError && /epoch 1 batch/.test(e.message),
    );
    await assert.rejects(() => Deno.stat(`${out2}/last.safetensors`), Deno.errors.NotFound);
  } finally {
    await cleanup();
  }
});

Deno.test("trainer: resume continues exactly (2 + 1 epochs equals 3 epochs)", async () => {
  const [dir, cleanup] = await tempDir("resume");
  try {
    for (const optimizer of ["sf-adamw", "sgd"] as const) {
      const a = `${dir}/${optimizer}-a`, b = `${dir}/${optimizer}-b`;
      // SGD with a milestone at epoch 2: the resumed scheduler must be at the right step.
      const extra = { optimizer, milestones: [2], lr: optimizer === "sgd" ? 0.01 : undefined };
      (await train(tinyConfig(a, { epochs: 3, ...extra }), QUIET)).model.dispose();
      (await train(tinyConfig(b, { epochs: 2, ...extra }), QUIET)).model.dispose();
      (await train(tinyConfig(b, { epochs: 3, resume: true, ...extra }), QUIET)).model.dispose();
      const ma = await metricsWithoutSeconds(a);
      assert.equal(ma.length, 3);
      assert.deepEqual(await metricsWithoutSeconds(b), ma, `${optimizer}: metrics rows`);
      for (const f of ["best.safetensors", "last.safetensors", "last.optim.safetensors"]) {
        assertSameTensors(await tensorsOf(`${a}/${f}`), await tensorsOf(`${b}/${f}`), f);
      }
      assert.equal(
        await Deno.readTextFile(`${b}/test_results.csv`),
        await Deno.readTextFile(`${a}/test_results.csv`),
      );
      if (optimizer === "sgd") {
        const lrs = ma.map((r) => Number(r[5]));
        assert.deepEqual(lrs.slice(0, 2), [0.01, 0.01]);
        assert.ok(
          Math.abs(lrs[2] - 0.001) < 1e-12,
          `the milestone applied after the resume: ${lrs}`,
        );
      }
    }
  } finally {
    await cleanup();
  }
});

Deno.test("trainer: an interrupted CLI run (SIGKILL mid-epoch) resumes without loss", async () => {
  const [dir, cleanup] = await tempDir("kill");
  let child: Deno.ChildProcess | null = null;
  try {
    const out = `${dir}/killed`;
    const epochs = 6;
    const flags = [
      "--data",
      "synthetic:160",
      "--no-cache",
      "--atom-fea-len",
      "8",
      "--h-fea-len",
      "16",
      "--n-conv",
      "1",
      "--epochs",
      String(epochs),
      "--batch-size",
      "16",
      "--device",
      "cpu",
      "--seed",
      "4",
      "-q",
    ];
    child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "cli/train.ts", ...flags, "--out", out],
      cwd: ROOT,
      stdout: "null",
      stderr: "null",
    }).spawn();
    let done = 0;
    const t0 = Date.now();
    while (Date.now() - t0 < 60_000) {
      try {
        done = JSON.parse(await Deno.readTextFile(`${out}/state.json`)).epochsDone;
      } catch { /* not written yet */ }
      if (done >= 1) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.ok(done >= 1, "the run finished an epoch within 60 s");
    // Into the next epoch: about a third of an epoch's time.
    const first = JSON.parse(await Deno.readTextFile(`${out}/state.json`)).history[0].seconds;
    await new Promise((r) => setTimeout(r, Math.max(20, 1000 * first / 3)));
    child.kill("SIGKILL");
    const status = await child.status;
    assert.ok(!status.success, "the run was killed before finishing");
    const killed = JSON.parse(await Deno.readTextFile(`${out}/state.json`));
    const killedAfter: number = killed.epochsDone;
    assert.ok(killedAfter < epochs, `killed after epoch ${killedAfter}`);
    assert.equal(killed.history.length, killedAfter);
    const noSeconds = (h: Record<string, number>[]) => h.map(({ seconds: _, ...rest }) => rest);
    const partial = noSeconds(killed.history);

    const resumed = await runCli("cli/train.ts", ["--resume", "--out", out]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, new RegExp(`resuming .* after epoch ${killedAfter}`));

    const ref = `${dir}/straight`;
    const r = await train(
      tinyConfig(ref, {
        data: "synthetic:160",
        epochs,
        seed: 4,
        model: undefined,
      }),
      QUIET,
    );
    r.model.dispose();
    const full = await metricsWithoutSeconds(ref);
    assert.deepEqual(await metricsWithoutSeconds(out), full);
    assert.deepEqual(
      partial,
      noSeconds(r.history as unknown as Record<string, number>[]).slice(0, killedAfter),
      "epochs finished before the kill",
    );
    for (const f of ["best.safetensors", "last.safetensors"]) {
      assertSameTensors(await tensorsOf(`${out}/${f}`), await tensorsOf(`${ref}/${f}`), f);
    }
  } finally {
    // Never leave the training subprocess running (e.g. when an assertion failed early).
    try {
      child?.kill("SIGKILL");
      await child?.status;
    } catch { /* already ended */ }
    await cleanup();
  }
});

async function copyDir(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    if (e.isFile) await Deno.copyFile(`${from}/${e.name}`, `${to}/${e.name}`);
  }
}

Deno.test("trainer: a kill at any point of the end-of-epoch writes still resumes exactly", async () => {
  const [dir, cleanup] = await tempDir("window");
  try {
    const a = `${dir}/a`, b = `${dir}/b`, b1 = `${dir}/b1`;
    (await train(tinyConfig(a, { epochs: 3 }), QUIET)).model.dispose();
    (await train(tinyConfig(b, { epochs: 1 }), QUIET)).model.dispose();
    await copyDir(b, b1); // the folder after epoch 1
    (await train(tinyConfig(b, { epochs: 2, resume: true }), QUIET)).model.dispose();
    const state2 = JSON.parse(await Deno.readTextFile(`${b}/state.json`));
    const bestIs2 = state2.bestEpoch === 2;
    const expected = await metricsWithoutSeconds(a);
    const lastA = await tensorsOf(`${a}/last.safetensors`);

    // Each case: the epoch-1 folder with some of epoch 2's files, as the trainer would
    // leave it when killed at that point (staged *.next files, state.json, renames).
    const cases: Record<string, (c: string) => Promise<void>> = {
      "staged, not committed": async (c) => {
        if (bestIs2) await Deno.copyFile(`${b}/best.safetensors`, `${c}/best.next.safetensors`);
        await Deno.copyFile(`${b}/last.safetensors`, `${c}/last.next.safetensors`);
        await Deno.copyFile(`${b}/last.optim.safetensors`, `${c}/last.optim.next.safetensors`);
      },
      "half staged": async (c) => {
        await Deno.copyFile(`${b}/last.safetensors`, `${c}/last.next.safetensors`);
      },
      "committed, not moved": async (c) => {
        if (bestIs2) await Deno.copyFile(`${b}/best.safetensors`, `${c}/best.next.safetensors`);
        await Deno.copyFile(`${b}/last.safetensors`, `${c}/last.next.safetensors`);
        await Deno.copyFile(`${b}/last.optim.safetensors`, `${c}/last.optim.next.safetensors`);
        await Deno.copyFile(`${b}/state.json`, `${c}/state.json`);
      },
      "committed, half moved": async (c) => {
        if (bestIs2) await Deno.copyFile(`${b}/best.safetensors`, `${c}/best.safetensors`);
        await Deno.copyFile(`${b}/last.safetensors`, `${c}/last.safetensors`);
        await Deno.copyFile(`${b}/last.optim.safetensors`, `${c}/last.optim.next.safetensors`);
        await Deno.copyFile(`${b}/state.json`, `${c}/state.json`);
      },
    };
    for (const [name, make] of Object.entries(cases)) {
      const c = `${dir}/case-${name.replaceAll(/\W+/g, "-")}`;
      await copyDir(b1, c);
      await make(c);
      (await train(tinyConfig(c, { epochs: 3, resume: true }), QUIET)).model.dispose();
      assert.deepEqual(await metricsWithoutSeconds(c), expected, name);
      assertSameTensors(await tensorsOf(`${c}/last.safetensors`), lastA, `${name}: last`);
      assertSameTensors(
        await tensorsOf(`${c}/best.safetensors`),
        await tensorsOf(`${a}/best.safetensors`),
        `${name}: best`,
      );
      const left = [...Deno.readDirSync(c)].map((e) => e.name).filter((n) => n.includes(".next."));
      assert.deepEqual(left, [], `${name}: no staged files left`);
    }

    // Killed before the first epoch was committed: --resume starts from the beginning.
    const z = `${dir}/zero`;
    await Deno.mkdir(z);
    await Deno.copyFile(`${b1}/config.json`, `${z}/config.json`);
    await Deno.copyFile(`${b1}/last.safetensors`, `${z}/last.next.safetensors`);
    (await train(tinyConfig(z, { epochs: 3, resume: true }), QUIET)).model.dispose();
    assert.deepEqual(await metricsWithoutSeconds(z), expected, "from scratch");
    assertSameTensors(await tensorsOf(`${z}/last.safetensors`), lastA, "from scratch: last");
  } finally {
    await cleanup();
  }
});

Deno.test("checkpoint: loads back into an identical model, in a script and in predict", async () => {
  const [dir, cleanup] = await tempDir("ckpt");
  try {
    const backend = cpuBackend();
    const model = new Model({
      kind: "facgcnn",
      atomFeaLen: 9,
      hFeaLen: 12,
      nConv: 2,
      nH: 2,
      frames: "stochastic",
      frameKind: "hybrid",
      seed: 7,
      radius: 6,
      maxNeighbors: 10,
    }, backend);
    const ds = await loadDataset("synthetic:24", { quiet: true });
    const { graphs } = await featurize(ds, {
      radius: 6,
      maxNeighbors: 10,
      cacheDir: null,
      quiet: true,
    });
    // Non-trivial BatchNorm statistics and target scaling: a few training-mode passes.
    model.train();
    for (let s = 0; s < 3; s++) {
      const idx = new Int32Array(8).map((_, i) => s * 8 + i);
      tidy(() => void model.forward(collate(graphs, idx)));
    }
    model.targetMean = -0.37;
    model.targetStd = 1.9;
    const path = `${dir}/m.safetensors`;
    await saveCheckpoint(path, model, { epoch: 4, metrics: { mae: 0.5 } });
    const { model: loaded, info } = await loadCheckpoint(path, { backend });
    try {
      assert.deepEqual(loaded.config, model.config);
      assert.equal(info.epoch, 4);
      assert.deepEqual(info.metrics, { mae: 0.5 });
      assert.equal(loaded.targetMean, -0.37);
      assert.equal(loaded.targetStd, 1.9);
      const sa = model.network.stateDict(), sb = loaded.network.stateDict();
      assertSameTensors(
        new Map([...sa].map(([k, v]) => [k, v.data])),
        new Map([...sb].map(([k, v]) => [k, v.data])),
        "state dict",
      );
      const pa = model.predictGraphs(graphs, { frames: "all" });
      const pb = loaded.predictGraphs(graphs, { frames: "all" });
      assert.ok(pa.some((v, i) => v !== pa[0] || i === 0), "predictions vary");
      assert.deepEqual(pb, pa, "bit for bit");

      // The same checkpoint through `deno task predict`.
      const csv = `${dir}/preds.csv`;
      const r = await runCli("cli/predict.ts", [
        "--checkpoint",
        path,
        "--data",
        "synthetic:24",
        "--frames",
        "all",
        "--device",
        "cpu",
        "--out",
        csv,
      ]);
      assert.equal(r.code, 0, r.stderr);
      const lines = (await Deno.readTextFile(csv)).trim().split("\n");
      assert.equal(lines[0], "id,target,prediction");
      assert.equal(lines.length - 1, graphs.count);
      for (let i = 0; i < graphs.count; i++) {
        const [id, target, pred] = lines[i + 1].split(",");
        assert.equal(id, graphs.ids[i]);
        assert.equal(Number(target), graphs.targets[i]);
        assert.ok(Math.abs(Number(pred) - pa[i]) <= 1e-6, `${id}: ${pred} vs ${pa[i]}`);
      }
    } finally {
      loaded.dispose();
      model.dispose();
    }
  } finally {
    await cleanup();
  }
});

Deno.test("trainer: model selection, summary.json, test_results.csv and report.html", async () => {
  const [dir, cleanup] = await tempDir("select");
  try {
    const out = `${dir}/run`;
    const r = await train(tinyConfig(out, { epochs: 3, data: "synthetic:50" }), QUIET);
    try {
      const { header, rows } = await readMetrics(out);
      assert.deepEqual(header, [
        "epoch",
        "train_loss",
        "val_mae",
        "val_rmse",
        "val_r2",
        "lr",
        "seconds",
      ]);
      assert.deepEqual(rows.map((x) => Number(x[0])), [1, 2, 3]);
      const maes = rows.map((x) => Number(x[2]));
      const argmin = maes.indexOf(Math.min(...maes)) + 1;
      assert.equal(r.bestEpoch, argmin);
      assert.equal(r.bestValMae, maes[argmin - 1]);
      const best = await readSafetensors(`${out}/best.safetensors`);
      assert.equal(Number(best.metadata.epoch), argmin);
      assert.equal(JSON.parse(best.metadata.metrics).mae, maes[argmin - 1]);
      const last = await readSafetensors(`${out}/last.safetensors`);
      assert.equal(Number(last.metadata.epoch), 3);

      // Split sizes: 50 → 40/5/5.
      const { train: tr, val, test } = r.data;
      assert.deepEqual([tr.count, val.count, test.count], [40, 5, 5]);

      // test_results.csv: CGCNN's layout (no header; id,target,prediction per test crystal).
      const lines = (await Deno.readTextFile(`${out}/test_results.csv`)).trim().split("\n");
      assert.equal(lines.length, test.count);
      const preds: number[] = [];
      lines.forEach((line, i) => {
        const f = line.split(",");
        assert.equal(f.length, 3, line);
        assert.equal(f[0], test.ids[i]);
        assert.equal(Number(f[1]), test.targets[i]);
        preds.push(Number(f[2]));
      });
      assert.deepEqual(preds, [...r.testPredictions!]);
      // They are the best checkpoint's predictions (fresh load, same frame draws).
      const { model } = await loadCheckpoint(`${out}/best.safetensors`, { backend: cpuBackend() });
      try {
        assert.deepEqual([...model.predictGraphs(test)], preds);
      } finally {
        model.dispose();
      }

      const s = JSON.parse(await Deno.readTextFile(`${out}/summary.json`));
      const m = regressionMetrics(test.targets, preds);
      assert.equal(s.bestEpoch, argmin);
      assert.equal(s.bestValMae, maes[argmin - 1]);
      assert.equal(s.epochs, 3);
      for (const k of ["mae", "rmse", "r2"] as const) {
        assert.ok(Math.abs(s.test[k] - m[k]) < 1e-12, `summary test.${k}`);
      }
      assert.equal(s.test.n, 5);
      assert.deepEqual(s.data, { train: 40, val: 5, test: 5, skipped: 0 });
      assert.equal(s.device.backend, "cpu");
      assert.equal(typeof s.device.gemm, "string");
      assert.equal(s.frameDegeneracy.total, 50);
      for (const k of ["degenerate", "exactDegenerate", "oneAtom"]) {
        const v = s.frameDegeneracy[k];
        assert.ok(Number.isInteger(v) && v >= 0 && v <= 50, `${k} = ${v}`);
      }
      assert.equal(s.model, "facgcnn");

      const html = await Deno.readTextFile(`${out}/report.html`);
      assert.ok(html.includes(`plotly.js v${PLOTLY_VERSION}`), "bundle embedded");
      const figs = [
        ...html.matchAll(/<script type="application\/json" id="figure-\d+">([\s\S]*?)<\/script>/g),
      ].map((x) => JSON.parse(x[1]));
      assert.equal(figs.length, 3, "learning curves, parity, error histogram");
      const parity = figs[1].data.find((t: { x?: number[] }) => t.x?.length === 5);
      assert.ok(parity, "parity plot has the 5 test points");

      const config = JSON.parse(await Deno.readTextFile(`${out}/config.json`));
      assert.equal(config.epochs, 3);
      assert.equal(config.atomFeaLen, 8);
    } finally {
      r.model.dispose();
    }
  } finally {
    await cleanup();
  }
});

Deno.test("Schedule-Free: the checkpoint holds x (optimizer.eval() weights), not y", async () => {
  const [dir, cleanup] = await tempDir("sf");
  try {
    const out = `${dir}/run`;
    const config = tinyConfig(out, { epochs: 1, data: "synthetic:40", batchSize: 8, seed: 3 });
    (await train(config, QUIET)).model.dispose();

    // The same epoch by hand with the public pieces (the trainer's recipe).
    const seed = 3;
    const data = await loadTrainingData({ ...config, seed });
    const n = data.train.count;
    assert.equal(n % 8, 0, "no remainder batch");
    const backend = cpuBackend();
    const model = new Model({
      kind: "facgcnn",
      atomFeaLen: 8,
      hFeaLen: 16,
      nConv: 1,
      nH: 1,
      frames: "stochastic",
      // the training preset's frames (train() above used them)
      frameKind: FACGCNN_PAPER_MODEL.frameKind,
      coordinates: FACGCNN_PAPER_MODEL.coordinates,
      seed,
    }, backend);
    const normalizer = Normalizer.fit(data.train.targets);
    const opt = createOptimizer("sf-adamw", model.parameters(), { lr: 5e-4, momentum: 0.9 });
    try {
      const rng = new Rng(seed, 1000 + 1);
      const order = new Int32Array(n).map((_, i) => i);
      for (let i = n - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [order[i], order[j]] = [order[j], order[i]];
      }
      model.reseedFrames(seed, 100000 + 1);
      model.train();
      opt.train();
      for (let b = 0; b < n / 8; b++) {
        const batch = collate(data.train, order.subarray(b * 8, b * 8 + 8));
        const targets = new Float32Array(normalizer.norm(batch.targets));
        tidy(() => {
          mseLoss(model.forward(batch), tensor(backend, targets, [8, 1])).backward();
        });
        opt.step();
        opt.zeroGrad();
      }
      const names = model.parameters().map((p) => p.name);
      const params = () =>
        new Map(model.parameters().map((p) => [p.name, p.value.toFloat32Array()]));
      const y = params();
      opt.eval();
      const x = params();
      assert.ok(tensorsDiffer(x, y), "x and y differ after an epoch");
      const saved = await tensorsOf(`${out}/last.safetensors`);
      const savedParams = new Map(names.map((k) => [k, saved.get(k)!]));
      assertSameTensors(savedParams, x, "checkpoint = optimizer.eval() weights");
      assert.ok(tensorsDiffer(savedParams, y), "checkpoint is not y");
      // And the saved optimizer state says the weights next to it are x.
      const st = await loadOptimizerState(`${out}/last.optim.safetensors`);
      assert.equal(st.kind, "sf-adamw");
      assert.match(JSON.stringify(st.scalars), /eval/);
    } finally {
      opt.dispose();
      model.dispose();
    }
  } finally {
    await cleanup();
  }
});
