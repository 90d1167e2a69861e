/**
 * The run folder on its own: an epoch committed by `commitEpoch` is what `resume` restores
 * (weights, optimizer state, state.json, metrics.csv), no staged file is left, and a folder
 * whose checkpoint disagrees with state.json is refused by name. The kill-at-any-point
 * recovery is exercised through `train()` in trainer.test.ts.
 */
import assert from "node:assert/strict";
import { cpuBackend } from "../../lib/backend/select.ts";
import { Model } from "../../lib/models/model.ts";
import { createOptimizer } from "../../lib/optim/create.ts";
import type { EpochRecord } from "../../lib/train/records.ts";
import { RunFolder, type RunState } from "../../lib/train/run_folder.ts";
import { tempDir } from "./_helpers.ts";

const record = (epoch: number, valMae: number): EpochRecord => ({
  epoch,
  trainLoss: 1 / epoch,
  valMae,
  valRmse: 2 * valMae,
  valR2: 0.5,
  lr: 1e-3,
  seconds: 0.25,
});

Deno.test("run folder: a committed epoch is what resume restores", async () => {
  const [dir, cleanup] = await tempDir("runfolder");
  const backend = cpuBackend();
  const config = { kind: "cgcnn" as const, atomFeaLen: 4, hFeaLen: 8, nConv: 1 };
  const a = new Model({ ...config, seed: 1 }, backend);
  const b = new Model({ ...config, seed: 2 }, backend);
  const optA = createOptimizer("adamw", a.parameters(), { lr: 2e-3 });
  const optB = createOptimizer("adamw", b.parameters(), { lr: 1e-3 });
  try {
    const folder = new RunFolder(`${dir}/run`);
    await assert.rejects(folder.readConfig(), /--resume: cannot read .*\/run\/config\.json/);
    await folder.create();
    await folder.writeConfig({ data: "synthetic:10", epochs: 2 });
    assert.deepEqual(await folder.readConfig(), { data: "synthetic:10", epochs: 2 });

    const state: RunState = { epochsDone: 0, bestEpoch: 0, bestValMae: Infinity, history: [] };
    for (const [epoch, mae] of [[1, 0.5], [2, 0.7]]) {
      state.history.push(record(epoch, mae));
      state.epochsDone = epoch;
      const best = mae < state.bestValMae;
      if (best) [state.bestEpoch, state.bestValMae] = [epoch, mae];
      await folder.commitEpoch(state, a, optA, best, { mae });
    }
    const names = [...Deno.readDirSync(folder.path)].map((e) => e.name).sort();
    assert.deepEqual(names, [
      "best.safetensors",
      "config.json",
      "last.optim.safetensors",
      "last.safetensors",
      "metrics.csv",
      "state.json",
    ]);
    const metrics = await Deno.readTextFile(`${folder.path}/metrics.csv`);
    assert.equal(metrics.trim().split("\n").length, 3);

    const restored = await folder.resume(b, optB, backend);
    assert.deepEqual(restored, JSON.parse(JSON.stringify(state)));
    const wa = a.parameters().map((p) => p.value.toFloat32Array());
    b.parameters().forEach((p, i) => assert.deepEqual(p.value.toFloat32Array(), wa[i], p.name));
    assert.deepEqual(optB.stateDict().scalars, optA.stateDict().scalars);
    assert.equal(optB.lr, 2e-3, "optimizer state restored");

    // state.json ahead of the checkpoint: refused, naming both.
    await Deno.writeTextFile(
      `${folder.path}/state.json`,
      JSON.stringify({ ...state, epochsDone: 3 }),
    );
    const live = backend.memory().liveBuffers;
    await assert.rejects(
      folder.resume(b, optB, backend),
      /last\.safetensors is from epoch 2 but state\.json says 3/,
    );
    assert.equal(backend.memory().liveBuffers, live, "the loaded checkpoint is freed");
  } finally {
    optA.dispose();
    optB.dispose();
    a.dispose();
    b.dispose();
    await cleanup();
  }
});
