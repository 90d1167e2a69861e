/**
 * featurize + the binary graph cache: the GraphSet matches per-structure neighbour lists,
 * a second load hits the cache with identical arrays, options and content change the key,
 * corrupted or truncated cache files are rebuilt with a warning; subsetGraphs/splitIndices.
 */
import assert from "node:assert/strict";
import { datasetDigest, featurize, loadGraphs } from "../../lib/data/featurize.ts";
import { splitIndices, subsetGraphs } from "../../lib/graph/subset.ts";
import {
  CACHE_EXTENSION,
  decodeGraphCache,
  GraphCacheError,
  readGraphCache,
  writeGraphCache,
} from "../../lib/data/graph_cache.ts";
import { syntheticCrystals } from "../../lib/data/synthetic.ts";
import { neighborList } from "../../lib/crystal/neighbors.ts";
import { cartesian } from "../../lib/crystal/lattice.ts";
import { loadDataset } from "../../lib/data/dataset.ts";
import type { GraphSet } from "../../lib/crystal/types.ts";
import { ELEMENT_SYMBOLS } from "../../lib/crystal/symbols.ts";

const SAMPLE = "/work/shared/reference/cgcnn-sample";
const hasSample = await Deno.stat(`${SAMPLE}/id_prop.csv`).then(() => true, () => false);

async function tempDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "cache_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const ARRAYS = [
  "targets",
  "lattices",
  "atomOffsets",
  "numbers",
  "positions",
  "edgeOffsets",
  "neighbors",
  "distances",
  "vectors",
] as const;

function assertSameGraphs(a: GraphSet, b: GraphSet) {
  assert.equal(a.count, b.count);
  assert.deepEqual(a.ids, b.ids);
  assert.equal(a.radius, b.radius);
  assert.equal(a.maxNeighbors, b.maxNeighbors);
  for (const k of ARRAYS) {
    assert.equal(a[k].constructor, b[k].constructor, k);
    assert.deepEqual(a[k], b[k], k);
  }
}

async function cacheFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

/** Runs `fn` with console.error captured. */
async function captureStderr<T>(fn: () => Promise<T>): Promise<{ value: T; lines: string[] }> {
  const lines: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => lines.push(args.join(" "));
  try {
    return { value: await fn(), lines };
  } finally {
    console.error = original;
  }
}

Deno.test("featurize builds one GraphSet equal to the per-structure neighbour lists", async () => {
  const ds = syntheticCrystals({ count: 25, seed: 3 });
  const { graphs, skipped, fromCache } = await featurize(ds, { cacheDir: null });
  assert.equal(fromCache, false);
  assert.deepEqual(skipped, []);
  assert.equal(graphs.count, 25);
  assert.equal(graphs.atomOffsets.length, 26);
  assert.equal(graphs.edgeOffsets.length, graphs.numbers.length + 1);
  assert.equal(graphs.edgeOffsets.at(-1), graphs.neighbors.length);
  assert.ok(graphs.distances instanceof Float32Array && graphs.vectors instanceof Float32Array);
  for (let c = 0; c < ds.length; c++) {
    const { id, structure: s, target } = ds.get(c);
    const nl = neighborList(s, { radius: 8, maxNeighbors: 12 });
    const a0 = graphs.atomOffsets[c], a1 = graphs.atomOffsets[c + 1];
    assert.equal(graphs.ids[c], id);
    assert.equal(graphs.targets[c], target);
    assert.equal(a1 - a0, s.numbers.length);
    assert.deepEqual(graphs.numbers.subarray(a0, a1), s.numbers);
    assert.deepEqual(graphs.positions.subarray(3 * a0, 3 * a1), cartesian(s));
    assert.deepEqual(graphs.lattices.subarray(9 * c, 9 * c + 9), Float64Array.from(s.lattice));
    const e0 = graphs.edgeOffsets[a0];
    for (let a = 0; a <= s.numbers.length; a++) {
      assert.equal(graphs.edgeOffsets[a0 + a] - e0, nl.offsets[a]);
    }
    const nE = nl.neighbors.length;
    assert.deepEqual(graphs.neighbors.subarray(e0, e0 + nE), nl.neighbors);
    assert.deepEqual(graphs.distances.subarray(e0, e0 + nE), Float32Array.from(nl.distances));
    assert.deepEqual(graphs.vectors.subarray(3 * e0, 3 * (e0 + nE)), Float32Array.from(nl.vectors));
  }
});

