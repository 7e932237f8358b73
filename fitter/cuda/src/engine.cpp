#include "engine.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace hfcuda {

namespace {

// Asymmetric smooth step α(θ) and its first two derivatives (as the native engine).
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

// the device's memory for the HVP / Hessian directions: at most this many bytes per batch
constexpr double kBatchBytes = 512.0 * 1024 * 1024;

}  // namespace

const char* kernelName(Kernel k) {
  static const char* names[] = {"hf_forward",     "hf_bins",     "hf_gather_cols_partial", "hf_gather_cols", "hf_gather_poi_partial", "hf_gather_poi",
                                "hf_sum_partial", "hf_sum_final", "hf_hvp_rows",    "hf_hvp_bins",
                                "hf_yvar_y",      "hf_yvar_q",   "hf_logdet",      "hf_symmetrize_lower"};
  static_assert(sizeof(names) / sizeof(names[0]) == static_cast<size_t>(Kernel::Count), "one name per kernel");
  return names[static_cast<int>(k)];
}

double* Engine::devAlloc(size_t count) {
  void* p = dev_->alloc(std::max<size_t>(1, count) * sizeof(double));
  owned_.push_back(p);
  return static_cast<double*>(p);
}

template <class T>
T* Engine::devCopy(const std::vector<T>& v) {
  void* p = dev_->alloc(std::max<size_t>(1, v.size()) * sizeof(T));
  owned_.push_back(p);
  if (!v.empty()) dev_->upload(p, v.data(), v.size() * sizeof(T));
  return static_cast<T*>(p);
}

Engine::Engine(HostModel model, std::unique_ptr<Device> device) : M_(std::move(model)), dev_(std::move(device)) {
  const HostModel& M = M_;
  if (M.nbins > M.nbinsFull || M.nsig > M.nproc || M.nproc <= 0) throw std::invalid_argument("inconsistent model dimensions");
  const long nrowsFull = static_cast<long>(M.nbinsFull) * M.nproc;
  const long nrr = static_cast<long>(M.nbins) * M.nproc;
  if (static_cast<long>(M.rowPtr.size()) < nrowsFull + 1) throw std::invalid_argument("log k has fewer rows than nbinsFull * nproc");
  if (M.rowPtr[0] != 0 || static_cast<size_t>(M.rowPtr[nrowsFull]) > M.cols.size() || M.cols.size() != M.vals.size())
    throw std::invalid_argument("log k: row pointers do not match the column/value arrays");
  if (M.norm.size() < static_cast<size_t>(nrowsFull) || M.data.size() < static_cast<size_t>(M.nbins) ||
      M.cw.size() < static_cast<size_t>(M.nsyst) || M.theta0.size() < static_cast<size_t>(M.nsyst) ||
      (!M.bbK.empty() && M.bbK.size() < static_cast<size_t>(M.nbins)))
    throw std::invalid_argument("model arrays are shorter than the model dimensions");
  if (!M.bbActive.empty() && M.bbActive.size() < static_cast<size_t>(nrr)) throw std::invalid_argument("bbActive is shorter than nbins * nproc");
  if (M.ncols != (M.symmetric ? M.nsyst : 2 * M.nsyst)) throw std::invalid_argument("log k: wrong number of columns");
  for (long r = 0; r < nrowsFull; r++) {
    if (M.rowPtr[r + 1] < M.rowPtr[r]) throw std::invalid_argument("log k: row pointers decrease at row " + std::to_string(r));
    for (long k = M.rowPtr[r]; k < M.rowPtr[r + 1]; k++)
      if (M.cols[k] < 0 || M.cols[k] >= M.ncols || (k > M.rowPtr[r] && M.cols[k] <= M.cols[k - 1]))
        throw std::invalid_argument("log k: column indices out of range or unsorted in row " + std::to_string(r));
  }
  // split bins (BB with unscaled processes), as the native engine
  std::vector<uint8_t> split(M.nbins, 0);
  bool anySplit = false;
  if (!M.bbK.empty() && !M.bbActive.empty())
    for (long b = 0; b < M.nbins; b++) {
      if (!(std::isfinite(M.bbK[b]) && M.bbK[b] > 0)) continue;
      for (int p = 0; p < M.nproc; p++)
        if (!M.bbActive[b * M.nproc + p]) split[b] = 1;
      anySplit = anySplit || split[b];
    }
  // CSC of the real rows: the gradient and HVP gathers (Lᵀ u) without atomics
  const long nnzReal = M.rowPtr[nrr];
  std::vector<int32_t> colPtr(M.ncols + 1, 0), rowIdx(nnzReal);
  std::vector<double> valsT(nnzReal);
  for (long k = 0; k < nnzReal; k++) colPtr[M.cols[k] + 1]++;
  for (int c = 0; c < M.ncols; c++) colPtr[c + 1] += colPtr[c];
  {
    std::vector<int32_t> fill(colPtr.begin(), colPtr.end() - 1);
    for (long r = 0; r < nrr; r++)
      for (long k = M.rowPtr[r]; k < M.rowPtr[r + 1]; k++) {
        int32_t at = fill[M.cols[k]]++;
        rowIdx[at] = static_cast<int32_t>(r);
        valsT[at] = M.vals[k];
      }
  }
  dm_.nbins = M.nbins;
  dm_.nbinsFull = M.nbinsFull;
  dm_.nproc = M.nproc;
  dm_.nsig = M.nsig;
  dm_.nsyst = M.nsyst;
  dm_.ncols = M.ncols;
  dm_.symmetric = M.symmetric;
  dm_.logNormal = M.logNormal;
  dm_.norm = devCopy(M.norm);
  dm_.rowPtr = devCopy(M.rowPtr);
  dm_.cols = devCopy(M.cols);
  dm_.vals = devCopy(M.vals);
  dm_.colPtr = devCopy(colPtr);
  dm_.rowIdx = devCopy(rowIdx);
  dm_.valsT = devCopy(valsT);
  dm_.bbK = M.bbK.empty() ? nullptr : devCopy(M.bbK);
  dm_.active = anySplit ? devCopy(M.bbActive) : nullptr;
  dm_.split = anySplit ? devCopy(split) : nullptr;
  dm_.beta0 = nullptr;
  dataDev_ = devCopy(M.data);
  beta0Dev_ = devAlloc(M.nbins);
  dRDev_ = devAlloc(M.nproc);
  sumT_ = std::max(1, std::min(256, M.nbins));
  // segments per column of the CSC gather: ~32 entries each, at most 64
  int maxCol = 0;
  for (int c = 0; c < M.ncols; c++) maxCol = std::max(maxCol, colPtr[c + 1] - colPtr[c]);
  segs_ = std::max(1, std::min(64, (maxCol + 31) / 32));
  poiSegs_ = std::max(1, std::min(256, (M.nbins + 31) / 32));
  ensureWorkspace(pw_, 1);
}

