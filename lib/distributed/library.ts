/**
 * Opening an MPI library: `FACGCNN_MPI` (a path) or the usual sonames, ordered by the
 * launcher that started the process, with the ABI (Open MPI or MPICH) found from the
 * exported symbols.
 *
 * `Deno.dlopen` opens libraries with `RTLD_LAZY | RTLD_LOCAL` and takes no flags
 * (denoland/deno#13508). Open MPI builds that load their components (`mca_*.so`) as plugins
 * expect libmpi's symbols in the global namespace; opened locally they fail in `MPI_Init`
 * with "undefined symbol" errors. So the library is first opened through libc's own
 * `dlopen(path, RTLD_NOW | RTLD_GLOBAL)` (the handle is kept), which puts it and its
 * dependencies in the global namespace before Deno opens the same file. Where libc cannot be
 * opened that way, `LD_PRELOAD=<libmpi> mpirun ...` does the same (see the README).
 * @module
 */

import type { Launcher } from "./environment.ts";
import {
  MPICH_SYMBOLS,
  type MpichLibrary,
  OPEN_MPI_SYMBOLS,
  type OpenMpiLibrary,
} from "./mpi_ffi.ts";
import { setting } from "../util/settings.ts";

/** An opened MPI library of either ABI. */
export type MpiLibrary =
  | { abi: "openmpi"; lib: OpenMpiLibrary; path: string; global: boolean }
  | { abi: "mpich"; lib: MpichLibrary; path: string; global: boolean };

/** Open MPI's sonames first (Debian/Ubuntu, RHEL module paths are found through ld.so). */
const OPEN_MPI_CANDIDATES = [
  "libmpi.so.40",
  "/usr/lib/x86_64-linux-gnu/libmpi.so.40",
  "/usr/lib/aarch64-linux-gnu/libmpi.so.40",
  "/usr/lib64/openmpi/lib/libmpi.so.40",
];

/** MPICH ABI: MPICH itself, then `libmpi.so.12` (Intel MPI, MVAPICH, Cray MPICH). */
const MPICH_CANDIDATES = [
  "libmpich.so.12",
  "/usr/lib/x86_64-linux-gnu/libmpich.so.12",
  "/usr/lib/aarch64-linux-gnu/libmpich.so.12",
  "/usr/lib64/mpich/lib/libmpich.so.12",
  "libmpi.so.12",
];

/** The candidate libraries for a launcher, its own family first. */
export function mpiCandidates(launcher: Launcher | null): string[] {
  const generic = ["libmpi.so"];
  return launcher === "openmpi" || launcher === "pmix"
    ? [...OPEN_MPI_CANDIDATES, ...MPICH_CANDIDATES, ...generic]
    : [...MPICH_CANDIDATES, ...OPEN_MPI_CANDIDATES, ...generic];
}

const LIBC_SYMBOLS = {
  // void *dlopen(const char *filename, int flags);
  dlopen: { parameters: ["buffer", "i32"], result: "pointer" },
  // char *dlerror(void);
  dlerror: { parameters: [], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

/** `RTLD_NOW | RTLD_GLOBAL` of the platform (glibc/musl: 2 | 0x100; macOS: 2 | 8). */
const RTLD_NOW_GLOBAL = Deno.build.os === "darwin" ? 0x2 | 0x8 : 0x2 | 0x100;

let libc: Deno.DynamicLibrary<typeof LIBC_SYMBOLS> | null | undefined;

function openLibc(): Deno.DynamicLibrary<typeof LIBC_SYMBOLS> | null {
  if (libc !== undefined) return libc;
  const names = Deno.build.os === "darwin"
    ? ["libSystem.B.dylib"]
    : ["libc.so.6", "libdl.so.2", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1"];
  libc = null;
  for (const name of names) {
    try {
      libc = Deno.dlopen(name, LIBC_SYMBOLS);
      break;
    } catch {
      // try the next one
    }
  }
  return libc;
}

/**
 * Opens `path` with `RTLD_NOW | RTLD_GLOBAL` through libc (the handle is never closed, like
 * every library the process keeps). Returns null on success, else the reason.
 */
export function dlopenGlobal(path: string): string | null {
  const c = openLibc();
  if (c === null) return "libc's dlopen is not reachable";
  const handle = c.symbols.dlopen(new TextEncoder().encode(path + "\0"), RTLD_NOW_GLOBAL);
  if (handle !== null) return null;
  const err = c.symbols.dlerror();
  return err === null ? "dlopen failed" : new Deno.UnsafePointerView(err).getCString();
}

function firstLine(e: unknown): string {
  return e instanceof Error ? e.message.split("\n")[0] : String(e);
}

/** Tries one file as Open MPI, then as MPICH ABI. */
function openOne(path: string, failures: string[]): MpiLibrary | null {
  const globalError = dlopenGlobal(path);
  if (globalError !== null && /No such file|cannot open shared object/.test(globalError)) {
    failures.push(`${path}: not found`);
    return null;
  }
  const global = globalError === null;
  try {
    return { abi: "openmpi", lib: Deno.dlopen(path, OPEN_MPI_SYMBOLS), path, global };
  } catch (e) {
    const openMpiError = firstLine(e);
    try {
      return { abi: "mpich", lib: Deno.dlopen(path, MPICH_SYMBOLS), path, global };
    } catch (e2) {
      failures.push(`${path}: ${openMpiError}; as MPICH ABI: ${firstLine(e2)}`);
      return null;
    }
  }
}

/**
 * Opens the MPI library: `path`, else `FACGCNN_MPI`, else {@link mpiCandidates} for the
 * launcher. Throws an error listing every place tried and how to fix it.
 */
export function openMpiLibrary(launcher: Launcher | null, path?: string): MpiLibrary {
  const override = path ?? setting("mpi");
  const candidates = override !== undefined ? [override] : mpiCandidates(launcher);
  const failures: string[] = [];
  for (const candidate of candidates) {
    const opened = openOne(candidate, failures);
    if (opened !== null) return opened;
  }
  const where = override !== undefined ? `FACGCNN_MPI=${override}` : "the usual places";
  throw new Error(
    `no MPI library found in ${where} (${failures.join("; ")}). Install Open MPI or MPICH ` +
      `(Debian: apt-get install openmpi-bin libopenmpi-dev, or mpich libmpich-dev) or set ` +
      `FACGCNN_MPI to the libmpi.so of the mpirun that launched this job`,
  );
}
