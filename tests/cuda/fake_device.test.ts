/**
 * The CUDA backend's batch upload, scatter plans, debug checks, Gaussians, zero-size and
 * out-of-range inputs, disposal and memory counters, on the fake device (tests/cuda/_fake_device.ts).
 */
import assert from "node:assert/strict";
import { CudaBackend } from "../../lib/backend/cuda/cuda_backend.ts";
import { fakeLibraries } from "./_fake_device.ts";

const seq = (n: number, seed: number) =>
  Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 7.1 + i * 1.3));

function withEnv<T>(name: string, value: string | undefined, fn: () => T): T {
  const old = Deno.env.get(name);
  if (value === undefined) Deno.env.delete(name);
  else Deno.env.set(name, value);
  try {
    return fn();
  } finally {
    if (old === undefined) Deno.env.delete(name);
    else Deno.env.set(name, old);
  }
}

/** `out[index[i]] += src[i]` in float64. */
function scatterRef(src: Float32Array, index: Int32Array, base: Float32Array, cols: number) {
  const out = Float64Array.from(base);
  for (let i = 0; i < index.length; i++) {
    for (let j = 0; j < cols; j++) out[index[i] * cols + j] += src[i * cols + j];
  }
  return out;
}

Deno.test("fake CUDA: uploadBatch is one pinned copy, no wait, and carries the scatter plan", () => {
  const fake = fakeLibraries();
  const be = withEnv(
    "FACGCNN_SCATTER",
    "csr",
    () => new CudaBackend(fake.libs, { tf32: false, device: 0 }),
  );
  const cols = 3, nDst = 4;
  const index = Int32Array.of(2, 0, 2, 1, 0, 2), src = seq(index.length * cols, 1);
  const base = seq(nDst * cols, 2), extra = Int32Array.of(7, 8, 9);
  const before = { ...fake.counts };
  const [S, I, O, X] = be.uploadBatch([
    { data: src },
    { data: index, scatterRows: nDst },
    { data: base },
    { data: extra },
  ]);
  assert.equal(fake.counts.h2d - before.h2d, 1, "one host→device copy");
  assert.equal(fake.counts.syncs - before.syncs, 0, "no wait");
  assert.equal(fake.counts.pinned, 1, "a page-locked staging buffer");
  // perm + offsets of the plan travel in the same copy: 4 bytes per element.
  const elements = src.length + index.length + base.length + extra.length + index.length + nDst + 1;
  assert.equal(fake.counts.h2dBytes - before.h2dBytes, 4 * elements);
  assert.deepEqual(be.download(S), src);
  assert.deepEqual(be.download(I), index);
  assert.deepEqual(be.download(X), extra);
  be.scatterAddRows(S, I, O, index.length, cols);
  assert.equal(fake.counts.csrScatters, 1, "the deterministic CSR kernel ran");
  assert.equal(fake.counts.atomicScatters ?? 0, 0);
  const got = be.download(O) as Float32Array;
  scatterRef(src, index, base, cols).forEach((v, i) => assert.ok(Math.abs(got[i] - v) < 1e-6));
  // An index without a plan scatters with atomics.
  const J = be.upload(index);
  be.scatterAddRows(S, J, O, index.length, cols);
  assert.equal(fake.counts.atomicScatters, 1);
  // The plan is freed with its index: every storage accounted for.
  assert.equal(be.memory().liveBuffers, 7);
  for (const s of [S, I, O, X, J]) be.free(s);
  assert.equal(be.memory().liveBuffers, 0);
  be.dispose();
});

