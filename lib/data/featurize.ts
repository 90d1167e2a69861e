/**
 * Featurization of a whole data set into one {@link GraphSet}: concatenated typed arrays
 * (grown geometrically while building, no per-edge objects), optionally cached on disk
 * (see `graph_cache.ts`). Subsets and splits are in `lib/graph/subset.ts`.
 * @module
 */

import type { Dataset, GraphSet, SkippedEntry } from "../crystal/types.ts";
import { neighborList, type NeighborTies } from "../crystal/neighbors.ts";
import { cartesian } from "../crystal/lattice.ts";
import { parseCsv } from "./readers/csv_parse.ts";
import { errorMessage } from "./readers/common.ts";
import { loadAtomInit } from "../crystal/atom_features.ts";
import {
  detectFormat,
  loadDataset,
  type LoadDatasetOptions,
  type LoadedDataset,
} from "./dataset.ts";
import {
  type CachedGraphs,
  cacheKey,
  cachePath,
  DEFAULT_CACHE_DIR,
  GraphCacheError,
  readGraphCache,
  sha256Hex,
  writeGraphCache,
} from "./graph_cache.ts";

/**
 * Options of {@link featurize}.
 */
export interface FeaturizeOptions {
  /** Neighbour cut-off (Å), default 8. */
  radius?: number;
  /** Nearest neighbours kept per atom, default 12. */
  maxNeighbors?: number;
  /** A tied last neighbour shell: kept whole (`"include"`, default), dropped, or truncated as CGCNN does. */
  neighborTies?: NeighborTies;
  /**
   * Graph cache folder; default `.cache/graphs` (relative to the working directory,
   * git-ignored); `null` disables the cache.
   */
  cacheDir?: string | null;
  /** Called every few hundred structures and at the end with (done, total). */
  onProgress?: (done: number, total: number) => void;
  /** No warnings on stderr (e.g. about a corrupted cache being rebuilt). */
  quiet?: boolean;
}

/**
 * Result of {@link featurize}: the graphs and the structures it had to leave out.
 */
export interface FeaturizeResult {
  /** The concatenated graphs of the usable structures, in data-set order. */
  graphs: GraphSet;
  /** Structures whose neighbour list failed (e.g. an isolated atom) or whose target is not finite. */
  skipped: SkippedEntry[];
  /** Whether the graphs came from the cache. */
  fromCache: boolean;
}

/** A typed array that grows geometrically (×1.5, at least the requested size). */
class Grow<T extends Int32Array | Float32Array | Float64Array> {
  data: T;
  length = 0;
  #make: (n: number) => T;
  constructor(make: (n: number) => T, initial: number) {
    this.#make = make;
    this.data = make(Math.max(16, initial));
  }
  reserve(extra: number): void {
    const need = this.length + extra;
    if (need <= this.data.length) return;
    const next = this.#make(Math.max(need, Math.ceil(this.data.length * 1.5)));
    next.set(this.data.subarray(0, this.length) as never);
    this.data = next;
  }
  /** The filled part; copied to an exact-size array only when much capacity is wasted. */
  finish(): T {
    const used = this.data.subarray(0, this.length) as T;
    return this.data.length > this.length * 1.1 + 16 ? used.slice() as T : used;
  }
}

/** The default options resolved. */
function resolved(options: FeaturizeOptions) {
  return {
    radius: options.radius ?? 8,
    maxNeighbors: options.maxNeighbors ?? 12,
    neighborTies: options.neighborTies ?? "include",
  };
}

