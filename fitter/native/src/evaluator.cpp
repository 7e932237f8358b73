#include "evaluator.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <limits>
#include <stdexcept>
#include <string>

#include "dense.h"
#include "threadPool.h"

namespace fitter {

namespace {

// Asymmetric smooth step α(θ) and its first two derivatives (window |θ| < 0.5, ±1 outside).
inline void smoothStep(double th, double& a, double& da, double& d2a) {
  if (std::fabs(th) < 0.5) {
    double t = 2 * th, t2 = t * t;
    a = t * (3 * t2 * t2 - 10 * t2 + 15) / 8;
    da = 15.0 / 4.0 * (t2 - 1) * (t2 - 1);
    d2a = 30.0 * t * (t2 - 1);
    a = std::min(1.0, std::max(-1.0, a));
  } else {
    a = th > 0 ? 1.0 : -1.0;
    da = 0;
    d2a = 0;
  }
}

// Σ_k val[k] x[col[k]] with four partial sums: one sum would serialise on the FMA latency.
// Values are widened to double before the product (exact for float), so float32 storage gives the
// same sums as the same values stored as double.
template <class Index, class Value>
inline double sparseDot(const Value* __restrict val, const Index* __restrict col, const double* __restrict x, long n) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  long k = 0;
  for (; k + 4 <= n; k += 4) {
    s0 += static_cast<double>(val[k]) * x[col[k]];
    s1 += static_cast<double>(val[k + 1]) * x[col[k + 1]];
    s2 += static_cast<double>(val[k + 2]) * x[col[k + 2]];
    s3 += static_cast<double>(val[k + 3]) * x[col[k + 3]];
  }
  for (; k < n; k++) s0 += static_cast<double>(val[k]) * x[col[k]];
  return (s0 + s1) + (s2 + s3);
}

}  // namespace

Evaluator::Evaluator(ModelData model, int threads) : model_(std::move(model)), threads_(std::max(1, threads)) {
  const ModelData& M = model_;
  if (M.nbins > M.nbinsFull || M.nsig > M.nproc) throw std::invalid_argument("inconsistent model dimensions");
  if (static_cast<long>(M.rowPtr.size()) < static_cast<long>(M.nbinsFull) * M.nproc + 1)
    throw std::invalid_argument("log k has fewer rows than nbinsFull * nproc");
  // A bad index would read or write out of bounds: check the CSR once (strictly increasing columns
  // within a row are also what the half-difference merge in rowD relies on).
  const long nrowsFull = static_cast<long>(M.nbinsFull) * M.nproc;
  if ((M.cols32 == nullptr) == (M.cols16 == nullptr) || (M.vals64 == nullptr) == (M.vals32 == nullptr))
    throw std::invalid_argument("log k: exactly one column and one value array must be given");
  if (M.rowPtr[0] != 0 || M.rowPtr[nrowsFull] > M.nnz)
    throw std::invalid_argument("log k: row pointers do not match the column/value arrays");
  if (M.norm.size() < static_cast<size_t>(nrowsFull) || M.data.size() < static_cast<size_t>(M.nbins) ||
      M.cw.size() < static_cast<size_t>(M.nsyst) || M.theta0.size() < static_cast<size_t>(M.nsyst) ||
      (!M.bbK.empty() && M.bbK.size() < static_cast<size_t>(M.nbins)))
    throw std::invalid_argument("model arrays are shorter than the model dimensions");
  if (!M.bbActive.empty() && M.bbActive.size() < static_cast<size_t>(M.nbins) * M.nproc)
    throw std::invalid_argument("bbActive is shorter than nbins * nproc");
  split_.assign(M.nbins, 0);
  if (!M.bbK.empty() && !M.bbActive.empty())
    for (long b = 0; b < M.nbins; b++) {
      if (!(std::isfinite(M.bbK[b]) && M.bbK[b] > 0)) continue;
      for (int p = 0; p < M.nproc; p++)
        if (!M.bbActive[b * M.nproc + p]) split_[b] = 1;
    }
  for (long r = 0; r < nrowsFull; r++) {
    if (M.rowPtr[r + 1] < M.rowPtr[r]) throw std::invalid_argument("log k: row pointers decrease at row " + std::to_string(r));
    for (long k = M.rowPtr[r]; k < M.rowPtr[r + 1]; k++) {
      if (col(k) < 0 || col(k) >= M.ncols || (k > M.rowPtr[r] && col(k) <= col(k - 1)))
        throw std::invalid_argument("log k: column indices out of range or unsorted in row " + std::to_string(r));
    }
  }
  // Balanced bin ranges by non-zeros (plus a constant per bin for the per-bin work).
  long nnzReal = M.rowPtr[static_cast<long>(M.nbins) * M.nproc];
  binSplit_.assign(threads_ + 1, 0);
  binSplit_[threads_] = M.nbins;
  int t = 1;
  double perBin = 8.0 * M.nproc;
  double total = nnzReal + perBin * M.nbins;
  for (int b = 0; b < M.nbins && t < threads_; b++) {
    double done = M.rowPtr[static_cast<long>(b) * M.nproc] + perBin * b;
    while (t < threads_ && done >= total * t / threads_) binSplit_[t++] = b;
  }
  while (t < threads_) binSplit_[t++] = M.nbins;
  // 16-bit column indices when they fit: the HVP streams log κ from memory, 10 instead of 12 bytes per entry.
  // (A Uint16Array from the reader is used in place; an int32 one gets a 16-bit copy.)
  if (M.ncols <= 65536 && M.cols32) cols16_.assign(M.cols32, M.cols32 + M.rowPtr[nrowsFull]);
  scratchCols_.assign(threads_, std::vector<double>(M.ncols));
  scratchPoi_.assign(threads_, std::vector<double>(std::max(1, M.nsig)));
}

