/**
 * Periodic neighbour lists: for every atom, the nearest periodic images of all atoms within a
 * radius, as CSR arrays (CGCNN: radius 8 Å, 12 nearest).
 *
 * Difference from CGCNN's `data.py`: CGCNN keeps exactly `max_num_nbr` entries per atom and,
 * when fewer lie within the radius, pads with neighbour index 0 at distance radius + 1 (with a
 * warning). Here an atom simply gets fewer edges, so no fake edge reaches the model; an atom
 * with no neighbour at all is an error (or allowed by option).
 * @module
 */

import { cartesian, latticeHeights } from "./lattice.ts";
import { elementSymbol } from "./symbols.ts";
import type { NeighborList, Structure } from "./types.ts";

/**
 * Options of {@linkcode neighborList}.
 */
export interface NeighborOptions {
  /** Cut-off radius in Å (default 8). */
  radius?: number;
  /** Keep at most this many nearest neighbours per atom (default 12; `Infinity` keeps all). */
  maxNeighbors?: number;
  /** Allow atoms without any neighbour within the radius (default false: an error). */
  allowIsolated?: boolean;
  /**
   * What to do when the `maxNeighbors`-th nearest distance is shared by more images than fit
   * (see {@linkcode NeighborTies}); default `"include"`.
   */
  ties?: NeighborTies;
}

/**
 * Handling of a tied last shell (several images at the `maxNeighbors`-th distance, equal on
 * the tie grid, more than fit into `maxNeighbors`):
 * - `"include"` (default): keep the whole tied shell, so the atom gets more than
 *   `maxNeighbors` edges. The graph is then a function of the crystal, not of the atom order:
 *   truncating a shell keeps an arbitrary subset of equivalent neighbours (chosen by atom
 *   index), so permuting the atoms of e.g. a cubic perovskite changes the graph.
 * - `"drop"`: leave the whole tied shell out (fewer than `maxNeighbors` edges; if that would
 *   leave no edge at all the shell is kept).
 * - `"truncate"`: CGCNN's rule, exactly `maxNeighbors` (a stable sort by distance keeps the
 *   first ones); ties ordered by neighbour index, then image. Depends on the atom order.
 */
export type NeighborTies = "include" | "drop" | "truncate";

/** The accepted {@linkcode NeighborTies} values (for option parsing). */
export const NEIGHBOR_TIES: readonly NeighborTies[] = ["include", "drop", "truncate"];

// Squared distances are compared after rounding to a grid of 2⁻²⁶ Å² (≈ 1.5e-8), so that images
// at the same distance up to floating-point noise count as ties and are ordered by (j, image).
// The grid is binary on purpose: CIF cells are decimal numbers, and with a decimal grid (1e-8)
// their squared distances often fall exactly on a rounding boundary, where one ulp of noise
// (from a rotation or translation) splits a shell of equal neighbours and changes which 12
// are kept. Decimal data almost never hits a binary half-step exactly.
const TIE_RESOLUTION = 2 ** 26;
// Image (ka, kb, kc) packed into one number that sorts lexicographically.
const K_OFF = 1024, K_SPAN = 2048;

// Reusable scratch: candidate slots, a max-heap of slot indices over the current best
// candidates of one centre atom (root = the worst kept), and the growing output of the whole
// structure. Heap moves swap one index, not the candidate's seven numbers; nothing is
// allocated per candidate.
let heapCap = 0;
let heap = new Int32Array(0);
let hQ = new Float64Array(0); // quantized d²
let hT = new Float64Array(0); // tie key: j · K_SPAN³ + packed image
let hD2 = new Float64Array(0);
let hJ = new Int32Array(0);
let hV = new Float64Array(0);
let outCap = 0;
let oJ = new Int32Array(0);
let oD = new Float64Array(0);
let oV = new Float64Array(0);

function growHeap(n: number): void {
  const cap = Math.max(n, heapCap * 2, 16);
  const q = new Float64Array(cap), t = new Float64Array(cap), d2 = new Float64Array(cap);
  const j = new Int32Array(cap), v = new Float64Array(3 * cap), hp = new Int32Array(cap);
  q.set(hQ), t.set(hT), d2.set(hD2), j.set(hJ), v.set(hV), hp.set(heap);
  hQ = q, hT = t, hD2 = d2, hJ = j, hV = v, heap = hp, heapCap = cap;
}

function growOut(n: number): void {
  const cap = Math.max(n, outCap * 2, 64);
  const j = new Int32Array(cap), d = new Float64Array(cap), v = new Float64Array(3 * cap);
  j.set(oJ), d.set(oD), v.set(oV);
  oJ = j, oD = d, oV = v, outCap = cap;
}

