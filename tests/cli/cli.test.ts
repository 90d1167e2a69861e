/**
 * The commands' error handling as a user meets it: each bad flag or bad input gives one
 * line on stderr naming the flag or file, and a non-zero exit (2 for usage, 1 for data).
 * The subprocesses start together (a few at a time) and each test awaits its own.
 */
import assert from "node:assert/strict";
import { runCli } from "../train/_helpers.ts";

type Result = { code: number; stdout: string; stderr: string };

const dir = await Deno.makeTempDir({ prefix: "facgcnn-cli-" });
// A CSV with a cif column but no formation_energy_per_atom / heat_ref column.
await Deno.writeTextFile(
  `${dir}/no_target.csv`,
  'material_id,band_gap,cif\nm-1,1.5,"data_x\n_cell_length_a 3\n"\n',
);
await Deno.writeTextFile(`${dir}/not_a_checkpoint.safetensors`, "hello, I am text\n");

// A small pool: at most 4 subprocesses at once on a shared machine.
let running = 0;
const waiting: (() => void)[] = [];
async function limited(script: string, args: string[]): Promise<Result> {
  if (running >= 4) await new Promise<void>((r) => waiting.push(r));
  running++;
  try {
    return await runCli(script, args);
  } finally {
    running--;
    waiting.shift()?.();
  }
}

interface Case {
  name: string;
  script: string;
  args: string[];
  code: number;
  /** What the error line must mention (the flag or the file). */
  mentions: (string | RegExp)[];
}

const TRAIN = "cli/train.ts", PREDICT = "cli/predict.ts", EXPERIMENT = "cli/experiment.ts";
const CASES: Case[] = [
  { name: "unknown flag", script: TRAIN, args: ["--bogus"], code: 2, mentions: ["--bogus"] },
  {
    name: "--epochs abc",
    script: TRAIN,
    args: ["--epochs", "abc"],
    code: 2,
    mentions: ["--epochs", "abc"],
  },
  { name: "--lr -1", script: TRAIN, args: ["--lr", "-1"], code: 2, mentions: ["--lr", "-1"] },
  { name: "--lr 0", script: TRAIN, args: ["--lr=0"], code: 2, mentions: ["--lr", "> 0"] },
  {
    name: "--model foo",
    script: TRAIN,
    args: ["--model", "foo"],
    code: 2,
    mentions: ["--model", "foo", "cgcnn"],
  },
  { name: "--frames 9", script: TRAIN, args: ["--frames", "9"], code: 2, mentions: ["--frames"] },
  {
    name: "--split 0.5,0.5",
    script: TRAIN,
    args: ["--split", "0.5,0.5"],
    code: 2,
    mentions: ["--split", "0.5,0.5"],
  },
  {
    name: "--split not summing to 1",
    script: TRAIN,
    args: ["--split", "0.5,0.4,0.4"],
    code: 2,
    mentions: ["--split", "sum to 1"],
  },
  {
    name: "--data without a value",
    script: TRAIN,
    args: ["--data"],
    code: 2,
    mentions: ["--data"],
  },
  {
    name: "missing data path",
    script: TRAIN,
    args: ["--data", `${dir}/nope.csv`, "--no-cache"],
    code: 1,
    mentions: [`${dir}/nope.csv`, "not found"],
  },
  {
    name: "CSV without the target column",
    script: TRAIN,
    args: ["--data", `${dir}/no_target.csv`, "--target", "heat_ref", "--no-cache"],
    code: 1,
    mentions: [`${dir}/no_target.csv`, "heat_ref"],
  },
  {
    name: "missing validation data file",
    script: TRAIN,
    args: ["--data", "synthetic:20", "--val-data", `${dir}/val.csv`, "--no-cache"],
    code: 1,
    mentions: [`${dir}/val.csv`],
  },
  {
    name: "--resume of a folder that is no run",
    script: TRAIN,
    args: ["--resume", "--out", `${dir}/no-run`],
    code: 1,
    mentions: ["--resume", `${dir}/no-run/config.json`],
  },
  {
    name: "predict without --checkpoint",
    script: PREDICT,
    args: ["--data", "synthetic:4"],
    code: 2,
    mentions: ["--checkpoint"],
  },
  {
    name: "predict without --data",
    script: PREDICT,
    args: ["--checkpoint", `${dir}/x.safetensors`],
    code: 2,
    mentions: ["--data"],
  },
  {
    name: "predict with a missing checkpoint file",
    script: PREDICT,
    args: ["--checkpoint", `${dir}/missing.safetensors`, "--data", "synthetic:4"],
    code: 1,
    mentions: [`${dir}/missing.safetensors`, "not found"],
  },
  {
    name: "predict with a file that is no checkpoint",
    script: PREDICT,
    args: ["--checkpoint", `${dir}/not_a_checkpoint.safetensors`, "--data", "synthetic:4"],
    code: 1,
    mentions: [`${dir}/not_a_checkpoint.safetensors`],
  },
  {
    name: "experiment with bad --variants",
    script: EXPERIMENT,
    args: ["--variants", "cgcnn,foo"],
    code: 2,
    mentions: ["--variants", "foo"],
  },
  {
    name: "experiment with bad --epochs",
    script: EXPERIMENT,
    args: ["--epochs", "1,0"],
    code: 2,
    mentions: ["--epochs"],
  },
  {
    name: "experiment with --resume",
    script: EXPERIMENT,
    args: ["--resume"],
    code: 2,
    mentions: ["--resume"],
  },
];

const results = new Map(CASES.map((c) => [c.name, limited(c.script, c.args)]));
const helps = new Map(
  [TRAIN, PREDICT, EXPERIMENT].map((s) => [s, limited(s, ["--help"])]),
);
let pending = results.size + helps.size;
async function done(): Promise<void> {
  if (--pending === 0) await Deno.remove(dir, { recursive: true }).catch(() => {});
}

for (const c of CASES) {
  Deno.test(`cli: ${c.name} → one error line, exit ${c.code}`, async () => {
    try {
      const r = await results.get(c.name)!;
      const lines = r.stderr.trim().split("\n");
      assert.equal(lines.length, 1, `one line on stderr, got:\n${r.stderr}`);
      const line = lines[0];
      assert.match(line, /^error: \S/);
      for (const m of c.mentions) {
        if (typeof m === "string") assert.ok(line.includes(m), `"${line}" mentions ${m}`);
        else assert.match(line, m);
      }
      assert.ok(!/\bat .*\.ts:\d+/.test(r.stderr), "no stack trace");
      assert.equal(r.code, c.code, `exit code (stderr: ${line})`);
      assert.equal(r.stdout, "", "nothing on stdout");
    } finally {
      await done();
    }
  });
}

for (const script of [TRAIN, PREDICT, EXPERIMENT]) {
  Deno.test(`cli: ${script} --help exits 0 with the usage`, async () => {
    try {
      const r = await helps.get(script)!;
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^deno task (train|predict|experiment)/);
      assert.equal(r.stderr, "");
    } finally {
      await done();
    }
  });
}
