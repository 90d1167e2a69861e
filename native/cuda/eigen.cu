// Batched 3x3 symmetric eigensolver (cyclic Jacobi) and PCA frames for FACGCNN.
#include <math_constants.h>

#include "common.cuh"

namespace {

// Cyclic Jacobi on a symmetric 3x3 `a` (destroyed) in double, step for step the host solver
// lib/frames/eigen3.ts (same scaling, rotation form, stopping rule, sorting network, signs) so
// both backends return the same basis even for nearly repeated eigenvalues.
// Output: w ascending; v columns the unit eigenvectors, each column's largest-|.| entry (first on
// ties) positive. A zero matrix gives w = 0, v = I; a non-finite one NaN everywhere.
constexpr int kJacobiMaxSweeps = 32;

__device__ void jacobi3(double a[3][3], double w[3], double v[3][3]) {
  double scale = 0.0;
  bool finite = true;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      if (!isfinite(a[i][j])) finite = false;
      scale = fmax(scale, fabs(a[i][j]));
    }
  if (!finite || scale == 0.0) {
    double fill = finite ? 0.0 : CUDART_NAN;
    for (int i = 0; i < 3; ++i) {
      w[i] = fill;
      for (int j = 0; j < 3; ++j) v[i][j] = finite ? (i == j ? 1.0 : 0.0) : CUDART_NAN;
    }
    return;
  }
  const double inv = 1.0 / scale;  // multiply by 1/scale, as the host does
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      a[i][j] *= inv;
      v[i][j] = i == j ? 1.0 : 0.0;
    }
  const double converged = 1.2325951644078310e-32;  // (2^-53)^2
  const int pairs[3][2] = {{0, 1}, {0, 2}, {1, 2}};
  for (int sweep = 0; sweep < kJacobiMaxSweeps; ++sweep) {
    double off = a[0][1] * a[0][1] + a[0][2] * a[0][2] + a[1][2] * a[1][2];
    double norm2 = a[0][0] * a[0][0] + a[1][1] * a[1][1] + a[2][2] * a[2][2] + 2.0 * off;
    if (off <= converged * norm2) break;
    for (int k = 0; k < 3; ++k) {
      int p = pairs[k][0], q = pairs[k][1], r = 3 - p - q;
      double apq = a[p][q];
      if (apq == 0.0) continue;
      // Numerical Recipes' rotation: t = sgn(theta) / (|theta| + sqrt(theta^2 + 1)).
      double theta = (a[q][q] - a[p][p]) / (2.0 * apq);
      double at = fabs(theta);
      double t = (theta >= 0.0 ? 1.0 : -1.0) / (at + (at > 1e150 ? at : sqrt(theta * theta + 1.0)));
      double c = 1.0 / sqrt(t * t + 1.0), s = t * c, tau = s / (1.0 + c), h = t * apq;
      a[p][p] -= h;
      a[q][q] += h;
      a[p][q] = a[q][p] = 0.0;
      double arp = a[r][p], arq = a[r][q];
      a[r][p] = a[p][r] = arp - s * (arq + tau * arp);
      a[r][q] = a[q][r] = arq + s * (arp - tau * arq);
      for (int i = 0; i < 3; ++i) {
        double vip = v[i][p], viq = v[i][q];
        v[i][p] = vip - s * (viq + tau * vip);
        v[i][q] = viq + s * (vip - tau * viq);
      }
    }
  }
  // Unscale; sorting network (0,1), (1,2), (0,1); columns follow their values.
  double d[3];
  int col[3] = {0, 1, 2};
  for (int k = 0; k < 3; ++k) d[k] = a[k][k] * scale;
  const int net[3][2] = {{0, 1}, {1, 2}, {0, 1}};
  for (int n = 0; n < 3; ++n) {
    int i = net[n][0], j = net[n][1];
    if (d[j] < d[i]) {
      double td = d[i]; d[i] = d[j]; d[j] = td;
      int tc = col[i]; col[i] = col[j]; col[j] = tc;
    }
  }
  double u[3][3];
  for (int k = 0; k < 3; ++k) {
    int src = col[k], big = 0;
    for (int i = 1; i < 3; ++i)
      if (fabs(v[i][src]) > fabs(v[big][src])) big = i;
    double sign = v[big][src] < 0.0 ? -1.0 : 1.0;
    w[k] = d[k];
    for (int i = 0; i < 3; ++i) u[i][k] = sign * v[i][src];
  }
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) v[i][j] = u[i][j];
}