Deno.test("second featurize hits the cache with identical arrays; options change the key", async () => {
  await tempDir(async (dir) => {
    const ds = syntheticCrystals({ count: 30, seed: 11 });
    const first = await featurize(ds, { cacheDir: dir });
    assert.equal(first.fromCache, false);
    const files = await cacheFiles(dir);
    assert.equal(files.length, 1);
    assert.ok(files[0].endsWith(CACHE_EXTENSION) && /^[0-9a-f]{64}\./.test(files[0]));
    const second = await featurize(syntheticCrystals({ count: 30, seed: 11 }), { cacheDir: dir });
    assert.equal(second.fromCache, true);
    assertSameGraphs(second.graphs, first.graphs);
    // Other radius, other content: misses, new files.
    const r6 = await featurize(ds, { cacheDir: dir, radius: 6 });
    assert.equal(r6.fromCache, false);
    assert.equal(r6.graphs.radius, 6);
    const other = await featurize(syntheticCrystals({ count: 30, seed: 12 }), { cacheDir: dir });
    assert.equal(other.fromCache, false);
    assert.equal((await cacheFiles(dir)).length, 3, "no temp files left behind");
    assert.notEqual(
      await datasetDigest(syntheticCrystals({ count: 30, seed: 11 })),
      await datasetDigest(syntheticCrystals({ count: 30, seed: 12 })),
    );
  });
});

Deno.test("a truncated or corrupted cache file is rebuilt with a warning", async () => {
  await tempDir(async (dir) => {
    const ds = syntheticCrystals({ count: 12, seed: 5 });
    const first = await featurize(ds, { cacheDir: dir });
    const path = `${dir}/${(await cacheFiles(dir))[0]}`;
    const bytes = await Deno.readFile(path);
    const corruptions: [string, Uint8Array][] = [
      ["truncated", bytes.slice(0, Math.floor(bytes.length * 0.6))],
      ["empty", new Uint8Array(0)],
      [
        "bad magic",
        (() => {
          const b = bytes.slice();
          b[0] = 0x58;
          return b;
        })(),
      ],
      ["extra bytes", new Uint8Array([...bytes, 1, 2, 3])],
    ];
    for (const [what, data] of corruptions) {
      await Deno.writeFile(path, data);
      const { value, lines } = await captureStderr(() => featurize(ds, { cacheDir: dir }));
      assert.equal(value.fromCache, false, what);
      assert.equal(lines.length, 1, what);
      assert.match(
        lines[0],
        /^warning: .*\.fagraph: unusable graph cache: .*; rebuilding it$/,
        what,
      );
      assertSameGraphs(value.graphs, first.graphs);
      const again = await featurize(ds, { cacheDir: dir });
      assert.equal(again.fromCache, true, `${what}: rewritten cache is used`);
    }
  });
});

Deno.test("a bit flipped in a cached coordinate fails the checksum, names the file, is rebuilt", async () => {
  await tempDir(async (dir) => {
    const ds = syntheticCrystals({ count: 12, seed: 6 });
    const first = await featurize(ds, { cacheDir: dir });
    const path = `${dir}/${(await cacheFiles(dir))[0]}`;
    const bytes = await Deno.readFile(path);
    // Positions follow targets (8·12 bytes) and lattices (72·12) after the 96-byte header;
    // one low mantissa bit of a coordinate passes every structural check.
    const b = bytes.slice();
    b[96 + 8 * 12 + 72 * 12 + 8] ^= 0x01;
    await Deno.writeFile(path, b);
    await assert.rejects(
      readGraphCache(path),
      (e: Error) =>
        e instanceof GraphCacheError &&
        e.message.startsWith(`${path}: unusable graph cache: checksum mismatch`) &&
        /damaged after it was written; delete it/.test(e.message),
    );
    const { value, lines } = await captureStderr(() => featurize(ds, { cacheDir: dir }));
    assert.equal(value.fromCache, false);
    assert.match(lines[0], /checksum mismatch.*; rebuilding it$/);
    assertSameGraphs(value.graphs, first.graphs);
    assert.deepEqual(await Deno.readFile(path), bytes, "rebuilt byte for byte");
  });
});

