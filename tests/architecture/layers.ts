/**
 * The layer order of lib/ and the checks the layer test runs: which folder each lib/ file
 * imports, upward imports, cycles between folders, and bare specifiers. ARCHITECTURE.md at the
 * repository root explains the same table; the test checks that the two agree.
 * @module
 */

import { parseImports } from "./imports.ts";

/**
 * Rank of each lib/ folder. A folder may import its own files, folders of strictly lower rank,
 * and `util` (the floor: `io` and `plot` share rank 0 with it but may use it). Everything outside
 * lib/ (`mod.ts`, `cli/`, `bench/`, `tests/`) is above every folder.
 */
export const LAYERS: Readonly<Record<string, number>> = {
  util: 0,
  io: 0,
  plot: 0,
  crystal: 1,
  data: 2,
  graph: 3,
  frames: 3,
  backend: 4,
  tensor: 5,
  autograd: 6,
  nn: 7,
  models: 8,
  optim: 8,
  distributed: 8,
  train: 9,
  display: 10,
};

/** Where an import leads, seen from lib/. */
export type Target =
  | { kind: "folder"; folder: string }
  | { kind: "outside"; path: string } // a relative import that leaves lib/
  | { kind: "package"; specifier: string }; // npm:, node:, a bare name, a URL

/** One import of one lib/ file. */
export interface ImportEdge {
  /** Repository-relative path of the importing file, e.g. `lib/crystal/cif.ts`. */
  file: string;
  /** Its folder under lib/ (`backend` for `lib/backend/cpu/blas.ts`). */
  folder: string;
  line: number;
  specifier: string;
  target: Target;
}

/** The lib/ folder of a repository-relative path, or null for files outside lib/ or at its top. */
export function folderOf(path: string): string | null {
  const parts = path.split("/");
  return parts[0] === "lib" && parts.length > 2 ? parts[1] : null;
}

/** Resolves `specifier` imported by repository-relative `file`. */
export function resolveTarget(file: string, specifier: string): Target {
  if (!specifier.startsWith("./") && !specifier.startsWith("../")) {
    return { kind: "package", specifier };
  }
  const parts = file.split("/").slice(0, -1);
  for (const p of specifier.split("/")) {
    if (p === ".") continue;
    if (p === "..") parts.pop();
    else parts.push(p);
  }
  const path = parts.join("/");
  const folder = folderOf(path);
  return folder === null ? { kind: "outside", path } : { kind: "folder", folder };
}

/** The imports of one file's source. */
export function edgesOf(file: string, source: string): ImportEdge[] {
  const folder = folderOf(file);
  if (folder === null) throw new Error(`${file} is not inside a lib/ folder`);
  return parseImports(source, file).map((site) => ({
    file,
    folder,
    line: site.line,
    specifier: site.specifier,
    target: resolveTarget(file, site.specifier),
  }));
}

/** Every `.ts` file under `root` (a directory URL), repository-relative, sorted. */
export async function listTs(root: URL, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(root)) {
    const rel = `${prefix}/${entry.name}`;
    if (entry.isDirectory) out.push(...await listTs(new URL(`${entry.name}/`, root), rel));
    else if (entry.isFile && entry.name.endsWith(".ts")) out.push(rel);
  }
  return out.sort();
}

/** The imports of every lib/ file of the repository at `repo` (a directory URL). */
export async function scanLib(repo: URL): Promise<ImportEdge[]> {
  const edges: ImportEdge[] = [];
  for (const file of await listTs(new URL("lib/", repo), "lib")) {
    edges.push(...edgesOf(file, await Deno.readTextFile(new URL(file, repo))));
  }
  return edges;
}

function describeTarget(t: Target): string {
  if (t.kind === "folder") {
    return t.folder in LAYERS ? `${t.folder} ${LAYERS[t.folder]}` : `${t.folder} (no rank)`;
  }
  return t.kind === "outside" ? `${t.path} (outside lib/, above every layer)` : t.specifier;
}

