import assert from "node:assert/strict";
import {
  computeFrames,
  degeneracyReport,
  frameCoordinates,
  frameCopies,
  frameIndices,
  frameVectors,
} from "../../lib/frames/select.ts";
import {
  gaussian,
  matmul3,
  randomOrthogonal,
  randomPermutation,
  seededRng,
  transformRows,
} from "./_helpers.ts";

const PEROVSKITE_FRAC = [0, 0, 0, 0.5, 0.5, 0.5, 0.5, 0.5, 0, 0.5, 0, 0.5, 0, 0.5, 0.5];

interface Batch {
  x: Float64Array;
  segments: Int32Array;
  lattices: Float64Array;
}

/** Mixed batch: even crystals are random anisotropic cells, odd ones cubic perovskites. */
function mixedBatch(rng: () => number, n: number): Batch {
  const xs: number[] = [], lats: number[] = [];
  const segments = new Int32Array(n + 1);
  for (let c = 0; c < n; c++) {
    const R = randomOrthogonal(rng, false);
    let L: number[], frac: number[];
    if (c % 2 === 1) {
      L = matmul3([3.9, 0, 0, 0, 3.9, 0, 0, 0, 3.9], R);
      frac = PEROVSKITE_FRAC;
    } else {
      L = matmul3([4, 0.3, 0, 0, 6, 0.2, 0.1, 0, 9], R);
      const m = 5 + Math.floor(rng() * 10);
      frac = Array.from({ length: 3 * m }, () => rng());
    }
    xs.push(...transformRows(new Float64Array(frac), L));
    lats.push(...L);
    segments[c + 1] = segments[c] + frac.length / 3;
  }
  return { x: new Float64Array(xs), segments, lattices: new Float64Array(lats) };
}

/** Rotate/reflect, translate and permute every crystal (and rotate its lattice). */
function moveBatch(rng: () => number, b: Batch, improper: boolean) {
  const n = b.segments.length - 1;
  const y = new Float64Array(b.x.length), lats = new Float64Array(b.lattices.length);
  const perms: number[][] = [];
  for (let c = 0; c < n; c++) {
    const lo = b.segments[c], hi = b.segments[c + 1];
    const R = randomOrthogonal(rng, improper);
    const moved = transformRows(b.x.subarray(3 * lo, 3 * hi), R, [
      gaussian(rng) * 3,
      gaussian(rng) * 3,
      gaussian(rng) * 3,
    ]);
    const p = randomPermutation(hi - lo, rng);
    for (let i = 0; i < hi - lo; i++) y.set(moved.subarray(3 * p[i], 3 * p[i] + 3), 3 * (lo + i));
    lats.set(matmul3(b.lattices.subarray(9 * c, 9 * c + 9), R), 9 * c);
    perms.push(p);
  }
  return { batch: { x: y, segments: b.segments, lattices: lats }, perms };
}

Deno.test("select: kinds choose bases; hybrid falls back to the lattice for cubic cells", () => {
  const b = mixedBatch(seededRng(30), 6);
  const pca = computeFrames(b.x, b.segments, null, "pca");
  assert.deepEqual(Array.from(pca.degenerate), [0, 1, 0, 1, 0, 1]);
  assert.deepEqual(Array.from(pca.source), [0, 0, 0, 0, 0, 0]);
  const lat = computeFrames(b.x, b.segments, b.lattices, "lattice");
  assert.deepEqual(Array.from(lat.source), [1, 1, 1, 1, 1, 1]);
  assert.deepEqual(Array.from(lat.degenerate), [0, 0, 0, 0, 0, 0]);
  const hyb = computeFrames(b.x, b.segments, b.lattices, "hybrid");
  assert.deepEqual(Array.from(hyb.source), [0, 1, 0, 1, 0, 1]);
  assert.deepEqual(Array.from(hyb.degenerate), [0, 0, 0, 0, 0, 0]);
  for (let c = 0; c < 6; c++) {
    const want = c % 2 ? lat.bases : pca.bases;
    assert.deepEqual(hyb.bases.subarray(9 * c, 9 * c + 9), want.subarray(9 * c, 9 * c + 9));
  }
  assert.deepEqual(hyb.centers, pca.centers);
  // a degenerate crystal with a singular cell stays PCA, flagged
  const lats = b.lattices.slice();
  lats.fill(0, 9, 18);
  const hyb2 = computeFrames(b.x, b.segments, lats, "hybrid");
  assert.equal(hyb2.source[1], 0);
  assert.equal(hyb2.degenerate[1], 1);
  assert.throws(() => computeFrames(b.x, b.segments, null, "lattice"));
  assert.throws(() => computeFrames(b.x, b.segments, b.lattices, "bogus" as "pca"));
});

