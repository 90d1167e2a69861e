/**
 * Data-parallel training end to end: `mpirun -np 2` against one process holding both shards
 * (the same global batches), per-epoch losses and final weights; a failing rank; resume.
 * @module
 */

import assert from "node:assert/strict";
import { decodeSafetensors } from "../../lib/io/safetensors.ts";
import { type MpiLauncher, mpiLaunchers, mpirun, mpiSkipReason } from "./_mpirun.ts";

const here = new URL(".", import.meta.url).pathname;
const worker = `${here}train_worker.ts`;
const skip = mpiSkipReason();
if (skip) console.warn(`tests/distributed/train_test.ts: skipped: ${skip}`);
const ONE_THREAD = { OMP_NUM_THREADS: "1", OPENBLAS_NUM_THREADS: "1", NO_COLOR: "1" };

interface Run {
  history: { trainLoss: number; valMae: number; valRmse: number }[];
  test: { mae: number } | null;
  size: number;
}

async function oneProcess(out: string, args: string[] = []): Promise<Run> {
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", worker, out, ...args],
    env: ONE_THREAD,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(o.stdout);
  assert.equal(o.code, 0, new TextDecoder().decode(o.stderr));
  return JSON.parse(text.trim().split("\n").pop()!);
}

function relClose(a: number, b: number, what: string, tol = 1e-5): void {
  assert.ok(Math.abs(a - b) <= tol * Math.abs(b), `${what}: ${a} vs ${b}`);
}

async function weights(path: string): Promise<Record<string, Float32Array>> {
  const f = decodeSafetensors(await Deno.readFile(path), path);
  const out: Record<string, Float32Array> = {};
  for (const [k, t] of Object.entries(f.tensors)) {
    out[k] = Float32Array.from(t.data as Float32Array);
  }
  return out;
}

/** Largest |a − b| / max|b| over the tensors of two checkpoints. */
async function weightDifference(a: string, b: string): Promise<number> {
  const wa = await weights(a), wb = await weights(b);
  assert.deepEqual(Object.keys(wa).sort(), Object.keys(wb).sort());
  let worst = 0;
  for (const k of Object.keys(wb)) {
    const x = wa[k], y = wb[k];
    let scale = 0, diff = 0;
    for (let i = 0; i < y.length; i++) {
      scale = Math.max(scale, Math.abs(y[i]));
      diff = Math.max(diff, Math.abs(x[i] - y[i]));
    }
    if (scale > 0) worst = Math.max(worst, diff / scale);
  }
  return worst;
}

async function compare(launcher: MpiLauncher, dir: string, optimizer: string): Promise<void> {
  const args = ["--optimizer", optimizer];
  const ref = await oneProcess(`${dir}/one-${optimizer}`, ["--shards", "2", ...args]);
  const r = await mpirun(launcher, 2, worker, [`${dir}/two-${optimizer}`, ...args], ONE_THREAD);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.equal(lines.length, 1, `only rank 0 prints:\n${r.stdout}`);
  assert.equal(r.stderr.match(/loaded 150 structures/g)?.length ?? 0, 1, r.stderr);
  const two: Run = JSON.parse(lines[0]);
  assert.equal(two.size, 2);
  assert.equal(two.history.length, ref.history.length);
  two.history.forEach((h, i) => {
    relClose(h.trainLoss, ref.history[i].trainLoss, `${optimizer} epoch ${i + 1} train loss`);
    relClose(h.valMae, ref.history[i].valMae, `${optimizer} epoch ${i + 1} val MAE`);
    relClose(h.valRmse, ref.history[i].valRmse, `${optimizer} epoch ${i + 1} val RMSE`);
  });
  relClose(two.test!.mae, ref.test!.mae, `${optimizer} test MAE of the best model`);
  if (optimizer === "sgd") {
    for (const name of ["last", "best"]) {
      const d = await weightDifference(
        `${dir}/two-${optimizer}/${name}.safetensors`,
        `${dir}/one-${optimizer}/${name}.safetensors`,
      );
      assert.ok(d <= 1e-5, `${name} weights differ by ${d} (relative to each tensor's max)`);
    }
  }
}

for (const [i, launcher] of mpiLaunchers().entries()) {
  // Weights are compared under SGD. Adam-type optimizers divide each gradient by its running
  // RMS, so a gradient that is zero in exact arithmetic (the bias of a linear layer that
  // feeds BatchNorm) but 1e-8 of float noise becomes a learning-rate-sized step whose sign
  // follows the noise: those biases (and the running means that absorb them) then differ
  // between any two summation orders, while the network's function (losses, metrics, test
  // predictions, compared for SF-AdamW) does not.
  Deno.test(`${launcher.name}: 2-process training equals one process with the same global batches`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "dp_train_" });
    try {
      await compare(launcher, dir, "sf-adamw");
      if (i > 0) return; // the rest is launcher-independent
      await compare(launcher, dir, "sgd");
      // Resume with the same world size continues; another one is refused with the count.
      const resumed = await mpirun(
        launcher,
        2,
        worker,
        [`${dir}/two-sf-adamw`, "--resume", "--epochs", "4"],
        ONE_THREAD,
      );
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.equal(JSON.parse(resumed.stdout.trim()).history.length, 4);
      const wrong = await mpirun(
        launcher,
        3,
        worker,
        [`${dir}/two-sf-adamw`, "--resume", "--epochs", "5"],
        ONE_THREAD,
      );
      assert.notEqual(wrong.code, 0);
      assert.match(wrong.stderr, /trained with 2 processes.*mpirun -np 2, not 3/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  Deno.test(`${launcher.name}: a rank failing during training ends the job with its message`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "dp_fail_" });
    try {
      const r = await mpirun(
        launcher,
        2,
        worker,
        [`${dir}/run`, "--fail-rank", "1"],
        ONE_THREAD,
        120_000,
      );
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /rank 1\/2: error: injected failure in the third step/);
      assert.doesNotMatch(r.stdout, /history/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test({
  name: "data-parallel training tests need mpirun",
  ignore: skip !== null,
  fn: () => assert.ok(mpiLaunchers().length > 0),
});
