import assert from "node:assert/strict";
import { Normalizer } from "../../lib/train/normalizer.ts";

const close = (a: number, b: number, tol = 1e-12) =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} vs ${b}`);

Deno.test("fit: mean and sample std (n − 1), like torch.std", () => {
  // [1, 2, 3, 4, 10]: mean 4, squares 9 + 4 + 1 + 0 + 36 = 50, std = sqrt(50/4).
  const n = Normalizer.fit([1, 2, 3, 4, 10]);
  close(n.mean, 4);
  close(n.std, Math.sqrt(12.5));
});

Deno.test("norm/denorm invert each other and keep the array type", () => {
  const n = Normalizer.fit(new Float64Array([-1.5, 0.25, 3, 7.75]));
  const x = new Float64Array([-2, 0, 1.125, 9]);
  const z = n.norm(x);
  assert.ok(z instanceof Float64Array);
  close(z[2], (1.125 - n.mean) / n.std);
  const back = n.denorm(z);
  for (let i = 0; i < x.length; i++) close(back[i], x[i]);
  const f = n.denorm(new Float32Array([0, 1]));
  assert.ok(f instanceof Float32Array);
  assert.equal(f[1], Math.fround(n.std + n.mean));
  assert.deepEqual(x, new Float64Array([-2, 0, 1.125, 9]), "input untouched");
});

Deno.test("constant or single targets give std 1", () => {
  const c = Normalizer.fit([2.5, 2.5, 2.5]);
  assert.equal(c.mean, 2.5);
  assert.equal(c.std, 1);
  assert.equal(Normalizer.fit([7]).std, 1);
  assert.throws(() => Normalizer.fit([]), /at least one/);
});

Deno.test("JSON round trip and validation", () => {
  const n = Normalizer.fit([0.1, 0.7, -0.3]);
  const back = Normalizer.fromJSON(JSON.parse(JSON.stringify(n)));
  assert.equal(back.mean, n.mean);
  assert.equal(back.std, n.std);
  assert.throws(() => Normalizer.fromJSON({ mean: 1 }), /not a normalizer/);
  assert.throws(() => Normalizer.fromJSON({ mean: 1, std: 0 }), /std must be/);
});
