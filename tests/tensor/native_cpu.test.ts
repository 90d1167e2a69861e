/**
 * The native CPU kernels (native/cpu/facgcnn_cpu.c) against the TypeScript kernels, op by op,
 * on random inputs. The library is built into a temporary folder when a C compiler exists.
 */
import assert from "node:assert/strict";
import type { Backend, BinaryOp, Broadcast, Storage } from "../../lib/backend/backend.ts";
import { createCpuBackend } from "../../lib/backend/cpu/cpu_backend.ts";
import {
  type CpuKernelTable,
  nativeKernelTable,
  TS_KERNELS,
} from "../../lib/backend/cpu/kernel_table.ts";
import { loadCpuKernels } from "../../lib/backend/cpu/native_kernels.ts";

async function buildLibrary(): Promise<string | null> {
  const dir = await Deno.makeTempDir();
  try {
    const out = await new Deno.Command("bash", {
      args: ["native/build_cpu.sh", dir],
      stderr: "piped",
      stdout: "piped",
    })
      .output();
    return out.success ? `${dir}/libfacgcnn_cpu.so` : null;
  } catch {
    return null;
  }
}

const path = await buildLibrary();
const ignore = path === null;
const native = path ? createCpuBackend({ nativeKernels: path }) : null;
const ts = createCpuBackend({ nativeKernels: false });

let seed = 12345;
function rand(n: number, scale = 4): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    a[i] = (seed / 2 ** 32 - 0.5) * 2 * scale;
  }
  return a;
}

/** Runs `op` on both backends with the same inputs; compares every output storage. */
function same(
  name: string,
  inputs: (Float32Array | Int32Array)[],
  outputs: number[],
  op: (b: Backend, ins: Storage[], outs: Storage[]) => void,
  tol = 2e-6,
) {
  const run = (b: Backend) => {
    const ins = inputs.map((a) => b.upload(a));
    const outs = outputs.map((n) => b.alloc("float32", n));
    op(b, ins, outs);
    return outs.map((o) => b.download(o) as Float32Array);
  };
  const [a, e] = [run(native!), run(ts)];
  for (let k = 0; k < a.length; k++) {
    let scale = 0;
    for (const v of e[k]) scale = Math.max(scale, Math.abs(v));
    for (let i = 0; i < a[k].length; i++) {
      const d = Math.abs(a[k][i] - e[k][i]);
      if (!(d <= tol * Math.max(1, Math.abs(e[k][i])) + 1e-7 * scale)) {
        assert.fail(`${name} output ${k} [${i}]: native ${a[k][i]} vs TypeScript ${e[k][i]}`);
      }
    }
  }
}

const R = 333, C = 40;

Deno.test({
  name: "native CPU kernels are loaded from a fresh build",
  ignore,
  fn() {
    assert.ok(native!.usesNativeKernels, native!.info().notes.join("; "));
    assert.match(native!.info().notes[0], /native C kernels/);
    assert.match(ts.info().notes[0], /TypeScript kernels/);
  },
});

Deno.test({
  name: "native gate and gate backward equal the TypeScript kernels",
  ignore,
  fn() {
    const z = rand(R * 2 * C, 25); // beyond the softplus threshold too
    same("gate", [z], [R * C], (b, [zs], [o]) => b.gate(zs, o, R, C));
    same(
      "gateBackward",
      [z, rand(R * C)],
      [2 * R * C],
      (b, [zs, g], [o]) => b.gateBackward(zs, g, o, R, C),
    );
  },
});

Deno.test({
  name: "native sigmoid/softplus forward and backward equal the TypeScript kernels",
  ignore,
  fn() {
    const x = rand(5000, 30);
    for (const op of ["sigmoid", "softplus"] as const) {
      same(op, [x], [5000], (b, [xs], [o]) => b.unary(op, xs, o, 5000));
      same(`${op}'`, [x, rand(5000), rand(5000)], [5000], (b, [xs, ys, g], [o]) => {
        b.unary(op, xs, ys, 5000);
        b.unaryBackward(op, xs, ys, g, o, 5000);
      });
    }
  },
});

Deno.test({
  name: "native binary ops equal the TypeScript kernels in every broadcast",
  ignore,
  fn() {
    const rows = 200, cols = 37; // ≥ 4096 elements: the native path
    for (const op of ["add", "sub", "mul", "div"] as BinaryOp[]) {
      for (
        const [bc, n] of [["none", rows * cols], ["row", cols], ["col", rows], ["scalar", 1]] as [
          Broadcast,
          number,
        ][]
      ) {
        same(
          `${op}/${bc}`,
          [rand(rows * cols), rand(n).map((v) => v + 5)],
          [rows * cols],
          (b, [a, y], [o]) => b.binary(op, a, y, o, rows, cols, bc),
        );
      }
    }
  },
});

