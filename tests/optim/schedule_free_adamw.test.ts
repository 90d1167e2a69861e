import assert from "node:assert/strict";
import { forEachBackend } from "../helpers/backends.ts";
import { ScheduleFreeAdamW } from "../../lib/optim/schedule_free_adamw.ts";
import { decodeOptimizerState, encodeOptimizerState } from "../../lib/optim/state_io.ts";
import { assertClose, param, release, setGrad, toyGrad, toySteps, values } from "./helpers.ts";

/**
 * The Schedule-Free AdamW update (Defazio et al. 2024; `adamw_schedulefree.py` of
 * facebookresearch/schedule_free) written out plainly in float64 for one parameter vector: returns
 * y, z, v and the scalars after `steps` steps, with the gradient a function of the current y.
 */
function referenceTrace(
  p0: number[],
  steps: number,
  grad: (y: number[], step: number) => number[],
  h: {
    lr: number;
    b1: number;
    b2: number;
    eps: number;
    wd: number;
    warmup: number;
    r: number;
    pow: number;
  },
) {
  const y = [...p0];
  const z = [...p0];
  const v = p0.map(() => 0);
  let lrMax = 0;
  let W = 0;
  for (let k = 0; k < steps; k++) {
    const g = grad(y, k);
    const lrT = h.warmup === 0 ? h.lr : h.lr * Math.min(1, (k + 1) / h.warmup);
    lrMax = Math.max(lrMax, lrT);
    const w = Math.pow(k + 1, h.r) * Math.pow(lrMax, h.pow);
    W += w;
    const c = w / W;
    for (let i = 0; i < y.length; i++) {
      v[i] = h.b2 * v[i] + (1 - h.b2) * g[i] * g[i];
      const denom = Math.sqrt(v[i] / (1 - Math.pow(h.b2, k + 1))) + h.eps;
      const gh = g[i] / denom + h.wd * y[i];
      const zOld = z[i];
      y[i] = y[i] + c * (zOld - y[i]) + lrT * (h.b1 * (1 - c) - 1) * gh;
      z[i] = zOld - lrT * gh;
    }
  }
  const x = y.map((yi, i) => yi + (1 - 1 / h.b1) * (z[i] - yi));
  return { y, z, v, x, lrMax, W };
}

const H = { lr: 0.1, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0.05, warmup: 2, r: 0, pow: 2 };
const P0 = [0.5, -1.25, 2.0, 0.75, -0.1];

forEachBackend(
  "SF-AdamW matches a float64 trace for 3 steps (weight decay, warmup 2)",
  (backend) => {
    for (const h of [H, { ...H, r: 1, pow: 1, warmup: 0, wd: 0 }]) {
      const p = param(backend, "w", P0);
      const opt = new ScheduleFreeAdamW([p], {
        lr: h.lr,
        betas: [h.b1, h.b2],
        eps: h.eps,
        weightDecay: h.wd,
        warmupSteps: h.warmup,
        r: h.r,
        weightLrPower: h.pow,
      });
      toySteps(backend, opt, p, 3);
      const ref = referenceTrace(P0, 3, toyGrad, h);
      assertClose(values(p), ref.y, 1e-6, "y");
      const st = opt.stateDict();
      assertClose(st.tensors["z/w"], ref.z, 1e-6, "z");
      assertClose(st.tensors["v/w"], ref.v, 1e-6, "v");
      assert.equal(st.scalars.k, 3);
      assert.ok(Math.abs((st.scalars.weightSum as number) - ref.W) <= 1e-15);
      assert.equal(st.scalars.lrMax, ref.lrMax);
      // Sanity: the trace moved the parameters (a no-op optimizer could not pass).
      assert.ok(Math.abs(ref.y[0] - P0[0]) > 1e-3);
      opt.dispose();
      p.value.dispose();
    }
  },
);

forEachBackend("warmup scales lr_t: scheduledLr follows lr·min(1, (k+1)/warmup)", (backend) => {
  const p = param(backend, "w", [1, 2]);
  const opt = new ScheduleFreeAdamW([p], { lr: 0.2, warmupSteps: 4 });
  const seen: number[] = [];
  for (let k = 0; k < 6; k++) {
    setGrad(backend, p, [0.1, -0.2]);
    opt.step();
    seen.push(opt.scheduledLr);
  }
  assertClose(seen, [0.05, 0.1, 0.15, 0.2, 0.2, 0.2], 1e-15);
  release(opt, p);
});

