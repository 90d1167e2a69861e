#!/usr/bin/env bash
# Builds build/native/libfacgcnn_cpu.so from native/cpu/facgcnn_cpu.c with the system C compiler
# ($CC, else cc/gcc/clang): -O3 with IEEE semantics (no -ffast-math), expf/log1pf vectorised
# through glibc's libmvec (-fno-trapping-math lets the selects if-convert), OpenMP.
# Optional: without it the CPU backend uses its TypeScript kernels.
# Usage: bash native/build_cpu.sh [--if-needed] [output-dir]
#   --if-needed: do nothing when the library is newer than its source (used by `deno task train`).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if_needed=0
if [[ "${1:-}" == "--if-needed" ]]; then if_needed=1; shift; fi
out_dir="${1:-$(dirname "$here")/build/native}"
if [[ $if_needed == 1 && "$out_dir/libfacgcnn_cpu.so" -nt "$here/cpu/facgcnn_cpu.c" ]]; then exit 0; fi
cc=""
for candidate in "${CC:-}" cc gcc clang; do
  if [[ -n "$candidate" ]] && command -v "$candidate" >/dev/null 2>&1; then cc="$candidate"; break; fi
done
if [[ -z "$cc" ]]; then
  echo "native/build_cpu.sh: no C compiler found (set CC); the CPU backend keeps its TypeScript kernels" >&2
  exit 127
fi
mkdir -p "$out_dir"
tmp="$out_dir/libfacgcnn_cpu.so.tmp.$$"
"$cc" -O3 -march=native -fno-math-errno -fno-trapping-math -fopenmp -fPIC -fvisibility=hidden -c \
  -o "$tmp.o" "$here/cpu/facgcnn_cpu.c"
"$cc" -shared -fopenmp -o "$tmp" "$tmp.o" -lm
rm -f "$tmp.o"
mv "$tmp" "$out_dir/libfacgcnn_cpu.so"
echo "native/build_cpu.sh: built $out_dir/libfacgcnn_cpu.so with $cc"
