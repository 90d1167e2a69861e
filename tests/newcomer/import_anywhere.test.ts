/**
 * A user's single-file script in an empty folder outside the repository imports `mod.ts` by
 * path and runs with nothing but `deno run -A s.ts`: no `--config`, no import map. A bare
 * specifier left inside lib/ (resolvable only through the repository's deno.json) fails here.
 */

import assert from "node:assert/strict";

const MOD = new URL("../../mod.ts", import.meta.url).href;

Deno.test("a script in an empty folder outside the repo imports mod.ts, trains and predicts", async () => {
  const dir = await Deno.makeTempDir({ prefix: "facgcnn-outside-" });
  try {
    const script = `import * as fa from ${JSON.stringify(MOD)};
const run = await fa.train({
  data: "synthetic:48:3", epochs: 1, atomFeaLen: 8, hFeaLen: 8, nConv: 1, batchSize: 16,
  device: "cpu", out: "run", cacheDir: null, quiet: true,
}, { log: () => {} });
run.model.dispose();
const { model } = await fa.loadCheckpoint("run/best.safetensors", { device: "cpu" });
const data = await fa.loadDataset("synthetic:5:9", { quiet: true });
const p = await model.predict(data, { frames: "all" });
model.dispose();
const html = fa.renderHtml([{ title: "parity", figure: fa.parityPlot([1, 2], [1.5, 2.5]) }], { title: "t" });
console.log(JSON.stringify({ n: p.length, finite: Array.from(p).every(Number.isFinite), html: html.length }));
`;
    await Deno.writeTextFile(`${dir}/s.ts`, script);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "s.ts"],
      cwd: dir,
      // No deno.json is found from the temp folder; keep the user's npm cache and no colour.
      env: { NO_COLOR: "1", FACGCNN_QUIET: "1" },
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, `deno run -A s.ts failed:\n${stderr}`);
    const last = JSON.parse(stdout.trim().split("\n").at(-1)!);
    assert.equal(last.n, 5);
    assert.equal(last.finite, true);
    assert.ok(last.html > 1_000_000, "the report embeds the Plotly bundle");
    assert.ok(
      [...Deno.readDirSync(dir)].every((e) => e.name !== "deno.json"),
      "the folder has no deno.json of its own",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
