// Segment sum/mean over contiguous row ranges (pooling atoms -> crystals) and its adjoint.
#include "common.cuh"

namespace {

// One block per segment; threads stride over columns, rows summed in order (deterministic).
__global__ void segment_reduce(const float* __restrict__ src, const int* __restrict__ offsets,
                               float* __restrict__ out, int cols, int mean) {
  int s = blockIdx.x;
  int begin = offsets[s], end = offsets[s + 1];
  // Divide (not multiply by 1/len) so the rounding matches the CPU backend.
  float len = (mean && end > begin) ? (float)(end - begin) : 1.0f;
  for (int c = threadIdx.x; c < cols; c += blockDim.x) {
    float acc = 0.0f;
    for (int r = begin; r < end; ++r) acc += src[(long long)r * cols + c];
    out[(long long)s * cols + c] = acc / len;
  }
}

__global__ void segment_expand(const float* __restrict__ g, const int* __restrict__ offsets,
                               float* __restrict__ out, int cols, int mean) {
  int s = blockIdx.x;
  int begin = offsets[s], end = offsets[s + 1];
  long long total = (long long)(end - begin) * cols;
  float len = (mean && end > begin) ? (float)(end - begin) : 1.0f;
  for (long long i = threadIdx.x; i < total; i += blockDim.x) {
    int c = (int)(i % cols);
    out[(long long)begin * cols + i] = g[(long long)s * cols + c] / len;
  }
}

inline int col_threads(int cols) { return cols >= 128 ? 128 : (cols >= 64 ? 64 : 32); }

}  // namespace

FA_API int fa_segment_reduce_f32(const float* src, const int* offsets, float* out,
                                 int n_segments, int cols, int mean, cudaStream_t stream) {
  if (n_segments <= 0 || cols <= 0) return 0;
  segment_reduce<<<n_segments, col_threads(cols), 0, stream>>>(src, offsets, out, cols, mean);
  return fa::launched();
}

FA_API int fa_segment_expand_f32(const float* g, const int* offsets, float* out, int n_segments,
                                 int cols, int mean, cudaStream_t stream) {
  if (n_segments <= 0 || cols <= 0) return 0;
  segment_expand<<<n_segments, 128, 0, stream>>>(g, offsets, out, cols, mean);
  return fa::launched();
}
