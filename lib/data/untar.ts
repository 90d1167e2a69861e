/**
 * Unpacks chosen regular files from a `.tar.gz` archive, streaming (the archive is never held
 * in memory whole): gunzip through the web `DecompressionStream` (which also checks the gzip
 * CRC and length trailer), then a small POSIX ustar / pax / GNU tar reader.
 *
 * Why a reader of our own: we only need "find these regular files by base name and copy their
 * bytes out", about a hundred lines; the npm tar libraries (`tar`, `tar-stream`) are built on
 * Node streams and `fs`, would be a dependency of `lib/` that must import without the
 * repository's import map, and do more (links, permissions, ownership) than is safe to apply
 * to a downloaded archive. This reader never creates links or directories from the archive
 * and writes only to the paths the caller names.
 * @module
 */

/** An archive that is cut off, corrupted, or lacks a requested member. */
export class ArchiveError extends Error {
  /** `message` names the archive and what is wrong. */
  constructor(message: string) {
    super(message);
    this.name = "ArchiveError";
  }
}

/** Pulls exact byte counts out of a stream of chunks. */
class ByteReader {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #buf: Uint8Array = new Uint8Array(0);
  #off = 0;
  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }
  /** Up to `max` bytes (at least 1), or null at the end of the stream. */
  async some(max: number): Promise<Uint8Array | null> {
    while (this.#off >= this.#buf.length) {
      const { value, done } = await this.#reader.read();
      if (done) return null;
      this.#buf = value;
      this.#off = 0;
    }
    const n = Math.min(max, this.#buf.length - this.#off);
    const out = this.#buf.subarray(this.#off, this.#off + n);
    this.#off += n;
    return out;
  }
  /** Exactly `n` bytes, or null when the stream ends first (`got` says how many came). */
  async exact(n: number): Promise<{ bytes: Uint8Array; got: number }> {
    const bytes = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const part = await this.some(n - got);
      if (part === null) break;
      bytes.set(part, got);
      got += part.length;
    }
    return { bytes, got };
  }
  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}

const dec = new TextDecoder();

function cString(b: Uint8Array, start: number, len: number): string {
  const s = b.subarray(start, start + len);
  const z = s.indexOf(0);
  return dec.decode(z < 0 ? s : s.subarray(0, z));
}

/** A numeric header field: octal text, or GNU base-256 when the top bit is set (files ≥ 8 GiB). */
function tarNumber(b: Uint8Array, start: number, len: number): number {
  if (b[start] & 0x80) {
    let v = b[start] & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + b[start + i];
    return v;
  }
  const t = cString(b, start, len).trim();
  return t === "" ? 0 : parseInt(t, 8);
}

/** Paths from a pax extended header (`"<len> path=<value>\n"` records). */
function paxPath(body: Uint8Array): string | null {
  const text = dec.decode(body);
  for (const rec of text.split("\n")) {
    const m = /^\d+ path=(.*)$/s.exec(rec);
    if (m) return m[1];
  }
  return null;
}

function baseName(path: string): string {
  return path.replace(/\/+$/, "").split("/").pop() ?? path;
}

/**
 * Copies the regular files of the gzip-compressed tar `archive` whose base name is a key of
 * `wanted` to the path it maps to (wherever in the archive they are). Returns the member path
 * each came from. Throws {@link ArchiveError}, naming `archive`, for a cut-off or corrupted
 * archive (bad gzip data or CRC, bad header checksum, a member shorter than its header says),
 * a requested file that is missing, or one present twice.
 */
export async function extractTarGz(
  archive: string,
  wanted: Readonly<Record<string, string>>,
): Promise<Record<string, string>> {
  const file = await Deno.open(archive, { read: true });
  const reader = new ByteReader(file.readable.pipeThrough(new DecompressionStream("gzip")));
  const found: Record<string, string> = {};
  const fail = (what: string) =>
    new ArchiveError(
      `${archive}: ${what} (archive cut off or corrupted; delete it and fetch again)`,
    );
  try {
    let longName: string | null = null;
    while (true) {
      const { bytes: h, got } = await reader.exact(512);
      if (got === 0) break; // end of data without the two zero blocks: tolerated, as GNU tar does
      if (got < 512) throw fail(`ends inside a tar header`);
      if (h.every((x) => x === 0)) break; // end-of-archive marker
      let sum = 0;
      for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
      if (tarNumber(h, 148, 8) !== sum) throw fail(`tar header checksum mismatch`);
      const size = tarNumber(h, 124, 12);
      const type = String.fromCharCode(h[156] || 48);
      const prefix = cString(h, 257, 6) === "ustar" ? cString(h, 345, 155) : "";
      const name = longName ?? (prefix ? `${prefix}/${cString(h, 0, 100)}` : cString(h, 0, 100));
      const padded = Math.ceil(size / 512) * 512;
      if (type === "x" || type === "L") {
        // pax extended header / GNU long name: applies to the next member.
        const { bytes, got: g } = await reader.exact(padded);
        if (g < padded) throw fail(`ends inside the header of a member after ${name}`);
        const body = bytes.subarray(0, size);
        longName = type === "L" ? cString(body, 0, size) : paxPath(body) ?? longName;
        continue;
      }
      longName = null;
      const target = (type === "0" || type === "7") ? wanted[baseName(name)] : undefined;
      if (target !== undefined && found[baseName(name)] !== undefined) {
        throw fail(`${baseName(name)} twice (${found[baseName(name)]} and ${name})`);
      }
      const out = target === undefined ? null : await Deno.open(target, {
        write: true,
        create: true,
        truncate: true,
      });
      let left = padded, data = size;
      try {
        while (left > 0) {
          const part = await reader.some(left);
          if (part === null) {
            throw fail(`ends inside ${name} (${size - data} of ${size} bytes)`);
          }
          if (out !== null && data > 0) {
            const use = part.subarray(0, Math.min(part.length, data));
            let off = 0;
            while (off < use.length) off += await out.write(use.subarray(off));
          }
          data = Math.max(0, data - part.length);
          left -= part.length;
        }
      } finally {
        out?.close();
      }
      if (target !== undefined) found[baseName(name)] = name;
    }
    // Drain the rest so the gzip trailer (CRC, length) is checked too.
    while ((await reader.some(1 << 16)) !== null) { /* padding after the end marker */ }
  } catch (e) {
    await reader.cancel();
    if (e instanceof ArchiveError) throw e;
    throw fail(`not a valid gzip/tar stream: ${e instanceof Error ? e.message : e}`);
  }
  const missing = Object.keys(wanted).filter((k) => found[k] === undefined);
  if (missing.length > 0) {
    throw new ArchiveError(
      `${archive}: no ${missing.join(", ")} in the archive (not the expected data set?)`,
    );
  }
  return found;
}