forEachBackend("eval() moves to x, train() returns to y; double calls are no-ops", (backend) => {
  const p = param(backend, "w", P0);
  const opt = new ScheduleFreeAdamW([p], {
    lr: H.lr,
    weightDecay: H.wd,
    warmupSteps: H.warmup,
  });
  toySteps(backend, opt, p, 3);
  const y = values(p);
  const z = [...opt.stateDict().tensors["z/w"]];
  const ref = referenceTrace(P0, 3, toyGrad, H);
  opt.eval();
  assert.equal(opt.mode, "eval");
  const x = values(p);
  assertClose(x, ref.x, 1e-6, "x vs float64 reference");
  opt.eval();
  assert.deepEqual(values(p), x, "second eval() is a no-op");
  assert.throws(() => opt.step(), /eval mode/);
  opt.train();
  opt.train();
  assert.equal(opt.mode, "train");
  const back = values(p);
  for (let i = 0; i < y.length; i++) {
    // Two float32 lerps: error within a few ulps of the magnitudes involved.
    const tol = 8 * 2 ** -24 * (Math.abs(y[i]) + Math.abs(z[i]));
    assert.ok(Math.abs(back[i] - y[i]) <= tol, `y[${i}] ${back[i]} vs ${y[i]}`);
  }
  release(opt, p);
});

forEachBackend("parameters without a gradient are skipped (no state, unchanged)", (backend) => {
  const a = param(backend, "a", [1, 2, 3]);
  const b = param(backend, "b", [4, 5]);
  const opt = new ScheduleFreeAdamW([a, b], { lr: 0.01 });
  setGrad(backend, a, [0.1, 0.2, 0.3]);
  opt.step();
  assert.deepEqual(values(b), [4, 5]);
  assert.deepEqual(Object.keys(opt.stateDict().tensors).sort(), ["v/a", "z/a"]);
  opt.zeroGrad();
  assert.equal(a.value.grad, null);
  assert.throws(() => new ScheduleFreeAdamW([a, a]), /duplicate/);
  release(opt, a, b);
});

forEachBackend(
  "state dict round trip (through safetensors bytes) continues identically",
  (backend) => {
    const opts = { lr: 0.05, weightDecay: 0.01, warmupSteps: 2 };
    const p = param(backend, "layer.weight", P0);
    const a = new ScheduleFreeAdamW([p], opts);
    toySteps(backend, a, p, 2);
    // Checkpoint at x, as the trainer does.
    a.eval();
    const saved = decodeOptimizerState(encodeOptimizerState(a.stateDict()));
    const q = param(backend, "layer.weight", values(p));
    const b = new ScheduleFreeAdamW([q], opts);
    b.loadStateDict(saved);
    assert.equal(b.mode, "eval");
    assert.equal(b.stepCount, 2);
    a.train();
    b.train();
    for (let k = 2; k < 4; k++) {
      const g = toyGrad(values(p), k);
      setGrad(backend, p, g);
      setGrad(backend, q, g);
      a.step();
      b.step();
    }
    assert.deepEqual(values(q), values(p));
    assert.deepEqual(b.stateDict(), a.stateDict());
    assert.throws(
      () => b.loadStateDict({ ...saved, kind: "adamw" }),
      /cannot load adamw/,
    );
    release(a, b, p, q);
  },
);

forEachBackend("dispose frees the state storage", (backend) => {
  const p = param(backend, "w", [1, 2, 3]);
  const before = backend.memory().liveBuffers;
  const opt = new ScheduleFreeAdamW([p]);
  setGrad(backend, p, [1, 1, 1]);
  const withGrad = backend.memory().liveBuffers;
  assert.equal(withGrad, before + 1);
  opt.step();
  assert.equal(backend.memory().liveBuffers, withGrad + 2);
  opt.dispose();
  opt.zeroGrad();
  assert.equal(backend.memory().liveBuffers, before);
  release(p);
});
