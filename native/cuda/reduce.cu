// Deterministic reductions: column sums (with the BatchNorm variants) and the sum of all elements.
#include "common.cuh"

namespace {

constexpr int kColLanes = 8;  // threadIdx.y lanes sharing one column of a chunk

__global__ void column_partial(const float* __restrict__ a, const float* __restrict__ b,
                               const float* __restrict__ mean, int rows, int cols, int mode,
                               float scale, float* __restrict__ out) {
  __shared__ float sh[kColLanes][33];
  int c = blockIdx.x * 32 + threadIdx.x;
  long long r0 = (long long)blockIdx.y * fa::kColumnChunk;
  long long r1 = min(r0 + fa::kColumnChunk, (long long)rows);
  float acc = 0.0f;
  if (c < cols) {
    float m = mode == fa::kColSum ? 0.0f : mean[c];
    for (long long r = r0 + threadIdx.y; r < r1; r += kColLanes) {
      float v = a[r * cols + c];
      if (mode == fa::kColSum) {
        acc += v;
      } else if (mode == fa::kColSquaredDeviation) {
        float d = v - m;
        acc += d * d;
      } else {
        acc += b[r * cols + c] * (v - m);
      }
    }
  }
  sh[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && c < cols) {
    float s = 0.0f;
    for (int k = 0; k < kColLanes; ++k) s += sh[k][threadIdx.x];
    out[(long long)blockIdx.y * cols + c] = s * scale;
  }
}

constexpr int kSumAllBlocks = 1024;

__global__ void sum_all_partial(const float* __restrict__ x, long long n, float* __restrict__ out) {
  __shared__ float sh[fa::kThreads];
  float acc = 0.0f;
  FA_GRID_STRIDE(i, n) acc += x[i];
  sh[threadIdx.x] = acc;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[blockIdx.x] = sh[0];
}

__global__ void fill_zero(float* out, int n) {
  FA_GRID_STRIDE(i, n) out[i] = 0.0f;
}

unsigned sum_all_blocks(long long n) {
  long long g = (n + fa::kThreads * 4 - 1) / (fa::kThreads * 4);
  if (g > kSumAllBlocks) g = kSumAllBlocks;
  return g < 1 ? 1 : (unsigned)g;
}

}  // namespace

namespace fa {

int column_reduce(const float* a, const float* b, const float* mean, int rows, int cols, int mode,
                  float scale, float* out, float* workspace, cudaStream_t stream) {
  if (cols <= 0) return 0;
  if (rows <= 0) {
    fill_zero<<<grid_for(cols), kThreads, 0, stream>>>(out, cols);
    return launched();
  }
  if (column_chunks(rows) > 65535) return (int)cudaErrorInvalidValue;  // gridDim.y limit
  // Ping-pong between two regions: pass k reads one and writes the other.
  float* regions[2] = {workspace, workspace + column_chunks(rows) * cols};
  int which = 0;
  long long n = rows;
  const float* src = a;
  dim3 block(32, kColLanes);
  for (;;) {
    long long chunks = column_chunks(n);
    bool last = chunks == 1;
    float* dst = last ? out : regions[which];
    dim3 grid((cols + 31) / 32, (unsigned)chunks);
    column_partial<<<grid, block, 0, stream>>>(src, b, mean, (int)n, cols, mode,
                                               last ? scale : 1.0f, dst);
    int err = launched();
    if (err != 0 || last) return err;
    src = dst;
    n = chunks;
    mode = kColSum;
    which ^= 1;
  }
}

}  // namespace fa

FA_API long long fa_column_reduce_workspace_floats(int rows, int cols) {
  if (rows <= 0 || cols <= 0) return 0;
  long long c1 = fa::column_chunks(rows);
  if (c1 == 1) return 0;
  long long c2 = fa::column_chunks(c1);
  return (c1 + (c2 == 1 ? 0 : c2)) * (long long)cols;
}

FA_API long long fa_sum_all_workspace_floats(int n) {
  if (n <= 0) return 0;
  unsigned g = sum_all_blocks(n);
  return g == 1 ? 0 : g;
}

FA_API int fa_sum_rows_f32(const float* x, float* out, int rows, int cols, float* workspace,
                           cudaStream_t stream) {
  return fa::column_reduce(x, nullptr, nullptr, rows, cols, fa::kColSum, 1.0f, out, workspace,
                           stream);
}

FA_API int fa_sum_all_f32(const float* x, float* out, int n, float* workspace,
                          cudaStream_t stream) {
  if (n <= 0) {
    fill_zero<<<1, 32, 0, stream>>>(out, 1);
    return fa::launched();
  }
  unsigned g = sum_all_blocks(n);
  if (g == 1) {
    sum_all_partial<<<1, fa::kThreads, 0, stream>>>(x, n, out);
    return fa::launched();
  }
  sum_all_partial<<<g, fa::kThreads, 0, stream>>>(x, n, workspace);
  int err = fa::launched();
  if (err != 0) return err;
  sum_all_partial<<<1, fa::kThreads, 0, stream>>>(workspace, g, out);
  return fa::launched();
}
