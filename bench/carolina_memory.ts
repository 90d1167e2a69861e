/**
 * Host memory of a Carolina-sized graph set (the FACGCNN paper's Carolina Materials Database:
 * 214,435 crystals, ~14.8 atoms each, 12 neighbours per atom), built by the real `featurize` path
 * (periodic neighbour lists).
 *
 * Run: `deno run -A --v8-flags=--max-old-space-size=8000 bench/carolina_memory.ts [count]`
 * Flags: `--seed N`, `--radius R` (8), `--max-neighbors M` (12), `--limit-gb G` (6: exit 1
 * above), `--synthetic` (use `syntheticCrystals`, 2–24 atoms, instead of the compact generator).
 *
 * Default crystals come from a compact generator sized like Carolina: 8–22 atoms (mean 15) on
 * a jittered grid in a mildly skewed cell of ~15 Å³ per atom, random elements Z 1..83. They
 * are generated on the fly and dropped after their graph is appended, so what stays is the
 * GraphSet itself: compact typed arrays, no per-edge objects. Reports Deno.memoryUsage (rss,
 * heap, external) and the typed arrays' byte total.
 * @module
 */
import { parseArgs } from "node:util";
import { syntheticCrystals } from "../lib/data/synthetic.ts";
import { featurize } from "../lib/data/featurize.ts";
import { Rng } from "../lib/util/random.ts";
import type { Dataset, DatasetEntry, GraphSet } from "../lib/crystal/types.ts";

/** Carolina-like crystals generated on demand (deterministic per index), nothing kept. */
function compactCrystals(count: number, seed: number): Dataset {
  return {
    length: count,
    skipped: [],
    source: `carolina-like:${count}`,
    get(i: number): DatasetEntry {
      const rng = new Rng(seed, i + 1);
      const n = 8 + rng.int(15);
      const edge = Math.cbrt(15 * n);
      const [a, b, c] = [0, 1, 2].map(() => edge * rng.uniform(0.9, 1.1));
      const deg = Math.PI / 180;
      const [al, be, ga] = [0, 1, 2].map(() => rng.uniform(80, 100) * deg);
      // pymatgen's from_parameters convention (c along z).
      const gs = Math.acos(
        (Math.cos(al) * Math.cos(be) - Math.cos(ga)) / (Math.sin(al) * Math.sin(be)),
      );
      const lattice = new Float64Array([
        a * Math.sin(be),
        0,
        a * Math.cos(be),
        -b * Math.sin(al) * Math.cos(gs),
        b * Math.sin(al) * Math.sin(gs),
        b * Math.cos(al),
        0,
        0,
        c,
      ]);
      const m = Math.ceil(Math.cbrt(n));
      const cells = Array.from({ length: m * m * m }, (_, k) => k);
      for (let k = cells.length - 1; k > 0; k--) {
        const j = rng.int(k + 1);
        [cells[k], cells[j]] = [cells[j], cells[k]];
      }
      const frac = new Float64Array(3 * n);
      const numbers = new Int32Array(n);
      for (let t = 0; t < n; t++) {
        const g = cells[t];
        const ijk = [g % m, Math.floor(g / m) % m, Math.floor(g / (m * m))];
        for (let d = 0; d < 3; d++) frac[3 * t + d] = (ijk[d] + 0.5 + rng.uniform(-0.15, 0.15)) / m;
        numbers[t] = 1 + rng.int(83);
      }
      const id = `c${i}`;
      const structure = { id, lattice, frac, numbers };
      return { id, structure, target: rng.normal() };
    },
  };
}

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    seed: { type: "string", default: "2018" },
    radius: { type: "string", default: "8" },
    "max-neighbors": { type: "string", default: "12" },
    "limit-gb": { type: "string", default: "6" },
    synthetic: { type: "boolean", default: false },
  },
});
const count = positionals.length > 0 ? Number(positionals[0]) : 214_435;
if (!(Number.isInteger(count) && count > 0)) {
  console.error(`count must be a positive integer, got ${positionals[0]}`);
  Deno.exit(2);
}
const GB = 1024 ** 3;
const fmt = (b: number) => `${(b / GB).toFixed(3)} GiB`;

/** Bytes held by the graph set's typed arrays and (estimated) id strings. */
function graphBytes(g: GraphSet): { arrays: number; ids: number } {
  const arrays = [
    g.targets,
    g.lattices,
    g.atomOffsets,
    g.numbers,
    g.positions,
    g.edgeOffsets,
    g.neighbors,
    g.distances,
    g.vectors,
  ].reduce((s, a) => s + a.byteLength, 0);
  // V8 one-byte strings: ~16 bytes of header + length, plus the array slot.
  const ids = g.ids.reduce((s, id) => s + 24 + id.length, 0);
  return { arrays, ids };
}

const before = Deno.memoryUsage();
const t0 = performance.now();
let lastPrint = 0;
const dataset = values.synthetic
  ? syntheticCrystals({ count, seed: Number(values.seed), cache: false })
  : compactCrystals(count, Number(values.seed));
console.error(
  `building ${count} ${dataset.source} crystal graphs (radius ${values.radius}, ` +
    `max ${values["max-neighbors"]} neighbours)…`,
);
const { graphs, skipped } = await featurize(dataset, {
  radius: Number(values.radius),
  maxNeighbors: Number(values["max-neighbors"]),
  cacheDir: null,
  onProgress: (done, total) => {
    const now = performance.now();
    if (now - lastPrint < 5000 && done < total) return;
    lastPrint = now;
    const rate = done / ((now - t0) / 1000);
    console.error(
      `  ${done}/${total} (${(100 * done / total).toFixed(1)}%), ${rate.toFixed(0)} crystals/s, ` +
        `rss ${fmt(Deno.memoryUsage().rss)}`,
    );
  },
});
const seconds = (performance.now() - t0) / 1000;
// Let the collector drop what featurization no longer holds before measuring.
(globalThis as { gc?: () => void }).gc?.();
const after = Deno.memoryUsage();
const { arrays, ids } = graphBytes(graphs);
const nAtoms = graphs.numbers.length, nEdges = graphs.neighbors.length;
const limit = Number(values["limit-gb"]) * GB;

const rows: [string, string][] = [
  ["crystals", `${graphs.count} (skipped ${skipped.length})`],
  ["atoms", `${nAtoms} (${(nAtoms / graphs.count).toFixed(2)} per crystal)`],
  ["edges", `${nEdges} (${(nEdges / nAtoms).toFixed(2)} per atom)`],
  ["build time", `${seconds.toFixed(1)} s (${(graphs.count / seconds).toFixed(0)} crystals/s)`],
  ["typed arrays", fmt(arrays)],
  ["id strings (est.)", fmt(ids)],
  ["rss", `${fmt(after.rss)} (at start ${fmt(before.rss)})`],
  ["heap used / total", `${fmt(after.heapUsed)} / ${fmt(after.heapTotal)}`],
  ["external (ArrayBuffers)", fmt(after.external)],
  ["limit", fmt(limit)],
];
for (const [k, v] of rows) console.log(`${k.padEnd(24)} ${v}`);
if (after.rss > limit) {
  console.log(`FAIL: rss ${fmt(after.rss)} exceeds ${fmt(limit)}`);
  Deno.exit(1);
}
console.log(`OK: rss ${fmt(after.rss)} < ${fmt(limit)}`);
