/**
 * Inference frees each layer's intermediates as it goes (`releaseUnrecorded`): an eval-mode
 * forward under `noGrad` gives the same predictions as one that records the graph, while
 * holding less memory at its peak (the `[E, 2A]` pre-activations of the three convolutions
 * are not all alive at once). On the CPU it also runs large batches in cache-sized
 * sub-batches of crystals (`inferenceChunks`), with the whole batch's predictions.
 */

import assert from "node:assert/strict";
import { CPU_INFERENCE_CHUNK_BYTES, createCpuBackend } from "../../lib/backend/cpu/cpu_backend.ts";
import { collate } from "../../lib/graph/batch.ts";
import { inferenceChunks, Model } from "../../lib/models/model.ts";
import { noGrad, tidy } from "../../lib/tensor/scope.ts";
import { syntheticGraphs } from "./_fixtures.ts";

const graphs = await syntheticGraphs(48, 11);

for (const kind of ["cgcnn", "facgcnn"] as const) {
  Deno.test(`${kind} inference under noGrad: same outputs, lower peak memory`, () => {
    const backend = createCpuBackend();
    const model = new Model({ kind, atomFeaLen: 32, frames: "all", seed: 3 }, backend).eval();
    // Whole batches: this test is about freeing intermediates (sub-batches: the test below).
    model.inferenceChunkBytes = Infinity;
    const batch = collate(graphs, Int32Array.from({ length: graphs.count }, (_, i) => i));
    const run = (grad: boolean) => {
      backend.resetPeak();
      const before = backend.memory().liveBytes;
      const out = tidy(() => {
        const f = () => model.forward(batch, "all").toFloat32Array();
        return grad ? f() : noGrad(f);
      });
      return { out, peak: backend.memory().peakBytes - before };
    };
    const recorded = run(true), inference = run(false);
    assert.deepEqual(inference.out, recorded.out, "the same predictions");
    assert.ok(
      inference.peak < 0.75 * recorded.peak,
      `peak ${inference.peak} B under noGrad vs ${recorded.peak} B recording`,
    );
    model.dispose();
  });
}

Deno.test("inferenceChunks: balanced crystal ranges covering the batch", () => {
  const batch = collate(graphs, Int32Array.from({ length: graphs.count }, (_, i) => i));
  const E = batch.nEdges, edgesAt = (c: number) => batch.edgeOffsets[batch.crystalOffsets[c]];
  assert.deepEqual(inferenceChunks(batch, E), [0, batch.nCrystals], "fits: one chunk");
  for (const parts of [2, 3, 7]) {
    const bounds = inferenceChunks(batch, Math.ceil(E / parts));
    assert.equal(bounds.length, parts + 1, `${parts} chunks`);
    assert.equal(bounds[0], 0);
    assert.equal(bounds[parts], batch.nCrystals);
    let largest = 0;
    for (let c = 0; c < batch.nCrystals; c++) {
      largest = Math.max(largest, edgesAt(c + 1) - edgesAt(c));
    }
    for (let i = 0; i < parts; i++) {
      assert.ok(bounds[i] < bounds[i + 1], "no empty chunk");
      // Each chunk ends at the first crystal boundary past its share: within one crystal.
      const edges = edgesAt(bounds[i + 1]) - edgesAt(bounds[i]);
      assert.ok(edges <= E / parts + largest, `chunk ${i}: ${edges} edges`);
    }
  }
});

for (const kind of ["cgcnn", "facgcnn"] as const) {
  Deno.test(`${kind} CPU inference in sub-batches gives the whole batch's predictions`, () => {
    const backend = createCpuBackend();
    const model = new Model({ kind, atomFeaLen: 16, frames: "all", seed: 5 }, backend).eval();
    const batch = collate(graphs, Int32Array.from({ length: graphs.count }, (_, i) => i));
    const predict = (bytes: number) => {
      model.inferenceChunkBytes = bytes;
      let chunks = 0;
      const slice = model.hostInputs.bind(model);
      model.hostInputs = (...args) => (chunks++, slice(...args));
      const out = tidy(() => noGrad(() => model.forward(batch).toFloat32Array()));
      model.hostInputs = slice;
      return { out, chunks };
    };
    const whole = predict(Infinity);
    // A budget of a fifth of the batch's [k·E, 2A] array (FACGCNN: k = 8 frame copies): 5
    // sub-batches.
    const copies = kind === "facgcnn" ? 8 : 1;
    const split = predict(Math.ceil((copies * batch.nEdges * 2 * 16 * 4) / 5));
    assert.equal(whole.chunks, 1);
    assert.equal(split.chunks, 5);
    assert.equal(split.out.length, graphs.count);
    for (let i = 0; i < graphs.count; i++) {
      assert.ok(
        Math.abs(split.out[i] - whole.out[i]) <= 1e-5 * (1 + Math.abs(whole.out[i])),
        `crystal ${i}: ${split.out[i]} vs ${whole.out[i]}`,
      );
    }
    // Training mode (batch statistics) never splits the batch.
    model.train();
    model.inferenceChunkBytes = 1;
    let calls = 0;
    const build = model.hostInputs.bind(model);
    model.hostInputs = (...args) => (calls++, build(...args));
    tidy(() => noGrad(() => model.forward(batch)));
    assert.equal(calls, 1);
    model.dispose();
  });
}

Deno.test("inference sub-batches follow the backend: 4 MiB on the CPU, whole batches without the capability", () => {
  const cpu = createCpuBackend();
  assert.equal(cpu.inferenceChunkBytes, CPU_INFERENCE_CHUNK_BYTES);
  const batch = collate(graphs, Int32Array.from({ length: graphs.count }, (_, i) => i));
  // A backend like CUDA's: the same kernels, no inferenceChunkBytes.
  const streaming = new Proxy(cpu, {
    get(t, p) {
      if (p === "inferenceChunkBytes") return undefined;
      const v = Reflect.get(t, p, t);
      return typeof v === "function" ? v.bind(t) : v;
    },
  });
  for (const [backend, whole] of [[cpu, false], [streaming, true]] as const) {
    const model = new Model({ kind: "cgcnn", atomFeaLen: 16, seed: 3 }, backend).eval();
    assert.equal(model.inferenceChunkBytes, whole ? Infinity : CPU_INFERENCE_CHUNK_BYTES);
    model.inferenceChunkBytes = whole ? model.inferenceChunkBytes : 1; // one crystal each
    let calls = 0;
    const build = model.hostInputs.bind(model);
    model.hostInputs = (...args) => (calls++, build(...args));
    tidy(() => noGrad(() => model.forward(batch).toFloat32Array()));
    assert.equal(calls, whole ? 1 : graphs.count, `host input builds (whole: ${whole})`);
    model.dispose();
  }
});