/** True when slot a ranks after slot b (farther, or equally far with a larger tie key). */
function after(a: number, b: number): boolean {
  return hQ[a] > hQ[b] || (hQ[a] === hQ[b] && hT[a] > hT[b]);
}

function siftUp(i: number): void {
  const x = heap[i];
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (!after(x, heap[p])) break;
    heap[i] = heap[p];
    i = p;
  }
  heap[i] = x;
}

function siftDown(i: number, size: number): void {
  const x = heap[i];
  for (;;) {
    const l = 2 * i + 1;
    if (l >= size) break;
    const r = l + 1;
    const m = r < size && after(heap[r], heap[l]) ? r : l;
    if (!after(heap[m], x)) break;
    heap[i] = heap[m];
    i = m;
  }
  heap[i] = x;
}

function put(
  slot: number,
  q: number,
  t: number,
  d2: number,
  j: number,
  x: number,
  y: number,
  z: number,
) {
  hQ[slot] = q, hT[slot] = t, hD2[slot] = d2, hJ[slot] = j;
  hV[3 * slot] = x, hV[3 * slot + 1] = y, hV[3 * slot + 2] = z;
}

/**
 * Neighbour list of a structure over all periodic images within `radius` (default 8 Å),
 * keeping the nearest `maxNeighbors` (default 12) per atom.
 *
 * Image ranges follow from the lattice heights h: for the pair (i, j) with fractional offset
 * δ = f_j − f_i, image k along an axis can only be within the radius when
 * |δ + k| · h ≤ radius, so tiny or skewed cells get more than ±1 images and atoms need not be
 * wrapped into [0, 1); along the last axis the exact sphere/line intersection is used.
 *
 * Order per atom: by distance (squared distances equal on a 2⁻²⁶ Å² grid count as ties), then by
 * neighbour index j, then by image (ka, kb, kc) lexicographically, so the result is
 * deterministic even in high-symmetry cells where many images are equidistant. A last shell
 * tied beyond `maxNeighbors` is kept whole by default (`ties`, see {@linkcode NeighborTies});
 * the first `maxNeighbors` edges are the same in every mode when they are kept.
 *
 * Returns CSR arrays: `offsets [nAtoms + 1]`, `neighbors [nEdges]`, `distances [nEdges]`
 * (Float64Array, Å) and `vectors [nEdges, 3]` = x_j(image) − x_i (Float64Array, Å).
 * Throws (naming `s.id`) for an invalid lattice or an atom without neighbours, unless
 * `allowIsolated`.
 *
 * @example
 * ```ts
 * import { neighborList, syntheticCrystals } from "@facgcnn/toolkit";
 * const s = syntheticCrystals({ count: 1, seed: 0 }).get(0).structure;
 * const nl = neighborList(s, { radius: 8, maxNeighbors: 12 });
 * console.log(nl.offsets.length - 1, nl.distances[0]); // atoms, nearest distance of atom 0
 * ```
 */