Engine::~Engine() {
  freeWorkspace(pw_);
  freeWorkspace(bw_);
  for (double* p : {hdcol_, hvpoi_, hd_, hu_, hpoi_, hoc_, hop_, hpart_, hpoipart_})
    if (p) dev_->release(p);
  for (void* p : owned_) dev_->release(p);
}

void Engine::ensureWorkspace(Workspace& ws, int K) {
  if (ws.cap >= K) return;
  freeWorkspace(ws);
  const size_t nrr = static_cast<size_t>(M_.nbins) * M_.nproc;
  auto a = [&](size_t n) { return static_cast<double*>(dev_->alloc(std::max<size_t>(1, n) * sizeof(double))); };
  ws.a = a(static_cast<size_t>(K) * M_.ncols);
  ws.R = a(static_cast<size_t>(K) * M_.nproc);
  ws.nu = a(K * nrr);
  ws.mm = a(K * nrr);
  ws.data = a(static_cast<size_t>(K) * M_.nbins);
  ws.term = a(static_cast<size_t>(K) * M_.nbins);
  ws.w = a(static_cast<size_t>(K) * M_.nbins);
  ws.wz = a(static_cast<size_t>(K) * M_.nbins);
  ws.c = a(static_cast<size_t>(K) * M_.nbins);
  ws.caz = a(static_cast<size_t>(K) * M_.nbins);
  ws.czz = a(static_cast<size_t>(K) * M_.nbins);
  ws.coef = a(K * nrr);
  ws.poiCoef = a(K * nrr);
  ws.ltwg = a(static_cast<size_t>(K) * M_.ncols);
  ws.colPartial = a(static_cast<size_t>(K) * M_.ncols * segs_);
  ws.poi = a(static_cast<size_t>(K) * M_.nsig);
  ws.poiPartial = a(static_cast<size_t>(K) * M_.nsig * poiSegs_);
  ws.partial = a(static_cast<size_t>(K) * sumT_);
  ws.value = a(K);
  ws.cap = K;
}

