/**
 * CudaBackend's host-side logic without a GPU: the cudart/cuBLAS/helper calls go to fakes over
 * a host "device heap", and cuBLAS is a naive column-major GEMM. This checks what is easy to get
 * wrong and independent of the device: the row-major → column-major GEMM swap with offsets and
 * leading dimensions, copies and their byte offsets, storage accounting, the OOM retry, errors.
 */
import assert from "node:assert/strict";
import { CudaBackend } from "../../lib/backend/cuda/cuda_backend.ts";
import { fakeLibraries } from "./_fake_device.ts";

function rowMajorGemm(
  tA: boolean,
  tB: boolean,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: Float32Array,
  aOff: number,
  lda: number,
  b: Float32Array,
  bOff: number,
  ldb: number,
  beta: number,
  c: Float32Array,
  cOff: number,
  ldc: number,
) {
  const out = c.slice();
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let l = 0; l < k; l++) {
        s += a[aOff + (tA ? l * lda + i : i * lda + l)] *
          b[bOff + (tB ? j * ldb + l : l * ldb + j)];
      }
      out[cOff + i * ldc + j] = alpha * s + beta * c[cOff + i * ldc + j];
    }
  }
  return out;
}

const seq = (n: number, seed: number) =>
  Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 7.1 + i * 1.3));

Deno.test("fake CUDA: row-major gemm via the column-major swap, all transposes, offsets, ld", () => {
  const be = new CudaBackend(fakeLibraries().libs, { tf32: false, device: 0 });
  const [m, n, k] = [5, 4, 3];
  for (const tA of [false, true]) {
    for (const tB of [false, true]) {
      const lda = (tA ? m : k) + 2,
        ldb = (tB ? k : n) + 1,
        ldc = n + 3,
        aOff = 3,
        bOff = 2,
        cOff = 5;
      const a = seq(aOff + (tA ? k : m) * lda, 1),
        b = seq(bOff + (tB ? n : k) * ldb, 2),
        c = seq(cOff + m * ldc, 3);
      const A = be.upload(a), B = be.upload(b), C = be.upload(c);
      be.gemm({
        transA: tA,
        transB: tB,
        m,
        n,
        k,
        alpha: 1.5,
        beta: -0.5,
        a: A,
        aOffset: aOff,
        lda,
        b: B,
        bOffset: bOff,
        ldb,
        c: C,
        cOffset: cOff,
        ldc,
      });
      const want = rowMajorGemm(
        tA,
        tB,
        m,
        n,
        k,
        1.5,
        a,
        aOff,
        lda,
        b,
        bOff,
        ldb,
        -0.5,
        c,
        cOff,
        ldc,
      );
      const got = be.download(C);
      for (let i = 0; i < want.length; i++) {
        assert.ok(Math.abs(got[i] - want[i]) < 1e-5, `${tA}/${tB} [${i}] ${got[i]} vs ${want[i]}`);
      }
      [A, B, C].forEach((s) => be.free(s));
    }
  }
  assert.throws(
    () =>
      be.gemm({
        transA: false,
        transB: false,
        m: 2,
        n: 2,
        k: 2,
        alpha: 1,
        beta: 0,
        a: be.alloc("float32", 3),
        lda: 2,
        b: be.alloc("float32", 4),
        ldb: 2,
        c: be.alloc("float32", 4),
        ldc: 2,
      }),
    /need 4/,
  );
});

Deno.test("fake CUDA: upload/download/copy/fill, accounting, errors", () => {
  const be = new CudaBackend(fakeLibraries().libs, { tf32: false, device: 0 });
  const x = seq(100, 4), idx = Int32Array.from({ length: 10 }, (_, i) => i * i);
  const X = be.upload(x), I = be.upload(idx), Z = be.alloc("float32", 50);
  assert.deepEqual(be.download(X), x);
  assert.deepEqual(be.download(I), idx);
  assert.ok((be.download(Z) as Float32Array).every((v) => v === 0));
  be.copy(X, Z, 20, 30, 10);
  assert.deepEqual(be.download(Z).subarray(10, 30), x.subarray(30, 50));
  be.fill(Z, 3);
  assert.ok((be.download(Z) as Float32Array).every((v) => v === 3));
  assert.deepEqual(be.memory(), { liveBuffers: 3, liveBytes: 640, peakBytes: 640 });
  assert.throws(() => be.copy(X, I, 5), /float32 → int32/);
  assert.throws(() => be.unary("exp", X, Z, 100), /need 100/);
  assert.throws(() => be.unary("exp", X, X, 100), /CUDA unary exp: fake error \(719\)/);
  be.free(X);
  be.free(X); // twice: a no-op
  assert.throws(() => be.download(X), /after free/);
  const other = new CudaBackend(fakeLibraries().libs, { tf32: false, device: 0 });
  assert.throws(() => other.download(I), /another backend/);
  be.free(I);
  be.free(Z);
  assert.equal(be.memory().liveBuffers, 0);
  assert.equal(be.memory().peakBytes, 640);
});

Deno.test("fake CUDA: OOM releases cached blocks and retries", () => {
  const fake = fakeLibraries(8 << 20);
  const be = new CudaBackend(fake.libs, { tf32: false, device: 0 });
  be.free(be.alloc("float32", (5 << 20) / 4)); // a 6 MiB block, now cached
  const y = be.alloc("float32", (3 << 20) / 4); // needs 4 MiB: only fits after the release
  assert.equal(be.allocatorStats().oomRetries, 1);
  assert.equal(fake.stats().used, 4 << 20);
  assert.throws(() => be.alloc("float32", (7 << 20) / 4), /out of memory/);
  be.free(y);
});
