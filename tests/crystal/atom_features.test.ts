import assert from "node:assert/strict";
import {
  atomFeatures,
  atomFeatureTable,
  BUILTIN_ATOM_FEATURES,
  BUILTIN_MAX_Z,
  CGCNN_ATOM_FEATURE_LENGTH,
  CGCNN_FEATURE_BLOCKS,
  cgcnnAtomVector,
  loadAtomInit,
  parseAtomInit,
} from "../../lib/crystal/atom_features.ts";
import { ELEMENT_FACTS_MAX_Z, elementFacts } from "../../lib/crystal/elements.ts";
import { elementSymbol } from "../../lib/crystal/symbols.ts";

/** CGCNN's file in the shared reference folder (a sibling of the repository). */
const REFERENCE = new URL("../../../shared/reference/cgcnn-sample/atom_init.json", import.meta.url)
  .pathname;

function findReference(): string | null {
  try {
    Deno.statSync(REFERENCE);
    return REFERENCE;
  } catch {
    return null;
  }
}

const refPath = findReference();
if (refPath === null) {
  console.warn(
    "atom_features.test: CGCNN reference atom_init.json not found " +
      `(${REFERENCE}); reference comparisons are skipped`,
  );
}

const canWrite = (await Deno.permissions.query({ name: "write" })).state === "granted";

/** Slot of the one set entry of each block ("-" when the block is all zero). */
function blockSlots(v: ArrayLike<number>): (number | "-")[] {
  const out: (number | "-")[] = [];
  let o = 0;
  for (const b of CGCNN_FEATURE_BLOCKS) {
    const ones: number[] = [];
    for (let i = 0; i < b.size; i++) {
      const x = v[o + i];
      assert.ok(x === 0 || x === 1, `entry ${o + i} is ${x}`);
      if (x === 1) ones.push(i);
    }
    assert.ok(ones.length <= 1, `block ${b.name} has ${ones.length} ones`);
    out.push(ones.length ? ones[0] : "-");
    o += b.size;
  }
  return out;
}

Deno.test("block sizes add up to 92 in CGCNN's order", () => {
  assert.deepEqual(CGCNN_FEATURE_BLOCKS.map((b) => b.size), [19, 7, 10, 10, 12, 10, 10, 4, 10]);
  assert.equal(CGCNN_FEATURE_BLOCKS.reduce((s, b) => s + b.size, 0), CGCNN_ATOM_FEATURE_LENGTH);
});

Deno.test({
  name: "built-in table reproduces CGCNN's atom_init.json for Z = 1..100",
  ignore: refPath === null,
  fn: async () => {
    const ref = JSON.parse(await Deno.readTextFile(refPath!)) as Record<string, number[]>;
    const rows = atomFeatureTable();
    const mismatches: string[] = [];
    for (let z = 1; z <= 100; z++) {
      const expected = ref[String(z)];
      assert.equal(expected.length, 92);
      const got = rows.subarray(z * 92, (z + 1) * 92);
      if (!expected.every((x, i) => x === got[i])) {
        const e = blockSlots(expected), g = blockSlots(got);
        const bad = CGCNN_FEATURE_BLOCKS.map((b, k) => [b.name, e[k], g[k]] as const)
          .filter(([, a, b]) => a !== b).map(([n, a, b]) => `${n} ref ${a} got ${b}`);
        mismatches.push(`${z} ${elementSymbol(z)}: ${bad.join(", ")}`);
      }
    }
    assert.deepEqual(mismatches, []);
  },
});

Deno.test({
  name: "loadAtomInit reads CGCNN's own file and agrees with the built-in table",
  ignore: refPath === null,
  fn: async () => {
    const t = await loadAtomInit(refPath!);
    assert.equal(t.length, 92);
    assert.equal(t.maxZ, 100);
    assert.equal(t.source, refPath);
    assert.ok(t.has(1) && t.has(100) && !t.has(0) && !t.has(101));
    assert.deepEqual(atomFeatureTable(t), atomFeatureTable(BUILTIN_ATOM_FEATURES));
  },
});