void Evaluator::setData(const double* d) {
  std::copy(d, d + model_.nbins, model_.data.begin());
  pt_.valid = false;
}

void Evaluator::setTheta0(const double* t0) {
  std::copy(t0, t0 + model_.nsyst, model_.theta0.begin());
  pt_.valid = false;
}

void Evaluator::setBeta0(const double* b0) {
  if (b0) model_.beta0.assign(b0, b0 + model_.nbins);
  else model_.beta0.clear();
  pt_.valid = false;
}

void Evaluator::setParams(const double* x, Point& pt) const {
  const ModelData& M = model_;
  pt.R.assign(M.nproc, 1.0);
  pt.dR.assign(M.nproc, 0.0);
  pt.d2R.assign(M.nproc, 0.0);
  for (int q = 0; q < M.nsig; q++) {
    if (M.poiSquare) {
      pt.R[q] = x[q] * x[q];
      pt.dR[q] = 2 * x[q];
      pt.d2R[q] = 2;
    } else {
      pt.R[q] = x[q];
      pt.dR[q] = 1;
    }
  }
  pt.a.assign(M.ncols, 0.0);
  pt.kappa.assign(M.nsyst, 0.0);
  pt.eps.assign(M.nsyst, 0.0);
  const double* th = x + M.nsig;
  for (int s = 0; s < M.nsyst; s++) pt.a[s] = th[s];
  if (!M.symmetric) {
    for (int s = 0; s < M.nsyst; s++) {
      double a, da, d2a;
      smoothStep(th[s], a, da, d2a);
      pt.a[M.nsyst + s] = th[s] * a;
      pt.kappa[s] = a + th[s] * da;
      pt.eps[s] = 2 * da + th[s] * d2a;
    }
  }
}

void Evaluator::forwardRows(const Point& pt, long r0, long r1, double* nu, double* m) const {
  withLogk([&](const auto* ci, const auto* cv) { forwardRowsT(pt, r0, r1, nu, m, ci, cv); });
}

template <class Index, class Value>
void Evaluator::forwardRowsT(const Point& pt, long r0, long r1, double* nu, double* m, const Index* ci, const Value* cv) const {
  const ModelData& M = model_;
  const int64_t* rp = M.rowPtr.data();
  const double* a = pt.a.data();
  for (long r = r0; r < r1; r++) {
    double e = sparseDot(cv + rp[r], ci + rp[r], a, rp[r + 1] - rp[r]);
    int p = static_cast<int>(r % M.nproc);
    if (M.logNormal) {
      double nu0 = M.norm[r] * std::exp(e);
      m[r - r0] = nu0;
      nu[r - r0] = pt.R[p] * nu0;
    } else {
      m[r - r0] = M.norm[r];
      nu[r - r0] = pt.R[p] * M.norm[r] + e;
    }
  }
}

double Evaluator::binTerm(int b, double nub, double z, BinDerivs& d) const {
  const ModelData& M = model_;
  const double n = M.data[b];
  const double k = M.bbK.empty() ? std::numeric_limits<double>::infinity() : M.bbK[b];
  const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
  const bool pos = n > 0;
  // n = 0: the term is ν_b (rabbit's nexpsafe: log ν replaced by log 1), whatever the sign of ν_b,
  // and n/ν := 0, so ν_b = n_b = 0 contributes nothing and never 0/0
  if (pos && !(nub > 0)) {
    d = {nan, nan, nan, nan, nan};
    return inf;
  }
  const double r = pos ? n / nub : 0.0, q = pos ? r / nub : 0.0;
  // β0: the auxiliary observable of the gamma constraint k(β − β0) − kβ0 log(β/β0), zero at β = β0;
  // 1 for fits to data, randomised by frequentist toys (then β̂ = (n + kβ0)/(ν + k) in plain bins)
  const double b0 = M.beta0.empty() ? 1.0 : M.beta0[b];
  const double kb0 = k * b0;
  auto auxTerm = [&](double beta) { return k * (beta - b0) - (kb0 > 0 ? kb0 * std::log(beta / b0) : 0.0); };
  if (!(std::isfinite(k) && k > 0)) {  // no β (k = 0: Σ sumw = 0, rabbit's betamask)
    d.w = d.wz = 1 - r;
    d.c = d.caz = d.czz = q;
    return pos ? nub - n - n * std::log(nub / n) : nub;
  }
  if (!split_[b]) {
    if (!(nub + k > 0)) {  // β̂ = (n + k)/(ν + k) undefined: the profiled likelihood is unbounded
      d = {nan, nan, nan, nan, nan};
      return inf;
    }
    const double beta = (n + kb0) / (nub + k);
    d.w = d.wz = beta - r;
    d.c = d.caz = d.czz = q - (n + kb0) / ((nub + k) * (nub + k));
    return beta * nub - n - (pos ? n * std::log(beta * nub / n) : 0.0) + auxTerm(beta);
  }
  // ν = β a + z: β̂ is the root of (a + k) a β² + (a(z − n − kβ0) + k z) β − kβ0 z = 0 with β > 0 and,
  // for n > 0, ν > 0 (L is convex in β there, so at most one root qualifies; with negative yields the
  // other root can be positive too). n = 0: the quadratic is (β(a + k) − kβ0)(βa + z), β̂ = kβ0/(a + k).
  const double a = nub - z;
  double beta = std::numeric_limits<double>::quiet_NaN();
  if (!pos) {
    if (a + k > 0) beta = kb0 / (a + k);
  } else if (a == 0) {
    beta = b0;  // β does not enter ν: only its own term k(β − β0) − kβ0 log(β/β0), minimal at β0
  } else {
    const double A = (a + k) * a, B = a * (z - n - kb0) + k * z, C = -kb0 * z;
    const double disc = B * B - 4 * A * C;
    if (disc >= 0) {
      // both roots without cancellation (Numerical Recipes' q)
      const double q = -0.5 * (B + std::copysign(std::sqrt(disc), B));
      const double r1 = A != 0 ? q / A : std::numeric_limits<double>::quiet_NaN();
      const double r2 = q != 0 ? C / q : std::numeric_limits<double>::quiet_NaN();
      auto valid = [&](double rb) { return rb > 0 && std::isfinite(rb) && rb * a + z > 0; };
      if (a > 0) {
        // one root is ≥ 0 and the other ≤ 0 (product −kβ0 z/A ≤ 0; with z = 0 the other is exactly 0)
        const double rb = std::isfinite(r1) ? std::max(r1, r2) : r2;
        if (valid(rb)) beta = rb;
      } else if (valid(r1)) {
        beta = r1;
      } else if (valid(r2)) {
        beta = r2;
      }
    }
  }
  const double nu = beta * a + z;
  const double Lbb = (pos ? a * a * n / (nu * nu) : 0.0) + kb0 / (beta * beta);
  if (!(beta > 0) || !std::isfinite(beta) || (pos && !(nu > 0)) || !(Lbb > 0)) {
    d = {nan, nan, nan, nan, nan};
    return inf;
  }
  // envelope theorem: first derivatives are the partial derivatives at β̂; second derivatives
  // T_xy = L_xy − L_xβ L_yβ / L_ββ (dβ̂/dx = −L_xβ/L_ββ)
  const double rn = pos ? n / nu : 0.0, qn = pos ? rn / nu : 0.0;
  const double Laa = beta * beta * qn, Laz = beta * qn, Lzz = qn;
  const double Lab = (1 - rn) + beta * a * qn, Lzb = a * qn;
  d.w = beta * (1 - rn);
  d.wz = 1 - rn;
  d.c = Laa - Lab * Lab / Lbb;
  d.caz = Laz - Lab * Lzb / Lbb;
  d.czz = Lzz - Lzb * Lzb / Lbb;
  return nu - n - (pos ? n * std::log(nu / n) : 0.0) + auxTerm(beta);
}

