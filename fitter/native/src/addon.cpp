// N-API bindings: NativeEvaluator (the float64 likelihood) and NativeCholesky (dense SPD algebra).
// Outputs go into typed arrays allocated by the TypeScript wrappers, so nothing is copied twice.
#include <napi.h>

#include <memory>
#include <string>

#include "dense.h"
#include "envelope.h"
#include "evaluator.h"

namespace {

using fitter::Cholesky;
using fitter::Evaluator;
using fitter::ModelData;

template <class T>
std::vector<T> copyTyped(const Napi::Value& v, const char* name) {
  if (!v.IsTypedArray()) throw Napi::TypeError::New(v.Env(), std::string(name) + " must be a typed array");
  auto ta = v.As<Napi::TypedArrayOf<T>>();
  return std::vector<T>(ta.Data(), ta.Data() + ta.ElementLength());
}

template <class T>
T* typedData(const Napi::Value& v, size_t minLength, const char* name) {
  if (!v.IsTypedArray()) throw Napi::TypeError::New(v.Env(), std::string(name) + " must be a typed array");
  auto ta = v.As<Napi::TypedArrayOf<T>>();
  if (ta.ElementLength() < minLength)
    throw Napi::RangeError::New(v.Env(), std::string(name) + " is too short: " + std::to_string(ta.ElementLength()) +
                                             " < " + std::to_string(minLength));
  return ta.Data();
}

int intField(const Napi::Object& o, const char* k) { return o.Get(k).As<Napi::Number>().Int32Value(); }

// Row pointers as int64: from an Int32Array, or from a Float64Array of exact non-negative integers
// (what the reader gives when nnz exceeds 2^31 - 1).
std::vector<int64_t> rowPointers(const Napi::Value& v) {
  if (!v.IsTypedArray()) throw Napi::TypeError::New(v.Env(), "rowPtr must be a typed array");
  auto ta = v.As<Napi::TypedArray>();
  size_t n = ta.ElementLength();
  std::vector<int64_t> out(n);
  if (ta.TypedArrayType() == napi_int32_array) {
    const int32_t* p = v.As<Napi::Int32Array>().Data();
    std::copy(p, p + n, out.begin());
  } else if (ta.TypedArrayType() == napi_float64_array) {
    const double* p = v.As<Napi::Float64Array>().Data();
    for (size_t i = 0; i < n; i++) {
      if (!(p[i] >= 0 && p[i] <= 9007199254740992.0 && p[i] == static_cast<double>(static_cast<int64_t>(p[i]))))
        throw Napi::RangeError::New(v.Env(), "rowPtr holds a value that is not a non-negative integer");
      out[i] = static_cast<int64_t>(p[i]);
    }
  } else {
    throw Napi::TypeError::New(v.Env(), "rowPtr must be an Int32Array or a Float64Array");
  }
  return out;
}

// Stand-in data pointer for empty arrays (an empty typed array may report a null pointer).
const int32_t kEmptyI32 = 0;
const uint16_t kEmptyU16 = 0;
const double kEmptyF64 = 0;
const float kEmptyF32 = 0;

class NativeEvaluator : public Napi::ObjectWrap<NativeEvaluator> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "NativeEvaluator",
                       {InstanceMethod("nll", &NativeEvaluator::Nll),
                        InstanceMethod("valueAndGradient", &NativeEvaluator::ValueAndGradient),
                        InstanceMethod("hvp", &NativeEvaluator::Hvp),
                        InstanceMethod("hvpBatch", &NativeEvaluator::HvpBatch),
                        InstanceMethod("hessian", &NativeEvaluator::Hessian),
                        InstanceMethod("yields", &NativeEvaluator::Yields),
                        InstanceMethod("yieldVariances", &NativeEvaluator::YieldVariances),
                        InstanceMethod("setData", &NativeEvaluator::SetData),
                        InstanceMethod("setTheta0", &NativeEvaluator::SetTheta0),
                        InstanceMethod("setBeta0", &NativeEvaluator::SetBeta0),
                        InstanceMethod("dispose", &NativeEvaluator::Dispose)});
  }

  explicit NativeEvaluator(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeEvaluator>(info) {
    Napi::Env env = info.Env();
    Napi::Object s = info[0].As<Napi::Object>();
    int threads = info[1].As<Napi::Number>().Int32Value();
    ModelData m;
    m.nbins = intField(s, "nbins");
    m.nbinsFull = intField(s, "nbinsFull");
    m.nproc = intField(s, "nproc");
    m.nsig = intField(s, "nsig");
    m.nsyst = intField(s, "nsyst");
    m.ncols = intField(s, "ncols");
    m.symmetric = s.Get("symmetric").As<Napi::Boolean>().Value();
    m.logNormal = s.Get("systematicType").As<Napi::String>().Utf8Value() == "log_normal";
    m.poiSquare = s.Get("poiMode").As<Napi::String>().Utf8Value() == "square";
    m.norm = copyTyped<double>(s.Get("norm"), "norm");
    m.rowPtr = rowPointers(s.Get("rowPtr"));
    // log κ columns and values are borrowed, not copied: the references below keep the JS arrays
    // (and so their backing stores, which V8 never moves) alive as long as this object.
    Napi::Value cols = s.Get("cols"), vals = s.Get("values");
    if (!cols.IsTypedArray()) throw Napi::TypeError::New(env, "cols must be a typed array");
    if (!vals.IsTypedArray()) throw Napi::TypeError::New(env, "values must be a typed array");
    auto colsTa = cols.As<Napi::TypedArray>();
    auto valsTa = vals.As<Napi::TypedArray>();
    if (colsTa.ElementLength() != valsTa.ElementLength())
      throw Napi::RangeError::New(env, "cols and values have different lengths");
    m.nnz = static_cast<int64_t>(colsTa.ElementLength());
    const bool empty = m.nnz == 0;
    if (colsTa.TypedArrayType() == napi_int32_array) m.cols32 = empty ? &kEmptyI32 : cols.As<Napi::Int32Array>().Data();
    else if (colsTa.TypedArrayType() == napi_uint16_array) m.cols16 = empty ? &kEmptyU16 : cols.As<Napi::Uint16Array>().Data();
    else throw Napi::TypeError::New(env, "cols must be an Int32Array or a Uint16Array");
    if (valsTa.TypedArrayType() == napi_float64_array) m.vals64 = empty ? &kEmptyF64 : vals.As<Napi::Float64Array>().Data();
    else if (valsTa.TypedArrayType() == napi_float32_array) m.vals32 = empty ? &kEmptyF32 : vals.As<Napi::Float32Array>().Data();
    else throw Napi::TypeError::New(env, "values must be a Float64Array or a Float32Array");
    colsRef_ = Napi::Persistent(cols.As<Napi::Object>());
    valsRef_ = Napi::Persistent(vals.As<Napi::Object>());
    m.data = copyTyped<double>(s.Get("data"), "data");
    Napi::Value bb = s.Get("bbK");
    if (!bb.IsNull() && !bb.IsUndefined()) m.bbK = copyTyped<double>(bb, "bbK");
    Napi::Value act = s.Get("bbActive");
    if (!act.IsNull() && !act.IsUndefined()) m.bbActive = copyTyped<uint8_t>(act, "bbActive");
    m.cw = copyTyped<double>(s.Get("constraintWeights"), "constraintWeights");
    m.theta0 = copyTyped<double>(s.Get("theta0"), "theta0");
    try {
      ev_ = std::make_unique<Evaluator>(std::move(m), threads);
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, e.what());
    }
  }

 private:
  Evaluator& ev(const Napi::CallbackInfo& info) {
    if (!ev_) throw Napi::Error::New(info.Env(), "Float64Evaluator used after dispose()");
    return *ev_;
  }
  size_t np(const Napi::CallbackInfo& info) { return static_cast<size_t>(ev(info).nparams()); }

  Napi::Value Nll(const Napi::CallbackInfo& info) {
    const double* x = typedData<double>(info[0], np(info), "x");
    return Napi::Number::New(info.Env(), ev(info).nll(x));
  }
  Napi::Value ValueAndGradient(const Napi::CallbackInfo& info) {
    const double* x = typedData<double>(info[0], np(info), "x");
    double* g = typedData<double>(info[1], np(info), "gradient");
    return Napi::Number::New(info.Env(), ev(info).valueAndGradient(x, g));
  }
  Napi::Value Hvp(const Napi::CallbackInfo& info) {
    const double* x = typedData<double>(info[0], np(info), "x");
    const double* v = typedData<double>(info[1], np(info), "v");
    double* out = typedData<double>(info[2], np(info), "out");
    ev(info).hvp(x, v, out);
    return info.Env().Undefined();
  }
  // hvpBatch(x, V, k, out): V and out row-major [k, n]
  Napi::Value HvpBatch(const Napi::CallbackInfo& info) {
    const size_t n = np(info);
    const double* x = typedData<double>(info[0], n, "x");
    if (!info[2].IsNumber()) throw Napi::TypeError::New(info.Env(), "k must be a number");
    const int64_t k = info[2].As<Napi::Number>().Int64Value();
    if (k < 0 || k > (1 << 24)) throw Napi::RangeError::New(info.Env(), "k out of range: " + std::to_string(k));
    const double* v = typedData<double>(info[1], static_cast<size_t>(k) * n, "V");
    double* out = typedData<double>(info[3], static_cast<size_t>(k) * n, "out");
    ev(info).hvpBatch(x, v, static_cast<int>(k), out);
    return info.Env().Undefined();
  }
  Napi::Value Hessian(const Napi::CallbackInfo& info) {
    size_t n = np(info);
    const double* x = typedData<double>(info[0], n, "x");
    double* out = typedData<double>(info[1], n * n, "out");
    ev(info).hessian(x, out);
    return info.Env().Undefined();
  }
  Napi::Value Yields(const Napi::CallbackInfo& info) {
    const auto& m = ev(info).model();
    const double* x = typedData<double>(info[0], np(info), "x");
    double* out = typedData<double>(info[1], static_cast<size_t>(m.nbinsFull) * m.nproc, "out");
    ev(info).yields(x, out);
    return info.Env().Undefined();
  }
  Napi::Value YieldVariances(const Napi::CallbackInfo& info) {
    const auto& m = ev(info).model();
    size_t n = np(info);
    const double* x = typedData<double>(info[0], n, "x");
    const double* cov = typedData<double>(info[1], n * n, "cov");
    double* perRow = typedData<double>(info[2], static_cast<size_t>(m.nbinsFull) * m.nproc, "perProcess");
    double* perBin = typedData<double>(info[3], static_cast<size_t>(m.nbinsFull), "total");
    ev(info).yieldVariances(x, cov, perRow, perBin);
    return info.Env().Undefined();
  }
  Napi::Value SetData(const Napi::CallbackInfo& info) {
    ev(info).setData(typedData<double>(info[0], static_cast<size_t>(ev(info).model().nbins), "data"));
    return info.Env().Undefined();
  }
  Napi::Value SetTheta0(const Napi::CallbackInfo& info) {
    ev(info).setTheta0(typedData<double>(info[0], static_cast<size_t>(ev(info).model().nsyst), "theta0"));
    return info.Env().Undefined();
  }
  Napi::Value SetBeta0(const Napi::CallbackInfo& info) {
    if (info.Length() < 1 || info[0].IsNull() || info[0].IsUndefined()) ev(info).setBeta0(nullptr);
    else ev(info).setBeta0(typedData<double>(info[0], static_cast<size_t>(ev(info).model().nbins), "beta0"));
    return info.Env().Undefined();
  }
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    ev_.reset();
    colsRef_.Reset();
    valsRef_.Reset();
    return info.Env().Undefined();
  }

  // Declared before ev_ so that they are released after it.
  Napi::ObjectReference colsRef_, valsRef_;
  std::unique_ptr<Evaluator> ev_;
};

