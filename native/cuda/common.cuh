// Shared helpers of the kernel files: launch geometry and the error-checked return.
#pragma once
#include <cuda_runtime.h>
#include <stdint.h>
#include "../include/facgcnn_kernels.h"

namespace fa {

constexpr int kThreads = 256;
// Grid-stride loops cover any size; capping the grid keeps launches cheap for huge n.
constexpr long long kMaxBlocks = 1 << 20;

inline unsigned grid_for(long long n) {
  long long b = (n + kThreads - 1) / kThreads;
  if (b > kMaxBlocks) b = kMaxBlocks;
  if (b < 1) b = 1;
  return (unsigned)b;
}

// Every launcher ends with this: the launch error (bad config, no device) becomes the result.
inline int launched() { return (int)cudaGetLastError(); }

__device__ __forceinline__ float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

// PyTorch's softplus with beta 1 and threshold 20.
__device__ __forceinline__ float softplusf(float x) { return x > 20.0f ? x : log1pf(expf(x)); }

// d softplus / dx as PyTorch computes it: z / (z + 1), z = exp(x); 1 above the threshold.
__device__ __forceinline__ float softplus_grad(float x) {
  if (x > 20.0f) return 1.0f;
  float z = expf(x);
  return z / (z + 1.0f);
}

#define FA_GRID_STRIDE(i, n) \
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
       i += (long long)blockDim.x * gridDim.x)

}  // namespace fa

namespace fa {

// Column reduction modes: what is summed per column j of a [rows, cols].
enum ColumnMode { kColSum = 0, kColSquaredDeviation = 1, kColCenteredProduct = 2 };
// Rows one block of the first pass sums; later passes reduce the per-chunk partials.
constexpr int kColumnChunk = 1024;

inline long long column_chunks(long long rows) { return (rows + kColumnChunk - 1) / kColumnChunk; }

// out[j] = scale * sum_r term(r, j), term = a (sum), (a - mean)^2, or b (a - mean).
// Deterministic multi-pass reduction through `workspace` (reduce.cu).
int column_reduce(const float* a, const float* b, const float* mean, int rows, int cols, int mode,
                  float scale, float* out, float* workspace, cudaStream_t stream);

}  // namespace fa
