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
 * Only the Gaussians that can matter are formed and multiplied: g_k(d) < e^−80 ≈ 1.8e-35
 * (|d − μ_k| > √80·σ ≈ 1.8 Å at σ = 0.2) is skipped, 30 orders of magnitude below the float32
 * rounding of the sums it would enter (the kernel wrote e^−80 for them before). That leaves
 * ~18 of the 41 Gaussians per edge. Each block's edges are ordered by the first Gaussian of
 * their window (a counting sort), so the 6 edges of a forward micro-tile share one short
 * window and the edges that reach a weight-gradient tile's features are one contiguous run:
 * the products shrink by ~2× for CGCNN's 41 centres on real crystals.
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
#define MAX_CENTRES 1024 /* Gaussian centres a call may have (the binding checks) */

/* The edge features one call describes. */
typedef struct {
  const float *d;     /* [period] distances; edge r uses d[r % period] (stacked frame copies) */
  int period;
  const float *extra; /* [edges, xc] further features after the Gaussians, or NULL */
  int xc;
  int centres;        /* G */
  double start, step, inv; /* μ_k = start + k·step, inv = 1/σ² */
  double reach;       /* |d − μ_k| ≤ reach: the Gaussians formed (g ≥ e^−EXP_CAP) */
} edge_src;

static edge_src edge_src_of(const float *d, int period, const float *extra, int xc, int centres,
                            double start, double step, double inv) {
  /* Widened by 1e-6 relative and 1e-9 Å: every k whose argument rounds to ≥ −EXP_CAP is in. */
  const double reach = sqrt(EXP_CAP / inv) * (1.0 + 1e-6) + 1e-9;
  const edge_src s = {d, period, extra, xc, centres, start, step, inv, reach};
  return s;
}

/*
 * The columns of an expanded block: the G Gaussians padded to a multiple of KR, then the xc
 * extra features padded the same way (zero padding), so that no weight-gradient tile mixes
 * windowed Gaussians with the extras every row has.
 */
static inline int gauss_cols(const edge_src *s) { return (s->centres + KR - 1) / KR * KR; }
static inline int padded_k(const edge_src *s) { return gauss_cols(s) + (s->xc + KR - 1) / KR * KR; }
/* The expanded column of feature k < G + xc. */
static inline int u_col(const edge_src *s, int k) {
  return k < s->centres ? k : gauss_cols(s) + k - s->centres;
}

/*
 * The Gaussians of distance d that are formed: k in [lo, hi] (lo > hi: none). A NaN distance
 * gets every Gaussian slot (expand_block writes NaN in each, as exp(NaN) is), an infinite one
 * none.
 */
static inline void gauss_window(const edge_src *s, double d, int *lo, int *hi) {
  const int G = s->centres;
  double a = ceil((d - s->reach - s->start) / s->step);
  double b = floor((d + s->reach - s->start) / s->step);
  if (!(a >= 0.0)) a = 0.0;
  if (!(b <= G - 1)) b = G - 1;
  if (a > G) a = G;
  if (b < -1.0) b = -1.0;
  *lo = (int)a;
  *hi = (int)b;
}

/*
 * The rows of a block in window order: perm[p] is the block row at sorted position p (rows
 * ordered by their window's first Gaussian, a stable counting sort), lo/hi[p] its window, and
 * first[b] the first position whose window starts at ≥ b (b = 0..G, first[G + 1] = n).
 */
typedef struct {
  int perm[EDGE_BLOCK], lo[EDGE_BLOCK], hi[EDGE_BLOCK];
  int first[MAX_CENTRES + 2];
  int width; /* the widest window, hi − lo + 1 */
} block_order;

static void order_block(const edge_src *s, int e0, int n, block_order *o) {
  const int G = s->centres;
  int count[MAX_CENTRES + 2], lo[EDGE_BLOCK], hi[EDGE_BLOCK];
  memset(count, 0, sizeof(int) * (size_t)(G + 2));
  o->width = 0;
  for (int r = 0; r < n; r++) {
    gauss_window(s, s->d[(e0 + r) % s->period], &lo[r], &hi[r]);
    count[lo[r] + 1]++;
    if (hi[r] - lo[r] + 1 > o->width) o->width = hi[r] - lo[r] + 1;
  }
  for (int b = 0; b <= G; b++) count[b + 1] += count[b]; /* count[b]: first position of b */
  memcpy(o->first, count, sizeof(int) * (size_t)(G + 2));
  for (int r = 0; r < n; r++) {
    const int p = count[lo[r]]++;
    o->perm[p] = r;
    o->lo[p] = lo[r];
    o->hi[p] = hi[r];
  }
}

