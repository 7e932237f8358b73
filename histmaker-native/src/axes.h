// Axes of a histogram: each maps one value per event to a bin index along its dimension.
// Index convention (shared with the TypeScript side): when underflow is enabled it is index 0 and the
// regular bins follow; overflow, when enabled, is the last index. A value that falls in a disabled flow
// bin yields -1 ("drop the event").
//
// Decisions (documented in src/histmaker/axes.ts too):
//  * bins are half-open [lower, upper); a value exactly on the upper edge of the axis is overflow;
//  * NaN goes to overflow when the axis has one, otherwise the event is dropped;
//  * regular-axis edges are lower + (upper - lower) * i / n, and binning is exact against these
//    edges (a floor() guess is corrected by comparing with the edges), so a value equal to an edge
//    printed by the TypeScript side always lands in the bin that starts there.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace hm {

enum class AxisKind : int { Regular = 0, Variable = 1, Integer = 2, Boolean = 3, Category = 4 };

struct Axis {
  AxisKind kind = AxisKind::Regular;
  int n = 0;  // number of regular bins (categories for Category)
  bool underflow = false;
  bool overflow = false;
  double lower = 0, upper = 0;      // Regular
  std::vector<double> edges;        // Variable: n + 1 ascending edges; Regular: computed edges
  int64_t intLower = 0;             // Integer: first integer value
  std::vector<int64_t> categories;  // Category: value of each category bin
  std::unordered_map<int64_t, int> categoryIndex;
  bool categoryDense = false;  // categories are intLower, intLower+1, ... (direct lookup)

  int extent() const { return n + (underflow ? 1 : 0) + (overflow ? 1 : 0); }

  void prepare() {
    if (kind == AxisKind::Regular) {
      edges.resize(n + 1);
      for (int i = 0; i <= n; i++) edges[i] = lower + ((upper - lower) * i) / n;
    }
    if (kind == AxisKind::Category) {
      categoryIndex.clear();
      categoryDense = true;
      for (int i = 0; i < n; i++) {
        categoryIndex.emplace(categories[i], i);
        if (categories[i] != categories[0] + i) categoryDense = false;
      }
      intLower = n > 0 ? categories[0] : 0;
    }
  }

  // Regular-bin position b (may be < 0 or >= n) to final index or -1.
  inline int64_t place(int64_t b) const {
    const int off = underflow ? 1 : 0;
    if (b < 0) return underflow ? 0 : -1;
    if (b >= n) return overflow ? n + off : -1;
    return b + off;
  }
  inline int64_t nanIndex() const { return overflow ? n + (underflow ? 1 : 0) : -1; }

  inline int64_t indexRegular(double x) const {
    if (std::isnan(x)) return nanIndex();
    if (x < edges[0]) return place(-1);
    if (x >= edges[n]) return place(n);
    int64_t b = static_cast<int64_t>((x - lower) / (upper - lower) * n);
    if (b >= n) b = n - 1;
    if (b < 0) b = 0;
    // correct the floor guess against the exact edges
    while (b > 0 && x < edges[b]) b--;
    while (b < n - 1 && x >= edges[b + 1]) b++;
    return place(b);
  }
  inline int64_t indexVariable(double x) const {
    if (std::isnan(x)) return nanIndex();
    if (x < edges[0]) return place(-1);
    if (x >= edges[n]) return place(n);
    const int64_t b = std::upper_bound(edges.begin(), edges.end(), x) - edges.begin() - 1;
    return place(b);
  }
  inline int64_t indexInteger(double x) const {
    if (std::isnan(x)) return nanIndex();
    const double f = std::floor(x) - static_cast<double>(intLower);
    if (f < 0) return place(-1);
    if (f >= n) return place(n);
    return place(static_cast<int64_t>(f));
  }
  inline int64_t indexBoolean(double x) const {
    if (std::isnan(x)) return -1;
    return x != 0 ? 1 : 0;
  }
  inline int64_t indexCategory(double x) const {
    const int64_t other = overflow ? n : -1;
    if (!(x == std::floor(x)) || std::fabs(x) > 9.0e15) return other;  // NaN, inf, non-integer
    const int64_t v = static_cast<int64_t>(x);
    if (categoryDense) {
      const int64_t b = v - intLower;
      return (b >= 0 && b < n) ? b : other;
    }
    auto it = categoryIndex.find(v);
    return it == categoryIndex.end() ? other : it->second;
  }
  // Integer-typed columns: same rules without the double round trip for 64-bit values.
  inline int64_t indexCategoryInt(int64_t v) const {
    const int64_t other = overflow ? n : -1;
    if (categoryDense) {
      const int64_t b = v - intLower;
      return (b >= 0 && b < n) ? b : other;
    }
    auto it = categoryIndex.find(v);
    return it == categoryIndex.end() ? other : it->second;
  }
};

// Adds stride * bin(column[i]) to linear[i - begin] for i in [begin, end); -1 is sticky ("dropped").
template <class T>
void accumulateIndices(const Axis& ax, const T* column, size_t begin, size_t end, int64_t stride,
                       int64_t* linear) {
  auto run = [&](auto binOf) {
    for (size_t i = begin; i < end; i++) {
      const int64_t b = binOf(column[i]);
      int64_t& l = linear[i - begin];
      l = (b < 0 || l < 0) ? -1 : l + b * stride;
    }
  };
  switch (ax.kind) {
    case AxisKind::Regular:
      run([&](T v) { return ax.indexRegular(static_cast<double>(v)); });
      break;
    case AxisKind::Variable:
      run([&](T v) { return ax.indexVariable(static_cast<double>(v)); });
      break;
    case AxisKind::Integer:
      run([&](T v) { return ax.indexInteger(static_cast<double>(v)); });
      break;
    case AxisKind::Boolean:
      run([&](T v) { return ax.indexBoolean(static_cast<double>(v)); });
      break;
    case AxisKind::Category:
      if constexpr (std::is_integral_v<T>) {
        run([&](T v) { return ax.indexCategoryInt(static_cast<int64_t>(v)); });
      } else {
        run([&](T v) { return ax.indexCategory(static_cast<double>(v)); });
      }
      break;
  }
}

}  // namespace hm
