/**
 * `CudaBackend.buildFrames` on the fake device: the arguments it hands the frames kernel (kind
 * code, coordinate unit, node flag, copies, crystals, the lattice pointer only for lattice
 * bases), the storage checks, the degenerate counter accumulating on the device without a read,
 * and the outputs (the fake kernel is the host reference, lib/frames/matrices.ts).
 */
import assert from "node:assert/strict";
import { CudaBackend } from "../../lib/backend/cuda/cuda_backend.ts";
import type { FrameBuildArgs, Storage } from "../../lib/backend/backend.ts";
import { frameInputs } from "../../lib/frames/matrices.ts";
import { fakeLibraries } from "./_fake_device.ts";

/** Two crystals: a cubic one (tied eigenvalues: degenerate PCA) and a general one. */
const positions = Float64Array.of(
  ...[0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 0, 1, 0, 1, 0, 1, 1, 1, 1, 1], // cube corners
  ...[0.1, 0.2, 0.3, 2.5, 0.4, 0.1, 0.3, 1.7, 0.2], // three atoms
);
const ranges = Int32Array.of(0, 8, 11);
const lattices = Float64Array.of(1, 0, 0, 0, 1, 0, 0, 0, 1, 4, 0.5, 0, 0, 3, 0.2, 0.1, 0, 5);
const patterns = Int32Array.of(0, 3, 5, 6); // k = 2 copies of 2 crystals
const words = (a: Float64Array) => new Int32Array(a.buffer, a.byteOffset, 2 * a.length);

function setup(check = false) {
  const fake = fakeLibraries();
  const be = new CudaBackend(fake.libs, { tf32: false, device: 0, check });
  const [P, R, L, S] = be.uploadBatch([
    { data: words(positions) },
    { data: ranges },
    { data: words(lattices) },
    { data: patterns },
  ]);
  const centred = be.alloc("float32", 33), atomM = be.alloc("float32", 36);
  const edgeM = be.alloc("float32", 36), counter = be.alloc("int32", 1);
  const args = (over: Partial<FrameBuildArgs> = {}): FrameBuildArgs => ({
    ...{ positions: P, atomRanges: R, lattices: L, patterns: S, kind: "hybrid" },
    ...{ gapTolerance: 1e-2, scale: "rms", node: true, copies: 2, segments: 2, rows: 11 },
    ...{ centred, atomMatrices: atomM, edgeMatrices: edgeM, degenerate: counter },
    ...over,
  });
  const all: Storage[] = [P, R, L, S, centred, atomM, edgeM, counter];
  return { fake, be, args, centred, atomM, edgeM, counter, all };
}

for (const kind of ["pca", "lattice", "hybrid"] as const) {
  Deno.test(`fake CUDA: buildFrames (${kind}) passes the job and returns the host reference`, () => {
    const { fake, be, args, centred, atomM, edgeM, counter, all } = setup();
    const syncs = fake.counts.syncs;
    be.buildFrames(args({ kind, lattices: kind === "pca" ? null : args().lattices, scale: 4 }));
    be.buildFrames(args({ kind, lattices: kind === "pca" ? null : args().lattices, scale: 4 }));
    assert.equal(fake.counts.syncs, syncs, "no wait: the counter stays on the device");
    const code = { pca: 0, lattice: 1, hybrid: 2 }[kind];
    assert.deepEqual(fake.frameCalls[0], {
      ...{ kind: code, gapTolerance: 1e-2, scale: 4, node: 1, copies: 2, n: 2 },
      lattices: kind !== "pca",
    });
    const want = frameInputs(positions, ranges, lattices, patterns, 2, {
      kind,
      gapTolerance: 1e-2,
      coordinates: { scale: 4, node: true },
    });
    assert.deepEqual(be.download(centred), want.centred);
    assert.deepEqual(be.download(atomM), want.atomMatrices);
    assert.deepEqual(be.download(edgeM), want.edgeMatrices);
    // pca: the cube is degenerate; lattice/hybrid: neither cell is singular.
    assert.equal(want.degenerate, kind === "pca" ? 1 : 0);
    assert.equal(be.download(counter)[0], 2 * want.degenerate, "added over both calls");
    for (const s of all) be.free(s);
    be.dispose();
  });
}

Deno.test("fake CUDA: buildFrames hands the RMS unit over as 0 and node=false as 0", () => {
  const { fake, be, args, all } = setup();
  be.buildFrames(args({ node: false, degenerate: null }));
  assert.equal(fake.frameCalls[0].scale, 0);
  assert.equal(fake.frameCalls[0].node, 0);
  for (const s of all) be.free(s);
  be.dispose();
});

Deno.test("fake CUDA: buildFrames checks its storages before launching", () => {
  const { fake, be, args, all } = setup();
  const launches = fake.counts.launches;
  assert.throws(() => be.buildFrames(args({ lattices: null })), /needs \[C, 9\] float64 lattices/);
  assert.throws(
    () => be.buildFrames(args({ rows: 12 })),
    /buildFrames: storage of 66 elements, need 72/,
  );
  assert.throws(
    () => be.buildFrames(args({ copies: 3 })),
    /buildFrames: storage of 4 elements, need 6/,
  );
  assert.throws(
    () => be.buildFrames(args({ positions: args().centred })),
    /buildFrames: expected int32 storage/,
  );
  assert.throws(() => be.buildFrames(args({ scale: 0 })), /bad gap tolerance or coordinate unit/);
  assert.equal(fake.counts.launches, launches);
  for (const s of all) be.free(s);
  be.dispose();
});

Deno.test("fake CUDA: buildFrames in check mode refuses atom ranges beyond the rows", () => {
  const { fake, be, args, all } = setup(true);
  const launches = fake.counts.launches;
  const bad = be.upload(Int32Array.of(0, 9, 12)); // 12 > 11 rows
  assert.throws(() => be.buildFrames(args({ atomRanges: bad })), /buildFrames/);
  assert.equal(fake.counts.launches, launches, "not launched");
  be.buildFrames(args()); // good ranges pass
  for (const s of [...all, bad]) be.free(s);
  be.dispose();
});
