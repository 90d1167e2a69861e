/**
 * The device eigensolver's arithmetic (native/cuda/eigen3.cuh), compiled for the host with the
 * system C++ compiler, against the CPU solver lib/frames/eigen3.ts: both implement the same
 * steps in double, so they must agree to a few ulps, degenerate and edge cases included.
 * Skipped when no C++ compiler is found.
 */
import assert from "node:assert/strict";
import { findCxx } from "./_cxx.ts";
import { symmetricEigen3Batched } from "../../lib/util/eigen3.ts";

const root = new URL("../../", import.meta.url).pathname;

const cxx = findCxx();

/** Symmetric test matrices: random, repeated eigenvalues, diagonal, zero, tiny/huge scales, NaN. */
function matrices(): Float64Array {
  const list: number[][] = [
    [0, 0, 0, 0, 0, 0, 0, 0, 0],
    [1, 0, 0, 0, 1, 0, 0, 0, 1],
    [2, 1, 0, 1, 2, 0, 0, 0, 3],
    [3, 0, 0, 0, 2, 0, 0, 0, 1],
    [1e-30, 2e-31, 0, 2e-31, 3e-30, 1e-31, 0, 1e-31, 2e-30],
    [1e30, 2e29, 0, 2e29, 3e30, 1e29, 0, 1e29, 2e30],
    [NaN, 0, 0, 0, 1, 0, 0, 0, 1],
    [4, 4, 4, 4, 4, 4, 4, 4, 4], // rank one: eigenvalues 0, 0, 12
  ];
  let s = 12345;
  const r = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
  for (let m = 0; m < 500; m++) {
    const a = [r(), r(), r(), 0, r(), r(), 0, 0, r()].map((x) => x * 10);
    a[3] = a[1], a[6] = a[2], a[7] = a[5];
    list.push(a);
  }
  return new Float64Array(list.flat());
}

Deno.test({
  name: "device eigensolver (host build) equals lib/frames/eigen3.ts",
  ignore: cxx === null,
  async fn() {
    const exe = await Deno.makeTempFile({ prefix: "facgcnn_eigen_host_" });
    try {
      const build = await new Deno.Command(cxx!, {
        args: ["-O2", "-std=c++17", "-o", exe, `${root}tests/cuda/eigen_host.cpp`],
        stderr: "piped",
      }).output();
      assert.ok(build.success, new TextDecoder().decode(build.stderr));
      const mats = matrices(), count = mats.length / 9;
      const child = new Deno.Command(exe, { stdin: "piped", stdout: "piped" }).spawn();
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(`${count}\n${[...mats].join(" ")}\n`));
      await w.close();
      const out = await child.output();
      assert.ok(out.success);
      const got = new TextDecoder().decode(out.stdout).trim().split(/\s+/).map(Number);
      assert.equal(got.length, 12 * count);
      const values = new Float64Array(3 * count), vectors = new Float64Array(9 * count);
      symmetricEigen3Batched(mats, count, values, vectors);
      for (let m = 0; m < count; m++) {
        const scale = Math.max(...mats.subarray(9 * m, 9 * m + 9).map(Math.abs));
        for (let i = 0; i < 12; i++) {
          const want = i < 3 ? values[3 * m + i] : vectors[9 * m + i - 3];
          const have = got[12 * m + i];
          const tol = (i < 3 ? scale : 1) * 1e-13;
          const same = Number.isNaN(want) ? Number.isNaN(have) : Math.abs(have - want) <= tol;
          assert.ok(same, `matrix ${m} entry ${i}: device ${have} vs host ${want}`);
        }
      }
    } finally {
      await Deno.remove(exe);
    }
  },
});
