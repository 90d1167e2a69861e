import assert from "node:assert/strict";
import {
  candidatePaths,
  CUBLAS_SPEC,
  KERNELS_SPEC,
  LibraryNotFoundError,
  openLibrary,
} from "../../lib/backend/cuda/loader.ts";
import { CUBLAS_SYMBOLS } from "../../lib/backend/cuda/ffi/cublas.ts";
import { chooseDevice, probeCuda } from "../../lib/backend/cuda/probe.ts";
import { buildScatterCsr } from "../../lib/backend/cuda/scatter_csr.ts";

/** The error `fn` throws (fails when it does not throw). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  assert.fail("expected an exception");
}

/** Runs `fn` with `name` set to `value` (restored afterwards). */
function withEnv<T>(name: string, value: string, fn: () => T): T {
  const old = Deno.env.get(name);
  Deno.env.set(name, value);
  try {
    return fn();
  } finally {
    if (old === undefined) Deno.env.delete(name);
    else Deno.env.set(name, old);
  }
}

const missing = `/nonexistent-${crypto.randomUUID()}/libcublas.so.13`;

Deno.test("loader: an env override is the only candidate, and its failure lists it", () => {
  withEnv("FACGCNN_CUBLAS", missing, () => {
    assert.deepEqual([...candidatePaths(CUBLAS_SPEC)], [missing]);
    const err = thrown(() => openLibrary(CUBLAS_SPEC, CUBLAS_SYMBOLS));
    assert.ok(err instanceof LibraryNotFoundError);
    assert.deepEqual(err.tried, [`${missing} (FACGCNN_CUBLAS: no such file)`]);
    assert.match(err.message, /libcublas not found/);
    assert.ok(err.message.includes(missing));
    assert.ok(err.summary.includes(missing));
  });
});

Deno.test("loader: a file that is not a library is reported with the dlopen error", () => {
  const bogus = Deno.makeTempFileSync({ suffix: ".so" });
  try {
    Deno.writeTextFileSync(bogus, "not an ELF file");
    withEnv("FACGCNN_CUBLAS", bogus, () => {
      const err = thrown(() => openLibrary(CUBLAS_SPEC, CUBLAS_SYMBOLS));
      assert.ok(err instanceof LibraryNotFoundError);
      assert.equal(err.tried.length, 1);
      assert.ok(err.tried[0].startsWith(bogus) && !err.tried[0].includes("no such file"));
    });
  } finally {
    Deno.removeSync(bogus);
  }
});

Deno.test("loader: default candidates search the CUDA folders and end with bare sonames", () => {
  const paths = [...candidatePaths(CUBLAS_SPEC)];
  assert.ok(paths.length >= CUBLAS_SPEC.sonames.length);
  assert.deepEqual(paths.slice(-CUBLAS_SPEC.sonames.length), [...CUBLAS_SPEC.sonames]);
  for (const p of paths.slice(0, -CUBLAS_SPEC.sonames.length)) assert.ok(p.startsWith("/"), p);
  // The helper is looked for in build/native and never as a bare name.
  assert.ok([...candidatePaths(KERNELS_SPEC)].every((p) => p.includes("/")));
});

Deno.test("probeCuda never throws; unavailable means a reason naming the missing piece", () => {
  const p = probeCuda();
  if (p.available) {
    assert.ok(p.device && p.device.length > 0);
  } else {
    assert.match(p.reason, /^CUDA unavailable: /);
    assert.match(p.reason, /lib(cudart|cublas|facgcnn_kernels)|device|cudaGetDeviceCount/);
    assert.equal(p.device, undefined);
  }
  const choice = chooseDevice();
  assert.equal(choice.device, p.available ? "cuda" : "cpu");
  assert.match(choice.message, p.available ? /using CUDA$/ : /using CPU$/);
});

Deno.test("probeCuda with a missing cuBLAS override falls back to the CPU naming libcublas", () => {
  withEnv("FACGCNN_CUBLAS", missing, () => {
    const p = probeCuda();
    assert.equal(p.available, false);
    assert.match(p.reason, /libcublas\.so not found/);
    assert.ok(p.reason.includes(missing));
    assert.match(chooseDevice().message, /libcublas.*; using CPU$/);
  });
});

Deno.test("buildScatterCsr groups rows by destination, stably", () => {
  const index = new Int32Array([2, 0, 2, 1, 0, 2]);
  const { perm, offsets } = buildScatterCsr(index, 4);
  assert.deepEqual([...offsets], [0, 2, 3, 6, 6]);
  assert.deepEqual([...perm], [1, 4, 3, 0, 2, 5]);
  for (let d = 0; d < 4; d++) {
    for (let p = offsets[d]; p < offsets[d + 1]; p++) assert.equal(index[perm[p]], d);
  }
  assert.throws(() => buildScatterCsr(new Int32Array([0, 4]), 4), RangeError);
});