Deno.test("cache decoding checks offsets and neighbour indices, not only the length", async () => {
  await tempDir(async (dir) => {
    const { graphs } = await featurize(syntheticCrystals({ count: 6, seed: 1 }), {
      cacheDir: null,
    });
    const path = `${dir}/x${CACHE_EXTENSION}`;
    const bad = { ...graphs, neighbors: graphs.neighbors.slice() };
    bad.neighbors[3] = 1000;
    await writeGraphCache(path, bad);
    await assert.rejects(
      readGraphCache(path),
      (e: Error) => e instanceof GraphCacheError && /neighbour index 1000/.test(e.message),
    );
    const badOff = { ...graphs, edgeOffsets: graphs.edgeOffsets.slice() };
    badOff.edgeOffsets[2] = badOff.edgeOffsets[1] - 1;
    await writeGraphCache(path, badOff);
    await assert.rejects(readGraphCache(path), /edgeOffsets decrease/);
    await writeGraphCache(path, graphs, [{ id: "x", reason: "because" }]);
    const ok = await readGraphCache(path);
    assert.ok(ok !== null);
    assertSameGraphs(ok.graphs, graphs);
    assert.deepEqual(ok.skipped, [{ id: "x", reason: "because" }]);
    assert.equal(await readGraphCache(`${dir}/none${CACHE_EXTENSION}`), null);
    assert.throws(
      () => decodeGraphCache(new Uint8Array(10), "p"),
      /p: unusable graph cache: truncated/,
    );
  });
});

Deno.test("loadGraphs: a file source's cache hit skips parsing; editing the file misses", async () => {
  await tempDir(async (dir) => {
    // A CSV-with-CIF made from synthetic crystals (P1 CIFs).
    const ds = syntheticCrystals({ count: 15, seed: 2 });
    const rows = ["material_id,formation_energy_per_atom,cif"];
    for (let i = 0; i < ds.length; i++) {
      const { id, structure: s, target } = ds.get(i);
      rows.push(`${id},${target},"${p1Cif(s)}"`);
    }
    const csv = `${dir}/set.csv`;
    await Deno.writeTextFile(csv, rows.join("\n") + "\n");
    const cacheDir = `${dir}/cache`;
    const a = await loadGraphs(csv, { cacheDir, quiet: true });
    assert.equal(a.fromCache, false);
    assert.equal(a.graphs.count, 15);
    assert.ok(a.dataset !== undefined);
    const b = await loadGraphs(csv, { cacheDir, quiet: true });
    assert.equal(b.fromCache, true);
    assert.equal(b.dataset, undefined, "nothing parsed on a hit");
    assertSameGraphs(b.graphs, a.graphs);
    const c = await loadGraphs(csv, {
      cacheDir,
      quiet: true,
      maxNeighbors: 6,
      neighborTies: "truncate",
    });
    assert.equal(c.fromCache, false);
    assert.ok(c.graphs.edgeOffsets.every((e, i, arr) => i === 0 || e - arr[i - 1] <= 6));
    await Deno.writeTextFile(csv, rows.slice(0, 10).join("\n") + "\n");
    const d = await loadGraphs(csv, { cacheDir, quiet: true });
    assert.equal(d.fromCache, false);
    assert.equal(d.graphs.count, 9);
  });
});

Deno.test({
  name: "loadGraphs on the CGCNN sample: hit returns the folder's atom_init.json too",
  ignore: !hasSample,
  fn: async () => {
    await tempDir(async (cacheDir) => {
      const a = await loadGraphs(SAMPLE, { cacheDir, quiet: true });
      const b = await loadGraphs(SAMPLE, { cacheDir, quiet: true });
      assert.equal(a.fromCache, false);
      assert.equal(b.fromCache, true);
      assertSameGraphs(b.graphs, a.graphs);
      assert.equal(b.graphs.count + b.skipped.length, 10);
      assert.ok(b.atomFeatures !== undefined && b.atomFeatures.length === 92);
      const direct = await featurize(await loadDataset(SAMPLE, { quiet: true }), {
        cacheDir: null,
      });
      assertSameGraphs(direct.graphs, a.graphs);
    });
  },
});

