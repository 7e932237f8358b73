// Test/emulation shim: lets g++ compile likelihood.cu as plain C++. The launcher (emulate.cpp) runs
// every block and thread serially and sets these indices; the kernels use no shared memory,
// synchronisation or atomics and each thread owns its outputs, so a serial run computes what the
// GPU does, in the same order (up to fused multiply-adds, which the GPU may contract).
#pragma once
#include <cmath>
#include <cstring>

struct HfDim3 {
  unsigned x = 1, y = 1, z = 1;
};
extern HfDim3 blockIdx, threadIdx, blockDim, gridDim;

#define __global__
#define __device__
#define __forceinline__ inline

inline double __longlong_as_double(long long v) {
  double d;
  std::memcpy(&d, &v, sizeof d);
  return d;
}
using std::copysign;
using std::exp;
using std::fabs;
using std::log;
using std::sqrt;