Deno.test({
  name: "native batch-norm statistics, forward and backward equal the TypeScript kernels",
  ignore,
  fn() {
    const x = rand(R * C).map((v, i) => v + (i % C)); // per-column offsets
    same("columnMoments", [x], [C, C], (b, [xs], [m, v]) => b.columnMoments(xs, m, v, R, C), 1e-5);
    const mean = rand(C),
      variance = rand(C).map((v) => v * v + 0.5),
      gamma = rand(C),
      beta = rand(C);
    same(
      "bnForward",
      [x, mean, variance, gamma, beta],
      [R * C],
      (b, [xs, m, v, g, be], [o]) =>
        b.batchNormForward({
          ...{ x: xs, mean: m, variance: v, gamma: g, beta: be, out: o },
          ...{ rows: R, cols: C, eps: 1e-5 },
        }),
    );
    for (const stats of [true, false]) {
      same(
        `bnBackward(${stats})`,
        [x, rand(R * C), mean, variance, gamma],
        [R * C, C, C],
        (b, [xs, dy, m, v, g], [dx, dg, db]) =>
          b.batchNormBackward({
            ...{ x: xs, dy, mean: m, variance: v, gamma: g, dx, dGamma: dg, dBeta: db },
            ...{ rows: R, cols: C, eps: 1e-5, batchStatistics: stats },
          }),
        2e-5,
      );
    }
  },
});

Deno.test({
  name: "native graph ops equal the TypeScript kernels and reject bad indices",
  ignore,
  fn() {
    const index = new Int32Array(500).map((_, i) => (i * 7919) % R);
    same(
      "gatherRows",
      [rand(R * C), index],
      [500 * C],
      (b, [s, i], [o]) => b.gatherRows(s, i, o, 500, C),
    );
    same(
      "scatterAddRows",
      [rand(500 * C), index],
      [R * C],
      (b, [s, i], [o]) => b.scatterAddRows(s, i, o, 500, C),
    );
    const offsets = new Int32Array([0, 3, 3, 90, 200, 333]);
    for (const mean of [false, true]) {
      same(
        "segmentReduce",
        [rand(R * C), offsets],
        [5 * C],
        (b, [s, off], [o]) => b.segmentReduce(s, off, o, 5, C, mean),
      );
      same(
        "segmentExpand",
        [rand(5 * C), offsets],
        [R * C],
        (b, [g, off], [o]) => b.segmentExpand(g, off, o, 5, C, mean),
      );
    }
    const b = native!;
    const src = b.upload(rand(4 * C)), out = b.alloc("float32", 2 * C);
    assert.throws(
      () => b.gatherRows(src, b.upload(new Int32Array([0, 4])), out, 2, C),
      /index\[1\] = 4/,
    );
    assert.throws(
      () => b.segmentReduce(src, b.upload(new Int32Array([0, 3, 2])), out, 2, C, false),
      /offsets/,
    );
  },
});

/**
 * A graph with 0–12 neighbours per atom (some segments empty) and one atom with 40 (longer than
 * the native kernels' 16-edge statistic blocks), so the per-thread edge split lands mid-graph.
 */
function edgeGraph(atoms: number) {
  const offsets = [0];
  const nbr: number[] = [];
  for (let i = 0; i < atoms; i++) {
    const n = i === 7 ? 40 : (i * 7) % 13;
    for (let k = 0; k < n; k++) nbr.push((i * 31 + k * 17) % atoms);
    offsets.push(nbr.length);
  }
  return { E: nbr.length, off: new Int32Array(offsets), nb: new Int32Array(nbr) };
}

// A = 24 and 40 fill whole 8-float vectors (one and two 16-column steps of the AVX2 gate
// kernels, then one of 8); A = 13 leaves remainders in every row.
for (const A of [24, 13, 40]) {
  Deno.test({
    name:
      `native fused edge kernels (edge combine, gate-sum and their backward) equal TypeScript, A = ${A}`,
    ignore,
    fn() {
      const atoms = 300, c2 = 2 * A;
      const { E, off, nb } = edgeGraph(atoms);
      const z0 = rand(E * c2, 3), bias = rand(c2, 1), self = rand(atoms * c2, 2);
      const other = rand(atoms * c2, 2);
      same(
        "edgeCombine",
        [z0, bias, self, other, off, nb],
        [E * c2, c2, c2],
        (b, [z, bi, s, o, of, n], [zo, m, v]) => {
          b.copy(z, zo, E * c2);
          b.edgeCombine!({
            ...{ z: zo, bias: bi, self: s, other: o, offsets: of, neighbors: n },
            ...{ atoms, edges: E, cols: c2, mean: m, variance: v },
          });
        },
        2e-5,
      );
      // dOther accumulates into what is there; dBias of the native kernel sums in float blocks.
      const dz = rand(E * c2, 2), prior = rand(atoms * c2, 1);
      for (const want of [[true, true, true], [false, true, false], [true, false, true]]) {
        same(
          `edgeCombineBackward ${want}`,
          [dz, off, nb, prior],
          [atoms * c2, atoms * c2, c2],
          (b, [d, of, n, p], [ds, dother, db]) => {
            b.copy(p, dother, atoms * c2);
            b.edgeCombineBackward!({
              ...{ dz: d, offsets: of, neighbors: n, atoms, edges: E, cols: c2 },
              ...{ dSelf: want[0] ? ds : null, dOther: want[1] ? dother : null },
              ...{ dBias: want[2] ? db : null },
            });
          },
          2e-5,
        );
      }
      const stats = [rand(c2, 1), Float32Array.from(rand(c2, 1), (x) => 0.5 + x * x)];
      const gb = [Float32Array.from(rand(c2, 1), (x) => 1 + x / 2), rand(c2, 1)];
      // Scale 150 drives BN1's output past softplus's threshold (20) and e^−|y| below 2^−126.
      for (const scale of [6, 150]) {
        const z = rand(E * c2, scale);
        for (const batchStatistics of [true, false]) {
          same(
            `gateSum and backward (z scale ${scale}, batch statistics ${batchStatistics})`,
            [z, off, ...stats, ...gb, rand(atoms * A)],
            [atoms * A, E * c2, c2, c2],
            (b, [zs, of, m, v, g, be, dOut], [out, dz, dg, db]) => {
              const common = { z: zs, offsets: of, atoms, edges: E, cols: A, mean: m, variance: v };
              b.gateSum!({ ...common, gamma: g, beta: be, eps: 1e-5, out });
              b.gateSumBackward!({
                ...common,
                ...{ gamma: g, beta: be, eps: 1e-5, dOut, dz, dGamma: dg, dBeta: db },
                batchStatistics,
              });
            },
            2e-5,
          );
        }
      }
    },
  });
}

