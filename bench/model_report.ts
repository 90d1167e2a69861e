/**
 * Model step cost report (CPU): ms per batch of 256 synthetic crystals, crystals/s, the share
 * of time in GEMM (with the edge term's `edgeGemm`/`edgeGemmWeightGrad`, listed separately in
 * the breakdown), in host input building and in the other backend kernels, for CGCNN and
 * FACGCNN with one stochastic frame per crystal (k = 1), A = 64 and 128: the forward, the
 * backward alone (after an untimed forward) and forward+backward in training mode, and the
 * inference pass (eval mode, no gradient), and the FACGCNN/CGCNN time ratio of each (issue
 * target: ≤ 1.1 per pass).
 *
 *   deno run -A bench/model_report.ts [iterations=5] [batch=256]
 *
 * Timers wrap the backend instance's methods and the model's `hostInputs` (the library code
 * is not changed); wrapping costs ~1 µs per call, negligible next to the kernels. CGCNN and
 * FACGCNN steps are interleaved and the median is reported, so that load from other
 * processes on a shared machine does not favour one of them; shares are of the mean step.
 * @module
 */

import { createCpuBackend } from "../lib/backend/cpu/cpu_backend.ts";
import { featurize } from "../lib/data/featurize.ts";
import { syntheticCrystals } from "../lib/data/synthetic.ts";
import { collate } from "../lib/graph/batch.ts";
import { Model } from "../lib/models/model.ts";
import { noGrad, tidy } from "../lib/tensor/scope.ts";
import "../lib/autograd/backward.ts"; // installs Tensor.backward()
import { lossAndGradients, mseTargetLoss } from "../lib/train/step.ts";

const iterations = Number(Deno.args[0] ?? 5);
/**
 * Training forward, the backward alone (after an untimed forward), the training step, and the
 * eval-mode forward without gradients (prediction).
 */
const PASSES = ["forward", "backward", "forward+backward", "inference"] as const;
const BATCH = Number(Deno.args[1] ?? 256);
/** Untimed iterations of each step first. */
const WARMUP = 6;

const backend = createCpuBackend();
const { graphs } = await featurize(syntheticCrystals({ count: BATCH, seed: 42 }), {
  cacheDir: null,
  quiet: true,
});
const batch = collate(graphs, Int32Array.from({ length: graphs.count }, (_, i) => i));
const targets = Float32Array.from(batch.targets);

// --- timers -------------------------------------------------------------------------------
/** Kernel time by label (the model/pass being timed) and backend method. */
const kernelMs = new Map<string, Map<string, number>>();
const hostMs = new Map<string, number>();
let current = "";
let depth = 0; // count only the outermost backend call (some kernels call others)
const proto = Object.getPrototypeOf(backend);
for (const name of Object.getOwnPropertyNames(proto)) {
  if (name === "constructor") continue;
  const desc = Object.getOwnPropertyDescriptor(proto, name);
  if (!desc || typeof desc.value !== "function") continue;
  const fn = desc.value as (...args: unknown[]) => unknown;
  // deno-lint-ignore no-explicit-any
  (backend as any)[name] = (...args: unknown[]) => {
    if (depth > 0 || current === "") return fn.apply(backend, args);
    depth++;
    const t = performance.now();
    try {
      return fn.apply(backend, args);
    } finally {
      depth--;
      const m = kernelMs.get(current) ?? new Map<string, number>();
      m.set(name, (m.get(name) ?? 0) + performance.now() - t);
      kernelMs.set(current, m);
    }
  };
}
function timeHostInputs(model: Model): void {
  const orig = model.hostInputs.bind(model);
  model.hostInputs = (...args: Parameters<Model["hostInputs"]>) => {
    const t = performance.now();
    try {
      return orig(...args);
    } finally {
      if (current) hostMs.set(current, (hostMs.get(current) ?? 0) + performance.now() - t);
    }
  };
}

interface Result {
  /** Per-iteration times (ms). */
  times: number[];
  /** Median ms per batch. */
  ms: number;
  /** Mean ms per batch (the kernel shares below are fractions of it). */
  mean: number;
  gemm: number;
  host: number;
  kernels: Map<string, number>;
}

