/**
 * The device frame paths against the host path (the copies built on the host and uploaded),
 * run on the CPU backend standing in for the device: `framePlace: "device"` (the host sends
 * positions and vectors once plus a 3×3 matrix per copy and crystal, `Backend.applyFrames`
 * builds the k frame copies) and, with `frameBuild: "device"`, the frames themselves computed by
 * `Backend.buildFrames` from the float64 positions (what CUDA training runs). The same inputs to
 * float32 rounding (the two device paths: to the bit), the same degenerate count, and the same
 * training losses to 1e-6, for PCA, hybrid and lattice frames, one (stochastic) and all eight
 * frames, raw and scaled coordinates. Runs without a GPU.
 */
import assert from "node:assert/strict";
import { cpuBackend } from "../../lib/backend/select.ts";
import { collate } from "../../lib/graph/batch.ts";
import { Model, type ModelConfig } from "../../lib/models/model.ts";
import {
  buildHostInputs,
  type FramePlace,
  type HostInputs,
  uploadInputs,
} from "../../lib/models/inputs.ts";
import type { FrameKind, FrameMode } from "../../lib/frames/select.ts";
import type { CoordinateInputs } from "../../lib/frames/scale.ts";
import { createOptimizer } from "../../lib/optim/create.ts";
import { gatherRows, mseLoss, tensor } from "../../lib/tensor/ops.ts";
import { tidy } from "../../lib/tensor/scope.ts";
import { Rng } from "../../lib/util/random.ts";
import "../../lib/autograd/backward.ts"; // installs Tensor.backward()
import { syntheticGraphs } from "../models/_fixtures.ts";

const backend = cpuBackend();
const graphs = await syntheticGraphs(10, 5);
const batch = collate(graphs, Int32Array.from({ length: 10 }, (_, i) => i));
const targets = Float32Array.from({ length: 10 }, (_, i) => Math.cos(i));

interface Case {
  frameKind: FrameKind;
  frames: FrameMode;
  coordinates: CoordinateInputs;
}
const cases: Case[] = [];
for (const frameKind of ["pca", "hybrid", "lattice"] as const) {
  for (const frames of ["stochastic", "all"] as const) {
    cases.push({ frameKind, frames, coordinates: { scale: 1, node: true } });
  }
}
cases.push({ frameKind: "pca", frames: "all", coordinates: { scale: 10, node: false } });
cases.push({
  frameKind: "hybrid",
  frames: "stochastic",
  coordinates: { scale: "rms", node: true },
});
cases.push({ frameKind: "pca", frames: "none", coordinates: { scale: 1, node: true } });

const name = (c: Case) => `${c.frameKind} ${c.frames} scale=${c.coordinates.scale}`;

/** `"build"`: frames computed on the device too (`frameBuild: "device"`). */
type Place = FramePlace | "build";

function inputs(c: Case, place: Place, rng: Rng): HostInputs {
  const where = place === "build"
    ? { framePlace: "device" as const, frameBuild: "device" as const }
    : { framePlace: place };
  return buildHostInputs(batch, { kind: "facgcnn", ...c, ...where }, () => rng.next());
}

/** Losses of `steps` SGD steps with the frame copies built where `place` says. */
function losses(c: Case, place: Place, steps: number): number[] {
  const config: Partial<ModelConfig> & Pick<ModelConfig, "kind"> = {
    kind: "facgcnn",
    ...c,
  };
  const model = new Model({ atomFeaLen: 16, hFeaLen: 16, seed: 4, ...config }, backend);
  const opt = createOptimizer("sgd", model.parameters(), { lr: 0.01 });
  const rng = new Rng(11);
  try {
    model.train();
    const out: number[] = [];
    for (let s = 0; s < steps; s++) {
      model.network.zeroGrad();
      out.push(tidy(() => {
        const dev = uploadInputs(backend, inputs(c, place, rng));
        const pred = model.network.forward(gatherRows(model.atomTable, dev.numbers), dev);
        const loss = mseLoss(pred, tensor(backend, targets, [10, 1]));
        loss.backward();
        return loss.item();
      }));
      opt.step();
    }
    return out;
  } finally {
    opt.dispose();
    model.dispose();
  }
}

function assertClose(a: Float32Array, b: Float32Array, tol: number, what: string): void {
  assert.equal(a.length, b.length, what);
  for (let i = 0; i < a.length; i++) {
    assert.ok(Math.abs(a[i] - b[i]) <= tol * Math.max(1, Math.abs(b[i])), `${what}[${i}]`);
  }
}

