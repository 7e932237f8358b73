// The few CUDA driver, NVRTC, cuBLAS, cuSPARSE and cuSOLVER types and entry points the engine uses,
// declared here so that the addon builds with g++ alone (no CUDA headers); the libraries are
// dlopen()ed at run time (loader.cpp). Signatures follow the public CUDA 11/12 C APIs.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace hfcuda {

typedef int CUresult;
typedef int CUdevice;
typedef struct CUctx_st* CUcontext;
typedef struct CUmod_st* CUmodule;
typedef struct CUfunc_st* CUfunction;
typedef struct CUstream_st* CUstream;
typedef unsigned long long CUdeviceptr;
typedef int nvrtcResult;
typedef struct _nvrtcProgram* nvrtcProgram;
typedef int cusolverStatus_t;
typedef struct cusolverDnContext* cusolverDnHandle_t;

constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
constexpr int CUBLAS_FILL_MODE_LOWER = 0;

struct CudaApi {
  // driver
  CUresult (*cuInit)(unsigned) = nullptr;
  CUresult (*cuDriverGetVersion)(int*) = nullptr;
  CUresult (*cuDeviceGetCount)(int*) = nullptr;
  CUresult (*cuDeviceGet)(CUdevice*, int) = nullptr;
  CUresult (*cuDeviceGetName)(char*, int, CUdevice) = nullptr;
  CUresult (*cuDeviceGetAttribute)(int*, int, CUdevice) = nullptr;
  CUresult (*cuDeviceTotalMem_v2)(size_t*, CUdevice) = nullptr;
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext*, CUdevice) = nullptr;
  CUresult (*cuDevicePrimaryCtxRelease_v2)(CUdevice) = nullptr;
  CUresult (*cuCtxSetCurrent)(CUcontext) = nullptr;
  CUresult (*cuCtxSynchronize)() = nullptr;
  CUresult (*cuMemAlloc_v2)(CUdeviceptr*, size_t) = nullptr;
  CUresult (*cuMemFree_v2)(CUdeviceptr) = nullptr;
  CUresult (*cuMemcpyHtoD_v2)(CUdeviceptr, const void*, size_t) = nullptr;
  CUresult (*cuMemcpyDtoH_v2)(void*, CUdeviceptr, size_t) = nullptr;
  CUresult (*cuMemcpyDtoD_v2)(CUdeviceptr, CUdeviceptr, size_t) = nullptr;
  CUresult (*cuMemsetD8_v2)(CUdeviceptr, unsigned char, size_t) = nullptr;
  CUresult (*cuModuleLoadData)(CUmodule*, const void*) = nullptr;
  CUresult (*cuModuleUnload)(CUmodule) = nullptr;
  CUresult (*cuModuleGetFunction)(CUfunction*, CUmodule, const char*) = nullptr;
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, CUstream, void**,
                             void**) = nullptr;
  CUresult (*cuGetErrorString)(CUresult, const char**) = nullptr;
  // NVRTC
  nvrtcResult (*nvrtcVersion)(int*, int*) = nullptr;
  nvrtcResult (*nvrtcCreateProgram)(nvrtcProgram*, const char*, const char*, int, const char* const*, const char* const*) = nullptr;
  nvrtcResult (*nvrtcCompileProgram)(nvrtcProgram, int, const char* const*) = nullptr;
  nvrtcResult (*nvrtcGetProgramLogSize)(nvrtcProgram, size_t*) = nullptr;
  nvrtcResult (*nvrtcGetProgramLog)(nvrtcProgram, char*) = nullptr;
  nvrtcResult (*nvrtcGetCUBINSize)(nvrtcProgram, size_t*) = nullptr;  // optional (CUDA ≥ 11.1)
  nvrtcResult (*nvrtcGetCUBIN)(nvrtcProgram, char*) = nullptr;        // optional
  nvrtcResult (*nvrtcGetPTXSize)(nvrtcProgram, size_t*) = nullptr;
  nvrtcResult (*nvrtcGetPTX)(nvrtcProgram, char*) = nullptr;
  nvrtcResult (*nvrtcDestroyProgram)(nvrtcProgram*) = nullptr;
  const char* (*nvrtcGetErrorString)(nvrtcResult) = nullptr;
  // cuSOLVER (dense Cholesky and inverse)
  cusolverStatus_t (*cusolverDnCreate)(cusolverDnHandle_t*) = nullptr;
  cusolverStatus_t (*cusolverDnDestroy)(cusolverDnHandle_t) = nullptr;
  cusolverStatus_t (*cusolverDnDpotrf_bufferSize)(cusolverDnHandle_t, int, int, double*, int, int*) = nullptr;
  cusolverStatus_t (*cusolverDnDpotrf)(cusolverDnHandle_t, int, int, double*, int, double*, int, int*) = nullptr;
  cusolverStatus_t (*cusolverDnDpotri_bufferSize)(cusolverDnHandle_t, int, int, double*, int, int*) = nullptr;
  cusolverStatus_t (*cusolverDnDpotri)(cusolverDnHandle_t, int, int, double*, int, double*, int, int*) = nullptr;
  // cuBLAS / cuSPARSE: loaded (cuSOLVER needs them resolvable) and checked by one entry point each
  int (*cublasCreate_v2)(void**) = nullptr;
  int (*cusparseCreate)(void**) = nullptr;
};

/** candidate file names / paths per library, in the order to try (from fitter/cuda/discovery.ts) */
struct LibraryCandidates {
  std::string name;  // "cuda", "nvrtc", "cublasLt", "cublas", "nvJitLink", "cusparse", "cusolver"
  bool required = true;
  std::vector<std::string> paths;
};

struct LibraryAttempt {
  std::string path, error;
};

struct LibraryReport {
  std::string name;
  bool required = true;
  std::string loaded;  // path that loaded, empty when none did
  std::vector<LibraryAttempt> tried;
};

struct LoadReport {
  bool ok = false;
  std::vector<LibraryReport> libraries;
  std::string error;  // first problem after loading (a missing symbol, cuInit failure, no device)
  int driverVersion = 0, nvrtcMajor = 0, nvrtcMinor = 0;
  int deviceCount = 0;
  std::string deviceName;
  int ccMajor = 0, ccMinor = 0;
  size_t totalMem = 0;
};

/** dlopen()s the libraries (once per process; later calls return the first report) and probes device 0 */
const LoadReport& loadCuda(const std::vector<LibraryCandidates>& candidates, const CudaApi** api);

}  // namespace hfcuda
