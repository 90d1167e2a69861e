/**
 * Run-folder safety: one training per folder (a lock with the pid, stale locks replaced), a
 * fresh run never mixes with an old one (refused unless --force, which starts clean), and
 * --resume refuses options that differ from the saved run (except those that may change).
 */
import assert from "node:assert/strict";
import { train } from "../../lib/train/trainer.ts";
import { RESUME_MAY_CHANGE, RunFolder, RunFolderError } from "../../lib/train/run_folder.ts";
import { QUIET, runCli, tempDir, tinyConfig } from "./_helpers.ts";

const TINY = [
  "--data",
  "synthetic:60",
  "--atom-fea-len",
  "8",
  "--h-fea-len",
  "16",
  "--n-conv",
  "1",
  "--batch-size",
  "16",
  "--device",
  "cpu",
  "--no-cache",
  "--seed",
  "1",
  "-q",
];

Deno.test("a fresh run into a folder with a previous run is refused; --force starts clean", async () => {
  const [dir, cleanup] = await tempDir("fresh");
  try {
    const out = `${dir}/run`;
    (await train(tinyConfig(out, { epochs: 1 }), QUIET)).model.dispose();
    const before = await Deno.readTextFile(`${out}/config.json`);
    await assert.rejects(
      train(tinyConfig(out, { epochs: 1, lr: 1e-3 }), QUIET),
      (e: Error) =>
        e instanceof RunFolderError &&
        e.message.startsWith(`${out} already holds files (`) &&
        /pass --resume to continue that run, --force to delete its files/.test(e.message),
    );
    assert.equal(await Deno.readTextFile(`${out}/config.json`), before, "nothing was touched");
    assert.ok(!(await new RunFolder(out).entries()).includes("run.lock"), "lock released");

    const r = await train(tinyConfig(out, { epochs: 1, lr: 1e-3, force: true }), QUIET);
    r.model.dispose();
    const cfg = JSON.parse(await Deno.readTextFile(`${out}/config.json`));
    assert.equal(cfg.lr, 1e-3);
    assert.equal(cfg.force, undefined, "--force is not saved");
    const state = JSON.parse(await Deno.readTextFile(`${out}/state.json`));
    assert.equal(state.epochsDone, 1, "the old run's epochs are gone");

    // --force never deletes files a run did not write.
    await Deno.writeTextFile(`${out}/notes.txt`, "mine");
    await assert.rejects(
      train(tinyConfig(out, { epochs: 1, force: true }), QUIET),
      /--force: .* holds files that a run does not write \(notes\.txt\); not deleting anything/,
    );
    assert.ok(await Deno.stat(`${out}/best.safetensors`));
  } finally {
    await cleanup();
  }
});

Deno.test("--resume with a differing option names both values; --epochs may change", async () => {
  const [dir, cleanup] = await tempDir("resume");
  try {
    const out = `${dir}/run`;
    (await train(tinyConfig(out, { epochs: 1 }), QUIET)).model.dispose();
    await assert.rejects(
      train({ out, resume: true, lr: 0.01, atomFeaLen: 16 } as never, QUIET),
      (e: Error) => {
        assert.ok(e instanceof RunFolderError);
        assert.match(e.message, /--resume: --lr 0\.01 but the run used 0\.0005/);
        assert.match(e.message, /--atom-fea-len 16 but the run used 8/);
        assert.match(
          e.message,
          /only --epochs, --device, --no-cache and --quiet may change on resume/,
        );
        return true;
      },
    );
    // A value the run left to its default is compared with that default.
    await assert.rejects(
      train({ out, resume: true, weightDecay: 0.1 } as never, QUIET),
      /--weight-decay 0\.1 but the run used/,
    );
    assert.ok(RESUME_MAY_CHANGE.includes("epochs"));
    const r = await train(
      { out, resume: true, epochs: 2, lr: 5e-4, data: "synthetic:60" } as never,
      QUIET,
    );
    assert.equal(r.history.length, 2);
    r.model.dispose();
    // The CLI says the same in one line, exit 1.
    const cli = await runCli("cli/train.ts", ["--out", out, "--resume", "--n-conv", "3"]);
    assert.equal(cli.code, 1, cli.stderr);
    assert.match(cli.stderr, /--resume: --n-conv 3 but the run used 1/);
  } finally {
    await cleanup();
  }
});

