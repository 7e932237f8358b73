// The CPU emulation device: likelihood.cu compiled by g++ (shim_host.h), every kernel run with a
// serial block/thread loop, "device" memory in host RAM. Checks the kernels and the host engine
// without a GPU (tests) — not a fast engine.
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "../kernels/shim_host.h"
#include "../kernels/likelihood.cu"
#include "device.h"

HfDim3 blockIdx, threadIdx, blockDim, gridDim;

namespace hfcuda {

namespace {

template <class Args, void (*Fn)(const Args)>
void call(const void* a) {
  Fn(*static_cast<const Args*>(a));
}

using Entry = void (*)(const void*);
const Entry kEntries[] = {
    call<HfForwardArgs, hf_forward>,       call<HfBinsArgs, hf_bins>,           call<HfGatherColsArgs, hf_gather_cols_partial>, call<HfGatherColsArgs, hf_gather_cols>,
    call<HfGatherPoiArgs, hf_gather_poi_partial>, call<HfGatherPoiArgs, hf_gather_poi>,  call<HfSumArgs, hf_sum_partial>,     call<HfSumArgs, hf_sum_final>,
    call<HfHvpRowsArgs, hf_hvp_rows>,      call<HfHvpBinsArgs, hf_hvp_bins>,    call<HfYvarArgs, hf_yvar_y>,
    call<HfYvarArgs, hf_yvar_q>,           call<HfDenseArgs, hf_logdet>,        call<HfDenseArgs, hf_symmetrize_lower>,
};
static_assert(sizeof(kEntries) / sizeof(kEntries[0]) == static_cast<size_t>(Kernel::Count), "one entry per kernel");

class EmulatedDevice : public Device {
 public:
  void* alloc(size_t bytes) override {
    void* p = std::calloc(bytes ? bytes : 1, 1);
    if (!p) throw std::runtime_error("emulated device: out of memory");
    return p;
  }
  void release(void* p) override { std::free(p); }
  void upload(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  void download(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  void launch(Kernel k, long long total, const void* args, size_t) override {
    if (total <= 0) return;
    // a small block and a grid shorter than the work, so the grid-stride loops are exercised too
    const unsigned block = 32;
    long long grid = (total + block - 1) / block;
    if (grid > 7) grid = 7;
    blockDim.x = block;
    gridDim.x = static_cast<unsigned>(grid);
    for (unsigned bx = 0; bx < gridDim.x; bx++)
      for (unsigned tx = 0; tx < block; tx++) {
        blockIdx.x = bx;
        threadIdx.x = tx;
        kEntries[static_cast<int>(k)](args);
      }
  }
  bool spdInverse(double* a, int n, double* logDet) override {
    // Cholesky a = L Lᵀ (column-major lower, as cuSOLVER's potrf), then a⁻¹ = L⁻ᵀ L⁻¹ (potri)
    for (int j = 0; j < n; j++) {
      double d = a[static_cast<size_t>(j) * n + j];
      for (int k = 0; k < j; k++) d -= a[static_cast<size_t>(k) * n + j] * a[static_cast<size_t>(k) * n + j];
      if (!(d > 0)) return false;
      d = std::sqrt(d);
      a[static_cast<size_t>(j) * n + j] = d;
      for (int i = j + 1; i < n; i++) {
        double s = a[static_cast<size_t>(j) * n + i];
        for (int k = 0; k < j; k++) s -= a[static_cast<size_t>(k) * n + i] * a[static_cast<size_t>(k) * n + j];
        a[static_cast<size_t>(j) * n + i] = s / d;
      }
    }
    double* out = static_cast<double*>(alloc(sizeof(double)));
    HfDenseArgs la{a, n, out};
    launch(Kernel::LogDet, 1, &la, sizeof la);
    *logDet = *out;
    release(out);
    // Linv lower (column-major), then the lower triangle of Linvᵀ Linv
    std::vector<double> li(static_cast<size_t>(n) * n, 0.0);
    for (int j = 0; j < n; j++) {
      li[static_cast<size_t>(j) * n + j] = 1.0 / a[static_cast<size_t>(j) * n + j];
      for (int i = j + 1; i < n; i++) {
        double s = 0;
        for (int k = j; k < i; k++) s += a[static_cast<size_t>(k) * n + i] * li[static_cast<size_t>(j) * n + k];
        li[static_cast<size_t>(j) * n + i] = -s / a[static_cast<size_t>(i) * n + i];
      }
    }
    for (int j = 0; j < n; j++)
      for (int i = j; i < n; i++) {
        double s = 0;
        for (int k = i; k < n; k++) s += li[static_cast<size_t>(i) * n + k] * li[static_cast<size_t>(j) * n + k];
        a[static_cast<size_t>(j) * n + i] = s;
      }
    HfDenseArgs sa{a, n, nullptr};
    launch(Kernel::SymmetrizeLower, static_cast<long long>(n) * n, &sa, sizeof sa);
    return true;
  }
  double copyBandwidth(size_t bytes, int reps) override {
    std::vector<char> a(bytes, 1), b(bytes, 0);
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < reps; i++) std::memcpy(i % 2 ? a.data() : b.data(), i % 2 ? b.data() : a.data(), bytes);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return 2.0 * bytes * reps / s;
  }
  std::string description() const override { return "cpu emulation of the CUDA kernels (serial, for tests)"; }
  const char* kind() const override { return "emulate"; }
};

}  // namespace

Device* createEmulatedDevice() { return new EmulatedDevice(); }

}  // namespace hfcuda
