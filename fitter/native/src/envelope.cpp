// Envelope Cholesky: row-oriented ("bordering") LLᵀ over a profile, and selected inversion.
//
// Each factor entry is L_rc = (A_rc − dot(L_r[a..c), L_c[a..c))) / L_cc with a = max(first[r], first[c]),
// one fixed dot routine over a fixed range: its value does not depend on when (or on which thread) it is
// computed, so any schedule that respects the dependencies gives bit-identical factors. The schedule here:
// blocks of kBlock rows; first every row of the block computes its columns left of the block (independent
// of each other: they read only finished rows) on the threads, then the block's own triangle sequentially.
// With a band of width w and a few dense rows last, almost all work is in the first phase.
#include "envelope.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "threadPool.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

namespace fitter {

namespace {

constexpr long kBlock = 32;

// Fixed-order dot product (the order depends only on n).
inline double dotFixed(const double* __restrict a, const double* __restrict b, long n) {
  long k = 0;
  double s;
#if defined(__AVX2__) && defined(__FMA__)
  __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd(), s2 = _mm256_setzero_pd(), s3 = _mm256_setzero_pd();
  for (; k + 16 <= n; k += 16) {
    s0 = _mm256_fmadd_pd(_mm256_loadu_pd(a + k), _mm256_loadu_pd(b + k), s0);
    s1 = _mm256_fmadd_pd(_mm256_loadu_pd(a + k + 4), _mm256_loadu_pd(b + k + 4), s1);
    s2 = _mm256_fmadd_pd(_mm256_loadu_pd(a + k + 8), _mm256_loadu_pd(b + k + 8), s2);
    s3 = _mm256_fmadd_pd(_mm256_loadu_pd(a + k + 12), _mm256_loadu_pd(b + k + 12), s3);
  }
  for (; k + 4 <= n; k += 4) s0 = _mm256_fmadd_pd(_mm256_loadu_pd(a + k), _mm256_loadu_pd(b + k), s0);
  __m256d t = _mm256_add_pd(_mm256_add_pd(s0, s1), _mm256_add_pd(s2, s3));
  alignas(32) double v[4];
  _mm256_store_pd(v, t);
  s = (v[0] + v[1]) + (v[2] + v[3]);
#else
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (; k + 4 <= n; k += 4) {
    s0 += a[k] * b[k];
    s1 += a[k + 1] * b[k + 1];
    s2 += a[k + 2] * b[k + 2];
    s3 += a[k + 3] * b[k + 3];
  }
  s = (s0 + s1) + (s2 + s3);
#endif
  for (; k < n; k++) s += a[k] * b[k];
  return s;
}

inline void axpy(double alpha, const double* __restrict x, double* __restrict y, long n) {
  for (long k = 0; k < n; k++) y[k] += alpha * x[k];
}

}  // namespace

void EnvelopeCholesky::release() {
  std::vector<double>().swap(L_);
  std::vector<double>().swap(Z_);
  std::vector<int32_t>().swap(inv_);
  std::vector<int32_t>().swap(perm_);
  std::vector<int32_t>().swap(first_);
  std::vector<int64_t>().swap(start_);
  n_ = 0;
}

size_t EnvelopeCholesky::bytes() const {
  return (L_.size() + Z_.size()) * sizeof(double) + (perm_.size() + first_.size() + inv_.size()) * sizeof(int32_t) +
         start_.size() * sizeof(int64_t);
}

long EnvelopeCholesky::factor(long n, const int64_t* rowPtr, const int32_t* cols, const double* values,
                              const int32_t* perm, const uint8_t* keep, int threads) {
  release();
  n_ = n;
  perm_.assign(perm, perm + n);
  inv_.assign(n, -1);
  std::vector<int32_t>& inv = inv_;
  for (long r = 0; r < n; r++) {
    if (perm[r] < 0 || perm[r] >= n || inv[perm[r]] >= 0) throw std::invalid_argument("envelope: order is not a permutation");
    inv[perm[r]] = static_cast<int32_t>(r);
  }
  auto kept = [&](long i) { return keep == nullptr || keep[i] != 0; };
  first_.resize(n);
  for (long r = 0; r < n; r++) first_[r] = static_cast<int32_t>(r);
  for (long i = 0; i < n; i++) {
    if (!kept(i)) continue;
    const long r = inv[i];
    for (int64_t p = rowPtr[i]; p < rowPtr[i + 1]; p++) {
      const long j = cols[p];
      if (!kept(j)) continue;
      const long c = inv[j];
      if (c < first_[r]) first_[r] = static_cast<int32_t>(c);
    }
  }
  start_.resize(n + 1);
  start_[0] = 0;
  for (long r = 0; r < n; r++) start_[r + 1] = start_[r] + (r - first_[r] + 1);
  L_.assign(static_cast<size_t>(start_[n]), 0.0);
  for (long i = 0; i < n; i++) {
    const long r = inv[i];
    double* Lr = row(r);
    if (!kept(i)) {
      Lr[r] = 1.0;
      continue;
    }
    for (int64_t p = rowPtr[i]; p < rowPtr[i + 1]; p++) {
      const long j = cols[p];
      if (!kept(j)) continue;
      const long c = inv[j];
      if (c <= r) Lr[c] = values[p];
    }
  }

  madds_ = 0;
  for (long r = 0; r < n; r++) {
    for (long c = first_[r]; c < r; c++) madds_ += static_cast<double>(c - std::max(first_[r], first_[c]));
    madds_ += static_cast<double>(r - first_[r]);
  }
  // off-diagonal entry (r, c), c < r: both rows r (left of c) and c are final
  auto entry = [&](long r, long c) {
    double* Lr = row(r);
    const double* Lc = row(c);
    const long a = std::max(first_[r], first_[c]);
    Lr[c] = (Lr[c] - dotFixed(Lr + a, Lc + a, c - a)) / Lc[c];
  };
  const int T = std::max(1, threads);
  for (long b0 = 0; b0 < n; b0 += kBlock) {
    const long b1 = std::min(n, b0 + kBlock);
    // phase 1: columns left of the block, rows independent
    auto left = [&](int t, int nt) {
      for (long r = b0 + t; r < b1; r += nt)
        for (long c = first_[r]; c < b0; c++) entry(r, c);
    };
    long work = 0;
    for (long r = b0; r < b1; r++) work += std::max(0L, b0 - first_[r]);
    if (T > 1 && work > 4096) ThreadPool::instance().run(T, [&](int t) { left(t, T); });
    else left(0, 1);
    // phase 2: the block's own triangle and the diagonal
    for (long r = b0; r < b1; r++) {
      for (long c = std::max<long>(first_[r], b0); c < r; c++) entry(r, c);
      double* Lr = row(r);
      const double d = Lr[r] - dotFixed(Lr + first_[r], Lr + first_[r], r - first_[r]);
      if (!(d > 0) || !std::isfinite(d)) {
        const long bad = perm_[r];
        release();
        return bad;
      }
      Lr[r] = std::sqrt(d);
    }
  }
  return -1;
}

double EnvelopeCholesky::logDet() const {
  double s = 0;
  for (long r = 0; r < n_; r++) s += std::log(row(r)[r]);
  return 2 * s;
}

void EnvelopeCholesky::solve(const double* b, long k, double* out, int threads) const {
  const long n = n_;
  auto one = [&](long col, std::vector<double>& w) {
    const double* bc = b + col * n;
    double* oc = out + col * n;
    for (long r = 0; r < n; r++) w[r] = bc[perm_[r]];
    for (long r = 0; r < n; r++) {  // L y = Pb
      const double* Lr = row(r);
      w[r] = (w[r] - dotFixed(Lr + first_[r], w.data() + first_[r], r - first_[r])) / Lr[r];
    }
    for (long r = n - 1; r >= 0; r--) {  // Lᵀ x = y
      const double* Lr = row(r);
      w[r] /= Lr[r];
      axpy(-w[r], Lr + first_[r], w.data() + first_[r], r - first_[r]);
    }
    for (long r = 0; r < n; r++) oc[perm_[r]] = w[r];
  };
  const int T = static_cast<int>(std::max<long>(1, std::min<long>(threads, k)));
  if (T == 1) {
    std::vector<double> w(n);
    for (long c = 0; c < k; c++) one(c, w);
  } else {
    ThreadPool::instance().run(T, [&](int t) {
      std::vector<double> w(n);
      for (long c = t; c < k; c += T) one(c, w);
    });
  }
}

// Selected inversion. With Z = A⁻¹ = L⁻ᵀL⁻¹, LᵀZ = L⁻¹ (lower triangular, diagonal 1/L_ii) gives for column i
// and K(i) = {k > i : first[k] ≤ i} (the rows of L's column i):
//   Z_ji = −(Σ_{k∈K} Z_jk L_ki) / L_ii  (j ∈ K),   Z_ii = (1/L_ii − Σ_{k∈K} L_ki Z_ki) / L_ii,
// and every Z_jk needed lies in the envelope again, so Z over the envelope is computed from the last column
// to the first, overwriting a copy of L column by column. y = Z_KK l (l = L's column i on K) is a symmetric
// product from the lower rows: for k ∈ K ascending, y_k += Z_kk l_k + Σ_{j∈K, j<k} Z_kj l_j (a dot) and
// y_j += Z_kj l_k for j ∈ K, j < k (axpys). Threads own disjoint ranges of K as outputs and each walks
// every k in the same order, so each y_j is summed in the same order whatever the thread count.
void EnvelopeCholesky::inverseDiagonal(double* out, int threads, bool keep) {
  const long n = n_;
  if (n == 0) return;
  std::vector<double>().swap(Z_);
  std::vector<double> Z(L_);  // becomes Z on the envelope
  auto zrow = [&](long r) { return Z.data() + start_[r] - first_[r]; };
  // rows whose envelope starts at column c
  std::vector<int64_t> byFirstPtr(n + 1, 0);
  for (long r = 0; r < n; r++) byFirstPtr[first_[r] + 1]++;
  for (long c = 0; c < n; c++) byFirstPtr[c + 1] += byFirstPtr[c];
  std::vector<int32_t> byFirst(n);
  {
    std::vector<int64_t> fill(byFirstPtr.begin(), byFirstPtr.end() - 1);
    for (long r = 0; r < n; r++) byFirst[fill[first_[r]]++] = static_cast<int32_t>(r);
  }
  std::vector<int32_t> K, next;  // K(i), ascending
  std::vector<double> lv(n, 0.0), yv(n, 0.0);
  std::vector<std::pair<long, long>> runs;  // K as maximal runs [a, b)
  std::vector<char> leaving(n, 0);
  const int T = std::max(1, threads);
  for (long i = n - 1; i >= 0; i--) {
    // K(i) from K(i+1): add i+1 when first[i+1] ≤ i, drop rows with first == i+1
    if (i + 1 < n) {
      for (int64_t p = byFirstPtr[i + 1]; p < byFirstPtr[i + 2]; p++) leaving[byFirst[p]] = 1;
      next.clear();
      if (first_[i + 1] <= i) next.push_back(static_cast<int32_t>(i + 1));
      for (int32_t k : K)
        if (!leaving[k]) next.push_back(k);
      for (int64_t p = byFirstPtr[i + 1]; p < byFirstPtr[i + 2]; p++) leaving[byFirst[p]] = 0;
      K.swap(next);
    }
    double* Zi = zrow(i);
    const double Lii = Zi[i];
    if (K.empty()) {
      Zi[i] = 1.0 / (Lii * Lii);
      out[perm_[i]] = Zi[i];
      continue;
    }
    runs.clear();
    for (size_t q = 0; q < K.size(); q++) {
      if (!runs.empty() && runs.back().second == K[q]) runs.back().second++;
      else runs.emplace_back(K[q], K[q] + 1);
    }
    for (int32_t k : K) {
      lv[k] = zrow(k)[i];
      yv[k] = 0;
    }
    const long m = static_cast<long>(K.size());
    auto part = [&](int t, int nt) {
      // outputs K[q] for q in [q0, q1)
      const long q0 = m * t / nt, q1 = m * (t + 1) / nt;
      if (q0 >= q1) return;
      const long lo = K[q0], hi = K[q1 - 1];  // output index range
      for (long q = q0; q < m; q++) {
        const long k = K[q];
        const double* Zk = zrow(k);
        const double lk = lv[k];
        if (k <= hi) {
          double s = Zk[k] * lk;
          for (const auto& ru : runs) {
            if (ru.first >= k) break;
            const long e = std::min(ru.second, k);
            s += dotFixed(Zk + ru.first, lv.data() + ru.first, e - ru.first);
          }
          yv[k] += s;
        }
        if (lk != 0) {
          for (const auto& ru : runs) {
            const long a = std::max(ru.first, lo), e = std::min({ru.second, k, hi + 1});
            if (a < e) axpy(lk, Zk + a, yv.data() + a, e - a);
          }
        }
      }
    };
    if (T > 1 && m >= 256) ThreadPool::instance().run(T, [&](int t) { part(t, T); });
    else part(0, 1);
    double s = 0;
    for (int32_t k : K) {
      const double z = -yv[k] / Lii;
      zrow(k)[i] = z;
      s += lv[k] * z;
    }
    Zi[i] = (1.0 / Lii - s) / Lii;
    out[perm_[i]] = Zi[i];
    for (int32_t k : K) lv[k] = 0;
  }
  if (keep) Z_.swap(Z);
}

void EnvelopeCholesky::quadraticForms(long nvec, const int64_t* ptr, const int32_t* idx, const double* val, double* out,
                                      int threads) const {
  if (Z_.empty()) throw std::logic_error("envelope: quadraticForms needs the selected inverse (inverseDiagonal with keep)");
  auto z = [&](long r, long c) -> double {  // permuted indices; NaN outside the envelope
    if (r < c) std::swap(r, c);
    if (c < first_[r]) return std::numeric_limits<double>::quiet_NaN();
    return Z_[static_cast<size_t>(start_[r] + (c - first_[r]))];
  };
  auto one = [&](long v) {
    double s = 0;
    for (int64_t a = ptr[v]; a < ptr[v + 1]; a++) {
      const long ra = inv_[idx[a]];
      double t = 0;
      for (int64_t b = ptr[v]; b < a; b++) t += val[b] * z(ra, inv_[idx[b]]);
      s += val[a] * (2 * t + val[a] * z(ra, ra));
    }
    out[v] = s;
  };
  const int T = static_cast<int>(std::max<long>(1, std::min<long>(threads, nvec)));
  if (T == 1) {
    for (long v = 0; v < nvec; v++) one(v);
  } else {
    ThreadPool::instance().run(T, [&](int t) {
      for (long v = t; v < nvec; v += T) one(v);
    });
  }
}

}  // namespace fitter
