/**
 * Finds and opens the CUDA libraries: one loader per library, each trying, in order,
 * 1. its environment override (`FACGCNN_CUDART`, `FACGCNN_CUBLAS`, `FACGCNN_CUSPARSE`,
 *    `FACGCNN_KERNELS`): when set, only that path is tried, so a wrong override is an error
 *    rather than a silent fallback;
 * 2. the usual places: `$CUDA_PATH`/`$CUDA_HOME` and `/usr/local/cuda*` (`lib64`,
 *    `targets/x86_64-linux/lib`), `$LD_LIBRARY_PATH`, the linker cache (`ldconfig -p`), the
 *    `nvidia-*` Python wheels (`site-packages/nvidia/<pkg>/lib`, `nvidia/cu13/lib`) and, for
 *    the helper, `build/native/`;
 * 3. the bare soname, left to the dynamic linker.
 * A failure throws {@linkcode LibraryNotFoundError} listing every path tried and why it failed.
 * @module
 */

import { CUBLAS_SYMBOLS } from "./ffi/cublas.ts";
import { CUDART_SYMBOLS } from "./ffi/cudart.ts";
import { CUSPARSE_SYMBOLS } from "./ffi/cusparse.ts";
import { KERNEL_SYMBOLS } from "./ffi/kernels.ts";

/** What to look for: one CUDA library. */
export interface LibrarySpec {
  /** Short name used in messages, e.g. "libcublas". */
  readonly name: string;
  /** Environment variable holding an explicit path. */
  readonly envVar: string;
  /** File names to look for, preferred first (e.g. `libcublas.so.13`). */
  readonly sonames: readonly string[];
  /** Folders of the `nvidia-*` Python wheels under `site-packages/nvidia/` that may hold it. */
  readonly wheelDirs: readonly string[];
  /** Extra folders searched after the CUDA ones (the helper's build folder). */
  readonly extraDirs?: readonly string[];
}

/** The runtime. */
export const CUDART_SPEC: LibrarySpec = {
  name: "libcudart",
  envVar: "FACGCNN_CUDART",
  sonames: ["libcudart.so.13", "libcudart.so.12", "libcudart.so"],
  wheelDirs: ["cuda_runtime/lib", "cu13/lib", "cu12/lib"],
};

/** cuBLAS. */
export const CUBLAS_SPEC: LibrarySpec = {
  name: "libcublas",
  envVar: "FACGCNN_CUBLAS",
  sonames: ["libcublas.so.13", "libcublas.so.12", "libcublas.so"],
  wheelDirs: ["cublas/lib", "cu13/lib", "cu12/lib"],
};

/** cuSPARSE (soname 12 in CUDA 12 and 13). */
export const CUSPARSE_SPEC: LibrarySpec = {
  name: "libcusparse",
  envVar: "FACGCNN_CUSPARSE",
  sonames: ["libcusparse.so.12", "libcusparse.so.13", "libcusparse.so"],
  wheelDirs: ["cusparse/lib", "cu13/lib", "cu12/lib"],
};

/** The repository's `build/native/`, where `deno task build:native` puts the helper. */
export const NATIVE_BUILD_DIR: string = new URL("../../../build/native", import.meta.url).pathname;

/** The helper built from `native/` (`deno task build:native`). */
export const KERNELS_SPEC: LibrarySpec = {
  name: "libfacgcnn_kernels",
  envVar: "FACGCNN_KERNELS",
  sonames: ["libfacgcnn_kernels.so"],
  wheelDirs: [],
  extraDirs: [NATIVE_BUILD_DIR, "build/native"],
};

/** A library could not be opened; `tried` holds one "path: why" line per attempt. */
export class LibraryNotFoundError extends Error {
  /** Short form for one-line messages, e.g. "libcublas not found (tried 14 paths)". */
  readonly summary: string;
  /** Every attempt, "path (reason)". */
  readonly tried: readonly string[];

  /** Builds the message from the spec and the attempts. */
  constructor(spec: LibrarySpec, tried: string[]) {
    const hint = spec === KERNELS_SPEC
      ? "run `deno task build:native` or set FACGCNN_KERNELS"
      : `set ${spec.envVar} to its path`;
    super(`${spec.name} not found; ${hint}. Tried:\n  ${tried.join("\n  ")}`);
    this.name = "LibraryNotFoundError";
    this.summary = `${spec.name}.so not found (tried ${tried.length} path${
      tried.length === 1 ? "" : "s"
    }: ${tried.slice(0, 3).join("; ")}${tried.length > 3 ? "; …" : ""}; ${hint})`;
    this.tried = tried;
  }
}

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined; // no --allow-env: behave as if unset
  }
}

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

function isDir(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

function listDir(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name);
  } catch {
    return [];
  }
}

let ldconfigCache: Map<string, string> | undefined;