double Evaluator::constraintTerm(const double* x) const {
  const ModelData& M = model_;
  double s = 0;
  for (int j = 0; j < M.nsyst; j++) {
    double d = x[M.nsig + j] - M.theta0[j];
    s += M.cw[j] * d * d;
  }
  return 0.5 * s;
}

void Evaluator::evalPoint(const double* x, bool wantGrad) {
  const ModelData& M = model_;
  const int n = nparams();
  if (pt_.valid && (!wantGrad || pt_.hasGrad) && std::equal(x, x + n, pt_.x.begin())) return;
  Point& pt = pt_;
  pt.valid = false;
  pt.x.assign(x, x + n);
  setParams(x, pt);
  const long nrows = static_cast<long>(M.nbins) * M.nproc;
  pt.nu.resize(nrows);
  pt.m.resize(nrows);
  pt.w.resize(M.nbins);
  pt.c.resize(M.nbins);
  pt.wz.resize(M.nbins);
  pt.caz.resize(M.nbins);
  pt.czz.resize(M.nbins);
  std::vector<double> partial(threads_, 0.0);
  ThreadPool::instance().run(threads_, [&](int t) {
    double* gc = scratchCols_[t].data();
    double* gp = scratchPoi_[t].data();
    if (wantGrad) {
      std::fill(scratchCols_[t].begin(), scratchCols_[t].end(), 0.0);
      std::fill(scratchPoi_[t].begin(), scratchPoi_[t].end(), 0.0);
    }
    const int64_t* rp = M.rowPtr.data();
    double sum = 0;
    withLogk([&](const auto* ci, const auto* cv) {
    for (long b = binSplit_[t]; b < binSplit_[t + 1]; b++) {
      long r0 = b * M.nproc;
      forwardRowsT(pt, r0, r0 + M.nproc, &pt.nu[r0], &pt.m[r0], ci, cv);
      double nub = 0, z = 0;
      for (int p = 0; p < M.nproc; p++) nub += pt.nu[r0 + p];
      if (split_[b])
        for (int p = 0; p < M.nproc; p++)
          if (!M.bbActive[r0 + p]) z += pt.nu[r0 + p];
      BinDerivs bd;
      sum += binTerm(static_cast<int>(b), nub, z, bd);
      pt.w[b] = bd.w;
      pt.c[b] = bd.c;
      pt.wz[b] = bd.wz;
      pt.caz[b] = bd.caz;
      pt.czz[b] = bd.czz;
      if (!wantGrad) continue;
      // Lᵀ(w g) while the bin's rows are still in cache.
      for (int p = 0; p < M.nproc; p++) {
        long r = r0 + p;
        double w = rowActive(b, p) ? bd.w : bd.wz;
        double coef = w * (M.logNormal ? pt.nu[r] : 1.0);
        for (long k = rp[r]; k < rp[r + 1]; k++) gc[ci[k]] += coef * static_cast<double>(cv[k]);
        if (p < M.nsig) gp[p] += w * pt.m[r];
      }
    }
    });
    partial[t] = sum;
  });
  double value = 0;
  for (double s : partial) value += s;
  pt.value = value + constraintTerm(x);
  pt.hasGrad = wantGrad;
  if (wantGrad) {
    pt.ltwg.assign(M.ncols, 0.0);
    pt.poiWm.assign(M.nsig, 0.0);
    for (int t = 0; t < threads_; t++) {
      for (int c = 0; c < M.ncols; c++) pt.ltwg[c] += scratchCols_[t][c];
      for (int q = 0; q < M.nsig; q++) pt.poiWm[q] += scratchPoi_[t][q];
    }
    pt.grad.assign(n, 0.0);
    for (int q = 0; q < M.nsig; q++) pt.grad[q] = pt.dR[q] * pt.poiWm[q];
    for (int s = 0; s < M.nsyst; s++) {
      double g = pt.ltwg[s];
      if (!M.symmetric) g += pt.kappa[s] * pt.ltwg[M.nsyst + s];
      pt.grad[M.nsig + s] = g + M.cw[s] * (x[M.nsig + s] - M.theta0[s]);
    }
  }
  pt.valid = true;
}