void Engine::freeWorkspace(Workspace& ws) {
  double* ptrs[] = {ws.a, ws.R, ws.nu, ws.mm, ws.data, ws.term, ws.w, ws.wz, ws.c, ws.caz, ws.czz, ws.coef, ws.poiCoef, ws.ltwg, ws.colPartial, ws.poi, ws.poiPartial, ws.partial, ws.value};
  for (double* p : ptrs)
    if (p) dev_->release(p);
  ws = Workspace{};
}

void Engine::setParams(const double* xs, int K, Params& P) const {
  const HostModel& M = M_;
  const int n = nparams();
  P.a.assign(static_cast<size_t>(K) * M.ncols, 0.0);
  P.R.assign(static_cast<size_t>(K) * M.nproc, 1.0);
  P.dR.assign(static_cast<size_t>(K) * M.nproc, 0.0);
  P.d2R.assign(static_cast<size_t>(K) * M.nproc, 0.0);
  P.kappa.assign(static_cast<size_t>(K) * M.nsyst, 0.0);
  P.eps.assign(static_cast<size_t>(K) * M.nsyst, 0.0);
  for (int k = 0; k < K; k++) {
    const double* x = xs + static_cast<size_t>(k) * n;
    for (int q = 0; q < M.nsig; q++) {
      size_t i = static_cast<size_t>(k) * M.nproc + q;
      if (M.poiSquare) {
        P.R[i] = x[q] * x[q];
        P.dR[i] = 2 * x[q];
        P.d2R[i] = 2;
      } else {
        P.R[i] = x[q];
        P.dR[i] = 1;
      }
    }
    const double* th = x + M.nsig;
    double* a = P.a.data() + static_cast<size_t>(k) * M.ncols;
    for (int s = 0; s < M.nsyst; s++) a[s] = th[s];
    if (!M.symmetric)
      for (int s = 0; s < M.nsyst; s++) {
        double al, da, d2a;
        smoothStep(th[s], al, da, d2a);
        a[M.nsyst + s] = th[s] * al;
        P.kappa[static_cast<size_t>(k) * M.nsyst + s] = al + th[s] * da;
        P.eps[static_cast<size_t>(k) * M.nsyst + s] = 2 * da + th[s] * d2a;
      }
  }
}

void Engine::evalPoints(Workspace& ws, const double* xs, int K, const double* dataDev, bool wantGrad, double* values, double* grads,
                        std::vector<double>* ltwgOut, std::vector<double>* poiOut, Params& P) {
  const HostModel& M = M_;
  const int n = nparams();
  const long long nrr = static_cast<long long>(M.nbins) * M.nproc;
  setParams(xs, K, P);
  dev_->upload(ws.a, P.a.data(), P.a.size() * sizeof(double));
  dev_->upload(ws.R, P.R.data(), P.R.size() * sizeof(double));
  run(Kernel::Forward, nrr * K, HfForwardArgs{dm_, ws.a, ws.R, static_cast<int>(nrr), K, ws.nu, ws.mm});
  run(Kernel::Bins, static_cast<long long>(M.nbins) * K,
      HfBinsArgs{dm_, dataDev, ws.nu, ws.mm, K, ws.term, ws.w, ws.wz, ws.c, ws.caz, ws.czz, ws.coef, ws.poiCoef});
  HfSumArgs sa{ws.term, M.nbins, K, sumT_, ws.partial, ws.value};
  run(Kernel::SumPartial, static_cast<long long>(K) * sumT_, sa);
  run(Kernel::SumFinal, K, sa);
  dev_->download(values, ws.value, K * sizeof(double));
  for (int k = 0; k < K; k++) {
    const double* x = xs + static_cast<size_t>(k) * n;
    double s = 0;
    for (int j = 0; j < M.nsyst; j++) {
      double d = x[M.nsig + j] - M.theta0[j];
      s += M.cw[j] * d * d;
    }
    values[k] += 0.5 * s;
  }
  if (!wantGrad) return;
  gatherCols(ws.coef, K, ws.colPartial, ws.ltwg);
  gatherPoi(ws.poiCoef, K, ws.poiPartial, ws.poi);
  std::vector<double> ltwg(static_cast<size_t>(K) * M.ncols), poi(static_cast<size_t>(K) * M.nsig);
  dev_->download(ltwg.data(), ws.ltwg, ltwg.size() * sizeof(double));
  dev_->download(poi.data(), ws.poi, poi.size() * sizeof(double));
  for (int k = 0; k < K; k++) {
    const double* x = xs + static_cast<size_t>(k) * n;
    double* g = grads + static_cast<size_t>(k) * n;
    const double* lt = ltwg.data() + static_cast<size_t>(k) * M.ncols;
    for (int q = 0; q < M.nsig; q++) g[q] = P.dR[static_cast<size_t>(k) * M.nproc + q] * poi[static_cast<size_t>(k) * M.nsig + q];
    for (int s = 0; s < M.nsyst; s++) {
      double v = lt[s];
      if (!M.symmetric) v += P.kappa[static_cast<size_t>(k) * M.nsyst + s] * lt[M.nsyst + s];
      g[M.nsig + s] = v + M.cw[s] * (x[M.nsig + s] - M.theta0[s]);
    }
  }
  if (ltwgOut) ltwgOut->assign(ltwg.begin(), ltwg.begin() + M.ncols);
  if (poiOut) poiOut->assign(poi.begin(), poi.begin() + M.nsig);
}

