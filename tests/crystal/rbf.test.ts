import assert from "node:assert/strict";
import {
  gaussianCentres,
  gaussianExpand,
  gaussianExpandInto,
  gaussianSize,
} from "../../lib/crystal/rbf.ts";

Deno.test("default expansion: 41 centres 0, 0.2, …, 8 and σ = 0.2", () => {
  assert.equal(gaussianSize(), 41);
  const mu = gaussianCentres();
  assert.equal(mu.length, 41);
  for (let k = 0; k <= 40; k++) assert.ok(Math.abs(mu[k] - k / 5) < 1e-12);
  const d = [0, 1.234, 3.9, 8, 9.5];
  const out = gaussianExpand(d);
  assert.equal(out.length, 41 * d.length);
  for (let e = 0; e < d.length; e++) {
    for (let k = 0; k <= 40; k++) {
      const want = Math.exp(-((d[e] - k / 5) ** 2) / 0.04);
      assert.ok(Math.abs(out[41 * e + k] - want) < 1e-6, `edge ${e}, centre ${k}`);
    }
  }
  // The row peaks at the nearest centre.
  const row = Array.from(out.subarray(41, 82));
  assert.equal(row.indexOf(Math.max(...row)), 6); // 1.234 is nearest to 1.2
});

Deno.test("options: sigma defaults to step; explicit sigma changes the width", () => {
  const a = gaussianExpand([2.3], { max: 4, step: 0.5 });
  const b = gaussianExpand([2.3], { max: 4, step: 0.5, sigma: 0.5 });
  const c = gaussianExpand([2.3], { max: 4, step: 0.5, sigma: 1 });
  assert.equal(a.length, 9);
  assert.deepEqual(a, b);
  assert.ok(Math.abs(c[0] - Math.exp(-(2.3 ** 2))) < 1e-6);
  assert.throws(() => gaussianExpand([1], { step: 0 }), /invalid Gaussian expansion/);
});

Deno.test("gaussianExpandInto writes rows at an offset with a stride and checks the size", () => {
  const d = Float64Array.of(0.5, 2.5);
  const ref = gaussianExpand(d);
  const out = new Float32Array(5 + 2 * 44).fill(-1);
  gaussianExpandInto(d, out, 5, { stride: 44 });
  assert.deepEqual(out.subarray(5, 46), ref.subarray(0, 41));
  assert.deepEqual(out.subarray(49, 90), ref.subarray(41, 82));
  assert.deepEqual(Array.from(out.subarray(46, 49)), [-1, -1, -1]); // gap left untouched
  assert.deepEqual(Array.from(out.subarray(0, 5)), [-1, -1, -1, -1, -1]);
  assert.throws(() => gaussianExpandInto(d, new Float32Array(81), 0), /too short/);
});

Deno.test("matches the direct formula to float32 precision on random distances and options", () => {
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const cases = [{}, { min: 0.5, max: 6, step: 0.5, sigma: 0.3 }, { max: 5, step: 1, sigma: 0.05 }];
  for (const opts of cases) {
    const d = Array.from({ length: 300 }, () => -1 + 11 * rand());
    const out = gaussianExpand(d, opts);
    const mu = gaussianCentres(opts);
    const sigma = (opts as { sigma?: number }).sigma ?? 0.2;
    for (let e = 0; e < d.length; e++) {
      for (let k = 0; k < mu.length; k++) {
        const want = Math.fround(Math.exp(-((d[e] - mu[k]) ** 2) / sigma ** 2));
        const got = out[e * mu.length + k];
        assert.ok(
          Math.abs(got - want) <= 1e-6 * want + 1e-30,
          `d=${d[e]}, centre ${mu[k]}: ${got} vs ${want}`,
        );
      }
    }
  }
});

Deno.test("NaN, infinite and very far distances: the direct formula's values, every slot written", () => {
  // exp(NaN) = NaN, exp(−∞) = 0; 100 Å and 1e6 Å overflow the recurrence's factor exp(2uΔ/σ²).
  const d = [NaN, Infinity, -Infinity, 100, 1e6, 2.5];
  const out = new Float32Array(41 * d.length).fill(7); // 7: a slot left unwritten
  gaussianExpandInto(d, out);
  for (let e = 0; e < d.length; e++) {
    for (let k = 0; k <= 40; k++) {
      const got = out[41 * e + k], want = Math.fround(Math.exp(-((d[e] - k / 5) ** 2) / 0.04));
      if (Number.isNaN(want)) assert.ok(Number.isNaN(got), `d = ${d[e]}, centre ${k}: ${got}`);
      else assert.ok(Math.abs(got - want) <= 1e-6 * want + 1e-30, `d = ${d[e]}, k ${k}: ${got}`);
    }
  }
});
