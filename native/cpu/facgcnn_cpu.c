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

#include "gate_avx2.h"

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
    int j0 = 0;
#if GATE_AVX2
    for (; j0 + 16 <= cols; j0 += 16) { /* two independent chains per loop body */
      const v8f o0 = v8_gate(v8_load(f + j0), v8_load(c + j0));
      const v8f o1 = v8_gate(v8_load(f + j0 + 8), v8_load(c + j0 + 8));
      v8_store(o + j0, o0);
      v8_store(o + j0 + 8, o1);
    }
    for (; j0 + 8 <= cols; j0 += 8) v8_store(o + j0, v8_gate(v8_load(f + j0), v8_load(c + j0)));
#endif
#pragma omp simd
    for (int j = j0; j < cols; j++) o[j] = sigmoidf(f[j]) * softplusf(c[j]);
  }
}

API void fc_gate_backward(const float *z, const float *dout, float *dz, int rows, int cols) {
#pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; r++) {
    const float *f = z + (int64_t)2 * r * cols, *c = f + cols;
    const float *g = dout + (int64_t)r * cols;
    float *df = dz + (int64_t)2 * r * cols, *dc = df + cols;
    int j0 = 0;
#if GATE_AVX2
    for (; j0 + 8 <= cols; j0 += 8) {
      const v8_gate_parts p = v8_gate_grad(v8_load(f + j0), v8_load(c + j0));
      const v8f gj = v8_load(g + j0);
      v8_store(df + j0, _mm256_mul_ps(_mm256_mul_ps(gj, p.ds), p.sp));
      v8_store(dc + j0, _mm256_mul_ps(_mm256_mul_ps(gj, p.s), p.dsp));
    }
#endif
#pragma omp simd
    for (int j = j0; j < cols; j++) {
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
 * Fused CGCNN edge kernels (Xie & Grossman 2018, eq. 5).
 *
 * Work split: thread t of T takes the atoms whose first edge lies in its 1/T share of the edges
 * (`edge_split`), so every thread gets about the same number of edges (the cost) however uneven
 * the neighbour counts, whole atom segments stay on one thread (no write conflicts on per-atom
 * rows), and the partition depends only on the graph and T: results are deterministic for a
 * thread count.
 *
 * Statistics (BN1's moments, Σdy and Σdy·x̂) are summed in float32 over a block of at most
 * STAT_BLOCK edges inside the vectorised loop, then each block's partial is added to a per-thread
 * float64 row, and the threads' rows in thread order. A float32 sum of ≤ 16 terms has a relative
 * error below 16·2⁻²⁴ ≈ 1e-6 of the block's Σ|terms| — the size of the float32 rounding already
 * in each term — while the running total over all E edges stays in float64, where float32 would
 * lose ~E·2⁻²⁴. A float64 add per element (the scalar conversion loop it replaces) halved the
 * throughput of these kernels.
 */
#define STAT_BLOCK 16

/* First index i in [lo, hi] with offsets[i] ≥ key (offsets non-decreasing). */
static int lower_bound(const int *offsets, int lo, int hi, int64_t key) {
  while (lo < hi) {
    int mid = lo + (hi - lo) / 2;
    if (offsets[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/* Atoms [*a0, *a1) of thread t of T: those whose first edge is in [E·t/T, E·(t+1)/T). */
static void edge_split(const int *offsets, int natoms, int t, int T, int *a0, int *a1) {
  int64_t edges = offsets[natoms];
  *a0 = t == 0 ? 0 : lower_bound(offsets, 0, natoms, edges * t / T);
  *a1 = t == T - 1 ? natoms : lower_bound(offsets, 0, natoms, edges * (t + 1) / T);
}

/*
 * Per-thread float64 partials, reused across calls (no calloc/free on the hot path). Thread-local:
 * data-parallel training may call the kernels from several JS workers at once.
 */
static _Thread_local double *scratch_buf;
static _Thread_local size_t scratch_len;
static double *scratch_zeroed(size_t n) {
  if (n > scratch_len) {
    free(scratch_buf);
    scratch_buf = malloc(n * sizeof(double));
    scratch_len = scratch_buf ? n : 0;
  }
  if (scratch_buf) memset(scratch_buf, 0, n * sizeof(double));
  return scratch_buf;
}

/*
 * The gate's transcendental functions, inlined so the fused loops vectorise without calls: the
 * libmvec calls spill every vector register and cost ~5× these. Both are within ~1 ulp in
 * float32 (the TypeScript kernels use the same formulas in float64).
 *
 * e^x for x ≤ 0 (the gate only needs e^−|x|): Cody–Waite reduction x = n·ln2 + r, |r| ≤ ln2/2,
 * and Cephes' degree-5 minimax polynomial for e^r; 2^n built in the exponent bits, in two steps
 * below 2^−126 so subnormal results are kept; NaN propagates, −∞ gives 0.
 */
static inline float exp_nonpos(float x) {
  x = x < -110.0f ? -110.0f : x; /* e^−110 < 2^−150 rounds to 0 either way */
  float n = rintf(x * 1.44269504088896341f);
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  float y = p * (r * r) + r + 1.0f;
  int ni = (int)n, sub = ni < -126;
  union {
    int32_t i;
    float f;
  } scale = {.i = ((sub ? ni + 64 : ni) + 127) << 23};
  y *= scale.f;
  return sub ? y * 0x1p-64f : y;
}

/* log(1 + t) for t in [0, 1]: 2·atanh(s), s = t/(2 + t) ≤ 1/3 (no cancellation for small t). */
static inline float log1p_unit(float t) {
  float s = t / (2.0f + t), s2 = s * s;
  /* 1/3 + s²/5 + … + s¹⁰/13: the next term is below (1/9)⁶/15 ≈ 1.3e-7 of s³, < 0.1 ulp. */
  float p = 1.0f / 13.0f;
  p = p * s2 + 1.0f / 11.0f;
  p = p * s2 + 1.0f / 9.0f;
  p = p * s2 + 1.0f / 7.0f;
  p = p * s2 + 1.0f / 5.0f;
  p = p * s2 + 1.0f / 3.0f;
  float s2x = s + s;
  return s2x + s2x * s2 * p;
}

/*
 * The pre-activation of edge e = (i, j) is z_e = W_u u_e + b + W_a v_i + W_b v_j. The caller's
 * GEMM leaves W_u u_e in z; this pass adds the bias, the centre atom's row (CSR segment i) and
 * the neighbour's row in place, and (when `moments`) accumulates BN1's column mean and biased
 * variance of z. One read and one write of z instead of five E×2A temporaries.
 * z [E, cols]; bias [cols]; self, other [N, cols]; offsets [N + 1]; nbr [E]; mean, var [cols].
 */
API void fc_edge_combine(float *z, const float *bias, const float *self, const float *other,
                         const int *offsets, const int *nbr, int natoms, int cols, int moments,
                         float *mean, float *var) {
  int edges = offsets[natoms];
  int T = threads_for(edges);
  double *part = moments ? scratch_zeroed((size_t)2 * T * cols) : NULL;
  if (moments && !part) T = 1; /* no memory for partials: still correct, on one thread */
  double fallback[moments && !part ? 2 * cols : 1];
  if (moments && !part) {
    part = fallback;
    memset(fallback, 0, sizeof(double) * 2 * cols);
  }
#pragma omp parallel num_threads(T)
  {
    int t = omp_get_thread_num(), nt = omp_get_num_threads(), a0, a1;
    edge_split(offsets, natoms, t, nt, &a0, &a1);
    double *ps = part ? part + (size_t)2 * t * cols : NULL, *pq = ps ? ps + cols : NULL;
    float ba[cols], fs[cols], fq[cols];
    for (int i = a0; i < a1; i++) {
      const float *a = self + (int64_t)i * cols;
#pragma omp simd
      for (int j = 0; j < cols; j++) ba[j] = bias[j] + a[j];
      for (int e0 = offsets[i]; e0 < offsets[i + 1]; e0 += STAT_BLOCK) {
        int e1 = e0 + STAT_BLOCK < offsets[i + 1] ? e0 + STAT_BLOCK : offsets[i + 1];
        if (!ps) {
          for (int e = e0; e < e1; e++) {
            float *restrict ze = z + (int64_t)e * cols;
            const float *restrict b = other + (int64_t)nbr[e] * cols;
#pragma omp simd
            for (int j = 0; j < cols; j++) ze[j] += ba[j] + b[j];
          }
          continue;
        }
        memset(fs, 0, sizeof(float) * cols);
        memset(fq, 0, sizeof(float) * cols);
        for (int e = e0; e < e1; e++) {
          float *restrict ze = z + (int64_t)e * cols;
          const float *restrict b = other + (int64_t)nbr[e] * cols;
#pragma omp simd
          for (int j = 0; j < cols; j++) {
            float v = ze[j] + (ba[j] + b[j]);
            ze[j] = v;
            fs[j] += v;
            fq[j] += v * v;
          }
        }
#pragma omp simd
        for (int j = 0; j < cols; j++) {
          ps[j] += fs[j];
          pq[j] += fq[j];
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
 * z [E, 2A]; offsets [N + 1]; mean, var, gamma, beta [2A]; out [N, A].
 */
API void fc_gate_sum(const float *z, const int *offsets, int natoms, int cols, const float *mean,
                     const float *var, const float *gamma, const float *beta, float eps, float *out) {
  int c2 = 2 * cols, T = threads_for(offsets[natoms]);
  float scale[c2], shift[c2], inv[c2];
  bn_scale_shift(mean, var, gamma, beta, eps, c2, scale, shift, inv);
  const float *sf = scale, *sc = scale + cols, *hf = shift, *hc = shift + cols;
#pragma omp parallel num_threads(T)
  {
    int a0, a1;
    edge_split(offsets, natoms, omp_get_thread_num(), omp_get_num_threads(), &a0, &a1);
    for (int i = a0; i < a1; i++) {
      float *restrict o = out + (int64_t)i * cols;
      int j0 = 0;
#if GATE_AVX2
      /* Two column vectors per loop body (two independent gate chains), summed over the atom's
       * edges in registers; then one vector; the rest below. */
      for (; j0 + 16 <= cols; j0 += 16) {
        v8f acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
        const v8f sf0 = v8_load(sf + j0), sf1 = v8_load(sf + j0 + 8);
        const v8f hf0 = v8_load(hf + j0), hf1 = v8_load(hf + j0 + 8);
        const v8f sc0 = v8_load(sc + j0), sc1 = v8_load(sc + j0 + 8);
        const v8f hc0 = v8_load(hc + j0), hc1 = v8_load(hc + j0 + 8);
        for (int e = offsets[i]; e < offsets[i + 1]; e++) {
          const float *zf = z + (int64_t)e * c2 + j0, *zc = zf + cols;
          const v8f f0 = _mm256_fmadd_ps(v8_load(zf), sf0, hf0);
          const v8f f1 = _mm256_fmadd_ps(v8_load(zf + 8), sf1, hf1);
          const v8f c0 = _mm256_fmadd_ps(v8_load(zc), sc0, hc0);
          const v8f c1 = _mm256_fmadd_ps(v8_load(zc + 8), sc1, hc1);
          acc0 = _mm256_add_ps(acc0, v8_gate(f0, c0));
          acc1 = _mm256_add_ps(acc1, v8_gate(f1, c1));
        }
        v8_store(o + j0, acc0);
        v8_store(o + j0 + 8, acc1);
      }
      for (; j0 + 8 <= cols; j0 += 8) {
        v8f acc = _mm256_setzero_ps();
        const v8f sf0 = v8_load(sf + j0), hf0 = v8_load(hf + j0);
        const v8f sc0 = v8_load(sc + j0), hc0 = v8_load(hc + j0);
        for (int e = offsets[i]; e < offsets[i + 1]; e++) {
          const float *zf = z + (int64_t)e * c2 + j0, *zc = zf + cols;
          acc = _mm256_add_ps(acc, v8_gate(_mm256_fmadd_ps(v8_load(zf), sf0, hf0),
                                           _mm256_fmadd_ps(v8_load(zc), sc0, hc0)));
        }
        v8_store(o + j0, acc);
      }
#endif
      if (j0 == cols) continue;
      memset(o + j0, 0, sizeof(float) * (cols - j0));
      for (int e = offsets[i]; e < offsets[i + 1]; e++) {
        const float *restrict zf = z + (int64_t)e * c2, *restrict zc = zf + cols;
#pragma omp simd
        for (int j = j0; j < cols; j++) {
          float f = zf[j] * sf[j] + hf[j], c = zc[j] * sc[j] + hc[j];
          float ef = exp_nonpos(-fabsf(f)), invf = 1.0f / (1.0f + ef);
          float s = f >= 0.0f ? invf : ef * invf;
          float sp = (c > 0.0f ? c : 0.0f) + log1p_unit(exp_nonpos(-fabsf(c)));
          o[j] += s * (c > SOFTPLUS_THRESHOLD ? c : sp);
        }
      }
    }
  }
}

#if GATE_AVX2
/*
 * Pass 1 of fc_gate_sum_backward for columns [j0, j0 + 8) of the edges [e0, e1) of one atom:
 * writes dy into dz and the block's Σdy, Σdy·x̂ into fa, fb (float32, as the scalar loop).
 */
static inline __attribute__((always_inline)) void gate_sum_backward_cols(
    int j0, int cols, int e0, int e1, const float *z, float *dz, const float *g, const float *sf,
    const float *hf, const float *sc, const float *hc, const float *mf, const float *mc,
    const float *vf, const float *vc, float *fa, float *fb) {
  const int c2 = 2 * cols;
  const v8f gv = v8_load(g + j0);
  const v8f sf0 = v8_load(sf + j0), hf0 = v8_load(hf + j0), sc0 = v8_load(sc + j0);
  const v8f hc0 = v8_load(hc + j0), mf0 = v8_load(mf + j0), mc0 = v8_load(mc + j0);
  const v8f vf0 = v8_load(vf + j0), vc0 = v8_load(vc + j0);
  v8f af = _mm256_setzero_ps(), ac = af, bf = af, bc = af;
  for (int e = e0; e < e1; e++) {
    const float *zf = z + (int64_t)e * c2 + j0, *zc = zf + cols;
    float *df = dz + (int64_t)e * c2 + j0, *dc = df + cols;
    const v8f xf = v8_load(zf), xc = v8_load(zc);
    const v8_gate_parts p = v8_gate_grad(_mm256_fmadd_ps(xf, sf0, hf0), _mm256_fmadd_ps(xc, sc0, hc0));
    const v8f dyf = _mm256_mul_ps(_mm256_mul_ps(gv, p.ds), p.sp);
    const v8f dyc = _mm256_mul_ps(_mm256_mul_ps(gv, p.s), p.dsp);
    v8_store(df, dyf);
    v8_store(dc, dyc);
    af = _mm256_add_ps(af, dyf);
    ac = _mm256_add_ps(ac, dyc);
    bf = _mm256_fmadd_ps(dyf, _mm256_mul_ps(_mm256_sub_ps(xf, mf0), vf0), bf);
    bc = _mm256_fmadd_ps(dyc, _mm256_mul_ps(_mm256_sub_ps(xc, mc0), vc0), bc);
  }
  v8_store(fa + j0, af);
  v8_store(fa + cols + j0, ac);
  v8_store(fb + j0, bf);
  v8_store(fb + cols + j0, bc);
}
#endif

/*
 * Backward of fc_gate_sum: from dOut [N, A] writes dz [E, 2A] (through the gate and BN1, the
 * batch statistics' dependence on z included when `batch_stats`), dGamma and dBeta [2A].
 * Pass 1: dy = gate'(y)·dOut[i], stored in dz, with Σdy and Σdy·x̂ (x̂ = (z − μ)/σ) in the same
 * vectorised loop. Pass 2 (same partition, the thread's edges still partly in its cache):
 * dz = γ/σ·(dy − Σdy/E − x̂·Σ(dy·x̂)/E), in place (Ioffe & Szegedy 2015).
 */
API void fc_gate_sum_backward(const float *z, const int *offsets, int natoms, int cols,
                              const float *mean, const float *var, const float *gamma,
                              const float *beta, float eps, const float *dout, float *dz,
                              float *dgamma, float *dbeta, int batch_stats) {
  int c2 = 2 * cols, edges = offsets[natoms];
  float scale[c2], shift[c2], inv[c2], k1[c2], k2[c2], k3[c2];
  bn_scale_shift(mean, var, gamma, beta, eps, c2, scale, shift, inv);
  int T = threads_for(edges);
  double *part = scratch_zeroed((size_t)2 * T * c2);
  double fallback[part ? 1 : 2 * c2];
  if (!part) {
    T = 1;
    part = fallback;
    memset(fallback, 0, sizeof(double) * 2 * c2);
  }
  const float *sf = scale, *sc = scale + cols, *hf = shift, *hc = shift + cols;
  const float *mf = mean, *mc = mean + cols, *vf = inv, *vc = inv + cols;
#pragma omp parallel num_threads(T)
  {
    int t = omp_get_thread_num(), a0, a1;
    edge_split(offsets, natoms, t, omp_get_num_threads(), &a0, &a1);
    double *sa = part + (size_t)2 * t * c2, *sb = sa + c2;
    float fa[c2], fb[c2];
    for (int i = a0; i < a1; i++) {
      const float *restrict g = dout + (int64_t)i * cols;
      for (int e0 = offsets[i]; e0 < offsets[i + 1]; e0 += STAT_BLOCK) {
        int e1 = e0 + STAT_BLOCK < offsets[i + 1] ? e0 + STAT_BLOCK : offsets[i + 1];
        int j0 = 0;
#if GATE_AVX2
        /* One column vector at a time, the block's sums in registers (the filter and core
         * chains of an element are independent already: two vectors at once spilled and ran no
         * faster); the rest below. */
        for (; j0 + 8 <= cols; j0 += 8) {
          gate_sum_backward_cols(j0, cols, e0, e1, z, dz, g, sf, hf, sc, hc, mf, mc, vf, vc, fa, fb);
        }
#endif
        if (j0 < cols) {
          memset(fa + j0, 0, sizeof(float) * (cols - j0));
          memset(fb + j0, 0, sizeof(float) * (cols - j0));
          memset(fa + cols + j0, 0, sizeof(float) * (cols - j0));
          memset(fb + cols + j0, 0, sizeof(float) * (cols - j0));
        }
        for (int e = e0; e < e1 && j0 < cols; e++) {
          const float *restrict zf = z + (int64_t)e * c2, *restrict zc = zf + cols;
          float *restrict df = dz + (int64_t)e * c2, *restrict dc = df + cols;
#pragma omp simd
          for (int j = j0; j < cols; j++) {
            float f = zf[j] * sf[j] + hf[j], c = zc[j] * sc[j] + hc[j];
            float ef = exp_nonpos(-fabsf(f)), invf = 1.0f / (1.0f + ef);
            float s = f >= 0.0f ? invf : ef * invf;
            float ds = ef * invf * invf; /* σ'(f) = e/(1+e)², no cancellation in 1 − σ */
            float ec = exp_nonpos(-fabsf(c)), ic = 1.0f / (1.0f + ec);
            float sgc = c >= 0.0f ? ic : ec * ic;
            float spv = (c > 0.0f ? c : 0.0f) + log1p_unit(ec);
            int lin = c > SOFTPLUS_THRESHOLD;
            float dyf = g[j] * ds * (lin ? c : spv);
            float dyc = g[j] * s * (lin ? 1.0f : sgc);
            df[j] = dyf;
            dc[j] = dyc;
            fa[j] += dyf;
            fb[j] += dyf * ((zf[j] - mf[j]) * vf[j]);
            fa[cols + j] += dyc;
            fb[cols + j] += dyc * ((zc[j] - mc[j]) * vc[j]);
          }
        }
#pragma omp simd
        for (int j = 0; j < c2; j++) {
          sa[j] += fa[j];
          sb[j] += fb[j];
        }
      }
    }
#pragma omp barrier
#pragma omp single
    for (int j = 0; j < c2; j++) {
      double a = 0.0, b = 0.0;
      for (int k = 0; k < T; k++) {
        a += part[(size_t)2 * k * c2 + j];
        b += part[(size_t)2 * k * c2 + c2 + j];
      }
      dbeta[j] = (float)a;
      dgamma[j] = (float)b;
      double cj = gamma[j] * (double)inv[j];
      k1[j] = (float)cj;
      k2[j] = batch_stats && edges > 0 ? (float)(cj * a / edges) : 0.0f;
      k3[j] = batch_stats && edges > 0 ? (float)(cj * b / edges) : 0.0f;
    }
    /* the implicit barrier of `single` publishes k1..k3 */
    for (int64_t e = offsets[a0]; e < offsets[a1]; e++) {
      const float *restrict ze = z + e * c2;
      float *restrict d = dz + e * c2;
#pragma omp simd
      for (int j = 0; j < c2; j++) d[j] = k1[j] * d[j] - k2[j] - k3[j] * ((ze[j] - mean[j]) * inv[j]);
    }
  }
}

static _Thread_local float *fscratch_buf;
static _Thread_local size_t fscratch_len;
static float *fscratch(size_t n) {
  if (n > fscratch_len) {
    free(fscratch_buf);
    fscratch_buf = malloc(n * sizeof(float));
    fscratch_len = fscratch_buf ? n : 0;
  }
  return fscratch_buf;
}

/*
 * Backward of fc_edge_combine in one pass over dz [E, cols] (it was three: segment sums, the
 * neighbour scatter and the bias's column sums, each reading all of dz):
 *   dself[i] = Σ_{e in segment i} dz[e]  (written; as fc_segment_reduce),
 *   dother[nbr[e]] += dz[e]              (accumulated; as fc_scatter_add_rows),
 *   dbias = Σ_e dz[e]                    (written; as fc_sum_rows),
 * any of the three may be NULL. Thread 0 scatters into dother, thread t > 0 into its own zeroed
 * [N, cols] buffer, added to dother in thread order afterwards: deterministic for a thread count
 * and no atomics. dbias adds every element in float64 (as fc_sum_rows): BN1 makes the bias's
 * true gradient 0, so this sum is pure cancellation and float32 blocks would raise its roundoff.
 */
API void fc_edge_combine_backward(const float *dz, const int *offsets, const int *nbr, int natoms,
                                  int cols, float *dself, float *dother, float *dbias) {
  int edges = offsets[natoms], T = threads_for(edges);
  double *part = dbias ? scratch_zeroed((size_t)T * cols) : NULL;
  float *bufs = dother && T > 1 ? fscratch((size_t)(T - 1) * natoms * cols) : NULL;
  if ((dbias && !part) || (dother && T > 1 && !bufs)) T = 1; /* no memory: one thread */
  double fallback[dbias && !part ? cols : 1];
  if (dbias && !part) {
    part = fallback;
    memset(fallback, 0, sizeof(double) * cols);
  }
#pragma omp parallel num_threads(T)
  {
    int t = omp_get_thread_num(), nt = omp_get_num_threads(), a0, a1;
    edge_split(offsets, natoms, t, nt, &a0, &a1);
    float *oth = dother && t > 0 ? bufs + (size_t)(t - 1) * natoms * cols : dother;
    if (dother && t > 0) memset(oth, 0, sizeof(float) * natoms * cols);
    double *pb = part ? part + (size_t)t * cols : NULL;
    float srow[cols];
    for (int i = a0; i < a1; i++) {
      float *restrict s = dself ? dself + (int64_t)i * cols : srow;
      memset(s, 0, sizeof(float) * cols);
      for (int e = offsets[i]; e < offsets[i + 1]; e++) {
        const float *restrict d = dz + (int64_t)e * cols;
        if (oth) {
          float *restrict o = oth + (int64_t)nbr[e] * cols;
#pragma omp simd
          for (int j = 0; j < cols; j++) o[j] += d[j];
        }
        if (pb) {
#pragma omp simd
          for (int j = 0; j < cols; j++) {
            s[j] += d[j];
            pb[j] += d[j];
          }
        } else {
#pragma omp simd
          for (int j = 0; j < cols; j++) s[j] += d[j];
        }
      }
    }
    if (dother && nt > 1) {
#pragma omp barrier
#pragma omp for schedule(static)
      for (int r = 0; r < natoms; r++) {
        float *restrict o = dother + (int64_t)r * cols;
        for (int k = 1; k < nt; k++) {
          const float *restrict b = bufs + ((size_t)(k - 1) * natoms + r) * cols;
#pragma omp simd
          for (int j = 0; j < cols; j++) o[j] += b[j];
        }
      }
    }
  }
  if (dbias) {
    for (int j = 0; j < cols; j++) {
      double s = 0.0;
      for (int k = 0; k < T; k++) s += part[(size_t)k * cols + j];
      dbias[j] = (float)s;
    }
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
