/**
 * Training progress on stderr: on a terminal, one line redrawn in place (epoch, a bar,
 * batch i/n, loss, crystals/s, ETA); when piped (logs, CI), plain lines at most every
 * `intervalSeconds` and one at every epoch end, so log files stay readable.
 *
 * Written here rather than taken from `cli-progress`: that package writes through Node's
 * `process.stderr` stream and TTY shims; this is ~150 lines on `Deno.stderr.writeSync` and
 * `isTerminal()`, with an injectable writer and clock so both modes are testable.
 * @module
 */

/** Where progress goes. `isTerminal` picks the redrawn-line mode. */
export interface ProgressWriter {
  /** Writes text as is (no newline added). */
  write(text: string): void;
  /** True for an interactive terminal. */
  readonly isTerminal: boolean;
  /** Terminal width, if known (lines are cut to fit so `\r` redraws cleanly). */
  columns?: number;
}

/** How to report: `auto` follows the writer; `silent` prints nothing. */
export type ProgressMode = "auto" | "tty" | "plain" | "silent";

/** Options of {@link Progress}. */
export interface ProgressOptions {
  /** Default: stderr. */
  writer?: ProgressWriter;
  /** Default `auto`. */
  mode?: ProgressMode;
  /** Piped mode: least seconds between batch lines (default 10). */
  intervalSeconds?: number;
  /** TTY mode: least milliseconds between redraws (default 100). */
  redrawMs?: number;
  /** Clock in milliseconds (default `performance.now`), injectable for tests. */
  now?: () => number;
}

/** The default writer: stderr, synchronous, terminal-aware. */
export function stderrWriter(): ProgressWriter {
  const enc = new TextEncoder();
  const isTerminal = Deno.stderr.isTerminal();
  let columns: number | undefined;
  if (isTerminal) {
    try {
      columns = Deno.consoleSize().columns;
    } catch { /* not a console after all */ }
  }
  return {
    isTerminal,
    columns,
    write(text: string) {
      const bytes = enc.encode(text);
      let done = 0;
      while (done < bytes.length) done += Deno.stderr.writeSync(bytes.subarray(done));
    },
  };
}

/** `m:ss` or `h:mm:ss`; `--:--` when unknown. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "--:--";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

function formatValue(v: number | string): string {
  if (typeof v === "string") return v;
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0)
    ? v.toExponential(3)
    : v.toPrecision(4);
}

/** Reports epochs and batches; see the module doc for the two modes. */
export class Progress {
  readonly #writer: ProgressWriter;
  readonly #mode: "tty" | "plain" | "silent";
  readonly #interval: number;
  readonly #redrawMs: number;
  readonly #now: () => number;
  #epoch = 0;
  #epochs = 0;
  #batches = 0;
  #runStart = -1;
  #epochStart = 0;
  #batchesDone = 0;
  #crystalsInEpoch = 0;
  #lastPrint = -Infinity;
  #lineOpen = false;

  /** Creates a reporter; nothing is printed until the first epoch starts. */
  constructor(options: ProgressOptions = {}) {
    const mode = options.mode ?? "auto";
    this.#writer = options.writer ??
      (mode === "silent" ? { write() {}, isTerminal: false } : stderrWriter());
    this.#mode = mode === "auto" ? (this.#writer.isTerminal ? "tty" : "plain") : mode;
    this.#interval = (options.intervalSeconds ?? 10) * 1000;
    this.#redrawMs = options.redrawMs ?? 100;
    this.#now = options.now ?? (() => performance.now());
  }

  /** The mode in use after `auto` was resolved. */
  get mode(): "tty" | "plain" | "silent" {
    return this.#mode;
  }

  /** Starts epoch `epoch` (1-based) of `epochs`, with `batches` batches. */
  startEpoch(epoch: number, epochs: number, batches: number): void {
    const t = this.#now();
    if (this.#runStart < 0) this.#runStart = t;
    this.#epoch = epoch;
    this.#epochs = epochs;
    this.#batches = batches;
    this.#epochStart = t;
    this.#crystalsInEpoch = 0;
    this.#lastPrint = t;
  }

  /**
   * Batch `batch` (1-based) finished with training `loss` over `crystals` structures.
   * Prints when due (TTY: at most every `redrawMs`; piped: every `intervalSeconds`).
   */
  update(batch: number, loss: number, crystals: number): void {
    this.#batchesDone += 1;
    this.#crystalsInEpoch += crystals;
    if (this.#mode === "silent") return;
    const t = this.#now();
    const last = batch >= this.#batches;
    if (this.#mode === "tty") {
      if (t - this.#lastPrint < this.#redrawMs && !last) return;
      this.#lastPrint = t;
      let line = this.#statusLine(batch, loss, t, true);
      const cols = this.#writer.columns;
      if (cols !== undefined && line.length > cols - 1) line = line.slice(0, Math.max(cols - 1, 0));
      this.#writer.write(`\r\x1b[2K${line}`);
      this.#lineOpen = true;
    } else if (t - this.#lastPrint >= this.#interval) {
      this.#lastPrint = t;
      this.#writer.write(this.#statusLine(batch, loss, t, false) + "\n");
    }
  }

  /** Ends the epoch with a summary line, e.g. `{ "train loss": 0.12, "val MAE": 0.05 }`. */
  endEpoch(metrics: Record<string, number | string> = {}): void {
    if (this.#mode === "silent") return;
    const seconds = (this.#now() - this.#epochStart) / 1000;
    const parts = Object.entries(metrics).map(([k, v]) => `${k} ${formatValue(v)}`);
    const rate = seconds > 0
      ? `${formatValue(Math.round(this.#crystalsInEpoch / seconds))} crystals/s`
      : "";
    const line = [`epoch ${this.#epoch}/${this.#epochs}`, ...parts, `${seconds.toFixed(1)} s`, rate]
      .filter((s) => s !== "")
      .join("  ");
    this.#writer.write(this.#clear() + line + "\n");
    this.#lastPrint = this.#now();
  }

  /** Prints a message on its own line without garbling a redrawn bar. */
  log(message: string): void {
    if (this.#mode === "silent") return;
    this.#writer.write(this.#clear() + message + "\n");
  }

  /** Closes an open TTY line (call once at the end, or on errors). */
  finish(): void {
    if (this.#mode === "silent") return;
    if (this.#lineOpen) this.#writer.write("\n");
    this.#lineOpen = false;
  }

  #clear(): string {
    if (!this.#lineOpen) return "";
    this.#lineOpen = false;
    return "\r\x1b[2K";
  }

  #statusLine(batch: number, loss: number, t: number, bar: boolean): string {
    const epochSeconds = (t - this.#epochStart) / 1000;
    const rate = epochSeconds > 0 ? this.#crystalsInEpoch / epochSeconds : NaN;
    // ETA for the whole run from the average time per batch so far.
    const perBatch = (t - this.#runStart) / 1000 / Math.max(this.#batchesDone, 1);
    const remaining = (this.#batches - batch) + (this.#epochs - this.#epoch) * this.#batches;
    const width = 20;
    const filled = Math.round((width * batch) / Math.max(this.#batches, 1));
    const parts = [
      `epoch ${this.#epoch}/${this.#epochs}`,
      bar ? `[${"#".repeat(filled)}${".".repeat(width - filled)}]` : "",
      `batch ${batch}/${this.#batches}`,
      `loss ${formatValue(loss)}`,
      Number.isFinite(rate) ? `${formatValue(Math.round(rate))} crystals/s` : "",
      `ETA ${formatDuration(perBatch * remaining)}`,
    ];
    return parts.filter((s) => s !== "").join("  ");
  }
}