void Engine::gatherCols(const double* rowv, int K, double* partial, double* out) {
  HfGatherColsArgs g{dm_, rowv, K, segs_, partial, out};
  run(Kernel::GatherColsPartial, static_cast<long long>(M_.ncols) * segs_ * K, g);
  run(Kernel::GatherCols, static_cast<long long>(M_.ncols) * K, g);
}

void Engine::gatherPoi(const double* rowv, int K, double* partial, double* out) {
  HfGatherPoiArgs g{dm_, rowv, K, poiSegs_, partial, out};
  run(Kernel::GatherPoiPartial, static_cast<long long>(M_.nsig) * poiSegs_ * K, g);
  run(Kernel::GatherPoi, static_cast<long long>(M_.nsig) * K, g);
}

void Engine::evalPoint(const double* x, bool wantGrad) {
  const int n = nparams();
  if (pvalid_ && (!wantGrad || phasGrad_) && std::equal(x, x + n, px_.begin())) return;
  pvalid_ = false;
  px_.assign(x, x + n);
  pgrad_.assign(n, 0.0);
  evalPoints(pw_, x, 1, dataDev_, wantGrad, &pvalue_, pgrad_.data(), &pltwg_, &ppoi_, pp_);
  phasGrad_ = wantGrad;
  pvalid_ = true;
}

double Engine::nll(const double* x) {
  evalPoint(x, false);
  return pvalue_;
}

double Engine::valueAndGradient(const double* x, double* grad) {
  evalPoint(x, true);
  std::copy(pgrad_.begin(), pgrad_.end(), grad);
  return pvalue_;
}

