import assert from "node:assert/strict";
import { forEachBackend } from "../helpers/backends.ts";
import { AdamW } from "../../lib/optim/adamw.ts";
import { SGD } from "../../lib/optim/sgd.ts";
import { createOptimizer } from "../../lib/optim/create.ts";
import { assertClose, param, release, setGrad, toyGrad, toySteps, values } from "./helpers.ts";

const P0 = [0.5, -1.25, 2.0, 0.75, -0.1];

/** torch.optim.AdamW written out in float64. */
function adamwReference(
  p0: number[],
  steps: number,
  h: { lr: number; b1: number; b2: number; eps: number; wd: number },
): number[] {
  const p = [...p0];
  const m = p0.map(() => 0);
  const v = p0.map(() => 0);
  for (let t = 1; t <= steps; t++) {
    const g = toyGrad(p, t - 1);
    for (let i = 0; i < p.length; i++) {
      p[i] *= 1 - h.lr * h.wd;
      m[i] = h.b1 * m[i] + (1 - h.b1) * g[i];
      v[i] = h.b2 * v[i] + (1 - h.b2) * g[i] ** 2;
      const mHat = m[i] / (1 - h.b1 ** t);
      const vHat = v[i] / (1 - h.b2 ** t);
      p[i] -= h.lr * mHat / (Math.sqrt(vHat) + h.eps);
    }
  }
  return p;
}

/** torch.optim.SGD (no dampening, no Nesterov) written out in float64. */
function sgdReference(
  p0: number[],
  steps: number,
  h: { lr: number; momentum: number; wd: number },
): number[] {
  const p = [...p0];
  let buf: number[] | null = null;
  for (let t = 0; t < steps; t++) {
    const g = toyGrad(p, t);
    const d = g.map((gi, i) => gi + h.wd * p[i]);
    buf = buf === null || h.momentum === 0 ? d : buf.map((b, i) => h.momentum * b + d[i]);
    for (let i = 0; i < p.length; i++) p[i] -= h.lr * buf[i];
  }
  return p;
}

forEachBackend("AdamW matches PyTorch's update in float64 for 4 steps", (backend) => {
  const h = { lr: 0.05, b1: 0.9, b2: 0.99, eps: 1e-8, wd: 0.1 };
  const p = param(backend, "w", P0);
  const opt = new AdamW([p], { lr: h.lr, betas: [h.b1, h.b2], eps: h.eps, weightDecay: h.wd });
  toySteps(backend, opt, p, 4);
  const ref = adamwReference(P0, 4, h);
  assertClose(values(p), ref, 1e-6, "adamw");
  assert.ok(Math.abs(ref[1] - P0[1]) > 1e-2);
  release(opt, p);
});

forEachBackend(
  "SGD with momentum and weight decay matches PyTorch's update; momentum 0 too",
  (backend) => {
    for (const h of [{ lr: 0.05, momentum: 0.9, wd: 0.01 }, { lr: 0.1, momentum: 0, wd: 0 }]) {
      const p = param(backend, "w", P0);
      const opt = new SGD([p], { lr: h.lr, momentum: h.momentum, weightDecay: h.wd });
      toySteps(backend, opt, p, 4);
      assertClose(values(p), sgdReference(P0, 4, h), 1e-6, `sgd momentum ${h.momentum}`);
      release(opt, p);
    }
  },
);

forEachBackend(
  "AdamW and SGD: train/eval are no-ops; state round trip continues identically",
  (backend) => {
    for (const kind of ["adamw", "sgd"] as const) {
      const p = param(backend, "w", P0);
      const a = createOptimizer(kind, [p], { lr: 0.02, weightDecay: 0.01 });
      toySteps(backend, a, p, 2);
      const before = values(p);
      a.eval();
      a.train();
      assert.deepEqual(values(p), before, `${kind} eval/train`);
      const q = param(backend, "w", before);
      const b = createOptimizer(kind, [q], { lr: 0.9 });
      b.loadStateDict(structuredClone(a.stateDict()));
      assert.equal(b.lr, 0.02);
      for (let t = 2; t < 4; t++) {
        const g = toyGrad(values(p), t);
        setGrad(backend, p, g);
        setGrad(backend, q, g);
        a.step();
        b.step();
      }
      assert.deepEqual(values(q), values(p), kind);
      const other = kind === "sgd" ? "adamw" : "sgd";
      assert.throws(() => b.loadStateDict({ ...a.stateDict(), kind: other }), /cannot load/);
      release(a, b, p, q);
    }
  },
);

forEachBackend("lr can be changed between steps (what schedulers do)", (backend) => {
  const p = param(backend, "w", [1]);
  const opt = new SGD([p], { lr: 0.5, momentum: 0 });
  setGrad(backend, p, [1]);
  opt.step();
  opt.lr = 0.25;
  opt.step();
  assertClose(values(p), [1 - 0.5 - 0.25], 1e-7);
  release(opt, p);
});