double Evaluator::nll(const double* x) {
  evalPoint(x, false);
  return pt_.value;
}

double Evaluator::valueAndGradient(const double* x, double* grad) {
  evalPoint(x, true);
  std::copy(pt_.grad.begin(), pt_.grad.end(), grad);
  return pt_.value;
}

void Evaluator::hvp(const double* x, const double* v, double* out) {
  // The one-vector case of the batched pass: one code path, so a batch gives each vector's hvp() bit for bit.
  hvpBatch(x, v, 1, out);
}

// K products in one pass: the same arithmetic as hvp() per vector, with the K vectors interleaved
// ([column][j]) so that each log κ entry is read once and meets K contiguous doubles. Every sum keeps
// hvp()'s order (sparseDot's four partial sums, the scatter in entry order, threads summed in order),
// so each result is bit-identical to hvp() on that vector.
// No implicit FMA contraction here: GCC contracts a*b+c differently in the vectorised (K > 1) and
// scalar (K = 1) instantiations, which changed last bits. The multiply-adds of the two hot loops are
// explicit std::fma (one rounding, as the contracted code had); everything else rounds each operation.
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
template <int K>
void Evaluator::hvpChunk(const double* v, double* out) {
  const ModelData& M = model_;
  const Point& pt = pt_;
  const int n = nparams();
  std::vector<double> dcol(static_cast<size_t>(M.ncols) * K);
  for (int s = 0; s < M.nsyst; s++)
    for (int j = 0; j < K; j++) dcol[static_cast<size_t>(s) * K + j] = v[static_cast<size_t>(j) * n + M.nsig + s];
  if (!M.symmetric)
    for (int s = 0; s < M.nsyst; s++)
      for (int j = 0; j < K; j++)
        dcol[static_cast<size_t>(M.nsyst + s) * K + j] = v[static_cast<size_t>(j) * n + M.nsig + s] * pt.kappa[s];
  const size_t colsK = static_cast<size_t>(M.ncols) * K, poiK = static_cast<size_t>(std::max(1, M.nsig)) * K;
  if (scratchColsK_.size() != static_cast<size_t>(threads_)) {
    scratchColsK_.assign(threads_, {});
    scratchPoiK_.assign(threads_, {});
  }
  ThreadPool::instance().run(threads_, [&](int t) {
    scratchColsK_[t].assign(colsK, 0.0);
    scratchPoiK_[t].assign(poiK, 0.0);
    double* __restrict oc = scratchColsK_[t].data();
    double* __restrict op = scratchPoiK_[t].data();
    const int64_t* rp = M.rowPtr.data();
    const double* __restrict dc = dcol.data();
    std::vector<double> d(static_cast<size_t>(M.nproc) * K), jvr(static_cast<size_t>(M.nproc) * K);
    auto pass = [&](const auto* __restrict ci, const auto* __restrict cv) {
      for (long b = binSplit_[t]; b < binSplit_[t + 1]; b++) {
        long r0 = b * M.nproc;
        double jva[K], jvz[K];
        for (int j = 0; j < K; j++) jva[j] = jvz[j] = 0;
        for (int p = 0; p < M.nproc; p++) {
          long r = r0 + p;
          const long k0 = rp[r], len = rp[r + 1] - rp[r];
          double s0[K], s1[K], s2[K], s3[K];
          for (int j = 0; j < K; j++) s0[j] = s1[j] = s2[j] = s3[j] = 0;
          long k = 0;
          for (; k + 4 <= len; k += 4) {
            const double v0 = static_cast<double>(cv[k0 + k]), v1 = static_cast<double>(cv[k0 + k + 1]);
            const double v2 = static_cast<double>(cv[k0 + k + 2]), v3 = static_cast<double>(cv[k0 + k + 3]);
            const double* x0 = dc + static_cast<size_t>(ci[k0 + k]) * K;
            const double* x1 = dc + static_cast<size_t>(ci[k0 + k + 1]) * K;
            const double* x2 = dc + static_cast<size_t>(ci[k0 + k + 2]) * K;
            const double* x3 = dc + static_cast<size_t>(ci[k0 + k + 3]) * K;
            for (int j = 0; j < K; j++) {
              s0[j] = std::fma(v0, x0[j], s0[j]);
              s1[j] = std::fma(v1, x1[j], s1[j]);
              s2[j] = std::fma(v2, x2[j], s2[j]);
              s3[j] = std::fma(v3, x3[j], s3[j]);
            }
          }
          for (; k < len; k++) {
            const double vk = static_cast<double>(cv[k0 + k]);
            const double* xk = dc + static_cast<size_t>(ci[k0 + k]) * K;
            for (int j = 0; j < K; j++) s0[j] = std::fma(vk, xk[j], s0[j]);
          }
          const double g = M.logNormal ? pt.nu[r] : 1.0;
          const bool act = rowActive(b, p);
          for (int j = 0; j < K; j++) {
            double s = (s0[j] + s1[j]) + (s2[j] + s3[j]);
            d[p * K + j] = s;
            double jv = g * s + (p < M.nsig ? pt.dR[p] * pt.m[r] * v[static_cast<size_t>(j) * n + p] : 0.0);
            jvr[p * K + j] = jv;
            if (act) jva[j] += jv;
            else jvz[j] += jv;
          }
        }
        double ua[K], uz[K];
        for (int j = 0; j < K; j++) {
          ua[j] = pt.c[b] * jva[j] + pt.caz[b] * jvz[j];
          uz[j] = pt.caz[b] * jva[j] + pt.czz[b] * jvz[j];
        }
        for (int p = 0; p < M.nproc; p++) {
          long r = r0 + p;
          const bool act = rowActive(b, p);
          const double wb = act ? pt.w[b] : pt.wz[b];
          double u[K];
          for (int j = 0; j < K; j++) {
            double cj = act ? ua[j] : uz[j];
            u[j] = M.logNormal ? pt.nu[r] * cj + wb * jvr[p * K + j] : cj;
            if (p < M.nsig) op[p * K + j] += pt.m[r] * (cj + (M.logNormal ? wb * d[p * K + j] : 0.0));
          }
          for (long k = rp[r]; k < rp[r + 1]; k++) {
            const double vk = static_cast<double>(cv[k]);
            double* o = oc + static_cast<size_t>(ci[k]) * K;
            for (int j = 0; j < K; j++) o[j] = std::fma(u[j], vk, o[j]);
          }
        }
      }
    };
    withLogk(pass);
  });
  for (int j = 0; j < K; j++) {
    const double* vj = v + static_cast<size_t>(j) * n;
    double* oj = out + static_cast<size_t>(j) * n;
    for (int q = 0; q < M.nsig; q++) {
      double s = 0;
      for (int t = 0; t < threads_; t++) s += scratchPoiK_[t][q * K + j];
      oj[q] = pt.dR[q] * s + pt.d2R[q] * vj[q] * pt.poiWm[q];
    }
    for (int s = 0; s < M.nsyst; s++) {
      double o = 0, oh = 0;
      for (int t = 0; t < threads_; t++) {
        o += scratchColsK_[t][static_cast<size_t>(s) * K + j];
        if (!M.symmetric) oh += scratchColsK_[t][static_cast<size_t>(M.nsyst + s) * K + j];
      }
      double vs = vj[M.nsig + s];
      double r = o + M.cw[s] * vs;
      if (!M.symmetric) r += pt.kappa[s] * oh + pt.eps[s] * pt.ltwg[M.nsyst + s] * vs;
      oj[M.nsig + s] = r;
    }
  }
}

