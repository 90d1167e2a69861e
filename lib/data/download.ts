/**
 * Downloads of the public data sets users start from (what `deno task fetch-data <name>` runs),
 * into `data/<name>/` by default. Known: CDVAE's MP-20, Perov-5 and Carbon-24 CSV splits
 * (`train.csv`, `val.csv`, `test.csv`, a `cif` column per row) from github.com/txie-93/cdvae.
 *
 * Each file is streamed to `<file>.part`, resumed with an HTTP Range request when a previous
 * attempt left a partial file and the server supports ranges (else restarted from zero),
 * checked (Content-Length / Content-Range total; SHA-256 when known; a CSV whose header has
 * a `cif` column and whose records are complete), then renamed into place. Only checks whose
 * facts are actually known are recorded: no sizes or hashes are hard-coded for the CDVAE files.
 *
 * The base URL (option `baseUrl`, else env `FACGCNN_DATA_URL`, else {@linkcode DEFAULT_BASE_URL})
 * can point at a mirror: files are fetched from `<base>/<name>/<file>`.
 * @module
 */

import { CsvError, CsvParser } from "./readers/csv_parse.ts";
import { setting } from "../util/settings.ts";

/** Where the CDVAE CSV splits live (raw GitHub). */
export const DEFAULT_BASE_URL = "https://raw.githubusercontent.com/txie-93/cdvae/main/data";

/** One file of a known data set; `size`/`sha256` only when actually known. */
export interface KnownFile {
  /** File name under `<base>/<dataset>/`. */
  name: string;
  /** Size in bytes, only when known. */
  size?: number;
  /** SHA-256 (hex), only when known. */
  sha256?: string;
  /** Where it is published, when not under the CDVAE base URL; a mirror (`baseUrl`) still wins. */
  url?: string;
}

/** A data set published as one `.tar.gz` archive, unpacked into `data/<name>/`. */
export interface KnownArchive {
  /** Base names of the files to take out of the archive (found anywhere in it). */
  members: string[];
  /** The HDF5 file among them (read to check the unpacked data and its positions). */
  hdf5: string;
  /** Number of structures in the published set (a different count is reported, not fatal). */
  structures: number;
}

/** A data set `fetch-data` knows. */
export interface KnownDataset {
  /** One line for `--list`. */
  description: string;
  /** The target column to train on (pass as `target` to `loadDataset`). */
  target: string;
  /** The files to download. */
  files: KnownFile[];
  /** Set when `files` is one archive to unpack. */
  archive?: KnownArchive;
}

const SPLITS: KnownFile[] = [{ name: "train.csv" }, { name: "val.csv" }, { name: "test.csv" }];

/** The data sets `fetch-data` can download. */
export const KNOWN_DATASETS: Readonly<Record<string, KnownDataset>> = {
  mp_20: {
    description: "CDVAE MP-20: 45,231 Materials Project structures with ≤ 20 atoms",
    target: "formation_energy_per_atom",
    files: SPLITS,
  },
  perov_5: {
    description: "CDVAE Perov-5: 18,928 perovskites (5 atoms)",
    target: "heat_ref",
    files: SPLITS,
  },
  carbon_24: {
    description: "CDVAE Carbon-24: 10,153 carbon structures (6–24 atoms)",
    target: "energy_per_atom",
    files: SPLITS,
  },
  mp_2019: {
    description:
      "Materials Project 2019 formation energies: 133,420 structures (materials-toolkits HDF5)",
    target: "energy_pa",
    files: [{
      name: "materials-project.tar.gz",
      url:
        "https://huggingface.co/datasets/materials-toolkits/materials-project/resolve/main/materials-project.tar.gz",
    }],
    archive: { members: ["data.hdf5", "index.json"], hdf5: "data.hdf5", structures: 133_420 },
  },
};

/** A download that failed; the message says what to do. */
export class DownloadError extends Error {
  /** A failure; `message` says what failed and what to do. */
  constructor(message: string) {
    super(message);
    this.name = "DownloadError";
  }
}

/** Options of {@link downloadFile}. */
export interface DownloadOptions {
  /** Expected size in bytes, when known. */
  size?: number;
  /** Expected SHA-256 (hex), when known. */
  sha256?: string;
  /** Require a CSV whose header has this column (e.g. `cif`) and whose records are complete. */
  csvColumn?: string;
  /** Download again even when `dest` exists. */
  force?: boolean;
  /** Progress and status messages (default: stderr). */
  log?: (message: string) => void;
  /** Give up when no response headers arrive within this many ms (default 30,000). */
  timeoutMs?: number;
}

