// Stand-alone benchmark of the native core (no Node): HVP, gradient, Hessian, Cholesky + inverse,
// yield variances on a model dumped by dump_model.py. Development tool, built by hand:
//   g++ -O3 -march=native -std=c++17 -pthread -I../src ../src/evaluator.cpp ../src/dense.cpp \
//       ../src/threadPool.cpp bench_main.cpp -ldl -o bench_main && ./bench_main model.bin 2
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "dense.h"
#include "evaluator.h"

using namespace fitter;
using Clock = std::chrono::steady_clock;
static double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

template <class T>
static std::vector<T> readVec(std::ifstream& in, size_t n) {
  std::vector<T> v(n);
  in.read(reinterpret_cast<char*>(v.data()), n * sizeof(T));
  return v;
}

int main(int argc, char** argv) {
  if (argc < 2) return 1;
  int threads = argc > 2 ? atoi(argv[2]) : 2;
  std::ifstream in(argv[1], std::ios::binary);
  auto hdr = readVec<int64_t>(in, 7);
  ModelData m;
  m.nbins = hdr[0]; m.nbinsFull = hdr[1]; m.nproc = hdr[2]; m.nsig = hdr[3]; m.nsyst = hdr[4]; m.ncols = hdr[5];
  long nnz = hdr[6];
  m.symmetric = m.ncols == m.nsyst;
  m.norm = readVec<double>(in, (size_t)m.nbinsFull * m.nproc);
  auto rowPtr32 = readVec<int32_t>(in, (size_t)m.nbinsFull * m.nproc + 1);
  m.rowPtr.assign(rowPtr32.begin(), rowPtr32.end());
  auto cols = readVec<int32_t>(in, nnz);  // borrowed by the evaluator: alive until the end of main
  auto vals = readVec<double>(in, nnz);
  m.nnz = nnz;
  m.cols32 = cols.data();
  m.vals64 = vals.data();
  m.data = readVec<double>(in, m.nbins);
  m.bbK = readVec<double>(in, m.nbins);
  m.cw = readVec<double>(in, m.nsyst);
  m.theta0.assign(m.nsyst, 0.0);
  printf("model: %d bins, %d procs, %d systs, %ld nnz, threads %d\n", m.nbins, m.nproc, m.nsyst, nnz, threads);
  // memcpy bandwidth
  {
    size_t sz = 512ul << 20;
    std::vector<char> a(sz, 1), b(sz, 0);
    double best = 1e9;
    for (int r = 0; r < 5; r++) {
      auto t = Clock::now();
      std::memcpy(b.data(), a.data(), sz);
      best = std::min(best, since(t));
    }
    printf("memcpy: %.1f GB/s (read+write)\n", 2.0 * sz / best / 1e9);
  }
  Evaluator ev(m, threads);
  int n = ev.nparams();
  std::vector<double> x(n, 0.0), g(n), v(n), out(n);
  for (int q = 0; q < m.nsig; q++) x[q] = 1;
  for (int j = 0; j < n; j++) v[j] = std::cos(j);
  auto t = Clock::now();
  int reps = 20;
  for (int r = 0; r < reps; r++) { x[n - 1] = 1e-3 * r; ev.valueAndGradient(x.data(), g.data()); }
  printf("value+gradient: %.2f ms\n", since(t) / reps * 1e3);
  t = Clock::now();
  for (int r = 0; r < reps; r++) { x[n - 1] = 1e-3 * r + 0.5; ev.nll(x.data()); }
  printf("nll: %.2f ms\n", since(t) / reps * 1e3);
  ev.valueAndGradient(x.data(), g.data());
  reps = 50;
  std::vector<double> ts;
  for (int r = 0; r < reps; r++) {
    t = Clock::now();
    ev.hvp(x.data(), v.data(), out.data());
    ts.push_back(since(t));
  }
  std::sort(ts.begin(), ts.end());
  double bytes = nnz * (m.ncols <= 65536 ? 10.0 : 12.0) + m.rowPtr.size() * 8.0;
  printf("HVP: median %.2f ms, min %.2f ms; %.0f MB log k per HVP -> %.1f GB/s\n", ts[reps / 2] * 1e3, ts[0] * 1e3,
         bytes / 1e6, bytes / ts[reps / 2] / 1e9);
  // Asimov at x0 so that H is positive definite there
  std::vector<double> x0(n, 0.0), nu((size_t)m.nbinsFull * m.nproc), asimov(m.nbins, 0.0);
  for (int q = 0; q < m.nsig; q++) x0[q] = 1;
  ev.yields(x0.data(), nu.data());
  for (int b = 0; b < m.nbins; b++)
    for (int p = 0; p < m.nproc; p++) asimov[b] += nu[(size_t)b * m.nproc + p];
  ev.setData(asimov.data());
  std::vector<double> H((size_t)n * n), C((size_t)n * n);
  t = Clock::now();
  ev.hessian(x0.data(), H.data());
  printf("Hessian: %.2f s\n", since(t));
  for (std::string backend : {"native", "openblas"}) {
    if (backend == "openblas" && openblasAvailable().empty()) continue;
    Cholesky ch;
    t = Clock::now();
    bool ok = ch.factor(H.data(), n, threads, backend);
    double tf = since(t);
    if (!ok) { printf("%s: not PD\n", backend.c_str()); continue; }
    ch.inverse(C.data());
    double tt = since(t);
    printf("Cholesky+inverse %s: factor %.2f s, total %.2f s, %.1f GFLOP/s\n", backend.c_str(), tf, tt,
           std::pow((double)n, 3) / tt / 1e9);
  }
  std::vector<double> vr(nu.size()), vb(m.nbinsFull);
  t = Clock::now();
  ev.yieldVariances(x0.data(), C.data(), vr.data(), vb.data());
  printf("yieldVariances: %.2f s (bin0 sigma %.3f)\n", since(t), std::sqrt(vb[0]));
  // gemm
  {
    long N = 2000;
    std::vector<double> A(N * N, 0.5), B(N * N, 0.25), Cc(N * N, 0.0);
    for (int th : {1, threads}) {
      t = Clock::now();
      gemm(false, false, N, N, N, 1.0, A.data(), N, B.data(), N, Cc.data(), N, th);
      printf("gemm %ld threads %d: %.1f GFLOP/s\n", N, th, 2.0 * N * N * N / since(t) / 1e9);
    }
  }
  return 0;
}