#pragma GCC pop_options

void Evaluator::hvpBatch(const double* x, const double* v, int k, double* out) {
  if (k < 0) throw std::invalid_argument("hvpBatch: negative k");
  if (k == 0) return;
  evalPoint(x, true);
  const size_t n = static_cast<size_t>(nparams());
  // Passes of 16, 8, 4, 2, 1 vectors (compile-time K keeps the inner loops unrolled and vectorised).
  for (int j = 0; j < k;) {
    const int left = k - j;
    const double* vj = v + j * n;
    double* oj = out + j * n;
    if (left >= 16) { hvpChunk<16>(vj, oj); j += 16; }
    else if (left >= 8) { hvpChunk<8>(vj, oj); j += 8; }
    else if (left >= 4) { hvpChunk<4>(vj, oj); j += 4; }
    else if (left >= 2) { hvpChunk<2>(vj, oj); j += 2; }
    else { hvpChunk<1>(vj, oj); j += 1; }
  }
}

void Evaluator::rowD(const Point& pt, long r, SparseVec& out) const {
  const ModelData& M = model_;
  out.clear();
  long k0 = M.rowPtr[r], k1 = M.rowPtr[r + 1];
  if (M.symmetric) {
    for (long k = k0; k < k1; k++) {
      out.idx.push_back(M.nsig + col(k));
      out.val.push_back(val(k));
    }
    return;
  }
  // Columns are sorted: the average part (< nsyst) comes first, then the half differences. Merge.
  long avgEnd = k0;
  while (avgEnd < k1 && col(avgEnd) < M.nsyst) avgEnd++;
  long ka = k0, kd = avgEnd;
  while (ka < avgEnd || kd < k1) {
    int sa = ka < avgEnd ? col(ka) : M.nsyst;
    int sd = kd < k1 ? col(kd) - M.nsyst : M.nsyst;
    int s = std::min(sa, sd);
    double v = 0;
    if (sa == s) v += val(ka++);
    if (sd == s) v += pt.kappa[s] * val(kd++);
    out.idx.push_back(M.nsig + s);
    out.val.push_back(v);
  }
}

void Evaluator::binJacobian(const Point& pt, const double* nuRows, const double* mRows, int b, std::vector<double>& acc,
                            std::vector<char>& mark, SparseVec& out, std::vector<SparseVec>* rowJ,
                            bool wantBin) const {
  const ModelData& M = model_;
  SparseVec tmp;
  out.clear();
  for (int p = 0; p < M.nproc; p++) {
    long r = static_cast<long>(b) * M.nproc + p;
    SparseVec& dr = rowJ ? (*rowJ)[p] : tmp;
    rowD(pt, r, dr);
    double g = M.logNormal ? nuRows[p] : 1.0;
    for (double& v : dr.val) v *= g;
    if (p < M.nsig) {  // POI column first keeps the row sorted
      dr.idx.insert(dr.idx.begin(), p);
      dr.val.insert(dr.val.begin(), pt.dR[p] * mRows[p]);
    }
    if (!wantBin) continue;
    for (size_t i = 0; i < dr.idx.size(); i++) {
      int j = dr.idx[i];
      if (!mark[j]) {
        mark[j] = 1;
        out.idx.push_back(j);
      }
      acc[j] += dr.val[i];
    }
  }
  if (!wantBin) return;
  std::sort(out.idx.begin(), out.idx.end());
  out.val.resize(out.idx.size());
  for (size_t i = 0; i < out.idx.size(); i++) {
    int j = out.idx[i];
    out.val[i] = acc[j];
    acc[j] = 0;
    mark[j] = 0;
  }
}

