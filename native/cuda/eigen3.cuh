// The 3x3 symmetric eigensolver shared by eigen.cu (device) and the host check in
// tests/cuda/eigen_host.test.ts (compiled for the host by nvcc, compared with lib/frames/eigen3.ts).
#pragma once
#include <cfloat>
#include <cmath>

// Cyclic Jacobi on a symmetric 3x3 `a` (destroyed) in double, step for step the host solver
// lib/frames/eigen3.ts (same scaling, rotation form, stopping rule, sorting network, signs) so
// both backends return the same basis even for nearly repeated eigenvalues.
// Output: w ascending; v columns the unit eigenvectors, each column's largest-|.| entry (first on
// ties) positive. A zero matrix gives w = 0, v = I; a non-finite one NaN everywhere.
constexpr int kJacobiMaxSweeps = 32;

__host__ __device__ inline void jacobi3(double a[3][3], double w[3], double v[3][3]) {
  double scale = 0.0;
  bool finite = true;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      if (!(fabs(a[i][j]) <= DBL_MAX)) finite = false;  // NaN or inf
      scale = fmax(scale, fabs(a[i][j]));
    }
  if (!finite || scale == 0.0) {
    double fill = finite ? 0.0 : NAN;
    for (int i = 0; i < 3; ++i) {
      w[i] = fill;
      for (int j = 0; j < 3; ++j) v[i][j] = finite ? (i == j ? 1.0 : 0.0) : NAN;
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

