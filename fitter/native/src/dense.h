// Dense symmetric positive-definite linear algebra in float64: Cholesky factor, solve, inverse,
// log-determinant. Recursive (cache-oblivious) algorithms whose work is done by one packed GEMM
// with an AVX2/FMA micro-kernel; optionally OpenBLAS' dpotrf/dpotri loaded at run time.
#pragma once
#include <string>
#include <vector>

namespace fitter {

/// C += alpha op(A) op(B), column-major, op(A) m×k, op(B) k×n.
void gemm(bool transA, bool transB, long m, long n, long k, double alpha, const double* A, long lda, const double* B,
          long ldb, double* C, long ldc, int threads);

/// out_j = A v_j for k vectors (v_j = V + j n, out_j = out + j n) with A an n×n symmetric matrix stored
/// in float32 (row- and column-major agree), accumulated in float64. Each output element is one row's
/// dot product in a fixed order (8 lanes by 8-column chunks, then a fixed lane reduction, then the
/// tail), independent of k and of the thread count: results are reproducible bit for bit.
void symmF32(long n, long k, const float* A, const double* V, double* out, int threads);

class Cholesky {
 public:
  /// Factors the symmetric n×n matrix a (either triangle may be used; row- and column-major agree).
  /// Returns false when it is not positive definite.
  bool factor(const double* a, long n, int threads, const std::string& backend);
  void solve(const double* b, double* x) const;
  /// Writes the full symmetric inverse (n×n) into out.
  void inverse(double* out) const;
  double logDet() const;
  long n() const { return n_; }
  const std::string& backendUsed() const { return backend_; }

 private:
  bool diagonalFinite() const;
  long n_ = 0;
  int threads_ = 1;
  std::string backend_;
  std::vector<double> l_;  // column-major lower factor (upper triangle unspecified)
};

/// "openblas" when libopenblas could be loaded, else "".
std::string openblasAvailable();

}  // namespace fitter
