// Fused optimizer steps: one launch per parameter; the scalars come from the host (backend.ts).
#include "common.cuh"

namespace {

// Schedule-Free AdamW (Defazio et al. 2024): v, then g_hat = g / denom + wd y, then y and z
// (z read before its update).
__global__ void schedule_free_adamw(float* __restrict__ y, float* __restrict__ z,
                                    float* __restrict__ v, const float* __restrict__ g,
                                    long long n, float lr, float beta1, float beta2, float bc2,
                                    float eps, float wd, float ckp1) {
  FA_GRID_STRIDE(i, n) {
    float gi = g[i];
    float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
    v[i] = vi;
    float denom = sqrtf(vi / bc2) + eps;
    float yi = y[i], zi = z[i];
    float gh = gi / denom + wd * yi;
    y[i] = yi + ckp1 * (zi - yi) + lr * (beta1 * (1.0f - ckp1) - 1.0f) * gh;
    z[i] = zi - lr * gh;
  }
}

// PyTorch AdamW (single-tensor path): decay, moments, p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps).
__global__ void adamw(float* __restrict__ p, float* __restrict__ m, float* __restrict__ v,
                      const float* __restrict__ g, long long n, float lr, float beta1,
                      float beta2, float eps, float wd, float bc1, float bc2) {
  float step = lr / bc1;
  float bc2_sqrt = sqrtf(bc2);
  FA_GRID_STRIDE(i, n) {
    float gi = g[i];
    float pi = p[i] * (1.0f - lr * wd);
    float mi = m[i] + (1.0f - beta1) * (gi - m[i]);  // lerp, as PyTorch does
    float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = pi - step * mi / (sqrtf(vi) / bc2_sqrt + eps);
  }
}

// PyTorch SGD: d = g + wd p; buf = first ? d : momentum buf + d; p -= lr buf.
__global__ void sgd(float* __restrict__ p, float* __restrict__ buf, const float* __restrict__ g,
                    long long n, float lr, float momentum, float wd, int first_step) {
  FA_GRID_STRIDE(i, n) {
    float d = g[i] + wd * p[i];
    // The buffer is written even without momentum, as the CPU backend does.
    float b = (momentum == 0.0f || first_step) ? d : momentum * buf[i] + d;
    buf[i] = b;
    p[i] -= lr * b;
  }
}

}  // namespace

FA_API int fa_schedule_free_adamw_f32(float* y, float* z, float* v, const float* g, int n,
                                      float lr, float beta1, float beta2, float bias_correction2,
                                      float eps, float weight_decay, float ckp1,
                                      cudaStream_t stream) {
  if (n <= 0) return 0;
  schedule_free_adamw<<<fa::grid_for(n), fa::kThreads, 0, stream>>>(
      y, z, v, g, n, lr, beta1, beta2, bias_correction2, eps, weight_decay, ckp1);
  return fa::launched();
}

FA_API int fa_adamw_f32(float* p, float* m, float* v, const float* g, int n, float lr,
                        float beta1, float beta2, float eps, float weight_decay,
                        float bias_correction1, float bias_correction2, cudaStream_t stream) {
  if (n <= 0) return 0;
  adamw<<<fa::grid_for(n), fa::kThreads, 0, stream>>>(p, m, v, g, n, lr, beta1, beta2, eps,
                                                      weight_decay, bias_correction1,
                                                      bias_correction2);
  return fa::launched();
}

FA_API int fa_sgd_f32(float* p, float* buf, const float* g, int n, float lr, float momentum,
                      float weight_decay, int first_step, cudaStream_t stream) {
  if (n <= 0) return 0;
  sgd<<<fa::grid_for(n), fa::kThreads, 0, stream>>>(p, buf, g, n, lr, momentum, weight_decay,
                                                    first_step);
  return fa::launched();
}
