/**
 * Reading and writing the safetensors format (https://github.com/huggingface/safetensors):
 * an 8-byte little-endian header length N, N bytes of JSON header, then the raw
 * little-endian tensor data. Each header entry is `{ dtype, shape, data_offsets: [begin, end] }`
 * with offsets relative to the start of the data; `__metadata__` is a string → string map.
 *
 * Layout we write (what the reference library writes, so its readers accept our files):
 * the header is padded with spaces so the data starts at a multiple of 8; tensors are stored
 * back to back with no holes (the reference reader rejects holes), ordered by element size
 * descending and then by name, so every tensor starts at a multiple of its element size
 * (8-byte types first, then 4-byte). That keeps zero-copy typed-array views valid.
 * @module
 */

import { createHash } from "node:crypto";
import { type AtomicData, writeFileAtomic, writeFileAtomicSync } from "./atomic.ts";

/**
 * `__metadata__` key holding the hex SHA-256 of all tensor bytes (the data section), written
 * by every encoder here and verified on decode when present, so a bit flip in a stored
 * checkpoint is caught instead of silently loading different weights.
 */
export const DATA_SHA256_KEY = "data_sha256";

/** Element types this module reads and writes. */
export type SafetensorsDType = "F32" | "I32" | "F64" | "I64";

/** Host arrays matching each dtype. */
export type SafetensorsData = Float32Array | Int32Array | Float64Array | BigInt64Array;

/** One tensor: dtype, shape (row-major) and its elements. */
export interface SafeTensor {
  /** Element type. */
  dtype: SafetensorsDType;
  /** Dimensions, row-major. */
  shape: number[];
  /** The elements, in a typed array matching `dtype`. */
  data: SafetensorsData;
}

/** A decoded file: tensors by name and the `__metadata__` map (empty if absent). */
export interface SafetensorsFile {
  /** Tensors by name. */
  tensors: Record<string, SafeTensor>;
  /** The `__metadata__` string map (empty if absent). */
  metadata: Record<string, string>;
}

/** Raised for malformed input; the message starts with the file (or source) it came from. */
export class SafetensorsError extends Error {
  /** Creates the error; `source` is a path or a label such as `"<bytes>"`. */
  constructor(readonly source: string, detail: string) {
    super(`${source}: ${detail}`);
    this.name = "SafetensorsError";
  }
}

/** The tensor bytes do not match the SHA-256 recorded in the file's metadata. */
export class SafetensorsChecksumError extends SafetensorsError {
  /** Creates the error for `source`; `detail` says what differs. */
  constructor(source: string, detail: string) {
    super(source, detail);
    this.name = "SafetensorsChecksumError";
  }
}

const ELEMENT_BYTES: Record<SafetensorsDType, number> = { F64: 8, I64: 8, F32: 4, I32: 4 };

/** Largest header we accept (the reference library's limit), to fail fast on garbage. */
const MAX_HEADER_BYTES = 100_000_000;

function arrayDType(data: SafetensorsData): SafetensorsDType {
  if (data instanceof Float32Array) return "F32";
  if (data instanceof Int32Array) return "I32";
  if (data instanceof Float64Array) return "F64";
  return "I64";
}

function checkShape(shape: unknown): shape is number[] {
  return Array.isArray(shape) && shape.every((d) => Number.isSafeInteger(d) && d >= 0);
}

const product = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * Encodes tensors (and optional metadata) as safetensors chunks: the header first, then
 * each tensor's bytes. Chunks let {@link writeSafetensors} stream big checkpoints without
 * one more full copy. Throws if a dtype, shape or element count does not match.
 */
