/*
 * The edge term of the CGCNN convolution with the Gaussian expansion formed on the fly.
 *
 * CGCNN (Xie & Grossman 2018, eq. 5) multiplies each edge's features u_e = [g(d_e), x_e]
 * (K = 41 Gaussians g_k(d) = exp(−(d − μ_k)²/σ²) of the bond length, plus FACGCNN's 3 frame
 * components x_e) by a column block W_u of fc_full's weight. As a BLAS call this is a GEMM with
 * K = 41..44: too thin for OpenBLAS to reach its peak (≈35 GF/s here against 185), and it needs
 * the E×K features stored. Here each thread expands a block of edges into an L1-resident
 * buffer and multiplies it with a register-blocked kernel (6 edges × 16 columns forward, 6
 * features × 16 columns for the weight gradient), so only the E distances are read.
 *
 * Numerics: the Gaussians are evaluated as expf of an argument formed in double (≤ 1 ulp
 * away from the float64 value rounded); the forward sums K products in float32 like sgemm;
 * the weight gradient sums blocks of ≤ EDGE_BLOCK edges in float32 and the blocks in double,
 * each thread's partial sums then added in thread order (deterministic for a thread count).
 * Built by native/build_cpu.sh with the other CPU kernels; mirrored by
 * lib/backend/cpu/edge_gemm.ts and tested against it and a float64 reference.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>

#define API __attribute__((visibility("default")))

#define EXP_CAP 80.0f /* exp(−80) ≈ 1.8e-35: never subnormal */

/*
 * exp(x) for x in [−EXP_CAP, 0], branch-free so the expansion loop vectorises: x = n·ln2 + r,
 * |r| ≤ ln2/2, e^r by its degree-7 Taylor polynomial (truncation < 5e-9 relative), 2^n from
 * the exponent bits. Within 2 ulp of the float64 exp rounded. (libmvec's expf is as accurate,
 * but any lane below −87 sends the whole vector down its scalar path, and GCC moves a clamp
 * of the argument past the call, so most Gaussians of a row took the slow path.)
 */
