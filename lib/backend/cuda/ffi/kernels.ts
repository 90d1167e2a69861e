/**
 * Typed symbol table for `libfacgcnn_kernels.so`, the CUDA helper built from `native/`.
 *
 * Mirrors `native/include/facgcnn_kernels.h` one to one (tests/cuda/symbols.test.ts checks
 * names, parameter counts and types against the header and the built library). C `int` is
 * `"i32"`, `float` `"f32"`, `long long` `"i64"` (a bigint), every pointer and `cudaStream_t` is
 * `"pointer"`. Launchers return a `cudaError_t` (0 = success).
 * @module
 */

import { fn } from "../../ffi.ts";

/** `enum fa_unary_op` codes, keyed by the backend's `UnaryOp` names. */
export const FaUnaryOp = {
  sigmoid: 0,
  softplus: 1,
  exp: 2,
  log: 3,
  neg: 4,
  square: 5,
  sqrt: 6,
  abs: 7,
} as const;

/** `enum fa_binary_op` codes, keyed by the backend's `BinaryOp` names. */
export const FaBinaryOp = { add: 0, sub: 1, mul: 2, div: 3 } as const;

/** `enum fa_broadcast` codes, keyed by the backend's `Broadcast` names. */
export const FaBroadcast = { none: 0, row: 1, col: 2, scalar: 3 } as const;

/** The helper's exported functions. */
export const KERNEL_SYMBOLS = {
  // (src, index, out, n_index, cols, stream)
  fa_gather_rows_f32: fn("pppiip"),
  // (src, index, out, n_index, cols, stream)
  fa_scatter_add_rows_atomic_f32: fn("pppiip"),
  // (src, perm, dst_offsets, out, n_dst, cols, stream)
  fa_scatter_add_rows_csr_f32: fn("ppppiip"),
  // (src, offsets, out, n_segments, cols, mean, stream)
  fa_segment_reduce_f32: fn("pppiiip"),
  // (g, offsets, out, n_segments, cols, mean, stream)
  fa_segment_expand_f32: fn("pppiiip"),
  // (op, x, out, n, stream)
  fa_unary_f32: fn("ippip"),
  // (op, x, y, dy, dx, n, stream)
  fa_unary_backward_f32: fn("ippppip"),
  // (op, a, b, out, rows, cols, broadcast, stream)
  fa_binary_f32: fn("ipppiiip"),
  // (alpha, x, beta, y, n, stream)
  fa_axpby_f32: fn("fpfpip"),
  // (x, out, alpha, beta, n, stream)
  fa_affine_f32: fn("ppffip"),
  // (dst, value, n, stream)
  fa_fill_f32: fn("pfip"),
  // (dst, value, n, stream)
  fa_fill_i32: fn("piip"),
  // (src, src_ld, src_col, dst, dst_ld, dst_col, rows, cols, accumulate, stream)
  fa_copy_cols_f32: fn("piipiiiiip"),
  // (rows, cols)
  fa_column_reduce_workspace_floats: fn("ii", "i64"),
  // (n)
  fa_sum_all_workspace_floats: fn("i", "i64"),
  // (x, out, rows, cols, workspace, stream)
  fa_sum_rows_f32: fn("ppiipp"),
  // (x, out, n, workspace, stream)
  fa_sum_all_f32: fn("ppipp"),
  // (z, out, rows, cols, stream)
  fa_gate_f32: fn("ppiip"),
  // (z, dout, dz, rows, cols, stream)
  fa_gate_backward_f32: fn("pppiip"),
  // (x, mean, variance, rows, cols, workspace, stream)
  fa_column_moments_f32: fn("pppiipp"),
  // (x, mean, variance, gamma, beta, out, rows, cols, eps, stream)
  fa_batchnorm_forward_f32: fn("ppppppiifp"),
  // (x, dy, mean, variance, gamma, dx, dgamma, dbeta, rows, cols, eps, batch_statistics, workspace, stream)
  fa_batchnorm_backward_f32: fn("ppppppppiifipp"),
  // (y, z, v, g, n, lr, beta1, beta2, bias_correction2, eps, weight_decay, ckp1, stream)
  fa_schedule_free_adamw_f32: fn("ppppifffffffp"),
  // (p, m, v, g, n, lr, beta1, beta2, eps, weight_decay, bias_correction1, bias_correction2, stream)
  fa_adamw_f32: fn("ppppifffffffp"),
  // (p, buf, g, n, lr, momentum, weight_decay, first_step, stream)
  fa_sgd_f32: fn("pppifffip"),
  // (d, out, n, n_centres, ld, start, step, sigma, stream)
  fa_gaussian_expand_f32: fn("ppiiifffp"),
  // (matrices, values, vectors, count, stream)
  fa_symmetric_eigen3_f32: fn("pppip"),
  // (positions, offsets, centres, covariance, values, vectors, n_crystals, stream)
  fa_pca_frames_f32: fn("ppppppip"),
  // (v, offsets, centres, vectors, frame_index, out, n_crystals, stream)
  fa_frame_apply_f32: fn("ppppppip"),
  // (positions, atom_ranges, lattices, patterns, kind, gap_tolerance, scale, node, copies,
  //  n_crystals, centred, atom_matrices, edge_matrices, degenerate, stream)
  fa_crystal_frames_f64: fn("ppppiddiiippppp"),
} as const satisfies Deno.ForeignLibraryInterface;

/** The bound helper functions. */
export type Kernels = Deno.DynamicLibrary<typeof KERNEL_SYMBOLS>["symbols"];
