// Element-wise kernels: unary forward/backward, broadcast binary, axpby, affine, fill, copy_cols.
#include "common.cuh"

namespace {

__device__ __forceinline__ float unary_fwd(int op, float x) {
  switch (op) {
    case FA_SIGMOID: return fa::sigmoidf(x);
    case FA_SOFTPLUS: return fa::softplusf(x);
    case FA_EXP: return expf(x);
    case FA_LOG: return logf(x);
    case FA_NEG: return -x;
    case FA_SQUARE: return x * x;
    case FA_SQRT: return sqrtf(x);
    case FA_ABS: return fabsf(x);
  }
  return nanf("");
}

__device__ __forceinline__ float unary_bwd(int op, float x, float y, float dy) {
  switch (op) {
    case FA_SIGMOID: return dy * y * (1.0f - y);
    case FA_SOFTPLUS: return dy * fa::softplus_grad(x);
    case FA_EXP: return dy * y;
    case FA_LOG: return dy / x;
    case FA_NEG: return -dy;
    case FA_SQUARE: return 2.0f * x * dy;
    case FA_SQRT: return dy / (2.0f * y);
    // PyTorch: sign(0) = 0, so |x| has zero gradient at 0.
    case FA_ABS: return x > 0.0f ? dy : (x < 0.0f ? -dy : 0.0f);
  }
  return nanf("");
}

__global__ void unary(int op, const float* __restrict__ x, float* __restrict__ out, long long n) {
  FA_GRID_STRIDE(i, n) out[i] = unary_fwd(op, x[i]);
}

// x or y may be NULL when the rule does not read it.
__global__ void unary_backward(int op, const float* x, const float* y, const float* __restrict__ dy,
                               float* __restrict__ dx, long long n) {
  FA_GRID_STRIDE(i, n) dx[i] = unary_bwd(op, x ? x[i] : 0.0f, y ? y[i] : 0.0f, dy[i]);
}

__global__ void binary(int op, const float* a, const float* b, float* out, long long n, int cols,
                       int broadcast) {
  FA_GRID_STRIDE(i, n) {
    long long j = broadcast == FA_BCAST_NONE ? i
                  : broadcast == FA_BCAST_ROW ? i % cols
                  : broadcast == FA_BCAST_COL ? i / cols
                                              : 0;
    float u = a[i], v = b[j];
    out[i] = op == FA_ADD ? u + v : op == FA_SUB ? u - v : op == FA_MUL ? u * v : u / v;
  }
}

__global__ void axpby(float alpha, const float* __restrict__ x, float beta, float* y, long long n) {
  FA_GRID_STRIDE(i, n) y[i] = alpha * x[i] + beta * y[i];
}

__global__ void affine(const float* x, float* out, float alpha, float beta, long long n) {
  FA_GRID_STRIDE(i, n) out[i] = alpha * x[i] + beta;
}

template <typename T>
__global__ void fill(T* dst, T value, long long n) {
  FA_GRID_STRIDE(i, n) dst[i] = value;
}

__global__ void copy_cols(const float* src, int src_ld, int src_col, float* dst, int dst_ld,
                          int dst_col, long long n, int cols, int accumulate) {
  FA_GRID_STRIDE(i, n) {
    long long r = i / cols;
    int c = (int)(i - r * cols);
    float v = src[r * src_ld + src_col + c];
    float* d = &dst[r * dst_ld + dst_col + c];
    *d = accumulate ? *d + v : v;
  }
}

}  // namespace

FA_API int fa_unary_f32(int op, const float* x, float* out, int n, cudaStream_t stream) {
  if (op < FA_SIGMOID || op > FA_ABS) return (int)cudaErrorInvalidValue;
  if (n <= 0) return 0;
  unary<<<fa::grid_for(n), fa::kThreads, 0, stream>>>(op, x, out, n);
  return fa::launched();
}

FA_API int fa_unary_backward_f32(int op, const float* x, const float* y, const float* dy,
                                 float* dx, int n, cudaStream_t stream) {
  if (op < FA_SIGMOID || op > FA_ABS) return (int)cudaErrorInvalidValue;
  if (n <= 0) return 0;
  unary_backward<<<fa::grid_for(n), fa::kThreads, 0, stream>>>(op, x, y, dy, dx, n);
  return fa::launched();
}

FA_API int fa_binary_f32(int op, const float* a, const float* b, float* out, int rows, int cols,
                         int broadcast, cudaStream_t stream) {
  if (op < FA_ADD || op > FA_DIV || broadcast < FA_BCAST_NONE || broadcast > FA_BCAST_SCALAR) {
    return (int)cudaErrorInvalidValue;
  }
  long long n = (long long)rows * cols;
  if (n <= 0) return 0;
  binary<<<fa::grid_for(n), fa::kThreads, 0, stream>>>(op, a, b, out, n, cols, broadcast);
  return fa::launched();
}

FA_API int fa_axpby_f32(float alpha, const float* x, float beta, float* y, int n,
                        cudaStream_t stream) {
  if (n <= 0) return 0;
  axpby<<<fa::grid_for(n), fa::kThreads, 0, stream>>>(alpha, x, beta, y, n);
  return fa::launched();
}

FA_API int fa_affine_f32(const float* x, float* out, float alpha, float beta, int n,
                         cudaStream_t stream) {
  if (n <= 0) return 0;
  affine<<<fa::grid_for(n), fa::kThreads, 0, stream>>>(x, out, alpha, beta, n);
  return fa::launched();
}

FA_API int fa_fill_f32(float* dst, float value, int n, cudaStream_t stream) {
  if (n <= 0) return 0;
  fill<float><<<fa::grid_for(n), fa::kThreads, 0, stream>>>(dst, value, n);
  return fa::launched();
}

FA_API int fa_fill_i32(int* dst, int value, int n, cudaStream_t stream) {
  if (n <= 0) return 0;
  fill<int><<<fa::grid_for(n), fa::kThreads, 0, stream>>>(dst, value, n);
  return fa::launched();
}

FA_API int fa_copy_cols_f32(const float* src, int src_ld, int src_col, float* dst, int dst_ld,
                            int dst_col, int rows, int cols, int accumulate, cudaStream_t stream) {
  long long n = (long long)rows * cols;
  if (n <= 0) return 0;
  copy_cols<<<fa::grid_for(n), fa::kThreads, 0, stream>>>(src, src_ld, src_col, dst, dst_ld,
                                                          dst_col, n, cols, accumulate);
  return fa::launched();
}
