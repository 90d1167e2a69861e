/**
 * A checkpoint whose weights were damaged on disk is refused, naming the file and the run's
 * other checkpoint, instead of loading different weights.
 */
import assert from "node:assert/strict";
import { cpuBackend } from "../../lib/backend/select.ts";
import { Model } from "../../lib/models/model.ts";
import { loadCheckpoint, saveCheckpoint } from "../../lib/train/checkpoint.ts";

Deno.test("checkpoint: a flipped bit in a weight is refused with what to do", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ckpt_sum_" });
  try {
    const backend = cpuBackend();
    const model = new Model({
      kind: "cgcnn",
      atomFeaLen: 8,
      hFeaLen: 8,
      nConv: 1,
      nH: 1,
      seed: 3,
    }, backend);
    const path = `${dir}/best.safetensors`;
    await saveCheckpoint(path, model, { epoch: 2, metrics: {} });
    (await loadCheckpoint(path, { backend })).model.dispose();
    const bytes = await Deno.readFile(path);
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const flipped = bytes.slice();
    flipped[8 + headerLength + 100] ^= 0x01; // one low mantissa bit: a valid, different float
    await Deno.writeFile(path, flipped);
    await assert.rejects(loadCheckpoint(path, { backend }), (e: Error) => {
      assert.ok(e.message.startsWith(`${path}: checksum mismatch`), e.message);
      assert.match(e.message, /use the run's other one \(best\.safetensors or last\.safetensors/);
      return true;
    });
    model.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
