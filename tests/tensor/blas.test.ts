/**
 * GEMM selection and correctness: OpenBLAS hidden (option or `FACGCNN_BLAS`) gives the
 * fallback and says so; the fallback equals OpenBLAS and a float64 reference for every
 * transpose combination, leading dimension, offset, alpha and beta.
 */

import assert from "node:assert/strict";
import type { Backend } from "../../lib/backend/backend.ts";
import { loadBlas } from "../../lib/backend/cpu/blas.ts";
import { createCpuBackend } from "../../lib/backend/cpu/cpu_backend.ts";
import { gemmFallback } from "../../lib/backend/cpu/gemm_fallback.ts";
import { forEachBackend, MISSING_BLAS, openBlasCase } from "../helpers/backends.ts";
import { assertClose, seededRng } from "../helpers/numeric.ts";

const openblasCase = openBlasCase();
const OPENBLAS_SKIP = openblasCase.backend === null ? openblasCase.skipReason : undefined;

// --- selection -------------------------------------------------------------------------------

Deno.test("blas: a missing blasPath selects the fallback and names the path", () => {
  const b = createCpuBackend({ blasPath: MISSING_BLAS });
  assert.equal(b.usesOpenBlas, false);
  const info = b.info();
  assert.match(info.gemm, /fallback/);
  assert.equal(info.name, "cpu");
  assert.ok(info.notes.some((n) => n.includes(MISSING_BLAS)), `notes: ${info.notes}`);
});

Deno.test("blas: OpenBLAS's idle spin is shortened before it loads, unless the user set it", async () => {
  // In fresh processes: OpenBLAS reads OPENBLAS_THREAD_TIMEOUT once, when it is loaded.
  const probe = `import { loadBlas, BLAS_SPIN_LOG2_CYCLES } from "${
    new URL("../../lib/backend/cpu/blas.ts", import.meta.url).href
  }";
    loadBlas();
    console.log(Deno.env.get("OPENBLAS_THREAD_TIMEOUT"), BLAS_SPIN_LOG2_CYCLES);`;
  const run = async (env: Record<string, string>) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--no-prompt", probe],
      env,
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    return new TextDecoder().decode(out.stdout).trim().split(" ");
  };
  const home = { HOME: Deno.env.get("HOME") ?? "/tmp", PATH: Deno.env.get("PATH") ?? "" };
  const [set, wanted] = await run(home);
  assert.equal(set, wanted);
  assert.ok(Number(wanted) >= 4 && Number(wanted) <= 20, `2^${wanted} cycles`);
  assert.deepEqual((await run({ ...home, OPENBLAS_THREAD_TIMEOUT: "25" }))[0], "25");
});

Deno.test("blas: FACGCNN_BLAS pointing at a missing file selects the fallback", () => {
  const previous = Deno.env.get("FACGCNN_BLAS");
  // Process-wide and briefly set: only the synchronous creation below reads it.
  Deno.env.set("FACGCNN_BLAS", MISSING_BLAS);
  let b;
  try {
    b = createCpuBackend();
  } finally {
    if (previous === undefined) Deno.env.delete("FACGCNN_BLAS");
    else Deno.env.set("FACGCNN_BLAS", previous);
  }
  assert.equal(b.usesOpenBlas, false);
  assert.match(b.info().gemm, /fallback/);
  const notes = b.info().notes.join("; ");
  assert.ok(notes.includes(MISSING_BLAS) && notes.includes("FACGCNN_BLAS"), notes);
  // An explicit blasPath wins over the environment.
  assert.equal(loadBlas(MISSING_BLAS).reason?.includes(MISSING_BLAS), true);
});

Deno.test({
  name: `blas: the default backend uses OpenBLAS and says so${
    OPENBLAS_SKIP ? ` (skipped: ${OPENBLAS_SKIP})` : ""
  }`,
  ignore: OPENBLAS_SKIP !== undefined,
  fn() {
    const info = openblasCase.backend!.info();
    assert.match(info.gemm, /OpenBLAS cblas_sgemm/);
    assert.ok(!info.notes.some((n) => /no CBLAS|fallback/i.test(n)), info.notes.join("; "));
  },
});

// --- correctness ---------------------------------------------------------------------------

interface GemmCase {
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  alpha: number;
  beta: number;
  /** Extra columns of padding beyond the logical row length, and element offsets. */
  padA: number;
  padB: number;
  padC: number;
  offA: number;
  offB: number;
  offC: number;
}

const SENTINEL = 1e30;

/** Storage-shaped operands: logical values random, everything else a huge sentinel. */
function operands(c: GemmCase, seed: number) {
  const rng = seededRng(seed);
  const rnd = () => Math.fround(2 * rng() - 1);
  const [ar, ac] = c.transA ? [c.k, c.m] : [c.m, c.k];
  const [br, bc] = c.transB ? [c.n, c.k] : [c.k, c.n];
  const lda = ac + c.padA, ldb = bc + c.padB, ldc = c.n + c.padC;
  const fill = (rows: number, cols: number, ld: number, off: number, sentinel: number) => {
    const a = new Float32Array(off + Math.max(0, rows - 1) * ld + cols + 2).fill(sentinel);
    for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) a[off + r * ld + j] = rnd();
    return a;
  };
  const a = fill(ar, ac, lda, c.offA, SENTINEL);
  const b = fill(br, bc, ldb, c.offB, SENTINEL);
  const cInit = fill(c.m, c.n, ldc, c.offC, 7);
  // Reference in float64: C = alpha·op(A)·op(B) + beta·C (C not read when beta = 0).
  const expected = Float64Array.from(cInit);
  for (let i = 0; i < c.m; i++) {
    for (let j = 0; j < c.n; j++) {
      let s = 0;
      for (let p = 0; p < c.k; p++) {
        const av = c.transA ? a[c.offA + p * lda + i] : a[c.offA + i * lda + p];
        const bv = c.transB ? b[c.offB + j * ldb + p] : b[c.offB + p * ldb + j];
        s += av * bv;
      }
      const at = c.offC + i * ldc + j;
      expected[at] = c.alpha * s + (c.beta === 0 ? 0 : c.beta * cInit[at]);
    }
  }
  return { a, b, cInit, expected, lda, ldb, ldc };
}