/** Builds the graph set without any cache. */
function build(
  dataset: Dataset,
  radius: number,
  maxNeighbors: number,
  ties: NeighborTies,
  onProgress?: (done: number, total: number) => void,
): { graphs: GraphSet; skipped: SkippedEntry[] } {
  const n = dataset.length;
  const skipped: SkippedEntry[] = [];
  const ids: string[] = [];
  const targets = new Grow((k) => new Float64Array(k), n);
  const lattices = new Grow((k) => new Float64Array(k), 9 * n);
  const atomOffsets = new Grow((k) => new Int32Array(k), n + 1);
  const numbers = new Grow((k) => new Int32Array(k), 16 * n);
  const positions = new Grow((k) => new Float64Array(k), 48 * n);
  const edgeOffsets = new Grow((k) => new Int32Array(k), 16 * n + 1);
  const neighbors = new Grow((k) => new Int32Array(k), 16 * n * Math.min(maxNeighbors, 12));
  const distances = new Grow((k) => new Float32Array(k), neighbors.data.length);
  const vectors = new Grow((k) => new Float32Array(k), 3 * neighbors.data.length);
  atomOffsets.reserve(1);
  atomOffsets.data[atomOffsets.length++] = 0;
  edgeOffsets.reserve(1);
  edgeOffsets.data[edgeOffsets.length++] = 0;
  const where = dataset.source ? `${dataset.source}: ` : "";
  const every = Math.max(1, Math.min(1000, Math.ceil(n / 100)));

  for (let c = 0; c < n; c++) {
    if (onProgress && c % every === 0 && c > 0) onProgress(c, n);
    const { id, structure: s, target } = dataset.get(c);
    if (!Number.isFinite(target)) {
      skipped.push({
        id,
        reason: `${where}structure ${JSON.stringify(id)}: target ${target} is not finite`,
      });
      continue;
    }
    let nl;
    try {
      nl = neighborList(s, { radius, maxNeighbors, ties });
    } catch (e) {
      skipped.push({
        id,
        reason: `${where}structure ${JSON.stringify(id)}: no graph: ${errorMessage(e)}`,
      });
      continue;
    }
    const nA = s.numbers.length;
    const nE = nl.neighbors.length;
    const x = cartesian(s);
    ids.push(id);
    targets.reserve(1);
    targets.data[targets.length++] = target;
    lattices.reserve(9);
    lattices.data.set(s.lattice, lattices.length);
    lattices.length += 9;
    const atomBase = numbers.length;
    numbers.reserve(nA);
    numbers.data.set(s.numbers, atomBase);
    numbers.length += nA;
    positions.reserve(3 * nA);
    positions.data.set(x, positions.length);
    positions.length += 3 * nA;
    atomOffsets.reserve(1);
    atomOffsets.data[atomOffsets.length++] = atomBase + nA;
    const edgeBase = neighbors.length;
    edgeOffsets.reserve(nA);
    for (let a = 1; a <= nA; a++) edgeOffsets.data[edgeOffsets.length++] = edgeBase + nl.offsets[a];
    neighbors.reserve(nE);
    neighbors.data.set(nl.neighbors, edgeBase);
    neighbors.length += nE;
    distances.reserve(nE);
    distances.data.set(nl.distances, edgeBase); // Float64 → Float32 conversion in set()
    distances.length += nE;
    vectors.reserve(3 * nE);
    vectors.data.set(nl.vectors, 3 * edgeBase);
    vectors.length += 3 * nE;
  }
  onProgress?.(n, n);
  return {
    graphs: {
      count: ids.length,
      ids,
      targets: targets.finish(),
      lattices: lattices.finish(),
      atomOffsets: atomOffsets.finish(),
      numbers: numbers.finish(),
      positions: positions.finish(),
      edgeOffsets: edgeOffsets.finish(),
      neighbors: neighbors.finish(),
      distances: distances.finish(),
      vectors: vectors.finish(),
      radius,
      maxNeighbors,
    },
    skipped,
  };
}

/**
 * SHA-256 (hex) of a data set's content: ids, targets, lattices, coordinates, atomic numbers.
 * Used as the cache key input when featurizing a data set object (any source, synthetic too).
 */