class NativeCholesky : public Napi::ObjectWrap<NativeCholesky> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "NativeCholesky",
                       {InstanceMethod("factor", &NativeCholesky::Factor), InstanceMethod("solve", &NativeCholesky::Solve),
                        InstanceMethod("inverse", &NativeCholesky::Inverse),
                        InstanceMethod("logDet", &NativeCholesky::LogDet),
                        InstanceMethod("backend", &NativeCholesky::Backend)});
  }
  explicit NativeCholesky(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeCholesky>(info) {}

 private:
  // factor(a, n, threads, backend) -> positive definite?
  Napi::Value Factor(const Napi::CallbackInfo& info) {
    long n = info[1].As<Napi::Number>().Int64Value();
    const double* a = typedData<double>(info[0], static_cast<size_t>(n * n), "a");
    int threads = info[2].As<Napi::Number>().Int32Value();
    std::string backend = info[3].As<Napi::String>().Utf8Value();
    return Napi::Boolean::New(info.Env(), ch_.factor(a, n, threads, backend));
  }
  Napi::Value Solve(const Napi::CallbackInfo& info) {
    size_t n = static_cast<size_t>(ch_.n());
    ch_.solve(typedData<double>(info[0], n, "b"), typedData<double>(info[1], n, "out"));
    return info.Env().Undefined();
  }
  Napi::Value Inverse(const Napi::CallbackInfo& info) {
    size_t n = static_cast<size_t>(ch_.n());
    ch_.inverse(typedData<double>(info[0], n * n, "out"));
    return info.Env().Undefined();
  }
  Napi::Value LogDet(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), ch_.logDet()); }
  Napi::Value Backend(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), ch_.backendUsed()); }
  Cholesky ch_;
};