function cases(): GemmCase[] {
  const out: GemmCase[] = [];
  const shapes: [number, number, number][] = [[37, 53, 29], [1, 1, 1], [5, 3, 1], [7, 9, 300], [
    4,
    6,
    0,
  ]];
  const scalars: [number, number][] = [[1, 0], [0.5, -1.5], [-2, 1], [0, 0.25]];
  let i = 0;
  for (const [m, n, k] of shapes) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        for (const [alpha, beta] of scalars) {
          const padded = i++ % 2 === 1;
          out.push({
            m,
            n,
            k,
            transA,
            transB,
            alpha,
            beta,
            padA: padded ? 3 : 0,
            padB: padded ? 1 : 0,
            padC: padded ? 2 : 0,
            offA: padded ? 5 : 0,
            offB: padded ? 2 : 0,
            offC: padded ? 3 : 0,
          });
        }
      }
    }
  }
  return out;
}

const describe = (c: GemmCase) =>
  `${c.m}×${c.n}×${c.k} tA=${c.transA} tB=${c.transB} α=${c.alpha} β=${c.beta} pad=${c.padA},${c.padB},${c.padC} off=${c.offA},${c.offB},${c.offC}`;

const tolerance = (c: GemmCase) => 2e-6 * Math.max(1, c.k) * Math.max(1, Math.abs(c.alpha));

Deno.test("blas: fallback GEMM equals a float64 reference (transposes, ld, offsets, α, β)", () => {
  cases().forEach((c, i) => {
    const { a, b, cInit, expected, lda, ldb, ldc } = operands(c, 100 + i);
    const out = cInit.slice();
    gemmFallback(
      c.transA,
      c.transB,
      c.m,
      c.n,
      c.k,
      c.alpha,
      a.subarray(c.offA),
      lda,
      b.subarray(c.offB),
      ldb,
      c.beta,
      out.subarray(c.offC),
      ldc,
    );
    assertClose(out, expected, 1e-5, tolerance(c), describe(c));
  });
});

Deno.test({
  name: `blas: OpenBLAS sgemm equals the fallback and the float64 reference${
    OPENBLAS_SKIP ? ` (skipped: ${OPENBLAS_SKIP})` : ""
  }`,
  ignore: OPENBLAS_SKIP !== undefined,
  fn() {
    const blas = loadBlas();
    assert.equal(blas.reason, undefined);
    cases().forEach((c, i) => {
      const { a, b, cInit, expected, lda, ldb, ldc } = operands(c, 100 + i);
      const viaBlas = cInit.slice(), viaFallback = cInit.slice();
      for (const [fn, out] of [[blas.sgemm, viaBlas], [gemmFallback, viaFallback]] as const) {
        fn(
          c.transA,
          c.transB,
          c.m,
          c.n,
          c.k,
          c.alpha,
          a.subarray(c.offA),
          lda,
          b.subarray(c.offB),
          ldb,
          c.beta,
          out.subarray(c.offC),
          ldc,
        );
      }
      assertClose(viaBlas, expected, 1e-5, tolerance(c), `openblas ${describe(c)}`);
      assertClose(viaBlas, viaFallback, 1e-5, tolerance(c), `openblas vs fallback ${describe(c)}`);
    });
  },
});

forEachBackend("blas: backend.gemm with storage offsets and leading dimensions", (be: Backend) => {
  cases().forEach((c, i) => {
    const { a, b, cInit, expected, lda, ldb, ldc } = operands(c, 500 + i);
    const sa = be.upload(a), sb = be.upload(b), sc = be.upload(cInit);
    try {
      be.gemm({
        transA: c.transA,
        transB: c.transB,
        m: c.m,
        n: c.n,
        k: c.k,
        alpha: c.alpha,
        beta: c.beta,
        a: sa,
        aOffset: c.offA,
        lda,
        b: sb,
        bOffset: c.offB,
        ldb,
        c: sc,
        cOffset: c.offC,
        ldc,
      });
      assertClose(be.download(sc), expected, 1e-5, tolerance(c), describe(c));
    } finally {
      be.free(sa);
      be.free(sb);
      be.free(sc);
    }
  });
});

Deno.test("blas: beta = 0 ignores NaN in C (BLAS semantics) on every GEMM", () => {
  const sgemms = [gemmFallback];
  if (!OPENBLAS_SKIP) sgemms.push(loadBlas().sgemm);
  for (const sgemm of sgemms) {
    const a = new Float32Array([1, 2, 3, 4]), b = new Float32Array([1, 0, 0, 1]);
    const c = new Float32Array(4).fill(NaN);
    sgemm(false, false, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2);
    assert.deepEqual(Array.from(c), [1, 2, 3, 4]);
  }
});
