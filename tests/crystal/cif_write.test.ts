import assert from "node:assert/strict";
import { parseCif } from "../../lib/crystal/cif.ts";
import { structureToCif } from "../../lib/crystal/cif_write.ts";
import { latticeParameters, latticeVolume } from "../../lib/crystal/lattice.ts";
import { syntheticCrystals } from "../../lib/data/synthetic.ts";
import type { Structure } from "../../lib/crystal/types.ts";

Deno.test("structureToCif: parseCif reads back cell, species and coordinates", () => {
  const data = syntheticCrystals({ count: 40, seed: 3 });
  for (let i = 0; i < data.length; i++) {
    const s = data.get(i).structure;
    const back = parseCif(structureToCif(s));
    assert.equal(back.id, s.id.replace(/[\s'"#$;_]+/g, "_"));
    assert.deepEqual([...back.numbers], [...s.numbers]);
    const p = latticeParameters(s.lattice), q = latticeParameters(back.lattice);
    for (const k of ["a", "b", "c", "alpha", "beta", "gamma"] as const) {
      assert.ok(Math.abs(p[k] - q[k]) < 1e-6, `${s.id} ${k}: ${p[k]} vs ${q[k]}`);
    }
    assert.ok(Math.abs(latticeVolume(s.lattice) - latticeVolume(back.lattice)) < 1e-5);
    for (let j = 0; j < s.frac.length; j++) {
      // parseCif wraps into [0, 1): compare modulo 1.
      const d = back.frac[j] - s.frac[j];
      assert.ok(Math.abs(d - Math.round(d)) < 1e-8, `${s.id} coordinate ${j}`);
    }
  }
});

Deno.test("structureToCif: P 1 block, labels, block name, bad input", () => {
  const s: Structure = {
    id: "my crystal",
    lattice: new Float64Array([4, 0, 0, 0, 4, 0, 0, 0, 4]),
    frac: new Float64Array([0, 0, 0, 0.5, 0.5, 0.5]),
    numbers: new Int32Array([55, 17]),
  };
  const text = structureToCif(s);
  assert.ok(text.startsWith("data_my_crystal\n"));
  assert.match(text, /'P 1'/);
  assert.match(text, /^ {2}Cs {2}Cs0 {2}1 {2}0 {2}0 {2}0 {2}1$/m);
  assert.match(text, /^ {2}Cl {2}Cl1 {2}1 {2}0\.5 {2}0\.5 {2}0\.5 {2}1$/m);
  assert.ok(structureToCif(s, { blockName: "x" }).startsWith("data_x\n"));
  assert.throws(
    () => structureToCif({ ...s, frac: new Float64Array([NaN, 0, 0, 0, 0, 0]) }),
    RangeError,
  );
  assert.throws(() => structureToCif({ ...s, frac: new Float64Array(3) }), RangeError);
});