Deno.test({
  name:
    "native gate kernels: a NaN pre-activation gives NaN where it enters, finite values elsewhere",
  ignore,
  fn() {
    const b = native!, A = 40, atoms = 3, per = 4, E = atoms * per;
    const zHost = rand(E * 2 * A, 3);
    zHost[(per + 1) * 2 * A + 17] = NaN; // atom 1, filter column 17
    zHost[(2 * per) * 2 * A + A + 33] = NaN; // atom 2, core column 33
    const z = b.upload(zHost),
      offsets = b.upload(Int32Array.from({ length: atoms + 1 }, (_, i) => i * per));
    const ones = b.upload(new Float32Array(2 * A).fill(1)),
      zeros = b.upload(new Float32Array(2 * A));
    const out = b.alloc("float32", atoms * A), gated = b.alloc("float32", E * A);
    b.gateSum!({
      ...{ z, offsets, atoms, edges: E, cols: A, mean: zeros, variance: ones },
      ...{ gamma: ones, beta: zeros, eps: 0, out },
    });
    b.gate(z, gated, E, A);
    const sums = b.download(out) as Float32Array, g = b.download(gated) as Float32Array;
    for (let i = 0; i < atoms; i++) {
      for (let j = 0; j < A; j++) {
        const nan = (i === 1 && j === 17) || (i === 2 && j === 33);
        assert.equal(Number.isNaN(sums[i * A + j]), nan, `gateSum atom ${i} column ${j}`);
      }
    }
    for (let e = 0; e < E; e++) {
      for (let j = 0; j < A; j++) {
        const nan = (e === per + 1 && j === 17) || (e === 2 * per && j === 33);
        assert.equal(Number.isNaN(g[e * A + j]), nan, `gate edge ${e} column ${j}`);
      }
    }
    for (const s of [z, offsets, ones, zeros, out, gated]) b.free(s);
  },
});

Deno.test({
  name: "a library without the one-pass edge backward runs it as three native passes",
  ignore,
  fn() {
    const loaded = loadCpuKernels(path!);
    assert.ok(loaded.kernels && loaded.edgeBackward, loaded.description);
    const atoms = 120, cols = 10, { E, off, nb } = edgeGraph(atoms);
    const dz = rand(E * cols, 2), prior = rand(atoms * cols, 1);
    const run = (t: CpuKernelTable) => {
      const [dSelf, dOther, dBias] = [
        new Float32Array(atoms * cols),
        prior.slice(),
        new Float32Array(cols),
      ];
      t.edgeCombineBackward({
        dz,
        offsets: off,
        neighbors: nb,
        atoms,
        edges: E,
        cols,
        dSelf,
        dOther,
        dBias,
      });
      return [dSelf, dOther, dBias];
    };
    const [older, onePass, ts] = [
      run(nativeKernelTable(loaded.kernels, loaded.edgeGemm ?? null, null)),
      run(nativeKernelTable(loaded.kernels, loaded.edgeGemm ?? null, loaded.edgeBackward)),
      run(TS_KERNELS),
    ];
    for (let k = 0; k < 3; k++) {
      for (const [name, got] of [["three-pass", older], ["one-pass", onePass]] as const) {
        for (let i = 0; i < ts[k].length; i++) {
          const d = Math.abs(got[k][i] - ts[k][i]);
          assert.ok(d <= 1e-5 * Math.max(1, Math.abs(ts[k][i])), `${name} output ${k} [${i}]`);
        }
      }
    }
  },
});

Deno.test({
  name: "native column sums equal the TypeScript kernel",
  ignore,
  fn() {
    for (const [rows, cols] of [[5000, 37], [3, 2000], [70, 128]]) {
      same("sumRows", [rand(rows * cols)], [cols], (b, [x], [o]) => b.sumRows(x, o, rows, cols));
    }
  },
});