export async function datasetDigest(dataset: Dataset): Promise<string> {
  // All numbers go into one Float64Array (atomic numbers are exact in f64), ids into one
  // string; hashed per chunk of ~8 MB, then a hash of the chunk hashes: bounded memory and
  // no per-structure allocation.
  const chunkHashes: string[] = [];
  let buf = new Float64Array(1 << 16);
  let used = 0;
  let ids: string[] = [];
  const flush = async () => {
    const bytes = new Uint8Array(buf.buffer, 0, used * 8);
    const idBytes = new TextEncoder().encode(ids.join("\u0000"));
    chunkHashes.push(`${await sha256Hex(bytes)}:${await sha256Hex(idBytes)}`);
    used = 0;
    ids = [];
  };
  for (let i = 0; i < dataset.length; i++) {
    const { id, structure: s, target } = dataset.get(i);
    const n = s.numbers.length;
    const need = 11 + 4 * n;
    if (used + need > buf.length) {
      if (used > 0 && used * 8 >= 8 << 20) await flush();
      if (used + need > buf.length) {
        const next = new Float64Array(Math.max(2 * buf.length, used + need));
        next.set(buf.subarray(0, used));
        buf = next;
      }
    }
    ids.push(id);
    buf[used++] = target;
    buf[used++] = n;
    buf.set(s.lattice, used);
    used += 9;
    buf.set(s.frac, used);
    used += s.frac.length;
    buf.set(s.numbers, used);
    used += n;
  }
  await flush();
  return sha256Hex(`dataset n=${dataset.length}\n${chunkHashes.join("\n")}`);
}

/** The entries with `stage` set where it is not yet. */
function withStage(list: SkippedEntry[], stage: "load" | "featurize"): SkippedEntry[] {
  return list.map((s) => (s.stage ? s : { ...s, stage }));
}

async function tryReadCache(path: string, quiet?: boolean): Promise<CachedGraphs | null> {
  try {
    return await readGraphCache(path);
  } catch (e) {
    if (!(e instanceof GraphCacheError)) throw e;
    if (!quiet) console.error(`warning: ${e.message}; rebuilding it`);
    return null;
  }
}

async function tryWriteCache(
  path: string,
  graphs: GraphSet,
  skipped: SkippedEntry[],
  quiet?: boolean,
): Promise<void> {
  try {
    await writeGraphCache(path, graphs, skipped);
  } catch (e) {
    // A read-only or full disk must not fail the run: the graphs are in memory already.
    if (!quiet) console.error(`warning: cannot write graph cache ${path}: ${errorMessage(e)}`);
  }
}

/**
 * Featurizes every structure of `dataset` into one {@link GraphSet}: Cartesian positions and
 * the periodic neighbour list (radius, maxNeighbors) of each structure, concatenated.
 * Structures whose neighbour list fails (e.g. an atom with no neighbour within the radius) or
 * whose target is not finite are skipped with a reason naming the source, id and problem.
 *
 * With a cache folder (default `.cache/graphs`; `null` disables), the key is the SHA-256 of
 * the data set's content ({@link datasetDigest}) and the options; a hit returns the cached
 * arrays, a corrupted cache file is rebuilt with a warning.
 *
 * @example
 * ```ts
 * import { featurize, loadDataset } from "@facgcnn/toolkit";
 * const { graphs, skipped } = await featurize(await loadDataset("synthetic:50"), { cacheDir: null });
 * console.log(graphs.count, graphs.neighbors.length, skipped.length);
 * ```
 */
export async function featurize(
  dataset: Dataset,
  options: FeaturizeOptions = {},
): Promise<FeaturizeResult> {
  const { radius, maxNeighbors, neighborTies } = resolved(options);
  const cacheDir = options.cacheDir === undefined ? DEFAULT_CACHE_DIR : options.cacheDir;
  let path: string | null = null;
  if (cacheDir !== null) {
    const key = await cacheKey(await datasetDigest(dataset), {
      kind: "dataset",
      radius,
      maxNeighbors,
      neighborTies,
    });
    path = cachePath(cacheDir, key);
    const hit = await tryReadCache(path, options.quiet);
    if (hit !== null) {
      options.onProgress?.(dataset.length, dataset.length);
      return { ...hit, fromCache: true };
    }
  }
  const built = build(dataset, radius, maxNeighbors, neighborTies, options.onProgress);
  if (path !== null) await tryWriteCache(path, built.graphs, built.skipped, options.quiet);
  return { ...built, fromCache: false };
}

/**
 * Result of {@link loadGraphs}.
 */