Deno.test("fake CUDA: staged copies of a step share the buffer; it is reused after a wait", () => {
  const fake = fakeLibraries();
  const be = new CudaBackend(fake.libs, { tf32: false, device: 0 });
  const s0 = fake.counts.syncs;
  const a = be.uploadBatch([{ data: seq(10, 3) }]);
  // The second batch and the targets go after the first copy's bytes: no wait.
  const b = be.uploadBatch([{ data: seq(10, 4) }]);
  const t = be.upload(seq(8, 6));
  assert.equal(fake.counts.syncs - s0, 0, "staged copies of one step do not wait");
  assert.deepEqual(be.download(t), seq(8, 6)); // the step's one wait (the loss)
  assert.equal(fake.counts.syncs - s0, 1);
  assert.deepEqual(be.download(a[0]), seq(10, 3));
  assert.deepEqual(be.download(b[0]), seq(10, 4));
  const s1 = fake.counts.syncs;
  const c = be.uploadBatch([{ data: seq(10, 5) }]);
  assert.equal(fake.counts.syncs - s1, 0, "no wait after the download");
  // 1 MiB batches: the buffer (1.25 MiB) holds one; the next waits for it, then reuses it.
  const d = be.uploadBatch([{ data: seq(1 << 18, 7) }]);
  assert.equal(fake.counts.syncs - s1, 0);
  const e = be.uploadBatch([{ data: seq(1 << 18, 8) }]);
  assert.equal(fake.counts.syncs - s1, 1, "a full buffer waits for the copies in flight");
  assert.deepEqual(be.download(c[0]), seq(10, 5));
  assert.deepEqual(be.download(d[0]), seq(1 << 18, 7));
  assert.deepEqual(be.download(e[0]), seq(1 << 18, 8));
  // A large plain upload still waits (the caller may reuse its array at once).
  const s2 = fake.counts.syncs;
  const big = be.upload(seq(1 << 15, 9));
  assert.equal(fake.counts.syncs - s2, 1);
  assert.equal(be.transferStats().h2dCopies, 7);
  for (const s of [...a, ...b, ...c, ...d, ...e, t, big]) be.free(s);
  be.dispose();
});

Deno.test("fake CUDA: FACGCNN_SCATTER=atomic (the default) ignores the plan; a bad mode is an error", () => {
  const fake = fakeLibraries();
  const be = withEnv(
    "FACGCNN_SCATTER",
    undefined,
    () => new CudaBackend(fake.libs, { tf32: false, device: 0 }),
  );
  const [S, I, O] = be.uploadBatch([
    { data: seq(6, 1) },
    { data: Int32Array.of(1, 0, 1), scatterRows: 2 },
    { data: new Float32Array(4) },
  ]);
  be.scatterAddRows(S, I, O, 3, 2);
  assert.equal(fake.counts.atomicScatters, 1);
  assert.equal(fake.counts.csrScatters ?? 0, 0);
  be.dispose();
  assert.throws(
    () =>
      withEnv(
        "FACGCNN_SCATTER",
        "fast",
        () => new CudaBackend(fake.libs, { tf32: false, device: 0 }),
      ),
    /FACGCNN_SCATTER must be csr, atomic or spmm/,
  );
});

Deno.test("fake CUDA: check mode rejects out-of-range indices and waits after each launch", () => {
  const fake = fakeLibraries();
  const be = new CudaBackend(fake.libs, { tf32: false, device: 0, check: true });
  const src = be.upload(seq(12, 1)), out = be.alloc("float32", 6);
  const bad = be.upload(Int32Array.of(0, 4)); // src has 4 rows of 3
  assert.throws(
    () => be.gatherRows(src, bad, out, 2, 3),
    /gatherRows: index\[1\] = 4 is outside \[0, 4\)/,
  );
  assert.equal(fake.counts.launches, 0, "the kernel was never launched");
  assert.throws(() => be.scatterAddRows(out, bad, src, 2, 3), /scatterAddRows: index\[1\] = 4/);
  const good = be.upload(Int32Array.of(3, 1));
  const s0 = fake.counts.syncs;
  be.gatherRows(src, good, out, 2, 3);
  assert.ok(fake.counts.syncs > s0, "the launch was waited for");
  const x = seq(12, 1);
  assert.deepEqual(be.download(out), Float32Array.from([...x.slice(9, 12), ...x.slice(3, 6)]));
  const offsets = be.upload(Int32Array.of(0, 3, 2));
  assert.throws(
    () => be.segmentReduce(src, offsets, out, 2, 3, false),
    /segmentReduce: offsets\[2\]/,
  );
  be.dispose();
  // Without check mode the same bad index reaches the kernel (no host copy of it).
  const fast = new CudaBackend(fakeLibraries().libs, { tf32: false, device: 0 });
  const s = fast.upload(seq(12, 1)),
    i = fast.upload(Int32Array.of(0, 1)),
    o = fast.alloc("float32", 6);
  const d0 = fast.transferStats().d2hCopies;
  fast.gatherRows(s, i, o, 2, 3);
  assert.equal(fast.transferStats().d2hCopies, d0, "no index download outside check mode");
  fast.dispose();
});