Deno.test("select: frameCoordinates and frameVectors compute (x − t)·U·diag(s)", () => {
  const rng = seededRng(31);
  const b = mixedBatch(rng, 8);
  const fr = computeFrames(b.x, b.segments, b.lattices, "hybrid");
  const nAtoms = b.x.length / 3;
  const patterns = Int32Array.from({ length: 8 }, (_, c) => (3 * c + 1) % 8);
  const out = new Float32Array(3 * nAtoms);
  frameCoordinates(b.x, b.segments, fr.centers, fr.bases, patterns, out);
  // edges: every ordered pair of atoms inside a crystal, vectors x_j − x_i
  const offsets = new Int32Array(nAtoms + 1);
  const vec: number[] = [], ends: number[][] = [];
  for (let c = 0; c < 8; c++) {
    for (let i = b.segments[c]; i < b.segments[c + 1]; i++) {
      for (let j = b.segments[c]; j < b.segments[c + 1]; j++) {
        if (j === i) continue;
        for (let k = 0; k < 3; k++) vec.push(b.x[3 * j + k] - b.x[3 * i + k]);
        ends.push([i, j]);
      }
      offsets[i + 1] = ends.length;
    }
  }
  const ev = new Float32Array(vec.length);
  frameVectors(new Float32Array(vec), offsets, b.segments, fr.bases, patterns, ev);
  for (let c = 0; c < 8; c++) {
    const s = [0, 1, 2].map((k) => ((patterns[c] >> k) & 1 ? -1 : 1));
    const U = fr.bases.subarray(9 * c, 9 * c + 9), t = fr.centers.subarray(3 * c, 3 * c + 3);
    for (let i = b.segments[c]; i < b.segments[c + 1]; i++) {
      for (let k = 0; k < 3; k++) {
        let v = 0;
        for (let j = 0; j < 3; j++) v += (b.x[3 * i + j] - t[j]) * U[3 * j + k];
        assert.ok(Math.abs(out[3 * i + k] - s[k] * v) < 1e-5);
      }
    }
  }
  // edge vectors agree with differences of frame coordinates
  ends.forEach(([i, j], e) => {
    for (let k = 0; k < 3; k++) {
      assert.ok(Math.abs(ev[3 * e + k] - (out[3 * j + k] - out[3 * i + k])) < 1e-4);
    }
  });
  assert.throws(() =>
    frameCoordinates(b.x, b.segments, fr.centers, fr.bases, new Int32Array(8).fill(8), out)
  );
  assert.throws(() =>
    frameCoordinates(b.x, b.segments, fr.centers, fr.bases, patterns, new Float32Array(3))
  );
});

Deno.test("select: hybrid + all frames give the same set of frame clouds for moved inputs", () => {
  const rng = seededRng(32);
  const n = 12;
  const b = mixedBatch(rng, n);
  const nAtoms = b.x.length / 3;
  const all = frameIndices("all", n, rng);
  const stack = (batch: Batch) => {
    const fr = computeFrames(batch.x, batch.segments, batch.lattices, "hybrid");
    const out = new Float32Array(8 * 3 * nAtoms);
    for (let f = 0; f < 8; f++) {
      frameCoordinates(
        batch.x,
        batch.segments,
        fr.centers,
        fr.bases,
        all.subarray(f * n, (f + 1) * n),
        out.subarray(f * 3 * nAtoms, (f + 1) * 3 * nAtoms),
      );
    }
    return { out, fr };
  };
  const a = stack(b);
  for (const improper of [false, true]) {
    const { batch, perms } = moveBatch(rng, b, improper);
    const m = stack(batch);
    assert.deepEqual(m.fr.source, a.fr.source);
    for (let c = 0; c < n; c++) {
      const lo = b.segments[c], hi = b.segments[c + 1], p = perms[c];
      const matched = new Set<number>();
      for (let f = 0; f < 8; f++) {
        for (let g = 0; g < 8; g++) {
          let d = 0;
          for (let i = 0; i < hi - lo; i++) {
            for (let k = 0; k < 3; k++) {
              const va = a.out[f * 3 * nAtoms + 3 * (lo + p[i]) + k];
              const vb = m.out[g * 3 * nAtoms + 3 * (lo + i) + k];
              d = Math.max(d, Math.abs(va - vb));
            }
          }
          if (d < 1e-5) matched.add(f);
        }
      }
      assert.equal(matched.size, 8, `crystal ${c} (improper ${improper}): ${[...matched]}`);
    }
  }
});

