/**
 * A full CGCNN and FACGCNN training step on CUDA against the CPU backend (OpenBLAS), from
 * identical weights: forward, MSE loss, backward, one Schedule-Free AdamW step; then eval-mode
 * predictions with all 8 frames; then the memory contract over 20 steps.
 *
 * Setup: A = 64, H = 128, 3 convolutions, a batch of 64 synthetic crystals (`synthetic:64:3`,
 * about 11 atoms and 12 neighbours each), standardised targets, the CPU model's state dict
 * (BatchNorm γ, β and running statistics perturbed so they are not 1, 0, 0, 1) loaded into the
 * CUDA model, stochastic frames drawn from the same seed on both.
 *
 * Norm (per tensor): `max_i |cuda_i − cpu_i| / max_i |cpu_i|`.
 * - FP32: ≤ 1e-5 for the loss, every parameter gradient, every updated parameter and the
 *   predictions. Derived on an all-float32 stand-in (`FACGCNN_GPU_STANDIN=cpu-fp32`: every GEMM
 *   a float32 multiply-add chain with one rounding per step, as a GPU's FFMA; the plain `cpu`
 *   stand-in's GEMM accumulates in double and gave 3e-6): worst gradients 4.4e-6 (CGCNN) and
 *   4.2e-6 (FACGCNN), predictions 2.7e-7, loss 1.1e-7, so 1e-5 leaves a factor 2.3 for other
 *   summation orders (a sequential chain is the pessimistic case: cuBLAS sums in blocks).
 * - TF32 (`createCudaBackend({ tf32: true })`, GEMM inputs rounded to 10 mantissa bits):
 *   ≤ 1e-3 for the loss, ≤ 2e-2 for the gradients, ≤ 1e-2 for the predictions, every updated
 *   parameter within the FP32 rule below. Chosen from an emulation on the CPU (GEMM inputs
 *   rounded to TF32, the rest FP32; `FACGCNN_GPU_STANDIN=cpu`), whose worst values were loss
 *   3e-5, gradients 3.5e-3, predictions 1e-3 (FP32 emulation: gradients 3e-6, predictions
 *   1.4e-6).
 * Two documented exceptions to the plain norm:
 * - `convs.i.fc_full.bias`: its gradient is analytically 0 in training mode (BN1 follows the
 *   layer, and Σ_rows of BatchNorm's dx is 0), so both backends return rounding residue; it is
 *   judged against the scale of the same layer's weight gradient.
 * - Updated parameters: the first SF-AdamW step moves each weight by
 *   `−lr·(g/(|g| + eps) + wd·y)`, about `±lr` whatever |g| is, so an element whose gradient is
 *   near 0 (within the two backends' difference) can move by ±lr on one and ∓lr on the
 *   other. Each element's difference is therefore first reduced by what the gradients allow,
 *   `lr·|ĝ(g_cuda) − ĝ(g_cpu)|` (computed on the host in float64), and the rest must be
 *   ≤ rtol·max|y|; separately, the CUDA update must equal that formula applied on the host to
 *   the CUDA gradient (the optimizer kernel alone, 1e-5).
 *
 * Memory: after 1 and after 20 training steps the live storages and live bytes are equal, and
 * the allocator holds the same bytes (live + cached) with no further `cudaMalloc` from step 2
 * on (step 1 creates the optimizer state, which takes cached blocks the next forward pass
 * then allocates once).
 *
 * Without CUDA the tests are ignored with the probe's reason; with `FACGCNN_REQUIRE_CUDA=1`
 * they fail with it. `FACGCNN_GPU_STANDIN=cpu` runs them on `cpuStandIn` (gpu_helpers.ts) to
 * exercise this file on a machine without a GPU.
 */
import assert from "node:assert/strict";
import type { Backend } from "../../lib/backend/backend.ts";
import { createCpuBackend } from "../../lib/backend/cpu/cpu_backend.ts";
import { createCudaBackend, type CudaBackend } from "../../lib/backend/cuda/cuda_backend.ts";
import { loadGraphs } from "../../lib/data/featurize.ts";
import { collate, type GraphBatch } from "../../lib/graph/batch.ts";
import { Model, type ModelConfig } from "../../lib/models/model.ts";
import { createOptimizer } from "../../lib/optim/create.ts";
import type { Optimizer } from "../../lib/optim/optimizer.ts";
import { mseLoss, tensor } from "../../lib/tensor/ops.ts";
import { noGrad, tidy } from "../../lib/tensor/scope.ts";
import "../../lib/autograd/backward.ts"; // installs Tensor.backward()
import {
  assertDeviation,
  backends,
  cpuStandIn,
  type DeviceBackend,
  probe,
  rand,
  requireCuda,
  skipGpu,
  standIn,
  standInFp32,
} from "./gpu_helpers.ts";

