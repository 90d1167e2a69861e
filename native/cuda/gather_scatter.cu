// Row gather and scatter-add: the message-passing primitives (edges <-> atoms).
#include "common.cuh"

namespace {

__global__ void gather_rows(const float* __restrict__ src, const int* __restrict__ index,
                            float* __restrict__ out, long long total, int cols) {
  FA_GRID_STRIDE(i, total) {
    long long r = i / cols;
    int c = (int)(i - r * cols);
    out[i] = src[(long long)index[r] * cols + c];
  }
}

__global__ void scatter_add_atomic(const float* __restrict__ src, const int* __restrict__ index,
                                   float* __restrict__ out, long long total, int cols) {
  FA_GRID_STRIDE(i, total) {
    long long r = i / cols;
    int c = (int)(i - r * cols);
    atomicAdd(&out[(long long)index[r] * cols + c], src[i]);
  }
}

// One block per destination row; threads stride over the columns, rows summed in CSR order.
__global__ void scatter_add_csr(const float* __restrict__ src, const int* __restrict__ perm,
                                const int* __restrict__ offsets, float* __restrict__ out,
                                int cols) {
  int d = blockIdx.x;
  int begin = offsets[d], end = offsets[d + 1];
  if (begin == end) return;
  for (int c = threadIdx.x; c < cols; c += blockDim.x) {
    float acc = 0.0f;
    for (int p = begin; p < end; ++p) acc += src[(long long)perm[p] * cols + c];
    out[(long long)d * cols + c] += acc;
  }
}

inline int col_threads(int cols) { return cols >= 128 ? 128 : (cols >= 64 ? 64 : 32); }

}  // namespace

FA_API int fa_gather_rows_f32(const float* src, const int* index, float* out, int n_index,
                              int cols, cudaStream_t stream) {
  long long total = (long long)n_index * cols;
  if (total <= 0) return 0;
  gather_rows<<<fa::grid_for(total), fa::kThreads, 0, stream>>>(src, index, out, total, cols);
  return fa::launched();
}

FA_API int fa_scatter_add_rows_atomic_f32(const float* src, const int* index, float* out,
                                          int n_index, int cols, cudaStream_t stream) {
  long long total = (long long)n_index * cols;
  if (total <= 0) return 0;
  scatter_add_atomic<<<fa::grid_for(total), fa::kThreads, 0, stream>>>(src, index, out, total,
                                                                       cols);
  return fa::launched();
}

FA_API int fa_scatter_add_rows_csr_f32(const float* src, const int* perm, const int* dst_offsets,
                                       float* out, int n_dst, int cols, cudaStream_t stream) {
  if (n_dst <= 0 || cols <= 0) return 0;
  scatter_add_csr<<<n_dst, col_threads(cols), 0, stream>>>(src, perm, dst_offsets, out, cols);
  return fa::launched();
}