/*
 * u[p, :] = [g(d_{e0+perm[p]}) within its window (0 outside), 0…, x_{e0+perm[p]}, 0…] for
 * p < n (the extras from column gauss_cols); rows n..rows-1 zero. u is [rows, kp].
 */
static void expand_block(const edge_src *s, int e0, int n, int rows, int kp, const block_order *o,
                         float *u) {
  const int xc = s->xc, kg = gauss_cols(s);
  memset(u, 0, sizeof(float) * (size_t)rows * kp);
  for (int p = 0; p < n; p++) {
    const int e = e0 + o->perm[p];
    const double de = s->d[e % s->period];
    float *ur = u + (int64_t)p * kp;
    if (isnan(de)) {
      /* exp_neg would clamp the NaN argument to e^−80: keep the NaN the reference gives. */
      for (int k = o->lo[p]; k <= o->hi[p]; k++) ur[k] = NAN;
    } else {
#pragma omp simd
      for (int k = o->lo[p]; k <= o->hi[p]; k++) {
        /* g < 1.8e-35 (|d − μ| > 1.8 Å at σ = 0.2) is written as exp(−EXP_CAP) at the window's
         * rounded edge: far below the float32 rounding of any sum it enters, never subnormal. */
        const double t = de - (s->start + k * s->step);
        ur[k] = exp_neg((float)(-t * t * s->inv));
      }
    }
    for (int x = 0; x < xc; x++) ur[kg + x] = s->extra[(int64_t)e * xc + x];
  }
}

/* The 6 × 16 forward micro-tile over features [k0, k1) (accumulates into a). */
static inline void tile_fma(v8 a[MR][2], const float *ur, int kp, const float *wc, int cp, int k0,
                            int k1) {
  for (int k = k0; k < k1; k++) {
    const v8 w0 = load8(wc + (int64_t)k * cp), w1 = load8(wc + (int64_t)k * cp + 8);
    for (int r = 0; r < MR; r++) {
      const float g = ur[r * kp + k];
      a[r][0] += g * w0;
      a[r][1] += g * w1;
    }
  }
}

/*
 * z[e, c] = Σ_k u[e, k] · w[c·ldw + w_off + k] for e < edges, c < cols (z is [edges, cols],
 * overwritten): the edge term W_u u_e of every edge.
 */