// NativeEnvelope: envelope Cholesky of a sparse SPD matrix (fitter/sparseCholesky/).
class NativeEnvelope : public Napi::ObjectWrap<NativeEnvelope> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "NativeEnvelope",
                       {InstanceMethod("factor", &NativeEnvelope::Factor), InstanceMethod("solve", &NativeEnvelope::Solve),
                        InstanceMethod("logDet", &NativeEnvelope::LogDet),
                        InstanceMethod("inverseDiagonal", &NativeEnvelope::InverseDiagonal),
                        InstanceMethod("bytes", &NativeEnvelope::Bytes), InstanceMethod("entries", &NativeEnvelope::Entries),
                        InstanceMethod("multiplyAdds", &NativeEnvelope::MultiplyAdds),
                        InstanceMethod("quadraticForms", &NativeEnvelope::QuadraticForms),
                        InstanceMethod("dispose", &NativeEnvelope::Dispose)});
  }
  explicit NativeEnvelope(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeEnvelope>(info) {}

 private:
  // factor(n, rowPtr, cols, values, perm, keep | null, threads) -> -1, or the original index of a bad pivot
  Napi::Value Factor(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    long n = info[0].As<Napi::Number>().Int64Value();
    if (n < 0) throw Napi::RangeError::New(env, "envelope: negative n");
    std::vector<int64_t> rp = rowPointers(info[1]);
    if (static_cast<long>(rp.size()) != n + 1) throw Napi::RangeError::New(env, "envelope: rowPtr length is not n + 1");
    const size_t nnz = static_cast<size_t>(rp[n]);
    const int32_t* cols = nnz ? typedData<int32_t>(info[2], nnz, "cols") : &kEmptyI32;
    const double* vals = nnz ? typedData<double>(info[3], nnz, "values") : &kEmptyF64;
    const int32_t* perm = n ? typedData<int32_t>(info[4], static_cast<size_t>(n), "perm") : &kEmptyI32;
    const uint8_t* keep = nullptr;
    if (!info[5].IsNull() && !info[5].IsUndefined()) keep = typedData<uint8_t>(info[5], static_cast<size_t>(n), "keep");
    for (size_t p = 0; p < nnz; p++)
      if (cols[p] < 0 || cols[p] >= n) throw Napi::RangeError::New(env, "envelope: column index out of range");
    try {
      return Napi::Number::New(env, static_cast<double>(ch_.factor(n, rp.data(), cols, vals, perm, keep, info[6].As<Napi::Number>().Int32Value())));
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, e.what());
    }
  }
  // solve(b, k, out, threads): k right-hand sides column-major
  Napi::Value Solve(const Napi::CallbackInfo& info) {
    long k = info[1].As<Napi::Number>().Int64Value();
    size_t len = static_cast<size_t>(ch_.n() * k);
    if (len == 0) return info.Env().Undefined();
    ch_.solve(typedData<double>(info[0], len, "b"), k, typedData<double>(info[2], len, "out"), info[3].As<Napi::Number>().Int32Value());
    return info.Env().Undefined();
  }
  Napi::Value LogDet(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), ch_.logDet()); }
  Napi::Value InverseDiagonal(const Napi::CallbackInfo& info) {
    if (ch_.n() == 0) return info.Env().Undefined();
    const bool keep = info.Length() > 2 && info[2].IsBoolean() && info[2].As<Napi::Boolean>().Value();
    ch_.inverseDiagonal(typedData<double>(info[0], static_cast<size_t>(ch_.n()), "out"), info[1].As<Napi::Number>().Int32Value(), keep);
    return info.Env().Undefined();
  }
  // quadraticForms(ptr: Float64Array nvec+1, idx: Int32Array, val: Float64Array, out: Float64Array nvec, threads)
  Napi::Value QuadraticForms(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!ch_.hasSelectedInverse()) throw Napi::Error::New(env, "envelope: quadraticForms needs inverseDiagonal(keep = true) first");
    std::vector<int64_t> ptr = rowPointers(info[0]);
    if (ptr.empty()) throw Napi::RangeError::New(env, "envelope: empty ptr");
    const long nvec = static_cast<long>(ptr.size()) - 1;
    const size_t nnz = static_cast<size_t>(ptr[nvec]);
    const int32_t* idx = nnz ? typedData<int32_t>(info[1], nnz, "idx") : &kEmptyI32;
    const double* val = nnz ? typedData<double>(info[2], nnz, "val") : &kEmptyF64;
    for (size_t p = 0; p < nnz; p++)
      if (idx[p] < 0 || idx[p] >= ch_.n()) throw Napi::RangeError::New(env, "envelope: index out of range");
    if (nvec == 0) return env.Undefined();
    ch_.quadraticForms(nvec, ptr.data(), idx, val, typedData<double>(info[3], static_cast<size_t>(nvec), "out"), info[4].As<Napi::Number>().Int32Value());
    return env.Undefined();
  }
  Napi::Value Bytes(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(ch_.bytes())); }
  Napi::Value MultiplyAdds(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), ch_.factorMultiplyAdds()); }
  Napi::Value Entries(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(ch_.entries())); }
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    ch_.release();
    return info.Env().Undefined();
  }
  fitter::EnvelopeCholesky ch_;
};