Deno.test("fake CUDA: gaussianExpand writes its column block at an offset", () => {
  const fake = fakeLibraries();
  const be = new CudaBackend(fake.libs, { tf32: false, device: 0 });
  const d = Float32Array.of(0.1, 1.3, 7.9), ld = 6, off = ld; // one row skipped
  const D = be.upload(d), O = be.alloc("float32", off + d.length * ld);
  be.fill(O, -1);
  be.gaussianExpand({
    distances: D,
    out: O,
    outOffset: off,
    rows: 3,
    ld,
    col: 1,
    centres: 4,
    start: 0,
    step: 0.5,
    sigma: 0.5,
  });
  const got = be.download(O) as Float32Array;
  for (let i = 0; i < off + d.length * ld; i++) {
    const r = Math.floor((i - off) / ld), c = (i - off) % ld - 1;
    const want = i < off || c < 0 || c >= 4 ? -1 : Math.exp(-((d[r] - 0.5 * c) ** 2) / 0.25);
    assert.ok(Math.abs(got[i] - want) < 1e-6, `element ${i}: ${got[i]} vs ${want}`);
  }
  assert.throws(
    () =>
      be.gaussianExpand({
        distances: D,
        out: O,
        rows: 3,
        ld,
        col: 3,
        centres: 4,
        start: 0,
        step: 0.5,
        sigma: 0.5,
      }),
    /exceed ld 6/,
  );
  assert.throws(
    () =>
      be.gaussianExpand({
        distances: D,
        out: O,
        outOffset: 20,
        rows: 3,
        ld,
        col: 0,
        centres: 4,
        start: 0,
        step: 0.5,
        sigma: 0.5,
      }),
    /need 36/,
  );
  be.dispose();
});

Deno.test("fake CUDA: zero-size inputs are no-ops, out-of-range ones are RangeErrors", () => {
  const fake = fakeLibraries();
  const be = new CudaBackend(fake.libs, { tf32: false, device: 0 });
  const e = be.upload(new Float32Array(0)), z = be.alloc("int32", 0);
  assert.equal(be.download(e).length, 0);
  const parts = be.uploadBatch([{ data: new Float32Array(0) }, { data: new Int32Array(0) }]);
  assert.equal(parts.length, 2);
  assert.equal(fake.counts.h2d, 0, "nothing to copy");
  // An empty scatter index still has a plan: offsets [0] for zero destination rows.
  const [ix] = be.uploadBatch([{ data: new Int32Array(0), scatterRows: 0 }]);
  assert.equal(ix.length, 0);
  be.gaussianExpand({
    distances: e,
    out: e,
    rows: 0,
    ld: 41,
    col: 0,
    centres: 41,
    start: 0,
    step: 0.2,
    sigma: 0.2,
  });
  be.gemm({
    transA: false,
    transB: false,
    m: 0,
    n: 3,
    k: 2,
    alpha: 1,
    beta: 0,
    a: e,
    lda: 2,
    b: be.alloc("float32", 6),
    ldb: 3,
    c: e,
    ldc: 3,
  });
  assert.throws(() => be.alloc("float32", -1), RangeError);
  assert.throws(() => be.alloc("float32", 2 ** 31), RangeError);
  const x = be.upload(seq(6, 1)), small = be.alloc("float32", 2);
  assert.throws(() => be.copy(x, small, 3), /need 3/);
  assert.throws(() => be.gatherRows(x, z, small, 1, 3), /need 1|need 3/);
  assert.throws(
    () =>
      be.copyCols({
        src: x,
        srcLd: 3,
        srcCol: 2,
        dst: small,
        dstLd: 2,
        dstCol: 0,
        rows: 1,
        cols: 2,
        accumulate: false,
      }),
    /exceeds the row stride/,
  );
  be.dispose();
});

