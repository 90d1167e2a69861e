/**
 * Native build script checks. The device eigensolver must do the host build's arithmetic step for step, so nvcc must not
 * contract its multiply-adds into FMAs (native/build.sh compiles eigen.cu with -fmad=false).
 * Checked on the PTX nvcc emits with the build's flags: eigen.cu has no `fma.rn`, while a file
 * compiled with the default flags (batchnorm.cu) does, so the check can fail.
 * Skipped without nvcc.
 */
import assert from "node:assert/strict";

const root = new URL("../../", import.meta.url).pathname;

function findNvcc(): string | null {
  const cands = [Deno.env.get("NVCC"), "/usr/local/cuda/bin/nvcc"];
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) cands.push(`${dir}/nvcc`);
  for (const c of cands) {
    try {
      if (c && Deno.statSync(c).isFile) return c;
    } catch { /* not there */ }
  }
  return null;
}

Deno.test({
  name: "native build: the eigensolver is compiled without FMA contraction",
  ignore: findNvcc() === null,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const out = await new Deno.Command("bash", {
        args: [
          `${root}native/build.sh`,
          "--ptx",
          dir,
          `${root}native/cuda/eigen.cu`,
          `${root}native/cuda/batchnorm.cu`,
        ],
        stderr: "piped",
      }).output();
      assert.ok(out.success, new TextDecoder().decode(out.stderr));
      const eigen = await Deno.readTextFile(`${dir}/eigen.ptx`);
      const bn = await Deno.readTextFile(`${dir}/batchnorm.ptx`);
      assert.ok(/\bfma\.rn\./.test(bn), "batchnorm.cu should contain contracted FMAs");
      assert.ok(/\b(mul|add)\.rn?\.?f64/.test(eigen) || /\bmul\.f64/.test(eigen), "no f64 maths?");
      assert.equal(eigen.match(/\bfma\.rn\.f(32|64)/g)?.length ?? 0, 0, "FMA in eigen.cu");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("native build --if-needed: a fresh library is kept, a stale one is rebuilt", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const lib = `${dir}/libfacgcnn_kernels.so`;
    await Deno.writeTextFile(lib, "stand-in");
    // NVCC=/bin/false: any build attempt fails, so the exit code tells whether one was made.
    const run = () =>
      new Deno.Command("bash", {
        args: [`${root}native/build.sh`, "--if-needed", dir],
        env: { NVCC: "/bin/false" },
        stdout: "null",
        stderr: "null",
      }).output();
    assert.equal((await run()).code, 0, "fresh library: nothing to do");
    assert.equal(await Deno.readTextFile(lib), "stand-in");
    await Deno.utime(lib, new Date("2000-01-01"), new Date("2000-01-01"));
    assert.notEqual((await run()).code, 0, "stale library: a build was attempted");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
