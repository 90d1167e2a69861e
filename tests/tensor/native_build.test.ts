/**
 * native/build_cpu.sh with a compiler that takes the tuning flags on the probe but fails on a
 * real source with them (a wrapper around the system `cc` that rejects -fschedule-insns for
 * anything but the probe): each source is built again without them and the library still
 * loads with every native kernel. Skipped without a C compiler.
 */
import assert from "node:assert/strict";
import { createCpuBackend } from "../../lib/backend/cpu/cpu_backend.ts";

const root = new URL("../../", import.meta.url).pathname;
const hasCc = new Deno.Command("bash", { args: ["-c", "command -v cc"], stdout: "null" })
  .outputSync().success;

Deno.test({
  name: "build_cpu.sh: a source that fails with the tuning flags is built without them",
  ignore: !hasCc,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const wrapper = `${dir}/picky-cc`;
      await Deno.writeTextFile(
        wrapper,
        `#!/usr/bin/env bash
# Accepts the flag probe (source on stdin), refuses -fschedule-insns on files.
for a in "$@"; do
  if [[ "$a" == "-fschedule-insns" && " $* " != *" - "* ]]; then
    echo "picky-cc: internal compiler error (stand-in)" >&2; exit 1
  fi
done
exec cc "$@"
`,
      );
      await Deno.chmod(wrapper, 0o755);
      const out = await new Deno.Command("bash", {
        args: [`${root}native/build_cpu.sh`, `${dir}/lib`],
        env: { CC: wrapper },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const err = new TextDecoder().decode(out.stderr);
      assert.ok(out.success, err);
      assert.match(err, /facgcnn_cpu\.c failed with .*-fschedule-insns.*; building it without/);
      const b = createCpuBackend({ nativeKernels: `${dir}/lib/libfacgcnn_cpu.so` });
      assert.ok(b.usesNativeKernels, b.info().notes.join("; "));
      assert.doesNotMatch(b.info().notes.join("; "), /edge term in TypeScript|three passes/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
