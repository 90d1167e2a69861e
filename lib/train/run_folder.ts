/**
 * The run folder of a training run: its configuration, the per-epoch commit of checkpoints
 * and resume state, and the recovery that makes `--resume` exact after a kill at any point.
 *
 * Per epoch the trainer stages `best.next` (if best), `last.next` and `last.optim.next`
 * (`.safetensors`), then writes `state.json` (the commit point), then renames the staged
 * files into place and rewrites `metrics.csv`. The other files (`test_results.csv`,
 * `summary.json`, `report.html`) are written by `writeRunFiles` at the end.
 * @module
 */

import type { Backend } from "../backend/backend.ts";
import { fileProblem, writeTextAtomic } from "../io/atomic.ts";
import { readSafetensors } from "../io/safetensors.ts";
import type { Model } from "../models/model.ts";
import type { Optimizer } from "../optim/optimizer.ts";
import { loadOptimizerState, saveOptimizerState } from "../optim/state_io.ts";
import { loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
import { resolveTrainConfig, type TrainConfig } from "./config.ts";
import type { EpochRecord } from "./records.ts";
import { writeRunFiles } from "./run_files.ts";

/**
 * What `state.json` holds: the resume point of a run.
 */
export interface RunState {
  /** Epochs committed. */
  epochsDone: number;
  /** Epoch of the lowest validation MAE so far (0: none yet). */
  bestEpoch: number;
  /** That validation MAE (Infinity before the first epoch). */
  bestValMae: number;
  /** One record per committed epoch. */
  history: EpochRecord[];
}

/** The checkpoint files of a run: `<name>.safetensors`, staged as `<name>.next.safetensors`. */
export type RunCheckpoint = "best" | "last" | "last.optim";

/** The checkpoint files staged before each commit, in the order they are moved into place. */
const PENDING: readonly RunCheckpoint[] = ["best", "last", "last.optim"];

/**
 * Files a run writes into its folder (plus staged `*.next.safetensors` and atomic-write
 * temporaries): what `--force` may delete, and what makes a folder "a run's".
 */
const RUN_FILES = new Set([
  "config.json",
  "state.json",
  "metrics.csv",
  "best.safetensors",
  "last.safetensors",
  "last.optim.safetensors",
  "test_results.csv",
  "summary.json",
  "report.html",
  "skipped.csv",
  "run.lock",
]);
/** The lock and the staging file a run writes it through (see {@link RunFolder.lock}). */
const isLockFile = (name: string) =>
  name === "run.lock" || /^\.run\.lock\.\d+-[0-9a-f-]+\.tmp$/.test(name);
const isRunFile = (name: string) =>
  RUN_FILES.has(name) || /\.next\.safetensors$/.test(name) || /\.tmp$/.test(name) ||
  /^\.[^/]*\.tmp[^/]*$/.test(name);

/** The run folder is in use, not empty, or holds files that are not a run's. */
export class RunFolderError extends Error {
  /** `message` names the folder and what to do. */
  constructor(message: string) {
    super(message);
    this.name = "RunFolderError";
  }
}

/**
 * Options `--resume` may change: the epoch count (to extend a run), the device, where the
 * graph cache lives and how much is printed. Every other explicit option must match the saved
 * run, or the resumed run would mix two configurations.
 */
export const RESUME_MAY_CHANGE: readonly (keyof TrainConfig | "force")[] = [
  "epochs",
  "device",
  "cacheDir",
  "quiet",
  "out",
  "resume",
  "force",
];

const isPlainObject = (v: unknown) => v !== null && typeof v === "object" && !Array.isArray(v);

/** The flags that set the parts of object options. */
const PART_FLAGS: Readonly<Record<string, string>> = {
  "coordinates.scale": "--coord-scale",
  "coordinates.node": "--node-coords",
};

const flagName = (k: string) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/**
 * Throws a {@link RunFolderError} when an option given with `--resume` differs from the
 * saved run (a value the saved run left to its default is compared with that default),
 * naming the flag and both values; the options in {@link RESUME_MAY_CHANGE} are exempt.
 */
export function checkResumeOptions(given: TrainConfig, saved: TrainConfig, path: string): void {
  const resolved = resolveTrainConfig(saved) as unknown as Record<string, unknown>;
  const was = saved as unknown as Record<string, unknown>;
  const now = given as unknown as Record<string, unknown>;
  const conflicts: string[] = [];
  for (const k of Object.keys(now)) {
    if (now[k] === undefined || (RESUME_MAY_CHANGE as readonly string[]).includes(k)) continue;
    const before = was[k] !== undefined ? was[k] : resolved[k];
    if (JSON.stringify(before) === JSON.stringify(now[k])) continue;
    // An object option (coordinates) given in part: only the parts given must match.
    if (isPlainObject(now[k]) && isPlainObject(before)) {
      const b = before as Record<string, unknown>;
      const differ = Object.entries(now[k] as Record<string, unknown>)
        .filter(([p, v]) => v !== undefined && JSON.stringify(b[p]) !== JSON.stringify(v));
      // Named by the command-line flag that sets each part (`--coord-scale`, `--node-coords`).
      for (const [p, v] of differ) {
        const flag = PART_FLAGS[`${k}.${p}`] ?? `${flagName(k)}.${p}`;
        const show = (x: unknown) =>
          typeof x === "boolean" ? (x ? "on" : "off") : JSON.stringify(x);
        conflicts.push(`${flag} ${show(v)} but the run used ${show(b[p])}`);
      }
      continue;
    }
    conflicts.push(
      `${flagName(k)} ${JSON.stringify(now[k])} but the run used ${
        before === undefined ? "none" : JSON.stringify(before)
      }`,
    );
  }
  if (conflicts.length > 0) {
    throw new RunFolderError(
      `--resume: ${conflicts.join("; ")} (${path}/config.json); a resumed run keeps its ` +
        `configuration: drop the flag, or start a new run (another --out, or --force); ` +
        `only --epochs, --device, --no-cache and --quiet may change on resume`,
    );
  }
}

/** `runs/<UTC timestamp>`, the folder of a run without `--out`. */
export function defaultRunFolder(): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, "-").replace("T", "_").slice(0, 19);
  return `runs/${stamp}`;
}

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown";
  }
}