Deno.test("fake CUDA: dispose frees everything once; the backend then refuses work", () => {
  const fake = fakeLibraries();
  const be = new CudaBackend(fake.libs, { tf32: false, device: 0 });
  const x = be.upload(seq(1000, 1));
  be.uploadBatch([{ data: seq(10, 2) }]); // creates the pinned staging buffer
  be.dispose();
  assert.equal(fake.stats().used, 0, "all device memory returned");
  assert.equal(be.memory().liveBuffers, 0);
  be.dispose(); // a second call is a no-op
  assert.throws(() => be.download(x), /disposed/);
  assert.throws(() => be.alloc("float32", 4), /disposed/);
});

Deno.test("fake CUDA: storages reclaimed by the garbage collector leave the live counts", async () => {
  // A child process with --expose-gc: drop unreferenced storages, collect, let the registry run.
  const script = new URL("./_gc_reclaim.ts", import.meta.url);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--v8-flags=--expose-gc", script.pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const r = JSON.parse(text.trim().split("\n").at(-1)!);
  assert.equal(r.before.liveBuffers, 65);
  assert.equal(r.after.liveBuffers, 1, "only the kept storage is live");
  assert.equal(r.after.liveBytes, 4 * 1024);
  assert.equal(r.allocatorLiveBlocks, 1);
});

Deno.test("fake CUDA: TF32 GEMM goes through cublasGemmEx with the fast-TF32 compute type", () => {
  const fake = fakeLibraries();
  const be = new CudaBackend(fake.libs, { tf32: true, device: 0 });
  const [m, n, k] = [3, 4, 5];
  const a = seq(m * k, 1), b = seq(k * n, 2);
  const A = be.upload(a), C = be.alloc("float32", m * n);
  be.gemm({
    transA: false,
    transB: true,
    m,
    n,
    k: k,
    alpha: 1,
    beta: 0,
    a: A,
    lda: k,
    b: be.upload(
      Float32Array.from({ length: n * k }, (_, i) => b[(i % k) * n + Math.floor(i / k)]),
    ),
    ldb: k,
    c: C,
    ldc: n,
  });
  assert.equal(fake.counts.gemmEx, 1);
  assert.equal(fake.counts.lastComputeType, 77, "CUBLAS_COMPUTE_32F_FAST_TF32");
  const got = be.download(C) as Float32Array;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let l = 0; l < k; l++) s += a[i * k + l] * b[l * n + j];
      assert.ok(Math.abs(got[i * n + j] - s) < 1e-5, `C[${i},${j}]`);
    }
  }
  be.dispose();
});

Deno.test("fake CUDA: applyFrames passes the matrix and output offsets to the frameApply kernel", () => {
  const fake = fakeLibraries();
  const be = new CudaBackend(fake.libs, { tf32: false, device: 0 });
  const src = seq(9, 1), mats = seq(36, 2), centres = seq(6, 3);
  const offsets = Int32Array.of(0, 2, 3);
  const [S, O, M, T] = be.uploadBatch([
    { data: src },
    { data: offsets },
    { data: mats },
    { data: centres },
  ]);
  const out = be.alloc("float32", 18);
  be.applyFrames({
    ...{ src: S, offsets: O, centres: T, matrices: M, matrixOffset: 18, out },
    ...{ outOffset: 9, segments: 2, rows: 3 },
  });
  const got = be.download(out);
  for (let r = 0; r < 3; r++) {
    const c = r < 2 ? 0 : 1;
    for (let k = 0; k < 3; k++) {
      let want = 0;
      for (let i = 0; i < 3; i++) {
        want += (src[3 * r + i] - centres[3 * c + i]) * mats[18 + 9 * c + 3 * i + k];
      }
      assert.ok(Math.abs(got[9 + 3 * r + k] - want) < 1e-5, `row ${r} col ${k}`);
      assert.equal(got[3 * r + k], 0, "rows before the output offset untouched");
    }
  }
  assert.throws(
    () =>
      be.applyFrames({ src: S, offsets: O, centres: null, matrices: M, out, segments: 2, rows: 7 }),
    /applyFrames/,
  );
  for (const s of [S, O, M, T, out]) be.free(s);
  be.dispose();
});