export function encodeSafetensorsChunks(
  tensors: Record<string, SafeTensor>,
  metadata?: Record<string, string>,
): Uint8Array[] {
  const names = Object.keys(tensors).sort((a, b) => {
    const size = ELEMENT_BYTES[tensors[b].dtype] - ELEMENT_BYTES[tensors[a].dtype];
    return size !== 0 ? size : a < b ? -1 : a > b ? 1 : 0;
  });
  const header: Record<string, unknown> = {};
  const meta: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata ?? {})) {
    if (typeof v !== "string") throw new TypeError(`metadata "${k}" must be a string`);
    if (k !== DATA_SHA256_KEY) meta[k] = v;
  }
  header.__metadata__ = meta;
  const bodies: Uint8Array[] = [];
  let offset = 0;
  for (const name of names) {
    if (name === "__metadata__") throw new TypeError(`"__metadata__" is not a tensor name`);
    const t = tensors[name];
    if (ELEMENT_BYTES[t.dtype] === undefined) {
      throw new TypeError(`tensor "${name}": unsupported dtype ${t.dtype}`);
    }
    if (arrayDType(t.data) !== t.dtype) {
      throw new TypeError(`tensor "${name}": dtype ${t.dtype} but data is ${arrayDType(t.data)}`);
    }
    if (!checkShape(t.shape) || product(t.shape) !== t.data.length) {
      throw new TypeError(
        `tensor "${name}": shape [${t.shape}] does not match ${t.data.length} elements`,
      );
    }
    // Safetensors is little-endian; so is every platform Deno runs on (x86_64, aarch64).
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    header[name] = {
      dtype: t.dtype,
      shape: t.shape,
      data_offsets: [offset, offset + bytes.length],
    };
    bodies.push(bytes);
    offset += bytes.length;
  }
  const hash = createHash("sha256");
  for (const b of bodies) hash.update(b);
  meta[DATA_SHA256_KEY] = hash.digest("hex");
  let json = JSON.stringify(header);
  const jsonBytes = () => new TextEncoder().encode(json);
  let encoded = jsonBytes();
  // Pad with spaces (valid JSON whitespace) so the data starts 8-byte aligned.
  json += " ".repeat((8 - (encoded.length % 8)) % 8);
  encoded = jsonBytes();
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(encoded.length), true);
  return [prefix, encoded, ...bodies];
}

