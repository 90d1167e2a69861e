#!/usr/bin/env bash
# Builds build/native/libfacgcnn_kernels.so from native/cuda/*.cu (sm_80 + sm_90 SASS, sm_90 PTX).
# nvcc is looked up in $NVCC, $CUDA_PATH/bin, /usr/local/cuda/bin, then PATH.
# The eigensolver (eigen.cu) is compiled with -fmad=false: contracting a*b+c into one fused
# multiply-add rounds differently from the host build, and near-degenerate covariances (cubic
# cells) can then give another eigenbasis than lib/util/eigen3.ts.
# Usage: bash native/build.sh [--if-needed] [output-dir]   (default: <repo>/build/native)
#   --if-needed: do nothing when the library is newer than every file under native/cuda and
#                native/include (used by `deno task test:gpu` and `bench:gpu`).
#        bash native/build.sh --ptx output-dir file.cu...   PTX of the given sources, same flags
#                (tests/cuda/build.test.ts reads it).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
if_needed=0 ptx=0
if [[ "${1:-}" == "--if-needed" ]]; then if_needed=1; shift; fi
if [[ "${1:-}" == "--ptx" ]]; then ptx=1; shift; fi
out_dir="${1:-$root/build/native}"
[[ $# -gt 0 ]] && shift
lib="$out_dir/libfacgcnn_kernels.so"
if [[ $if_needed == 1 && -f "$lib" ]]; then
  newer=$(find "$here/cuda" "$here/include" "$here/build.sh" -newer "$lib" -print -quit)
  if [[ -z "$newer" ]]; then exit 0; fi
fi

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

# Per-file flags: no FMA contraction in the eigensolver (see above).
file_flags() { if [[ "$(basename "$1")" == eigen.cu ]]; then echo "-fmad=false"; fi; }

if [[ $ptx == 1 ]]; then
  mkdir -p "$out_dir"
  for src in "$@"; do
    # shellcheck disable=SC2046
    "$nvcc" -O3 -std=c++17 -I "$here/include" -arch=compute_90 $(file_flags "$src") -ptx "$src" \
      -o "$out_dir/$(basename "${src%.cu}").ptx"
  done
  exit 0
fi

rm -rf "$out_dir/obj"
mkdir -p "$out_dir/obj"
echo "native/build.sh: $("$nvcc" --version | tail -n 1) -> $out_dir" >&2
start=$(date +%s)
pids=()
for src in "$here"/cuda/*.cu; do
  obj="$out_dir/obj/$(basename "${src%.cu}").o"
  # shellcheck disable=SC2046
  "$nvcc" "${flags[@]}" $(file_flags "$src") -c "$src" -o "$obj" &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
if [[ $status -ne 0 ]]; then
  echo "native/build.sh: compilation failed" >&2
  exit 1
fi
"$nvcc" "${arch[@]}" -shared -cudart shared -o "$lib" \
  "$out_dir"/obj/*.o -Xlinker -rpath -Xlinker "$cuda_home/lib64"
echo "native/build.sh: built $out_dir/libfacgcnn_kernels.so in $(($(date +%s) - start)) s" >&2
