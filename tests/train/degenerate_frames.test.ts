/**
 * The epoch record's degenerate-frame count: every training crystal whose frame base is
 * ill-defined, once per epoch (stochastic frames: one forward pass per crystal), read once at
 * epoch end (on CUDA from the device's counter); checked against lib/frames on the training
 * split. CGCNN records none.
 */
import assert from "node:assert/strict";
import { computeFrames } from "../../lib/frames/select.ts";
import { train } from "../../lib/train/trainer.ts";
import { QUIET, tempDir, tinyConfig } from "./_helpers.ts";

Deno.test("trainer: each epoch records the degenerate frames of the training crystals", async () => {
  const [dir, cleanup] = await tempDir("degenerate");
  try {
    const r = await train(
      tinyConfig(`${dir}/pca`, { frameKind: "pca", frames: "stochastic" }),
      QUIET,
    );
    const g = r.data.train;
    r.model.dispose();
    const f = computeFrames(g.positions, g.atomOffsets, g.lattices, "pca");
    const want = f.degenerate.reduce((s, d) => s + d, 0);
    assert.ok(want > 0, "the synthetic set has degenerate PCA frames");
    assert.deepEqual(r.history.map((h) => h.degenerateFrames), [want, want]);
    const c = await train(tinyConfig(`${dir}/cgcnn`, { model: "cgcnn", epochs: 1 }), QUIET);
    c.model.dispose();
    assert.equal(c.history[0].degenerateFrames, undefined);
  } finally {
    await cleanup();
  }
});
