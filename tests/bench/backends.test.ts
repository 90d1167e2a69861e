/**
 * bench/_backends.ts: which configurations register on this machine, group and bench names,
 * the synchronised timed region, and the CUDA configuration under the CPU stand-in
 * (`FACGCNN_GPU_STANDIN=cpu`, set here before the configurations are created).
 */
import assert from "node:assert/strict";
import type { Backend } from "../../lib/backend/backend.ts";
import {
  benchBackends,
  registerCases,
  registered,
  selectedLabels,
  setBenchRegistrar,
} from "../../bench/_backends.ts";
import { opCases } from "../../bench/ops_report.ts";

Deno.env.set("FACGCNN_GPU_STANDIN", "cpu");

function record(fn: () => void): Deno.BenchDefinition[] {
  const defs: Deno.BenchDefinition[] = [];
  const previous = setBenchRegistrar((d) => defs.push(d));
  try {
    fn();
  } finally {
    setBenchRegistrar(previous);
  }
  return defs;
}

/** A fake bench context: counts start/end pairs. */
function context(): Deno.BenchContext & { starts: number; ends: number } {
  const c = {
    name: "",
    origin: "",
    starts: 0,
    ends: 0,
    start() {
      c.starts++;
    },
    end() {
      c.ends++;
    },
  };
  return c;
}

Deno.test("bench backends: cpu-ts, cpu-native and the cuda stand-in are present", () => {
  const configs = benchBackends();
  assert.deepEqual(configs.map((c) => c.label), ["cpu-ts", "cpu-native", "cuda"]);
  const [ts, native, cuda] = configs;
  assert.ok(ts.backend && ts.slowGemm, "cpu-ts: TypeScript GEMM");
  // The native kernels are built by `deno task test` (native/build_cpu.sh); say so if not.
  assert.ok(native.backend, `cpu-native missing: ${native.why}`);
  assert.ok(cuda.backend && cuda.standIn, "FACGCNN_GPU_STANDIN=cpu stands in for cuda");
});

Deno.test("bench backends: one group per case, one bench per backend, timed and synchronised", () => {
  let calls = 0;
  const defs = record(() =>
    registerCases((_backend: Backend, config) => {
      return [
        { group: "toy fill (4 KB)", run: () => calls++ },
        ...(config.label === "cuda" ? [] : [{ group: "toy cpu only", run: () => calls++ }]),
      ];
    }, { n: 3 })
  );
  const names = defs.map((d) => `${d.group} | ${d.name}${d.ignore ? " (ignored)" : ""}`);
  assert.deepEqual(names.slice(0, 3), [
    "toy fill (4 KB) | toy fill (4 KB) [cpu-ts]",
    "toy fill (4 KB) | toy fill (4 KB) [cpu-native]",
    "toy fill (4 KB) | toy fill (4 KB) [cuda (stand-in: cpu)]",
  ]);
  assert.match(names[5], /toy cpu only \[cuda \(stand-in: cpu\)\] \(skipped: not implemented/);
  assert.equal(defs[5].ignore, true);
  for (const d of defs.filter((d) => !d.ignore)) {
    assert.equal(d.n, 3);
    const b = context();
    d.fn!(b);
    assert.deepEqual([b.starts, b.ends], [1, 1], `${d.name}: one timed region`);
  }
  assert.equal(calls, 5);
  const recs = registered.filter((r) => r.group.startsWith("toy"));
  assert.equal(recs.filter((r) => r.runs).length, 5);
  assert.ok(recs.filter((r) => r.runs).every((r) => r.seconds.length === 1));
});

Deno.test("bench backends: every op case of a CGCNN step exists on each configuration", () => {
  const want = [
    "conv",
    "node",
    "edge",
    "dW",
    "dx",
    "gatherRows",
    "scatterAddRows",
    "segmentSum",
    "segmentExpand",
    "gate ",
    "gateBackward",
    "columnMoments",
    "batchNorm fwd",
    "batchNorm bwd",
    "add",
    "mul row-bcast",
    "sigmoid",
    "softplus",
    "sumRows",
    "axpby",
    "edgeCombine",
    "gateSum ",
    "gateSumBackward",
    "gaussianExpand",
    "scheduleFreeAdamW",
    "adamW",
    "sgd momentum",
    "symmetricEigen3",
  ];
  for (const c of benchBackends()) {
    if (!c.backend) continue;
    const { cases, dispose } = opCases(c.backend, 64);
    try {
      const names = cases.map((k) => k.name);
      for (const w of want) {
        assert.ok(names.some((n) => n.startsWith(w)), `${c.label}: no case ${w}`);
      }
      for (const k of cases) assert.ok((k.flops ?? k.bytes ?? 0) > 0, `${k.name}: work`);
    } finally {
      dispose();
    }
  }
});

Deno.test("bench backends: BENCH_BACKENDS selects configurations and rejects unknown labels", () => {
  const previous = Deno.env.get("BENCH_BACKENDS");
  try {
    Deno.env.set("BENCH_BACKENDS", "cuda, cpu-native");
    assert.deepEqual([...selectedLabels()].sort(), ["cpu-native", "cuda"]);
    Deno.env.set("BENCH_BACKENDS", "gpu");
    assert.throws(selectedLabels, /BENCH_BACKENDS: unknown backend "gpu"/);
    Deno.env.delete("BENCH_BACKENDS");
    assert.deepEqual([...selectedLabels()], ["cpu-ts", "cpu-native", "cuda"]);
  } finally {
    if (previous === undefined) Deno.env.delete("BENCH_BACKENDS");
    else Deno.env.set("BENCH_BACKENDS", previous);
  }
});
