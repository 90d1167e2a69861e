/**
 * Atomic file writes: write a temporary file in the same folder, flush it to disk, then
 * `rename` it over the target. A reader (or a crash) sees either the old file or the new
 * one, never a half-written file — which matters for checkpoints a killed run resumes from.
 * @module
 */

/** OS error numbers (Linux/macOS where they agree) and what to tell a user. */
const OS_ERRORS: Record<number, string> = {
  1: "operation not permitted",
  2: "no such file or folder (does the folder exist?)",
  13: "permission denied",
  17: "already exists",
  20: "a part of the path is not a folder",
  21: "it is a folder",
  28: "no space left on device",
  30: "read-only file system",
  122: "disk quota exceeded",
};

/**
 * The reason of a file-system error in plain words, without the runtime's hints (such as
 * "run again with --allow-write"): "no space left on device", "permission denied", …
 */
export function fileProblem(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  const m = /\(os error (\d+)\)/.exec(message);
  if (m && OS_ERRORS[Number(m[1])]) return OS_ERRORS[Number(m[1])];
  if (e instanceof Error && e.name === "NotCapable") {
    return "Deno has no permission for it (run with --allow-read --allow-write)";
  }
  return message.split("\n")[0].replace(/,? ?run again with[^;]*$/i, "").trim();
}

/** Whether `e` is a full disk (or quota). */
export function isDiskFull(e: unknown): boolean {
  const message = e instanceof Error ? e.message : String(e);
  return /\(os error (28|122)\)|no space left|quota exceeded/i.test(message);
}

/**
 * An atomic write that failed. `message` names the file meant to be written and why; the
 * previous content of that file (if any) is untouched, the temporary file removed.
 */
export class FileWriteError extends Error {
  /** The file that was to be written. */
  readonly path: string;
  /** Whether the disk (or quota) is full. */
  readonly diskFull: boolean;
  /** `path` could not be written because of `cause`. */
  constructor(path: string, cause: unknown) {
    super(`cannot write ${path}: ${fileProblem(cause)} (its previous content, if any, is intact)`, {
      cause,
    });
    this.name = "FileWriteError";
    this.path = path;
    this.diskFull = isDiskFull(cause);
  }
}

/** What an atomic write accepts: bytes, text, or byte chunks written one after another. */
export type AtomicData = Uint8Array | string | Iterable<Uint8Array>;

/** Splits a path into its folder (with trailing separator, or "") and its base name. */
function splitPath(path: string): { dir: string; base: string } {
  const cut = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return { dir: path.slice(0, cut + 1), base: path.slice(cut + 1) };
}

/**
 * A temp name next to `path` (same folder, hence same file system, so `rename` is atomic).
 * Hidden and unique per process and call, so concurrent writers never share one.
 */
export function tempPathFor(path: string): string {
  const { dir, base } = splitPath(path);
  const tag = `${Deno.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  return `${dir}.${base}.tmp-${tag}`;
}

function chunksOf(data: AtomicData): Iterable<Uint8Array> {
  if (typeof data === "string") return [new TextEncoder().encode(data)];
  if (data instanceof Uint8Array) return [data];
  return data;
}

function writeAll(file: Deno.FsFile, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += file.writeSync(bytes.subarray(done));
}

/** Best-effort fsync of the folder so the rename itself survives a power cut (POSIX only). */
function syncDir(dir: string): void {
  if (Deno.build.os === "windows") return;
  try {
    const handle = Deno.openSync(dir === "" ? "." : dir, { read: true });
    try {
      handle.syncSync();
    } finally {
      handle.close();
    }
  } catch {
    // Some file systems refuse fsync on a directory; the data file itself is already synced.
  }
}

/**
 * Writes `data` to `path` atomically (temp file + fsync + rename), synchronously.
 * If anything throws — including an iterable of chunks that throws mid-way — the temp file
 * is removed and an existing file at `path` is left untouched; a file-system error is
 * re-thrown as a {@link FileWriteError} naming `path` (not the temporary name).
 */
export function writeFileAtomicSync(path: string, data: AtomicData): void {
  const temp = tempPathFor(path);
  let file: Deno.FsFile | null = null;
  try {
    file = Deno.openSync(temp, { write: true, createNew: true });
    for (const chunk of chunksOf(data)) writeAll(file, chunk);
    file.syncSync();
    file.close();
    file = null;
    Deno.renameSync(temp, path);
  } catch (err) {
    if (file !== null) {
      try {
        file.close();
      } catch { /* already closed */ }
    }
    try {
      Deno.removeSync(temp);
    } catch { /* never created or already renamed */ }
    if (err instanceof Error && /\(os error \d+\)/.test(err.message)) {
      throw new FileWriteError(path, err);
    }
    if (err instanceof Error && err.name === "NotCapable") throw new FileWriteError(path, err);
    throw err;
  }
  syncDir(splitPath(path).dir);
}

/**
 * Async form of {@link writeFileAtomicSync} (same guarantees). The work is synchronous
 * under the hood — outputs are small and ordering with other writes stays simple — but the
 * Promise lets callers treat it like any other async file write.
 */
export function writeFileAtomic(path: string, data: AtomicData): Promise<void> {
  try {
    writeFileAtomicSync(path, data);
    return Promise.resolve();
  } catch (err) {
    return Promise.reject(err);
  }
}

/** Writes UTF-8 `text` to `path` atomically (see {@link writeFileAtomic}). */
export function writeTextAtomic(path: string, text: string): Promise<void> {
  return writeFileAtomic(path, text);
}

/** Synchronous {@link writeTextAtomic}. */
export function writeTextAtomicSync(path: string, text: string): void {
  writeFileAtomicSync(path, text);
}
