// What the host engine needs from a device: memory, kernel launches and the dense SPD inverse.
// Two implementations: the CUDA device (driver API + NVRTC + cuSOLVER, all dlopen()ed) and the
// CPU emulation (the same kernel source compiled by g++, run serially; tests and fallback).
#pragma once
#include <cstddef>
#include <string>

namespace hfcuda {

enum class Kernel { Forward, Bins, GatherColsPartial, GatherCols, GatherPoiPartial, GatherPoi, SumPartial, SumFinal, HvpRows, HvpBins, YvarY, YvarQ, LogDet, SymmetrizeLower, Count };

const char* kernelName(Kernel k);

class Device {
 public:
  virtual ~Device() = default;
  virtual void* alloc(size_t bytes) = 0;  // zero-initialised
  virtual void release(void* p) = 0;
  virtual void upload(void* dst, const void* src, size_t bytes) = 0;
  virtual void download(void* dst, const void* src, size_t bytes) = 0;
  /** runs kernel k over `total` work items (grid-stride loops inside the kernels) with one argument struct */
  virtual void launch(Kernel k, long long total, const void* args, size_t argBytes) = 0;
  /** in place: a (n×n symmetric, device) ← a⁻¹; false when a is not positive definite. logDet = log det a. */
  virtual bool spdInverse(double* a, int n, double* logDet) = 0;
  /** device-to-device copy bandwidth in bytes/s, counting bytes read + written (the card's copy bandwidth) */
  virtual double copyBandwidth(size_t bytes, int reps) = 0;
  virtual std::string description() const = 0;
  /** "cuda" or "emulate" */
  virtual const char* kind() const = 0;
};

}  // namespace hfcuda