const median = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * Times several steps interleaved (A B, B A, …), so that load from other processes on a shared
 * machine hits all of them alike; returns median and mean per step, kernel times per step.
 */
function measureInterleaved(steps: [string, () => number | void][]): Map<string, Result> {
  // Warm-up: the allocator's cache, and V8's optimising compiler, which compiles hot functions
  // on a background thread: while it works it takes one of the cores from the kernels (a
  // 2-thread GEMM right after FACGCNN's JavaScript frame code ran 10x slower in the first
  // steps).
  for (const [, fn] of steps) for (let i = 0; i < WARMUP; i++) fn();
  const times = new Map<string, number[]>(steps.map(([k]) => [k, []]));
  for (const [k] of steps) kernelMs.delete(k), hostMs.delete(k);
  for (let i = 0; i < iterations; i++) {
    // A B, then B A: neither step always runs right after the other's garbage.
    for (const [key, fn] of i % 2 ? [...steps].reverse() : steps) {
      current = key;
      const t = performance.now();
      const part = fn(); // a step that times only part of itself returns that part's ms
      times.get(key)!.push(typeof part === "number" ? part : performance.now() - t);
      current = "";
    }
  }
  const out = new Map<string, Result>();
  for (const [key] of steps) {
    const ts = times.get(key)!;
    const kernels = new Map(
      [...(kernelMs.get(key) ?? [])].map(([k, v]) => [k, v / iterations] as [string, number]),
    );
    out.set(key, {
      times: ts,
      ms: median(ts),
      mean: ts.reduce((a, b) => a + b, 0) / ts.length,
      // The edge term's products (Gaussians formed inside them) are GEMM work too.
      gemm: (kernels.get("gemm") ?? 0) + (kernels.get("edgeGemm") ?? 0) +
        (kernels.get("edgeGemmWeightGrad") ?? 0),
      host: (hostMs.get(key) ?? 0) / iterations,
      kernels,
    });
  }
  return out;
}

const info = backend.info();
console.log(`# Model step cost, CPU (${info.device}; ${info.gemm})\n`);
for (const note of info.notes) console.log(`- ${note}`);
console.log("");
console.log(
  `batch: ${batch.nCrystals} synthetic crystals, ${batch.nAtoms} atoms, ${batch.nEdges} edges; ` +
    `${iterations} timed iterations after ${WARMUP} warm-up; training mode except "inference"\n`,
);
console.log(
  "| model | A | pass | ms/batch (median) | crystals/s | GEMM | host inputs | other kernels | JS/autograd |",
);
console.log("|---|---:|---|---:|---:|---:|---:|---:|---:|");
const results = new Map<string, Result>();
const pct = (x: number, of: number) => `${(100 * x / of).toFixed(0)}%`;
for (const A of [64, 128]) {
  const models = (["cgcnn", "facgcnn"] as const).map((kind) => {
    const model = new Model({ kind, atomFeaLen: A, frames: "stochastic", seed: 1 }, backend);
    model.train();
    timeHostInputs(model);
    return [kind, model] as const;
  });
  for (const pass of PASSES) {
    const steps: [string, () => number | void][] = models.map(([kind, model]) => [
      `${kind} ${A} ${pass}`,
      pass === "forward"
        ? () => tidy(() => void model.forward(batch))
        : pass === "backward"
        ? () => {
          // The forward and loss untimed (no kernel times recorded), then the backward alone.
          model.network.zeroGrad();
          return tidy(() => {
            const key = current;
            current = "";
            const loss = mseTargetLoss(model.forward(batch), targets);
            current = key;
            const t = performance.now();
            loss.backward();
            return performance.now() - t;
          });
        }
        : pass === "inference"
        ? () => {
          // Prediction: eval mode, no gradient (the CPU runs cache-sized sub-batches).
          model.eval();
          tidy(() => noGrad(() => void model.forward(batch).toArray()));
          model.train();
        }
        : () => {
          model.network.zeroGrad();
          lossAndGradients(model, batch, targets);
        },
    ]);
    for (const [key, r] of measureInterleaved(steps)) {
      results.set(key, r);
      const kind = key.split(" ")[0];
      let kernelTotal = 0;
      for (const v of r.kernels.values()) kernelTotal += v;
      const other = kernelTotal - r.gemm;
      const js = r.mean - kernelTotal - r.host;
      console.log(
        `| ${kind === "cgcnn" ? "CGCNN" : "FACGCNN k=1"} | ${A} | ${pass} | ${r.ms.toFixed(1)} | ${
          (1000 * batch.nCrystals / r.ms).toFixed(0)
        } | ${pct(r.gemm, r.mean)} | ${pct(r.host, r.mean)} | ${pct(other, r.mean)} | ${
          pct(js, r.mean)
        } |`,
      );
    }
  }
  for (const [, model] of models) {
    model.network.zeroGrad();
    model.dispose();
  }
}