Deno.test("two trainings sharing --out: one runs, the other is refused naming the pid", async () => {
  const [dir, cleanup] = await tempDir("lock");
  try {
    const out = `${dir}/run`;
    const [a, b] = await Promise.all([
      runCli("cli/train.ts", [...TINY, "--epochs", "3", "--out", out]),
      runCli("cli/train.ts", [...TINY, "--epochs", "3", "--out", out]),
    ]);
    const codes = [a.code, b.code].sort();
    assert.deepEqual(codes, [0, 1], `${a.stderr}\n---\n${b.stderr}`);
    const loser = a.code === 1 ? a : b;
    assert.match(
      loser.stderr,
      new RegExp(`${out} (is in use by another training \\(pid \\d+|already holds files)`),
    );
    const state = JSON.parse(await Deno.readTextFile(`${out}/state.json`));
    assert.equal(state.epochsDone, 3);
    assert.ok(!(await new RunFolder(out).entries()).includes("run.lock"));

    // A lock left by a dead process is stale: replaced, and the run goes on, under the
    // permissions `deno task train` grants (no /proc access: Deno reads /proc only with -A).
    const dead = new Deno.Command("true").spawn();
    await dead.status;
    await Deno.writeTextFile(
      `${out}/run.lock`,
      JSON.stringify({ pid: dead.pid, host: Deno.hostname(), started: "earlier" }),
    );
    const resumed = await runCli("cli/train.ts", ["--out", out, "--resume", "--epochs", "4"], {
      task: "train",
    });
    assert.equal(resumed.code, 0, resumed.stderr);
    // A live run's lock (held here, in this process) blocks a run under the task's permissions.
    const release = await new RunFolder(out).lock();
    try {
      const blocked = await runCli("cli/train.ts", ["--out", out, "--resume", "--epochs", "5"], {
        task: "train",
      });
      assert.equal(blocked.code, 1, blocked.stderr);
      assert.match(blocked.stderr, new RegExp(`in use by another training \\(pid ${Deno.pid},`));
    } finally {
      await release();
    }
    // A live one (this test's own process) blocks.
    await Deno.writeTextFile(
      `${out}/run.lock`,
      JSON.stringify({ pid: Deno.pid, host: Deno.hostname(), started: "now" }),
    );
    await assert.rejects(
      train({ out, resume: true } as never, QUIET),
      new RegExp(`is in use by another training \\(pid ${Deno.pid}, started now\\)`),
    );
  } finally {
    await cleanup();
  }
});

Deno.test("racing lock() calls: one wins, every other is refused naming the winner's pid", async () => {
  // The lock must never be seen half-written (empty file): a loser would then report
  // "pid undefined" and could not name the run holding the folder.
  const [dir, cleanup] = await tempDir("lockrace");
  try {
    for (let round = 0; round < 5; round++) {
      const out = `${dir}/run${round}`;
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, () => new RunFolder(out).lock()),
      );
      const won = results.filter((r) => r.status === "fulfilled");
      assert.equal(won.length, 1, `round ${round}: ${won.length} winners`);
      for (const r of results) {
        if (r.status === "fulfilled") continue;
        assert.ok(r.reason instanceof RunFolderError, String(r.reason));
        assert.match(
          r.reason.message,
          new RegExp(`in use by another training \\(pid ${Deno.pid},`),
        );
      }
      assert.deepEqual(await new RunFolder(out).entries(), ["run.lock"], "no staging file left");
      await (won[0] as PromiseFulfilledResult<() => Promise<void>>).value();
    }
  } finally {
    await cleanup();
  }
});

Deno.test("a young unreadable lock is refused without inventing a pid; an old one is replaced", async () => {
  const [dir, cleanup] = await tempDir("lockjunk");
  try {
    const out = `${dir}/run`;
    await Deno.mkdir(out, { recursive: true });
    await Deno.writeTextFile(`${out}/run.lock`, "");
    await assert.rejects(
      new RunFolder(out).lock(),
      (e: Error) =>
        /is unreadable or names no process/.test(e.message) && !/undefined/.test(e.message),
    );
    const old = new Date(Date.now() - 60_000);
    await Deno.utime(`${out}/run.lock`, old, old);
    const release = await new RunFolder(out).lock();
    assert.equal(JSON.parse(await Deno.readTextFile(`${out}/run.lock`)).pid, Deno.pid);
    await release();
  } finally {
    await cleanup();
  }
});