/** `file:line → specifier (layer a → layer b)`. */
export function formatEdge(e: ImportEdge): string {
  const from = e.folder in LAYERS ? `${e.folder} ${LAYERS[e.folder]}` : `${e.folder} (no rank)`;
  return `${e.file}:${e.line} → ${e.specifier} (${from} → ${describeTarget(e.target)})`;
}

/** True when `from` may import `to` under the layer order. */
export function mayImport(from: string, to: string): boolean {
  if (!(from in LAYERS) || !(to in LAYERS)) return false;
  return from === to || to === "util" || LAYERS[to] < LAYERS[from];
}

/**
 * Imports that go up (or sideways between two folders of one rank), leave lib/, or touch a
 * folder that has no rank, each formatted by `formatEdge`.
 */
export function upwardImports(edges: readonly ImportEdge[]): string[] {
  const out: string[] = [];
  for (const e of edges) {
    if (e.target.kind === "package") continue;
    if (e.target.kind === "outside" || !mayImport(e.folder, e.target.folder)) {
      out.push(formatEdge(e));
    }
  }
  return out;
}

/** Imports that need deno.json's import map (bare names, URLs): lib/ must load without it. */
export function bareSpecifiers(edges: readonly ImportEdge[]): string[] {
  return edges.filter((e) => e.target.kind === "package" && !/^(npm|node):/.test(e.specifier)).map((
    e,
  ) => `${e.file}:${e.line} → ${e.specifier} (needs the import map; use npm:/node:)`);
}

/**
 * The import cycles between folders: one line per strongly connected component of the folder
 * graph with more than one folder, naming one cycle through it and an import behind each step.
 */
export function folderCycles(edges: readonly ImportEdge[]): string[] {
  const graph = new Map<string, Map<string, ImportEdge>>();
  for (const e of edges) {
    if (e.target.kind !== "folder" || e.target.folder === e.folder) continue;
    if (!graph.has(e.folder)) graph.set(e.folder, new Map());
    const out = graph.get(e.folder)!;
    if (!out.has(e.target.folder)) out.set(e.target.folder, e);
  }
  // Tarjan's strongly connected components.
  const index = new Map<string, number>(), low = new Map<string, number>();
  const stack: string[] = [], onStack = new Set<string>();
  const components: string[][] = [];
  let counter = 0;
  const visit = (v: string) => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1) components.push(comp.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);

  components.sort((a, b) => a[0] < b[0] ? -1 : 1);
  return components.map((comp) => {
    const members = new Set(comp);
    // A shortest cycle through the component's first folder (breadth-first inside it).
    const start = comp[0];
    const prev = new Map<string, string>();
    const queue = [start];
    let last: string | null = null;
    while (queue.length > 0 && last === null) {
      const v = queue.shift()!;
      for (const w of graph.get(v)?.keys() ?? []) {
        if (!members.has(w)) continue;
        if (w === start) {
          last = v;
          break;
        }
        if (!prev.has(w)) {
          prev.set(w, v);
          queue.push(w);
        }
      }
    }
    const path = [start];
    for (let v = last!; v !== start; v = prev.get(v)!) path.splice(1, 0, v);
    path.push(start);
    const steps = path.slice(0, -1).map((v, i) => {
      const e = graph.get(v)!.get(path[i + 1])!;
      return `${e.file}:${e.line} → ${e.specifier}`;
    });
    return `cycle ${path.join(" → ")} (folders ${comp.join(", ")}): ${steps.join("; ")}`;
  });
}

/** The rank table of ARCHITECTURE.md: rows `| rank | folder, folder | … |`, folder names in backticks. */
export function documentedLayers(markdown: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of markdown.split("\n")) {
    const m = /^\|\s*(\d+)\s*\|([^|]*)\|/.exec(line);
    if (!m) continue;
    for (const name of m[2].matchAll(/`([a-z_]+)\/?`/g)) out[name[1]] = Number(m[1]);
  }
  return out;
}