Deno.test("select: frameIndices modes", () => {
  const n = 8;
  assert.deepEqual(Array.from(frameIndices("none", n, Math.random)), new Array(n).fill(0));
  const all = frameIndices("all", n, Math.random);
  assert.equal(all.length, 8 * n);
  for (let f = 0; f < 8; f++) for (let c = 0; c < n; c++) assert.equal(all[f * n + c], f);

  // stochastic: roughly uniform over the 8 patterns, deterministic for a seed
  const rng = seededRng(33);
  const counts = new Array(8).fill(0);
  const perCrystal = Array.from({ length: n }, () => new Set<number>());
  const calls = 10000;
  for (let r = 0; r < calls; r++) {
    const idx = frameIndices("stochastic", n, rng);
    assert.equal(idx.length, n);
    idx.forEach((f, c) => {
      counts[f]++;
      perCrystal[c].add(f);
    });
  }
  const expected = (calls * n) / 8; // 10000, σ ≈ 94
  for (const k of counts) assert.ok(Math.abs(k - expected) < 0.05 * expected, `${counts}`);
  for (const s of perCrystal) assert.equal(s.size, 8);
  assert.deepEqual(
    frameIndices("stochastic", 50, seededRng(7)),
    frameIndices("stochastic", 50, seededRng(7)),
  );
  assert.notDeepEqual(
    frameIndices("stochastic", 50, seededRng(7)),
    frameIndices("stochastic", 50, seededRng(8)),
  );
  assert.deepEqual(Array.from(frameIndices("stochastic", 3, () => 0.9999999999999999)), [7, 7, 7]);

  // sample: k distinct per crystal, uniform marginals
  const rng2 = seededRng(34);
  for (const k of [1, 3, 8]) {
    const cnt = new Array(8).fill(0);
    for (let r = 0; r < 2000; r++) {
      const idx = frameIndices({ sample: k }, n, rng2);
      assert.equal(idx.length, k * n);
      for (let c = 0; c < n; c++) {
        const s = new Set<number>();
        for (let j = 0; j < k; j++) {
          const f = idx[j * n + c];
          assert.ok(f >= 0 && f < 8);
          s.add(f);
          cnt[f]++;
        }
        assert.equal(s.size, k, "without replacement");
      }
    }
    const exp = (2000 * n * k) / 8;
    for (const v of cnt) assert.ok(Math.abs(v - exp) < 0.08 * exp, `sample ${k}: ${cnt}`);
  }
  for (const bad of [{ sample: 0 }, { sample: 9 }, { sample: 2.5 }]) {
    assert.throws(() => frameIndices(bad, n, Math.random));
  }
  assert.throws(() => frameIndices("bogus" as "all", n, Math.random));
});

Deno.test("select: degeneracyReport counts", () => {
  const b = mixedBatch(seededRng(35), 6);
  // add a one-atom crystal and an empty one
  const x = new Float64Array([...b.x, 1, 2, 3]);
  const segments = new Int32Array([...b.segments, b.segments[6] + 1, b.segments[6] + 1]);
  const fr = computeFrames(x, segments, null, "pca");
  const r = degeneracyReport({ relativeGap: fr.relativeGap, segments, source: fr.source });
  assert.equal(r.total, 8);
  assert.equal(r.degenerate, 5); // 3 perovskites, one atom, empty
  assert.equal(r.exactDegenerate, 5);
  assert.equal(r.oneAtom, 2);
  assert.equal(r.latticeBases, 0);
  assert.equal(r.degenerateFraction, 5 / 8);
  assert.equal(r.minRelativeGap, 0);
  const strict = degeneracyReport({ relativeGap: fr.relativeGap, segments }, { gapTolerance: 0 });
  assert.equal(strict.degenerate, 0);
  assert.ok(
    Number.isNaN(
      degeneracyReport({ relativeGap: new Float64Array(0), segments: new Int32Array(1) })
        .minRelativeGap,
    ),
  );
});

Deno.test("select: frameCopies is the number of rows frameIndices draws, for every mode", () => {
  const n = 5;
  const modes = ["none", "stochastic", "all", { sample: 1 }, { sample: 3 }, { sample: 8 }] as const;
  for (const mode of modes) {
    let r = 0;
    const rows = frameIndices(mode, n, () => (r = (r + 0.37) % 1)).length / n;
    assert.equal(frameCopies(mode), rows, JSON.stringify(mode));
  }
});
