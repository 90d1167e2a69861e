import assert from "node:assert/strict";
import { ConstantLR, MultiStepLR } from "../../lib/optim/schedule.ts";

Deno.test("MultiStepLR: base · γ^(milestones passed), stepped per epoch", () => {
  const opt = { lr: 0.8 };
  const s = new MultiStepLR(opt, { milestones: [4, 2], gamma: 0.5 });
  const lrs = [opt.lr];
  for (let e = 0; e < 6; e++) {
    s.step();
    lrs.push(opt.lr);
  }
  // epochs 0..6: milestones 2 and 4 passed at epochs ≥ 2 and ≥ 4.
  assert.deepEqual(lrs, [0.8, 0.8, 0.4, 0.4, 0.2, 0.2, 0.2]);
  assert.equal(s.lastEpoch, 6);
});

Deno.test("MultiStepLR default is CGCNN's: ×0.1 at epoch 100", () => {
  const opt = { lr: 0.01 };
  const s = new MultiStepLR(opt);
  for (let e = 0; e < 99; e++) s.step();
  assert.equal(opt.lr, 0.01);
  s.step();
  assert.ok(Math.abs(opt.lr - 0.001) < 1e-15);
});

Deno.test("MultiStepLR resumes from its state dict", () => {
  const a = { lr: 1 };
  const s = new MultiStepLR(a, { milestones: [3], gamma: 0.1 });
  for (let e = 0; e < 4; e++) s.step();
  const b = { lr: 123 };
  const t = new MultiStepLR(b, { milestones: [3], gamma: 0.1 });
  t.loadStateDict(JSON.parse(JSON.stringify(s.stateDict())));
  assert.equal(b.lr, a.lr);
  assert.equal(t.lastEpoch, 4);
  assert.throws(() => new MultiStepLR(a, { milestones: [1.5] }), /non-negative integers/);
});

Deno.test("ConstantLR keeps lr", () => {
  const opt = { lr: 5e-4 };
  const s = new ConstantLR(opt);
  s.step();
  s.step();
  assert.equal(opt.lr, 5e-4);
  assert.equal(s.lastEpoch, 2);
});
