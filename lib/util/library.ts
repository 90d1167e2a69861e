/**
 * One policy for opening native libraries (OpenBLAS, the native CPU kernels, cudart, cuBLAS,
 * cuSPARSE, the CUDA helper), so every library is found, reported and kept the same way:
 * 1. its environment override (a `FACGCNN_*` setting): when set, only that path is tried, so a
 *    wrong override is an error rather than a silent fallback;
 * 2. the usual places: the spec's folders (each soname in each existing folder), then the
 *    linker cache (`ldconfig -p`), then — unless the spec says not to — the bare soname, left
 *    to the dynamic linker;
 * 3. a failure throws {@linkcode LibraryNotFoundError} listing every path tried and why.
 *
 * A library opened here stays open for the life of the process and is shared by every caller
 * that asks for the same spec and symbols: closing a library that a CUDA context, a cuBLAS
 * handle or an OpenMP pool still uses unloads code those still run.
 * @module
 */

import { setting, SETTING_VARIABLES, type SettingName } from "./settings.ts";

/** What to look for: one library. */
export interface LibrarySpec {
  /** Short name used in messages, e.g. "libcublas". */
  readonly name: string;
  /** The setting holding an explicit path. */
  readonly override: SettingName;
  /** A path given in code (a backend option): tried alone, before the setting. */
  readonly path?: string;
  /** File names to look for, preferred first (e.g. `libcublas.so.13`). */
  readonly sonames: readonly string[];
  /** Folders searched, in order (computed when searching; missing ones are skipped). */
  readonly folders: () => readonly string[];
  /** Also try the bare sonames (the dynamic linker's search) after the folders; default true. */
  readonly bareNames?: boolean;
  /**
   * Sonames opened first from the candidate's folder (e.g. `libcublasLt.so.13` for cuBLAS):
   * the dynamic linker resolves a dependency by soname against already-loaded libraries, so a
   * library opened by absolute path finds its siblings although their folder is not searched.
   */
  readonly companions?: (candidate: string) => readonly string[];
  /** What to tell the user when nothing was found. */
  readonly hint?: string;
}

/** A library could not be opened; `tried` holds one "path (why)" line per attempt. */
export class LibraryNotFoundError extends Error {
  /** Short form for one-line messages, e.g. "libcublas.so not found (tried 14 paths: …)". */
  readonly summary: string;
  /** Every attempt, "path (reason)". */
  readonly tried: readonly string[];

  /** Builds the message from the spec and the attempts. */
  constructor(spec: LibrarySpec, tried: string[]) {
    const hint = spec.hint ?? `set ${variableOf(spec)} to its path`;
    super(`${spec.name} not found; ${hint}. Tried:\n  ${tried.join("\n  ")}`);
    this.name = "LibraryNotFoundError";
    this.summary = `${spec.name}.so not found (tried ${tried.length} path${
      tried.length === 1 ? "" : "s"
    }: ${tried.slice(0, 3).join("; ")}${tried.length > 3 ? "; …" : ""}; ${hint})`;
    this.tried = tried;
  }
}

/** An opened library and the path it came from. */
export interface LoadedLibrary<S extends Deno.ForeignLibraryInterface> {
  /** The opened library (never closed: see the module note). */
  lib: Deno.DynamicLibrary<S>;
  /** The path (or bare soname) it was opened from. */
  path: string;
}

function variableOf(spec: LibrarySpec): string {
  return SETTING_VARIABLES[spec.override].variable;
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** True when `path` is an existing folder. */
export function isDir(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/** Names in a folder (empty when it cannot be read). */
export function listDir(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name);
  } catch {
    return [];
  }
}

let ldconfigCache: Map<string, string> | undefined;

/** soname → path from `ldconfig -p` (empty when it cannot run); read once per process. */
export function ldconfigEntries(): Map<string, string> {
  if (ldconfigCache) return ldconfigCache;
  ldconfigCache = new Map();
  const arch = Deno.build.arch === "x86_64" ? "x86-64" : "AArch64";
  for (const exe of ["ldconfig", "/sbin/ldconfig", "/usr/sbin/ldconfig"]) {
    try {
      const out = new Deno.Command(exe, { args: ["-p"], stdout: "piped", stderr: "null" })
        .outputSync();
      if (!out.success) continue;
      // Lines look like: "\tlibcublas.so.12 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcublas.so.12"
      for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
        const m = line.match(/^\s*(\S+)\s+\(([^)]*)\)\s+=>\s+(\S+)/);
        if (m && m[2].includes(arch) && !ldconfigCache.has(m[1])) ldconfigCache.set(m[1], m[3]);
      }
      break;
    } catch {
      // not installed or no --allow-run: skip this source
    }
  }
  return ldconfigCache;
}