const ignore = skipGpu && !standIn;
if (standIn) {
  console.warn(
    `tests/gpu/model_step: FACGCNN_GPU_STANDIN=${
      standInFp32 ? "cpu-fp32" : "cpu"
    }, CPU stand-in as device`,
  );
}

const A = 64;
const CRYSTALS = 64;
const SEED = 5;
const FRAME_STREAM = 9;
const OPT = { lr: 0.0025, weightDecay: 0.01, betas: [0.9, 0.999] as [number, number] };
const EPS = 1e-8;
const FP32 = { loss: 1e-5, grad: 1e-5, param: 1e-5, pred: 1e-5 };
const TF32 = { loss: 1e-3, grad: 2e-2, param: 1e-5, pred: 1e-2 };
type Tolerances = typeof FP32;

/** The reference: the CPU backend with OpenBLAS (or its fallback GEMM when absent). */
let reference: Backend | null = null;
function cpu(): Backend {
  return reference ??= createCpuBackend();
}

/** The device under test: CUDA (FP32 shared with the op tests; TF32 its own), or the stand-in. */
function device(tf32: boolean): { backend: DeviceBackend; dispose: () => void } {
  if (standIn) {
    return { backend: cpuStandIn({ tf32, fp32Accumulate: standInFp32 }), dispose: () => {} };
  }
  if (!probe.available) {
    throw new Error(`FACGCNN_REQUIRE_CUDA=${requireCuda ? 1 : 0} but ${probe.reason}`);
  }
  if (!tf32) return { backend: backends().cuda, dispose: () => {} };
  const b: CudaBackend = createCudaBackend({ tf32: true });
  return { backend: b, dispose: () => b.dispose() };
}

let batchCache: { batch: GraphBatch; targets: Float32Array } | null = null;
/** 64 synthetic crystals as one batch, with standardised targets. */
async function theBatch(): Promise<{ batch: GraphBatch; targets: Float32Array }> {
  if (batchCache) return batchCache;
  const { graphs } = await loadGraphs(`synthetic:${CRYSTALS}:3`, { cacheDir: null, quiet: true });
  const batch = collate(graphs, Int32Array.from({ length: graphs.count }, (_, i) => i));
  const t = batch.targets, n = t.length;
  const mean = t.reduce((s, x) => s + x, 0) / n;
  const std = Math.sqrt(t.reduce((s, x) => s + (x - mean) ** 2, 0) / n) || 1;
  batchCache = { batch, targets: Float32Array.from(t, (x) => (x - mean) / std) };
  return batchCache;
}

function config(kind: "cgcnn" | "facgcnn"): ModelConfig {
  return { kind, atomFeaLen: A, hFeaLen: 128, nConv: 3, nH: 1, frames: "stochastic", seed: SEED };
}

/** The CPU reference model with BatchNorm parameters and statistics moved off 1, 0, 0, 1. */
function referenceModel(kind: "cgcnn" | "facgcnn"): Model {
  const model = new Model(config(kind), cpu());
  const state = model.network.stateDict();
  let seed = 100;
  for (const [name, entry] of state) {
    if (!/\.bn[12]\./.test(name)) continue;
    const u = rand(entry.data.length, seed++, 0, 1);
    entry.data.set(
      u.map((x) =>
        name.endsWith(".weight")
          ? 0.5 + x
          : name.endsWith(".bias")
          ? x - 0.5
          : name.endsWith(".running_mean")
          ? 2 * x - 1
          : 0.25 + 2 * x
      ),
    );
  }
  model.network.loadStateDict(state);
  return model;
}

/** A device model with the reference's weights and buffers (copied through the state dict). */
function deviceModel(kind: "cgcnn" | "facgcnn", ref: Model, backend: DeviceBackend): Model {
  const model = new Model(config(kind), backend);
  model.network.loadStateDict(ref.network.stateDict());
  return model;
}

