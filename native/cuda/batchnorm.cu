// BatchNorm over rows: column moments, forward, backward (batch or running statistics).
#include "common.cuh"

namespace {

__device__ __forceinline__ float inv_std(float variance, float eps) {
  return 1.0f / sqrtf(variance + eps);
}

__global__ void bn_forward(const float* __restrict__ x, const float* __restrict__ mean,
                           const float* __restrict__ variance, const float* __restrict__ gamma,
                           const float* __restrict__ beta, float* __restrict__ out, long long n,
                           int cols, float eps) {
  FA_GRID_STRIDE(i, n) {
    int c = (int)(i % cols);
    out[i] = (x[i] - mean[c]) * inv_std(variance[c], eps) * gamma[c] + beta[c];
  }
}

// s1 = sum dy (= dbeta), s2 = sum dy (x - mean) per column, already reduced.
__global__ void bn_backward_dx(const float* __restrict__ x, const float* __restrict__ dy,
                               const float* __restrict__ mean, const float* __restrict__ variance,
                               const float* __restrict__ gamma, const float* __restrict__ s1,
                               const float* __restrict__ s2, float* __restrict__ dx, long long n,
                               int rows, int cols, float eps, int batch_statistics) {
  FA_GRID_STRIDE(i, n) {
    int c = (int)(i % cols);
    float r = inv_std(variance[c], eps);
    float g = gamma[c] * r;
    if (batch_statistics) {
      float inv_n = 1.0f / (float)rows;
      dx[i] = g * (dy[i] - s1[c] * inv_n - (x[i] - mean[c]) * r * r * s2[c] * inv_n);
    } else {
      dx[i] = g * dy[i];
    }
  }
}

// dgamma = s2 r in place (after dx has read the raw s2).
__global__ void bn_finish_dgamma(float* dgamma, const float* variance, int cols, float eps) {
  FA_GRID_STRIDE(c, cols) dgamma[c] *= inv_std(variance[c], eps);
}

}  // namespace

FA_API int fa_column_moments_f32(const float* x, float* mean, float* variance, int rows, int cols,
                                 float* workspace, cudaStream_t stream) {
  float inv = rows > 0 ? 1.0f / (float)rows : 0.0f;
  int err = fa::column_reduce(x, nullptr, nullptr, rows, cols, fa::kColSum, inv, mean, workspace,
                              stream);
  if (err != 0) return err;
  // Two-pass variance (sum of squared deviations) avoids E[x^2] - E[x]^2 cancellation.
  return fa::column_reduce(x, nullptr, mean, rows, cols, fa::kColSquaredDeviation, inv, variance,
                           workspace, stream);
}

FA_API int fa_batchnorm_forward_f32(const float* x, const float* mean, const float* variance,
                                    const float* gamma, const float* beta, float* out, int rows,
                                    int cols, float eps, cudaStream_t stream) {
  long long n = (long long)rows * cols;
  if (n <= 0) return 0;
  bn_forward<<<fa::grid_for(n), fa::kThreads, 0, stream>>>(x, mean, variance, gamma, beta, out, n,
                                                           cols, eps);
  return fa::launched();
}

FA_API int fa_batchnorm_backward_f32(const float* x, const float* dy, const float* mean,
                                     const float* variance, const float* gamma, float* dx,
                                     float* dgamma, float* dbeta, int rows, int cols, float eps,
                                     int batch_statistics, float* workspace,
                                     cudaStream_t stream) {
  if (cols <= 0) return 0;
  int err = fa::column_reduce(dy, nullptr, nullptr, rows, cols, fa::kColSum, 1.0f, dbeta,
                              workspace, stream);
  if (err != 0) return err;
  err = fa::column_reduce(x, dy, mean, rows, cols, fa::kColCenteredProduct, 1.0f, dgamma,
                          workspace, stream);
  if (err != 0) return err;
  long long n = (long long)rows * cols;
  if (n > 0) {
    bn_backward_dx<<<fa::grid_for(n), fa::kThreads, 0, stream>>>(
        x, dy, mean, variance, gamma, dbeta, dgamma, dx, n, rows, cols, eps, batch_statistics);
    err = fa::launched();
    if (err != 0) return err;
  }
  bn_finish_dgamma<<<fa::grid_for(cols), fa::kThreads, 0, stream>>>(dgamma, variance, cols, eps);
  return fa::launched();
}
