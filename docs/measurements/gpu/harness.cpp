// Node-free device check of the CUDA engine (the H200 image has no Node): the CUDA engine
// (fitter/cuda/src) against the native engine (fitter/native/src), both C++, in one process.
//  1. every model dump in models/ (tensor fixtures of tests/ and ../shared/data/rabbit, written by
//     dump-models.mjs), POI modes linear and square: NLL, gradient, HVP, Hessian, yields, yield
//     variances, θ0/β0/data changes, batched toys, SPD inverse — worst relative differences, and a
//     failure above --tol (default 1e-11);
//  2. a synthetic model of the W-mass size (2880 bins, 10 processes, 4859 nuisances, --nnz-per-row
//     log κ entries per row in local blocks): time per HVP (its bandwidth as a fraction of the card's
//     copy bandwidth), exact Hessian, Cholesky + inverse, NLL+gradient of 100 toys (batched on the
//     GPU, one by one natively), each against the native engine on --threads cores.
// Build and run: docs/measurements/gpu/device-run.sh. --emulate runs the CUDA half on the CPU
// emulation (no GPU: checks this harness; its timings mean nothing).
#include <dirent.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cudaApi.h"
#include "dense.h"
#include "device.h"
#include "engine.h"
#include "evaluator.h"

namespace hfcuda {
Device* createEmulatedDevice();
Device* createCudaDevice(const CudaApi& api, const LoadReport& rep, const std::string& source, const std::string& header,
                         const std::string& cacheDir);
}  // namespace hfcuda

namespace {

struct Dump {
  std::string name;
  int nbins, nbinsFull, nproc, nsig, nsyst, ncols, symmetric, logNormal, hasBB, hasActive, nnz;
  std::vector<double> norm, vals, data, bbK, cw, theta0;
  std::vector<int32_t> rowPtr, cols;
  std::vector<uint8_t> active;
};

template <class T>
void readVec(std::ifstream& f, std::vector<T>& v, size_t n) {
  v.resize(n);
  f.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(n * sizeof(T)));
}

bool readDump(const std::string& path, Dump& d) {
  std::ifstream f(path, std::ios::binary);
  char magic[8];
  f.read(magic, 8);
  if (!f || std::memcmp(magic, "HFSPEC1", 7) != 0) return false;
  int32_t h[11];
  f.read(reinterpret_cast<char*>(h), sizeof h);
  d.nbins = h[0], d.nbinsFull = h[1], d.nproc = h[2], d.nsig = h[3], d.nsyst = h[4], d.ncols = h[5];
  d.symmetric = h[6], d.logNormal = h[7], d.hasBB = h[8], d.hasActive = h[9], d.nnz = h[10];
  const size_t nrows = static_cast<size_t>(d.nbinsFull) * d.nproc;
  readVec(f, d.norm, nrows);
  readVec(f, d.rowPtr, nrows + 1);
  readVec(f, d.cols, d.nnz);
  readVec(f, d.vals, d.nnz);
  readVec(f, d.data, d.nbins);
  if (d.hasBB) readVec(f, d.bbK, d.nbins);
  if (d.hasActive) readVec(f, d.active, static_cast<size_t>(d.nbins) * d.nproc);
  readVec(f, d.cw, d.nsyst);
  readVec(f, d.theta0, d.nsyst);
  return static_cast<bool>(f);
}

fitter::ModelData nativeModel(const Dump& d, bool square) {
  fitter::ModelData m;
  m.nbins = d.nbins, m.nbinsFull = d.nbinsFull, m.nproc = d.nproc, m.nsig = d.nsig, m.nsyst = d.nsyst, m.ncols = d.ncols;
  m.symmetric = d.symmetric, m.logNormal = d.logNormal, m.poiSquare = square;
  m.norm = d.norm, m.rowPtr = d.rowPtr, m.cols = d.cols, m.vals = d.vals, m.data = d.data, m.bbK = d.bbK, m.bbActive = d.active;
  m.cw = d.cw, m.theta0 = d.theta0;
  return m;
}

hfcuda::HostModel cudaModel(const Dump& d, bool square) {
  hfcuda::HostModel m;
  m.nbins = d.nbins, m.nbinsFull = d.nbinsFull, m.nproc = d.nproc, m.nsig = d.nsig, m.nsyst = d.nsyst, m.ncols = d.ncols;
  m.symmetric = d.symmetric, m.logNormal = d.logNormal, m.poiSquare = square;
  m.norm = d.norm, m.rowPtr = d.rowPtr, m.cols = d.cols, m.vals = d.vals, m.data = d.data, m.bbK = d.bbK, m.bbActive = d.active;
  m.cw = d.cw, m.theta0 = d.theta0;
  return m;
}

