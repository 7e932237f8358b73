// Envelope (profile, skyline) Cholesky of a sparse symmetric positive-definite matrix, stored by rows:
// row r of the (permuted) factor holds columns first[r]..r contiguously. Fill stays inside the envelope,
// so its size is known before factoring. See envelope.cpp for the schedule and the selected inversion.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace fitter {

class EnvelopeCholesky {
 public:
  /// Factors P A Pᵀ (perm[r] = original index of permuted row r). A is CSR with both triangles
  /// (rowPtr n+1, cols, values). keep (nullable, length n): rows/columns with keep = 0 are replaced by
  /// the identity. Returns -1 on success, else the ORIGINAL index of the first non-positive pivot.
  long factor(long n, const int64_t* rowPtr, const int32_t* cols, const double* values, const int32_t* perm,
              const uint8_t* keep, int threads);
  /// k right-hand sides, column-major n×k in original order; out may alias b.
  void solve(const double* b, long k, double* out, int threads) const;
  double logDet() const;
  /// diag(A⁻¹) in original order, by the Takahashi recurrences over the envelope (needs envelope-size scratch);
  /// keep = true holds the selected inverse (A⁻¹ on the envelope) for quadraticForms.
  void inverseDiagonal(double* out, int threads, bool keep = false);
  /// vᵀ A⁻¹ v for sparse vectors (CSR: ptr nvec+1, original indices, values) from the kept selected
  /// inverse; NaN for a vector with a pair of indices outside the envelope. Needs inverseDiagonal(keep).
  void quadraticForms(long nvec, const int64_t* ptr, const int32_t* idx, const double* val, double* out, int threads) const;
  bool hasSelectedInverse() const { return !Z_.empty(); }
  long n() const { return n_; }
  /// stored doubles in the envelope
  int64_t entries() const { return static_cast<int64_t>(L_.size()); }
  size_t bytes() const;
  /// multiply-adds the factorisation took (Σ over entries of their dot lengths): the cost model's unit
  double factorMultiplyAdds() const { return madds_; }
  void release();

 private:
  long n_ = 0;
  std::vector<int32_t> perm_, first_;
  std::vector<int64_t> start_;
  std::vector<double> L_;
  std::vector<double> Z_;  // selected inverse on the envelope (kept on request)
  std::vector<int32_t> inv_;
  double madds_ = 0;
  double* row(long r) { return L_.data() + start_[r] - first_[r]; }  // row(r)[c] = L_rc
  const double* row(long r) const { return L_.data() + start_[r] - first_[r]; }
};

}  // namespace fitter
