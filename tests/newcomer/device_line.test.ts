/**
 * A CPU run prints one short device line (`device: cpu (…); CUDA not used: …`); every CUDA
 * path tried only with `--verbose` (FACGCNN_VERBOSE=1).
 */

import assert from "node:assert/strict";
import { briefReason, probeCuda } from "../../lib/backend/cuda/probe.ts";

Deno.test("briefReason: one clause per missing piece, no path lists", () => {
  const why = "libcudart.so not found (tried 14 paths: /usr/local/cuda/lib64/libcudart.so.13 " +
    "(cudaGetDeviceCount: CUDA driver version is insufficient for CUDA runtime version (35)); " +
    "/x (y); …; set FACGCNN_CUDART to its path); libcublas.so not found (tried 4 paths: " +
    "libcublas.so.13 (dynamic linker: no such file); …; set FACGCNN_CUBLAS to its path)";
  assert.equal(briefReason(why), "libcudart found, no usable driver; libcublas.so not found");
  assert.equal(
    briefReason("libcudart.so not found (tried 3 paths: a (b); c); libcublas.so not found (x)"),
    "libcudart.so not found; libcublas.so not found",
  );
});

async function deviceLine(env: Record<string, string>): Promise<string> {
  const select = new URL("../../lib/backend/select.ts", import.meta.url).href;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", `import { selectBackend } from "${select}"; selectBackend("auto");`],
    env: { NO_COLOR: "1", FACGCNN_QUIET: "", ...env },
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  return new TextDecoder().decode(out.stderr).split("\n").find((l) => l.startsWith("device:")) ??
    "";
}

Deno.test({
  name: "the CPU device line is one short line; --verbose lists the paths",
  ignore: probeCuda().available,
  async fn() {
    const line = await deviceLine({});
    assert.match(line, /^device: cpu \(.*\); CUDA not used: /);
    assert.ok(!line.includes("tried"), line);
    assert.ok(line.length < 260, `${line.length} characters: ${line}`);
    const verbose = await deviceLine({ FACGCNN_VERBOSE: "1" });
    assert.match(verbose, /tried \d+ path/);
  },
});
