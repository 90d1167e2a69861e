/**
 * `deno task bench`: the op cases of one CGCNN step (`bench/ops_report.ts`: sgemm at the
 * step's sizes, gather / scatter / segment sums, gate, batch norm, element-wise, the fused edge
 * kernels, Gaussian expansion, optimizer steps, batched 3×3 eigensolves) on every backend
 * present (`bench/_backends.ts`: `cpu-ts`, `cpu-native`, `cuda` — or its CPU stand-in with
 * `FACGCNN_GPU_STANDIN=cpu`).
 *
 * One group per case and size, one bench per backend: `deno bench --filter gatherRows …`
 * compares a kernel across backends. The names carry the work per call (GFLOP or MB), and a
 * summary with GFLOP/s and GB/s is printed at the end. The all-TypeScript GEMMs take seconds
 * per call, so they run one measured iteration each.
 * @module
 */

import { median, registerCases, registered } from "./_backends.ts";
import { ATOM_FEATURES, type OpCase, opCases } from "./ops_report.ts";

/** Work per call of each group, for the summary. */
const work = new Map<string, OpCase>();

for (const a of ATOM_FEATURES) {
  registerCases((backend, config) =>
    opCases(backend, a).cases.map((c) => {
      const perCall = c.flops
        ? `${(c.flops / 1e9).toFixed(2)} GFLOP`
        : c.bytes! >= 1e6
        ? `${(c.bytes! / 1e6).toFixed(0)} MB`
        : `${(c.bytes! / 1e3).toFixed(0)} kB`;
      const group = `${c.kind} A=${a} ${c.name.replace(/\s+/g, " ")} (${perCall})`;
      work.set(group, c);
      return { group, run: c.run, slow: c.kind === "sgemm" && config.slowGemm };
    })
  );
}

globalThis.addEventListener("unload", () => {
  const rows = registered.filter((m) => m.seconds.length > 0).map((m) => {
    const c = work.get(m.group)!;
    const sec = median(m.seconds);
    const rate = c.flops
      ? `${(c.flops / sec / 1e9).toFixed(1)} GFLOP/s`
      : `${(c.bytes! / sec / 1e9).toFixed(2)} GB/s`;
    const label = /\[([^\]]+)\]$/.exec(m.name)?.[1] ?? m.label;
    return `${label.padEnd(22)} ${m.group.padEnd(64)} ${rate}`;
  });
  if (rows.length > 0) console.log(`\nthroughput (median per call):\n${rows.join("\n")}`);
});
