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
import { readSafetensors } from "../io/safetensors.ts";
import type { Model } from "../models/model.ts";
import type { Optimizer } from "../optim/optimizer.ts";
import { loadOptimizerState, saveOptimizerState } from "../optim/state_io.ts";
import { loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
import type { TrainConfig } from "./config.ts";
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

/** `runs/<UTC timestamp>`, the folder of a run without `--out`. */
export function defaultRunFolder(): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, "-").replace("T", "_").slice(0, 19);
  return `runs/${stamp}`;
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

  /** Creates the folder (and its parents). */
  async create(): Promise<void> {
    await Deno.mkdir(this.path, { recursive: true });
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
    await Deno.writeTextFile(`${this.path}/config.json`, JSON.stringify(config, null, 2) + "\n");
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