/**
 * Whether the run that wrote a lock on this host still runs: it holds an exclusive advisory lock
 * (`flock`) on the lock file for as long as it lives, and the kernel drops that lock when the
 * process ends, however it ends (SIGKILL, out of memory). This needs no `/proc` access, which
 * Deno grants only with `--allow-all` (the tasks run with named permissions). Where the file
 * system has no `flock`, the pid is looked up in `/proc` when that is readable, and the lock is
 * taken as live otherwise.
 */
async function lockHolderAlive(path: string, pid: number): Promise<boolean> {
  if (pid === Deno.pid) return true; // this process: alive whatever holds the file
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false; // released meanwhile
    throw e;
  }
  try {
    const free = await file.tryLock(true);
    if (free) await file.unlock();
    return !free;
  } catch {
    return processAlive(pid);
  } finally {
    file.close();
  }
}

/** Whether process `pid` runs on this host (Linux /proc; assumed alive when it cannot be read). */
function processAlive(pid: number): boolean {
  if (pid === Deno.pid) return true;
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      try {
        Deno.statSync("/proc/self");
        return false; // /proc works and the pid is not in it
      } catch {
        return true;
      }
    }
    return true;
  }
}

async function stagedEpoch(path: string): Promise<number | null> {
  try {
    return Number((await readSafetensors(path)).metadata?.epoch);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/**
 * A run folder on disk.
 *
 * @example
 * ```ts
 * import { RunFolder } from "@facgcnn/toolkit";
 * const folder = new RunFolder("runs/example");
 * const config = await folder.readConfig(); // what --resume continues
 * console.log(config.model, config.epochs, folder.file("best"));
 * ```
 */
export class RunFolder {
  /** The folder at `path` (nothing is created yet). */
  constructor(readonly path: string) {}

  /** Path of a checkpoint file of the run. */
  file(name: RunCheckpoint): string {
    return `${this.path}/${name}.safetensors`;
  }

  #pending(name: RunCheckpoint): string {
    return `${this.path}/${name}.next.safetensors`;
  }

  /** Creates the folder (and its parents); the error names the folder and the reason. */
  async create(): Promise<void> {
    try {
      await Deno.mkdir(this.path, { recursive: true });
    } catch (e) {
      throw new RunFolderError(`cannot create the run folder ${this.path}: ${fileProblem(e)}`);
    }
  }

  /** Names of the entries in the folder (empty when it does not exist). */
  async entries(): Promise<string[]> {
    const names: string[] = [];
    try {
      for await (const e of Deno.readDir(this.path)) names.push(e.name);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return [];
      if (e instanceof Deno.errors.NotADirectory) {
        throw new RunFolderError(`--out ${this.path} is a file, not a folder`);
      }
      throw e;
    }
    return names.sort();
  }

  /**
   * Checks that a fresh run may start here: the folder is missing or empty, or `force` is set,
   * in which case the files of the previous run are deleted (and anything else is refused:
   * `--force` never deletes files a run did not write). A lock held by a live process is
   * refused by {@link lock}, which runs first.
   */
  async prepareFresh(force: boolean): Promise<void> {
    const names = (await this.entries()).filter((n) => !isLockFile(n));
    if (names.length === 0) return;
    const shown = names.slice(0, 5).join(", ") + (names.length > 5 ? ", …" : "");
    if (!force) {
      throw new RunFolderError(
        `${this.path} already holds files (${shown}): pass --resume to continue that run, ` +
          `--force to delete its files and start clean, or choose another --out`,
      );
    }
    const foreign = names.filter((n) => !isRunFile(n));
    if (foreign.length > 0) {
      throw new RunFolderError(
        `--force: ${this.path} holds files that a run does not write (${
          foreign.slice(0, 5).join(", ")
        }${foreign.length > 5 ? ", …" : ""}); not deleting anything: choose another --out`,
      );
    }
    for (const n of names) await Deno.remove(`${this.path}/${n}`, { recursive: true });
  }

  /**
   * Takes the folder's lock: creates `run.lock` (pid, host, start time) exclusively and holds an
   * advisory lock (`flock`) on it while the run lives. A lock whose process no longer runs on
   * this host (its flock is free) is stale and replaced; a live one is a
   * {@link RunFolderError} naming its pid. Returns the release function.
   */
  async lock(): Promise<() => Promise<void>> {
    const existed = await Deno.stat(this.path).then(() => true, () => false);
    await this.create();
    const path = `${this.path}/run.lock`;
    const host = hostname();
    const mine = JSON.stringify({ pid: Deno.pid, host, started: new Date().toISOString() });
    for (let attempt = 0; attempt < 4; attempt++) {
      try {
        // (Re)create: another run that failed may have just removed the empty folder.
        if (attempt > 0) await this.create();
        // Written whole to a staging file, then hard-linked into place: the link is created
        // exclusively (fails if run.lock exists) and already holds the pid, so a racing run
        // never reads a half-written lock.
        // The staging file is flock-ed before the link, so the lock is held from the moment
        // run.lock exists, and stays held (the file stays open) until release or exit.
        const staging = `${this.path}/.run.lock.${Deno.pid}-${crypto.randomUUID()}.tmp`;
        await Deno.writeTextFile(staging, mine + "\n", { createNew: true });
        const holder = await Deno.open(staging, { read: true });
        try {
          await holder.lock(true).catch(() => {}); // no flock here: the pid check stands in
          await Deno.link(staging, path);
        } catch (e) {
          holder.close();
          throw e;
        } finally {
          await Deno.remove(staging).catch(() => {});
        }
        return async () => {
          try {
            if ((await Deno.readTextFile(path)).trim() === mine) await Deno.remove(path);
          } catch {
            // already gone
          }
          holder.close(); // drops the flock
          // A run that failed before writing anything leaves no empty folder behind.
          if (!existed) await Deno.remove(this.path).catch(() => {});
        };
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) continue;
        if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      }
      let held: { pid?: number; host?: string; started?: string } = {};
      let alive: boolean;
      try {
        held = JSON.parse(await Deno.readTextFile(path));
        // Another host's run cannot be checked from here (flock over NFS may be local only).
        alive = typeof held.pid !== "number" || held.host !== host ||
          await lockHolderAlive(path, held.pid);
      } catch {
        // Unreadable: garbage left long ago, or a lock being written in place by an older
        // version of this code (this one links a complete file into place).
        const age = Date.now() - ((await Deno.stat(path).catch(() => null))?.mtime?.getTime() ?? 0);
        alive = age < 10_000;
      }
      if (alive) {
        throw new RunFolderError(
          `${this.path} is in use by another training (${
            typeof held.pid === "number"
              ? `pid ${held.pid}${
                held.host !== host ? ` on ${held.host}` : ""
              }, started ${held.started}`
              : `${path} is unreadable or names no process, and is less than 10 s old`
          }): wait for it or choose another --out; if no such ` +
            `process runs, delete ${path}`,
        );
      }
      await Deno.remove(path).catch(() => {});
    }
    throw new RunFolderError(
      `${this.path}: cannot take the lock ${path} (another run races for it)`,
    );
  }

  /** The saved configuration (`config.json`), as `--resume` reads it. */
  async readConfig(): Promise<TrainConfig> {
    try {
      return JSON.parse(await Deno.readTextFile(`${this.path}/config.json`));
    } catch (e) {
      throw new Error(`--resume: cannot read ${this.path}/config.json (${(e as Error).message})`);
    }
  }

  /** Writes `config.json` (see `savedRunConfig` for what it holds). */
  async writeConfig(config: TrainConfig): Promise<void> {
    await writeTextAtomic(`${this.path}/config.json`, JSON.stringify(config, null, 2) + "\n");
  }

  /**
   * Restores the last committed epoch into `model` and `optimizer` (weights, statistics,
   * optimizer state, left in training form) after settling the staged files of an
   * interrupted epoch, and rewrites `metrics.csv`. Returns the state to continue from: a
   * fresh one when no epoch was committed.
   */
  async resume(
    model: Model,
    optimizer: Optimizer,
    backend: Backend,
    options: { readOnly?: boolean } = {},
  ): Promise<RunState> {
    let state: RunState = { epochsDone: 0, bestEpoch: 0, bestValMae: Infinity, history: [] };
    try {
      state = JSON.parse(await Deno.readTextFile(`${this.path}/state.json`));
    } catch (e) {
      // Stopped before the first epoch was committed: nothing to continue from.
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    // Data-parallel runs: rank 0 settles the folder, the other ranks only read it.
    if (!options.readOnly) await this.#recoverPending(state);
    if (state.epochsDone > 0) {
      const { model: saved, info } = await loadCheckpoint(this.file("last"), { backend });
      try {
        if (info.epoch !== state.epochsDone) {
          throw new Error(
            `--resume: ${
              this.file("last")
            } is from epoch ${info.epoch} but state.json says ${state.epochsDone}`,
          );
        }
        model.network.loadStateDict(saved.network.stateDict());
      } finally {
        saved.dispose();
      }
      optimizer.loadStateDict(await loadOptimizerState(this.file("last.optim")));
      optimizer.train();
      if (!options.readOnly) await writeRunFiles.metrics(this.path, state.history);
    }
    return state;
  }

  /**
   * Commits an epoch already pushed into `state`: stages the checkpoints (`best` when
   * `best`), writes `state.json`, moves the staged files into place and rewrites
   * `metrics.csv`. A kill at any point leaves a consistent resume point.
   */
  async commitEpoch(
    state: RunState,
    model: Model,
    optimizer: Optimizer,
    best: boolean,
    metrics: Record<string, number>,
  ): Promise<void> {
    const epoch = state.epochsDone;
    if (best) await saveCheckpoint(this.#pending("best"), model, { epoch, metrics });
    await saveCheckpoint(this.#pending("last"), model, { epoch, metrics });
    await saveOptimizerState(this.#pending("last.optim"), optimizer.stateDict());
    await writeRunFiles.state(this.path, state);
    for (const name of PENDING) await this.#movePending(name);
    await writeRunFiles.metrics(this.path, state.history);
  }

  async #movePending(name: RunCheckpoint): Promise<void> {
    try {
      await Deno.rename(this.#pending(name), this.file(name));
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }

  /**
   * Finishes or discards the staged checkpoints of an interrupted epoch. A staged file is
   * kept (renamed) when its epoch was committed, else removed: `best.next` by its epoch vs
   * `state.bestEpoch`, `last.next` by its epoch vs `state.epochsDone`, and `last.optim.next`
   * goes with `last.next` (when `last.next` is already gone, the optimizer file is a
   * committed leftover of the renames).
   */
  async #recoverPending(state: RunState): Promise<void> {
    const settle = async (name: RunCheckpoint, keep: boolean) => {
      if (keep) await this.#movePending(name);
      else await Deno.remove(this.#pending(name)).catch(() => {});
    };
    const best = await stagedEpoch(this.#pending("best"));
    if (best !== null) await settle("best", best === state.bestEpoch && best > 0);
    const last = await stagedEpoch(this.#pending("last"));
    const lastCommitted = last === null || (last === state.epochsDone && last > 0);
    if (last !== null) await settle("last", lastCommitted);
    await settle("last.optim", lastCommitted);
  }
}