/** Encodes tensors and metadata into one safetensors byte array. */
export function encodeSafetensors(
  tensors: Record<string, SafeTensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const chunks = encodeSafetensorsChunks(tensors, metadata);
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function typedView(
  dtype: SafetensorsDType,
  bytes: Uint8Array,
  begin: number,
  count: number,
): SafetensorsData {
  // Copy: the result owns aligned memory whatever the input buffer's alignment was, and
  // one tensor kept alive does not pin the whole file's buffer.
  const own = bytes.slice(begin, begin + count * ELEMENT_BYTES[dtype]);
  switch (dtype) {
    case "F32":
      return new Float32Array(own.buffer, 0, count);
    case "I32":
      return new Int32Array(own.buffer, 0, count);
    case "F64":
      return new Float64Array(own.buffer, 0, count);
    case "I64":
      return new BigInt64Array(own.buffer, 0, count);
  }
}

/**
 * Decodes safetensors bytes, validating the header length, the JSON, every entry's dtype,
 * shape and offsets (inside the data, sized to the shape, no overlaps or holes), and, when the
 * metadata records one ({@link DATA_SHA256_KEY}, written by our encoders), the SHA-256 of the
 * tensor bytes ({@link SafetensorsChecksumError}; the key is not returned in `metadata`).
 * Errors are {@link SafetensorsError}s whose message starts with `source`.
 */
export function decodeSafetensors(bytes: Uint8Array, source = "<bytes>"): SafetensorsFile {
  const fail = (detail: string): never => {
    throw new SafetensorsError(source, detail);
  };
  if (bytes.length < 8) {
    fail(`truncated: ${bytes.length} bytes, need at least 8 for the header length`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen64 = view.getBigUint64(0, true);
  if (headerLen64 > BigInt(MAX_HEADER_BYTES)) {
    fail(`header length ${headerLen64} is too large (corrupt file or not safetensors)`);
  }
  const headerLen = Number(headerLen64);
  if (8 + headerLen > bytes.length) {
    fail(`truncated: header says ${headerLen} bytes but only ${bytes.length - 8} follow`);
  }
  let header: unknown;
  try {
    header = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + headerLen)),
    );
  } catch (err) {
    fail(`bad header JSON (${(err as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    fail("bad header: not a JSON object");
  }
  const data = bytes.subarray(8 + headerLen);
  const metadata: Record<string, string> = {};
  const tensors: Record<string, SafeTensor> = {};
  const spans: [number, number, string][] = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
        fail("bad header: __metadata__ is not an object");
      }
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== "string") fail(`bad header: __metadata__["${k}"] is not a string`);
        metadata[k] = v as string;
      }
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== "object" || e === null) fail(`tensor "${name}": entry is not an object`);
    const dtype = e.dtype as SafetensorsDType;
    if (typeof dtype !== "string" || ELEMENT_BYTES[dtype] === undefined) {
      fail(`tensor "${name}": unsupported dtype ${JSON.stringify(e.dtype)} (F32, I32, F64, I64)`);
    }
    if (!checkShape(e.shape)) fail(`tensor "${name}": bad shape ${JSON.stringify(e.shape)}`);
    const off = e.data_offsets;
    if (
      !Array.isArray(off) || off.length !== 2 ||
      !off.every((x) => Number.isSafeInteger(x) && x >= 0)
    ) {
      fail(`tensor "${name}": bad data_offsets ${JSON.stringify(off)}`);
    }
    const [begin, end] = off as [number, number];
    if (begin > end || end > data.length) {
      fail(
        `tensor "${name}": data_offsets [${begin}, ${end}] out of range (data is ${data.length} bytes; file truncated?)`,
      );
    }
    const shape = e.shape as number[];
    const count = product(shape);
    if (end - begin !== count * ELEMENT_BYTES[dtype]) {
      fail(`tensor "${name}": ${end - begin} bytes for shape [${shape}] of ${dtype}`);
    }
    spans.push([begin, end, name]);
    tensors[name] = { dtype, shape: [...shape], data: typedView(dtype, data, begin, count) };
  }
  spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let covered = 0;
  for (const [begin, end, name] of spans) {
    if (begin < covered) fail(`tensor "${name}": data overlaps the previous tensor`);
    if (begin > covered) fail(`tensor "${name}": hole in the data before offset ${begin}`);
    covered = end;
  }
  if (covered !== data.length) {
    fail(`${data.length - covered} trailing bytes after the last tensor`);
  }
  const recorded = metadata[DATA_SHA256_KEY];
  if (recorded !== undefined) {
    const actual = createHash("sha256").update(data).digest("hex");
    if (actual !== recorded) {
      throw new SafetensorsChecksumError(
        source,
        `checksum mismatch: the tensor data's SHA-256 is ${actual.slice(0, 16)}…, the file ` +
          `records ${recorded.slice(0, 16)}… (the file was damaged after it was written)`,
      );
    }
    delete metadata[DATA_SHA256_KEY];
  }
  return { tensors, metadata };
}

/** Writes tensors and metadata to `path` atomically (temp file in the same folder + rename). */
export function writeSafetensors(
  path: string,
  tensors: Record<string, SafeTensor>,
  metadata?: Record<string, string>,
): Promise<void> {
  let chunks: AtomicData;
  try {
    chunks = encodeSafetensorsChunks(tensors, metadata);
  } catch (err) {
    return Promise.reject(new SafetensorsError(path, (err as Error).message));
  }
  return writeFileAtomic(path, chunks);
}

/** Synchronous {@link writeSafetensors}. */
export function writeSafetensorsSync(
  path: string,
  tensors: Record<string, SafeTensor>,
  metadata?: Record<string, string>,
): void {
  let chunks: AtomicData;
  try {
    chunks = encodeSafetensorsChunks(tensors, metadata);
  } catch (err) {
    throw new SafetensorsError(path, (err as Error).message);
  }
  writeFileAtomicSync(path, chunks);
}

/** Reads and validates a safetensors file; errors name the file. */
export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  return decodeSafetensors(await Deno.readFile(path), path);
}

/** Synchronous {@link readSafetensors}. */
export function readSafetensorsSync(path: string): SafetensorsFile {
  return decodeSafetensors(Deno.readFileSync(path), path);
}
