// The fused CGCNN gate sigmoid(f) * softplus(c) on z = [f | c] and its backward: one launch each.
#include "common.cuh"

namespace {

// z is [rows, 2 cols] = [f | c]; out is [rows, cols].
__global__ void gate(const float* __restrict__ z, float* __restrict__ out, long long n, int cols) {
  FA_GRID_STRIDE(i, n) {
    long long r = i / cols;
    long long j = i - r * cols;
    const float* zr = z + r * 2 * cols;
    out[i] = fa::sigmoidf(zr[j]) * fa::softplusf(zr[cols + j]);
  }
}

// dz = [df | dc]: df = dout softplus(c) s (1 - s), dc = dout s softplus'(c), s = sigmoid(f).
__global__ void gate_backward(const float* __restrict__ z, const float* __restrict__ dout,
                              float* __restrict__ dz, long long n, int cols) {
  FA_GRID_STRIDE(i, n) {
    long long r = i / cols;
    long long j = i - r * cols;
    const float* zr = z + r * 2 * cols;
    float* dzr = dz + r * 2 * cols;
    float s = fa::sigmoidf(zr[j]);
    float c = zr[cols + j];
    float g = dout[i];
    dzr[j] = g * s * (1.0f - s) * fa::softplusf(c);
    dzr[cols + j] = g * s * fa::softplus_grad(c);
  }
}

}  // namespace

FA_API int fa_gate_f32(const float* z, float* out, int rows, int cols, cudaStream_t stream) {
  long long n = (long long)rows * cols;
  if (n <= 0) return 0;
  gate<<<fa::grid_for(n), fa::kThreads, 0, stream>>>(z, out, n, cols);
  return fa::launched();
}

FA_API int fa_gate_backward_f32(const float* z, const float* dout, float* dz, int rows, int cols,
                                cudaStream_t stream) {
  long long n = (long long)rows * cols;
  if (n <= 0) return 0;
  gate_backward<<<fa::grid_for(n), fa::kThreads, 0, stream>>>(z, dout, dz, n, cols);
  return fa::launched();
}
