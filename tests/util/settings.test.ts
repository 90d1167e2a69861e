/**
 * The settings module is the only reader of `FACGCNN_*` variables, and its readers parse and
 * validate them.
 */
import assert from "node:assert/strict";
import {
  cudaDeviceSetting,
  describeSettings,
  flag,
  scatterSetting,
  setting,
  SETTING_VARIABLES,
} from "../../lib/util/settings.ts";

function withEnv<T>(name: string, value: string | undefined, fn: () => T): T {
  const old = Deno.env.get(name);
  if (value === undefined) Deno.env.delete(name);
  else Deno.env.set(name, value);
  try {
    return fn();
  } finally {
    if (old === undefined) Deno.env.delete(name);
    else Deno.env.set(name, old);
  }
}

Deno.test("settings: read when asked, empty means unset, flags are 1", () => {
  withEnv("FACGCNN_TF32", "1", () => assert.equal(flag("tf32"), true));
  withEnv("FACGCNN_TF32", "0", () => assert.equal(flag("tf32"), false));
  withEnv("FACGCNN_BLAS", "", () => assert.equal(setting("blas"), undefined));
  withEnv(
    "FACGCNN_BLAS",
    "/x/libopenblas.so",
    () => assert.equal(setting("blas"), "/x/libopenblas.so"),
  );
});

Deno.test("settings: device ordinal and scatter mode are validated", () => {
  withEnv("FACGCNN_CUDA_DEVICE", undefined, () => assert.equal(cudaDeviceSetting(), 0));
  withEnv("FACGCNN_CUDA_DEVICE", "2", () => assert.equal(cudaDeviceSetting(), 2));
  withEnv(
    "FACGCNN_CUDA_DEVICE",
    "gpu1",
    () => assert.throws(cudaDeviceSetting, /FACGCNN_CUDA_DEVICE/),
  );
  withEnv("FACGCNN_SCATTER", undefined, () => assert.equal(scatterSetting(), "atomic"));
  withEnv("FACGCNN_SCATTER", "atomic", () => assert.equal(scatterSetting(), "atomic"));
  withEnv("FACGCNN_SCATTER", "fast", () => assert.throws(scatterSetting, /FACGCNN_SCATTER/));
});

Deno.test("settings: describeSettings lists every variable once", () => {
  const lines = describeSettings();
  const names = Object.values(SETTING_VARIABLES).map((v) => v.variable);
  assert.equal(lines.length, names.length);
  for (const n of names) assert.equal(lines.filter((l) => l.startsWith(`${n}=`)).length, 1);
});

Deno.test("settings: no other file of lib/, cli/ or bench/ reads a FACGCNN_ variable", async () => {
  const offenders: string[] = [];
  const root = new URL("../../", import.meta.url);
  async function walk(dir: URL) {
    for await (const e of Deno.readDir(dir)) {
      const url = new URL(e.name + (e.isDirectory ? "/" : ""), dir);
      if (e.isDirectory) await walk(url);
      else if (e.name.endsWith(".ts") && !url.pathname.endsWith("lib/util/settings.ts")) {
        const text = await Deno.readTextFile(url);
        if (/env\.get\(\s*["'`]FACGCNN_/.test(text)) offenders.push(url.pathname);
      }
    }
  }
  for (const d of ["lib/", "cli/", "bench/"]) await walk(new URL(d, root));
  assert.deepEqual(offenders, []);
});
