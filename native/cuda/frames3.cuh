// Frames of one crystal for FACGCNN (frame averaging, Puny et al. ICLR 2022; PCA frames as in
// FAENet, Duval et al. ICML 2023), shared by the device kernel in eigen.cu and the host check in
// tests/cuda/frames_host.cpp. Every step follows lib/frames (pca.ts, lattice.ts, select.ts,
// scale.ts) operation for operation in double, so with FMA contraction off (eigen.cu is compiled
// with -fmad=false, the host build with -ffp-contract=off) the device returns the host's bits:
// the same basis even for tied eigenvalues (cubic cells), where any other rounding may pick
// another one.
#pragma once
#include <cfloat>
#include <cmath>
#include "eigen3.cuh"

// Base kinds, as lib/frames/select.ts's FrameKind.
constexpr int kFramePca = 0, kFrameLattice = 1, kFrameHybrid = 2;
// lib/frames/lattice.ts: SINGULAR_CELL_TOLERANCE and the Newton iteration cap.
constexpr double kSingularCell = 1e-12;
constexpr int kPolarMaxIterations = 100;

// Cofactor matrix of a row-major 3x3 into cof (A^{-T} = cof / det); returns det A.
__host__ __device__ inline double cofactors3(const double m[9], double cof[9]) {
  cof[0] = m[4] * m[8] - m[5] * m[7];
  cof[1] = m[5] * m[6] - m[3] * m[8];
  cof[2] = m[3] * m[7] - m[4] * m[6];
  cof[3] = m[2] * m[7] - m[1] * m[8];
  cof[4] = m[0] * m[8] - m[2] * m[6];
  cof[5] = m[1] * m[6] - m[0] * m[7];
  cof[6] = m[1] * m[5] - m[2] * m[4];
  cof[7] = m[2] * m[3] - m[0] * m[5];
  cof[8] = m[0] * m[4] - m[1] * m[3];
  return m[0] * cof[0] + m[1] * cof[1] + m[2] * cof[2];
}

// Lattice frame U = Q^T, Q the orthogonal polar factor of the cell L (rows a, b, c), by Newton's
// iteration with Higham's scaling from Q0 = L / |L|_F (lib/frames/lattice.ts). Returns 1 for a
// singular or non-finite cell (U = I then).
__host__ __device__ inline int lattice_frame3(const double* lattice, double u[9]) {
  double q[9], cof[9];
  double norm2 = 0.0;
  for (int i = 0; i < 9; ++i) norm2 += lattice[i] * lattice[i];
  double norm = sqrt(norm2);
  for (int i = 0; i < 9; ++i) q[i] = lattice[i] / norm;
  bool ok = fabs(norm) <= DBL_MAX && norm > 0.0 && fabs(cofactors3(q, cof)) > kSingularCell;
  if (!ok) {
    for (int i = 0; i < 9; ++i) u[i] = i % 4 == 0 ? 1.0 : 0.0;
    return 1;
  }
  for (int it = 0; it < kPolarMaxIterations; ++it) {
    double det = cofactors3(q, cof);
    double qn = 0.0, cn = 0.0;
    for (int i = 0; i < 9; ++i) qn += q[i] * q[i], cn += cof[i] * cof[i];
    double gamma = sqrt(sqrt(cn) / fabs(det) / sqrt(qn));
    double delta = 0.0;
    for (int i = 0; i < 9; ++i) {
      double next = 0.5 * (gamma * q[i] + cof[i] / (det * gamma));
      delta += (next - q[i]) * (next - q[i]);
      q[i] = next;
    }
    if (delta <= 1e-18) break;
  }
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) u[3 * i + j] = q[3 * j + i];
  return 0;
}

// Everything one crystal's frames need, one struct so the kernel and the host harness share it.
struct FrameJob {
  const double* positions;  // [N, 3] Cartesian (Angstrom), absolute atom rows
  const int* atom_ranges;   // [C + 1]
  const double* lattices;   // [C, 9] rows a, b, c; NULL for kind pca
  const int* patterns;      // [k, C] sign pattern per copy and crystal (copy-major)
  int kind;                 // kFramePca / kFrameLattice / kFrameHybrid
  double gap_tolerance;     // relative eigengap below which PCA counts as degenerate
  double scale;             // coordinate unit (Angstrom), or <= 0: per-crystal RMS radius
  int node;                 // 1: atoms get frame coordinates; 0: their matrices are zero
  int copies;               // k
  int crystals;             // C
  float* centred;           // [N, 3] out: positions minus the crystal's centre
  float* atom_matrices;     // [k, C, 9] out: U diag(s) / scale (0 without node inputs)
  float* edge_matrices;     // [k, C, 9] out: U diag(s) / scale (U diag(s) when scale is 1)
};