export function neighborList(s: Structure, options: NeighborOptions = {}): NeighborList {
  const radius = options.radius ?? 8;
  const maxNb = options.maxNeighbors ?? 12;
  const ties = options.ties ?? "include";
  if (!NEIGHBOR_TIES.includes(ties)) {
    throw new RangeError(`${s.id}: neighbour ties must be ${NEIGHBOR_TIES.join("|")}, got ${ties}`);
  }
  if (!(radius > 0) || !Number.isFinite(radius)) {
    throw new RangeError(`${s.id}: neighbour radius must be a positive number, got ${radius}`);
  }
  if (!(maxNb >= 1) || (Number.isFinite(maxNb) && !Number.isInteger(maxNb))) {
    throw new RangeError(`${s.id}: maxNeighbors must be an integer >= 1, got ${maxNb}`);
  }
  const n = s.numbers.length;
  if (s.frac.length !== 3 * n) {
    throw new RangeError(`${s.id}: ${s.frac.length} fractional coordinates for ${n} atoms`);
  }
  const L = s.lattice;
  const h = latticeHeights(L);
  for (let a = 0; a < 3; a++) {
    if (!(h[a] > 0) || !Number.isFinite(h[a])) {
      throw new RangeError(`${s.id}: lattice is degenerate (height ${h[a]} Å along axis ${a})`);
    }
  }
  const span = Array.from(h, (x) => radius / x); // image range per axis, each side
  const perPair = (2 * span[0] + 2) * (2 * span[1] + 2) * (2 * span[2] + 2);
  if (perPair > 1e8 || Math.max(...span) > K_OFF - 2) {
    throw new RangeError(
      `${s.id}: cell too small or too skewed for radius ${radius} Å (heights ${
        Array.from(h, (x) => x.toFixed(3)).join(", ")
      } Å)`,
    );
  }
  const X = cartesian(s);
  const f = s.frac;
  const ax = L[0], ay = L[1], az = L[2], bx = L[3], by = L[4], bz = L[5];
  const cx = L[6], cy = L[7], cz = L[8];
  const cc = cx * cx + cy * cy + cz * cz;
  const r2 = radius * radius;
  const cap = Number.isFinite(maxNb) ? maxNb : Infinity;
  if (Number.isFinite(cap) && heapCap < cap) growHeap(cap);
  const offsets = new Int32Array(n + 1);
  let nEdges = 0;

  const slack = 2 / TIE_RESOLUTION; // candidates this far beyond the worst kept may still tie
  for (let i = 0; i < n; i++) {
    let size = 0;
    // Smallest quantized d² of a candidate that was visited but is not kept: equal to the
    // worst kept one's exactly when the last shell is tied beyond the cap. Every tied image is
    // visited, since the search radius keeps `slack` above the worst kept d².
    let minOut = Infinity;
    // Search radius²: the cut-off, shrunk to the current worst kept once `cap` are kept, so
    // that later pairs only visit images that can still enter the list.
    let lim2 = r2;
    const xi = X[3 * i], yi = X[3 * i + 1], zi = X[3 * i + 2];
    const fi0 = f[3 * i], fi1 = f[3 * i + 1];
    // Start with j = i (its own images bound the search early), then the others in order.
    for (let jj = 0; jj < n; jj++) {
      const j = jj === 0 ? i : jj <= i ? jj - 1 : jj;
      const dx = X[3 * j] - xi, dy = X[3 * j + 1] - yi, dz = X[3 * j + 2] - zi;
      const da = f[3 * j] - fi0, db = f[3 * j + 1] - fi1;
      const jKey = j * K_SPAN * K_SPAN * K_SPAN;
      const lim = Math.sqrt(lim2);
      const ra = lim / h[0] + 1e-9, rb = lim / h[1] + 1e-9;
      const ka1 = Math.floor(ra - da);
      const kb0 = Math.ceil(-rb - db), kb1 = Math.floor(rb - db);
      for (let ka = Math.ceil(-ra - da); ka <= ka1; ka++) {
        const ux = dx + ka * ax, uy = dy + ka * ay, uz = dz + ka * az;
        for (let kb = kb0; kb <= kb1; kb++) {
          const wx = ux + kb * bx, wy = uy + kb * by, wz = uz + kb * bz;
          // |w + kc c|² ≤ lim² is a quadratic in kc: visit only the integer roots' interval.
          const wc = wx * cx + wy * cy + wz * cz;
          const disc = wc * wc - cc * (wx * wx + wy * wy + wz * wz - lim2);
          if (disc < 0) continue;
          const sq = Math.sqrt(disc);
          const kc1 = Math.floor((-wc + sq) / cc + 1e-9);
          for (let kc = Math.ceil((-wc - sq) / cc - 1e-9); kc <= kc1; kc++) {
            const vx = wx + kc * cx, vy = wy + kc * cy, vz = wz + kc * cz;
            const d2 = vx * vx + vy * vy + vz * vz;
            if (d2 > lim2) continue;
            if (i === j && ka === 0 && kb === 0 && kc === 0) continue;
            const q = Math.round(d2 * TIE_RESOLUTION);
            const t = jKey + ((ka + K_OFF) * K_SPAN + (kb + K_OFF)) * K_SPAN + (kc + K_OFF);
            if (size < cap) {
              if (size >= heapCap) growHeap(size + 1);
              put(size, q, t, d2, j, vx, vy, vz);
              heap[size] = size;
              siftUp(size++);
              if (size === cap) lim2 = Math.min(r2, hD2[heap[0]] + slack);
            } else {
              const root = heap[0];
              if (q < hQ[root] || (q === hQ[root] && t < hT[root])) {
                if (hQ[root] < minOut) minOut = hQ[root];
                put(root, q, t, d2, j, vx, vy, vz);
                siftDown(0, size);
                lim2 = Math.min(r2, hD2[heap[0]] + slack);
              } else if (q < minOut) minOut = q;
            }
          }
        }
      }
    }
    if (size === 0 && !options.allowIsolated) {
      let sym = String(s.numbers[i]);
      try {
        sym = elementSymbol(s.numbers[i]);
      } catch { /* keep the number */ }
      throw new RangeError(`${s.id}: atom ${i} (${sym}) has no neighbour within ${radius} Å`);
    }
    // Heap sort: repeatedly move the worst to the end, leaving the kept entries nearest first.
    for (let end = size - 1; end > 0; end--) {
      const top = heap[0];
      heap[0] = heap[end], heap[end] = top;
      siftDown(0, end);
    }
    const tied = ties !== "truncate" && size === cap && minOut === hQ[heap[size - 1]];
    if (tied) {
      nEdges = tiedShell(i, X, f, L, h, r2, hD2[heap[size - 1]], hQ[heap[size - 1]], ties, nEdges);
    } else {
      if (nEdges + size > outCap) growOut(nEdges + size);
      for (let e = 0; e < size; e++) {
        const o = nEdges + e, k = heap[e];
        oJ[o] = hJ[k];
        oD[o] = Math.sqrt(hD2[k]);
        oV[3 * o] = hV[3 * k], oV[3 * o + 1] = hV[3 * k + 1], oV[3 * o + 2] = hV[3 * k + 2];
      }
      nEdges += size;
    }
    offsets[i + 1] = nEdges;
  }
  return {
    offsets,
    neighbors: oJ.slice(0, nEdges),
    distances: oD.slice(0, nEdges),
    vectors: oV.slice(0, 3 * nEdges),
  };
}