static inline float exp_neg(float x) {
  x = x > -EXP_CAP ? x : -EXP_CAP;
  const float shifter = 12582912.0f; /* 1.5·2^23: adding it rounds to an integer */
  const float nf = (x * 1.44269504f + shifter) - shifter;
  const float r = (x - nf * 0.693145752f) - nf * 1.42860677e-6f; /* ln2 split hi + lo */
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t bits = ((int32_t)nf + 127) << 23;
  float scale;
  memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

/* 8 floats; unaligned loads and stores go through memcpy (one vmovups each). */
typedef float v8 __attribute__((vector_size(32)));
static inline v8 load8(const float *p) { v8 v; memcpy(&v, p, sizeof v); return v; }
static inline void store8(float *p, v8 v) { memcpy(p, &v, sizeof v); }

#define MR 6          /* edges per forward micro-tile */
#define KR 6          /* features per weight-gradient micro-tile */
#define NR 16         /* columns per micro-tile (two 8-float vectors) */
#define EDGE_BLOCK 96 /* edges expanded at once: 96 × 48 floats = 18 KiB */

/* The edge features one call describes. */
typedef struct {
  const float *d;     /* [period] distances; edge r uses d[r % period] (stacked frame copies) */
  int period;
  const float *extra; /* [edges, xc] further features after the Gaussians, or NULL */
  int xc;
  int centres;        /* G */
  double start, step, inv; /* μ_k = start + k·step, inv = 1/σ² */
} edge_src;

/* Padded feature count: K = G + xc rounded up to KR (the padding columns are zero). */
static inline int padded_k(const edge_src *s) { return (s->centres + s->xc + KR - 1) / KR * KR; }

/* u[r, :] = [g(d_{e0+r}), x_{e0+r}, 0…] for r < n; rows n..rows-1 zero. u is [rows, kp]. */
static void expand_block(const edge_src *s, int e0, int n, int rows, int kp, float *u) {
  const int G = s->centres, xc = s->xc;
  for (int r = 0; r < n; r++) {
    const double de = s->d[(e0 + r) % s->period];
    float *ur = u + (int64_t)r * kp;
#pragma omp simd
    for (int k = 0; k < G; k++) {
      /* g < 1.8e-35 (|d − μ| > 1.8 Å at σ = 0.2) is written as exp(−EXP_CAP): far below the
       * float32 rounding of any sum it enters, and never subnormal in a product. */
      const double t = de - (s->start + k * s->step);
      ur[k] = exp_neg((float)(-t * t * s->inv));
    }
    for (int x = 0; x < xc; x++) ur[G + x] = s->extra[(int64_t)(e0 + r) * xc + x];
    for (int k = G + xc; k < kp; k++) ur[k] = 0.0f;
  }
  if (rows > n) memset(u + (int64_t)n * kp, 0, sizeof(float) * (size_t)(rows - n) * kp);
}

/*
 * z[e, c] = Σ_k u[e, k] · w[c·ldw + w_off + k] for e < edges, c < cols (z is [edges, cols],
 * overwritten): the edge term W_u u_e of every edge.
 */
API void fc_edge_gemm(const float *d, int period, const float *extra, int xc, int edges,
                      int centres, double start, double step, double inv, const float *w,
                      int ldw, int w_off, int cols, float *z) {
  if (edges <= 0 || cols <= 0) return;
  const edge_src s = {d, period, extra, xc, centres, start, step, inv};
  const int K = centres + xc, kp = padded_k(&s);
  const int cp = (cols + NR - 1) / NR * NR;
  /* W_u transposed and zero-padded: wt[k, c], so a micro-tile reads 16 contiguous columns. */
  float *wt = calloc((size_t)kp * cp, sizeof(float));
  if (!wt) abort();
  for (int c = 0; c < cols; c++)
    for (int k = 0; k < K; k++) wt[(int64_t)k * cp + c] = w[(int64_t)c * ldw + w_off + k];
  const int blocks = (edges + EDGE_BLOCK - 1) / EDGE_BLOCK;
#pragma omp parallel
  {
    float u[EDGE_BLOCK * 48 + MR * 48];
    float *ub = kp <= 48 ? u : malloc(sizeof(float) * (size_t)(EDGE_BLOCK + MR) * kp);
    if (!ub) abort();
#pragma omp for schedule(static)
    for (int b = 0; b < blocks; b++) {
      const int e0 = b * EDGE_BLOCK, n = edges - e0 < EDGE_BLOCK ? edges - e0 : EDGE_BLOCK;
      const int rows = (n + MR - 1) / MR * MR;
      expand_block(&s, e0, n, rows, kp, ub);
      for (int c0 = 0; c0 < cp; c0 += NR) {
        const float *wc = wt + c0;
        for (int r0 = 0; r0 < rows; r0 += MR) {
          v8 a[MR][2];
          for (int r = 0; r < MR; r++) a[r][0] = a[r][1] = (v8){0};
          const float *ur = ub + (int64_t)r0 * kp;
          for (int k = 0; k < K; k++) {
            const v8 w0 = load8(wc + (int64_t)k * cp), w1 = load8(wc + (int64_t)k * cp + 8);
            for (int r = 0; r < MR; r++) {
              const float g = ur[r * kp + k];
              a[r][0] += g * w0;
              a[r][1] += g * w1;
            }
          }
          const int nr = n - r0 < MR ? n - r0 : MR;
          if (c0 + NR <= cols) {
            for (int r = 0; r < nr; r++) {
              float *zr = z + (int64_t)(e0 + r0 + r) * cols + c0;
              store8(zr, a[r][0]);
              store8(zr + 8, a[r][1]);
            }
          } else {
            for (int r = 0; r < nr; r++) {
              float t[NR];
              store8(t, a[r][0]);
              store8(t + 8, a[r][1]);
              float *zr = z + (int64_t)(e0 + r0 + r) * cols;
              for (int c = c0; c < cols; c++) zr[c] = t[c - c0];
            }
          }
        }
      }
    }
    if (ub != u) free(ub);
  }
  free(wt);
}

/*
 * The weight gradient of fc_edge_gemm: dw[c·ldw + w_off + k] = beta·dw[…] + Σ_e dz[e, c]·u[e, k]
 * for c < cols, k < K (beta 0 or 1; dz is [edges, cols]).
 */
API void fc_edge_gemm_wgrad(const float *d, int period, const float *extra, int xc, int edges,
                            int centres, double start, double step, double inv,
                            const float *dz, int cols, float *dw, int ldw, int w_off, int beta) {
  if (cols <= 0) return;
  const edge_src s = {d, period, extra, xc, centres, start, step, inv};
  const int K = centres + xc, kp = padded_k(&s);
  const int threads = omp_get_max_threads();
  const int64_t part = (int64_t)kp * cols; /* one thread's partial sums, [kp, cols] double */
  double *partial = calloc((size_t)threads * part, sizeof(double));
  if (!partial) abort();
  const int blocks = edges > 0 ? (edges + EDGE_BLOCK - 1) / EDGE_BLOCK : 0;
  const int cv = cols / NR * NR; /* columns of whole micro-tiles; the rest scalar */
  int used = 1;
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
#pragma omp single
    used = omp_get_num_threads();
    double *p = partial + t * part;
    float u[EDGE_BLOCK * 48];
    float *ub = kp <= 48 ? u : malloc(sizeof(float) * (size_t)EDGE_BLOCK * kp);
    if (!ub) abort();
#pragma omp for schedule(static)
    for (int b = 0; b < blocks; b++) {
      const int e0 = b * EDGE_BLOCK, n = edges - e0 < EDGE_BLOCK ? edges - e0 : EDGE_BLOCK;
      expand_block(&s, e0, n, n, kp, ub);
      const float *dzb = dz + (int64_t)e0 * cols;
      for (int c0 = 0; c0 < cv; c0 += NR) {
        for (int k0 = 0; k0 < kp; k0 += KR) {
          v8 a[KR][2];
          for (int j = 0; j < KR; j++) a[j][0] = a[j][1] = (v8){0};
          for (int r = 0; r < n; r++) {
            const float *g = dzb + (int64_t)r * cols + c0;
            const v8 g0 = load8(g), g1 = load8(g + 8);
            const float *ur = ub + (int64_t)r * kp + k0;
            for (int j = 0; j < KR; j++) {
              a[j][0] += ur[j] * g0;
              a[j][1] += ur[j] * g1;
            }
          }
          for (int j = 0; j < KR; j++) {
            double *pr = p + (int64_t)(k0 + j) * cols + c0;
            for (int i = 0; i < 8; i++) pr[i] += a[j][0][i], pr[8 + i] += a[j][1][i];
          }
        }
      }
      for (int c = cv; c < cols; c++) {
        for (int k = 0; k < K; k++) {
          float acc = 0.0f;
          for (int r = 0; r < n; r++) acc += dzb[(int64_t)r * cols + c] * ub[(int64_t)r * kp + k];
          p[(int64_t)k * cols + c] += acc;
        }
      }
    }
    if (ub != u) free(ub);
  }
#pragma omp parallel for schedule(static)
  for (int c = 0; c < cols; c++) {
    for (int k = 0; k < K; k++) {
      double sum = 0;
      for (int t = 0; t < used; t++) sum += partial[t * part + (int64_t)k * cols + c];
      float *o = dw + (int64_t)c * ldw + w_off + k;
      *o = beta ? (float)(*o + sum) : (float)sum;
    }
  }
  free(partial);
}
