// dlopen() of the CUDA libraries from candidate paths found by fitter/cuda/discovery.ts, symbol
// resolution and a probe of device 0. Nothing here needs CUDA at build time.
#include <dirent.h>
#include <dlfcn.h>

#include <memory>
#include <mutex>
#include <string>

#include "cudaApi.h"

namespace hfcuda {

namespace {

std::mutex gMutex;
std::unique_ptr<LoadReport> gOk;  // the first successful load; failures are not cached (they may be retried)
CudaApi gApi;

template <class F>
bool sym(void* h, const char* name, F& out, std::string& missing) {
  void* p = h ? dlsym(h, name) : nullptr;
  if (!p) {
    if (missing.empty()) missing = name;
    return false;
  }
  out = reinterpret_cast<F>(p);
  return true;
}

std::string cuError(const CudaApi& a, CUresult r) {
  const char* s = nullptr;
  if (a.cuGetErrorString) a.cuGetErrorString(r, &s);
  return "CUDA error " + std::to_string(r) + (s ? std::string(" (") + s + ")" : std::string());
}

}  // namespace

const LoadReport& loadCuda(const std::vector<LibraryCandidates>& candidates, const CudaApi** api) {
  std::lock_guard<std::mutex> lock(gMutex);
  *api = &gApi;
  if (gOk) return *gOk;
  static LoadReport last;
  LoadReport rep;
  std::vector<void*> handles;
  for (const LibraryCandidates& c : candidates) {
    LibraryReport lr;
    lr.name = c.name;
    lr.required = c.required;
    void* h = nullptr;
    for (const std::string& path : c.paths) {
      // RTLD_GLOBAL: libcusolver finds libcublas/libcublasLt/libcusparse/libnvJitLink already loaded
      // from the same non-standard directory instead of searching the loader path for them
      h = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
      if (h) {
        lr.loaded = path;
        break;
      }
      const char* e = dlerror();
      lr.tried.push_back({path, e ? e : "dlopen failed"});
    }
    // NVRTC dlopen()s its builtins library by soname at compile time: preload the one beside it
    if (h && c.name == "nvrtc") {
      const size_t slash = lr.loaded.rfind('/');
      if (slash != std::string::npos) {
        const std::string dir = lr.loaded.substr(0, slash);
        if (DIR* d = opendir(dir.c_str())) {
          while (dirent* e = readdir(d))
            if (std::string(e->d_name).rfind("libnvrtc-builtins.so", 0) == 0) dlopen((dir + "/" + e->d_name).c_str(), RTLD_NOW | RTLD_GLOBAL);
          closedir(d);
        }
      }
    }
    handles.push_back(h);
    rep.libraries.push_back(std::move(lr));
  }
  auto handle = [&](const char* name) -> void* {
    for (size_t i = 0; i < rep.libraries.size(); i++)
      if (rep.libraries[i].name == name) return handles[i];
    return nullptr;
  };
  bool allRequired = true;
  for (const LibraryReport& lr : rep.libraries)
    if (lr.required && lr.loaded.empty()) allRequired = false;
  if (!allRequired) {
    last = rep;
    return last;
  }
  CudaApi a;
  std::string missing;
  void* cu = handle("cuda");
  sym(cu, "cuInit", a.cuInit, missing);
  sym(cu, "cuDriverGetVersion", a.cuDriverGetVersion, missing);
  sym(cu, "cuDeviceGetCount", a.cuDeviceGetCount, missing);
  sym(cu, "cuDeviceGet", a.cuDeviceGet, missing);
  sym(cu, "cuDeviceGetName", a.cuDeviceGetName, missing);
  sym(cu, "cuDeviceGetAttribute", a.cuDeviceGetAttribute, missing);
  sym(cu, "cuDeviceTotalMem_v2", a.cuDeviceTotalMem_v2, missing);
  sym(cu, "cuDevicePrimaryCtxRetain", a.cuDevicePrimaryCtxRetain, missing);
  sym(cu, "cuDevicePrimaryCtxRelease_v2", a.cuDevicePrimaryCtxRelease_v2, missing);
  sym(cu, "cuCtxSetCurrent", a.cuCtxSetCurrent, missing);
  sym(cu, "cuCtxSynchronize", a.cuCtxSynchronize, missing);
  sym(cu, "cuMemAlloc_v2", a.cuMemAlloc_v2, missing);
  sym(cu, "cuMemFree_v2", a.cuMemFree_v2, missing);
  sym(cu, "cuMemcpyHtoD_v2", a.cuMemcpyHtoD_v2, missing);
  sym(cu, "cuMemcpyDtoH_v2", a.cuMemcpyDtoH_v2, missing);
  sym(cu, "cuMemsetD8_v2", a.cuMemsetD8_v2, missing);
  sym(cu, "cuMemcpyDtoD_v2", a.cuMemcpyDtoD_v2, missing);
  sym(cu, "cuModuleLoadData", a.cuModuleLoadData, missing);
  sym(cu, "cuModuleUnload", a.cuModuleUnload, missing);
  sym(cu, "cuModuleGetFunction", a.cuModuleGetFunction, missing);
  sym(cu, "cuLaunchKernel", a.cuLaunchKernel, missing);
  sym(cu, "cuGetErrorString", a.cuGetErrorString, missing);
  void* rtc = handle("nvrtc");
  sym(rtc, "nvrtcVersion", a.nvrtcVersion, missing);
  sym(rtc, "nvrtcCreateProgram", a.nvrtcCreateProgram, missing);
  sym(rtc, "nvrtcCompileProgram", a.nvrtcCompileProgram, missing);
  sym(rtc, "nvrtcGetProgramLogSize", a.nvrtcGetProgramLogSize, missing);
  sym(rtc, "nvrtcGetProgramLog", a.nvrtcGetProgramLog, missing);
  sym(rtc, "nvrtcGetPTXSize", a.nvrtcGetPTXSize, missing);
  sym(rtc, "nvrtcGetPTX", a.nvrtcGetPTX, missing);
  sym(rtc, "nvrtcDestroyProgram", a.nvrtcDestroyProgram, missing);
  sym(rtc, "nvrtcGetErrorString", a.nvrtcGetErrorString, missing);
  {
    std::string optional;
    sym(rtc, "nvrtcGetCUBINSize", a.nvrtcGetCUBINSize, optional);
    sym(rtc, "nvrtcGetCUBIN", a.nvrtcGetCUBIN, optional);
  }
  void* so = handle("cusolver");
  sym(so, "cusolverDnCreate", a.cusolverDnCreate, missing);
  sym(so, "cusolverDnDestroy", a.cusolverDnDestroy, missing);
  sym(so, "cusolverDnDpotrf_bufferSize", a.cusolverDnDpotrf_bufferSize, missing);
  sym(so, "cusolverDnDpotrf", a.cusolverDnDpotrf, missing);
  sym(so, "cusolverDnDpotri_bufferSize", a.cusolverDnDpotri_bufferSize, missing);
  sym(so, "cusolverDnDpotri", a.cusolverDnDpotri, missing);
  sym(handle("cublas"), "cublasCreate_v2", a.cublasCreate_v2, missing);
  if (handle("cusparse")) {
    std::string optional;
    sym(handle("cusparse"), "cusparseCreate", a.cusparseCreate, optional);
  }
  if (!missing.empty()) {
    rep.error = "symbol " + missing + " not found in the loaded CUDA libraries (too old a CUDA?)";
    last = rep;
    return last;
  }
  a.cuDriverGetVersion(&rep.driverVersion);
  a.nvrtcVersion(&rep.nvrtcMajor, &rep.nvrtcMinor);
  CUresult r = a.cuInit(0);
  if (r != 0) {
    rep.error = "cuInit failed: " + cuError(a, r) + " (no NVIDIA GPU or driver not usable)";
    last = rep;
    return last;
  }
  r = a.cuDeviceGetCount(&rep.deviceCount);
  if (r != 0 || rep.deviceCount <= 0) {
    rep.error = r != 0 ? "cuDeviceGetCount failed: " + cuError(a, r) : "no CUDA device visible";
    last = rep;
    return last;
  }
  CUdevice dev = 0;
  a.cuDeviceGet(&dev, 0);
  char name[256] = {0};
  a.cuDeviceGetName(name, sizeof name - 1, dev);
  rep.deviceName = name;
  a.cuDeviceGetAttribute(&rep.ccMajor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev);
  a.cuDeviceGetAttribute(&rep.ccMinor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev);
  a.cuDeviceTotalMem_v2(&rep.totalMem, dev);
  if (rep.ccMajor < 6) {
    rep.error = "device 0 (" + rep.deviceName + ") has compute capability " + std::to_string(rep.ccMajor) + "." +
                std::to_string(rep.ccMinor) + ": the float64 kernels need 6.0 or newer";
    last = rep;
    return last;
  }
  rep.ok = true;
  gApi = a;
  gOk = std::make_unique<LoadReport>(rep);
  return *gOk;
}

}  // namespace hfcuda