Deno.test("each block is one-hot, or all zero exactly where the fact is missing", () => {
  for (let z = 1; z <= BUILTIN_MAX_Z; z++) {
    const f = elementFacts(z);
    const s = blockSlots(cgcnnAtomVector(z));
    // group, period, valence and block are categorical and always set
    for (const k of [0, 1, 4, 7]) assert.notEqual(s[k], "-", `${f.symbol} block ${k}`);
    assert.equal(s[2] === "-", f.electronegativity === null, `${f.symbol} electronegativity`);
    assert.equal(s[3] === "-", f.covalentRadius === null, `${f.symbol} radius`);
    assert.equal(s[5] === "-", f.ionizationEnergy === null, `${f.symbol} ionisation`);
    assert.equal(s[6] === "-", f.electronAffinity === null, `${f.symbol} affinity`);
    assert.equal(s[8] === "-", f.atomicVolume === null, `${f.symbol} volume`);
  }
});

Deno.test("element facts: periodic-table positions and CGCNN conventions", () => {
  const pick = (z: number) => {
    const f = elementFacts(z);
    return [f.symbol, f.group, f.period, f.block, f.valenceElectrons];
  };
  assert.deepEqual(pick(1), ["H", 1, 1, "s", 1]);
  assert.deepEqual(pick(2), ["He", 18, 1, "s", 2]);
  assert.deepEqual(pick(8), ["O", 16, 2, "p", 6]);
  assert.deepEqual(pick(26), ["Fe", 8, 4, "d", 8]);
  assert.deepEqual(pick(46), ["Pd", 10, 5, "d", 12]); // CGCNN's source value
  assert.deepEqual(pick(57), ["La", null, 6, "f", 2]);
  assert.deepEqual(pick(71), ["Lu", 3, 6, "d", 3]);
  assert.deepEqual(pick(89), ["Ac", null, 7, "f", 2]);
  assert.deepEqual(pick(103), ["Lr", 3, 7, "d", 3]);
  assert.deepEqual(pick(118), ["Og", 18, 7, "p", 8]);
  assert.equal(elementFacts(14).electronegativity, 1.9);
  assert.equal(elementFacts(6).covalentRadius, 75);
  assert.throws(() => elementFacts(0), /atomic number 0/);
  assert.throws(() => elementFacts(ELEMENT_FACTS_MAX_Z + 1), RangeError);
});

Deno.test("binning puts decimal edge values where CGCNN's file has them", () => {
  const s = (z: number) => blockSlots(cgcnnAtomVector(z));
  assert.equal(s(14)[2], 3); // Si, EN 1.90 (edge 1.9) → lower bin
  assert.equal(s(64)[2], 1); // Gd, EN 1.20 (edge 1.2) → lower bin
  assert.equal(s(25)[2], 3); // Mn, EN 1.55 (edge 1.55) → upper bin
  assert.equal(s(54)[2], 6); // Xe, EN 2.60 (edge 2.6) → upper bin
  assert.equal(s(18)[2], "-"); // Ar: no electronegativity → all zero
  assert.deepEqual(s(26), [8, 3, 3, 4, 7, 3, 4, 2, 1]); // Fe
});

Deno.test("atomFeatureTable: [maxZ + 1, 92], row 0 zero, rows match cgcnnAtomVector", () => {
  const rows = atomFeatureTable();
  assert.equal(rows.length, (BUILTIN_MAX_Z + 1) * 92);
  assert.ok(rows.subarray(0, 92).every((x) => x === 0));
  for (const z of [1, 29, 57, 100]) {
    assert.deepEqual(rows.subarray(z * 92, (z + 1) * 92), cgcnnAtomVector(z));
  }
  assert.equal(atomFeatureTable(), rows, "built once and shared");
  assert.equal(BUILTIN_ATOM_FEATURES.length, 92);
  assert.equal(BUILTIN_ATOM_FEATURES.maxZ, 100);
  assert.ok(BUILTIN_ATOM_FEATURES.has(100) && !BUILTIN_ATOM_FEATURES.has(0));
  assert.ok(!BUILTIN_ATOM_FEATURES.has(101) && !BUILTIN_ATOM_FEATURES.has(1.5));
});

