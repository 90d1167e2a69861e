/*
 * CPU kernels for the hot element-wise, batch-norm and graph ops of a CGCNN step.
 *
 * Built by native/build_cpu.sh with -O3; expf/log1pf are vectorised through glibc's libmvec
 * (see the declarations below), and OpenMP over independent rows/columns (fixed static partition, so the
 * results are deterministic for a thread count). Every function mirrors a TypeScript kernel
 * in lib/backend/cpu/ and is tested against it. Statistics accumulate in double.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <omp.h>
#include <stdlib.h>

#define API __attribute__((visibility("default")))

/*
 * Vector variants from glibc's libmvec (≤ 4 ulp, correct for every input including ±inf and
 * NaN). glibc's <math.h> announces them only under -ffast-math, which would also let the
 * compiler replace divisions by approximate reciprocals and assume no NaN: so declare them
 * here and keep IEEE semantics everywhere else.
 */
#if defined(__x86_64__) && defined(__GLIBC__)
float expf(float) __attribute__((__simd__("notinbranch")));
float log1pf(float) __attribute__((__simd__("notinbranch")));
#endif
#define SOFTPLUS_THRESHOLD 20.0f

/* Branch-free forms (both sides computed, then selected) so the loops vectorise. */
static inline float sigmoidf(float x) {
  float e = expf(-fabsf(x)), inv = 1.0f / (1.0f + e);
  return x >= 0.0f ? inv : e * inv;
}
static inline float softplusf(float x) {
  float sp = (x > 0.0f ? x : 0.0f) + log1pf(expf(-fabsf(x)));
  return x > SOFTPLUS_THRESHOLD ? x : sp;
}

/* out[r, j] = sigmoid(z[r, j]) * softplus(z[r, cols + j]) */
API void fc_gate(const float *z, float *out, int rows, int cols) {
#pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; r++) {
    const float *f = z + (int64_t)2 * r * cols, *c = f + cols;
    float *o = out + (int64_t)r * cols;
#pragma omp simd
    for (int j = 0; j < cols; j++) o[j] = sigmoidf(f[j]) * softplusf(c[j]);
  }
}

API void fc_gate_backward(const float *z, const float *dout, float *dz, int rows, int cols) {
#pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; r++) {
    const float *f = z + (int64_t)2 * r * cols, *c = f + cols;
    const float *g = dout + (int64_t)r * cols;
    float *df = dz + (int64_t)2 * r * cols, *dc = df + cols;
#pragma omp simd
    for (int j = 0; j < cols; j++) {
      /* σ(f) and σ'(f) = e/(1+e)² from e = exp(−|f|): no cancellation in 1 − σ for large |f|. */
      float ef = expf(-fabsf(f[j])), inv = 1.0f / (1.0f + ef);
      float s = f[j] >= 0.0f ? inv : ef * inv;
      float ds = ef * inv * inv;
      float e = expf(-fabsf(c[j])), ic = 1.0f / (1.0f + e);
      float sc = c[j] >= 0.0f ? ic : e * ic;
      float spv = (c[j] > 0.0f ? c[j] : 0.0f) + log1pf(e);
      float sp = c[j] > SOFTPLUS_THRESHOLD ? c[j] : spv;
      df[j] = g[j] * ds * sp;
      dc[j] = g[j] * s * (c[j] > SOFTPLUS_THRESHOLD ? 1.0f : sc);
    }
  }
}

/* op: 0 sigmoid, 1 softplus */
API void fc_unary(int op, const float *x, float *out, int n) {
  if (op == 0) {
#pragma omp parallel for simd schedule(static)
    for (int i = 0; i < n; i++) out[i] = sigmoidf(x[i]);
  } else {
#pragma omp parallel for simd schedule(static)
    for (int i = 0; i < n; i++) out[i] = softplusf(x[i]);
  }
}

/* dx = dy * f'(x); sigmoid uses the saved output y. */
API void fc_unary_backward(int op, const float *x, const float *y, const float *dy, float *dx, int n) {
  if (op == 0) {
#pragma omp parallel for simd schedule(static)
    for (int i = 0; i < n; i++) dx[i] = dy[i] * y[i] * (1.0f - y[i]);
  } else {
#pragma omp parallel for simd schedule(static)
    for (int i = 0; i < n; i++) dx[i] = dy[i] * (x[i] > SOFTPLUS_THRESHOLD ? 1.0f : sigmoidf(x[i]));
  }
}

