/**
 * A binary on-disk cache of featurized {@link GraphSet}s, so a second load of the same data
 * skips the neighbour search.
 *
 * Key: SHA-256 (WebCrypto) over the input content (file bytes, or the structures themselves)
 * and every option that changes the graphs (radius, maxNeighbors, format, target, …) plus
 * {@link GRAPH_CACHE_VERSION}; bump that constant when featurization or a reader changes what
 * it produces. File: `<cacheDir>/<key>.fagraph`; default cacheDir {@link DEFAULT_CACHE_DIR}
 * (git-ignored; `null` disables caching).
 *
 * Layout (little-endian): a 96-byte header — magic `FAGRAPH\n`, u32 version, u32 header
 * length, u32 count, u32 nAtoms, u32 nEdges, u32 maxNeighbors, f64 radius, u32 id-blob bytes,
 * u32 skipped-JSON bytes, f64 total file length, 32-byte SHA-256 of everything after the
 * header, 8 bytes zero — then the raw arrays, each starting on an
 * 8-byte boundary: targets f64, lattices f64, positions f64, atomOffsets i32, numbers i32,
 * edgeOffsets i32, neighbors i32, distances f32, vectors f32, id offsets u32 `[count + 1]`,
 * ids as one UTF-8 blob, skipped entries as JSON. Reading maps typed-array views onto the one
 * file buffer (no copies). Files are written to a temp name and renamed, so a crash never
 * leaves a half-written cache under the final name; a truncated or corrupted file is detected
 * (magic, version, exact length, checksum, offset and index invariants) and reported as
 * {@link GraphCacheError}, which callers turn into a warning and a rebuild.
 * @module
 */

import { createHash } from "node:crypto";
import type { GraphSet, SkippedEntry } from "../crystal/types.ts";

/** Bump when the cache layout or anything that feeds the graphs changes. */
export const GRAPH_CACHE_VERSION = 4; // 2: binary tie grid; 3: tied last shell kept whole;
// 4: SHA-256 of the arrays in the header
/** Default cache folder, relative to the working directory (git-ignored). */
export const DEFAULT_CACHE_DIR = ".cache/graphs";
/** File-name extension of cache files. */
export const CACHE_EXTENSION = ".fagraph";

const MAGIC = new TextEncoder().encode("FAGRAPH\n");
const HEADER_BYTES = 96;
/** Where the SHA-256 of the bytes after the header sits in the header. */
const DIGEST_AT = 56;
/** maxNeighbors = Infinity is stored as this u32. */
const UNLIMITED = 0xffffffff;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** A cache file that exists but cannot be used (truncated, corrupted, other version). */
export class GraphCacheError extends Error {
  /** The cache file. */
  readonly path: string;
  /** Cache file `path` cannot be used because of `what`. */
  constructor(path: string, what: string) {
    super(`${path}: unusable graph cache: ${what}`);
    this.name = "GraphCacheError";
    this.path = path;
  }
}

/** What a cache file holds: the graphs and the structures skipped while building them. */
export interface CachedGraphs {
  /** The cached graph set (views onto the file buffer). */
  graphs: GraphSet;
  /** Structures skipped when the cache was built. */
  skipped: SkippedEntry[];
}

function hex(buf: ArrayBuffer): string {
  return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");
}

