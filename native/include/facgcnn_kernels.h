/*
 * facgcnn_kernels.h: the C ABI of libfacgcnn_kernels.so, the CUDA helper of the FACGCNN toolkit.
 *
 * Plain C types only (pointers, int, float, long long) so Deno.dlopen can bind every function
 * (lib/backend/cuda/ffi/kernels.ts mirrors this file; a test checks they agree).
 *
 * Conventions
 * - Row-major matrices, float32 values, int32 indices; `cols` is the row length.
 * - Every launcher enqueues on `stream` and returns a cudaError_t code (0 = success) taken
 *   from cudaGetLastError() after its launches. Zero-sized work launches nothing and returns 0.
 * - Reductions are deterministic: fixed chunking, no atomics (except the explicitly atomic
 *   scatter). They take a caller-owned float `workspace` sized by the *_workspace_floats query.
 */
#ifndef FACGCNN_KERNELS_H
#define FACGCNN_KERNELS_H

#include <cuda_runtime.h>

#ifdef __cplusplus
#define FA_EXTERN extern "C"
#else
#define FA_EXTERN
#endif
#define FA_API FA_EXTERN __attribute__((visibility("default")))

/* Op codes, shared with lib/backend/cuda/ffi/kernels.ts. */
enum fa_unary_op {
  FA_SIGMOID = 0, FA_SOFTPLUS = 1, FA_EXP = 2, FA_LOG = 3,
  FA_NEG = 4, FA_SQUARE = 5, FA_SQRT = 6, FA_ABS = 7
};
enum fa_binary_op { FA_ADD = 0, FA_SUB = 1, FA_MUL = 2, FA_DIV = 3 };
/* Shape of the right operand of a binary op relative to the left [rows, cols]. */
enum fa_broadcast { FA_BCAST_NONE = 0, FA_BCAST_ROW = 1, FA_BCAST_COL = 2, FA_BCAST_SCALAR = 3 };

/* ---- gather / scatter (gather_scatter.cu) ----------------------------------------------- */
/* out[i, :] = src[index[i], :] for i < n_index. */
FA_API int fa_gather_rows_f32(const float* src, const int* index, float* out, int n_index,
                              int cols, cudaStream_t stream);
/* out[index[i], :] += src[i, :] with atomicAdd (fast, order of additions not fixed). */
FA_API int fa_scatter_add_rows_atomic_f32(const float* src, const int* index, float* out,
                                          int n_index, int cols, cudaStream_t stream);
/*
 * Deterministic scatter-add: out[d, :] += sum over p in [dst_offsets[d], dst_offsets[d+1]) of
 * src[perm[p], :], summed in p order. The CSR is built once per batch on the host from the
 * scatter index (lib/backend/cuda/scatter_csr.ts): perm = source rows stably sorted by their
 * destination (rows grouped by destination), dst_offsets = exclusive prefix sum of the
 * destination counts (n_dst + 1 entries).
 */
FA_API int fa_scatter_add_rows_csr_f32(const float* src, const int* perm, const int* dst_offsets,
                                       float* out, int n_dst, int cols, cudaStream_t stream);

/* ---- segments (segment.cu) ------------------------------------------------------------ */
/* out[s, :] = sum (or mean when mean != 0; empty segment -> 0) of src rows [offsets[s], offsets[s+1]). */
FA_API int fa_segment_reduce_f32(const float* src, const int* offsets, float* out,
                                 int n_segments, int cols, int mean, cudaStream_t stream);
/* Adjoint of fa_segment_reduce_f32: out[r, :] = g[s, :] (/ segment length when mean). */
FA_API int fa_segment_expand_f32(const float* g, const int* offsets, float* out, int n_segments,
                                 int cols, int mean, cudaStream_t stream);

/* ---- element-wise (elementwise.cu) ---------------------------------------------------- */
/* out = f(x); softplus follows PyTorch (x > 20 -> x, else log1p(exp(x))). */
FA_API int fa_unary_f32(int op, const float* x, float* out, int n, cudaStream_t stream);
/* dx = dy * f'(x), using y = f(x) where cheaper (sigmoid, exp, sqrt). */
FA_API int fa_unary_backward_f32(int op, const float* x, const float* y, const float* dy,
                                 float* dx, int n, cudaStream_t stream);