for (const c of cases) {
  Deno.test(`device frames: ${name(c)}: the same inputs as the host path`, () => {
    const h = inputs(c, "host", new Rng(3)), d = inputs(c, "device", new Rng(3));
    assert.ok(d.frameParts && d.coords === null && d.relative === null);
    assert.equal(d.degenerate, h.degenerate);
    assert.equal(d.copies, h.copies);
    tidy(() => {
      const dh = uploadInputs(backend, h), dd = uploadInputs(backend, d);
      // The host centres in float64; both round once more at the product: ~1 ulp apart.
      assertClose(dd.coords!.toFloat32Array(), dh.coords!.toFloat32Array(), 1e-6, "coords");
      assertClose(
        dd.edgeFeatures.toFloat32Array(),
        dh.edgeFeatures.toFloat32Array(),
        1e-6,
        "edge features",
      );
      const hg = uploadInputs(backend, d, { gaussians: "host" });
      assertClose(
        hg.edgeFeatures.toFloat32Array(),
        dh.edgeFeatures.toFloat32Array(),
        1e-6,
        "edge features (host Gaussians)",
      );
    });
  });

  Deno.test(`device frames: ${name(c)}: the same training losses as the host path (1e-6)`, () => {
    const b = losses(c, "host", 3);
    for (const place of ["device", "build"] as const) {
      const a = losses(c, place, 3);
      for (let i = 0; i < a.length; i++) {
        assert.ok(
          Math.abs(a[i] - b[i]) <= 1e-6 * Math.max(1, Math.abs(b[i])),
          `${place} step ${i}: ${a[i]} vs ${b[i]}`,
        );
      }
    }
  });

  Deno.test(`device-built frames: ${name(c)}: the host-matrix path's inputs to the bit`, () => {
    const d = inputs(c, "device", new Rng(3)), b = inputs(c, "build", new Rng(3));
    const built = c.frames !== "none"; // "none" needs no frames: the identity path stays
    assert.equal(b.frameParts?.build !== null, built);
    assert.equal(b.degenerate, built ? 0 : d.degenerate, "counted on the device instead");
    const counter = backend.alloc("int32", 1);
    try {
      tidy(() => {
        const dd = uploadInputs(backend, d), db = uploadInputs(backend, b, { degenerate: counter });
        assert.deepEqual(db.coords!.toFloat32Array(), dd.coords!.toFloat32Array());
        assert.deepEqual(db.edgeFeatures.toFloat32Array(), dd.edgeFeatures.toFloat32Array());
      });
      assert.equal(backend.download(counter)[0], built ? d.degenerate : 0);
    } finally {
      backend.free(counter);
    }
  });
}

Deno.test("applyFrames: centres, matrix and output offsets against a float64 reference", () => {
  // Two segments (2 and 1 rows), matrices for two copies; copy 1 written from row 3.
  const src = Float32Array.of(1, 2, 3, -1, 0.5, 2, 4, -3, 1);
  const offsets = Int32Array.of(0, 2, 3);
  const centres = Float32Array.of(0.5, 0.5, 0.5, 1, 1, 1);
  const mats = Float32Array.from({ length: 36 }, (_, i) => Math.sin(i + 1));
  const s = backend.upload(src), o = backend.upload(offsets), t = backend.upload(centres);
  const m = backend.upload(mats), out = backend.alloc("float32", 18);
  try {
    backend.applyFrames({
      ...{ src: s, offsets: o, centres: t, matrices: m, matrixOffset: 18, out: out },
      ...{ outOffset: 9, segments: 2, rows: 3 },
    });
    const got = backend.download(out);
    for (let r = 0; r < 3; r++) {
      const c = r < 2 ? 0 : 1;
      for (let k = 0; k < 3; k++) {
        let want = 0;
        for (let i = 0; i < 3; i++) {
          want += (src[3 * r + i] - centres[3 * c + i]) * mats[18 + 9 * c + 3 * i + k];
        }
        assert.ok(Math.abs(got[9 + 3 * r + k] - want) < 1e-5, `row ${r} col ${k}`);
        assert.equal(got[3 * r + k], 0);
      }
    }
    assert.throws(
      () =>
        backend.applyFrames({
          src: s,
          offsets: o,
          centres: null,
          matrices: m,
          out,
          segments: 2,
          rows: 4,
        }),
      /applyFrames/,
    );
  } finally {
    for (const x of [s, o, t, m, out]) backend.free(x);
  }
});
