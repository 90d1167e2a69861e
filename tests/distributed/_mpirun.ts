/**
 * Launching test scripts under `mpirun` (Open MPI and/or MPICH, whichever are installed).
 * @module
 */

/** An installed launcher. */
export interface MpiLauncher {
  /** "Open MPI" or "MPICH". */
  name: string;
  /** The command (e.g. `mpirun.openmpi`). */
  command: string;
  /** Arguments before `-np`. */
  args: string[];
  /** Extra environment. */
  env: Record<string, string>;
}

function onPath(cmd: string): boolean {
  try {
    return new Deno.Command("sh", { args: ["-c", `command -v ${cmd}`], stdout: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

function versionOf(cmd: string): string {
  try {
    const o = new Deno.Command(cmd, { args: ["--version"], stdout: "piped", stderr: "piped" })
      .outputSync();
    return new TextDecoder().decode(o.stdout) + new TextDecoder().decode(o.stderr);
  } catch {
    return "";
  }
}

const OPEN_MPI = {
  name: "Open MPI",
  // Root is allowed (CI runs as root) and more ranks than cores are fine for tests.
  args: ["--oversubscribe"],
  env: {
    OMPI_ALLOW_RUN_AS_ROOT: "1",
    OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: "1",
    OMPI_MCA_btl: "self,vader,tcp",
    // Containers often forbid the cross-memory attach (ptrace) that shared memory uses by default.
    OMPI_MCA_btl_vader_single_copy_mechanism: "none",
  },
};

/** The launchers found (Debian's `mpirun.openmpi` and `mpirun.mpich`, else `mpirun`). */
export function mpiLaunchers(): MpiLauncher[] {
  const found: MpiLauncher[] = [];
  if (onPath("mpirun.openmpi")) found.push({ ...OPEN_MPI, command: "mpirun.openmpi" });
  if (onPath("mpirun.mpich")) {
    found.push({ name: "MPICH", command: "mpirun.mpich", args: [], env: {} });
  }
  if (found.length === 0 && onPath("mpirun")) {
    const v = versionOf("mpirun");
    found.push(
      /Open MPI|OpenRTE/.test(v)
        ? { ...OPEN_MPI, command: "mpirun" }
        : { name: "MPICH", command: "mpirun", args: [], env: {} },
    );
  }
  return found;
}

/** Why MPI tests skip, or null when a launcher exists. */
export function mpiSkipReason(): string | null {
  return mpiLaunchers().length > 0
    ? null
    : "mpirun not found (apt-get install openmpi-bin libopenmpi-dev, or mpich)";
}

/** Result of one `mpirun` run. */
export interface MpiRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `deno run -A script args` on `np` ranks. */
export async function mpirun(
  launcher: MpiLauncher,
  np: number,
  script: string,
  args: string[] = [],
  env: Record<string, string> = {},
  timeoutMs = 240_000,
): Promise<MpiRun> {
  const cmd = new Deno.Command(launcher.command, {
    args: [...launcher.args, "-np", String(np), Deno.execPath(), "run", "-A", script, ...args],
    env: { NO_COLOR: "1", ...launcher.env, ...env },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
  });
  const o = await cmd.output();
  const dec = new TextDecoder();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}