/* op: 0 add, 1 sub, 2 mul, 3 div; bc: 0 none, 1 row, 2 col, 3 scalar */
static inline float apply(int op, float a, float b) {
  return op == 0 ? a + b : op == 1 ? a - b : op == 2 ? a * b : a / b;
}
API void fc_binary(int op, int bc, const float *a, const float *b, float *out, int rows, int cols) {
#pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; r++) {
    const float *ar = a + (int64_t)r * cols;
    float *o = out + (int64_t)r * cols;
    if (bc == 0) {
      const float *br = b + (int64_t)r * cols;
#pragma omp simd
      for (int j = 0; j < cols; j++) o[j] = apply(op, ar[j], br[j]);
    } else if (bc == 1) {
#pragma omp simd
      for (int j = 0; j < cols; j++) o[j] = apply(op, ar[j], b[j]);
    } else {
      const float s = bc == 2 ? b[r] : b[0];
#pragma omp simd
      for (int j = 0; j < cols; j++) o[j] = apply(op, ar[j], s);
    }
  }
}

/*
 * Column sums of f(row) over rows, deterministic: each thread sums a fixed contiguous block of
 * rows into its own double row (walking memory in order), then the blocks are added in thread
 * order. Used by the statistics below.
 */
#define MAX_THREADS 256
static int threads_for(int rows) {
  int t = omp_get_max_threads();
  if (t > MAX_THREADS) t = MAX_THREADS;
  if (t > rows / 64) t = rows / 64 > 0 ? rows / 64 : 1;
  return t;
}

/* Column mean and biased variance (two passes: mean, then squared deviations). */
API void fc_column_moments(const float *x, float *mean, float *var, int rows, int cols) {
  int T = threads_for(rows);
  double *part = calloc((size_t)T * cols, sizeof(double));
  double *m = calloc(cols, sizeof(double));
#pragma omp parallel num_threads(T)
  {
    int t = omp_get_thread_num();
    int r0 = (int)((int64_t)rows * t / T), r1 = (int)((int64_t)rows * (t + 1) / T);
    double *p = part + (size_t)t * cols;
    for (int r = r0; r < r1; r++) {
      const float *xr = x + (int64_t)r * cols;
      for (int j = 0; j < cols; j++) p[j] += xr[j];
    }
#pragma omp barrier
#pragma omp single
    {
      for (int j = 0; j < cols; j++) {
        double s = 0.0;
        for (int k = 0; k < T; k++) s += part[(size_t)k * cols + j];
        m[j] = s / rows;
      }
      memset(part, 0, sizeof(double) * (size_t)T * cols);
    }
    for (int r = r0; r < r1; r++) {
      const float *xr = x + (int64_t)r * cols;
      for (int j = 0; j < cols; j++) {
        double d = xr[j] - m[j];
        p[j] += d * d;
      }
    }
  }
  for (int j = 0; j < cols; j++) {
    double q = 0.0;
    for (int k = 0; k < T; k++) q += part[(size_t)k * cols + j];
    mean[j] = (float)m[j];
    var[j] = (float)(q / rows);
  }
  free(part);
  free(m);
}

API void fc_batch_norm_forward(const float *x, const float *mean, const float *var, const float *gamma,
                               const float *beta, float *out, int rows, int cols, float eps) {
  float scale[cols], shift[cols];
  for (int j = 0; j < cols; j++) {
    double s = gamma[j] / sqrt((double)var[j] + eps);
    scale[j] = (float)s;
    shift[j] = (float)(beta[j] - mean[j] * s);
  }
#pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (int64_t)r * cols;
    float *o = out + (int64_t)r * cols;
#pragma omp simd
    for (int j = 0; j < cols; j++) o[j] = xr[j] * scale[j] + shift[j];
  }
}

