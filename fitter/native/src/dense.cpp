#include "dense.h"

#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "threadPool.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define FITTER_AVX2 1
#endif

namespace fitter {

namespace {

constexpr long MR = 8, NR = 6;
constexpr long KC = 256, MC = 144, NC = 3072;

struct AlignedBuf {
  double* p = nullptr;
  size_t n = 0;
  double* get(size_t want) {
    if (want > n) {
      std::free(p);
      p = static_cast<double*>(std::aligned_alloc(64, ((want * sizeof(double) + 63) / 64) * 64));
      n = want;
    }
    return p;
  }
  ~AlignedBuf() { std::free(p); }
};

// Packs op(A)[i0:i0+mc, p0:p0+kc] into MR-row panels (p-major inside a panel), zero-padded.
void packA(bool t, const double* A, long lda, long i0, long p0, long mc, long kc, double* out) {
  for (long ir = 0; ir < mc; ir += MR) {
    long mr = std::min(MR, mc - ir);
    double* o = out + ir * kc;
    if (!t) {
      for (long p = 0; p < kc; p++) {
        const double* src = A + (i0 + ir) + (p0 + p) * lda;
        long i = 0;
        for (; i < mr; i++) o[p * MR + i] = src[i];
        for (; i < MR; i++) o[p * MR + i] = 0;
      }
    } else {
      for (long i = 0; i < MR; i++) {
        if (i < mr) {
          const double* src = A + (p0) + (i0 + ir + i) * lda;
          for (long p = 0; p < kc; p++) o[p * MR + i] = src[p];
        } else {
          for (long p = 0; p < kc; p++) o[p * MR + i] = 0;
        }
      }
    }
  }
}

// Packs op(B)[p0:p0+kc, j0:j0+nc] into NR-column panels, zero-padded.
void packB(bool t, const double* B, long ldb, long p0, long j0, long kc, long nc, double* out) {
  for (long jr = 0; jr < nc; jr += NR) {
    long nr = std::min(NR, nc - jr);
    double* o = out + jr * kc;
    if (!t) {
      for (long j = 0; j < NR; j++) {
        if (j < nr) {
          const double* src = B + p0 + (j0 + jr + j) * ldb;
          for (long p = 0; p < kc; p++) o[p * NR + j] = src[p];
        } else {
          for (long p = 0; p < kc; p++) o[p * NR + j] = 0;
        }
      }
    } else {
      for (long p = 0; p < kc; p++) {
        const double* src = B + (j0 + jr) + (p0 + p) * ldb;
        long j = 0;
        for (; j < nr; j++) o[p * NR + j] = src[j];
        for (; j < NR; j++) o[p * NR + j] = 0;
      }
    }
  }
}

// C[0:8, 0:6] (ldc) += alpha * Apanel * Bpanel over kc.
inline void microKernel(long kc, const double* __restrict A, const double* __restrict B, double* C, long ldc,
                        double alpha) {
#ifdef FITTER_AVX2
  __m256d c00 = _mm256_setzero_pd(), c10 = _mm256_setzero_pd(), c01 = _mm256_setzero_pd(), c11 = _mm256_setzero_pd();
  __m256d c02 = _mm256_setzero_pd(), c12 = _mm256_setzero_pd(), c03 = _mm256_setzero_pd(), c13 = _mm256_setzero_pd();
  __m256d c04 = _mm256_setzero_pd(), c14 = _mm256_setzero_pd(), c05 = _mm256_setzero_pd(), c15 = _mm256_setzero_pd();
  for (long p = 0; p < kc; p++) {
    __m256d a0 = _mm256_load_pd(A), a1 = _mm256_load_pd(A + 4);
    __m256d b;
    b = _mm256_broadcast_sd(B + 0); c00 = _mm256_fmadd_pd(a0, b, c00); c10 = _mm256_fmadd_pd(a1, b, c10);
    b = _mm256_broadcast_sd(B + 1); c01 = _mm256_fmadd_pd(a0, b, c01); c11 = _mm256_fmadd_pd(a1, b, c11);
    b = _mm256_broadcast_sd(B + 2); c02 = _mm256_fmadd_pd(a0, b, c02); c12 = _mm256_fmadd_pd(a1, b, c12);
    b = _mm256_broadcast_sd(B + 3); c03 = _mm256_fmadd_pd(a0, b, c03); c13 = _mm256_fmadd_pd(a1, b, c13);
    b = _mm256_broadcast_sd(B + 4); c04 = _mm256_fmadd_pd(a0, b, c04); c14 = _mm256_fmadd_pd(a1, b, c14);
    b = _mm256_broadcast_sd(B + 5); c05 = _mm256_fmadd_pd(a0, b, c05); c15 = _mm256_fmadd_pd(a1, b, c15);
    A += MR;
    B += NR;
  }
  __m256d al = _mm256_set1_pd(alpha);
  __m256d acc[12] = {c00, c10, c01, c11, c02, c12, c03, c13, c04, c14, c05, c15};
  for (int j = 0; j < 6; j++) {
    double* cj = C + j * ldc;
    _mm256_storeu_pd(cj, _mm256_fmadd_pd(al, acc[2 * j], _mm256_loadu_pd(cj)));
    _mm256_storeu_pd(cj + 4, _mm256_fmadd_pd(al, acc[2 * j + 1], _mm256_loadu_pd(cj + 4)));
  }
#else
  double acc[NR][MR] = {};
  for (long p = 0; p < kc; p++) {
    for (long j = 0; j < NR; j++)
      for (long i = 0; i < MR; i++) acc[j][i] += A[i] * B[j];
    A += MR;
    B += NR;
  }
  for (long j = 0; j < NR; j++)
    for (long i = 0; i < MR; i++) C[i + j * ldc] += alpha * acc[j][i];
#endif
}

void gemmSingle(bool tA, bool tB, long m, long n, long k, double alpha, const double* A, long lda, const double* B,
                long ldb, double* C, long ldc) {
  if (m <= 0 || n <= 0 || k <= 0) return;
  thread_local AlignedBuf bufA, bufB;
  double* Ap = bufA.get(MC * KC);
  double* Bp = bufB.get(KC * (NC + NR));
  alignas(64) double edge[MR * NR];
  for (long jc = 0; jc < n; jc += NC) {
    long nc = std::min(NC, n - jc);
    for (long pc = 0; pc < k; pc += KC) {
      long kc = std::min(KC, k - pc);
      packB(tB, B, ldb, pc, jc, kc, nc, Bp);
      for (long ic = 0; ic < m; ic += MC) {
        long mc = std::min(MC, m - ic);
        packA(tA, A, lda, ic, pc, mc, kc, Ap);
        for (long jr = 0; jr < nc; jr += NR) {
          long nr = std::min(NR, nc - jr);
          for (long ir = 0; ir < mc; ir += MR) {
            long mr = std::min(MR, mc - ir);
            double* c = C + (ic + ir) + (jc + jr) * ldc;
            if (mr == MR && nr == NR) {
              microKernel(kc, Ap + ir * kc, Bp + jr * kc, c, ldc, alpha);
            } else {
              std::fill(edge, edge + MR * NR, 0.0);
              microKernel(kc, Ap + ir * kc, Bp + jr * kc, edge, MR, alpha);
              for (long j = 0; j < nr; j++)
                for (long i = 0; i < mr; i++) c[i + j * ldc] += edge[i + j * MR];
            }
          }
        }
      }
    }
  }
}

// Runs f(lo, hi) over [0, n) in up to `threads` slices of multiples of `align` when the work is big enough.
template <class F>
void parallelSlices(long n, long align, double work, int threads, F f) {
  int T = threads;
  if (work < 4e6 || n < 2 * align) T = 1;
  if (T <= 1) {
    f(0L, n);
    return;
  }
  std::vector<long> cut(T + 1);
  for (int t = 0; t <= T; t++) cut[t] = std::min(n, ((n * t / T + align - 1) / align) * align);
  cut[T] = n;
  ThreadPool::instance().run(T, [&](int t) {
    if (cut[t + 1] > cut[t]) f(cut[t], cut[t + 1]);
  });
}

}  // namespace

void gemm(bool tA, bool tB, long m, long n, long k, double alpha, const double* A, long lda, const double* B, long ldb,
          double* C, long ldc, int threads) {
  double work = 2.0 * m * n * k;
  if (n >= m) {
    parallelSlices(n, NR * 8, work, threads, [&](long lo, long hi) {
      const double* Bs = tB ? B + lo : B + lo * ldb;
      gemmSingle(tA, tB, m, hi - lo, k, alpha, A, lda, Bs, ldb, C + lo * ldc, ldc);
    });
  } else {
    parallelSlices(m, MR * 8, work, threads, [&](long lo, long hi) {
      const double* As = tA ? A + lo * lda : A + lo;
      gemmSingle(tA, tB, hi - lo, n, k, alpha, As, lda, B, ldb, C + lo, ldc);
    });
  }
}

// No fused multiply-add here: every product is rounded to double before it is added, so a plain
// float64 loop in the same order (tests/toysFloat32Preconditioner.test.ts) reproduces the result bit
// for bit. The product is bound by reading A; the extra rounding costs nothing measurable.
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
namespace {

// rows [lo, hi) of out_j = A v_j; vectors in groups of up to 4 so that the accumulators stay in
// registers while the row (n floats) is re-read from L1 for the next group
void symmF32Rows(long n, long k, const float* A, const double* V, double* out, long lo, long hi) {
  const long n8 = n - n % 8;
  for (long i = lo; i < hi; i++) {
    const float* row = A + i * n;
    for (long j0 = 0; j0 < k; j0 += 4) {
      const long g = std::min<long>(4, k - j0);
      double s[4];
#ifdef FITTER_AVX2
      __m256d lo4[4], hi4[4];
      for (long q = 0; q < 4; q++) lo4[q] = hi4[q] = _mm256_setzero_pd();
      for (long c = 0; c < n8; c += 8) {
        __m256 a8 = _mm256_loadu_ps(row + c);
        __m256d a0 = _mm256_cvtps_pd(_mm256_castps256_ps128(a8));
        __m256d a1 = _mm256_cvtps_pd(_mm256_extractf128_ps(a8, 1));
        for (long q = 0; q < g; q++) {
          const double* v = V + (j0 + q) * n + c;
          lo4[q] = _mm256_add_pd(lo4[q], _mm256_mul_pd(a0, _mm256_loadu_pd(v)));
          hi4[q] = _mm256_add_pd(hi4[q], _mm256_mul_pd(a1, _mm256_loadu_pd(v + 4)));
        }
      }
      for (long q = 0; q < g; q++) {
        alignas(32) double b[4];
        _mm256_store_pd(b, _mm256_add_pd(lo4[q], hi4[q]));
        s[q] = (b[0] + b[1]) + (b[2] + b[3]);
      }
#else
      for (long q = 0; q < g; q++) {
        const double* v = V + (j0 + q) * n;
        double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (long c = 0; c < n8; c += 8)
          for (int l = 0; l < 8; l++) a[l] = a[l] + static_cast<double>(row[c + l]) * v[c + l];
        double b[4];
        for (int l = 0; l < 4; l++) b[l] = a[l] + a[l + 4];
        s[q] = (b[0] + b[1]) + (b[2] + b[3]);
      }
#endif
      for (long q = 0; q < g; q++) {
        const double* v = V + (j0 + q) * n;
        double t = s[q];
        for (long c = n8; c < n; c++) t = t + static_cast<double>(row[c]) * v[c];
        out[(j0 + q) * n + i] = t;
      }
    }
  }
}

}  // namespace

void symmF32(long n, long k, const float* A, const double* V, double* out, int threads) {
  if (n <= 0 || k <= 0) return;
  // threads only pay off for a large matrix (~n² / 4 MB per thread, a few hundred µs)
  long T = std::max(1L, std::min<long>(threads, n * n / (1L << 20)));
  if (T == 1) {
    symmF32Rows(n, k, A, V, out, 0, n);
    return;
  }
  std::vector<long> cut = evenSplit(n, static_cast<int>(T));
  ThreadPool::instance().run(static_cast<int>(T), [&](int t) {
    if (cut[t + 1] > cut[t]) symmF32Rows(n, k, A, V, out, cut[t], cut[t + 1]);
  });
}
#pragma GCC pop_options

namespace {

constexpr long LEAF = 48;

inline long splitPoint(long n) {
  long h = n / 2;
  if (h > 16) h = (h / 8) * 8;
  return std::max(1L, h);
}

#define AT(M, ld, i, j) M[(i) + (j) * (ld)]

// ---- leaves (small triangular dimension; the other dimension may be large and is split over threads)

bool potrfLeaf(long n, double* A, long lda) {
  for (long j = 0; j < n; j++) {
    double* cj = A + j * lda;
    for (long k = 0; k < j; k++) {
      double f = AT(A, lda, j, k);
      const double* ck = A + k * lda;
      for (long i = j; i < n; i++) cj[i] -= f * ck[i];
    }
    double d = cj[j];
    if (!(d > 0) || !std::isfinite(d)) return false;
    d = std::sqrt(d);
    cj[j] = d;
    double inv = 1.0 / d;
    for (long i = j + 1; i < n; i++) cj[i] *= inv;
  }
  return true;
}

// X Lᵀ = B, L n×n lower, B m×n (overwritten by X).
void trsmRLTLeaf(long m, long n, const double* L, long ldl, double* B, long ldb, int threads) {
  parallelSlices(m, 8, double(m) * n * n, threads, [&](long lo, long hi) {
    for (long j = 0; j < n; j++) {
      double* bj = B + j * ldb;
      for (long k = 0; k < j; k++) {
        double f = AT(L, ldl, j, k);
        const double* bk = B + k * ldb;
        for (long i = lo; i < hi; i++) bj[i] -= f * bk[i];
      }
      double inv = 1.0 / AT(L, ldl, j, j);
      for (long i = lo; i < hi; i++) bj[i] *= inv;
    }
  });
}

// L Y = B, L m×m lower, B m×n.
void trsmLLNLeaf(long m, long n, const double* L, long ldl, double* B, long ldb, int threads) {
  parallelSlices(n, 1, double(m) * m * n, threads, [&](long lo, long hi) {
    for (long j = lo; j < hi; j++) {
      double* b = B + j * ldb;
      for (long k = 0; k < m; k++) {
        double y = b[k] / AT(L, ldl, k, k);
        b[k] = y;
        const double* lk = L + k * ldl;
        for (long i = k + 1; i < m; i++) b[i] -= y * lk[i];
      }
    }
  });
}

// B := B X, X n×n lower, B m×n.
void trmmRLLeaf(long m, long n, const double* X, long ldx, double* B, long ldb, int threads) {
  parallelSlices(m, 8, double(m) * n * n, threads, [&](long lo, long hi) {
    for (long j = 0; j < n; j++) {
      double* bj = B + j * ldb;
      double d = AT(X, ldx, j, j);
      for (long i = lo; i < hi; i++) bj[i] *= d;
      for (long k = j + 1; k < n; k++) {
        double f = AT(X, ldx, k, j);
        const double* bk = B + k * ldb;
        for (long i = lo; i < hi; i++) bj[i] += f * bk[i];
      }
    }
  });
}

// B := Mᵀ B, M m×m lower, B m×n.
void trmmLLTLeaf(long m, long n, const double* M, long ldm, double* B, long ldb, int threads) {
  parallelSlices(n, 1, double(m) * m * n, threads, [&](long lo, long hi) {
    for (long j = lo; j < hi; j++) {
      double* b = B + j * ldb;
      for (long i = 0; i < m; i++) {
        const double* mi = M + i * ldm;
        double s = 0;
        for (long k = i; k < m; k++) s += mi[k] * b[k];
        b[i] = s;
      }
    }
  });
}

void trtriLeaf(long n, double* A, long lda) {
  std::vector<double> tmp(n);
  for (long j = n - 1; j >= 0; j--) {
    double ajj = 1.0 / AT(A, lda, j, j);
    AT(A, lda, j, j) = ajj;
    // A[j+1:, j] = -ajj * X22 * A[j+1:, j], X22 = already inverted lower block
    for (long i = j + 1; i < n; i++) {
      double s = 0;
      for (long k = j + 1; k <= i; k++) s += AT(A, lda, i, k) * AT(A, lda, k, j);
      tmp[i] = s;
    }
    for (long i = j + 1; i < n; i++) AT(A, lda, i, j) = -ajj * tmp[i];
  }
}

void lauumLeaf(long n, double* A, long lda) {
  for (long j = 0; j < n; j++)
    for (long i = j; i < n; i++) {
      double s = 0;
      for (long k = i; k < n; k++) s += AT(A, lda, k, i) * AT(A, lda, k, j);
      AT(A, lda, i, j) = s;
    }
}

// ---- recursive routines

void trsmRLT(long m, long n, const double* L, long ldl, double* B, long ldb, int th) {
  if (n <= LEAF) return trsmRLTLeaf(m, n, L, ldl, B, ldb, th);
  long n1 = splitPoint(n), n2 = n - n1;
  trsmRLT(m, n1, L, ldl, B, ldb, th);
  gemm(false, true, m, n2, n1, -1.0, B, ldb, L + n1, ldl, B + n1 * ldb, ldb, th);
  trsmRLT(m, n2, L + n1 + n1 * ldl, ldl, B + n1 * ldb, ldb, th);
}

void trsmLLN(long m, long n, const double* L, long ldl, double* B, long ldb, int th) {
  if (m <= LEAF) return trsmLLNLeaf(m, n, L, ldl, B, ldb, th);
  long m1 = splitPoint(m), m2 = m - m1;
  trsmLLN(m1, n, L, ldl, B, ldb, th);
  gemm(false, false, m2, n, m1, -1.0, L + m1, ldl, B, ldb, B + m1, ldb, th);
  trsmLLN(m2, n, L + m1 + m1 * ldl, ldl, B + m1, ldb, th);
}

void trmmRL(long m, long n, const double* X, long ldx, double* B, long ldb, int th) {
  if (n <= LEAF) return trmmRLLeaf(m, n, X, ldx, B, ldb, th);
  long n1 = splitPoint(n), n2 = n - n1;
  trmmRL(m, n1, X, ldx, B, ldb, th);                                            // B1 X11
  gemm(false, false, m, n1, n2, 1.0, B + n1 * ldb, ldb, X + n1, ldx, B, ldb, th);  // + B2 X21
  trmmRL(m, n2, X + n1 + n1 * ldx, ldx, B + n1 * ldb, ldb, th);                 // B2 X22
}

void trmmLLT(long m, long n, const double* M, long ldm, double* B, long ldb, int th) {
  if (m <= LEAF) return trmmLLTLeaf(m, n, M, ldm, B, ldb, th);
  long m1 = splitPoint(m), m2 = m - m1;
  trmmLLT(m1, n, M, ldm, B, ldb, th);                                     // M11ᵀ B1
  gemm(true, false, m1, n, m2, 1.0, M + m1, ldm, B + m1, ldb, B, ldb, th);  // + M21ᵀ B2
  trmmLLT(m2, n, M + m1 + m1 * ldm, ldm, B + m1, ldb, th);                // M22ᵀ B2
}

// C_lower += alpha A Aᵀ (A n×k), or alpha Aᵀ A (A k×n) when trans.
void syrkLower(bool trans, long n, long k, double alpha, const double* A, long lda, double* C, long ldc, int th) {
  if (n <= 128) {
    if (!trans) gemm(false, true, n, n, k, alpha, A, lda, A, lda, C, ldc, th);
    else gemm(true, false, n, n, k, alpha, A, lda, A, lda, C, ldc, th);
    return;
  }
  long n1 = splitPoint(n), n2 = n - n1;
  syrkLower(trans, n1, k, alpha, A, lda, C, ldc, th);
  if (!trans) gemm(false, true, n2, n1, k, alpha, A + n1, lda, A, lda, C + n1, ldc, th);
  else gemm(true, false, n2, n1, k, alpha, A + n1 * lda, lda, A, lda, C + n1, ldc, th);
  syrkLower(trans, n2, k, alpha, trans ? A + n1 * lda : A + n1, lda, C + n1 + n1 * ldc, ldc, th);
}

bool potrfRec(long n, double* A, long lda, int th) {
  if (n <= LEAF) return potrfLeaf(n, A, lda);
  long n1 = splitPoint(n), n2 = n - n1;
  if (!potrfRec(n1, A, lda, th)) return false;
  trsmRLT(n2, n1, A, lda, A + n1, lda, th);
  syrkLower(false, n2, n1, -1.0, A + n1, lda, A + n1 + n1 * lda, lda, th);
  return potrfRec(n2, A + n1 + n1 * lda, lda, th);
}

void trtriRec(long n, double* A, long lda, int th) {
  if (n <= LEAF) return trtriLeaf(n, A, lda);
  long n1 = splitPoint(n), n2 = n - n1;
  double* A21 = A + n1;
  double* A22 = A + n1 + n1 * lda;
  trtriRec(n1, A, lda, th);
  trmmRL(n2, n1, A, lda, A21, lda, th);      // L21 X11
  trsmLLN(n2, n1, A22, lda, A21, lda, th);   // L22⁻¹ (L21 X11)
  for (long j = 0; j < n1; j++)
    for (long i = 0; i < n2; i++) AT(A21, lda, i, j) = -AT(A21, lda, i, j);
  trtriRec(n2, A22, lda, th);
}

void lauumRec(long n, double* A, long lda, int th) {
  if (n <= LEAF) return lauumLeaf(n, A, lda);
  long n1 = splitPoint(n), n2 = n - n1;
  double* A21 = A + n1;
  double* A22 = A + n1 + n1 * lda;
  lauumRec(n1, A, lda, th);
  syrkLower(true, n1, n2, 1.0, A21, lda, A, lda, th);  // + M21ᵀ M21
  trmmLLT(n2, n1, A22, lda, A21, lda, th);            // M22ᵀ M21
  lauumRec(n2, A22, lda, th);
}

// ---- optional OpenBLAS (LAPACK) loaded at run time
using PotrfFn = void (*)(const char*, const int*, double*, const int*, int*);
using SetThreadsFn = void (*)(int);
struct OpenBlas {
  PotrfFn potrf = nullptr, potri = nullptr;
  SetThreadsFn setThreads = nullptr;
};
const OpenBlas* openblas() {
  static OpenBlas ob;
  static bool tried = false;
  if (!tried) {
    tried = true;
    const char* names[] = {"libopenblas.so.0", "libopenblas.so", "libopenblasp-r0.so"};
    for (const char* nm : names) {
      void* h = dlopen(nm, RTLD_NOW | RTLD_LOCAL);
      if (!h) continue;
      ob.potrf = reinterpret_cast<PotrfFn>(dlsym(h, "dpotrf_"));
      ob.potri = reinterpret_cast<PotrfFn>(dlsym(h, "dpotri_"));
      ob.setThreads = reinterpret_cast<SetThreadsFn>(dlsym(h, "openblas_set_num_threads"));
      if (ob.potrf && ob.potri) break;
      ob.potrf = ob.potri = nullptr;
    }
  }
  return ob.potrf ? &ob : nullptr;
}

}  // namespace

std::string openblasAvailable() { return openblas() ? "openblas" : ""; }

bool Cholesky::factor(const double* a, long n, int threads, const std::string& backend) {
  n_ = n;
  threads_ = std::max(1, threads);
  l_.assign(a, a + n * n);
  const OpenBlas* ob = backend == "native" ? nullptr : openblas();
  if (backend == "openblas" && !ob) return false;
  if (ob && n > 0) {
    backend_ = "openblas";
    if (ob->setThreads) ob->setThreads(threads_);
    int nn = static_cast<int>(n), info = 0;
    ob->potrf("L", &nn, l_.data(), &nn, &info);
    return info == 0 && diagonalFinite();
  }
  backend_ = "native";
  return potrfRec(n, l_.data(), n, threads_) && diagonalFinite();
}

bool Cholesky::diagonalFinite() const {
  // NaN input passes LAPACK's checks (NaN > 0 is never tested there) and poisons the whole factor.
  for (long i = 0; i < n_; i++) {
    double d = l_[i + i * n_];
    if (!(d > 0) || !std::isfinite(d)) return false;
  }
  return true;
}

void Cholesky::solve(const double* b, double* x) const {
  const long n = n_;
  const double* L = l_.data();
  std::copy(b, b + n, x);
  for (long k = 0; k < n; k++) {  // L y = b (column-oriented)
    double y = x[k] / L[k + k * n];
    x[k] = y;
    const double* lk = L + k * n;
    for (long i = k + 1; i < n; i++) x[i] -= y * lk[i];
  }
  for (long i = n - 1; i >= 0; i--) {  // Lᵀ x = y (row i of Lᵀ is column i of L)
    const double* li = L + i * n;
    double s = x[i];
    for (long k = i + 1; k < n; k++) s -= li[k] * x[k];
    x[i] = s / li[i];
  }
}

void Cholesky::inverse(double* out) const {
  const long n = n_;
  std::copy(l_.begin(), l_.end(), out);
  const OpenBlas* ob = backend_ == "openblas" ? openblas() : nullptr;
  if (ob) {
    if (ob->setThreads) ob->setThreads(threads_);
    int nn = static_cast<int>(n), info = 0;
    ob->potri("L", &nn, out, &nn, &info);
  } else {
    trtriRec(n, out, n, threads_);
    lauumRec(n, out, n, threads_);
  }
  // Mirror the lower triangle (column-major) into the upper one, in tiles for cache use.
  const long tile = 64;
  ThreadPool::instance().run(threads_, [&](int t) {
    for (long j0 = t * tile; j0 < n; j0 += threads_ * tile)
      for (long i0 = j0; i0 < n; i0 += tile)
        for (long j = j0; j < std::min(n, j0 + tile); j++)
          for (long i = std::max(i0, j + 1); i < std::min(n, i0 + tile); i++) out[j + i * n] = out[i + j * n];
  });
}

double Cholesky::logDet() const {
  double s = 0;
  for (long i = 0; i < n_; i++) s += std::log(l_[i + i * n_]);
  return 2 * s;
}

}  // namespace fitter