console.log(
  "\n| A | pass | FACGCNN / CGCNN (median of paired iterations) | ratio of medians | target ≤ 1.1 |",
);
console.log("|---:|---|---:|---:|---|");
for (const A of [64, 128]) {
  for (const pass of PASSES) {
    const c = results.get(`cgcnn ${A} ${pass}`)!, f = results.get(`facgcnn ${A} ${pass}`)!;
    const paired = median(f.times.map((t, i) => t / c.times[i]));
    console.log(
      `| ${A} | ${pass} | ${paired.toFixed(2)} | ${(f.ms / c.ms).toFixed(2)} | ${
        paired <= 1.1 ? "yes" : "NO"
      } |`,
    );
  }
}

console.log("\nWhere the time goes (mean ms/batch: host inputs, then the top kernels):\n");
for (const A of [64, 128]) {
  for (const pass of PASSES) {
    for (const kind of ["cgcnn", "facgcnn"]) {
      const r = results.get(`${kind} ${A} ${pass}`)!;
      const top = [...r.kernels].sort((a, b) => b[1] - a[1]).slice(0, 8)
        .map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", ");
      console.log(
        `- ${kind} A=${A} ${pass} (mean ${r.mean.toFixed(1)}): host inputs ${
          r.host.toFixed(1)
        }; ${top}`,
      );
    }
  }
}

// --- variable-size batches and the allocator ------------------------------------------------
// A training epoch sees a different batch shape every step. With the size-class cache, 7
// different batches should cost about what the same batch 7 times costs, and allocate few
// fresh blocks once warm.
{
  const { graphs: many } = await featurize(syntheticCrystals({ count: 7 * BATCH, seed: 7 }), {
    cacheDir: null,
    quiet: true,
  });
  const batches = Array.from({ length: 7 }, (_, b) => {
    const idx = Int32Array.from({ length: BATCH }, (_, i) => b * BATCH + i);
    const g = collate(many, idx);
    return { g, t: Float32Array.from(g.targets) };
  });
  const model = new Model({ kind: "cgcnn", atomFeaLen: 128, seed: 1 }, backend);
  model.train();
  const step = (b: { g: typeof batch; t: Float32Array }) => {
    model.network.zeroGrad();
    lossAndGradients(model, b.g, b.t);
  };
  for (const b of batches) step(b); // warm-up: one pass over the shapes
  const before = backend.memory();
  let t = performance.now();
  for (const b of batches) step(b);
  const variable = (performance.now() - t) / 7;
  const after = backend.memory();
  t = performance.now();
  for (let i = 0; i < 7; i++) step(batches[0]);
  const same = (performance.now() - t) / 7;
  const fresh = after.freshAllocations! - before.freshAllocations!;
  const reused = after.reusedAllocations! - before.reusedAllocations!;
  console.log(
    `\nCGCNN A=128, batch ${BATCH}: 7 different batches ${variable.toFixed(0)} ms/step, the same ` +
      `batch 7 times ${same.toFixed(0)} ms/step (ratio ${(variable / same).toFixed(2)}); ` +
      `allocator over the 7 different batches: ${fresh} fresh, ${reused} reused blocks ` +
      `(${(100 * fresh / Math.max(1, fresh + reused)).toFixed(1)}% fresh), ${
        (after.cachedBytes! / 1e6).toFixed(0)
      } MB cached, peak live ${(after.peakBytes / 1e6).toFixed(0)} MB`,
  );
  model.network.zeroGrad();
  model.dispose();
}
