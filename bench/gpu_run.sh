#!/usr/bin/env bash
# The whole GPU check as one prepared script (bench/GPU_RUN.md): device and driver, the kernel
# build, backendInfo(), `test:gpu`, the check-mode (FACGCNN_CHECK=1) op tests, and the
# throughput bench against the PyTorch peer. Logs go to $OUT (or ./gpu-out), a summary last.
# Budget: the device tool runs one command for at most 10 minutes, and a session has 15 minutes of
# device time in all (start-up included). The script therefore stops itself after GPU_RUN_SECONDS
# (default 540): the steps run in order of importance, each under `timeout` with what is left
# of the budget (or its own cap, if smaller), and a step that no longer fits is skipped, saying
# so in the summary.
set -uo pipefail
started=$(date +%s)
budget=${GPU_RUN_SECONDS:-540}
# left CAP: seconds a step may take: its cap, or what remains of the budget less 10 s.
left() {
  local rest=$((budget - ($(date +%s) - started) - 10))
  ((rest < 1)) && rest=1
  ((rest < $1)) && echo "$rest" || echo "$1"
}
# fits CAP MIN: whether at least MIN seconds remain for a step (else it is skipped, noted).
fits() {
  local t
  t=$(left "$1")
  if ((t < $2)); then echo "skipped (budget: ${t}s left)" | tee -a "$out/summary.txt"; return 1; fi
}
out="${OUT:-$PWD/gpu-out}"
mkdir -p "$out"
if [[ -f .gpu/deno.xz ]] && ! command -v deno >/dev/null 2>&1; then
  mkdir -p /tmp/d
  if command -v xz >/dev/null; then xz -dc .gpu/deno.xz > /tmp/d/deno
  else python3 -c "import lzma,sys;sys.stdout.buffer.write(lzma.open('.gpu/deno.xz').read())" > /tmp/d/deno
  fi
  chmod +x /tmp/d/deno
  export PATH=/tmp/d:$PATH
fi
step() { echo "== $1 ($(date +%T))" | tee -a "$out/summary.txt"; }

step "device"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | tee "$out/device.txt"
ldconfig -p 2>/dev/null | grep -E 'libcu(dart|blas|blasLt|sparse)\.so' > "$out/cuda_libs.txt"

step "build (CPU and CUDA kernels)"
timeout "$(left 240)" bash -c 'bash native/build_cpu.sh && bash native/build.sh' > "$out/build.log" 2>&1
echo "build exit $?" | tee -a "$out/summary.txt"

step "backendInfo()"
FACGCNN_QUIET=1 deno eval --ext=ts 'import { backendInfo } from "./mod.ts";
console.log(JSON.stringify(backendInfo(), null, 2));' 2>&1 | tee "$out/backend_info.json" \
  | tee -a "$out/summary.txt"

step "test:gpu"
timeout "$(left 200)" deno task test:gpu > "$out/test_gpu.log" 2>&1
echo "test:gpu exit $?: $(grep -E '^(ok|FAILED) \|' "$out/test_gpu.log" | tail -1)" \
  | tee -a "$out/summary.txt"
# Device-built frames (PCA eigensolves, signs, scale on the GPU) against lib/frames' bits.
grep -E "gpu buildFrames" "$out/test_gpu.log" | tee -a "$out/summary.txt"

step "bench:gpu (scatter atomic, the default; with the PyTorch peer)"
timeout "$(left 200)" deno task bench:gpu > "$out/bench_gpu.log" 2>&1
echo "bench exit $?" | tee -a "$out/summary.txt"
grep -E "measured per step|train step" "$out/bench_gpu.log" | tee -a "$out/summary.txt"

step "ops in check mode (FACGCNN_CHECK=1)"
fits 90 30 && FACGCNN_CHECK=1 FACGCNN_REQUIRE_CUDA=1 timeout "$(left 90)" deno test -A tests/gpu/ops_parity.test.ts \
  > "$out/test_gpu_check.log" 2>&1
echo "check mode exit $?: $(grep -E '^(ok|FAILED) \|' "$out/test_gpu_check.log" | tail -1)" \
  | tee -a "$out/summary.txt"

step "deno bench: op and model-step groups on the cuda configuration (issue 17)"
# BENCH_BACKENDS=cuda: only the CUDA configuration is set up and run (the CPU ones are listed as
# skipped); BENCH_LARGE=1 adds the batch-2048 model steps. Each case is a synchronised region.
fits 150 45 && BENCH_BACKENDS=cuda BENCH_LARGE=1 timeout "$(left 150)" deno bench --allow-read --allow-write --allow-env \
  --allow-ffi --allow-sys --allow-run bench/ops.bench.ts bench/model.bench.ts \
  > "$out/deno_bench.log" 2>&1
echo "deno bench exit $?" | tee -a "$out/summary.txt"
grep -E "^\| (sgemm|memory|forward)" "$out/deno_bench.log" | head -80 >> "$out/summary.txt"

step "profiling mode: FACGCNN_PROFILE=1 train, 1 epoch of synthetic:1024 on cuda (issue 17)"
fits 90 40 && FACGCNN_PROFILE=1 timeout "$(left 90)" deno task train --data synthetic:1024 --epochs 1 --device cuda \
  --out "$out/profile_run" > "$out/profile_train.log" 2>&1
echo "profile train exit $?" | tee -a "$out/summary.txt"
sed -n '/^profile (/,$p' "$out/profile_train.log" | tee -a "$out/summary.txt"

step "bench:gpu with FACGCNN_SCATTER=csr (deterministic), ours only"
fits 120 60 && OUT="$out/csr" FACGCNN_SCATTER=csr timeout "$(left 120)" deno task bench:gpu --no-peer \
  > "$out/bench_gpu_csr.log" 2>&1
echo "bench csr exit $?" | tee -a "$out/summary.txt"
grep -E "measured per step|train step" "$out/bench_gpu_csr.log" | tee -a "$out/summary.txt"
[[ -f bench/gpu_throughput.md ]] && cp bench/gpu_throughput.md "$out/" 2>/dev/null

step "summary ($(($(date +%s) - started)) s of the ${budget} s budget)"
cat "$out/summary.txt"
tail -n 40 "$out/bench_gpu.log"
