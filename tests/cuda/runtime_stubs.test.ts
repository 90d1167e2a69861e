/**
 * The CUDA library loading against stub libraries built here with the C compiler (every symbol
 * of our FFI tables, answering success, with a chosen `cudaGetDeviceCount` result): runtimes
 * are tried 13 before 12 until one sees a device, the probe and the backend share one set of
 * libraries opened once per process, and disposing a backend unloads nothing.
 * Skipped without a C compiler.
 */
import assert from "node:assert/strict";
import { CUBLAS_SYMBOLS } from "../../lib/backend/cuda/ffi/cublas.ts";
import { CUDART_SYMBOLS } from "../../lib/backend/cuda/ffi/cudart.ts";
import { KERNEL_SYMBOLS } from "../../lib/backend/cuda/ffi/kernels.ts";
import { cudaLibraries, openRuntime } from "../../lib/backend/cuda/cuda_context.ts";
import { createCudaBackend } from "../../lib/backend/cuda/cuda_backend.ts";
import { probeCuda } from "../../lib/backend/cuda/probe.ts";
import { openedLibraryCount } from "../../lib/util/library.ts";

const hasCc = (() => {
  try {
    return new Deno.Command("cc", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

/** C source defining every symbol of `table`; `special` replaces some bodies. */
function stubSource(table: Deno.ForeignLibraryInterface, special: Record<string, string>): string {
  const lines = ["#include <stdint.h>"];
  for (const [name, def] of Object.entries(table)) {
    if (special[name]) lines.push(special[name]);
    else if ((def as Deno.ForeignFunction).result === "i64") {
      lines.push(`int64_t ${name}() { return 0; }`);
    } else if ((def as Deno.ForeignFunction).result === "pointer") {
      lines.push(`void* ${name}() { return 0; }`);
    } else lines.push(`int ${name}() { return 0; }`);
  }
  return lines.join("\n") + "\n";
}

function build(dir: string, file: string, source: string): string {
  Deno.writeTextFileSync(`${dir}/${file}.c`, source);
  const out = new Deno.Command("cc", {
    args: ["-shared", "-fPIC", "-o", `${dir}/${file}`, `${dir}/${file}.c`],
    stderr: "piped",
  }).outputSync();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return `${dir}/${file}`;
}

/** A stub runtime: `cudaGetDeviceCount` fails with `error` or reports one device. */
function runtime(error: number, driver: number, version: number): string {
  return stubSource(CUDART_SYMBOLS, {
    cudaGetDeviceCount:
      `int cudaGetDeviceCount(int* n) { if (${error}) return ${error}; *n = 1; return 0; }`,
    cudaDriverGetVersion: `int cudaDriverGetVersion(int* v) { *v = ${driver}; return 0; }`,
    cudaRuntimeGetVersion: `int cudaRuntimeGetVersion(int* v) { *v = ${version}; return 0; }`,
    cudaGetErrorString: `const char* cudaGetErrorString(int c) { return "stub error"; }`,
  });
}

function withEnv<T>(vars: Record<string, string | undefined>, fn: () => T): T {
  const old = Object.fromEntries(Object.keys(vars).map((k) => [k, Deno.env.get(k)]));
  for (const [k, v] of Object.entries(vars)) {
    v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
  }
  try {
    return fn();
  } finally {
    for (const [k, v] of Object.entries(old)) {
      v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
    }
  }
}

Deno.test({
  name: "runtime fallback: CUDA 13 refused by an old driver, CUDA 12 taken",
  ignore: !hasCc,
  fn() {
    const root = Deno.makeTempDirSync();
    try {
      Deno.mkdirSync(`${root}/lib64`);
      // cudaErrorInsufficientDriver (35) from the 13 runtime, a device from the 12 one.
      build(`${root}/lib64`, "libcudart.so.13", runtime(35, 12040, 13000));
      const v12 = build(`${root}/lib64`, "libcudart.so.12", runtime(0, 12040, 12040));
      withEnv({ CUDA_PATH: root, FACGCNN_CUDART: undefined }, () => {
        const { rt, count } = openRuntime();
        assert.equal(rt.path, v12);
        assert.equal(count, 1);
      });
      // Nothing acceptable: the error lists each runtime with its reason and the driver.
      Deno.removeSync(v12);
      build(`${root}/lib64`, "libcudart.so.12", runtime(100, 12040, 12040));
      withEnv({ FACGCNN_CUDART: `${root}/lib64/libcudart.so.13` }, () => {
        assert.throws(() => openRuntime(), (e: Error) => {
          assert.match(
            e.message,
            /libcudart\.so\.13 \(cudaGetDeviceCount: stub error \(35\); the driver supports CUDA 12\.4\)/,
          );
          return true;
        });
      });
    } finally {
      Deno.removeSync(root, { recursive: true });
    }
  },
});

Deno.test({
  name: "CUDA libraries: opened once per process, shared by probe and backend, never closed",
  ignore: !hasCc,
  fn() {
    const dir = Deno.makeTempDirSync();
    try {
      const rt = build(dir, "libcudart.so.12", runtime(0, 13000, 12080));
      const blas = build(dir, "libcublas.so.12", stubSource(CUBLAS_SYMBOLS, {}));
      const kernels = build(dir, "libfacgcnn_kernels.so", stubSource(KERNEL_SYMBOLS, {}));
      withEnv({
        FACGCNN_CUDART: rt,
        FACGCNN_CUBLAS: blas,
        FACGCNN_KERNELS: kernels,
        FACGCNN_CUSPARSE: `${dir}/missing.so`,
        FACGCNN_CUDA_DEVICE: undefined,
      }, () => {
        const first = cudaLibraries();
        const opened = openedLibraryCount();
        assert.equal(cudaLibraries(), first, "the same libraries again");
        const probe = probeCuda();
        assert.ok(probe.available, probe.reason);
        assert.match(probe.reason, /driver 13\.0, runtime 12\.8/);
        const be = createCudaBackend();
        be.dispose(); // frees the backend's handles; the libraries stay
        assert.equal(cudaLibraries(), first);
        assert.equal(openedLibraryCount(), opened, "no library opened twice");
        assert.equal(first.cusparse, null);
        assert.match(first.cusparseError, /missing\.so/);
        assert.equal(first.versions.runtime, 12080);
      });
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
