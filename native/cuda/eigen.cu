// Batched 3x3 symmetric eigensolver (cyclic Jacobi) and PCA frames for FACGCNN.
#include "common.cuh"
#include "eigen3.cuh"
#include "frames3.cuh"

namespace {

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

// One thread per crystal (about 15 atoms each): centre, covariance, eigensolve, base selection,
// the k folded frame matrices and the centred positions (frames3.cuh); the degenerate crystals
// are summed into one device counter (read back at epoch end, not per step).
__global__ void crystal_frames_kernel(FrameJob job, int* __restrict__ degenerate) {
  int count = 0;
  FA_GRID_STRIDE(c, job.crystals) count += crystal_frames(job, (int)c);
  if (count && degenerate) atomicAdd(degenerate, count);
}

}  // namespace

FA_API int fa_crystal_frames_f64(const double* positions, const int* atom_ranges,
                                 const double* lattices, const int* patterns, int kind,
                                 double gap_tolerance, double scale, int node, int copies,
                                 int n_crystals, float* centred, float* atom_matrices,
                                 float* edge_matrices, int* degenerate, cudaStream_t stream) {
  if (n_crystals <= 0) return 0;
  FrameJob job{positions, atom_ranges, lattices, patterns, kind, gap_tolerance, scale, node,
               copies, n_crystals, centred, atom_matrices, edge_matrices};
  crystal_frames_kernel<<<(n_crystals + 127) / 128, 128, 0, stream>>>(job, degenerate);
  return fa::launched();
}

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