API void fc_edge_gemm(const float *d, int period, const float *extra, int xc, int edges,
                      int centres, double start, double step, double inv, const float *w,
                      int ldw, int w_off, int cols, float *z) {
  if (edges <= 0 || cols <= 0) return;
  if (centres > MAX_CENTRES) abort(); /* the binding checks this first */
  const edge_src s = edge_src_of(d, period, extra, xc, centres, start, step, inv);
  const int G = centres, K = centres + xc, kp = padded_k(&s), kg = gauss_cols(&s);
  const int cp = (cols + NR - 1) / NR * NR;
  /* W_u transposed and zero-padded in u's column layout: wt[u_col(k), c], so a micro-tile
   * reads 16 contiguous columns. */
  float *wt = calloc((size_t)kp * cp, sizeof(float));
  if (!wt) abort();
  for (int c = 0; c < cols; c++)
    for (int k = 0; k < K; k++) wt[(int64_t)u_col(&s, k) * cp + c] = w[(int64_t)c * ldw + w_off + k];
  const int blocks = (edges + EDGE_BLOCK - 1) / EDGE_BLOCK;
#pragma omp parallel
  {
    float u[(EDGE_BLOCK + MR) * 48];
    float *ub = kp <= 48 ? u : malloc(sizeof(float) * (size_t)(EDGE_BLOCK + MR) * kp);
    block_order o;
    if (!ub) abort();
#pragma omp for schedule(static)
    for (int b = 0; b < blocks; b++) {
      const int e0 = b * EDGE_BLOCK, n = edges - e0 < EDGE_BLOCK ? edges - e0 : EDGE_BLOCK;
      const int rows = (n + MR - 1) / MR * MR;
      order_block(&s, e0, n, &o);
      expand_block(&s, e0, n, rows, kp, &o, ub);
      for (int r0 = 0; r0 < rows; r0 += MR) {
        const int nr = n - r0 < MR ? n - r0 : MR;
        /* The tile's Gaussians: the union of its rows' windows (sorted rows: nearly one). */
        int k0 = G, k1 = 0;
        for (int r = r0; r < r0 + nr; r++) {
          if (o.lo[r] > o.hi[r]) continue;
          if (o.lo[r] < k0) k0 = o.lo[r];
          if (o.hi[r] + 1 > k1) k1 = o.hi[r] + 1;
        }
        const float *ur = ub + (int64_t)r0 * kp;
        for (int c0 = 0; c0 < cp; c0 += NR) {
          const float *wc = wt + c0;
          v8 a[MR][2];
          for (int r = 0; r < MR; r++) a[r][0] = a[r][1] = (v8){0};
          tile_fma(a, ur, kp, wc, cp, k0, k1);
          tile_fma(a, ur, kp, wc, cp, kg, kg + xc);
          if (c0 + NR <= cols) {
            for (int r = 0; r < nr; r++) {
              float *zr = z + (int64_t)(e0 + o.perm[r0 + r]) * cols + c0;
              store8(zr, a[r][0]);
              store8(zr + 8, a[r][1]);
            }
          } else {
            for (int r = 0; r < nr; r++) {
              float t[NR];
              store8(t, a[r][0]);
              store8(t + 8, a[r][1]);
              float *zr = z + (int64_t)(e0 + o.perm[r0 + r]) * cols;
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
  if (centres > MAX_CENTRES) abort(); /* the binding checks this first */
  const edge_src s = edge_src_of(d, period, extra, xc, centres, start, step, inv);
  const int G = centres, K = centres + xc, kp = padded_k(&s), kg = gauss_cols(&s);
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
    block_order o;
    if (!ub) abort();
#pragma omp for schedule(static)
    for (int b = 0; b < blocks; b++) {
      const int e0 = b * EDGE_BLOCK, n = edges - e0 < EDGE_BLOCK ? edges - e0 : EDGE_BLOCK;
      order_block(&s, e0, n, &o);
      expand_block(&s, e0, n, n, kp, &o, ub);
      const float *dzb = dz + (int64_t)e0 * cols;
      for (int k0 = 0; k0 < kp; k0 += KR) {
        /* The rows that reach Gaussians [k0, k0 + KR): windows start at ≤ k0 + KR − 1 and end
         * at ≥ k0 (so start at ≥ k0 − width + 1), a contiguous run of sorted rows; every row
         * for the tiles of extra features. */
        int p0 = 0, p1 = n;
        if (k0 < kg) {
          const int from = k0 - o.width + 1 > 0 ? k0 - o.width + 1 : 0;
          const int to = k0 + KR < G ? k0 + KR : G;
          p0 = o.first[from < G ? from : G];
          p1 = o.first[to];
        }
        for (int c0 = 0; c0 < cv; c0 += NR) {
          v8 a[KR][2];
          for (int j = 0; j < KR; j++) a[j][0] = a[j][1] = (v8){0};
          for (int q = p0; q < p1; q++) {
            const float *g = dzb + (int64_t)o.perm[q] * cols + c0;
            const v8 g0 = load8(g), g1 = load8(g + 8);
            const float *ur = ub + (int64_t)q * kp + k0;
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
          const int uk = u_col(&s, k);
          float acc = 0.0f;
          for (int q = 0; q < n; q++) {
            acc += dzb[(int64_t)o.perm[q] * cols + c] * ub[(int64_t)q * kp + uk];
          }
          p[(int64_t)uk * cols + c] += acc;
        }
      }
    }
    if (ub != u) free(ub);
  }
#pragma omp parallel for schedule(static)
  for (int c = 0; c < cols; c++) {
    for (int k = 0; k < K; k++) {
      double sum = 0;
      const int64_t uk = u_col(&s, k);
      for (int t = 0; t < used; t++) sum += partial[t * part + uk * cols + c];
      float *o = dw + (int64_t)c * ldw + w_off + k;
      *o = beta ? (float)(*o + sum) : (float)sum;
    }
  }
  free(partial);
}