function optimizerOf(model: Model): Optimizer {
  return createOptimizer("sf-adamw", model.parameters(), OPT);
}

interface StepResult {
  loss: number;
  before: Map<string, Float32Array>;
  grads: Map<string, Float32Array>;
  after: Map<string, Float32Array>;
}

/** One training step exactly as the trainer runs it (trainer.ts `runEpoch`), with host copies. */
function trainingStep(
  model: Model,
  optimizer: Optimizer,
  batch: GraphBatch,
  targets: Float32Array,
  record = true,
): StepResult {
  const params = model.parameters();
  const host = (pick: (p: (typeof params)[number]) => Float32Array) =>
    new Map(record ? params.map((p) => [p.name, pick(p)]) : []);
  const before = host((p) => p.value.toFloat32Array());
  model.train();
  model.reseedFrames(SEED, FRAME_STREAM);
  const loss = tidy(() => {
    const out = model.forward(batch);
    const l = mseLoss(out, tensor(model.backend, targets, [batch.nCrystals, 1]));
    l.backward();
    return l.item();
  });
  const grads = host((p) => {
    assert.ok(p.value.grad, `${p.name} has no gradient`);
    return p.value.grad.toFloat32Array();
  });
  optimizer.step();
  optimizer.zeroGrad();
  const after = host((p) => p.value.toFloat32Array());
  return { loss, before, grads, after };
}

/** ĝ of the first SF-AdamW step (k = 0: v = (1−β2) g², bias correction 1 − β2). */
function gHat(g: number, y: number): number {
  const b2 = OPT.betas[1];
  return g / (Math.sqrt(((1 - b2) * g * g) / (1 - b2)) + EPS) + OPT.weightDecay * y;
}

/** Judges scale of a gradient tensor: fc_full.bias (analytically 0) uses its weight's. */
function gradFloor(name: string, grads: Map<string, Float32Array>): number {
  if (!/^convs\.\d+\.fc_full\.bias$/.test(name)) return 0;
  const w = grads.get(name.replace(/bias$/, "weight"))!;
  return w.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
}

/** Compares one step on the device with the reference step; returns the worst of each kind. */
function compareSteps(
  label: string,
  dev: StepResult,
  ref: StepResult,
  tol: Tolerances,
): Record<string, string> {
  const worst = { grad: 0, param: 0, kernel: 0 };
  const lossRel = Math.abs(dev.loss - ref.loss) / Math.abs(ref.loss);
  assert.ok(
    lossRel <= tol.loss,
    `${label} loss: device ${dev.loss} vs cpu ${ref.loss} (rel ${lossRel.toExponential(2)})`,
  );
  for (const [name, gRef] of ref.grads) {
    const gDev = dev.grads.get(name)!, y0 = ref.before.get(name)!;
    assert.deepEqual(dev.before.get(name), y0, `${label} ${name}: initial weights differ`);
    const floor = gradFloor(name, ref.grads);
    const g = assertDeviation(`${label} grad ${name}`, gDev, gRef, tol.grad, floor);
    worst.grad = Math.max(worst.grad, g.rel);
    // The optimizer kernel alone: the device update against the host formula on its gradient.
    const expected = Float64Array.from(y0, (y, i) => y - OPT.lr * gHat(gDev[i], y));
    const yDev = dev.after.get(name)!;
    const k = assertDeviation(`${label} sf-adamw ${name}`, yDev, expected, 1e-5);
    worst.kernel = Math.max(worst.kernel, k.rel);
    // Device vs CPU, less what the gradient difference allows (see the module comment).
    const slack = Float64Array.from(
      y0,
      (y, i) => OPT.lr * Math.abs(gHat(gDev[i], y) - gHat(gRef[i], y)) * (1 + 1e-3),
    );
    const p = assertDeviation(
      `${label} param ${name}`,
      yDev,
      ref.after.get(name)!,
      tol.param,
      0,
      slack,
    );
    worst.param = Math.max(worst.param, p.rel);
  }
  return {
    loss: lossRel.toExponential(2),
    grad: worst.grad.toExponential(2),
    param: worst.param.toExponential(2),
    kernel: worst.kernel.toExponential(2),
  };
}

