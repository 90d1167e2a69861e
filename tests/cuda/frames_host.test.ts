/**
 * The device frames kernel's arithmetic (native/cuda/frames3.cuh: centre, covariance, Jacobi
 * eigensolve, lattice polar factor, hybrid selection, signs and coordinate unit), compiled for
 * the host with FMA contraction off as nvcc compiles eigen.cu, against lib/frames
 * (`frameInputs`, `computeFrames`): the same bits, on the cells where any other rounding gives
 * another basis (cubic cells with exactly tied eigenvalues, the same cells rotated so the tie is
 * broken only by rounding, strains of 1e-12 to 1e-3 around the gap tolerance), one-atom, empty
 * and collinear crystals, singular cells, and random synthetic crystals. Skipped when no C++
 * compiler is found.
 */
import assert from "node:assert/strict";
import { findCxx } from "./_cxx.ts";
import { frameInputs } from "../../lib/frames/matrices.ts";
import { computeFrames, type FrameKind } from "../../lib/frames/select.ts";
import type { CoordinateInputs } from "../../lib/frames/scale.ts";
import { Rng } from "../../lib/util/random.ts";
import { fragileBatch } from "./_frame_cells.ts";

const root = new URL("../../", import.meta.url).pathname;

const cxx = findCxx();

const KIND_CODE: Record<FrameKind, number> = { pca: 0, lattice: 1, hybrid: 2 };

let exe: string | null = null;
async function harness(): Promise<string> {
  if (exe) return exe;
  const out = await Deno.makeTempFile({ prefix: "facgcnn_frames_host_" });
  const build = await new Deno.Command(cxx!, {
    args: [
      "-O2",
      "-std=c++17",
      "-ffp-contract=off",
      "-o",
      out,
      `${root}tests/cuda/frames_host.cpp`,
    ],
    stderr: "piped",
  }).output();
  assert.ok(build.success, new TextDecoder().decode(build.stderr));
  exe = out;
  return out;
}

const cases: { kind: FrameKind; copies: number; co: Required<CoordinateInputs> }[] = [
  { kind: "pca", copies: 8, co: { scale: 1, node: true } },
  { kind: "hybrid", copies: 8, co: { scale: 10, node: false } },
  { kind: "lattice", copies: 3, co: { scale: "rms", node: true } },
  { kind: "hybrid", copies: 1, co: { scale: "rms", node: false } },
];

for (const c of cases) {
  Deno.test({
    name: `device frames (host build) give lib/frames' bits: ${c.kind} k=${c.copies} ` +
      `scale=${c.co.scale} node=${c.co.node}`,
    ignore: cxx === null,
    async fn() {
      const { positions, ranges, lattices, count: C } = await fragileBatch();
      const N = positions.length / 3;
      const rng = new Rng(5);
      const patterns = Int32Array.from({ length: c.copies * C }, () => Math.floor(rng.next() * 8));
      const text = [
        `${C} ${N} ${c.copies} ${KIND_CODE[c.kind]} 0.01 ${c.co.scale === "rms" ? 0 : c.co.scale}`,
        `${c.co.node ? 1 : 0}`,
        ...[ranges, positions, lattices, patterns].map((a) => [...a].map(String).join(" ")),
      ].join("\n") + "\n";
      const child = new Deno.Command(await harness(), { stdin: "piped", stdout: "piped" }).spawn();
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(text));
      await w.close();
      const out = await child.output();
      assert.ok(out.success);
      const [flagLine, valueLine] = new TextDecoder().decode(out.stdout).trim().split("\n");
      const flags = flagLine.trim().split(/\s+/).map(Number);
      const values = valueLine.trim().split(/\s+/).map(Number);

      const lat = c.kind === "pca" ? null : lattices;
      const ref = computeFrames(positions, ranges, lat, c.kind, { gapTolerance: 0.01 });
      assert.deepEqual(flags, [...ref.degenerate], "degenerate flags");
      const want = frameInputs(positions, ranges, lat, patterns, c.copies, {
        kind: c.kind,
        gapTolerance: 0.01,
        coordinates: c.co,
      });
      const all = [...want.centred, ...want.atomMatrices, ...want.edgeMatrices];
      assert.equal(values.length, all.length);
      for (let i = 0; i < all.length; i++) {
        const what = i < 3 * N ? `centred[${i}]` : `matrix entry ${i - 3 * N}`;
        assert.ok(Object.is(Math.fround(values[i]), all[i]), `${what}: ${values[i]} vs ${all[i]}`);
      }
      // The cases reach both sides of the tolerance and exact ties.
      assert.ok(ref.relativeGap.some((g) => g === 0) && ref.relativeGap.some((g) => g > 0.01));
      assert.ok(ref.relativeGap.some((g) => g > 0 && g < 1e-8));
    },
  });
}

Deno.test({
  name: "device frames (host build): remove the harness",
  ignore: cxx === null,
  async fn() {
    if (exe) await Deno.remove(exe);
    exe = null;
  },
});
