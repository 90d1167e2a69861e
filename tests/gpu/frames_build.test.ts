/**
 * `buildFrames` on the GPU against the CPU backend (lib/frames, the reference): the centred
 * positions, the per-copy frame matrices and the degenerate count equal to the bit, for PCA,
 * lattice and hybrid bases, on the cells where frames are fragile (tests/cuda/_frame_cells.ts:
 * tied and rotated cubic cells, strains around the gap tolerance). The kernel follows lib/frames
 * operation for operation in double without FMA contraction; a failure here means that claim is
 * false on this device (the host build, tests/cuda/frames_host.test.ts, checks the same
 * arithmetic without a GPU). FACGCNN model steps on the device (model_step.test.ts) run on
 * device-built frames too.
 */
import assert from "node:assert/strict";
import type { Backend, FrameBuildArgs } from "../../lib/backend/backend.ts";
import type { FrameKind } from "../../lib/frames/select.ts";
import { Rng } from "../../lib/util/random.ts";
import { fragileBatch } from "../cuda/_frame_cells.ts";
import { backends, disposeBackendsAtEnd, skipGpu } from "./gpu_helpers.ts";

const words = (a: Float64Array) => new Int32Array(a.buffer, a.byteOffset, 2 * a.length);

/** buildFrames on `b`: centred positions, atom and edge matrices, degenerate count (over 2 calls). */
async function run(b: Backend, kind: FrameKind, scale: number | "rms", copies: number) {
  const { positions, ranges, lattices, count: C } = await fragileBatch();
  const N = positions.length / 3;
  const rng = new Rng(9);
  const patterns = Int32Array.from({ length: copies * C }, () => Math.floor(rng.next() * 8));
  const [P, R, L, S] = b.uploadBatch([
    { data: words(positions) },
    { data: ranges },
    { data: words(lattices) },
    { data: patterns },
  ]);
  const centred = b.alloc("float32", 3 * N), atomM = b.alloc("float32", 9 * copies * C);
  const edgeM = b.alloc("float32", 9 * copies * C), counter = b.alloc("int32", 1);
  const args: FrameBuildArgs = {
    ...{ positions: P, atomRanges: R, lattices: kind === "pca" ? null : L, patterns: S, kind },
    ...{ gapTolerance: 1e-2, scale, node: true, copies, segments: C, rows: N },
    ...{ centred, atomMatrices: atomM, edgeMatrices: edgeM, degenerate: counter },
  };
  b.buildFrames(args);
  b.buildFrames(args);
  const out = {
    centred: b.download(centred),
    atom: b.download(atomM),
    edge: b.download(edgeM),
    degenerate: b.download(counter)[0],
  };
  for (const s of [P, R, L, S, centred, atomM, edgeM, counter]) b.free(s);
  return out;
}

function sameBits(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  assert.equal(a.length, b.length, what);
  let bad = 0, first = "";
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i])) {
      if (bad++ === 0) first = `[${i}] device ${a[i]} vs host ${b[i]}`;
    }
  }
  assert.equal(bad, 0, `${what}: ${bad} entries differ, first ${first}`);
}

for (
  const [kind, scale, copies] of [["pca", 1, 8], ["hybrid", 10, 8], ["lattice", "rms", 2]] as const
) {
  Deno.test({
    name: `gpu buildFrames (${kind}, scale ${scale}, k=${copies}): the CPU's bits on fragile cells`,
    ignore: skipGpu,
    async fn() {
      const { cuda, cpu } = backends();
      const d = await run(cuda, kind, scale, copies), h = await run(cpu, kind, scale, copies);
      sameBits(d.centred, h.centred, "centred positions");
      sameBits(d.atom, h.atom, "atom matrices");
      sameBits(d.edge, h.edge, "edge matrices");
      assert.equal(d.degenerate, h.degenerate, "degenerate count");
      if (kind === "pca") assert.ok(h.degenerate > 0, "the cells include degenerate ones");
    },
  });
}

disposeBackendsAtEnd();