namespace {

// Rows of one group of rank-one terms Σ ω_i G_i G_iᵀ (sparse rows over parameter indices).
struct RowGroup {
  std::vector<int32_t> ptr{0}, idx;
  std::vector<double> val, weight;
  void add(const SparseVec& v, double w) {
    if (w == 0 || v.idx.empty()) return;
    idx.insert(idx.end(), v.idx.begin(), v.idx.end());
    val.insert(val.end(), v.val.begin(), v.val.end());
    ptr.push_back(static_cast<int32_t>(idx.size()));
    weight.push_back(w);
  }
  size_t rows() const { return weight.size(); }
  void clear() {
    ptr.assign(1, 0);
    idx.clear();
    val.clear();
    weight.clear();
  }
};

}  // namespace

// Σ ω_i G_i G_iᵀ of a group, computed without touching H. Rows of a group share most columns (one
// process over a block of bins), so the group is made a dense panel P over the union U of its
// columns and Pᵀ diag(ω) P is one GEMM; a group too sparse for that is left to rank-one updates.
struct GroupProduct {
  const RowGroup* group = nullptr;
  std::vector<int32_t> U;
  std::vector<double> C;  // |U|×|U| symmetric, or empty for the rank-one route
};

static void groupProduct(const RowGroup& g, std::vector<int32_t>& loc, GroupProduct& out) {
  out.group = &g;
  out.U.clear();
  out.C.clear();
  size_t nrows = g.rows();
  if (nrows == 0) return;
  double sparseCost = 0;
  for (size_t r = 0; r < nrows; r++) {
    double len = g.ptr[r + 1] - g.ptr[r];
    sparseCost += len * len;
  }
  std::vector<int32_t>& U = out.U;
  for (int32_t j : g.idx)
    if (loc[j] < 0) {
      loc[j] = 0;
      U.push_back(j);
    }
  std::sort(U.begin(), U.end());
  const long nu = static_cast<long>(U.size());
  for (long a = 0; a < nu; a++) loc[U[a]] = static_cast<int32_t>(a);
  if (static_cast<double>(nrows) * nu * nu <= 6 * sparseCost && nu >= 16) {
    const long k = static_cast<long>(nrows);
    std::vector<double> P(k * nu, 0.0), Pw(k * nu, 0.0);
    out.C.assign(nu * nu, 0.0);
    for (long r = 0; r < k; r++)
      for (int32_t e = g.ptr[r]; e < g.ptr[r + 1]; e++) {
        long a = loc[g.idx[e]];
        P[r + a * k] = g.val[e];
        Pw[r + a * k] = g.weight[r] * g.val[e];
      }
    gemm(true, false, nu, nu, k, 1.0, Pw.data(), k, P.data(), k, out.C.data(), nu, 1);
  }
  for (int32_t j : U) loc[j] = -1;
}

// Adds a group's product to the full (both triangles) n×n row-major h.
static void scatterGroup(const GroupProduct& gp, int n, double* h) {
  const RowGroup& g = *gp.group;
  if (g.rows() == 0) return;
  if (!gp.C.empty()) {
    const long nu = static_cast<long>(gp.U.size());
    for (long a = 0; a < nu; a++) {
      double* hrow = h + static_cast<size_t>(gp.U[a]) * n;
      const double* ccol = gp.C.data() + a * nu;  // C symmetric: column a = row a
      for (long b = 0; b < nu; b++) hrow[gp.U[b]] += ccol[b];
    }
    return;
  }
  for (size_t r = 0; r < g.rows(); r++) {
    int32_t e0 = g.ptr[r], e1 = g.ptr[r + 1];
    for (int32_t e = e0; e < e1; e++) {
      double f = g.weight[r] * g.val[e];
      double* hrow = h + static_cast<size_t>(g.idx[e]) * n;
      for (int32_t q = e0; q < e1; q++) hrow[g.idx[q]] += f * g.val[q];
    }
  }
}

