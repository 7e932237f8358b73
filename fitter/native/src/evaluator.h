// Float64 evaluator of the binned likelihood of shared/spec/likelihood.md: NLL, gradient, exact
// Hessian-vector products, exact dense Hessian, yields and yield variances.
//
// Notation (per row r = bin*nproc + proc, per column c of log κ):
//   a_c       column coefficients: θ_s (c < nsyst) or θ_s α(θ_s) (half-difference column c = nsyst + s)
//   e_r       = (L a)_r                     exponent (log_normal) or additive shift (normal)
//   m_r       = ∂ν_r/∂R_p: ν0_r = norm·exp(e) (log_normal) or norm_r (normal)
//   g_r       = ν_r (log_normal) or 1 (normal), so that ∂ν_r/∂θ_s = g_r D_rs
//   D_rs      = L_rs + κ_s L_r,nsyst+s with κ = α + θα';   ∂D_rs/∂θ_s = ε_s L_r,nsyst+s, ε = 2α' + θα''
//   w_b, c_b  first and second derivative of the bin term in ν_b (Barlow–Beeston envelope included)
// Split bins (Barlow–Beeston with processes that have no MC statistical uncertainty): ν_b = β a_b + z_b
// with a_b over the β-scaled ("active") rows and z_b over the others; the profiled term is a function
// of (a_b, z_b) with gradient (w_b, wz_b) and Hessian [[c_b, caz_b], [caz_b, czz_b]]. Elsewhere
// wz = w and caz = czz = c, and every row counts as active.
#pragma once
#include <cstdint>
#include <vector>

namespace fitter {

struct ModelData {
  int nbins = 0, nbinsFull = 0, nproc = 0, nsig = 0, nsyst = 0, ncols = 0;
  bool symmetric = true, logNormal = true, poiSquare = false;
  std::vector<double> norm;  // [nbinsFull * nproc]
  std::vector<int64_t> rowPtr;  // [nbinsFull * nproc + 1]; 64-bit so nnz may exceed 2^31
  // log κ entries, borrowed: whoever fills ModelData keeps these arrays alive (and unchanged) for the
  // Evaluator's lifetime (the addon holds references to the JS typed arrays), so a large tensor is
  // not copied. Exactly one of cols32/cols16 and one of vals64/vals32 is set; float32 values are
  // widened to double as they are loaded, so all arithmetic stays float64.
  int64_t nnz = 0;
  const int32_t* cols32 = nullptr;
  const uint16_t* cols16 = nullptr;
  const double* vals64 = nullptr;
  const float* vals32 = nullptr;
  std::vector<double> data;     // [nbins]
  std::vector<double> bbK;      // [nbins], +inf = no β; empty = BB off
  std::vector<uint8_t> bbActive;  // [nbins * nproc]: 1 = scaled by β; empty = every process scaled
  std::vector<double> cw;       // [nsyst]
  std::vector<double> theta0;   // [nsyst]
  std::vector<double> beta0;    // [nbins] BB auxiliary observables (toys); empty = all 1
};

struct SparseVec {
  std::vector<int32_t> idx;
  std::vector<double> val;
  void clear() { idx.clear(); val.clear(); }
};

class Evaluator {
 public:
  Evaluator(ModelData model, int threads);
  int nparams() const { return model_.nsig + model_.nsyst; }
  double nll(const double* x);
  double valueAndGradient(const double* x, double* grad);
  void hvp(const double* x, const double* v, double* out);
  /// k products H(x) v_j in passes of up to kMaxHvpBatch vectors over log κ; v and out row-major [k, n].
  /// Per vector the same float64 operations in the same order as hvp(), so bit-identical to k hvp() calls.
  void hvpBatch(const double* x, const double* v, int k, double* out);
  static constexpr int kMaxHvpBatch = 16;
  void hessian(const double* x, double* h);  // n×n row-major, symmetric
  void yields(const double* x, double* out);  // [nbinsFull*nproc]
  void yieldVariances(const double* x, const double* cov, double* perRow, double* perBin);
  void setData(const double* d);
  void setTheta0(const double* t0);
  void setBeta0(const double* b0);  // nullptr: back to all 1
  const ModelData& model() const { return model_; }

 private:
  struct Point {
    std::vector<double> x;
    bool valid = false, hasGrad = false;
    std::vector<double> a, kappa, eps;  // [ncols], [nsyst], [nsyst]
    std::vector<double> R, dR, d2R;     // [nproc]
    std::vector<double> nu, m;          // rows of the real bins
    std::vector<double> w, c;           // [nbins]
    std::vector<double> wz, caz, czz;   // [nbins] (see split bins above)
    double value = 0;
    std::vector<double> grad;           // [nparams]
    std::vector<double> ltwg;           // Lᵀ(w g) over all columns
    std::vector<double> poiWm;          // Σ_{r: p = q} w_b m_r
  };
  void setParams(const double* x, Point& pt) const;
  void evalPoint(const double* x, bool wantGrad);
  template <int K>
  void hvpChunk(const double* v, double* out);
  void forwardRows(const Point& pt, long r0, long r1, double* nu, double* m) const;
  template <class Index, class Value>
  void forwardRowsT(const Point& pt, long r0, long r1, double* nu, double* m, const Index* ci, const Value* cv) const;
  /// Calls f(cols, vals) with the log κ arrays at their stored types (uint16/int32, float/double).
  template <class F>
  void withLogk(F&& f) const {
    const uint16_t* c16 = cols16_.empty() ? model_.cols16 : cols16_.data();
    if (c16) {
      if (model_.vals32) f(c16, model_.vals32);
      else f(c16, model_.vals64);
    } else {
      if (model_.vals32) f(model_.cols32, model_.vals32);
      else f(model_.cols32, model_.vals64);
    }
  }
  int col(long k) const { return model_.cols16 ? model_.cols16[k] : model_.cols32[k]; }
  double val(long k) const { return model_.vals32 ? static_cast<double>(model_.vals32[k]) : model_.vals64[k]; }
  struct BinDerivs {
    double w, wz, c, caz, czz;
  };
  /// Bin term at total ν_b = nub of which z is not scaled by β (0 unless split); +inf where the
  /// likelihood is zero or β undefined (ν_b ≤ 0 with n_b > 0, ν_b + k_b ≤ 0), derivatives NaN there.
  double binTerm(int b, double nub, double z, BinDerivs& d) const;
  bool rowActive(long b, int p) const { return !split_[b] || model_.bbActive[b * model_.nproc + p]; }
  double constraintTerm(const double* x) const;
  /// ∂ν/∂x of bin b (rows summed) as a sparse vector over parameters; rowJ gets each row's too when non-null.
  void binJacobian(const Point& pt, const double* nuRows, const double* mRows, int b, std::vector<double>& acc,
                   std::vector<char>& mark, SparseVec& out, std::vector<SparseVec>* rowJ, bool wantBin) const;
  void rowD(const Point& pt, long r, SparseVec& out) const;  // D_r over θ columns (indices nsig + s)
  ModelData model_;
  int threads_;
  Point pt_;
  std::vector<uint16_t> cols16_;  // 16-bit copy of int32 cols32 when every column index fits in 16 bits
  std::vector<uint8_t> split_;  // [nbins] bins with both β-scaled and unscaled rows (BB only)
  std::vector<long> binSplit_;  // balanced bin ranges per thread (by non-zeros)
  std::vector<std::vector<double>> scratchCols_, scratchPoi_;
  std::vector<std::vector<double>> scratchColsK_, scratchPoiK_;  // hvpBatch: [ncols][K], [nsig][K] per thread
};

}  // namespace fitter
