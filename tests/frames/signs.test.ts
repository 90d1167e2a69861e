import assert from "node:assert/strict";
import { applySigns, SIGN_FRAME_COUNT, SIGN_PATTERNS, signOf } from "../../lib/frames/signs.ts";
import { det3, randomOrthogonal, seededRng } from "./_helpers.ts";

Deno.test("signs: 8 distinct ±1 patterns, 0 is identity, bit k flips column k", () => {
  assert.equal(SIGN_FRAME_COUNT, 8);
  assert.equal(SIGN_PATTERNS.length, 24);
  const seen = new Set<string>();
  for (let f = 0; f < 8; f++) {
    const row = Array.from(SIGN_PATTERNS.subarray(3 * f, 3 * f + 3));
    assert.ok(row.every((s) => s === 1 || s === -1));
    seen.add(row.join(","));
    for (let k = 0; k < 3; k++) {
      assert.equal(row[k], (f & (1 << k)) ? -1 : 1);
      assert.equal(signOf(f, k), row[k]);
    }
  }
  assert.equal(seen.size, 8);
  assert.deepEqual(Array.from(SIGN_PATTERNS.subarray(0, 3)), [1, 1, 1]);
});

Deno.test("signs: applySigns scales columns; 4 proper and 4 improper frames", () => {
  const u = randomOrthogonal(seededRng(5), false);
  let proper = 0;
  for (let f = 0; f < 8; f++) {
    const m = applySigns(u, f);
    for (let i = 0; i < 3; i++) {
      for (let k = 0; k < 3; k++) {
        assert.equal(m[3 * i + k], SIGN_PATTERNS[3 * f + k] * u[3 * i + k]);
      }
    }
    if (det3(m) > 0) proper++;
  }
  assert.equal(proper, 4);
  // offset + in-place form
  const buf = new Float64Array([9, 9, ...u]);
  const out = applySigns(buf, 7, new Float64Array(9), 2);
  assert.deepEqual(Array.from(out), u.map((x) => -x));
  assert.throws(() => applySigns(u, 8));
  assert.throws(() => applySigns(u, 1.5));
});
