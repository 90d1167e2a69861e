// Gaussian distance expansion (CGCNN edge features): d -> exp(-(d - mu_k)^2 / sigma^2).
#include "common.cuh"

namespace {

__global__ void gaussian_expand(const float* __restrict__ d, float* __restrict__ out,
                                long long total, int n_centres, int ld, float start, float step,
                                float inv_sigma2) {
  FA_GRID_STRIDE(i, total) {
    long long r = i / n_centres;
    int k = (int)(i - r * n_centres);
    float diff = d[r] - (start + (float)k * step);
    out[r * ld + k] = expf(-diff * diff * inv_sigma2);
  }
}

}  // namespace

FA_API int fa_gaussian_expand_f32(const float* d, float* out, int n, int n_centres, int ld,
                                  float start, float step, float sigma, cudaStream_t stream) {
  long long total = (long long)n * n_centres;
  if (total <= 0) return 0;
  if (!(sigma > 0.0f) || ld < n_centres) return (int)cudaErrorInvalidValue;
  gaussian_expand<<<fa::grid_for(total), fa::kThreads, 0, stream>>>(
      d, out, total, n_centres, ld, start, step, 1.0f / (sigma * sigma));
  return fa::launched();
}
