// The fused CGCNN gate sigmoid(f) * softplus(c) and its backward: one launch each.
#include "common.cuh"

namespace {

__global__ void gate(const float* __restrict__ f, const float* __restrict__ c,
                     float* __restrict__ out, long long n) {
  FA_GRID_STRIDE(i, n) out[i] = fa::sigmoidf(f[i]) * fa::softplusf(c[i]);
}

__global__ void gate_backward(const float* __restrict__ f, const float* __restrict__ c,
                              const float* __restrict__ dout, float* __restrict__ df,
                              float* __restrict__ dc, long long n) {
  FA_GRID_STRIDE(i, n) {
    float s = fa::sigmoidf(f[i]);
    float g = dout[i];
    df[i] = g * fa::softplusf(c[i]) * s * (1.0f - s);
    dc[i] = g * s * fa::softplus_grad(c[i]);
  }
}

}  // namespace

FA_API int fa_gate_f32(const float* f, const float* c, float* out, int n, cudaStream_t stream) {
  if (n <= 0) return 0;
  gate<<<fa::grid_for(n), fa::kThreads, 0, stream>>>(f, c, out, n);
  return fa::launched();
}

FA_API int fa_gate_backward_f32(const float* f, const float* c, const float* dout, float* df,
                                float* dc, int n, cudaStream_t stream) {
  if (n <= 0) return 0;
  gate_backward<<<fa::grid_for(n), fa::kThreads, 0, stream>>>(f, c, dout, df, dc, n);
  return fa::launched();
}