API void fc_batch_norm_backward(const float *x, const float *dy, const float *mean, const float *var,
                                const float *gamma, float *dx, float *dgamma, float *dbeta, int rows,
                                int cols, float eps, int batch_stats) {
  double inv[cols], sdy[cols], sdyx[cols];
  for (int j = 0; j < cols; j++) inv[j] = 1.0 / sqrt((double)var[j] + eps);
  int T = threads_for(rows);
  double *part = calloc((size_t)2 * T * cols, sizeof(double));
#pragma omp parallel num_threads(T)
  {
    int t = omp_get_thread_num();
    int r0 = (int)((int64_t)rows * t / T), r1 = (int)((int64_t)rows * (t + 1) / T);
    double *a = part + (size_t)2 * t * cols, *b = a + cols;
    for (int r = r0; r < r1; r++) {
      const float *xr = x + (int64_t)r * cols, *g = dy + (int64_t)r * cols;
      for (int j = 0; j < cols; j++) {
        a[j] += g[j];
        b[j] += g[j] * (xr[j] - mean[j]) * inv[j];
      }
    }
  }
  for (int j = 0; j < cols; j++) {
    double a = 0.0, b = 0.0;
    for (int k = 0; k < T; k++) {
      a += part[(size_t)2 * k * cols + j];
      b += part[(size_t)2 * k * cols + cols + j];
    }
    sdy[j] = a;
    sdyx[j] = b;
    dgamma[j] = (float)b;
    dbeta[j] = (float)a;
  }
  free(part);
  float k1[cols], k2[cols], k3[cols], mu[cols], is[cols];
  for (int j = 0; j < cols; j++) {
    double c = gamma[j] * inv[j];
    mu[j] = mean[j];
    is[j] = (float)inv[j];
    if (batch_stats) {
      k1[j] = (float)c;                    /* dx = c·dy − c/N·Σdy − c/N·x̂·Σ(dy·x̂) */
      k2[j] = (float)(c * sdy[j] / rows);
      k3[j] = (float)(c * sdyx[j] / rows);
    } else {
      k1[j] = (float)c;
      k2[j] = 0.0f;
      k3[j] = 0.0f;
    }
  }
#pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (int64_t)r * cols, *g = dy + (int64_t)r * cols;
    float *d = dx + (int64_t)r * cols;
#pragma omp simd
    for (int j = 0; j < cols; j++) d[j] = k1[j] * g[j] - k2[j] - k3[j] * (xr[j] - mu[j]) * is[j];
  }
}

/* Sum (or mean) of the rows of each CSR segment (segments split across threads). */
API void fc_segment_reduce(const float *src, const int *offsets, float *out, int nseg, int cols, int mean) {
#pragma omp parallel for schedule(static)
  for (int s = 0; s < nseg; s++) {
    float *o = out + (int64_t)s * cols;
    memset(o, 0, sizeof(float) * cols);
    int r0 = offsets[s], r1 = offsets[s + 1];
    for (int r = r0; r < r1; r++) {
      const float *x = src + (int64_t)r * cols;
#pragma omp simd
      for (int j = 0; j < cols; j++) o[j] += x[j];
    }
    if (mean && r1 > r0) {
      float k = 1.0f / (float)(r1 - r0);
      for (int j = 0; j < cols; j++) o[j] *= k;
    }
  }
}

API void fc_segment_expand(const float *g, const int *offsets, float *out, int nseg, int cols, int mean) {
#pragma omp parallel for schedule(static)
  for (int s = 0; s < nseg; s++) {
    int r0 = offsets[s], r1 = offsets[s + 1];
    float k = mean && r1 > r0 ? 1.0f / (float)(r1 - r0) : 1.0f;
    const float *row = g + (int64_t)s * cols;
    for (int r = r0; r < r1; r++) {
      float *o = out + (int64_t)r * cols;
#pragma omp simd
      for (int j = 0; j < cols; j++) o[j] = row[j] * k;
    }
  }
}

API void fc_gather_rows(const float *src, const int *index, float *out, int n, int cols) {
#pragma omp parallel for schedule(static)
  for (int i = 0; i < n; i++) memcpy(out + (int64_t)i * cols, src + (int64_t)index[i] * cols, sizeof(float) * cols);
}

/* out[index[i]] += src[i]: serial, so the summation order is fixed. */
API void fc_scatter_add_rows(const float *src, const int *index, float *out, int n, int cols) {
  for (int i = 0; i < n; i++) {
    float *o = out + (int64_t)index[i] * cols;
    const float *x = src + (int64_t)i * cols;
#pragma omp simd
    for (int j = 0; j < cols; j++) o[j] += x[j];
  }
}

/*
 * Fused CGCNN edge kernels (Xie & Grossman 2018, eq. 5): the pre-activation of edge e = (i, j)
 * is z_e = W_u u_e + b + W_a v_i + W_b v_j. The caller's GEMM leaves W_u u_e in z; this pass adds
 * the bias, the centre atom's row (CSR segment i) and the neighbour's row in place, and (when
 * `moments`) accumulates BN1's column mean and biased variance of z in double, per thread, added
 * in thread order. One read and one write of z instead of five E×2A temporaries.
 */