/* out = a (op) b, a is [rows, cols], b broadcast as `broadcast` (enum fa_broadcast) says. */
FA_API int fa_binary_f32(int op, const float* a, const float* b, float* out, int rows, int cols,
                         int broadcast, cudaStream_t stream);
/* y = alpha * x + beta * y. */
FA_API int fa_axpby_f32(float alpha, const float* x, float beta, float* y, int n,
                        cudaStream_t stream);
/* out = alpha * x + beta. */
FA_API int fa_affine_f32(const float* x, float* out, float alpha, float beta, int n,
                         cudaStream_t stream);
/* dst[i] = value. */
FA_API int fa_fill_f32(float* dst, float value, int n, cudaStream_t stream);
/* dst[i] = value (int32 storage). */
FA_API int fa_fill_i32(int* dst, int value, int n, cudaStream_t stream);
/* dst[r, dst_col + j] (+)= src[r, src_col + j] for r < rows, j < cols; row strides src_ld, dst_ld. */
FA_API int fa_copy_cols_f32(const float* src, int src_ld, int src_col, float* dst, int dst_ld,
                            int dst_col, int rows, int cols, int accumulate, cudaStream_t stream);

/* ---- reductions (reduce.cu) ----------------------------------------------------------- */
/* Floats of workspace that the column reductions (sum_rows, moments, batchnorm) need. */
FA_API long long fa_column_reduce_workspace_floats(int rows, int cols);
/* Floats of workspace that fa_sum_all_f32 needs. */
FA_API long long fa_sum_all_workspace_floats(int n);
/* out[j] = sum_r x[r, j]. */
FA_API int fa_sum_rows_f32(const float* x, float* out, int rows, int cols, float* workspace,
                           cudaStream_t stream);
/* out[0] = sum of x[0..n). */
FA_API int fa_sum_all_f32(const float* x, float* out, int n, float* workspace,
                          cudaStream_t stream);

/* ---- fused CGCNN gate (gate.cu) ------------------------------------------------------- */
/* z = [f | c] is [rows, 2 cols]: out[r, j] = sigmoid(z[r, j]) * softplus(z[r, cols + j]) ([rows, cols]). */
FA_API int fa_gate_f32(const float* z, float* out, int rows, int cols, cudaStream_t stream);
/* dz = [df | dc] ([rows, 2 cols], overwritten): df = dout softplus(c) s (1 - s), dc = dout s softplus'(c), s = sigmoid(f). */
FA_API int fa_gate_backward_f32(const float* z, const float* dout, float* dz, int rows, int cols,
                                cudaStream_t stream);

/* ---- BatchNorm (batchnorm.cu) --------------------------------------------------------- */
/* mean[j] and biased variance[j] of the columns of x [rows, cols] (two passes). */
FA_API int fa_column_moments_f32(const float* x, float* mean, float* variance, int rows, int cols,
                                 float* workspace, cudaStream_t stream);
/* out = (x - mean) / sqrt(variance + eps) * gamma + beta, per column. */
FA_API int fa_batchnorm_forward_f32(const float* x, const float* mean, const float* variance,
                                    const float* gamma, const float* beta, float* out, int rows,
                                    int cols, float eps, cudaStream_t stream);
/*
 * Backward of fa_batchnorm_forward_f32 (writes dx, dgamma, dbeta). With r = 1/sqrt(var + eps),
 * S1 = sum dy, S2 = sum dy (x - mean) per column: dbeta = S1, dgamma = S2 r, and
 * dx = gamma r (dy - S1/N - (x - mean) r^2 S2/N) with batch statistics, dx = gamma r dy without.
 */
FA_API int fa_batchnorm_backward_f32(const float* x, const float* dy, const float* mean,
                                     const float* variance, const float* gamma, float* dx,
                                     float* dgamma, float* dbeta, int rows, int cols, float eps,
                                     int batch_statistics, float* workspace, cudaStream_t stream);

/* ---- optimizers (optim.cu); scalars as computed on the host (backend.ts) ------------------ */
/* Schedule-Free AdamW (Defazio et al. 2024), y in place, z and v state. */
FA_API int fa_schedule_free_adamw_f32(float* y, float* z, float* v, const float* g, int n,
                                      float lr, float beta1, float beta2, float bias_correction2,
                                      float eps, float weight_decay, float ckp1,
                                      cudaStream_t stream);