__device__ void store_eigen(double a[3][3], float* values, float* vectors, long long m) {
  double w[3], v[3][3];
  jacobi3(a, w, v);
  for (int i = 0; i < 3; ++i) values[m * 3 + i] = (float)w[i];
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) vectors[m * 9 + i * 3 + j] = (float)v[i][j];
}

__global__ void symmetric_eigen3(const float* __restrict__ matrices, float* __restrict__ values,
                                 float* __restrict__ vectors, int count) {
  FA_GRID_STRIDE(m, count) {
    double a[3][3];
    // Symmetrise: only (A + A^T) / 2 is meaningful for a symmetric solver.
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j)
        a[i][j] = 0.5 * ((double)matrices[m * 9 + i * 3 + j] + (double)matrices[m * 9 + j * 3 + i]);
    store_eigen(a, values, vectors, m);
  }
}

// One thread per crystal: about 15 atoms each, so a serial loop is cheap.
__global__ void pca_frames(const float* __restrict__ pos, const int* __restrict__ offsets,
                           float* __restrict__ centres, float* __restrict__ covariance,
                           float* __restrict__ values, float* __restrict__ vectors, int n) {
  FA_GRID_STRIDE(c, n) {
    int begin = offsets[c], end = offsets[c + 1];
    double t[3] = {0.0, 0.0, 0.0};
    for (int r = begin; r < end; ++r)
      for (int k = 0; k < 3; ++k) t[k] += pos[(long long)r * 3 + k];
    int len = end - begin;
    for (int k = 0; k < 3; ++k) t[k] = len > 0 ? t[k] / len : 0.0;
    double a[3][3] = {{0, 0, 0}, {0, 0, 0}, {0, 0, 0}};
    for (int r = begin; r < end; ++r) {
      double d[3];
      for (int k = 0; k < 3; ++k) d[k] = pos[(long long)r * 3 + k] - t[k];
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) a[i][j] += d[i] * d[j];
    }
    for (int k = 0; k < 3; ++k) centres[c * 3 + k] = (float)t[k];
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) covariance[c * 9 + i * 3 + j] = (float)a[i][j];
    store_eigen(a, values, vectors, c);
  }
}

// One block per crystal; threads over its rows. out = (v - t) U diag(signs of frame f).
__global__ void frame_apply(const float* __restrict__ v, const int* __restrict__ offsets,
                            const float* centres, const float* __restrict__ vectors,
                            const int* frame_index, float* __restrict__ out) {
  int c = blockIdx.x;
  int f = frame_index ? frame_index[c] : 0;
  float u[9];
  for (int i = 0; i < 9; ++i) u[i] = vectors[(long long)c * 9 + i];
  float sgn[3];
  for (int k = 0; k < 3; ++k) sgn[k] = (f >> k) & 1 ? -1.0f : 1.0f;
  float t[3] = {0.0f, 0.0f, 0.0f};
  if (centres)
    for (int k = 0; k < 3; ++k) t[k] = centres[(long long)c * 3 + k];
  for (int r = offsets[c] + threadIdx.x; r < offsets[c + 1]; r += blockDim.x) {
    float d0 = v[(long long)r * 3] - t[0], d1 = v[(long long)r * 3 + 1] - t[1],
          d2 = v[(long long)r * 3 + 2] - t[2];
    for (int k = 0; k < 3; ++k)
      out[(long long)r * 3 + k] = sgn[k] * (d0 * u[k] + d1 * u[3 + k] + d2 * u[6 + k]);
  }
}

}  // namespace

FA_API int fa_symmetric_eigen3_f32(const float* matrices, float* values, float* vectors,
                                   int count, cudaStream_t stream) {
  if (count <= 0) return 0;
  symmetric_eigen3<<<(count + 127) / 128, 128, 0, stream>>>(matrices, values, vectors, count);
  return fa::launched();
}

FA_API int fa_pca_frames_f32(const float* positions, const int* offsets, float* centres,
                             float* covariance, float* values, float* vectors, int n_crystals,
                             cudaStream_t stream) {
  if (n_crystals <= 0) return 0;
  pca_frames<<<(n_crystals + 127) / 128, 128, 0, stream>>>(positions, offsets, centres, covariance,
                                                           values, vectors, n_crystals);
  return fa::launched();
}

FA_API int fa_frame_apply_f32(const float* v, const int* offsets, const float* centres,
                              const float* vectors, const int* frame_index, float* out,
                              int n_crystals, cudaStream_t stream) {
  if (n_crystals <= 0) return 0;
  frame_apply<<<n_crystals, 32, 0, stream>>>(v, offsets, centres, vectors, frame_index, out);
  return fa::launched();
}