Deno.test("subsetGraphs and splitIndices", async () => {
  const { graphs } = await featurize(syntheticCrystals({ count: 40, seed: 9 }), { cacheDir: null });
  const [train, val, test] = splitIndices(40, [0.8, 0.1, 0.1], 1);
  assert.deepEqual([train.length, val.length, test.length], [32, 4, 4]);
  const all = [...train, ...val, ...test].sort((x, y) => x - y);
  assert.deepEqual(all, Array.from({ length: 40 }, (_, i) => i));
  assert.deepEqual(splitIndices(40, [0.8, 0.1, 0.1], 1), [train, val, test]);
  assert.notDeepEqual(splitIndices(40, [0.8, 0.1, 0.1], 2)[0], train);
  assert.throws(() => splitIndices(10, [0.5, 0.2]), /sum to 1/);

  const sub = subsetGraphs(graphs, [val[2], val[0]]);
  assert.equal(sub.count, 2);
  for (const [k, c] of [val[2], val[0]].entries()) {
    assert.equal(sub.ids[k], graphs.ids[c]);
    assert.equal(sub.targets[k], graphs.targets[c]);
    const a0 = graphs.atomOffsets[c], a1 = graphs.atomOffsets[c + 1];
    const b0 = sub.atomOffsets[k], b1 = sub.atomOffsets[k + 1];
    assert.deepEqual(sub.numbers.subarray(b0, b1), graphs.numbers.subarray(a0, a1));
    const e0 = graphs.edgeOffsets[a0], e1 = graphs.edgeOffsets[a1];
    const f0 = sub.edgeOffsets[b0], f1 = sub.edgeOffsets[b1];
    assert.deepEqual(sub.neighbors.subarray(f0, f1), graphs.neighbors.subarray(e0, e1));
    assert.deepEqual(sub.distances.subarray(f0, f1), graphs.distances.subarray(e0, e1));
    for (let a = 0; a <= a1 - a0; a++) {
      assert.equal(sub.edgeOffsets[b0 + a] - f0, graphs.edgeOffsets[a0 + a] - e0);
    }
  }
  assert.equal(sub.edgeOffsets.at(-1), sub.neighbors.length);
  assert.throws(() => subsetGraphs(graphs, [40]), /out of range/);
});

/** A P1 CIF of a structure, from its lattice parameters (pymatgen convention). */
function p1Cif(s: { lattice: Float64Array; frac: Float64Array; numbers: Int32Array }): string {
  const L = s.lattice;
  const len = (i: number) => Math.hypot(L[3 * i], L[3 * i + 1], L[3 * i + 2]);
  const ang = (i: number, j: number) =>
    Math.acos(
      (L[3 * i] * L[3 * j] + L[3 * i + 1] * L[3 * j + 1] + L[3 * i + 2] * L[3 * j + 2]) /
        (len(i) * len(j)),
    ) * 180 / Math.PI;
  const lines = [
    "data_x",
    `_cell_length_a ${len(0)}`,
    `_cell_length_b ${len(1)}`,
    `_cell_length_c ${len(2)}`,
    `_cell_angle_alpha ${ang(1, 2)}`,
    `_cell_angle_beta ${ang(0, 2)}`,
    `_cell_angle_gamma ${ang(0, 1)}`,
    "loop_",
    "_atom_site_type_symbol",
    "_atom_site_fract_x",
    "_atom_site_fract_y",
    "_atom_site_fract_z",
  ];
  for (let a = 0; a < s.numbers.length; a++) {
    const sym = ELEMENT_SYMBOLS[s.numbers[a] - 1];
    if (sym === undefined) throw new Error(`p1Cif: no symbol for Z=${s.numbers[a]} in this test`);
    lines.push(`${sym} ${s.frac[3 * a]} ${s.frac[3 * a + 1]} ${s.frac[3 * a + 2]}`);
  }
  return lines.join("\n") + "\n";
}