/* PyTorch AdamW (decoupled weight decay), p in place, m and v moments. */
FA_API int fa_adamw_f32(float* p, float* m, float* v, const float* g, int n, float lr,
                        float beta1, float beta2, float eps, float weight_decay,
                        float bias_correction1, float bias_correction2, cudaStream_t stream);
/* PyTorch SGD with momentum (dampening 0, no Nesterov) and coupled weight decay. */
FA_API int fa_sgd_f32(float* p, float* buf, const float* g, int n, float lr, float momentum,
                      float weight_decay, int first_step, cudaStream_t stream);

/* ---- featurisation (gaussian.cu) ------------------------------------------------------- */
/*
 * out[i * ld + k] = exp(-(d[i] - (start + k step))^2 / sigma^2), k < n_centres <= ld (CGCNN: 41,
 * 0, 0.2, 0.2); ld > n_centres leaves the other columns of a row (frame vectors) untouched.
 */
FA_API int fa_gaussian_expand_f32(const float* d, float* out, int n, int n_centres, int ld,
                                  float start, float step, float sigma, cudaStream_t stream);

/* ---- frames (eigen.cu) ----------------------------------------------------------------- */
/*
 * Batched symmetric 3x3 eigensolve (cyclic Jacobi in double, one thread per matrix).
 * matrices: 9 floats each (row-major); values: 3 ascending; vectors: 9 row-major, column k the
 * unit eigenvector of value k, signed so that its largest-magnitude entry (first one on ties)
 * is positive.
 */
FA_API int fa_symmetric_eigen3_f32(const float* matrices, float* values, float* vectors,
                                   int count, cudaStream_t stream);
/*
 * PCA frames per crystal: centres[c] = mean of positions [offsets[c], offsets[c+1]) ([n, 3]);
 * covariance[c] = sum (x - t)(x - t)^T (9 floats, not divided by n); then the eigensolve above.
 * The 8 sign frames U diag(s) are applied at use time by fa_frame_apply_f32.
 */
FA_API int fa_pca_frames_f32(const float* positions, const int* offsets, float* centres,
                             float* covariance, float* values, float* vectors, int n_crystals,
                             cudaStream_t stream);
/*
 * out[r] = (v[r] - centre[c]) U_c S_f for rows r of segment c ([n, 3] rows, CSR `offsets`).
 * centres may be NULL (relative vectors: nothing subtracted). frame_index[c] in 0..7 picks the
 * sign frame S_f = diag(s0, s1, s2) with s_k = -1 when bit k of f is set; frame_index may be
 * NULL (frame 0, all signs +).
 */
FA_API int fa_frame_apply_f32(const float* v, const int* offsets, const float* centres,
                              const float* vectors, const int* frame_index, float* out,
                              int n_crystals, cudaStream_t stream);
/*
 * Frames of each crystal on the device (native/cuda/frames3.cuh, the arithmetic of lib/frames):
 * centre and covariance of positions [atom_ranges[c], atom_ranges[c+1]) (double, [N, 3]), the
 * eigensolve above, the base of `kind` (0 PCA, 1 lattice polar factor, 2 hybrid: the lattice where
 * the relative eigengap is below gap_tolerance; lattices [n, 9] double, NULL for PCA), then per
 * copy f the row-major U diag(s of patterns[f*n + c]) divided by the coordinate unit (scale, or
 * the RMS radius when scale <= 0) into atom_matrices (zero when node is 0) and edge_matrices
 * ([copies, n, 9]), and centred[r] = positions[r] - centre (float). degenerate[0] (may be NULL)
 * gets the number of crystals whose base is ill-defined added.
 */
FA_API int fa_crystal_frames_f64(const double* positions, const int* atom_ranges,
                                 const double* lattices, const int* patterns, int kind,
                                 double gap_tolerance, double scale, int node, int copies,
                                 int n_crystals, float* centred, float* atom_matrices,
                                 float* edge_matrices, int* degenerate, cudaStream_t stream);

#endif /* FACGCNN_KERNELS_H */