void Evaluator::hessian(const double* x, double* h) {
  evalPoint(x, true);
  const ModelData& M = model_;
  const Point& pt = pt_;
  const int n = nparams();
  // H = Σ_b c_b J_b J_bᵀ + Σ_r w_b ν_r D_r D_rᵀ (log_normal: ∂²ν_r/∂θ∂θ = ν_r D_r D_rᵀ)
  //     + POI terms + diagonal (ε_s Σ_r w_b g_r L_r,nsyst+s and the constraints).
  std::fill(h, h + static_cast<size_t>(n) * n, 0.0);
  // Blocks of bins go to the threads; each computes its groups' products, then adds them to H in
  // block order (a ticket), so the result does not depend on the scheduling.
  const int blockBins = 128;
  const int nblocks = (M.nbins + blockBins - 1) / blockBins;
  std::vector<std::vector<double>> poiTheta(threads_, std::vector<double>(static_cast<size_t>(M.nsig) * n, 0.0));
  std::atomic<int> nextBlock{0};
  std::mutex turnMutex;
  std::condition_variable turnCv;
  int turn = 0;
  ThreadPool::instance().run(threads_, [&](int t) {
    std::vector<int32_t> loc(n, -1);
    std::vector<double> acc(n, 0.0);
    std::vector<char> mark(n, 0);
    std::vector<SparseVec> rowJ(M.nproc);
    SparseVec jb, dOnly;
    std::vector<RowGroup> groups(M.nproc + 1);  // one per process, then the bin rows
    std::vector<GroupProduct> products(M.nproc + 1);
    double* pt_poi = poiTheta[t].data();
    for (;;) {
      int blk = nextBlock.fetch_add(1);
      if (blk >= nblocks) break;
      int b0 = blk * blockBins, b1 = std::min(M.nbins, b0 + blockBins);
      for (auto& g : groups) g.clear();
      std::fill(poiTheta[t].begin(), poiTheta[t].end(), 0.0);
      for (int b = b0; b < b1; b++) {
        long r0 = static_cast<long>(b) * M.nproc;
        if (!split_[b]) {
          binJacobian(pt, &pt.nu[r0], &pt.m[r0], b, acc, mark, jb, &rowJ, true);
          groups[M.nproc].add(jb, pt.c[b]);
        } else {
          // [J_a J_z] F [J_a J_z]ᵀ with F the 2×2 Hessian of the term in (a, z), as two rank-one
          // terms along F's eigenvectors (F may be indefinite)
          binJacobian(pt, &pt.nu[r0], &pt.m[r0], b, acc, mark, jb, &rowJ, false);
          const double faa = pt.c[b], faz = pt.caz[b], fzz = pt.czz[b];
          const double ang = 0.5 * std::atan2(2 * faz, faa - fzz), cs = std::cos(ang), sn = std::sin(ang);
          const double lam1 = faa * cs * cs + 2 * faz * cs * sn + fzz * sn * sn;
          const double lam2 = faa * sn * sn - 2 * faz * cs * sn + fzz * cs * cs;
          for (int e = 0; e < 2; e++) {
            const double ca = e == 0 ? cs : -sn, cz = e == 0 ? sn : cs;
            for (int p = 0; p < M.nproc; p++) {
              const double f = rowActive(b, p) ? ca : cz;
              for (size_t i = 0; i < rowJ[p].idx.size(); i++) {
                int j = rowJ[p].idx[i];
                if (!mark[j]) {
                  mark[j] = 1;
                  jb.idx.push_back(j);
                }
                acc[j] += f * rowJ[p].val[i];
              }
            }
            std::sort(jb.idx.begin(), jb.idx.end());
            jb.val.resize(jb.idx.size());
            for (size_t i = 0; i < jb.idx.size(); i++) {
              jb.val[i] = acc[jb.idx[i]];
              acc[jb.idx[i]] = 0;
              mark[jb.idx[i]] = 0;
            }
            groups[M.nproc].add(jb, e == 0 ? lam1 : lam2);
            jb.clear();
          }
        }
        if (!M.logNormal) continue;
        for (int p = 0; p < M.nproc; p++) {
          long r = r0 + p;
          const double wb = rowActive(b, p) ? pt.w[b] : pt.wz[b];
          if (wb == 0) continue;
          rowD(pt, r, dOnly);
          groups[p].add(dOnly, wb * pt.nu[r]);
          if (p < M.nsig) {  // POI–θ cross terms: R' w_b ν0_r D_rs
            double f = wb * pt.dR[p] * pt.m[r];
            for (size_t i = 0; i < dOnly.idx.size(); i++) pt_poi[static_cast<size_t>(p) * n + dOnly.idx[i]] += f * dOnly.val[i];
          }
        }
      }
      for (size_t gi = 0; gi < groups.size(); gi++) groupProduct(groups[gi], loc, products[gi]);
      std::unique_lock<std::mutex> lk(turnMutex);
      turnCv.wait(lk, [&] { return turn == blk; });
      lk.unlock();
      for (const auto& gp : products) scatterGroup(gp, n, h);
      for (int q = 0; q < M.nsig; q++)
        for (int j = M.nsig; j < n; j++) {
          double v = pt_poi[static_cast<size_t>(q) * n + j];
          h[static_cast<size_t>(q) * n + j] += v;
          h[static_cast<size_t>(j) * n + q] += v;
        }
      lk.lock();
      turn++;
      lk.unlock();
      turnCv.notify_all();
    }
  });
  for (int q = 0; q < M.nsig; q++) h[static_cast<size_t>(q) * n + q] += pt.d2R[q] * pt.poiWm[q];
  for (int s = 0; s < M.nsyst; s++) {
    double d = M.cw[s];
    if (!M.symmetric) d += pt.eps[s] * pt.ltwg[M.nsyst + s];
    h[static_cast<size_t>(M.nsig + s) * n + M.nsig + s] += d;
  }
  // Rounding in the GEMM is not exactly symmetric: make H exactly symmetric.
  const int tile = 64;
  ThreadPool::instance().run(threads_, [&](int t) {
    for (int i0 = t * tile; i0 < n; i0 += threads_ * tile)
      for (int j0 = 0; j0 <= i0; j0 += tile)
        for (int i = i0; i < std::min(n, i0 + tile); i++)
          for (int j = j0; j < std::min(i, j0 + tile); j++) {
            double& lo = h[static_cast<size_t>(i) * n + j];
            double& up = h[static_cast<size_t>(j) * n + i];
            double v = 0.5 * (lo + up);
            lo = v;
            up = v;
          }
  });
}

