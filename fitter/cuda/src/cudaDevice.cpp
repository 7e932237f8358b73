// The CUDA device: a primary context on device 0, the kernels compiled by NVRTC once per GPU
// architecture (cached on disk), launches through the driver API, and the dense SPD inverse by
// cuSOLVER (potrf + potri). Everything comes from the dlopen()ed libraries of loader.cpp.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "cudaApi.h"
#include "device.h"

namespace hfcuda {

namespace {

uint64_t fnv1a(const std::string& s, uint64_t h = 1469598103934665603ULL) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

bool readFile(const std::string& path, std::string& out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::ostringstream ss;
  ss << f.rdbuf();
  out = ss.str();
  return !out.empty();
}

void mkdirs(const std::string& dir) {
  for (size_t i = 1; i <= dir.size(); i++)
    if (i == dir.size() || dir[i] == '/') mkdir(dir.substr(0, i).c_str(), 0755);
}

class CudaDevice : public Device {
 public:
  CudaDevice(const CudaApi& api, const LoadReport& rep, const std::string& source, const std::string& header, const std::string& cacheDir)
      : a_(api) {
    check(a_.cuDeviceGet(&dev_, 0), "cuDeviceGet");
    check(a_.cuDevicePrimaryCtxRetain(&ctx_, dev_), "cuDevicePrimaryCtxRetain");
    check(a_.cuCtxSetCurrent(ctx_), "cuCtxSetCurrent");
    const std::string arch = std::to_string(rep.ccMajor) + std::to_string(rep.ccMinor);
    desc_ = rep.deviceName + " (sm_" + arch + ", " + std::to_string(rep.totalMem >> 30) + " GiB)";
    const bool cubin = a_.nvrtcGetCUBIN && a_.nvrtcGetCUBINSize;
    const std::string archOpt = std::string("--gpu-architecture=") + (cubin ? "sm_" : "compute_") + arch;
    const std::vector<std::string> opts = {archOpt, "--std=c++14", "-default-device"};
    std::string key = source + "\n//header\n" + header + "\n//nvrtc " + std::to_string(rep.nvrtcMajor) + "." + std::to_string(rep.nvrtcMinor);
    for (const auto& o : opts) key += "\n" + o;
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fnv1a(key)));
    const std::string cachePath = cacheDir.empty() ? "" : cacheDir + "/" + hex + "-sm_" + arch + (cubin ? ".cubin" : ".ptx");
    std::string image;
    bool fromCache = !cachePath.empty() && readFile(cachePath, image);
    if (fromCache && a_.cuModuleLoadData(&mod_, image.data()) != 0) {
      fromCache = false;  // a damaged or foreign cache entry: compile again and replace it
      mod_ = nullptr;
    }
    if (!fromCache) {
      image = compile(source, header, opts, cubin);
      if (!cachePath.empty()) {
        mkdirs(cacheDir);
        const std::string tmp = cachePath + ".tmp" + std::to_string(getpid());
        std::ofstream f(tmp, std::ios::binary);
        if (f && f.write(image.data(), static_cast<std::streamsize>(image.size()))) {
          f.close();
          std::rename(tmp.c_str(), cachePath.c_str());
        } else {
          std::remove(tmp.c_str());
        }
      }
      compiled_ = "compiled by NVRTC";
      check(a_.cuModuleLoadData(&mod_, image.data()), "cuModuleLoadData");
    } else {
      compiled_ = "cached " + cachePath;
    }
    for (int k = 0; k < static_cast<int>(Kernel::Count); k++)
      check(a_.cuModuleGetFunction(&fn_[k], mod_, kernelName(static_cast<Kernel>(k))), kernelName(static_cast<Kernel>(k)));
    if (a_.cusolverDnCreate(&solver_) != 0) throw std::runtime_error("cusolverDnCreate failed");
  }
  ~CudaDevice() override {
    if (solver_) a_.cusolverDnDestroy(solver_);
    if (mod_) a_.cuModuleUnload(mod_);
    a_.cuDevicePrimaryCtxRelease_v2(dev_);
  }
  void* alloc(size_t bytes) override {
    CUdeviceptr p = 0;
    check(a_.cuMemAlloc_v2(&p, bytes ? bytes : 8), "cuMemAlloc");
    check(a_.cuMemsetD8_v2(p, 0, bytes ? bytes : 8), "cuMemsetD8");
    return reinterpret_cast<void*>(p);
  }
  void release(void* p) override { a_.cuMemFree_v2(reinterpret_cast<CUdeviceptr>(p)); }
  void upload(void* dst, const void* src, size_t bytes) override {
    if (bytes) check(a_.cuMemcpyHtoD_v2(reinterpret_cast<CUdeviceptr>(dst), src, bytes), "cuMemcpyHtoD");
  }
  void download(void* dst, const void* src, size_t bytes) override {
    if (bytes) check(a_.cuMemcpyDtoH_v2(dst, reinterpret_cast<CUdeviceptr>(src), bytes), "cuMemcpyDtoH");
  }
  void launch(Kernel k, long long total, const void* args, size_t) override {
    if (total <= 0) return;
    const unsigned block = 256;
    long long grid = (total + block - 1) / block;
    if (grid > (1 << 20)) grid = 1 << 20;
    void* params[] = {const_cast<void*>(args)};
    check(a_.cuLaunchKernel(fn_[static_cast<int>(k)], static_cast<unsigned>(grid), 1, 1, block, 1, 1, 0, nullptr, params, nullptr),
          kernelName(k));
  }
  bool spdInverse(double* a, int n, double* logDet) override {
    int lwork = 0, lwork2 = 0;
    if (a_.cusolverDnDpotrf_bufferSize(solver_, CUBLAS_FILL_MODE_LOWER, n, a, n, &lwork) != 0 ||
        a_.cusolverDnDpotri_bufferSize(solver_, CUBLAS_FILL_MODE_LOWER, n, a, n, &lwork2) != 0)
      throw std::runtime_error("cuSOLVER: buffer size query failed");
    if (lwork2 > lwork) lwork = lwork2;
    double* work = static_cast<double*>(alloc(static_cast<size_t>(lwork) * sizeof(double)));
    int* info = static_cast<int*>(alloc(sizeof(int)));
    double* out = static_cast<double*>(alloc(sizeof(double)));
    int hinfo = 0;
    bool ok = a_.cusolverDnDpotrf(solver_, CUBLAS_FILL_MODE_LOWER, n, a, n, work, lwork, info) == 0;
    if (ok) download(&hinfo, info, sizeof(int));
    ok = ok && hinfo == 0;
    if (ok) {
      HfDenseArgsLite la{a, n, out};
      launch(Kernel::LogDet, 1, &la, sizeof la);
      download(logDet, out, sizeof(double));
      ok = a_.cusolverDnDpotri(solver_, CUBLAS_FILL_MODE_LOWER, n, a, n, work, lwork, info) == 0;
      if (ok) download(&hinfo, info, sizeof(int));
      ok = ok && hinfo == 0;
    }
    if (ok) {
      HfDenseArgsLite sa{a, n, nullptr};
      launch(Kernel::SymmetrizeLower, static_cast<long long>(n) * n, &sa, sizeof sa);
      check(a_.cuCtxSynchronize(), "cuCtxSynchronize");
    }
    release(work);
    release(info);
    release(out);
    return ok;
  }
  double copyBandwidth(size_t bytes, int reps) override {
    void* a = alloc(bytes);
    void* b = alloc(bytes);
    check(a_.cuMemcpyDtoD_v2(reinterpret_cast<CUdeviceptr>(b), reinterpret_cast<CUdeviceptr>(a), bytes), "cuMemcpyDtoD");  // warm-up
    check(a_.cuCtxSynchronize(), "cuCtxSynchronize");
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < reps; i++)
      check(a_.cuMemcpyDtoD_v2(reinterpret_cast<CUdeviceptr>(i % 2 ? a : b), reinterpret_cast<CUdeviceptr>(i % 2 ? b : a), bytes), "cuMemcpyDtoD");
    check(a_.cuCtxSynchronize(), "cuCtxSynchronize");
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    release(a);
    release(b);
    return 2.0 * bytes * reps / s;
  }
  std::string description() const override { return desc_ + ", kernels " + compiled_; }
  const char* kind() const override { return "cuda"; }

 private:
  struct HfDenseArgsLite {  // = HfDenseArgs of args.h (not included here: keep this file free of kernel types)
    double* a;
    int n;
    double* out;
  };
  void check(CUresult r, const char* what) {
    if (r == 0) return;
    const char* s = nullptr;
    if (a_.cuGetErrorString) a_.cuGetErrorString(r, &s);
    throw std::runtime_error(std::string(what) + " failed: CUDA error " + std::to_string(r) + (s ? std::string(" (") + s + ")" : ""));
  }
  std::string compile(const std::string& source, const std::string& header, const std::vector<std::string>& opts, bool cubin) {
    nvrtcProgram prog = nullptr;
    const char* headers[] = {header.c_str()};
    const char* names[] = {"args.h"};
    nvrtcResult r = a_.nvrtcCreateProgram(&prog, source.c_str(), "likelihood.cu", 1, headers, names);
    if (r != 0) throw std::runtime_error(std::string("nvrtcCreateProgram failed: ") + a_.nvrtcGetErrorString(r));
    std::vector<const char*> o;
    for (const auto& s : opts) o.push_back(s.c_str());
    r = a_.nvrtcCompileProgram(prog, static_cast<int>(o.size()), o.data());
    if (r != 0) {
      size_t n = 0;
      a_.nvrtcGetProgramLogSize(prog, &n);
      std::string log(n, '\0');
      if (n) a_.nvrtcGetProgramLog(prog, &log[0]);
      a_.nvrtcDestroyProgram(&prog);
      throw std::runtime_error(std::string("NVRTC could not compile fitter/cuda/kernels/likelihood.cu: ") + a_.nvrtcGetErrorString(r) + "\n" + log);
    }
    size_t n = 0;
    std::string image;
    if (cubin) {
      a_.nvrtcGetCUBINSize(prog, &n);
      image.resize(n);
      a_.nvrtcGetCUBIN(prog, &image[0]);
    } else {
      a_.nvrtcGetPTXSize(prog, &n);
      image.resize(n);
      a_.nvrtcGetPTX(prog, &image[0]);
    }
    a_.nvrtcDestroyProgram(&prog);
    return image;
  }

  const CudaApi& a_;
  CUdevice dev_ = 0;
  CUcontext ctx_ = nullptr;
  CUmodule mod_ = nullptr;
  CUfunction fn_[static_cast<int>(Kernel::Count)] = {};
  cusolverDnHandle_t solver_ = nullptr;
  std::string desc_, compiled_;
};

}  // namespace

Device* createCudaDevice(const CudaApi& api, const LoadReport& rep, const std::string& source, const std::string& header,
                         const std::string& cacheDir) {
  return new CudaDevice(api, rep, source, header, cacheDir);
}

}  // namespace hfcuda