export interface LoadGraphsResult extends FeaturizeResult {
  /** Where the data came from. */
  source: string;
  /** The folder's own `atom_init.json`, when a CGCNN folder has one. */
  atomFeatures?: LoadedDataset["atomFeatures"];
  /** The data set, when it had to be loaded (cache miss or synthetic); undefined on a file cache hit. */
  dataset?: LoadedDataset;
}

/**
 * SHA-256 (hex) of a file source's bytes: the file itself, or for a CGCNN folder
 * `id_prop.csv`, `atom_init.json` (if any) and every CIF it names (missing ones noted).
 */
export async function sourceDigest(
  source: string,
  format: "cgcnn" | "csv" | "hdf5",
): Promise<string> {
  if (format !== "cgcnn") return sha256Hex(await Deno.readFile(source));
  const prop = `${source}/id_prop.csv`;
  const propBytes = await Deno.readFile(prop);
  const lines = [`id_prop ${await sha256Hex(propBytes)}`];
  try {
    lines.push(`atom_init ${await sha256Hex(await Deno.readFile(`${source}/atom_init.json`))}`);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  for (const rec of parseCsv(new TextDecoder().decode(propBytes), prop)) {
    const id = rec.fields[0]?.trim() ?? "";
    try {
      lines.push(`${id} ${await sha256Hex(Deno.readFileSync(`${source}/${id}.cif`))}`);
    } catch {
      lines.push(`${id} missing`);
    }
  }
  return sha256Hex(lines.join("\n"));
}

/**
 * Loads and featurizes a source in one step, with the cache keyed on the source's bytes, so a
 * cache hit skips parsing as well as the neighbour search. For `synthetic:N` the structures
 * are generated (fast) and keyed on their content. The result's `skipped` holds the loader's
 * and the featurizer's skipped structures.
 *
 * @example
 * ```ts
 * import { loadGraphs } from "@facgcnn/toolkit";
 * const { graphs, skipped } = await loadGraphs("synthetic:200"); // featurized once, then read from .cache/graphs
 * console.log(graphs.count, skipped.length);
 * ```
 */
export async function loadGraphs(
  source: string,
  options: LoadDatasetOptions & FeaturizeOptions = {},
): Promise<LoadGraphsResult> {
  const format = await detectFormat(source, options.format);
  const cacheDir = options.cacheDir === undefined ? DEFAULT_CACHE_DIR : options.cacheDir;
  const { radius, maxNeighbors, neighborTies } = resolved(options);
  const fromDataset = async (ds: LoadedDataset, cache: string | null) => {
    const r = await featurize(ds, { ...options, cacheDir: cache });
    return {
      ...r,
      skipped: [...withStage(ds.skipped, "load"), ...withStage(r.skipped, "featurize")],
      source,
      dataset: ds,
      atomFeatures: ds.atomFeatures,
    };
  };
  if (format === "synthetic" || format === "cif" || cacheDir === null) {
    return fromDataset(await loadDataset(source, options), cacheDir);
  }
  let digest: string;
  try {
    digest = await sourceDigest(source, format);
  } catch {
    // Unreadable source: let the loader produce its clear error.
    return fromDataset(await loadDataset(source, options), null);
  }
  const key = await cacheKey(digest, {
    kind: "source",
    format,
    target: options.target,
    idColumn: options.idColumn,
    limit: options.limit,
    positions: options.positions,
    occupancy: options.occupancy,
    minDistance: options.minDistance,
    atomFeatures: options.atomFeatures?.source,
    radius,
    maxNeighbors,
    neighborTies,
  });
  const path = cachePath(cacheDir, key);
  const hit = await tryReadCache(path, options.quiet);
  if (hit !== null) {
    let atomFeatures;
    if (format === "cgcnn") {
      try {
        atomFeatures = await loadAtomInit(`${source}/atom_init.json`);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
    }
    if (!options.quiet) {
      console.error(
        `loaded ${hit.graphs.count} graphs from cache ${path} (${source}, skipped ${hit.skipped.length})`,
      );
    }
    return { ...hit, fromCache: true, source, atomFeatures };
  }
  const result = await fromDataset(await loadDataset(source, options), null);
  await tryWriteCache(path, result.graphs, result.skipped, options.quiet);
  return result;
}