void Evaluator::yields(const double* x, double* out) {
  const ModelData& M = model_;
  Point pt;
  setParams(x, pt);
  long nrows = static_cast<long>(M.nbinsFull) * M.nproc;
  std::vector<double> m(nrows);
  auto split = evenSplit(nrows, threads_);
  ThreadPool::instance().run(threads_, [&](int t) { forwardRows(pt, split[t], split[t + 1], out + split[t], m.data() + split[t]); });
}

// Writes g_iᵀ C g_i for each row of a group to out[i] (C full symmetric n×n row-major). Dense groups:
// gather C over the union U of the group's columns, Y = P C_UU by GEMM, q_i = Σ_a P_ia Y_ia.
static void groupQuadForms(const RowGroup& g, const double* cov, int n, std::vector<int32_t>& loc, int threads,
                           const std::vector<double*>& out) {
  size_t nrows = g.rows();
  if (nrows == 0) return;
  std::vector<int32_t> U;
  double sparseCost = 0;
  for (size_t r = 0; r < nrows; r++) {
    double len = g.ptr[r + 1] - g.ptr[r];
    sparseCost += len * len;
  }
  for (int32_t j : g.idx)
    if (loc[j] < 0) {
      loc[j] = 0;
      U.push_back(j);
    }
  std::sort(U.begin(), U.end());
  const long nu = static_cast<long>(U.size());
  for (long a = 0; a < nu; a++) loc[U[a]] = static_cast<int32_t>(a);
  const long k = static_cast<long>(nrows);
  if (static_cast<double>(k) * nu * nu <= 4 * sparseCost && nu >= 16) {
    std::vector<double> P(k * nu, 0.0), Cs(nu * nu), Y(k * nu, 0.0);
    for (long r = 0; r < k; r++)
      for (int32_t e = g.ptr[r]; e < g.ptr[r + 1]; e++) P[r + loc[g.idx[e]] * k] = g.val[e];
    auto split = evenSplit(nu, threads);
    ThreadPool::instance().run(threads, [&](int t) {
      for (long b = split[t]; b < split[t + 1]; b++) {
        const double* crow = cov + static_cast<size_t>(U[b]) * n;  // row U_b = column U_b
        double* dst = Cs.data() + b * nu;
        for (long a = 0; a < nu; a++) dst[a] = crow[U[a]];
      }
    });
    gemm(false, false, k, nu, nu, 1.0, P.data(), k, Cs.data(), nu, Y.data(), k, threads);
    for (long r = 0; r < k; r++) {
      double q = 0;
      for (long a = 0; a < nu; a++) q += P[r + a * k] * Y[r + a * k];
      *out[r] = q;
    }
  } else {
    for (long r = 0; r < k; r++) {
      double q = 0;
      int32_t e0 = g.ptr[r], e1 = g.ptr[r + 1];
      for (int32_t e = e0; e < e1; e++) {
        const double* ci = cov + static_cast<size_t>(g.idx[e]) * n;
        double inner = 0;
        for (int32_t f = e + 1; f < e1; f++) inner += ci[g.idx[f]] * g.val[f];
        q += g.val[e] * (g.val[e] * ci[g.idx[e]] + 2 * inner);
      }
      *out[r] = q;
    }
  }
  for (int32_t j : U) loc[j] = -1;
}

void Evaluator::yieldVariances(const double* x, const double* cov, double* perRow, double* perBin) {
  const ModelData& M = model_;
  const int n = nparams();
  Point pt;
  setParams(x, pt);
  long nrows = static_cast<long>(M.nbinsFull) * M.nproc;
  std::vector<double> nu(nrows), m(nrows);
  auto split = evenSplit(nrows, threads_);
  ThreadPool::instance().run(threads_, [&](int t) { forwardRows(pt, split[t], split[t + 1], nu.data() + split[t], m.data() + split[t]); });
  std::fill(perRow, perRow + nrows, 0.0);
  std::fill(perBin, perBin + M.nbinsFull, 0.0);
  // Rows of one process over a block of bins share most columns: group them (see groupQuadForms).
  // Blocks go to the threads; the outputs of different blocks are disjoint.
  const int blockBins = 128;
  const int nblocks = (M.nbinsFull + blockBins - 1) / blockBins;
  std::atomic<int> nextBlock{0};
  ThreadPool::instance().run(threads_, [&](int) {
    std::vector<int32_t> loc(n, -1);
    std::vector<double> acc(n, 0.0);
    std::vector<char> mark(n, 0);
    std::vector<SparseVec> rowJ(M.nproc);
    SparseVec jb;
    std::vector<RowGroup> groups(M.nproc + 1);  // one per process, then the bins
    std::vector<std::vector<double*>> outs(M.nproc + 1);
    for (;;) {
      int blk = nextBlock.fetch_add(1);
      if (blk >= nblocks) break;
      int b0 = blk * blockBins, b1 = std::min(M.nbinsFull, b0 + blockBins);
      for (size_t gi = 0; gi < groups.size(); gi++) {
        groups[gi].clear();
        outs[gi].clear();
      }
      for (int b = b0; b < b1; b++) {
        long r0 = static_cast<long>(b) * M.nproc;
        binJacobian(pt, &nu[r0], &m[r0], b, acc, mark, jb, &rowJ, true);
        for (int p = 0; p < M.nproc; p++)
          if (!rowJ[p].idx.empty()) {
            groups[p].add(rowJ[p], 1.0);
            outs[p].push_back(perRow + r0 + p);
          }
        if (!jb.idx.empty()) {
          groups[M.nproc].add(jb, 1.0);
          outs[M.nproc].push_back(perBin + b);
        }
      }
      for (size_t gi = 0; gi < groups.size(); gi++) groupQuadForms(groups[gi], cov, n, loc, 1, outs[gi]);
    }
  });
}

}  // namespace fitter
