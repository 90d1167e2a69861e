/**
 * A full disk during training: the run stops with the file it was writing and "nothing saved
 * was lost", and after space is freed `--resume` finishes with checkpoints and metrics
 * identical to an uninterrupted run. Uses a small tmpfs (needs root to mount; skipped
 * otherwise).
 */
import assert from "node:assert/strict";
import {
  assertSameTensors,
  metricsWithoutSeconds,
  runCli,
  tempDir,
  tensorsOf,
} from "./_helpers.ts";

async function sh(cmd: string, args: string[]): Promise<boolean> {
  try {
    const r = await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output();
    return r.success;
  } catch {
    return false;
  }
}

/** Whether a tmpfs can be mounted here (root, mount available). */
const canMount = await (async () => {
  if (Deno.build.os !== "linux") return false;
  const probe = await Deno.makeTempDir({ prefix: "facgcnn-tmpfs-probe-" });
  try {
    if (!(await sh("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", probe]))) return false;
    await sh("umount", [probe]);
    return true;
  } finally {
    await Deno.remove(probe).catch(() => {});
  }
})();

const FLAGS = [
  "--data",
  "synthetic:60",
  "--atom-fea-len",
  "16",
  "--h-fea-len",
  "32",
  "--n-conv",
  "2",
  "--batch-size",
  "16",
  "--epochs",
  "3",
  "--device",
  "cpu",
  "--no-cache",
  "--seed",
  "2",
  "-q",
];

const PAGE = 4096;
const pages = (bytes: number) => Math.ceil(bytes / PAGE) * PAGE;

Deno.test({
  name: "disk full: names the file, loses nothing, and --resume ends identical to a clean run",
  ignore: !canMount,
  async fn() {
    const [dir, cleanup] = await tempDir("diskfull");
    const mnt = `${dir}/mnt`;
    await Deno.mkdir(mnt);
    let mounted = false;
    try {
      const ref = `${dir}/ref`;
      const r = await runCli("cli/train.ts", [...FLAGS, "--out", ref]);
      assert.equal(r.code, 0, r.stderr);
      // Room for the small files and one set of checkpoints plus half: the first epoch
      // commits, staging the second one runs out of space.
      let set = 0;
      for (const f of ["best", "last", "last.optim"]) {
        set += pages((await Deno.stat(`${ref}/${f}.safetensors`)).size);
      }
      const size = 10 * PAGE + Math.round(1.5 * set / PAGE) * PAGE;
      assert.ok(await sh("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", mnt]));
      mounted = true;

      const out = `${mnt}/run`;
      const full = await runCli("cli/train.ts", [...FLAGS, "--out", out]);
      assert.equal(full.code, 1, full.stderr);
      const last = full.stderr.trim().split("\n").at(-1)!;
      assert.match(
        last,
        new RegExp(
          `^error: cannot write ${out}/[\\w.]+: no space left on device \\(its previous ` +
            `content, if any, is intact\\); nothing saved was lost: ${out} holds the run up to ` +
            `epoch (\\d) .*continue with --resume --out ${out}$`,
        ),
      );
      const epochs = Number(/up to epoch (\d)/.exec(last)![1]);
      assert.ok(epochs >= 1 && epochs < 3, last);
      const state = JSON.parse(await Deno.readTextFile(`${out}/state.json`));
      assert.equal(state.epochsDone, epochs, "state.json is the last committed epoch");
      const left = [...Deno.readDirSync(out)].map((e) => e.name);
      assert.ok(!left.some((n) => n.includes(".tmp")), `no temporary files: ${left}`);

      // Free space, resume: the same files as the uninterrupted run.
      assert.ok(await sh("mount", ["-o", "remount,size=64m", mnt]));
      const resumed = await runCli("cli/train.ts", ["--out", out, "--resume"]);
      assert.equal(resumed.code, 0, resumed.stderr);
      for (const f of ["best", "last"]) {
        assertSameTensors(
          await tensorsOf(`${out}/${f}.safetensors`),
          await tensorsOf(`${ref}/${f}.safetensors`),
          f,
        );
      }
      assert.deepEqual(await metricsWithoutSeconds(out), await metricsWithoutSeconds(ref));
    } finally {
      if (mounted) await sh("umount", [mnt]);
      await cleanup();
    }
  },
});
