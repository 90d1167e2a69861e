/**
 * Which MPI launcher (if any) started this process, from the variables launchers set: the
 * first step of a data-parallel run, before any library is opened. Not launched by MPI
 * means one process (rank 0 of 1).
 * @module
 */

/**
 * The launcher family, which also decides which MPI library is tried first.
 *
 * @example
 * ```ts
 * import { detectLaunch, type Launcher } from "@facgcnn/toolkit";
 * const launcher: Launcher | undefined = detectLaunch()?.launcher; // "openmpi" under Open MPI's mpirun
 * ```
 */
export type Launcher = "openmpi" | "mpich" | "pmix" | "slurm";

/**
 * Rank, size and launcher of a process started by `mpirun`/`mpiexec`/`srun`.
 *
 * @example
 * ```ts
 * import { detectLaunch } from "@facgcnn/toolkit";
 * const launch = detectLaunch(); // null when run without mpirun
 * console.log(launch ? `rank ${launch.rank} of ${launch.size} (${launch.launcher})` : "one process");
 * ```
 */
export interface LaunchInfo {
  /** This process's rank, 0-based. */
  rank: number;
  /** Number of processes. */
  size: number;
  /** Rank among the processes of this node (picks the GPU), 0 when unknown. */
  localRank: number;
  /** Processes on this node (splits its cores), 1 when unknown. */
  localSize: number;
  /** Who set the variables. */
  launcher: Launcher;
  /** The variable names the rank and size were read from (for messages). */
  source: string;
}

/**
 * Environment reader; a parameter so tests can pass a fixed environment.
 *
 * @example
 * ```ts
 * import { detectLaunch, type EnvGetter } from "@facgcnn/toolkit";
 * const env: EnvGetter = (name) => ({ PMI_RANK: "1", PMI_SIZE: "4" } as Record<string, string>)[name];
 * console.log(detectLaunch(env)); // { rank: 1, size: 4, launcher: "mpich", … }
 * ```
 */
export type EnvGetter = (name: string) => string | undefined;

function processEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // no --allow-env: treat as not launched
  }
}

/**
 * Reads the launcher's variables, in order: Open MPI (`OMPI_COMM_WORLD_RANK`/`_SIZE`),
 * MPICH's Hydra and other PMI-1/2 launchers (`PMI_RANK`/`PMI_SIZE`), PMIx (`PMIX_RANK` with
 * the size from Slurm), Slurm's `srun` (`SLURM_PROCID`/`SLURM_NTASKS`, counted only in an
 * `srun` step with more than one task: a batch script itself has `SLURM_PROCID=0`).
 * Returns null when none is set (one process). Inconsistent values (a rank outside the
 * size, a non-integer) throw with the variable named.
 *
 * @example
 * ```ts
 * import { detectLaunch } from "@facgcnn/toolkit";
 * const launch = detectLaunch();
 * if (launch && launch.rank !== 0) console.error(`worker ${launch.rank}`);
 * ```
 */
export function detectLaunch(env: EnvGetter = processEnv): LaunchInfo | null {
  const pairs: [Launcher, string, string][] = [
    ["openmpi", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"],
    ["mpich", "PMI_RANK", "PMI_SIZE"],
    ["pmix", "PMIX_RANK", "SLURM_NTASKS"],
    ["slurm", "SLURM_PROCID", "SLURM_NTASKS"],
  ];
  for (const [launcher, rankVar, sizeVar] of pairs) {
    const r = env(rankVar), s = env(sizeVar);
    if (r === undefined || s === undefined) continue;
    const rank = Number(r), size = Number(s);
    const source = `${rankVar}=${r}, ${sizeVar}=${s}`;
    if (!Number.isInteger(rank) || !Number.isInteger(size) || size < 1 || rank < 0) {
      throw new RangeError(`MPI environment: expected integers with size ≥ 1, got ${source}`);
    }
    if (rank >= size) throw new RangeError(`MPI environment: rank ≥ size in ${source}`);
    // A batch script itself has SLURM_PROCID=0 and the job's task count but is one process:
    // only `srun` tasks (a numeric step id) are ranks.
    if (launcher === "slurm" && (size === 1 || !/^\d+$/.test(env("SLURM_STEP_ID") ?? ""))) {
      return null;
    }
    const local = Number(
      env("OMPI_COMM_WORLD_LOCAL_RANK") ?? env("MPI_LOCALRANKID") ?? env("PMIX_LOCAL_RANK") ??
        env("SLURM_LOCALID") ?? 0,
    );
    const localRank = Number.isInteger(local) && local >= 0 ? local : 0;
    const perNode = Number(
      env("OMPI_COMM_WORLD_LOCAL_SIZE") ?? env("MPI_LOCALNRANKS") ?? env("PMIX_LOCAL_SIZE") ??
        env("SLURM_NTASKS_PER_NODE") ?? 1,
    );
    const localSize = Number.isInteger(perNode) && perNode >= 1 ? perNode : 1;
    return { rank, size, localRank, localSize, launcher, source };
  }
  return null;
}
