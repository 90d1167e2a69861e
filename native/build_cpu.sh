#!/usr/bin/env bash
# Builds build/native/libfacgcnn_cpu.so from native/cpu/*.c with the system C compiler
# ($CC, else cc/gcc/clang): -O3 with IEEE semantics (no -ffast-math), expf/log1pf vectorised
# through glibc's libmvec (-fno-trapping-math lets the selects if-convert), OpenMP.
# -mprefer-vector-width=256: GCC's tuning for some CPUs (znver1, what a KVM guest on an EPYC
# may report) prefers 16-byte vectors, half the width of the AVX2 the machine has.
# -fschedule-insns -fsched-pressure: the pre-register-allocation scheduler (off by default on
# x86) interleaves the independent dependency chains of the gate kernels (gate_avx2.h); the
# gate sum ran 1.4-1.7× faster with it on a 2-core EPYC VM, the other kernels unchanged.
# Optional: without it the CPU backend uses its TypeScript kernels.
# Usage: bash native/build_cpu.sh [--if-needed] [output-dir]
#   --if-needed: do nothing when the library is newer than every source and header (used by
#   `deno task train`).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if_needed=0
if [[ "${1:-}" == "--if-needed" ]]; then if_needed=1; shift; fi
out_dir="${1:-$(dirname "$here")/build/native}"
sources=("$here"/cpu/*.c)
if [[ $if_needed == 1 && -f "$out_dir/libfacgcnn_cpu.so" ]]; then
  stale=0
  for f in "${sources[@]}" "$here"/cpu/*.h "$here"/include/*.h; do
    if [[ -e "$f" && "$f" -nt "$out_dir/libfacgcnn_cpu.so" ]]; then stale=1; fi
  done
  if [[ $stale == 0 ]]; then exit 0; fi
fi
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
# The tuning flags above are kept only where the compiler takes them without a word (clang
# warns about the scheduler flags, aarch64 GCC has no -mprefer-vector-width).
tuning=()
for flag in -mprefer-vector-width=256 -fschedule-insns -fsched-pressure; do
  if echo 'int x;' | "$cc" -Werror "$flag" -x c -c -o /dev/null - >/dev/null 2>&1; then
    tuning+=("$flag")
  fi
done
objects=()
base=(-O3 -march=native -fno-math-errno -fno-trapping-math -fopenmp -fPIC -fvisibility=hidden)
for src in "${sources[@]}"; do
  obj="$tmp.$(basename "$src" .c).o"
  # A compiler that takes the tuning flags but fails with them (an old GCC's scheduler) gets a
  # second try without them.
  if [[ ${#tuning[@]} -eq 0 ]]; then
    "$cc" "${base[@]}" -c -o "$obj" "$src"
  elif ! "$cc" "${base[@]}" "${tuning[@]}" -c -o "$obj" "$src"; then
    echo "native/build_cpu.sh: $(basename "$src") failed with ${tuning[*]}; building it without" >&2
    "$cc" "${base[@]}" -c -o "$obj" "$src"
  fi
  objects+=("$obj")
done
"$cc" -shared -fopenmp -o "$tmp" "${objects[@]}" -lm
rm -f "${objects[@]}"
mv "$tmp" "$out_dir/libfacgcnn_cpu.so"
echo "native/build_cpu.sh: built $out_dir/libfacgcnn_cpu.so with $cc"