function hexBytes(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** SHA-256 (hex) of some bytes. */
export async function sha256Hex(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  return hex(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
}

/**
 * The cache key: SHA-256 over the content digest and the options (sorted keys, JSON), plus
 * {@link GRAPH_CACHE_VERSION}. `contentDigest` is a hex SHA-256 of the input content.
 */
export function cacheKey(
  contentDigest: string,
  options: Record<string, string | number | boolean | null | undefined>,
): Promise<string> {
  const keys = Object.keys(options).filter((k) => options[k] !== undefined).sort();
  const opts = keys.map((k) => `${k}=${JSON.stringify(options[k])}`).join(";");
  return sha256Hex(`fagraph v${GRAPH_CACHE_VERSION}\n${contentDigest}\n${opts}`);
}

/** Path of the cache file for `key` in `cacheDir`. */
export function cachePath(cacheDir: string, key: string): string {
  return `${cacheDir.replace(/\/+$/, "")}/${key}${CACHE_EXTENSION}`;
}

const align8 = (n: number) => (n + 7) & ~7;

interface Section {
  bytes: Uint8Array;
  offset: number;
}

function asBytes(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function plan(graphs: GraphSet, skipped: SkippedEntry[]) {
  const enc = new TextEncoder();
  const idParts = graphs.ids.map((id) => enc.encode(id));
  const idOffsets = new Uint32Array(graphs.count + 1);
  let idBytes = 0;
  for (let i = 0; i < idParts.length; i++) {
    idBytes += idParts[i].length;
    idOffsets[i + 1] = idBytes;
  }
  const idBlob = new Uint8Array(idBytes);
  for (let i = 0; i < idParts.length; i++) idBlob.set(idParts[i], idOffsets[i]);
  const skippedJson = enc.encode(JSON.stringify(skipped));
  const arrays: ArrayBufferView[] = [
    graphs.targets,
    graphs.lattices,
    graphs.positions,
    graphs.atomOffsets,
    graphs.numbers,
    graphs.edgeOffsets,
    graphs.neighbors,
    graphs.distances,
    graphs.vectors,
    idOffsets,
    idBlob,
    skippedJson,
  ];
  const sections: Section[] = [];
  let at = HEADER_BYTES;
  for (const a of arrays) {
    sections.push({ bytes: asBytes(a), offset: at });
    at = align8(at + a.byteLength);
  }
  return { sections, total: at, idBytes, skippedBytes: skippedJson.length };
}

/**
 * Writes `graphs` (and the skipped list) to `path` atomically: a temp file in the same folder,
 * then a rename. Creates the folder. Throws on I/O errors (callers may treat that as a warning).
 */
export async function writeGraphCache(
  path: string,
  graphs: GraphSet,
  skipped: SkippedEntry[] = [],
): Promise<void> {
  if (!LITTLE_ENDIAN) throw new Error("graph cache needs a little-endian host");
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : ".";
  await Deno.mkdir(dir, { recursive: true });
  const { sections, total, idBytes, skippedBytes } = plan(graphs, skipped);
  const header = new ArrayBuffer(HEADER_BYTES);
  const h = new DataView(header);
  new Uint8Array(header).set(MAGIC, 0);
  h.setUint32(8, GRAPH_CACHE_VERSION, true);
  h.setUint32(12, HEADER_BYTES, true);
  h.setUint32(16, graphs.count, true);
  h.setUint32(20, graphs.numbers.length, true);
  h.setUint32(24, graphs.neighbors.length, true);
  h.setUint32(28, Number.isFinite(graphs.maxNeighbors) ? graphs.maxNeighbors : UNLIMITED, true);
  h.setFloat64(32, graphs.radius, true);
  h.setUint32(40, idBytes, true);
  h.setUint32(44, skippedBytes, true);
  h.setFloat64(48, total, true);
  // The body as written (sections and zero padding), hashed first so the header can hold it.
  const body: Uint8Array[] = [];
  let at = HEADER_BYTES;
  const pad = new Uint8Array(8);
  for (const s of sections) {
    if (s.offset > at) body.push(pad.subarray(0, s.offset - at));
    body.push(s.bytes);
    at = s.offset + s.bytes.length;
  }
  if (total > at) body.push(pad.subarray(0, total - at));
  const hash = createHash("sha256");
  for (const b of body) hash.update(b);
  new Uint8Array(header).set(hash.digest(), DIGEST_AT);
  const tmp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
  try {
    await writeAll(file, new Uint8Array(header));
    for (const b of body) await writeAll(file, b);
  } catch (e) {
    file.close();
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  file.close();
  await Deno.rename(tmp, path);
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) {
    // Large arrays in pieces: some platforms cap a single write.
    off += await file.write(bytes.subarray(off, Math.min(bytes.length, off + (64 << 20))));
  }
}

/**
 * Reads a cache file. Returns `null` when it does not exist; throws {@link GraphCacheError}
 * when it exists but is truncated, corrupted or of another version.
 */
export async function readGraphCache(path: string): Promise<CachedGraphs | null> {
  let data: Uint8Array;
  try {
    data = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw new GraphCacheError(path, `cannot read: ${e instanceof Error ? e.message : e}`);
  }
  return decodeGraphCache(data, path);
}

/** Decodes (and checks) the bytes of a cache file; see {@link readGraphCache}. */
export function decodeGraphCache(data: Uint8Array, path = "<cache>"): CachedGraphs {
  const fail = (what: string): never => {
    throw new GraphCacheError(path, what);
  };
  if (!LITTLE_ENDIAN) fail("needs a little-endian host");
  if (data.length < HEADER_BYTES) {
    fail(`truncated: ${data.length} bytes, header needs ${HEADER_BYTES}`);
  }
  for (let k = 0; k < MAGIC.length; k++) {
    if (data[k] !== MAGIC[k]) fail("bad magic (not a .fagraph file)");
  }
  if (data.byteOffset % 8 !== 0) data = data.slice();
  const h = new DataView(data.buffer, data.byteOffset, HEADER_BYTES);
  const version = h.getUint32(8, true);
  if (version !== GRAPH_CACHE_VERSION) fail(`version ${version}, expected ${GRAPH_CACHE_VERSION}`);
  if (h.getUint32(12, true) !== HEADER_BYTES) fail("bad header length");
  const count = h.getUint32(16, true);
  const nAtoms = h.getUint32(20, true);
  const nEdges = h.getUint32(24, true);
  const rawMax = h.getUint32(28, true);
  const maxNeighbors = rawMax === UNLIMITED ? Infinity : rawMax;
  const radius = h.getFloat64(32, true);
  const idBytes = h.getUint32(40, true);
  const skippedBytes = h.getUint32(44, true);
  const total = h.getFloat64(48, true);
  if (total !== data.length) {
    fail(`length ${data.length} bytes, header says ${total} (truncated or overwritten)`);
  }
  const sizes = [
    8 * count,
    72 * count,
    24 * nAtoms,
    4 * (count + 1),
    4 * nAtoms,
    4 * (nAtoms + 1),
    4 * nEdges,
    4 * nEdges,
    12 * nEdges,
    4 * (count + 1),
    idBytes,
    skippedBytes,
  ];
  const offsets: number[] = [];
  let at = HEADER_BYTES;
  for (const s of sizes) {
    offsets.push(at);
    at = align8(at + s);
  }
  if (at !== total) fail(`section sizes add up to ${at} bytes, file has ${total}`);
  const want = data.subarray(DIGEST_AT, DIGEST_AT + 32);
  const got = createHash("sha256").update(data.subarray(HEADER_BYTES)).digest();
  if (!want.every((b, k) => b === got[k])) {
    fail(
      `checksum mismatch: the SHA-256 of its arrays is ${hexBytes(got).slice(0, 16)}…, the ` +
        `header records ${hexBytes(want).slice(0, 16)}… (the file was damaged after it was ` +
        `written; delete it if it cannot be rebuilt in place)`,
    );
  }
  const buf = data.buffer;
  const o = data.byteOffset;
  const targets = new Float64Array(buf, o + offsets[0], count);
  const lattices = new Float64Array(buf, o + offsets[1], 9 * count);
  const positions = new Float64Array(buf, o + offsets[2], 3 * nAtoms);
  const atomOffsets = new Int32Array(buf, o + offsets[3], count + 1);
  const numbers = new Int32Array(buf, o + offsets[4], nAtoms);
  const edgeOffsets = new Int32Array(buf, o + offsets[5], nAtoms + 1);
  const neighbors = new Int32Array(buf, o + offsets[6], nEdges);
  const distances = new Float32Array(buf, o + offsets[7], nEdges);
  const vectors = new Float32Array(buf, o + offsets[8], 3 * nEdges);
  const idOffsets = new Uint32Array(buf, o + offsets[9], count + 1);
  const idBlob = new Uint8Array(buf, o + offsets[10], idBytes);
  const skippedBlob = new Uint8Array(buf, o + offsets[11], skippedBytes);

  // Invariants every consumer relies on for in-bounds indexing.
  checkOffsets(atomOffsets, nAtoms, "atomOffsets", fail);
  checkOffsets(edgeOffsets, nEdges, "edgeOffsets", fail);
  checkOffsets(idOffsets, idBytes, "id offsets", fail);
  for (let c = 0; c < count; c++) {
    const size = atomOffsets[c + 1] - atomOffsets[c];
    for (let e = edgeOffsets[atomOffsets[c]]; e < edgeOffsets[atomOffsets[c + 1]]; e++) {
      const j = neighbors[e];
      if (!(j >= 0 && j < size)) fail(`neighbour index ${j} outside crystal ${c} (${size} atoms)`);
      if (!(distances[e] >= 0 && distances[e] <= radius + 1e-3)) {
        fail(`distance ${distances[e]} of edge ${e} outside [0, radius]`);
      }
    }
  }
  const dec = new TextDecoder("utf-8", { fatal: true });
  let ids: string[];
  let skipped: SkippedEntry[];
  try {
    ids = new Array(count);
    for (let i = 0; i < count; i++) {
      ids[i] = dec.decode(idBlob.subarray(idOffsets[i], idOffsets[i + 1]));
    }
    skipped = JSON.parse(dec.decode(skippedBlob));
    if (!Array.isArray(skipped)) throw new Error("skipped list is not an array");
  } catch (e) {
    return fail(`bad id or skipped blob: ${e instanceof Error ? e.message : e}`);
  }
  return {
    graphs: {
      count,
      ids,
      targets,
      lattices,
      atomOffsets,
      numbers,
      positions,
      edgeOffsets,
      neighbors,
      distances,
      vectors,
      radius,
      maxNeighbors,
    },
    skipped,
  };
}

function checkOffsets(
  a: Int32Array | Uint32Array,
  end: number,
  name: string,
  fail: (what: string) => never,
): void {
  if (a[0] !== 0) fail(`${name} do not start at 0`);
  for (let i = 1; i < a.length; i++) {
    if (a[i] < a[i - 1]) fail(`${name} decrease at ${i}`);
  }
  if (a[a.length - 1] !== end) fail(`${name} end at ${a[a.length - 1]}, expected ${end}`);
}