/**
 * Second pass for an atom whose last kept shell is tied beyond the cap: every image with
 * quantized d² ≤ `qLast` (the tied shell's), sorted as in the first pass, appended to the
 * output; with `"drop"` the shell at `qLast` is left out unless nothing else remains.
 * Returns the new edge count. Rare (high-symmetry cells), so it favours plainness.
 */
function tiedShell(
  i: number,
  X: Float64Array,
  f: Float64Array,
  L: Float64Array,
  h: Float64Array,
  r2: number,
  d2Last: number,
  qLast: number,
  ties: NeighborTies,
  nEdges: number,
): number {
  const n = X.length / 3;
  const lim2 = d2Last + 2 / TIE_RESOLUTION;
  const lim = Math.sqrt(lim2);
  const cand: { q: number; t: number; d2: number; j: number; v: [number, number, number] }[] = [];
  const xi = X[3 * i], yi = X[3 * i + 1], zi = X[3 * i + 2];
  for (let j = 0; j < n; j++) {
    const dx = X[3 * j] - xi, dy = X[3 * j + 1] - yi, dz = X[3 * j + 2] - zi;
    const da = f[3 * j] - f[3 * i],
      db = f[3 * j + 1] - f[3 * i + 1],
      dc = f[3 * j + 2] - f[3 * i + 2];
    const ra = lim / h[0] + 1e-9, rb = lim / h[1] + 1e-9, rc = lim / h[2] + 1e-9;
    for (let ka = Math.ceil(-ra - da); ka <= Math.floor(ra - da); ka++) {
      for (let kb = Math.ceil(-rb - db); kb <= Math.floor(rb - db); kb++) {
        for (let kc = Math.ceil(-rc - dc); kc <= Math.floor(rc - dc); kc++) {
          if (i === j && ka === 0 && kb === 0 && kc === 0) continue;
          const vx = dx + ka * L[0] + kb * L[3] + kc * L[6];
          const vy = dy + ka * L[1] + kb * L[4] + kc * L[7];
          const vz = dz + ka * L[2] + kb * L[5] + kc * L[8];
          const d2 = vx * vx + vy * vy + vz * vz;
          const q = Math.round(d2 * TIE_RESOLUTION);
          if (q > qLast || d2 > r2) continue;
          const t = j * K_SPAN * K_SPAN * K_SPAN +
            ((ka + K_OFF) * K_SPAN + (kb + K_OFF)) * K_SPAN + (kc + K_OFF);
          cand.push({ q, t, d2, j, v: [vx, vy, vz] });
        }
      }
    }
  }
  cand.sort((a, b) => a.q - b.q || a.t - b.t);
  let keep = cand.length;
  if (ties === "drop") {
    let inner = 0;
    while (inner < cand.length && cand[inner].q < qLast) inner++;
    if (inner > 0) keep = inner;
  }
  if (nEdges + keep > outCap) growOut(nEdges + keep);
  for (let e = 0; e < keep; e++) {
    const o = nEdges + e, c = cand[e];
    oJ[o] = c.j;
    oD[o] = Math.sqrt(c.d2);
    oV[3 * o] = c.v[0], oV[3 * o + 1] = c.v[1], oV[3 * o + 2] = c.v[2];
  }
  return nEdges + keep;
}
