/**
 * Where the CUDA libraries are looked for, on top of the shared loader policy
 * (lib/util/library.ts: override, usual places, one error listing every path tried):
 * `$CUDA_PATH`/`$CUDA_HOME` and `/usr/local/cuda*` (`lib64`, `targets/<arch>-linux/lib`),
 * `$LD_LIBRARY_PATH`, the `nvidia-*` Python wheels (`site-packages/nvidia/<pkg>/lib`,
 * `nvidia/cu13/lib`) and, for the helper, `build/native/`; then the linker cache and the bare
 * soname.
 * @module
 */

import { envVar } from "../../util/settings.ts";
import { type LibrarySpec, listDir } from "../../util/library.ts";

export { candidatePaths, LibraryNotFoundError, openLibrary } from "../../util/library.ts";
export type { LibrarySpec, LoadedLibrary } from "../../util/library.ts";

/** Python `site-packages`/`dist-packages` folders that may hold `nvidia-*` wheels. */
function sitePackages(): string[] {
  const roots = [envVar("VIRTUAL_ENV"), envVar("CONDA_PREFIX"), "/usr", "/usr/local", "/opt/conda"];
  const home = envVar("HOME");
  if (home) roots.push(`${home}/.local`);
  const dirs: string[] = [];
  for (const root of roots) {
    if (!root) continue;
    for (const py of listDir(`${root}/lib`).filter((n) => n.startsWith("python3")).sort()) {
      for (const kind of ["site-packages", "dist-packages"]) dirs.push(`${root}/lib/${py}/${kind}`);
    }
  }
  return dirs;
}

/** CUDA toolkit library folders, newest `/usr/local/cuda-X.Y` first. */
function cudaDirs(): string[] {
  const homes = [envVar("CUDA_PATH"), envVar("CUDA_HOME"), "/usr/local/cuda"];
  const versions = listDir("/usr/local").filter((n) => /^cuda-\d/.test(n))
    .sort((a, b) => b.localeCompare(a, undefined, { numeric: true }));
  homes.push(...versions.map((v) => `/usr/local/${v}`));
  const arch = Deno.build.arch === "x86_64" ? "x86_64" : "sbsa";
  const dirs: string[] = [];
  for (const h of homes) if (h) dirs.push(`${h}/lib64`, `${h}/targets/${arch}-linux/lib`);
  return dirs;
}

/** The CUDA folders, `$LD_LIBRARY_PATH`, then these `nvidia/` wheel folders. */
export function cudaFolders(wheelDirs: readonly string[], extra: readonly string[] = []) {
  return (): string[] => [
    ...cudaDirs(),
    ...(envVar("LD_LIBRARY_PATH") ?? "").split(":").filter((d) => d !== ""),
    ...sitePackages().flatMap((sp) => wheelDirs.map((w) => `${sp}/nvidia/${w}`)),
    ...extra,
  ];
}

/**
 * The runtime: CUDA 13 first, then 12. Each one found is tried until `cudaGetDeviceCount`
 * succeeds (cuda_context.ts), so an older driver falls back to an installed CUDA 12 runtime.
 */
export const CUDART_SPEC: LibrarySpec = {
  name: "libcudart",
  override: "cudart",
  sonames: ["libcudart.so.13", "libcudart.so.12", "libcudart.so"],
  folders: cudaFolders(["cuda_runtime/lib", "cu13/lib", "cu12/lib"]),
};

/** The `libcublasLt.so.N` next to a `libcublas.so.N` (cuBLAS needs it, by soname). */
function cublasLt(candidate: string): string[] {
  const m = candidate.match(/libcublas\.so(\.\d+)?$/);
  return m ? [`libcublasLt.so${m[1] ?? ""}`] : [];
}

/** cuBLAS of the runtime's major version first (`major` 13 or 12), with libcublasLt. */
export function cublasSpec(major = 13): LibrarySpec {
  const other = major === 12 ? 13 : 12;
  return {
    name: "libcublas",
    override: "cublas",
    sonames: [`libcublas.so.${major}`, `libcublas.so.${other}`, "libcublas.so"],
    folders: cudaFolders(["cublas/lib", `cu${major}/lib`, `cu${other}/lib`]),
    companions: cublasLt,
  };
}

/** cuBLAS, CUDA 13 first. */
export const CUBLAS_SPEC: LibrarySpec = cublasSpec(13);

/** cuSPARSE (soname 12 in CUDA 12 and 13). */
export const CUSPARSE_SPEC: LibrarySpec = {
  name: "libcusparse",
  override: "cusparse",
  sonames: ["libcusparse.so.12", "libcusparse.so.13", "libcusparse.so"],
  folders: cudaFolders(["cusparse/lib", "cu13/lib", "cu12/lib"]),
};

/** The repository's `build/native/`, where `deno task build:native` puts the helper. */
export const NATIVE_BUILD_DIR: string = new URL("../../../build/native", import.meta.url).pathname;

/** The helper built from `native/` (`deno task build:native`), never looked up by bare name. */
export const KERNELS_SPEC: LibrarySpec = {
  name: "libfacgcnn_kernels",
  override: "cudaKernels",
  sonames: ["libfacgcnn_kernels.so"],
  folders: () => [NATIVE_BUILD_DIR, "build/native"],
  bareNames: false,
  hint: "run `deno task build:native` or set FACGCNN_KERNELS",
};
