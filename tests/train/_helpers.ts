/**
 * Shared helpers of the training tests: a tiny CPU configuration, temp folders, run-folder
 * readers and exact comparisons.
 * @module
 */

import assert from "node:assert/strict";
import { readSafetensors } from "../../lib/io/safetensors.ts";
import type { TrainConfig, TrainHooks } from "../../lib/train/trainer.ts";

/** The repository root (for subprocesses). */
export const ROOT = new URL("../../", import.meta.url).pathname;

/** A tiny, fast CPU configuration (override what a test needs). */
export function tinyConfig(out: string, extra: Partial<TrainConfig> = {}): TrainConfig {
  return {
    data: "synthetic:60",
    model: "facgcnn",
    atomFeaLen: 8,
    hFeaLen: 16,
    nConv: 1,
    epochs: 2,
    batchSize: 16,
    device: "cpu",
    cacheDir: null,
    quiet: true,
    seed: 1,
    out,
    ...extra,
  };
}

/** Hooks that keep the test output quiet. */
export const QUIET: TrainHooks = { log: () => {} };

/** A fresh temp folder, removed by the returned function. */
export async function tempDir(prefix: string): Promise<[string, () => Promise<void>]> {
  const dir = await Deno.makeTempDir({ prefix: `facgcnn-${prefix}-` });
  return [dir, () => Deno.remove(dir, { recursive: true }).catch(() => {})];
}

/** `metrics.csv` as header + rows of fields. */
export async function readMetrics(
  out: string,
): Promise<{ header: string[]; rows: string[][] }> {
  const lines = (await Deno.readTextFile(`${out}/metrics.csv`)).trim().split("\n");
  return { header: lines[0].split(","), rows: lines.slice(1).map((l) => l.split(",")) };
}

/** `metrics.csv` rows without the (wall-clock) seconds column, as the exact text written. */
export async function metricsWithoutSeconds(out: string): Promise<string[][]> {
  const { header, rows } = await readMetrics(out);
  const s = header.indexOf("seconds");
  assert.ok(s >= 0, "metrics.csv has a seconds column");
  return rows.map((r) => r.filter((_, i) => i !== s));
}

/** The tensors of a safetensors file as name → bytes (exact comparison). */
export async function tensorsOf(path: string): Promise<Map<string, Float32Array>> {
  const f = await readSafetensors(path);
  const out = new Map<string, Float32Array>();
  for (const [name, t] of Object.entries(f.tensors)) out.set(name, t.data as Float32Array);
  return out;
}

/** Asserts two tensor maps are equal bit for bit (same names, shapes and every float). */
export function assertSameTensors(
  a: Map<string, Float32Array>,
  b: Map<string, Float32Array>,
  what: string,
): void {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort(), `${what}: tensor names`);
  for (const [name, x] of a) {
    const y = b.get(name)!;
    assert.equal(x.length, y.length, `${what}: ${name} length`);
    const xb = new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
    const yb = new Uint8Array(y.buffer, y.byteOffset, y.byteLength);
    const i = xb.findIndex((v, k) => v !== yb[k]);
    assert.ok(i < 0, `${what}: ${name} differs at float ${Math.floor(i / 4)}`);
  }
}

/** True when two tensor maps differ somewhere. */
export function tensorsDiffer(a: Map<string, Float32Array>, b: Map<string, Float32Array>): boolean {
  for (const [name, x] of a) {
    const y = b.get(name);
    if (!y || y.length !== x.length || x.some((v, i) => !Object.is(v, y[i]))) return true;
  }
  return false;
}

/** The `--allow-*` flags of a `deno.json` task, as `deno task <name>` grants them. */
export function taskPermissions(task: string): string[] {
  const tasks = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`)).tasks;
  const command = tasks[task];
  if (typeof command !== "string") throw new Error(`deno.json has no task ${task}`);
  return command.split(/\s+/).filter((w) => w.startsWith("--allow-"));
}

/**
 * Runs `deno run -A <script> ...args` in the repository root; with `task`, under that task's
 * permissions instead (and `--no-prompt`: a missing permission is an error, not a prompt).
 */
export async function runCli(
  script: string,
  args: string[],
  options: { env?: Record<string, string>; task?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const perms = options.task ? [...taskPermissions(options.task), "--no-prompt"] : ["-A"];
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...perms, script, ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...options.env },
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, stdout: dec.decode(r.stdout), stderr: dec.decode(r.stderr) };
}