// Crystal c of `job`: centre, PCA (and the lattice base for lattice/hybrid), the folded per-copy
// matrices and the centred positions. Returns 1 when the chosen base is ill-defined (the
// degenerate count of lib/frames/select.ts computeFrames), else 0.
__host__ __device__ inline int crystal_frames(const FrameJob& job, int c) {
  const double* x = job.positions;
  int lo = job.atom_ranges[c], hi = job.atom_ranges[c + 1];
  double t[3] = {0.0, 0.0, 0.0};
  double a[3][3] = {{0, 0, 0}, {0, 0, 0}, {0, 0, 0}};
  if (hi > lo) {
    // Two passes (mean, then centred sums), multiplying by 1/n, as pca.ts does.
    double tx = 0.0, ty = 0.0, tz = 0.0;
    for (int i = lo; i < hi; ++i) {
      tx += x[3LL * i];
      ty += x[3LL * i + 1];
      tz += x[3LL * i + 2];
    }
    double inv = 1.0 / (hi - lo);
    tx *= inv, ty *= inv, tz *= inv;
    double xx = 0, xy = 0, xz = 0, yy = 0, yz = 0, zz = 0;
    for (int i = lo; i < hi; ++i) {
      double dx = x[3LL * i] - tx, dy = x[3LL * i + 1] - ty, dz = x[3LL * i + 2] - tz;
      xx += dx * dx, xy += dx * dy, xz += dx * dz;
      yy += dy * dy, yz += dy * dz, zz += dz * dz;
    }
    t[0] = tx, t[1] = ty, t[2] = tz;
    a[0][0] = xx, a[0][1] = xy, a[0][2] = xz;
    a[1][0] = xy, a[1][1] = yy, a[1][2] = yz;
    a[2][0] = xz, a[2][1] = yz, a[2][2] = zz;
  }
  double w[3], v[3][3];
  jacobi3(a, w, v);
  // Relative eigengap min(l2 - l1, l3 - l2) / l3 (0 when l3 <= 0), as pca.ts relativeEigengap.
  double gap = 0.0;
  if (w[2] > 0.0) gap = fmax(0.0, fmin(w[1] - w[0], w[2] - w[1])) / w[2];
  int pca_degenerate = gap < job.gap_tolerance ? 1 : 0;
  double base[9];
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) base[3 * i + j] = v[i][j];
  int degenerate = pca_degenerate;
  if (job.kind != kFramePca) {
    double lat[9];
    int singular = lattice_frame3(job.lattices + 9LL * c, lat);
    // lattice: always the cell's base; hybrid: the cell's base where PCA is degenerate, unless
    // the cell is singular too (then PCA stays, flagged).
    bool use_lattice = job.kind == kFrameLattice || (pca_degenerate && !singular);
    if (use_lattice)
      for (int i = 0; i < 9; ++i) base[i] = lat[i];
    degenerate = job.kind == kFrameLattice ? singular : (pca_degenerate && singular ? 1 : 0);
  }
  // Coordinate unit (scale.ts coordinateScales): fixed, or the RMS distance from the centre.
  double unit = job.scale;
  if (!(unit > 0.0)) {
    double s = 0.0;
    for (int i = lo; i < hi; ++i)
      for (int k = 0; k < 3; ++k) {
        double d = x[3LL * i + k] - t[k];
        s += d * d;
      }
    double r = sqrt(s / (hi - lo > 1 ? hi - lo : 1));
    unit = r > 1e-6 ? r : 1.0;
  }
  double node = job.node ? 1.0 / unit : 0.0, edge = unit != 1.0 ? 1.0 / unit : 1.0;
  for (int f = 0; f < job.copies; ++f) {
    int p = job.patterns[(long long)f * job.crystals + c];
    long long o = 9LL * ((long long)f * job.crystals + c);
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) {
        double m = ((p >> j) & 1 ? -1.0 : 1.0) * base[3 * i + j];
        job.atom_matrices[o + 3 * i + j] = (float)(m * node);
        job.edge_matrices[o + 3 * i + j] = (float)(m * edge);
      }
  }
  for (int i = lo; i < hi; ++i)
    for (int k = 0; k < 3; ++k) job.centred[3LL * i + k] = (float)(x[3LL * i + k] - t[k]);
  return degenerate;
}