API void fc_edge_combine(float *z, const float *bias, const float *self, const float *other,
                         const int *offsets, const int *nbr, int natoms, int cols, int moments,
                         float *mean, float *var) {
  int edges = offsets[natoms];
  int T = moments ? threads_for(edges) : omp_get_max_threads();
  if (T > MAX_THREADS) T = MAX_THREADS;
  double *part = moments ? calloc((size_t)2 * T * cols, sizeof(double)) : NULL;
#pragma omp parallel num_threads(T)
  {
    int t = omp_get_thread_num(), nt = omp_get_num_threads();
    /* Split atoms so each thread gets about the same number of edges. */
    int64_t e0 = (int64_t)edges * t / nt, e1 = (int64_t)edges * (t + 1) / nt;
    double *ps = part ? part + (size_t)2 * t * cols : NULL, *pq = ps ? ps + cols : NULL;
    for (int i = 0; i < natoms; i++) {
      int r0 = offsets[i], r1 = offsets[i + 1];
      if (r1 <= e0 || r0 >= e1) continue;
      if (r0 < e0) r0 = (int)e0;
      if (r1 > e1) r1 = (int)e1;
      const float *a = self + (int64_t)i * cols;
      for (int e = r0; e < r1; e++) {
        float *ze = z + (int64_t)e * cols;
        const float *b = other + (int64_t)nbr[e] * cols;
#pragma omp simd
        for (int j = 0; j < cols; j++) ze[j] += bias[j] + a[j] + b[j];
        if (ps) {
          for (int j = 0; j < cols; j++) {
            double v = ze[j];
            ps[j] += v;
            pq[j] += v * v;
          }
        }
      }
    }
  }
  if (moments) {
    for (int j = 0; j < cols; j++) {
      double s = 0.0, q = 0.0;
      for (int k = 0; k < T; k++) {
        s += part[(size_t)2 * k * cols + j];
        q += part[(size_t)2 * k * cols + cols + j];
      }
      double m = edges > 0 ? s / edges : 0.0;
      double v = edges > 0 ? q / edges - m * m : 0.0;
      mean[j] = (float)m;
      var[j] = (float)(v > 0.0 ? v : 0.0);
    }
    free(part);
  }
}

/* BN1's scale and shift: y = z·scale + shift, scale = γ/√(σ²+ε), shift = β − μ·scale. */
static void bn_scale_shift(const float *mean, const float *var, const float *gamma, const float *beta,
                           float eps, int n, float *scale, float *shift, float *inv) {
  for (int j = 0; j < n; j++) {
    double iv = 1.0 / sqrt((double)var[j] + eps), s = gamma[j] * iv;
    scale[j] = (float)s;
    shift[j] = (float)(beta[j] - mean[j] * s);
    inv[j] = (float)iv;
  }
}

/*
 * out[i] = Σ_{e in segment i} σ(y_f) ⊙ softplus(y_c), y = BN1(z_e) = [y_f | y_c] (`cols` = A,
 * z has 2A columns). Neither BN1's output nor the E×A messages are stored.
 */
API void fc_gate_sum(const float *z, const int *offsets, int natoms, int cols, const float *mean,
                     const float *var, const float *gamma, const float *beta, float eps, float *out) {
  int c2 = 2 * cols;
  float scale[c2], shift[c2], inv[c2];
  bn_scale_shift(mean, var, gamma, beta, eps, c2, scale, shift, inv);
#pragma omp parallel for schedule(static)
  for (int i = 0; i < natoms; i++) {
    float *o = out + (int64_t)i * cols;
    memset(o, 0, sizeof(float) * cols);
    for (int e = offsets[i]; e < offsets[i + 1]; e++) {
      const float *f = z + (int64_t)e * c2, *c = f + cols;
#pragma omp simd
      for (int j = 0; j < cols; j++) {
        o[j] += sigmoidf(f[j] * scale[j] + shift[j]) * softplusf(c[j] * scale[cols + j] + shift[cols + j]);
      }
    }
  }
}

/*
 * Backward of fc_gate_sum: from dOut [N, A] writes dz [E, 2A] (through the gate and BN1, the
 * batch statistics' dependence on z included when `batch_stats`), dGamma and dBeta [2A].
 * Pass 1 (atoms split across threads): dy = gate'(y)·dOut[i], stored in dz; Σdy and Σdy·x̂ per
 * thread in double. Pass 2 (edges): dz = γ/σ·(dy − Σdy/E − x̂·Σ(dy·x̂)/E), in place.
 */
