import assert from "node:assert/strict";
import type { Backend } from "../../lib/backend/backend.ts";
import "../../lib/autograd/backward.ts"; // installs Tensor.backward()
import { BatchNorm1d } from "../../lib/nn/layers.ts";
import { mul, parameter, sum, tensor } from "../../lib/tensor/ops.ts";
import { tidy } from "../../lib/tensor/scope.ts";
import { Rng } from "../../lib/util/random.ts";
import { forEachBackend } from "../helpers/backends.ts";

const ROWS = 9, SPLIT = 5, COLS = 3, EPS = 1e-5;

function randomRows(rng: Rng, n: number, shift: number): Float32Array {
  return new Float32Array(n).map((_, i) => 3 * rng.next() - 1 + shift * (i % COLS));
}

/** Forward + backward of a BatchNorm1d on rows `x` with loss Σ y·w; host results. */
function run(b: Backend, x: Float32Array, w: Float32Array, sync: BatchNorm1d["sync"]) {
  const bn = new BatchNorm1d(b, COLS);
  bn.sync = sync;
  const rows = x.length / COLS;
  const xt = parameter(b, x, [rows, COLS]);
  const out = tidy(() => {
    const y = bn.forward(xt);
    sum(mul(y, tensor(b, w, [rows, COLS]))).backward();
    return {
      y: b.download(y.storage) as Float32Array,
      dx: b.download(xt.grad!.storage) as Float32Array,
    };
  });
  const host = (t: { storage: unknown }) =>
    Array.from(b.download(t.storage as never) as Float32Array);
  const r = {
    ...out,
    dGamma: host(bn.weight.grad!),
    dBeta: host(bn.bias.grad!),
    runningMean: host(bn.runningMean),
    runningVar: host(bn.runningVar),
  };
  bn.dispose();
  xt.dispose();
  return r;
}

function close(a: ArrayLike<number>, b: ArrayLike<number>, what: string, tol = 2e-6): void {
  assert.equal(a.length, b.length, what);
  for (let i = 0; i < a.length; i++) {
    assert.ok(
      Math.abs(a[i] - b[i]) <= tol * (1 + Math.abs(b[i])),
      `${what}[${i}]: ${a[i]} vs ${b[i]}`,
    );
  }
}

/**
 * The other process of a two-process run, played in float64 from its rows: answers the three
 * sums rank 0's BatchNorm asks for (Σx with the row count, Σ(x − mean)², then Σdy, Σdy·x̂ with
 * the row count) by adding its own contributions.
 */
function partner(x2: Float32Array, w2: Float32Array) {
  const rows2 = x2.length / COLS;
  let mean = new Float64Array(COLS), variance = new Float32Array(COLS);
  const partnerGrads = { dGamma: new Float64Array(COLS), dBeta: new Float64Array(COLS) };
  let n = 0;
  const sync = (buf: Float64Array) => {
    if (buf.length === COLS + 1) {
      for (let r = 0; r < rows2; r++) for (let j = 0; j < COLS; j++) buf[j] += x2[r * COLS + j];
      buf[COLS] += rows2;
      n = buf[COLS];
      mean = buf.slice(0, COLS).map((v) => v / n);
    } else if (buf.length === COLS) {
      for (let r = 0; r < rows2; r++) {
        for (let j = 0; j < COLS; j++) buf[j] += (x2[r * COLS + j] - mean[j]) ** 2;
      }
      variance = Float32Array.from(buf, (v) => v / n);
    } else {
      assert.equal(buf.length, 2 * COLS + 1);
      const m32 = Float32Array.from(mean);
      for (let r = 0; r < rows2; r++) {
        for (let j = 0; j < COLS; j++) {
          const g = w2[r * COLS + j];
          const xhat = (x2[r * COLS + j] - m32[j]) / Math.sqrt(variance[j] + EPS);
          buf[j] += g;
          buf[COLS + j] += g * xhat;
          partnerGrads.dBeta[j] += g;
          partnerGrads.dGamma[j] += g * xhat;
        }
      }
      buf[2 * COLS] += rows2;
    }
  };
  return { sync, partnerGrads };
}

forEachBackend("SyncBN: rank 0 of two processes computes the one-process batch's rows", (b) => {
  const rng = new Rng(7, 1);
  const x = randomRows(rng, ROWS * COLS, 5); // offset columns: mean ≫ spread in column 2
  const w = randomRows(rng, ROWS * COLS, 0);
  const whole = run(b, x, w, null);
  const cut = SPLIT * COLS;
  const { sync, partnerGrads } = partner(x.subarray(cut), w.subarray(cut));
  const rank0 = run(b, x.slice(0, cut), w.slice(0, cut), sync);
  close(rank0.y, whole.y.subarray(0, cut), "y");
  close(rank0.dx, whole.dx.subarray(0, cut), "dx");
  // Parameter gradients are local sums; with the partner's they make the whole batch's.
  close(rank0.dGamma.map((v, j) => v + partnerGrads.dGamma[j]), whole.dGamma, "dγ");
  close(rank0.dBeta.map((v, j) => v + partnerGrads.dBeta[j]), whole.dBeta, "dβ");
  // Running statistics use the global count (unbiased variance with N = 9, not 5).
  close(rank0.runningMean, whole.runningMean, "running mean");
  close(rank0.runningVar, whole.runningVar, "running var");
});

forEachBackend("SyncBN: in one process (sync = identity) equals plain BatchNorm", (b) => {
  const rng = new Rng(3, 2);
  const x = randomRows(rng, ROWS * COLS, 1), w = randomRows(rng, ROWS * COLS, 0);
  const plain = run(b, x, w, null);
  const synced = run(b, x, w, () => {});
  close(synced.y, plain.y, "y", 1e-6);
  close(synced.dx, plain.dx, "dx", 1e-6);
  close(synced.dGamma, plain.dGamma, "dγ", 1e-6);
  close(synced.runningVar, plain.runningVar, "running var", 1e-6);
});
