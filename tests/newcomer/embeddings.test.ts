/**
 * `predict --embeddings`: the pooled crystal vector before the head, as .npy or .csv. The
 * embedding fed through the model's own head gives back its prediction; the .npy file is the
 * NumPy 1.0 format (checked byte by byte, and with numpy when python3 has it).
 */

import assert from "node:assert/strict";
import { npyBytes } from "../../lib/io/npy.ts";
import { syntheticCrystals } from "../../lib/data/synthetic.ts";
import { loadGraphs } from "../../lib/data/featurize.ts";
import { createModel } from "../../lib/models/model.ts";
import { saveCheckpoint } from "../../lib/train/checkpoint.ts";
import { noGrad, tidy } from "../../lib/tensor/scope.ts";
import { softplus, tensor } from "../../lib/tensor/ops.ts";

Deno.test("npyBytes: NumPy 1.0 header, 64-byte aligned, little-endian float32 body", () => {
  const values = Float32Array.from([1, -2.5, 3.25, 0, 1e-3, 7]);
  const bytes = npyBytes(values, 2, 3);
  assert.deepEqual([...bytes.slice(0, 8)], [0x93, 78, 85, 77, 80, 89, 1, 0]);
  const hlen = new DataView(bytes.buffer).getUint16(8, true);
  assert.equal((10 + hlen) % 64, 0);
  const header = new TextDecoder().decode(bytes.slice(10, 10 + hlen));
  assert.match(header, /^\{'descr': '<f4', 'fortran_order': False, 'shape': \(2, 3\), \} *\n$/);
  const body = new DataView(bytes.buffer, 10 + hlen);
  assert.deepEqual(Array.from({ length: 6 }, (_, i) => body.getFloat32(4 * i, true)), [...values]);
  assert.throws(() => npyBytes(values, 4, 2), /not 4 × 2/);
});

Deno.test("embeddings through the head reproduce the predictions; CLI writes .npy and .csv", async () => {
  const dir = await Deno.makeTempDir({ prefix: "facgcnn-embed-" });
  try {
    const model = createModel({
      kind: "cgcnn",
      atomFeaLen: 8,
      hFeaLen: 8,
      nConv: 2,
      nH: 2,
      device: "cpu",
    });
    model.targetMean = 0.3;
    model.targetStd = 2;
    const { graphs } = await loadGraphs("synthetic:7:4", { cacheDir: null, quiet: true });
    const emb = model.embedGraphs(graphs);
    const pred = model.predictGraphs(graphs);
    assert.equal(emb.length, 7 * 8);
    // The head by hand on the embedding: softplus → conv_to_fc → softplus → fcs → fc_out.
    const net = model.network;
    const again = tidy(() =>
      noGrad(() => {
        let h = softplus(net.convToFc.forward(softplus(tensor(model.backend, emb, [7, 8]))));
        for (const fc of net.fcs) h = softplus(fc.forward(h));
        return net.fcOut.forward(h).toFloat32Array();
      })
    );
    for (let i = 0; i < 7; i++) {
      assert.ok(Math.abs(0.3 + 2 * again[i] - pred[i]) < 1e-4, `${i}: ${again[i]} vs ${pred[i]}`);
    }
    await saveCheckpoint(`${dir}/m.safetensors`, model);
    model.dispose();

    const crystals = syntheticCrystals({ count: 3, seed: 2 });
    const predict = (out: string) =>
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          new URL("../../cli/predict.ts", import.meta.url).pathname,
          "--checkpoint",
          `${dir}/m.safetensors`,
          "--data",
          "synthetic:3:2",
          "--device",
          "cpu",
          "--out",
          `${dir}/p.csv`,
          "--embeddings",
          out,
        ],
        env: { FACGCNN_QUIET: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
    const csvRun = await predict(`${dir}/e.csv`);
    assert.equal(csvRun.code, 0, new TextDecoder().decode(csvRun.stderr));
    const lines = (await Deno.readTextFile(`${dir}/e.csv`)).trim().split("\n");
    assert.equal(lines[0], "id," + Array.from({ length: 8 }, (_, k) => `e${k}`).join(","));
    assert.equal(lines.length, 4);
    assert.deepEqual(
      lines.slice(1).map((l) => l.split(",")[0]),
      [0, 1, 2].map((i) => crystals.get(i).id),
    );
    const npyRun = await predict(`${dir}/e.npy`);
    assert.equal(npyRun.code, 0);
    const bytes = await Deno.readFile(`${dir}/e.npy`);
    const hlen = new DataView(bytes.buffer).getUint16(8, true);
    const body = new DataView(bytes.buffer, 10 + hlen);
    const first = lines[1].split(",").slice(1).map(Number);
    first.forEach((v, k) => assert.ok(Math.abs(body.getFloat32(4 * k, true) - v) < 1e-6));
    const bad = await predict(`${dir}/e.txt`);
    assert.equal(bad.code, 2);

    // numpy reads it, when python3 has numpy.
    try {
      const py = await new Deno.Command("python3", {
        args: [
          "-c",
          `import numpy as np; a = np.load(${
            JSON.stringify(`${dir}/e.npy`)
          }); print(a.shape, a.dtype)`,
        ],
        stdout: "piped",
        stderr: "null",
      }).output();
      if (py.success) assert.equal(new TextDecoder().decode(py.stdout).trim(), "(3, 8) float32");
    } catch { /* no python3 */ }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