/** Eval-mode predictions with every frame (k = 8 for FACGCNN), host copy. */
function predictAll(model: Model, batch: GraphBatch): Float32Array {
  model.eval();
  try {
    return tidy(() => noGrad(() => model.forward(batch, "all").toFloat32Array()));
  } finally {
    model.train();
  }
}

async function stepCase(kind: "cgcnn" | "facgcnn", tf32: boolean): Promise<void> {
  const tol = tf32 ? TF32 : FP32, label = `${kind} ${tf32 ? "TF32" : "FP32"}`;
  const { batch, targets } = await theBatch();
  const { backend, dispose } = device(tf32);
  const ref = referenceModel(kind), dev = deviceModel(kind, ref, backend);
  const refOpt = optimizerOf(ref), devOpt = optimizerOf(dev);
  try {
    const r = trainingStep(ref, refOpt, batch, targets);
    const d = trainingStep(dev, devOpt, batch, targets);
    const worst = compareSteps(label, d, r, tol);
    // Predictions with all 8 frames, from the reference's post-step state (weights and BN
    // running statistics) copied again, so they test the forward pass alone.
    dev.network.loadStateDict(ref.network.stateDict());
    const pr = predictAll(ref, batch), pd = predictAll(dev, batch);
    const p = assertDeviation(`${label} predictions (frames "all")`, pd, pr, tol.pred);
    console.log(
      `${label}: ${batch.nCrystals} crystals, ${batch.nAtoms} atoms, ${batch.nEdges} edges; ` +
        `max|Δ|/max|cpu|: loss ${worst.loss}, grads ${worst.grad}, params ${worst.param} ` +
        `(beyond the gradient slack), sf-adamw kernel ${worst.kernel}, predictions ${
          p.rel.toExponential(2)
        }`,
    );
  } finally {
    refOpt.dispose();
    devOpt.dispose();
    ref.dispose();
    dev.dispose();
    dispose();
  }
}

for (const kind of ["cgcnn", "facgcnn"] as const) {
  Deno.test({
    name: `gpu: ${kind} training step (FP32) equals the CPU to 1e-5, predictions with all frames`,
    ignore,
    fn: () => stepCase(kind, false),
  });
  Deno.test({
    name: `gpu: ${kind} training step (TF32) within the stated TF32 tolerance`,
    ignore,
    fn: () => stepCase(kind, true),
  });
}

Deno.test({
  name: "gpu: device memory after 20 FACGCNN training steps equals that after one",
  ignore,
  async fn() {
    const { batch, targets } = await theBatch();
    const { backend, dispose } = device(false);
    const model = new Model(config("facgcnn"), backend);
    const optimizer = optimizerOf(model);
    try {
      const snapshot = () => ({ memory: backend.memory(), alloc: backend.allocatorStats() });
      trainingStep(model, optimizer, batch, targets, false);
      const one = snapshot();
      trainingStep(model, optimizer, batch, targets, false);
      const two = snapshot();
      for (let i = 2; i < 20; i++) trainingStep(model, optimizer, batch, targets, false);
      const twenty = snapshot();
      const reserved = (s: typeof one) => s.alloc.liveBytes + s.alloc.cachedBytes;
      console.log(
        `memory after 1 / 2 / 20 steps: live ${one.memory.liveBytes} / ${two.memory.liveBytes} / ` +
          `${twenty.memory.liveBytes} B in ${one.memory.liveBuffers} / ${two.memory.liveBuffers} / ` +
          `${twenty.memory.liveBuffers} storages; allocator reserved ${reserved(one)} / ` +
          `${reserved(two)} / ${
            reserved(twenty)
          } B, cudaMalloc calls ${one.alloc.deviceMallocs} / ` +
          `${two.alloc.deviceMallocs} / ${twenty.alloc.deviceMallocs}`,
      );
      assert.equal(twenty.memory.liveBuffers, one.memory.liveBuffers, "live storages");
      assert.equal(twenty.memory.liveBytes, one.memory.liveBytes, "live bytes");
      assert.equal(twenty.alloc.liveBytes, one.alloc.liveBytes, "allocator live bytes");
      assert.equal(reserved(twenty), reserved(two), "allocator reserved bytes (live + cached)");
      assert.equal(twenty.alloc.deviceMallocs, two.alloc.deviceMallocs, "cudaMalloc calls");
    } finally {
      optimizer.dispose();
      model.dispose();
      dispose();
    }
  },
});
