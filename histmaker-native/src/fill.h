// The fill kernel: one bin lookup per event, then the event's weights are added into the shared
// storage. With a tensor axis of width K the K weights go to K consecutive cells (the inner-most
// dimension) after that single lookup. All threads add into the same arrays, never into copies.
//
// How an update is made safe (AddMode):
//  * Plain  - ordinary adds; only used when this fill is the histogram's sole writer on one thread.
//  * Cas    - every cell add is an atomic compare-and-swap loop on the double's 64-bit pattern,
//             through GCC's __atomic builtins (g++ supports them under -std=c++17; std::atomic_ref
//             would need C++20); counts use __atomic_fetch_add.
//  * BinLock - one spin lock per bin (a byte per bin, K cells): taken with one atomic exchange,
//             then the event's K (2K for weighted) cells get plain adds. For wide tensors this costs
//             one atomic operation per event instead of K or 2K compare-and-swaps.
#pragma once
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "axes.h"

namespace hm {

enum class StorageKind : int { Double = 0, Weighted = 1, Count = 2 };

enum class ColumnType : int { F64, F32, I32, U32, I16, U16, I8, U8, I64, U64 };

struct Column {
  ColumnType type;
  const void* data;
  size_t length;
};

inline void atomicAdd(double* target, double value) {
  uint64_t* bits = reinterpret_cast<uint64_t*>(target);
  uint64_t expected = __atomic_load_n(bits, __ATOMIC_RELAXED);
  for (;;) {
    double current;
    std::memcpy(&current, &expected, sizeof current);
    const double next = current + value;
    uint64_t desired;
    std::memcpy(&desired, &next, sizeof desired);
    // on failure `expected` is refreshed with the value another thread wrote
    if (__atomic_compare_exchange_n(bits, &expected, desired, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
      return;
  }
}

inline void atomicIncrement(uint64_t* target) { __atomic_fetch_add(target, 1, __ATOMIC_RELAXED); }

enum class AddMode : int { Plain = 0, Cas = 1, BinLock = 2 };

struct BinLocks {
  uint8_t* flags = nullptr;  // one per bin (cells / K)
  void lock(int64_t bin) const {
    while (__atomic_exchange_n(flags + bin, uint8_t{1}, __ATOMIC_ACQUIRE)) {
      while (__atomic_load_n(flags + bin, __ATOMIC_RELAXED)) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
      }
    }
  }
  void unlock(int64_t bin) const { __atomic_store_n(flags + bin, uint8_t{0}, __ATOMIC_RELEASE); }
};

struct Storage {
  StorageKind kind = StorageKind::Double;
  double* sumw = nullptr;   // Double, Weighted
  double* sumw2 = nullptr;  // Weighted
  uint64_t* count = nullptr;  // Count
  size_t cells = 0;           // number of cells, tensor included
};

struct FillInput {
  std::vector<Column> columns;  // one per axis
  const double* weight = nullptr;         // n or null
  const double* tensorWeights = nullptr;  // n * K or null
  size_t n = 0;
};

template <class F>
void withColumn(const Column& c, F f) {
  switch (c.type) {
    case ColumnType::F64: return f(static_cast<const double*>(c.data));
    case ColumnType::F32: return f(static_cast<const float*>(c.data));
    case ColumnType::I32: return f(static_cast<const int32_t*>(c.data));
    case ColumnType::U32: return f(static_cast<const uint32_t*>(c.data));
    case ColumnType::I16: return f(static_cast<const int16_t*>(c.data));
    case ColumnType::U16: return f(static_cast<const uint16_t*>(c.data));
    case ColumnType::I8: return f(static_cast<const int8_t*>(c.data));
    case ColumnType::U8: return f(static_cast<const uint8_t*>(c.data));
    case ColumnType::I64: return f(static_cast<const int64_t*>(c.data));
    case ColumnType::U64: return f(static_cast<const uint64_t*>(c.data));
  }
}

template <bool Atomic>
inline void add(double* target, double value) {
  if constexpr (Atomic) atomicAdd(target, value);
  else *target += value;
}

template <AddMode Mode>
void fillRange(const std::vector<Axis>& axes, const std::vector<int64_t>& strides, size_t K,
               const Storage& st, const BinLocks& locks, const FillInput& in, size_t begin, size_t end) {
  constexpr bool Atomic = Mode == AddMode::Cas;
  constexpr size_t chunk = 1024;
  int64_t linear[chunk];
  for (size_t b0 = begin; b0 < end; b0 += chunk) {
    const size_t b1 = std::min(end, b0 + chunk);
    std::fill(linear, linear + (b1 - b0), int64_t{0});
    for (size_t a = 0; a < axes.size(); a++) {
      withColumn(in.columns[a], [&](auto* col) {
        accumulateIndices(axes[a], col, b0, b1, strides[a], linear);
      });
    }
    for (size_t i = b0; i < b1; i++) {
      const int64_t cell = linear[i - b0];
      if (cell < 0) continue;
      if constexpr (Mode == AddMode::BinLock) locks.lock(cell);
      if (st.kind == StorageKind::Count) {
        uint64_t* c = st.count + cell * K;
        for (size_t k = 0; k < K; k++) {
          if constexpr (Atomic) atomicIncrement(c + k);
          else c[k]++;
        }
      } else {
        const double w = in.weight ? in.weight[i] : 1.0;
        double* sw = st.sumw + cell * K;
        if (in.tensorWeights) {
          const double* tw = in.tensorWeights + i * K;
          if (st.kind == StorageKind::Weighted) {
            double* sw2 = st.sumw2 + cell * K;
            for (size_t k = 0; k < K; k++) {
              const double v = w * tw[k];
              add<Atomic>(sw + k, v);
              add<Atomic>(sw2 + k, v * v);
            }
          } else {
            for (size_t k = 0; k < K; k++) add<Atomic>(sw + k, w * tw[k]);
          }
        } else {
          for (size_t k = 0; k < K; k++) add<Atomic>(sw + k, w);
          if (st.kind == StorageKind::Weighted) {
            double* sw2 = st.sumw2 + cell * K;
            for (size_t k = 0; k < K; k++) add<Atomic>(sw2 + k, w * w);
          }
        }
      }
      if constexpr (Mode == AddMode::BinLock) locks.unlock(cell);
    }
  }
}

// Splits [0, n) into `threads` contiguous slices; the calling thread takes the first one.
inline void fillParallel(const std::vector<Axis>& axes, const std::vector<int64_t>& strides, size_t K,
                         const Storage& st, const BinLocks& locks, const FillInput& in, int threads,
                         AddMode mode) {
  const size_t n = in.n;
  if (threads < 1) threads = 1;
  if (static_cast<size_t>(threads) > n / 1024 + 1) threads = static_cast<int>(n / 1024 + 1);
  auto run = [&](size_t b, size_t e) {
    switch (mode) {
      case AddMode::Plain: fillRange<AddMode::Plain>(axes, strides, K, st, locks, in, b, e); break;
      case AddMode::Cas: fillRange<AddMode::Cas>(axes, strides, K, st, locks, in, b, e); break;
      case AddMode::BinLock: fillRange<AddMode::BinLock>(axes, strides, K, st, locks, in, b, e); break;
    }
  };
  std::vector<std::thread> pool;
  const size_t per = (n + threads - 1) / threads;
  for (int t = 1; t < threads; t++) {
    const size_t b = std::min(n, t * per), e = std::min(n, (t + 1) * per);
    pool.emplace_back(run, b, e);
  }
  run(0, std::min(n, per));
  for (auto& th : pool) th.join();
}

}  // namespace hm