/**
 * Ordered, de-duplicated paths to try for `spec`, lazily (the linker cache is consulted only
 * when the folders did not answer): the override alone when it is set, else each soname in
 * each existing folder and the linker cache's entry, then the bare sonames.
 */
export function* candidatePaths(spec: LibrarySpec): Generator<string> {
  const override = spec.path ?? setting(spec.override);
  if (override) {
    yield override;
    return;
  }
  const seen = new Set<string>();
  const fresh = (p: string) => !seen.has(p) && (seen.add(p), true);
  const dirs = [...new Set(spec.folders())].filter(isDir);
  for (const soname of spec.sonames) {
    for (const d of dirs) {
      const p = `${d}/${soname}`;
      if (isFile(p) && fresh(p)) yield p;
    }
  }
  for (const soname of spec.sonames) {
    const cached = ldconfigEntries().get(soname);
    if (cached && fresh(cached)) yield cached;
  }
  if (spec.bareNames ?? true) { for (const s of spec.sonames) if (fresh(s)) yield s; }
}

/** Opened libraries by symbol table, then by path: one dlopen per (symbols, path) per process. */
const opened = new WeakMap<object, Map<string, LoadedLibrary<Deno.ForeignLibraryInterface>>>();
let openedCount = 0;

/** Number of distinct libraries this process has opened through `openLibrary` (tests). */
export function openedLibraryCount(): number {
  return openedCount;
}

/** The message of a dlopen failure, without Deno's repeated prefix. */
function dlopenReason(e: unknown): string {
  return (e instanceof Error ? e.message.split("\n")[0] : String(e))
    .replace(/^(Could not open library: )+/, "");
}

/**
 * Opens the first candidate of `spec` that loads, has every symbol of `symbols` and, when
 * `accept` is given, that `accept` does not refuse (it returns a reason to refuse, e.g. a
 * runtime whose driver is too old, and the search goes on). A path opened before with the
 * same symbols is returned again without a second dlopen.
 * @throws LibraryNotFoundError listing each attempt and its failure.
 */
export function openLibrary<const S extends Deno.ForeignLibraryInterface>(
  spec: LibrarySpec,
  symbols: S,
  accept?: (lib: LoadedLibrary<S>) => string | null,
): LoadedLibrary<S> {
  const tried: string[] = [];
  const override = spec.path ?? setting(spec.override);
  for (const path of candidatePaths(spec)) {
    const bare = !path.includes("/");
    if (!bare && !isFile(path)) {
      tried.push(
        `${path} (${override ? `${SETTING_VARIABLES[spec.override].variable}: ` : ""}` +
          "no such file)",
      );
      continue;
    }
    let bySymbols = opened.get(symbols);
    if (!bySymbols) opened.set(symbols, bySymbols = new Map());
    let loaded = bySymbols.get(path) as LoadedLibrary<S> | undefined;
    if (!loaded) {
      try {
        if (!bare) openCompanions(spec, path);
        loaded = { lib: Deno.dlopen(path, symbols), path };
      } catch (e) {
        tried.push(`${path} (${bare ? "dynamic linker: " : ""}${dlopenReason(e)})`);
        continue;
      }
      bySymbols.set(path, loaded as LoadedLibrary<Deno.ForeignLibraryInterface>);
      openedCount++;
    }
    const refused = accept?.(loaded) ?? null;
    if (refused === null) return loaded;
    tried.push(`${path} (${refused})`);
  }
  if (!override) {
    const missing = [...new Set(spec.folders())].filter((d) => !isDir(d));
    if (missing.length > 0) tried.push(`folders that do not exist: ${missing.join(", ")}`);
  }
  throw new LibraryNotFoundError(spec, tried);
}

const companionsOpened = new Set<string>();

function openCompanions(spec: LibrarySpec, path: string): void {
  const dir = path.slice(0, path.lastIndexOf("/"));
  for (const soname of spec.companions?.(path) ?? []) {
    const p = `${dir}/${soname}`;
    if (companionsOpened.has(p) || !isFile(p)) continue;
    try {
      Deno.dlopen(p, {}); // kept open: what depends on it is about to be loaded
      companionsOpened.add(p);
    } catch {
      // the main library's own dlopen will then report what is missing
    }
  }
}

/** Companions opened so far (absolute paths), for `backendInfo()` notes and tests. */
export function openedCompanions(): string[] {
  return [...companionsOpened];
}
