// Host side of the CUDA float64 likelihood: owns the model on a Device and drives the kernels of
// likelihood.cu. Same formulas and interface as fitter/native's Evaluator; only vectors cross
// between host and device (parameters, data, gradients, HVP results), plus the dense Hessian and
// covariance that the caller asks for.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../kernels/args.h"
#include "device.h"

namespace hfcuda {

struct HostModel {
  int nbins = 0, nbinsFull = 0, nproc = 0, nsig = 0, nsyst = 0, ncols = 0;
  bool symmetric = true, logNormal = true, poiSquare = false;
  std::vector<double> norm;
  std::vector<int32_t> rowPtr, cols;
  std::vector<double> vals;  // log κ in float64 (callers convert float32 storage)
  std::vector<double> data;
  std::vector<double> bbK;        // empty = BB off
  std::vector<uint8_t> bbActive;  // empty = every process scaled
  std::vector<double> cw, theta0;
};

class Engine {
 public:
  Engine(HostModel model, std::unique_ptr<Device> device);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;
  int nparams() const { return M_.nsig + M_.nsyst; }
  double nll(const double* x);
  double valueAndGradient(const double* x, double* grad);
  /** K directions at one point: v and out are [K][n] */
  void hvp(const double* x, const double* v, int K, double* out);
  void hessian(const double* x, double* h);
  void yields(const double* x, double* out);
  void yieldVariances(const double* x, const double* cov, double* perRow, double* perBin);
  void setData(const double* d);
  void setTheta0(const double* t0);
  void setBeta0(const double* b0);
  /** K toys: points xs [K][n], data [K][nbins] → values [K], grads [K][n] */
  void valueAndGradientBatch(const double* xs, const double* data, int K, double* values, double* grads);
  /** a (n×n symmetric, host) → out = a⁻¹ on the device; returns log det a, NaN when a is not positive definite */
  double spdInverse(const double* a, int n, double* out);
  std::string description() const { return dev_->description(); }
  double copyBandwidth(size_t bytes, int reps) { return dev_->copyBandwidth(bytes, reps); }
  const char* kind() const { return dev_->kind(); }

 private:
  struct Params {  // host-side per-point quantities, K points
    std::vector<double> a, R, dR, d2R, kappa, eps;
  };
  struct Workspace {  // device arrays for K points
    int cap = 0;
    double *a = nullptr, *R = nullptr, *nu = nullptr, *mm = nullptr, *data = nullptr;
    double *term = nullptr, *w = nullptr, *wz = nullptr, *c = nullptr, *caz = nullptr, *czz = nullptr;
    double *coef = nullptr, *poiCoef = nullptr, *ltwg = nullptr, *colPartial = nullptr, *poi = nullptr, *poiPartial = nullptr, *partial = nullptr, *value = nullptr;
  };
  void setParams(const double* xs, int K, Params& P) const;
  void ensureWorkspace(Workspace& ws, int K);
  void freeWorkspace(Workspace& ws);
  /** values [K]; with grads: gradients [K][n], and ltwg/poiWm of point 0 kept in the host state */
  void evalPoints(Workspace& ws, const double* xs, int K, const double* dataDev, bool wantGrad, double* values, double* grads,
                  std::vector<double>* ltwgOut, std::vector<double>* poiOut, Params& P);
  void evalPoint(const double* x, bool wantGrad);
  /** out [K][ncols] = Lᵀ rowv by segment partial sums (partial: [K][ncols][segs_]) */
  void gatherCols(const double* rowv, int K, double* partial, double* out);
  /** out [K][nsig] = Σ_b rowv[k][b·nproc + q] by segment partial sums (partial: [K][nsig][poiSegs_]) */
  void gatherPoi(const double* rowv, int K, double* partial, double* out);
  double* devAlloc(size_t count);
  template <class T>
  T* devCopy(const std::vector<T>& v);
  template <class A>
  void run(Kernel k, long long total, const A& args) {
    dev_->launch(k, total, &args, sizeof args);
  }

  HostModel M_;
  std::unique_ptr<Device> dev_;
  std::vector<void*> owned_;
  HfModel dm_{};
  double* dataDev_ = nullptr;
  double* beta0Dev_ = nullptr;
  double* dRDev_ = nullptr;  // dR of the current point (HVP)
  int sumT_ = 1;
  int segs_ = 1, poiSegs_ = 1;
  // the current point (K = 1)
  Workspace pw_;
  Params pp_;
  std::vector<double> px_, pltwg_, ppoi_, pgrad_;
  double pvalue_ = 0;
  bool pvalid_ = false, phasGrad_ = false;
  // HVP batches
  int hcap_ = 0;
  double *hdcol_ = nullptr, *hvpoi_ = nullptr, *hd_ = nullptr, *hu_ = nullptr, *hpoi_ = nullptr, *hoc_ = nullptr, *hop_ = nullptr, *hpart_ = nullptr, *hpoipart_ = nullptr;
  // toy batches
  Workspace bw_;
  // full-row yields
  double *fnu_ = nullptr, *fmm_ = nullptr, *fR_ = nullptr, *fa_ = nullptr;
};

}  // namespace hfcuda