Deno.test("atomFeatures gathers table rows per atom", () => {
  const numbers = new Int32Array([8, 26, 8, 1, 100]);
  const out = atomFeatures(numbers);
  assert.equal(out.length, numbers.length * 92);
  const rows = atomFeatureTable();
  numbers.forEach((z, i) => {
    assert.deepEqual(out.subarray(i * 92, (i + 1) * 92), rows.subarray(z * 92, (z + 1) * 92));
  });
  assert.equal(atomFeatures(new Int32Array(0)).length, 0);
});

Deno.test("atomFeatures: unknown Z throws naming Z and symbol", () => {
  assert.throws(() => atomFeatures(new Int32Array([8, 101])), /Z = 101 \(Md\)/);
  assert.throws(() => atomFeatures(new Int32Array([0])), /Z = 0 \(unknown element\)/);
  assert.throws(() => atomFeatures(new Int32Array([-3])), /Z = -3/);
  assert.throws(() => cgcnnAtomVector(101), /1\.\.100/);
});

const SMALL = JSON.stringify({ "1": [1, 0, 0.5], "8": [0, 1, -2], "26": [0.25, 0.25, 0] });

Deno.test("parseAtomInit: a user's table of any length", () => {
  const t = parseAtomInit(SMALL, "mine.json");
  assert.equal(t.length, 3);
  assert.equal(t.maxZ, 26);
  assert.equal(t.rows.length, 27 * 3);
  assert.ok(t.has(1) && t.has(8) && t.has(26) && !t.has(2) && !t.has(27));
  assert.deepEqual(
    atomFeatures(new Int32Array([26, 1, 8]), t),
    new Float32Array([0.25, 0.25, 0, 1, 0, 0.5, 0, 1, -2]),
  );
  assert.throws(
    () => atomFeatures(new Int32Array([1, 6]), t),
    (e: Error) => /Z = 6 \(C\)/.test(e.message) && e.message.includes("mine.json"),
  );
});

Deno.test({
  name: "loadAtomInit: reads a temp file",
  ignore: !canWrite,
  fn: async () => {
    const path = await Deno.makeTempFile({ suffix: "_atom_init.json" });
    try {
      await Deno.writeTextFile(path, SMALL);
      const t = await loadAtomInit(path);
      assert.equal(t.length, 3);
      assert.deepEqual(Array.from(t.rows.subarray(8 * 3, 9 * 3)), [0, 1, -2]);
    } finally {
      await Deno.remove(path);
    }
  },
});

Deno.test("parseAtomInit / loadAtomInit: malformed input gives clear errors", async () => {
  const bad = (text: string, re: RegExp) =>
    assert.throws(() => parseAtomInit(text, "bad.json"), (e: Error) => {
      assert.match(e.message, /^bad\.json: /);
      assert.match(e.message, re);
      return true;
    });
  bad("{", /not valid JSON/);
  bad("[[1, 0]]", /expected an object/);
  bad("null", /expected an object/);
  bad("{}", /no elements/);
  bad('{"H": [1]}', /key "H" is not a positive atomic number/);
  bad('{"0": [1]}', /key "0" is not a positive atomic number/);
  bad('{"1": 5}', /key "1": expected an array/);
  bad('{"1": [1, "x"]}', /key "1": entry 1 is "x", not a finite number/);
  bad('{"1": [1, null]}', /key "1": entry 1 is null/);
  bad('{"1": []}', /key "1": empty feature array/);
  bad('{"1": [1, 0], "2": [0, 1, 0]}', /key "2" has 3 features but key "1" has 2/);
  bad('{"1": [1], "01": [0]}', /atomic number 1 appears twice/);
  await assert.rejects(
    () => loadAtomInit("/nonexistent/dir/atom_init.json"),
    /cannot read atom feature file \/nonexistent\/dir\/atom_init\.json/,
  );
});