double relErr(const double* a, const double* b, size_t n) {
  double scale = 1e-300, diff = 0;
  for (size_t i = 0; i < n; i++) {
    scale = std::max(scale, std::fabs(b[i]));
    if (std::isnan(a[i]) && std::isnan(b[i])) continue;
    if (a[i] != b[i]) diff = std::max(diff, std::fabs(a[i] - b[i]));
    if (std::isnan(a[i]) != std::isnan(b[i])) return INFINITY;
  }
  return diff / scale;
}

std::string readText(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::string> listDir(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) out.push_back(e->d_name);
    closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// library candidates: HEPFIT_CUDA_LIBS folders (device-run.sh adds python's nvidia wheels), CUDA_HOME,
// /usr/local/cuda, /usr/local/nvidia, then bare sonames (newest version first within a folder)
std::vector<hfcuda::LibraryCandidates> candidates() {
  std::vector<std::string> dirs;
  if (const char* e = std::getenv("HEPFIT_CUDA_LIBS")) {
    std::string s = e;
    size_t p = 0;
    while (p <= s.size()) {
      size_t q = s.find(':', p);
      if (q == std::string::npos) q = s.size();
      if (q > p) dirs.push_back(s.substr(p, q - p));
      p = q + 1;
    }
  }
  if (const char* e = std::getenv("CUDA_HOME")) dirs.push_back(std::string(e) + "/lib64");
  for (const char* d : {"/usr/local/cuda/lib64", "/usr/local/nvidia/lib64", "/usr/local/nvidia/lib"}) dirs.push_back(d);
  struct L {
    const char* name;
    const char* stem;
    bool required;
    std::vector<std::string> sonames;
  };
  std::vector<L> libs = {{"cuda", "libcuda.so", true, {"libcuda.so.1"}},
                         {"nvrtc", "libnvrtc.so", true, {"libnvrtc.so.13", "libnvrtc.so.12"}},
                         {"nvJitLink", "libnvJitLink.so", false, {"libnvJitLink.so.13", "libnvJitLink.so.12"}},
                         {"cublasLt", "libcublasLt.so", false, {"libcublasLt.so.13", "libcublasLt.so.12"}},
                         {"cublas", "libcublas.so", true, {"libcublas.so.13", "libcublas.so.12"}},
                         {"cusparse", "libcusparse.so", false, {"libcusparse.so.12"}},
                         {"cusolver", "libcusolver.so", true, {"libcusolver.so.12", "libcusolver.so.11"}}};
  std::vector<hfcuda::LibraryCandidates> out;
  for (const L& l : libs) {
    hfcuda::LibraryCandidates c;
    c.name = l.name;
    c.required = l.required;
    const std::string stem = l.stem;
    for (const std::string& d : dirs) {
      std::vector<std::string> found;
      for (const std::string& f : listDir(d)) {
        if (f.compare(0, stem.size(), stem) != 0) continue;
        std::string rest = f.substr(stem.size());
        if (!rest.empty() && (rest[0] != '.' || rest.find_first_not_of(".0123456789") != std::string::npos)) continue;
        found.push_back(d + "/" + f);
      }
      std::sort(found.rbegin(), found.rend());
      c.paths.insert(c.paths.end(), found.begin(), found.end());
    }
    c.paths.insert(c.paths.end(), l.sonames.begin(), l.sonames.end());
    out.push_back(c);
  }
  return out;
}

struct Ctx {
  bool emulate = false;
  const hfcuda::CudaApi* api = nullptr;
  const hfcuda::LoadReport* rep = nullptr;
  std::string source, header, cacheDir;
};

std::unique_ptr<hfcuda::Device> makeDevice(const Ctx& c) {
  if (c.emulate) return std::unique_ptr<hfcuda::Device>(hfcuda::createEmulatedDevice());
  return std::unique_ptr<hfcuda::Device>(hfcuda::createCudaDevice(*c.api, *c.rep, c.source, c.header, c.cacheDir));
}

using Clock = std::chrono::steady_clock;
template <class F>
double timeMedian(F f, int reps) {
  std::vector<double> t;
  for (int i = 0; i < reps; i++) {
    auto t0 = Clock::now();
    f();
    t.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

std::string fmt(double s) {
  char b[64];
  if (s < 1e-3) std::snprintf(b, sizeof b, "%.1f us", s * 1e6);
  else if (s < 1) std::snprintf(b, sizeof b, "%.3f ms", s * 1e3);
  else std::snprintf(b, sizeof b, "%.3f s", s);
  return b;
}

// worst relative errors of the CUDA engine against the native one on one model and POI mode
std::map<std::string, double> compare(const Dump& d, bool square, const Ctx& c, int threads) {
  std::map<std::string, double> err;
  auto note = [&](const char* k, double e) { err[k] = std::max(err[k], e); };
  fitter::Evaluator ref(nativeModel(d, square), threads);
  hfcuda::Engine eng(cudaModel(d, square), makeDevice(c));
  const int n = d.nsig + d.nsyst;
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> U(0, 1);
  std::vector<std::vector<double>> pts;
  std::vector<double> x0(n, 0.0);
  for (int q = 0; q < d.nsig; q++) x0[q] = 1;
  pts.push_back(x0);
  for (double w : {0.4, 1.6}) {
    std::vector<double> x(n);
    for (int q = 0; q < d.nsig; q++) x[q] = 0.7 + 0.6 * U(rng);
    for (int s = 0; s < d.nsyst; s++) x[d.nsig + s] = w * (2 * U(rng) - 1);
    pts.push_back(x);
  }
  const size_t nrf = static_cast<size_t>(d.nbinsFull) * d.nproc;
  std::vector<double> g1(n), g2(n), v(n), h1(n), h2(n), H1(static_cast<size_t>(n) * n), H2(H1.size()), y1(nrf), y2(nrf);
  for (auto& x : pts) {
    double a = eng.nll(x.data()), b = ref.nll(x.data());
    note("nll", relErr(&a, &b, 1));
    a = eng.valueAndGradient(x.data(), g1.data());
    b = ref.valueAndGradient(x.data(), g2.data());
    note("value", relErr(&a, &b, 1));
    note("gradient", relErr(g1.data(), g2.data(), n));
    for (int t = 0; t < 2; t++) {
      for (auto& vi : v) vi = U(rng) - 0.5;
      eng.hvp(x.data(), v.data(), 1, h1.data());
      ref.hvp(x.data(), v.data(), h2.data());
      note("hvp", relErr(h1.data(), h2.data(), n));
    }
    eng.hessian(x.data(), H1.data());
    ref.hessian(x.data(), H2.data());
    note("hessian", relErr(H1.data(), H2.data(), H1.size()));
    eng.yields(x.data(), y1.data());
    ref.yields(x.data(), y2.data());
    note("yields", relErr(y1.data(), y2.data(), nrf));
    // a covariance: the inverse Hessian where it is positive definite, else the identity
    std::vector<double> cov(static_cast<size_t>(n) * n, 0.0);
    fitter::Cholesky ch;
    if (ch.factor(H2.data(), n, threads, "native")) ch.inverse(cov.data());
    else
      for (int i = 0; i < n; i++) cov[static_cast<size_t>(i) * n + i] = 1;
    std::vector<double> pr1(nrf), pr2(nrf), pb1(d.nbinsFull), pb2(d.nbinsFull);
    eng.yieldVariances(x.data(), cov.data(), pr1.data(), pb1.data());
    ref.yieldVariances(x.data(), cov.data(), pr2.data(), pb2.data());
    note("yieldVariances", relErr(pr1.data(), pr2.data(), nrf));
    note("yieldVariances", relErr(pb1.data(), pb2.data(), d.nbinsFull));
    // inverse: cuSOLVER vs the native Cholesky
    if (std::equal(x.begin(), x.end(), pts[0].begin())) {
      std::vector<double> inv(cov.size());
      double ld = eng.spdInverse(H2.data(), n, inv.data());
      fitter::Cholesky c2;
      bool ok = c2.factor(H2.data(), n, threads, "native");
      if (ok != !std::isnan(ld)) note("inverse", INFINITY);
      if (ok) {
        std::vector<double> ref2(cov.size());
        c2.inverse(ref2.data());
        note("inverse", relErr(inv.data(), ref2.data(), inv.size()));
        double l2 = c2.logDet();
        note("logDet", relErr(&ld, &l2, 1));
      }
    }
  }
  // toys: data, θ0, β0 changes; batched toys
  std::vector<double> data(d.data), theta0(d.nsyst), beta0(d.nbins);
  for (int b = 0; b < d.nbins; b++) data[b] = b % 3 == 0 ? 0 : std::round(d.data[b] * (0.8 + 0.4 * U(rng)));
  for (auto& t : theta0) t = 0.5 * (U(rng) - 0.5);
  for (auto& b : beta0) b = 0.8 + 0.4 * U(rng);
  eng.setData(data.data()), ref.setData(data.data());
  eng.setTheta0(theta0.data()), ref.setTheta0(theta0.data());
  if (d.hasBB) eng.setBeta0(beta0.data()), ref.setBeta0(beta0.data());
  {
    double a = eng.valueAndGradient(pts[1].data(), g1.data()), b = ref.valueAndGradient(pts[1].data(), g2.data());
    note("toyValue", relErr(&a, &b, 1));
    note("toyGradient", relErr(g1.data(), g2.data(), n));
    eng.hvp(pts[1].data(), v.data(), 1, h1.data());
    ref.hvp(pts[1].data(), v.data(), h2.data());
    note("toyHvp", relErr(h1.data(), h2.data(), n));
  }
  const int K = 3;
  std::vector<double> xs(static_cast<size_t>(K) * n), ds(static_cast<size_t>(K) * d.nbins), vals(K), grads(xs.size());
  for (int k = 0; k < K; k++) {
    std::copy(pts[k % pts.size()].begin(), pts[k % pts.size()].end(), xs.begin() + static_cast<size_t>(k) * n);
    for (int b = 0; b < d.nbins; b++) ds[static_cast<size_t>(k) * d.nbins + b] = std::round(d.data[b] * (0.7 + 0.6 * U(rng)));
  }
  eng.valueAndGradientBatch(xs.data(), ds.data(), K, vals.data(), grads.data());
  for (int k = 0; k < K; k++) {
    ref.setData(ds.data() + static_cast<size_t>(k) * d.nbins);
    double b = ref.valueAndGradient(xs.data() + static_cast<size_t>(k) * n, g2.data());
    note("batchValue", relErr(&vals[k], &b, 1));
    note("batchGradient", relErr(grads.data() + static_cast<size_t>(k) * n, g2.data(), n));
  }
  return err;
}

// a model of the W-mass size: log κ in blocks local in bins (like efficiency/scale nuisances) plus a
// few global columns per row; log-normal, symmetric, BB-lite on
Dump synthWmass(int nnzPerRow, unsigned seed, int nbins, int nsyst) {
  Dump d;
  d.name = "synthetic W-mass size";
  d.nbins = d.nbinsFull = nbins, d.nproc = 10, d.nsig = 1, d.nsyst = nsyst, d.ncols = nsyst, d.symmetric = 1, d.logNormal = 1;
  d.hasBB = 1, d.hasActive = 0;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> U(0, 1);
  const int nrows = d.nbins * d.nproc;
  d.norm.resize(nrows);
  d.rowPtr.assign(nrows + 1, 0);
  const int nglobal = std::min(400, nsyst / 4);
  const int global = std::min(nnzPerRow / 4, nglobal);
  for (int r = 0; r < nrows; r++) {
    const int b = r / d.nproc;
    d.norm[r] = (r % d.nproc == 0 ? 8e4 : 2e3) * (0.5 + U(rng));
    std::vector<int> cs;
    for (int g = 0; g < global; g++) cs.push_back(static_cast<int>(U(rng) * nglobal));  // shared global columns
    const int local = std::min(nnzPerRow - global, d.nsyst - nglobal);
    const int start = nglobal + (b * (d.nsyst - nglobal - local)) / d.nbins;  // a sliding window of local columns
    for (int j = 0; j < local; j++) cs.push_back(start + j);
    std::sort(cs.begin(), cs.end());
    cs.erase(std::unique(cs.begin(), cs.end()), cs.end());
    for (int c : cs) {
      d.cols.push_back(c);
      d.vals.push_back(0.01 * (2 * U(rng) - 1));
    }
    d.rowPtr[r + 1] = static_cast<int32_t>(d.cols.size());
  }
  d.nnz = static_cast<int>(d.cols.size());
  d.data.resize(d.nbins);
  d.bbK.resize(d.nbins);
  for (int b = 0; b < d.nbins; b++) {
    double s = 0;
    for (int p = 0; p < d.nproc; p++) s += d.norm[b * d.nproc + p];
    d.data[b] = std::round(s);
    d.bbK[b] = 4 * s;
  }
  d.cw.assign(d.nsyst, 1.0);
  d.theta0.assign(d.nsyst, 0.0);
  return d;
}

}  // namespace

int main(int argc, char** argv) {
  std::string root = ".", models;
  double tol = 1e-11;
  int threads = 16, nnzPerRow = 172, ntoys = 100, wbins = 2880, wsysts = 4859;
  Ctx c;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto next = [&]() { return std::string(i + 1 < argc ? argv[++i] : ""); };
    if (a == "--emulate") c.emulate = true;
    else if (a == "--root") root = next();
    else if (a == "--models") models = next();
    else if (a == "--tol") tol = std::atof(next().c_str());
    else if (a == "--threads") threads = std::atoi(next().c_str());
    else if (a == "--nnz-per-row") nnzPerRow = std::atoi(next().c_str());
    else if (a == "--toys") ntoys = std::atoi(next().c_str());
    else if (a == "--bins") wbins = std::atoi(next().c_str());
    else if (a == "--systs") wsysts = std::atoi(next().c_str());
  }
  if (models.empty()) models = root + "/docs/measurements/gpu/models";
  c.source = readText(root + "/fitter/cuda/kernels/likelihood.cu");
  c.header = readText(root + "/fitter/cuda/kernels/args.h");
  c.cacheDir = std::getenv("HEPFIT_CUDA_CACHE") ? std::getenv("HEPFIT_CUDA_CACHE") : "";
  if (!c.emulate) {
    const hfcuda::LoadReport& rep = hfcuda::loadCuda(candidates(), &c.api);
    c.rep = &rep;
    for (const auto& l : rep.libraries)
      std::printf("library %-10s %s\n", l.name.c_str(), l.loaded.empty() ? ("NOT LOADED (" + std::to_string(l.tried.size()) + " tried)").c_str() : l.loaded.c_str());
    if (!rep.ok) {
      std::printf("CUDA not usable: %s\n", rep.error.empty() ? "a required library is missing" : rep.error.c_str());
      for (const auto& l : rep.libraries)
        for (const auto& t : l.tried) std::printf("  tried %s: %s\n", t.path.c_str(), t.error.c_str());
      return 2;
    }
    std::printf("device %s, compute capability %d.%d, %.0f GiB, driver %d, NVRTC %d.%d\n", rep.deviceName.c_str(), rep.ccMajor, rep.ccMinor,
                rep.totalMem / 1073741824.0, rep.driverVersion, rep.nvrtcMajor, rep.nvrtcMinor);
  } else {
    std::printf("CPU emulation of the kernels (no GPU): timings mean nothing\n");
  }
  // 1. equivalence on the model dumps
  int failures = 0, checked = 0;
  for (const std::string& f : listDir(models)) {
    if (f.size() < 5 || f.substr(f.size() - 4) != ".bin") continue;
    Dump d;
    if (!readDump(models + "/" + f, d)) {
      std::printf("%s: unreadable dump\n", f.c_str());
      failures++;
      continue;
    }
    for (bool square : {false, true}) {
      try {
        auto err = compare(d, square, c, threads);
        double worst = 0;
        std::string line;
        for (auto& [k, e] : err) {
          worst = std::max(worst, e);
          char b[64];
          std::snprintf(b, sizeof b, " %s %.1e", k.c_str(), e);
          line += b;
        }
        const bool ok = worst <= tol;
        failures += !ok;
        checked++;
        std::printf("%s %-40s %-6s worst %.2e:%s\n", ok ? "ok  " : "FAIL", f.c_str(), square ? "square" : "linear", worst, line.c_str());
      } catch (const std::exception& e) {
        failures++;
        std::printf("FAIL %-40s %-6s %s\n", f.c_str(), square ? "square" : "linear", e.what());
      }
    }
  }
  std::printf("equivalence: %d model/mode pairs checked, %d failed (tolerance %.0e relative)\n", checked, failures, tol);
  // 2. timings on the W-mass-sized model
  Dump w = synthWmass(nnzPerRow, 1, wbins, wsysts);
  const int n = w.nsig + w.nsyst;
  std::printf("\nsynthetic model (W-mass size by default): %d bins, %d processes, %d nuisances, %d log k entries (%d per row); native threads %d\n", w.nbins,
              w.nproc, w.nsyst, w.nnz, nnzPerRow, threads);
  auto tb = Clock::now();
  fitter::Evaluator ref(nativeModel(w, false), threads);
  double tRef = std::chrono::duration<double>(Clock::now() - tb).count();
  tb = Clock::now();
  hfcuda::Engine eng(cudaModel(w, false), makeDevice(c));
  double tEng = std::chrono::duration<double>(Clock::now() - tb).count();
  std::printf("setup: native %s, cuda %s (%s)\n", fmt(tRef).c_str(), fmt(tEng).c_str(), eng.description().c_str());
  std::vector<double> x(n, 0.0), x2(n), v(n), o1(n), o2(n), g(n);
  x[0] = 1;
  for (int i = 1; i < n; i++) x[i] = 0.1 * std::sin(i);
  for (int i = 0; i < n; i++) x2[i] = x[i] + 1e-9 * std::cos(i), v[i] = std::sin(0.7 * i);
  bool flip = false;
  double vgN = timeMedian([&] { ref.valueAndGradient((flip = !flip) ? x.data() : x2.data(), g.data()); }, 10);
  double vgC = timeMedian([&] { eng.valueAndGradient((flip = !flip) ? x.data() : x2.data(), g.data()); }, 10);
  ref.valueAndGradient(x.data(), g.data());
  eng.valueAndGradient(x.data(), g.data());
  double hvN = timeMedian([&] { ref.hvp(x.data(), v.data(), o1.data()); }, 30);
  double hvC = timeMedian([&] { eng.hvp(x.data(), v.data(), 1, o2.data()); }, 30);
  const long nrr = static_cast<long>(w.nbins) * w.nproc;
  const double hvpBytes = 2.0 * 12 * w.nnz + 6.0 * 8 * nrr;
  std::vector<double> H(static_cast<size_t>(n) * n), H2(H.size()), inv(H.size());
  double heN = timeMedian([&] { ref.hessian(x.data(), H.data()); }, 3);
  double heC = timeMedian([&] { eng.hessian(x.data(), H2.data()); }, 3);
  double hessErr = relErr(H2.data(), H.data(), H.size());
  double chN = timeMedian(
      [&] {
        fitter::Cholesky ch;
        if (ch.factor(H.data(), n, threads, "native")) ch.inverse(inv.data());
      },
      3);
  double chC = timeMedian([&] { eng.spdInverse(H.data(), n, inv.data()); }, 3);
  std::vector<double> xs(static_cast<size_t>(ntoys) * n), ds(static_cast<size_t>(ntoys) * w.nbins), vals(ntoys), grads(xs.size());
  std::mt19937_64 rng(3);
  for (int k = 0; k < ntoys; k++) {
    std::copy(x.begin(), x.end(), xs.begin() + static_cast<size_t>(k) * n);
    for (int b = 0; b < w.nbins; b++) {
      std::poisson_distribution<long> P(w.data[b]);
      ds[static_cast<size_t>(k) * w.nbins + b] = static_cast<double>(P(rng));
    }
  }
  double btC = timeMedian([&] { eng.valueAndGradientBatch(xs.data(), ds.data(), ntoys, vals.data(), grads.data()); }, 3);
  double btN = timeMedian(
      [&] {
        for (int k = 0; k < ntoys; k++) {
          ref.setData(ds.data() + static_cast<size_t>(k) * w.nbins);
          ref.valueAndGradient(xs.data() + static_cast<size_t>(k) * n, g.data());
        }
      },
      3);
  double copyBw = eng.copyBandwidth(size_t(1) << 30, 20);
  std::printf("%-28s %14s %14s\n", "", "native", "cuda");
  std::printf("%-28s %14s %14s\n", "value + gradient", fmt(vgN).c_str(), fmt(vgC).c_str());
  std::printf("%-28s %14s %14s   (cuda %.0f GB/s of %.1f MB = %.1f %% of the %.0f GB/s copy bandwidth; native %.0f GB/s)\n", "HVP", fmt(hvN).c_str(),
              fmt(hvC).c_str(), hvpBytes / hvC / 1e9, hvpBytes / 1e6, 100 * hvpBytes / hvC / copyBw, copyBw / 1e9, hvpBytes / hvN / 1e9);
  std::printf("%-28s %14s %14s   (cuda vs native %.1e relative)\n", "exact Hessian", fmt(heN).c_str(), fmt(heC).c_str(), hessErr);
  std::printf("%-28s %14s %14s\n", "Cholesky + inverse", fmt(chN).c_str(), fmt(chC).c_str());
  std::printf("%-28s %14s %14s\n", (std::to_string(ntoys) + " toys NLL + gradient").c_str(), fmt(btN).c_str(), fmt(btC).c_str());
  return failures ? 1 : 0;
}