/** What {@link downloadFile} did. */
export interface DownloadResult {
  /** The final file. */
  path: string;
  /** Its size in bytes. */
  bytes: number;
  /** `"present"`: already there; `"resumed"`: continued a `.part`; `"downloaded"`: from zero. */
  how: "present" | "resumed" | "downloaded";
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await Deno.stat(path)).size;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return -1;
    throw e;
  }
}

async function sha256File(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Checks that `path` is a complete CSV whose header has `column`: the whole file is streamed
 * through the RFC-4180 parser (an unterminated quote means a cut-off file) and every record
 * must have the header's field count. Returns the number of data rows.
 */
export async function checkCsvFile(path: string, column: string, label = path): Promise<number> {
  const parser = new CsvParser(label);
  const file = await Deno.open(path);
  const decoder = new TextDecoder();
  const buf = new Uint8Array(1 << 20);
  let header: string[] | null = null;
  let rows = 0;
  const take = (recs: { fields: string[]; line: number }[]) => {
    for (const r of recs) {
      if (header === null) {
        header = r.fields.map((f) => f.trim());
        if (!header.includes(column)) {
          throw new DownloadError(
            `${label}: not the expected CSV: no ${column} column in the header ` +
              `(${header.slice(0, 8).join(", ")}${header.length > 8 ? ", …" : ""})`,
          );
        }
      } else {
        if (r.fields.length !== header.length) {
          throw new DownloadError(
            `${label}:${r.line}: record has ${r.fields.length} fields, header ${header.length} ` +
              `(file cut off or corrupted)`,
          );
        }
        rows++;
      }
    }
  };
  try {
    while (true) {
      const n = await file.read(buf);
      if (n === null) break;
      take(parser.push(decoder.decode(buf.subarray(0, n), { stream: true })));
    }
    take(parser.push(decoder.decode()));
    take(parser.finish());
  } catch (e) {
    if (e instanceof CsvError) throw new DownloadError(`${e.message} (file cut off or corrupted)`);
    throw e;
  } finally {
    file.close();
  }
  if (header === null) throw new DownloadError(`${label}: empty file`);
  return rows;
}

function unreachable(url: string, e: unknown): DownloadError {
  const host = (() => {
    try {
      return new URL(url).host;
    } catch {
      return url;
    }
  })();
  return new DownloadError(
    `cannot reach ${host}: offline? (${e instanceof Error ? e.message : e}). ` +
      `Check the network, or point --base-url / FACGCNN_DATA_URL at a mirror.`,
  );
}

/** Parses `Content-Range: bytes a-b/total`; null when absent or malformed. */
function contentRange(h: string | null): { start: number; total: number | null } | null {
  const m = h === null ? null : /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i.exec(h.trim());
  if (m === null) return null;
  return { start: Number(m[1]), total: m[3] === "*" ? null : Number(m[3]) };
}

/**
 * Downloads `url` to `dest` via `dest.part`: resumes a partial file with a Range request when
 * the server answers 206 from the right offset, otherwise restarts from zero. Checks the size
 * against Content-Length (or the Content-Range total) and `size`, the SHA-256 when given, and
 * the CSV shape when `csvColumn` is given; then renames into place. On a broken connection the
 * `.part` is kept (the next call resumes) and a {@link DownloadError} says how far it got; a
 * check failure deletes the `.part`.
 */
export async function downloadFile(
  url: string,
  dest: string,
  options: DownloadOptions = {},
): Promise<DownloadResult> {
  const log = options.log ?? ((m: string) => console.error(m));
  if (!options.force && (await fileSize(dest)) >= 0) {
    return { path: dest, bytes: await fileSize(dest), how: "present" };
  }
  const part = `${dest}.part`;
  let have = Math.max(0, await fileSize(part));
  if (options.size !== undefined && have > options.size) have = 0;
  const headers: Record<string, string> = {};
  if (have > 0) headers["Range"] = `bytes=${have}-`;
  let res: Response;
  // A black-holed network never refuses the connection: give up waiting for the response
  // headers after `timeoutMs` (the body itself may take as long as it needs).
  const abort = new AbortController();
  const timeoutMs = options.timeoutMs ?? 30_000;
  const timer = setTimeout(
    () => abort.abort(new Error(`no response in ${timeoutMs} ms`)),
    timeoutMs,
  );
  try {
    res = await fetch(url, { headers, signal: abort.signal });
  } catch (e) {
    throw unreachable(url, abort.signal.aborted ? abort.signal.reason : e);
  } finally {
    clearTimeout(timer);
  }
  if (res.status === 416 && have > 0) {
    // Our partial file is not a prefix the server recognises: start again.
    await res.body?.cancel();
    await Deno.remove(part).catch(() => {});
    return downloadFile(url, dest, options);
  }
  if (res.status === 404) {
    await res.body?.cancel();
    throw new DownloadError(
      `${url}: 404 Not Found (no such file on the server; check the name and base URL)`,
    );
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new DownloadError(`${url}: HTTP ${res.status} ${res.statusText}`);
  }
  let resumed = false;
  let total: number | null = null;
  const length = res.headers.get("content-length");
  if (res.status === 206) {
    const cr = contentRange(res.headers.get("content-range"));
    if (cr === null || cr.start !== have) {
      // A range we did not ask for: ignore it and fetch the whole file again.
      await res.body?.cancel();
      await Deno.remove(part).catch(() => {});
      log(`${url}: server answered an unexpected range; restarting`);
      return downloadFile(url, dest, options);
    }
    resumed = true;
    total = cr.total;
    log(`resuming ${dest} at ${have} bytes`);
  } else {
    if (have > 0) log(`${url}: server does not support resuming; restarting from zero`);
    have = 0;
    total = length !== null ? Number(length) : null;
  }
  if (resumed && total === null && length !== null) total = have + Number(length);

  const file = await Deno.open(part, {
    write: true,
    create: true,
    append: resumed,
    truncate: !resumed,
  });
  let got = have;
  let broken: unknown = null;
  try {
    if (res.body !== null) {
      for await (const chunk of res.body) {
        let off = 0;
        while (off < chunk.length) off += await file.write(chunk.subarray(off));
        got += chunk.length;
      }
    }
  } catch (e) {
    broken = e;
  } finally {
    file.close();
  }
  if (broken !== null || (total !== null && got < total)) {
    throw new DownloadError(
      `${url}: download broke off at ${got}${total !== null ? ` of ${total}` : ""} bytes` +
        `${broken !== null ? ` (${broken instanceof Error ? broken.message : broken})` : ""}; ` +
        `kept ${part}, run again to resume`,
    );
  }
  const bad = async (what: string) => {
    await Deno.remove(part).catch(() => {});
    return new DownloadError(`${url}: ${what}; deleted the partial file, run again to restart`);
  };
  if (total !== null && got !== total) {
    throw await bad(`got ${got} bytes, the server announced ${total}`);
  }
  if (options.size !== undefined && got !== options.size) {
    throw await bad(`size ${got} bytes, expected ${options.size}`);
  }
  if (options.sha256 !== undefined) {
    const h = await sha256File(part);
    if (h !== options.sha256.toLowerCase()) {
      throw await bad(`SHA-256 ${h}, expected ${options.sha256}`);
    }
  }
  if (options.csvColumn !== undefined) {
    try {
      await checkCsvFile(part, options.csvColumn, dest);
    } catch (e) {
      if (e instanceof DownloadError) throw await bad(e.message);
      throw e;
    }
  }
  await Deno.rename(part, dest);
  return { path: dest, bytes: got, how: resumed ? "resumed" : "downloaded" };
}

/** Options of {@link fetchDataset}. */
export interface FetchOptions {
  /**
   * Base URL; files come from `<baseUrl>/<name>/<file>`. Default env `FACGCNN_DATA_URL`, else
   * each file's published URL ({@link DEFAULT_BASE_URL} for the CDVAE splits).
   */
  baseUrl?: string;
  /** Output root; files go to `<outDir>/<name>/`. Default `data`. */
  outDir?: string;
  /** Download again even when the files exist. */
  force?: boolean;
  /** Extra attempts after a broken connection (each resumes). Default 3. */
  retries?: number;
  /** Progress and status messages (default: stderr). */
  log?: (message: string) => void;
}

/** What unpacking an archive data set gave. */
export interface UnpackedDataset {
  /** The folder, `<outDir>/<name>`. */
  dir: string;
  /** Base name → path of each unpacked file. */
  files: Record<string, string>;
  /** The HDF5 file to train on. */
  hdf5: string;
  /** How its `atoms/positions` are stored (found by reading it). */
  positions: "cartesian" | "fractional";
  /** Structures read from it. */
  structures: number;
  /** `"present"`: the folder was already complete; `"unpacked"`: unpacked now. */
  how: "present" | "unpacked";
}

/** The downloads of {@link fetchDataset}, in file order; `unpacked` for archive data sets. */
export type FetchResults = DownloadResult[] & { unpacked?: UnpackedDataset };

async function exists(path: string): Promise<boolean> {
  return (await fileSize(path)) >= 0;
}

/**
 * Reads `path` in the materials-toolkits layout to check it and to find how its positions are
 * stored: the reader refuses a mode that the coordinates contradict, so the mode it accepts is
 * the file's. The reader is imported here, not at the top, so the CSV sets need no HDF5 library.
 */
async function probeHdf5(
  path: string,
): Promise<{ positions: "cartesian" | "fractional"; structures: number }> {
  const { readHdf5 } = await import("./readers/hdf5.ts");
  let first: unknown = null;
  for (const positions of ["cartesian", "fractional"] as const) {
    try {
      const ds = await readHdf5(path, { positions, onSkip: () => {} });
      return { positions, structures: ds.length };
    } catch (e) {
      if (first !== null || !/positions look fractional/.test(String(e))) throw e;
      first = e;
    }
  }
  throw first;
}

/**
 * Unpacks `archive` into `<outDir>/<name>`: the members are written to a temporary folder
 * beside it, checked, and only then is the folder renamed into place, so an interrupted or
 * failed unpack never leaves a half-filled `data/<name>/`.
 */
async function unpackArchive(
  archive: string,
  dir: string,
  spec: KnownArchive,
  force: boolean,
  log: (m: string) => void,
): Promise<UnpackedDataset> {
  const { extractTarGz } = await import("./untar.ts");
  const files = Object.fromEntries(spec.members.map((m) => [m, `${dir}/${m}`]));
  const hdf5 = files[spec.hdf5];
  const have = await Promise.all(Object.values(files).map(exists));
  if (!force && have.every((x) => x)) {
    return { dir, files, hdf5, ...(await probeHdf5(hdf5)), how: "present" };
  }
  if (!force && (await exists(dir))) {
    throw new DownloadError(
      `${dir} exists but lacks ${spec.members.filter((_, i) => !have[i]).join(", ")}; ` +
        `remove it or pass --force to unpack again`,
    );
  }
  const parent = dir.replace(/\/[^/]*$/, "") || ".";
  const tmp = await Deno.makeTempDir({ dir: parent, prefix: `.${dir.split("/").pop()}.unpack-` });
  try {
    log(`unpacking ${archive}`);
    await extractTarGz(archive, Object.fromEntries(spec.members.map((m) => [m, `${tmp}/${m}`])));
    const probe = await probeHdf5(`${tmp}/${spec.hdf5}`);
    if (force) await Deno.remove(dir, { recursive: true }).catch(() => {});
    await Deno.rename(tmp, dir);
    return { dir, files, hdf5, ...probe, how: "unpacked" };
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw e;
  }
}

/** Downloads every file of a known data set (and unpacks an archive set); results in file order. */
export async function fetchDataset(
  name: string,
  options: FetchOptions = {},
): Promise<FetchResults> {
  const known = KNOWN_DATASETS[name];
  if (known === undefined) {
    throw new DownloadError(
      `unknown data set ${JSON.stringify(name)}; known: ${Object.keys(KNOWN_DATASETS).join(", ")}`,
    );
  }
  const log = options.log ?? ((m: string) => console.error(m));
  const mirror = (options.baseUrl ?? setting("dataUrl"))?.replace(/\/+$/, "");
  const outDir = options.outDir ?? "data";
  const dir = `${outDir}/${name}`;
  // An archive is kept beside its unpacked folder (a later --force unpacks it again).
  await Deno.mkdir(known.archive ? outDir : dir, { recursive: true });
  const retries = options.retries ?? 3;
  const results: FetchResults = [];
  // An archive set already unpacked needs no archive (it may have been deleted to save space).
  const unpacked = known.archive !== undefined && !options.force &&
    (await Promise.all(known.archive.members.map((m) => exists(`${dir}/${m}`)))).every((x) => x);
  for (const f of unpacked ? [] : known.files) {
    const url = mirror !== undefined
      ? `${mirror}/${name}/${f.name}`
      : f.url ?? `${DEFAULT_BASE_URL}/${name}/${f.name}`;
    const dest = known.archive ? `${outDir}/${f.name}` : `${dir}/${f.name}`;
    for (let attempt = 0;; attempt++) {
      try {
        const r = await downloadFile(url, dest, {
          size: f.size,
          sha256: f.sha256,
          csvColumn: known.archive ? undefined : "cif",
          force: options.force,
          log,
        });
        log(`${r.how === "present" ? "present" : r.how}: ${dest} (${r.bytes} bytes)`);
        results.push(r);
        break;
      } catch (e) {
        const retryable = e instanceof DownloadError && /broke off/.test(e.message);
        if (!retryable || attempt >= retries) throw e;
        log(`${e.message} — retrying (${attempt + 1}/${retries})`);
      }
    }
  }
  if (known.archive) {
    const archive = `${outDir}/${known.files[0].name}`;
    const u = await unpackArchive(archive, dir, known.archive, !!options.force, log);
    if (u.structures !== known.archive.structures) {
      log(
        `note: ${u.hdf5} has ${u.structures} usable structures; the published set has ` +
          `${known.archive.structures}`,
      );
    }
    results.unpacked = u;
  }
  return results;
}
