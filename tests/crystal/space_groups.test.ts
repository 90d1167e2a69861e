/**
 * Space-group operators generated from Hall symbols, checked against an independent list:
 * pymatgen's operator sets for all 527 settings (fixtures/space_groups.json, written by
 * fixtures/make_space_groups.py), plus the symbol lookup (H-M short/full/old spellings, IT
 * numbers, settings) and clear errors for unknown or malformed symbols.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  hallOperations,
  settingFromHall,
  settingFromHM,
  settingFromNumber,
  SpaceGroupError,
} from "../../lib/crystal/space_groups.ts";

type Row = [number, string, string, number, string];
const ROWS: Row[] = JSON.parse(
  await Deno.readTextFile(new URL("./fixtures/space_groups.json", import.meta.url)),
);

/** Same key and digest as make_space_groups.py: rotation, translation in 24ths mod 24. */
function digest(ops: Float64Array[]): string {
  const keys = new Set<string>();
  for (const op of ops) {
    const r: number[] = [], t: number[] = [];
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) r.push(op[4 * i + j]);
      const v = op[4 * i + 3] * 24;
      assert.ok(Math.abs(v - Math.round(v)) < 1e-9);
      t.push(((Math.round(v) % 24) + 24) % 24);
    }
    keys.add(`${r.join(",")};${t.join(",")}`);
  }
  assert.equal(keys.size, ops.length, "operators are distinct");
  return createHash("sha256").update([...keys].sort().join("|")).digest("hex").slice(0, 16);
}

Deno.test("Hall symbols: the operators of all 527 settings match pymatgen's", () => {
  assert.equal(ROWS.length, 527);
  const bad: string[] = [];
  for (const [number, hm, hall, order, want] of ROWS) {
    const ops = hallOperations(hall);
    const got = digest(ops);
    if (ops.length !== order || got !== want) {
      bad.push(`${number} ${hm} (${hall}): ${ops.length}/${order}`);
    }
  }
  assert.deepEqual(bad, []);
  assert.equal(new Set(ROWS.map((r) => r[0])).size, 230);
});

Deno.test("H-M symbols and IT numbers map to the standard setting", () => {
  const byHM = new Map(ROWS.map((r) => [r[1], r]));
  const expect = (symbol: string, hm: string, options = {}) => {
    const s = settingFromHM(symbol, options);
    assert.ok(s, symbol);
    assert.equal(s.hm, hm, symbol);
    assert.equal(digest(s.operations), byHM.get(hm)![4], symbol);
  };
  expect("F m -3 m", "F m -3 m");
  expect("Fm-3m", "F m -3 m");
  expect("F m 3 m", "F m -3 m");
  expect("Fm3m", "F m -3 m");
  expect("F 4/m -3 2/m", "F m -3 m");
  expect("P 21/c", "P 1 21/c 1");
  expect("P2_1/c", "P 1 21/c 1");
  expect("P 1 21/n 1", "P 1 21/n 1");
  expect("C 2/c", "C 1 2/c 1");
  expect("Pnma", "P n m a");
  expect("P 21/n 21/m 21/a", "P n m a");
  expect("P 63/m m c", "P 63/m m c");
  expect("P 63/m 2/m 2/c", "P 63/m m c");
  expect("P6_3/mmc", "P 63/m m c");
  expect("I 41/a m d", "I 41/a m d :2");
  expect("I 41/a m d :1", "I 41/a m d :1");
  expect("F d -3 m", "F d -3 m :2");
  expect("Fd-3m:1", "F d -3 m :1");
  expect("R -3 m", "R -3 m :H");
  expect("R -3 m", "R -3 m :R", { rhombohedral: true });
  expect("R -3 m :R", "R -3 m :R");
  expect("C m c a", "C m c e");
  expect("Cmce", "C m c e");
  expect("A b a 2", "A e a 2");
  expect("C c c e", "C c c a :2");
  expect("P -3 m 1", "P -3 m 1");
  expect("P -3 2/m 1", "P -3 m 1");
  assert.match(settingFromHM("F d -3 m")!.assumed!, /origin choice 2/);
  assert.match(settingFromHM("R 3")!.assumed!, /hexagonal axes/);
  assert.equal(settingFromHM("F m -3 m")!.assumed, undefined);
  assert.equal(settingFromHM("Q 9/z"), undefined);
  assert.equal(settingFromHM("P 4 3 3"), undefined);
  assert.throws(() => settingFromHM("P m -3 m :2"), SpaceGroupError);

  for (
    const [n, hm] of [
      [1, "P 1"],
      [14, "P 1 21/c 1"],
      [48, "P n n n :2"],
      [62, "P n m a"],
      [68, "C c c a :2"],
      [166, "R -3 m :H"],
      [194, "P 63/m m c"],
      [225, "F m -3 m"],
      [227, "F d -3 m :2"],
      [230, "I a -3 d"],
    ] as const
  ) {
    const s = settingFromNumber(n)!;
    assert.equal(s.hm, hm);
    assert.equal(digest(s.operations), byHM.get(hm)![4]);
  }
  assert.equal(settingFromNumber(166, { rhombohedral: true })!.hm, "R -3 m :R");
  assert.equal(settingFromNumber(0), undefined);
  assert.equal(settingFromNumber(231), undefined);
  assert.equal(settingFromHall("-F 4 2 3").number, 225);
  assert.equal(settingFromHall("-F 4 2 3").operations.length, 192);
});

Deno.test("Hall symbols: malformed ones are rejected with the reason", () => {
  const bad: [string, RegExp][] = [
    ["Q 2", /"Q" is not a lattice symbol/],
    ["P", /no rotation symbol/],
    ["P 5", /cannot read the rotation symbol "5"/],
    ["P 2 2 2 2 2", /at most 4/],
    ["P 2 3", /the axis of "3" is not implied/],
    ["P 2 (0 0 x)", /origin shift/],
    ["P 4x 2*", /only a three-fold axis/],
    ["P 23", /screw component 3 is not below the order 2/],
  ];
  for (const [hall, want] of bad) {
    assert.throws(() => hallOperations(hall), (e: Error) => {
      assert.ok(e instanceof SpaceGroupError, hall);
      assert.match(e.message, want, hall);
      assert.ok(e.message.includes(`"${hall}"`), e.message);
      return true;
    });
  }
});