API void fc_gate_sum_backward(const float *z, const int *offsets, int natoms, int cols,
                              const float *mean, const float *var, const float *gamma,
                              const float *beta, float eps, const float *dout, float *dz,
                              float *dgamma, float *dbeta, int batch_stats) {
  int c2 = 2 * cols, edges = offsets[natoms];
  float scale[c2], shift[c2], inv[c2];
  bn_scale_shift(mean, var, gamma, beta, eps, c2, scale, shift, inv);
  int T = threads_for(edges);
  double *part = calloc((size_t)2 * T * c2, sizeof(double));
#pragma omp parallel num_threads(T)
  {
    int t = omp_get_thread_num(), nt = omp_get_num_threads();
    int64_t e0 = (int64_t)edges * t / nt, e1 = (int64_t)edges * (t + 1) / nt;
    double *sa = part + (size_t)2 * t * c2, *sb = sa + c2;
    for (int i = 0; i < natoms; i++) {
      int r0 = offsets[i], r1 = offsets[i + 1];
      if (r1 <= e0 || r0 >= e1) continue;
      if (r0 < e0) r0 = (int)e0;
      if (r1 > e1) r1 = (int)e1;
      const float *g = dout + (int64_t)i * cols;
      for (int e = r0; e < r1; e++) {
        const float *zf = z + (int64_t)e * c2, *zc = zf + cols;
        float *df = dz + (int64_t)e * c2, *dc = df + cols;
#pragma omp simd
        for (int j = 0; j < cols; j++) {
          float f = zf[j] * scale[j] + shift[j], c = zc[j] * scale[cols + j] + shift[cols + j];
          float ef = expf(-fabsf(f)), invf = 1.0f / (1.0f + ef);
          float s = f >= 0.0f ? invf : ef * invf;
          float ds = ef * invf * invf;
          float e2 = expf(-fabsf(c)), ic = 1.0f / (1.0f + e2);
          float sc = c >= 0.0f ? ic : e2 * ic;
          float spv = (c > 0.0f ? c : 0.0f) + log1pf(e2);
          float sp = c > SOFTPLUS_THRESHOLD ? c : spv;
          df[j] = g[j] * ds * sp;
          dc[j] = g[j] * s * (c > SOFTPLUS_THRESHOLD ? 1.0f : sc);
        }
        for (int j = 0; j < c2; j++) {
          double d = df[j];
          sa[j] += d;
          sb[j] += d * ((zf[j] - mean[j]) * (double)inv[j]);
        }
      }
    }
  }
  float k1[c2], k2[c2], k3[c2];
  for (int j = 0; j < c2; j++) {
    double a = 0.0, b = 0.0;
    for (int k = 0; k < T; k++) {
      a += part[(size_t)2 * k * c2 + j];
      b += part[(size_t)2 * k * c2 + c2 + j];
    }
    dbeta[j] = (float)a;
    dgamma[j] = (float)b;
    double c = gamma[j] * (double)inv[j];
    k1[j] = (float)c;
    k2[j] = batch_stats && edges > 0 ? (float)(c * a / edges) : 0.0f;
    k3[j] = batch_stats && edges > 0 ? (float)(c * b / edges) : 0.0f;
  }
  free(part);
#pragma omp parallel for schedule(static)
  for (int e = 0; e < edges; e++) {
    const float *ze = z + (int64_t)e * c2;
    float *d = dz + (int64_t)e * c2;
#pragma omp simd
    for (int j = 0; j < c2; j++) d[j] = k1[j] * d[j] - k2[j] - k3[j] * (ze[j] - mean[j]) * inv[j];
  }
}

/* Column sums of [rows, cols] in double (per-thread row blocks, added in thread order). */
API void fc_sum_rows(const float *x, float *out, int rows, int cols) {
  int T = threads_for(rows);
  double *part = calloc((size_t)T * cols, sizeof(double));
#pragma omp parallel num_threads(T)
  {
    int t = omp_get_thread_num();
    int r0 = (int)((int64_t)rows * t / T), r1 = (int)((int64_t)rows * (t + 1) / T);
    double *p = part + (size_t)t * cols;
    for (int r = r0; r < r1; r++) {
      const float *xr = x + (int64_t)r * cols;
#pragma omp simd
      for (int j = 0; j < cols; j++) p[j] += xr[j];
    }
  }
  for (int j = 0; j < cols; j++) {
    double s = 0.0;
    for (int k = 0; k < T; k++) s += part[(size_t)k * cols + j];
    out[j] = (float)s;
  }
  free(part);
}

/* Number of OpenMP threads the kernels use (for backendInfo). */
API int fc_threads(void) {
  int n = 1;
#pragma omp parallel
  {
#pragma omp single
    n = omp_get_num_threads();
  }
  return n;
}
