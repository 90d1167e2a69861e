#!/usr/bin/env bash
# Builds build/native/libfacgcnn_kernels.so from native/cuda/*.cu (sm_80 + sm_90 SASS, sm_90 PTX).
# nvcc is looked up in $NVCC, $CUDA_PATH/bin, /usr/local/cuda/bin, then PATH.
# Usage: bash native/build.sh [output-dir]   (default: <repo>/build/native)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
out_dir="${1:-$root/build/native}"

nvcc=""
for candidate in "${NVCC:-}" "${CUDA_PATH:+$CUDA_PATH/bin/nvcc}" /usr/local/cuda/bin/nvcc \
  "$(command -v nvcc 2>/dev/null || true)"; do
  if [[ -n "$candidate" && -x "$candidate" ]]; then nvcc="$candidate"; break; fi
done
if [[ -z "$nvcc" ]]; then
  echo "native/build.sh: nvcc not found (tried \$NVCC, \$CUDA_PATH/bin, /usr/local/cuda/bin, PATH);" \
    "install the CUDA toolkit or set NVCC=/path/to/nvcc" >&2
  exit 127
fi
cuda_home="$(cd "$(dirname "$nvcc")/.." && pwd)"

arch=(-gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90
  -gencode arch=compute_90,code=compute_90)
# Link cudart dynamically so the helper shares the runtime (and context) the TypeScript side loads;
# hide everything but the FA_API functions.
flags=(-O3 -std=c++17 -Xcompiler -fPIC -Xcompiler -fvisibility=hidden -cudart shared
  -I "$here/include" "${arch[@]}")

rm -rf "$out_dir/obj"
mkdir -p "$out_dir/obj"
echo "native/build.sh: $("$nvcc" --version | tail -n 1) -> $out_dir" >&2
start=$(date +%s)
pids=()
for src in "$here"/cuda/*.cu; do
  obj="$out_dir/obj/$(basename "${src%.cu}").o"
  "$nvcc" "${flags[@]}" -c "$src" -o "$obj" &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
if [[ $status -ne 0 ]]; then
  echo "native/build.sh: compilation failed" >&2
  exit 1
fi
"$nvcc" "${arch[@]}" -shared -cudart shared -o "$out_dir/libfacgcnn_kernels.so" \
  "$out_dir"/obj/*.o -Xlinker -rpath -Xlinker "$cuda_home/lib64"
echo "native/build.sh: built $out_dir/libfacgcnn_kernels.so in $(($(date +%s) - start)) s" >&2