Napi::Value Gemm(const Napi::CallbackInfo& info) {
  // gemm(transA, transB, m, n, k, alpha, A, lda, B, ldb, C, ldc, threads): column-major C += alpha op(A) op(B)
  bool ta = info[0].As<Napi::Boolean>().Value(), tb = info[1].As<Napi::Boolean>().Value();
  long m = info[2].As<Napi::Number>().Int64Value(), n = info[3].As<Napi::Number>().Int64Value();
  long k = info[4].As<Napi::Number>().Int64Value();
  double alpha = info[5].As<Napi::Number>().DoubleValue();
  long lda = info[7].As<Napi::Number>().Int64Value(), ldb = info[9].As<Napi::Number>().Int64Value();
  long ldc = info[11].As<Napi::Number>().Int64Value();
  const double* A = typedData<double>(info[6], 0, "A");
  const double* B = typedData<double>(info[8], 0, "B");
  double* C = typedData<double>(info[10], static_cast<size_t>(ldc * (n - 1) + m), "C");
  fitter::gemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, C, ldc, info[12].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

Napi::Value SymmF32(const Napi::CallbackInfo& info) {
  // symmF32(a: Float32Array n×n symmetric, n, k, v: Float64Array k·n, out: Float64Array k·n, threads)
  long n = info[1].As<Napi::Number>().Int64Value(), k = info[2].As<Napi::Number>().Int64Value();
  if (n < 0 || k < 0) throw Napi::RangeError::New(info.Env(), "symmF32: negative n or k");
  // typedData does not check the element type: a Float64Array read as floats would be garbage
  auto isType = [](const Napi::Value& v, napi_typedarray_type t) {
    return v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == t;
  };
  if (!isType(info[0], napi_float32_array)) throw Napi::TypeError::New(info.Env(), "symmF32: a must be a Float32Array");
  if (!isType(info[3], napi_float64_array) || !isType(info[4], napi_float64_array))
    throw Napi::TypeError::New(info.Env(), "symmF32: v and out must be Float64Arrays");
  const float* A = typedData<float>(info[0], static_cast<size_t>(n * n), "a");
  const double* V = typedData<double>(info[3], static_cast<size_t>(n * k), "v");
  double* out = typedData<double>(info[4], static_cast<size_t>(n * k), "out");
  fitter::symmF32(n, k, A, V, out, info[5].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeEvaluator", NativeEvaluator::Init(env));
  exports.Set("NativeCholesky", NativeCholesky::Init(env));
  exports.Set("NativeEnvelope", NativeEnvelope::Init(env));
  exports.Set("gemm", Napi::Function::New(env, Gemm));
  exports.Set("symmF32", Napi::Function::New(env, SymmF32));
  exports.Set("openblasAvailable", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                return Napi::Boolean::New(info.Env(), !fitter::openblasAvailable().empty());
              }));
  return exports;
}

}  // namespace

NODE_API_MODULE(fitter_native, Init)