void Engine::hvp(const double* x, const double* v, int K, double* out) {
  if (K <= 0) return;
  evalPoint(x, true);
  const HostModel& M = M_;
  const int n = nparams();
  const long long nrr = static_cast<long long>(M.nbins) * M.nproc;
  if (hcap_ < K) {
    double* old[] = {hdcol_, hvpoi_, hd_, hu_, hpoi_, hoc_, hop_, hpart_, hpoipart_};
    for (double* p : old)
      if (p) dev_->release(p);
    auto a = [&](size_t c) { return static_cast<double*>(dev_->alloc(std::max<size_t>(1, c) * sizeof(double))); };
    hdcol_ = a(static_cast<size_t>(K) * M.ncols);
    hvpoi_ = a(static_cast<size_t>(K) * M.nsig);
    hd_ = a(static_cast<size_t>(K) * nrr);
    hu_ = a(static_cast<size_t>(K) * nrr);
    hpoi_ = a(static_cast<size_t>(K) * nrr);
    hoc_ = a(static_cast<size_t>(K) * M.ncols);
    hop_ = a(static_cast<size_t>(K) * M.nsig);
    hpart_ = a(static_cast<size_t>(K) * M.ncols * segs_);
    hpoipart_ = a(static_cast<size_t>(K) * M.nsig * poiSegs_);
    hcap_ = K;
  }
  std::vector<double> dcol(static_cast<size_t>(K) * M.ncols), vpoi(static_cast<size_t>(K) * M.nsig);
  for (int k = 0; k < K; k++) {
    const double* vk = v + static_cast<size_t>(k) * n;
    for (int s = 0; s < M.nsyst; s++) dcol[static_cast<size_t>(k) * M.ncols + s] = vk[M.nsig + s];
    if (!M.symmetric)
      for (int s = 0; s < M.nsyst; s++) dcol[static_cast<size_t>(k) * M.ncols + M.nsyst + s] = vk[M.nsig + s] * pp_.kappa[s];
    for (int q = 0; q < M.nsig; q++) vpoi[static_cast<size_t>(k) * M.nsig + q] = vk[q];
  }
  dev_->upload(hdcol_, dcol.data(), dcol.size() * sizeof(double));
  if (!vpoi.empty()) dev_->upload(hvpoi_, vpoi.data(), vpoi.size() * sizeof(double));
  dev_->upload(dRDev_, pp_.dR.data(), M.nproc * sizeof(double));
  run(Kernel::HvpRows, nrr * K, HfHvpRowsArgs{dm_, hdcol_, K, hd_});
  run(Kernel::HvpBins, static_cast<long long>(M.nbins) * K,
      HfHvpBinsArgs{dm_, pw_.nu, pw_.mm, pw_.w, pw_.wz, pw_.c, pw_.caz, pw_.czz, dRDev_, hvpoi_, hd_, K, hu_, hpoi_});
  gatherCols(hu_, K, hpart_, hoc_);
  gatherPoi(hpoi_, K, hpoipart_, hop_);
  std::vector<double> oc(static_cast<size_t>(K) * M.ncols), op(static_cast<size_t>(K) * M.nsig);
  dev_->download(oc.data(), hoc_, oc.size() * sizeof(double));
  if (!op.empty()) dev_->download(op.data(), hop_, op.size() * sizeof(double));
  for (int k = 0; k < K; k++) {
    const double* vk = v + static_cast<size_t>(k) * n;
    double* o = out + static_cast<size_t>(k) * n;
    for (int q = 0; q < M.nsig; q++) o[q] = pp_.dR[q] * op[static_cast<size_t>(k) * M.nsig + q] + pp_.d2R[q] * vk[q] * ppoi_[q];
    for (int s = 0; s < M.nsyst; s++) {
      const double vs = vk[M.nsig + s];
      double r = oc[static_cast<size_t>(k) * M.ncols + s] + M.cw[s] * vs;
      if (!M.symmetric) r += pp_.kappa[s] * oc[static_cast<size_t>(k) * M.ncols + M.nsyst + s] + pp_.eps[s] * pltwg_[M.nsyst + s] * vs;
      o[M.nsig + s] = r;
    }
  }
}

void Engine::hessian(const double* x, double* h) {
  // exact Hessian = H·I, as batches of exact HVPs (SpMM-like: the model is read once per batch)
  const int n = nparams();
  const double perDir = 3.0 * M_.nbins * M_.nproc * sizeof(double) + (2.0 + segs_) * M_.ncols * sizeof(double);
  const int K = std::max(1, std::min(n, static_cast<int>(kBatchBytes / std::max(1.0, perDir))));
  std::vector<double> V(static_cast<size_t>(K) * n), out(static_cast<size_t>(K) * n);
  for (int j0 = 0; j0 < n; j0 += K) {
    const int kk = std::min(K, n - j0);
    std::fill(V.begin(), V.end(), 0.0);
    for (int k = 0; k < kk; k++) V[static_cast<size_t>(k) * n + j0 + k] = 1.0;
    hvp(x, V.data(), kk, out.data());
    // H e_j is column j, stored as row j (contiguous): H is symmetric up to rounding, made exact below
    std::copy(out.begin(), out.begin() + static_cast<size_t>(kk) * n, h + static_cast<size_t>(j0) * n);
  }
  const int tile = 64;
  for (int i0 = 0; i0 < n; i0 += tile)
    for (int j0 = 0; j0 <= i0; j0 += tile)
      for (int i = i0; i < std::min(n, i0 + tile); i++)
        for (int j = j0; j < std::min(i, j0 + tile); j++) {
          double v = 0.5 * (h[static_cast<size_t>(i) * n + j] + h[static_cast<size_t>(j) * n + i]);
          h[static_cast<size_t>(i) * n + j] = v;
          h[static_cast<size_t>(j) * n + i] = v;
        }
}

void Engine::yields(const double* x, double* out) {
  const HostModel& M = M_;
  const long long nrf = static_cast<long long>(M.nbinsFull) * M.nproc;
  if (!fnu_) {
    fnu_ = devAlloc(nrf);
    fmm_ = devAlloc(nrf);
    fR_ = devAlloc(M.nproc);
    fa_ = devAlloc(M.ncols);
  }
  Params P;
  setParams(x, 1, P);
  dev_->upload(fa_, P.a.data(), P.a.size() * sizeof(double));
  dev_->upload(fR_, P.R.data(), P.R.size() * sizeof(double));
  run(Kernel::Forward, nrf, HfForwardArgs{dm_, fa_, fR_, static_cast<int>(nrf), 1, fnu_, fmm_});
  dev_->download(out, fnu_, nrf * sizeof(double));
}