/** soname → path from `ldconfig -p` (empty when it cannot run); read once per process. */
function ldconfigEntries(): Map<string, string> {
  if (ldconfigCache) return ldconfigCache;
  ldconfigCache = new Map();
  for (const exe of ["ldconfig", "/sbin/ldconfig", "/usr/sbin/ldconfig"]) {
    try {
      const out = new Deno.Command(exe, { args: ["-p"], stdout: "piped", stderr: "null" })
        .outputSync();
      if (!out.success) continue;
      // Lines look like: "\tlibcublas.so.12 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcublas.so.12"
      for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
        const m = line.match(/^\s*(\S+)\s+\(([^)]*)\)\s+=>\s+(\S+)/);
        if (m && m[2].includes("x86-64") && !ldconfigCache.has(m[1])) ldconfigCache.set(m[1], m[3]);
      }
      break;
    } catch {
      // not installed or no --allow-run: skip this source
    }
  }
  return ldconfigCache;
}

/** Python `site-packages`/`dist-packages` folders that may hold `nvidia-*` wheels. */
function sitePackages(): string[] {
  const roots = [env("VIRTUAL_ENV"), env("CONDA_PREFIX"), "/usr", "/usr/local", "/opt/conda"];
  const home = env("HOME");
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
  const homes = [env("CUDA_PATH"), env("CUDA_HOME"), "/usr/local/cuda"];
  const versions = listDir("/usr/local").filter((n) => /^cuda-\d/.test(n))
    .sort((a, b) => b.localeCompare(a, undefined, { numeric: true }));
  homes.push(...versions.map((v) => `/usr/local/${v}`));
  const dirs: string[] = [];
  for (const h of homes) if (h) dirs.push(`${h}/lib64`, `${h}/targets/x86_64-linux/lib`);
  return dirs;
}

/** Folders searched for `spec`, in order, whether or not they exist. */
export function searchFolders(spec: LibrarySpec): string[] {
  return [
    ...new Set([
      ...cudaDirs(),
      ...(env("LD_LIBRARY_PATH") ?? "").split(":").filter((d) => d !== ""),
      ...sitePackages().flatMap((sp) => spec.wheelDirs.map((w) => `${sp}/nvidia/${w}`)),
      ...(spec.extraDirs ?? []),
    ]),
  ];
}

/**
 * Ordered, de-duplicated paths to try for `spec`: the override alone when it is set, else the
 * soname in each existing search folder, the linker cache's entry, then the bare soname.
 */
export function candidatePaths(spec: LibrarySpec): string[] {
  const override = env(spec.envVar);
  if (override) return [override];
  const dirs = searchFolders(spec).filter(isDir);
  const paths: string[] = [];
  for (const soname of spec.sonames) {
    for (const d of dirs) paths.push(`${d}/${soname}`);
    const cached = ldconfigEntries().get(soname);
    if (cached) paths.push(cached);
  }
  if (spec !== KERNELS_SPEC) paths.push(...spec.sonames); // bare names: the dynamic linker's search
  return [...new Set(paths)];
}

/** An opened library and the path it came from. */
export interface LoadedLibrary<S extends Deno.ForeignLibraryInterface> {
  /** The opened library. */
  lib: Deno.DynamicLibrary<S>;
  /** The path (or bare soname) it was opened from. */
  path: string;
}

/**
 * Opens the first candidate of `spec` that loads and has every symbol of `symbols`.
 * @throws LibraryNotFoundError listing each attempt and its failure.
 */
export function loadLibrary<const S extends Deno.ForeignLibraryInterface>(
  spec: LibrarySpec,
  symbols: S,
): LoadedLibrary<S> {
  const tried: string[] = [];
  const override = env(spec.envVar);
  for (const path of candidatePaths(spec)) {
    const bare = !path.includes("/");
    if (!bare && !exists(path)) {
      tried.push(`${path} (${override ? `${spec.envVar}: ` : ""}no such file)`);
      continue;
    }
    try {
      return { lib: Deno.dlopen(path, symbols), path };
    } catch (e) {
      const why = (e instanceof Error ? e.message.split("\n")[0] : String(e))
        .replace(/^(Could not open library: )+/, "");
      tried.push(`${path} (${bare ? "dynamic linker: " : ""}${why})`);
    }
  }
  if (!override) {
    const missing = searchFolders(spec).filter((d) => !isDir(d));
    if (missing.length > 0) tried.push(`folders that do not exist: ${missing.join(", ")}`);
  }
  throw new LibraryNotFoundError(spec, tried);
}

/** Opens the CUDA runtime. */
export function loadCudart(): LoadedLibrary<typeof CUDART_SYMBOLS> {
  return loadLibrary(CUDART_SPEC, CUDART_SYMBOLS);
}

/** Opens cuBLAS. */
export function loadCublas(): LoadedLibrary<typeof CUBLAS_SYMBOLS> {
  return loadLibrary(CUBLAS_SPEC, CUBLAS_SYMBOLS);
}

/** Opens cuSPARSE. */
export function loadCusparse(): LoadedLibrary<typeof CUSPARSE_SYMBOLS> {
  return loadLibrary(CUSPARSE_SPEC, CUSPARSE_SYMBOLS);
}

/**
 * Opens the helper. Load the runtime first: the helper needs `libcudart.so.13`, and the
 * dynamic linker reuses an already-loaded library with that soname.
 */
export function loadKernels(): LoadedLibrary<typeof KERNEL_SYMBOLS> {
  return loadLibrary(KERNELS_SPEC, KERNEL_SYMBOLS);
}
