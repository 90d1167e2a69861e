/**
 * `deno task bench`: sgemm at the sizes of one CGCNN step (OpenBLAS and the fallback in two
 * groups) and the gather / scatter / segment / gate / batch-norm / element-wise kernels.
 *
 * Deno.bench reports time per call; the names carry the work per call (GFLOP or MB) so the
 * rate is one division away, and a summary with GFLOP/s and GB/s is printed at the end
 * (measured with the same cases by `bench/ops_report.ts`, which can also be run alone).
 * The fallback GEMMs take seconds per call, so they run one measured iteration each.
 * @module
 */

import type { CpuBackend } from "../lib/backend/cpu/cpu_backend.ts";
import { ATOM_FEATURES, benchBackends, type OpCase, opCases } from "./ops_report.ts";

const measured: { group: string; a: number; c: OpCase; sec: number[] }[] = [];

function register(group: string, backend: CpuBackend, kind: "sgemm" | "memory"): void {
  const slow = kind === "sgemm" && !backend.usesOpenBlas;
  for (const a of ATOM_FEATURES) {
    for (const c of opCases(backend, a, kind).cases) {
      const record = { group, a, c, sec: [] as number[] };
      measured.push(record);
      const work = c.flops
        ? `${(c.flops / 1e9).toFixed(2)} GFLOP`
        : `${(c.bytes! / 1e6).toFixed(0)} MB`;
      Deno.bench({
        name: `A=${a} ${c.name.replace(/\s+/g, " ")} (${work})`,
        group: `${group} A=${a}`,
        n: slow ? 1 : undefined,
        warmup: slow ? 0 : undefined,
        fn(b) {
          b.start();
          const t0 = performance.now();
          c.run();
          record.sec.push((performance.now() - t0) / 1000);
          b.end();
        },
      });
    }
  }
}

let memoryRegistered = false;
for (const { label, backend, why } of benchBackends()) {
  if (!backend) {
    Deno.bench({ name: `sgemm ${label} (skipped: ${why})`, ignore: true, fn() {} });
    continue;
  }
  register(`sgemm ${label}`, backend, "sgemm");
  if (!memoryRegistered) {
    // Same TypeScript kernels on both CPU flavours: measured once.
    register("memory-bound kernels", backend, "memory");
    memoryRegistered = true;
  }
}

globalThis.addEventListener("unload", () => {
  const rows = measured.filter((m) => m.sec.length > 0).map((m) => {
    const s = [...m.sec].sort((x, y) => x - y);
    const sec = s[Math.floor(s.length / 2)];
    const rate = m.c.flops
      ? `${(m.c.flops / sec / 1e9).toFixed(1)} GFLOP/s`
      : `${(m.c.bytes! / sec / 1e9).toFixed(2)} GB/s`;
    return `${m.group.padEnd(22)} A=${String(m.a).padEnd(4)} ${m.c.name.padEnd(44)} ${rate}`;
  });
  if (rows.length > 0) console.log(`\nthroughput (median per call):\n${rows.join("\n")}`);
});