void Engine::yieldVariances(const double* x, const double* cov, double* perRow, double* perBin) {
  const HostModel& M = M_;
  const int n = nparams();
  std::vector<double> tmp(static_cast<size_t>(M.nbinsFull) * M.nproc);
  yields(x, tmp.data());  // fills fnu_/fmm_ on the device
  Params P;
  setParams(x, 1, P);
  double* dR = static_cast<double*>(dev_->alloc(std::max(1, M.nproc) * sizeof(double)));
  double* kappa = static_cast<double*>(dev_->alloc(std::max(1, M.nsyst) * sizeof(double)));
  double* C = static_cast<double*>(dev_->alloc(std::max<size_t>(1, static_cast<size_t>(n) * n) * sizeof(double)));
  double* pr = static_cast<double*>(dev_->alloc(tmp.size() * sizeof(double)));
  double* pb = static_cast<double*>(dev_->alloc(std::max(1, M.nbinsFull) * sizeof(double)));
  dev_->upload(dR, P.dR.data(), M.nproc * sizeof(double));
  if (M.nsyst) dev_->upload(kappa, P.kappa.data(), M.nsyst * sizeof(double));
  dev_->upload(C, cov, static_cast<size_t>(n) * n * sizeof(double));
  const double perBinBytes = static_cast<double>(M.nproc) * std::max(1, n) * sizeof(double);
  const int chunk = std::max(1, std::min(M.nbinsFull, static_cast<int>(kBatchBytes / perBinBytes)));
  double* Y = static_cast<double*>(dev_->alloc(static_cast<size_t>(chunk) * M.nproc * std::max(1, n) * sizeof(double)));
  for (int b0 = 0; b0 < M.nbinsFull; b0 += chunk) {
    const int b1 = std::min(M.nbinsFull, b0 + chunk);
    HfYvarArgs ya{dm_, fnu_, fmm_, dR, kappa, C, n, b0, b1, Y, pr, pb};
    run(Kernel::YvarY, static_cast<long long>(b1 - b0) * M.nproc * n, ya);
    run(Kernel::YvarQ, b1 - b0, ya);
  }
  dev_->download(perRow, pr, tmp.size() * sizeof(double));
  dev_->download(perBin, pb, M.nbinsFull * sizeof(double));
  for (double* p : {dR, kappa, C, pr, pb, Y}) dev_->release(p);
}

void Engine::setData(const double* d) {
  std::copy(d, d + M_.nbins, M_.data.begin());
  dev_->upload(dataDev_, d, M_.nbins * sizeof(double));
  pvalid_ = false;
}

void Engine::setTheta0(const double* t0) {
  std::copy(t0, t0 + M_.nsyst, M_.theta0.begin());
  pvalid_ = false;
}

void Engine::setBeta0(const double* b0) {
  if (b0) {
    dev_->upload(beta0Dev_, b0, M_.nbins * sizeof(double));
    dm_.beta0 = beta0Dev_;
  } else {
    dm_.beta0 = nullptr;
  }
  pvalid_ = false;
}

void Engine::valueAndGradientBatch(const double* xs, const double* data, int K, double* values, double* grads) {
  if (K <= 0) return;
  ensureWorkspace(bw_, K);
  dev_->upload(bw_.data, data, static_cast<size_t>(K) * M_.nbins * sizeof(double));
  Params P;
  evalPoints(bw_, xs, K, bw_.data, true, values, grads, nullptr, nullptr, P);
}

double Engine::spdInverse(const double* a, int n, double* out) {
  const size_t bytes = std::max<size_t>(1, static_cast<size_t>(n) * n) * sizeof(double);
  double* d = static_cast<double*>(dev_->alloc(bytes));
  dev_->upload(d, a, static_cast<size_t>(n) * n * sizeof(double));
  double logDet = 0;
  bool ok = n == 0 || dev_->spdInverse(d, n, &logDet);
  if (ok) dev_->download(out, d, static_cast<size_t>(n) * n * sizeof(double));
  dev_->release(d);
  return ok ? logDet : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace hfcuda
