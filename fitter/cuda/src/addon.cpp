// N-API bindings of the CUDA engine: probe() (load the CUDA libraries, describe what is missing)
// and CudaEngine (the float64 likelihood on the GPU, or on the CPU emulation device for tests).
#include <napi.h>

#include <cmath>
#include <memory>
#include <string>

#include "cudaApi.h"
#include "device.h"
#include "engine.h"

namespace hfcuda {
Device* createEmulatedDevice();
Device* createCudaDevice(const CudaApi& api, const LoadReport& rep, const std::string& source, const std::string& header,
                         const std::string& cacheDir);
}  // namespace hfcuda

namespace {

using namespace hfcuda;

template <class T>
std::vector<T> copyTyped(const Napi::Value& v, const char* name) {
  if (!v.IsTypedArray()) throw Napi::TypeError::New(v.Env(), std::string(name) + " must be a typed array");
  auto ta = v.As<Napi::TypedArrayOf<T>>();
  return std::vector<T>(ta.Data(), ta.Data() + ta.ElementLength());
}

// float64 or float32 storage → float64 (log κ may be stored as float32; the engine computes in float64)
std::vector<double> copyReal(const Napi::Value& v, const char* name) {
  if (!v.IsTypedArray()) throw Napi::TypeError::New(v.Env(), std::string(name) + " must be a Float64Array or Float32Array");
  auto ta = v.As<Napi::TypedArray>();
  if (ta.TypedArrayType() == napi_float64_array) return copyTyped<double>(v, name);
  if (ta.TypedArrayType() == napi_float32_array) {
    auto f = v.As<Napi::TypedArrayOf<float>>();
    return std::vector<double>(f.Data(), f.Data() + f.ElementLength());
  }
  throw Napi::TypeError::New(v.Env(), std::string(name) + " must be a Float64Array or Float32Array");
}

// log κ indices as the reader stores them (columns Uint16Array or Int32Array, row pointers Int32Array or,
// beyond 2^31 entries, Float64Array) → int32, the device's index width; larger models are refused
std::vector<int32_t> copyIndex(const Napi::Value& v, const char* name) {
  if (!v.IsTypedArray()) throw Napi::TypeError::New(v.Env(), std::string(name) + " must be a typed array");
  auto ta = v.As<Napi::TypedArray>();
  switch (ta.TypedArrayType()) {
    case napi_int32_array:
      return copyTyped<int32_t>(v, name);
    case napi_uint16_array: {
      auto u = v.As<Napi::TypedArrayOf<uint16_t>>();
      return std::vector<int32_t>(u.Data(), u.Data() + u.ElementLength());
    }
    case napi_float64_array: {
      auto d = v.As<Napi::TypedArrayOf<double>>();
      std::vector<int32_t> out(d.ElementLength());
      for (size_t i = 0; i < out.size(); i++) {
        if (!(d.Data()[i] >= 0 && d.Data()[i] <= 2147483647.0))
          throw Napi::RangeError::New(v.Env(), std::string(name) + ": more than 2^31 log κ entries are not supported by the CUDA engine");
        out[i] = static_cast<int32_t>(d.Data()[i]);
      }
      return out;
    }
    default:
      throw Napi::TypeError::New(v.Env(), std::string(name) + " must be an Int32Array, Uint16Array or Float64Array");
  }
}

template <class T>
T* typedData(const Napi::Value& v, size_t minLength, const char* name) {
  if (!v.IsTypedArray()) throw Napi::TypeError::New(v.Env(), std::string(name) + " must be a typed array");
  auto ta = v.As<Napi::TypedArrayOf<T>>();
  if (ta.ElementLength() < minLength)
    throw Napi::RangeError::New(v.Env(), std::string(name) + " is too short: " + std::to_string(ta.ElementLength()) + " < " +
                                             std::to_string(minLength));
  return ta.Data();
}

int intField(const Napi::Object& o, const char* k) { return o.Get(k).As<Napi::Number>().Int32Value(); }

std::vector<LibraryCandidates> readCandidates(const Napi::Value& v) {
  std::vector<LibraryCandidates> out;
  if (!v.IsArray()) return out;
  auto arr = v.As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Object o = arr.Get(i).As<Napi::Object>();
    LibraryCandidates c;
    c.name = o.Get("name").As<Napi::String>().Utf8Value();
    c.required = o.Get("required").As<Napi::Boolean>().Value();
    auto paths = o.Get("paths").As<Napi::Array>();
    for (uint32_t j = 0; j < paths.Length(); j++) c.paths.push_back(paths.Get(j).As<Napi::String>().Utf8Value());
    out.push_back(std::move(c));
  }
  return out;
}

Napi::Object reportObject(Napi::Env env, const LoadReport& rep) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("ok", rep.ok);
  Napi::Array libs = Napi::Array::New(env, rep.libraries.size());
  for (size_t i = 0; i < rep.libraries.size(); i++) {
    const LibraryReport& lr = rep.libraries[i];
    Napi::Object l = Napi::Object::New(env);
    l.Set("name", lr.name);
    l.Set("required", lr.required);
    l.Set("loaded", lr.loaded.empty() ? env.Null() : Napi::String::New(env, lr.loaded));
    Napi::Array tried = Napi::Array::New(env, lr.tried.size());
    for (size_t j = 0; j < lr.tried.size(); j++) {
      Napi::Object t = Napi::Object::New(env);
      t.Set("path", lr.tried[j].path);
      t.Set("error", lr.tried[j].error);
      tried.Set(static_cast<uint32_t>(j), t);
    }
    l.Set("tried", tried);
    libs.Set(static_cast<uint32_t>(i), l);
  }
  o.Set("libraries", libs);
  o.Set("error", rep.error.empty() ? env.Null() : Napi::String::New(env, rep.error));
  o.Set("driverVersion", rep.driverVersion);
  o.Set("nvrtcVersion", std::to_string(rep.nvrtcMajor) + "." + std::to_string(rep.nvrtcMinor));
  o.Set("deviceCount", rep.deviceCount);
  o.Set("deviceName", rep.deviceName);
  o.Set("computeCapability", std::to_string(rep.ccMajor) + "." + std::to_string(rep.ccMinor));
  o.Set("totalMemory", static_cast<double>(rep.totalMem));
  return o;
}

Napi::Value Probe(const Napi::CallbackInfo& info) {
  const CudaApi* api = nullptr;
  const LoadReport& rep = loadCuda(readCandidates(info[0]), &api);
  return reportObject(info.Env(), rep);
}

class CudaEngine : public Napi::ObjectWrap<CudaEngine> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "CudaEngine",
                       {InstanceMethod("nll", &CudaEngine::Nll), InstanceMethod("valueAndGradient", &CudaEngine::ValueAndGradient),
                        InstanceMethod("hvp", &CudaEngine::Hvp), InstanceMethod("hessian", &CudaEngine::Hessian),
                        InstanceMethod("yields", &CudaEngine::Yields), InstanceMethod("yieldVariances", &CudaEngine::YieldVariances),
                        InstanceMethod("setData", &CudaEngine::SetData), InstanceMethod("setTheta0", &CudaEngine::SetTheta0),
                        InstanceMethod("setBeta0", &CudaEngine::SetBeta0),
                        InstanceMethod("valueAndGradientBatch", &CudaEngine::ValueAndGradientBatch),
                        InstanceMethod("spdInverse", &CudaEngine::SpdInverse), InstanceMethod("description", &CudaEngine::Description),
                        InstanceMethod("kind", &CudaEngine::Kind), InstanceMethod("copyBandwidth", &CudaEngine::CopyBandwidth), InstanceMethod("dispose", &CudaEngine::Dispose)});
  }

  explicit CudaEngine(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CudaEngine>(info) {
    Napi::Env env = info.Env();
    Napi::Object s = info[0].As<Napi::Object>();
    Napi::Object o = info[1].As<Napi::Object>();
    HostModel m;
    m.nbins = intField(s, "nbins");
    m.nbinsFull = intField(s, "nbinsFull");
    m.nproc = intField(s, "nproc");
    m.nsig = intField(s, "nsig");
    m.nsyst = intField(s, "nsyst");
    m.ncols = intField(s, "ncols");
    m.symmetric = s.Get("symmetric").As<Napi::Boolean>().Value();
    m.logNormal = s.Get("systematicType").As<Napi::String>().Utf8Value() == "log_normal";
    m.poiSquare = s.Get("poiMode").As<Napi::String>().Utf8Value() == "square";
    m.norm = copyReal(s.Get("norm"), "norm");
    m.rowPtr = copyIndex(s.Get("rowPtr"), "rowPtr");
    m.cols = copyIndex(s.Get("cols"), "cols");
    m.vals = copyReal(s.Get("values"), "values");
    m.data = copyReal(s.Get("data"), "data");
    Napi::Value bb = s.Get("bbK");
    if (!bb.IsNull() && !bb.IsUndefined()) m.bbK = copyReal(bb, "bbK");
    Napi::Value act = s.Get("bbActive");
    if (!act.IsNull() && !act.IsUndefined()) m.bbActive = copyTyped<uint8_t>(act, "bbActive");
    m.cw = copyReal(s.Get("constraintWeights"), "constraintWeights");
    m.theta0 = copyReal(s.Get("theta0"), "theta0");
    const std::string mode = o.Get("mode").As<Napi::String>().Utf8Value();
    try {
      std::unique_ptr<Device> dev;
      if (mode == "emulate") {
        dev.reset(createEmulatedDevice());
      } else if (mode == "cuda") {
        const CudaApi* api = nullptr;
        const LoadReport& rep = loadCuda(readCandidates(o.Get("candidates")), &api);
        if (!rep.ok) throw std::runtime_error("CUDA is not usable: run probe() for the details");
        dev.reset(createCudaDevice(*api, rep, o.Get("source").As<Napi::String>().Utf8Value(), o.Get("header").As<Napi::String>().Utf8Value(),
                                   o.Get("cacheDir").As<Napi::String>().Utf8Value()));
      } else {
        throw std::invalid_argument("mode must be \"cuda\" or \"emulate\"");
      }
      eng_ = std::make_unique<Engine>(std::move(m), std::move(dev));
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, e.what());
    }
    n_ = eng_->nparams();
    nbins_ = info[0].As<Napi::Object>().Get("nbins").As<Napi::Number>().Int32Value();
    nbinsFull_ = intField(s, "nbinsFull");
    nproc_ = intField(s, "nproc");
    nsyst_ = intField(s, "nsyst");
  }

 private:
  Engine& e(Napi::Env env) {
    if (!eng_) throw Napi::Error::New(env, "CudaEngine used after dispose()");
    return *eng_;
  }
  template <class F>
  auto guard(Napi::Env env, F f) -> decltype(f()) {
    try {
      return f();
    } catch (const Napi::Error&) {
      throw;
    } catch (const std::exception& ex) {
      throw Napi::Error::New(env, ex.what());
    }
  }
  Napi::Value Nll(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const double* x = typedData<double>(info[0], n_, "x");
    return Napi::Number::New(env, guard(env, [&] { return e(env).nll(x); }));
  }
  Napi::Value ValueAndGradient(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const double* x = typedData<double>(info[0], n_, "x");
    double* g = typedData<double>(info[1], n_, "gradient");
    return Napi::Number::New(env, guard(env, [&] { return e(env).valueAndGradient(x, g); }));
  }
  // hvp(x, v [K*n], out [K*n], K)
  Napi::Value Hvp(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int K = info.Length() > 3 ? info[3].As<Napi::Number>().Int32Value() : 1;
    if (K < 1) throw Napi::RangeError::New(env, "K must be positive");
    const double* x = typedData<double>(info[0], n_, "x");
    const double* v = typedData<double>(info[1], static_cast<size_t>(K) * n_, "v");
    double* out = typedData<double>(info[2], static_cast<size_t>(K) * n_, "out");
    guard(env, [&] {
      e(env).hvp(x, v, K, out);
      return 0;
    });
    return env.Undefined();
  }
  Napi::Value Hessian(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const double* x = typedData<double>(info[0], n_, "x");
    double* h = typedData<double>(info[1], static_cast<size_t>(n_) * n_, "out");
    guard(env, [&] {
      e(env).hessian(x, h);
      return 0;
    });
    return env.Undefined();
  }
  Napi::Value Yields(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const double* x = typedData<double>(info[0], n_, "x");
    double* out = typedData<double>(info[1], static_cast<size_t>(nbinsFull_) * nproc_, "out");
    guard(env, [&] {
      e(env).yields(x, out);
      return 0;
    });
    return env.Undefined();
  }
  Napi::Value YieldVariances(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const double* x = typedData<double>(info[0], n_, "x");
    const double* cov = typedData<double>(info[1], static_cast<size_t>(n_) * n_, "cov");
    double* pr = typedData<double>(info[2], static_cast<size_t>(nbinsFull_) * nproc_, "perRow");
    double* pb = typedData<double>(info[3], nbinsFull_, "perBin");
    guard(env, [&] {
      e(env).yieldVariances(x, cov, pr, pb);
      return 0;
    });
    return env.Undefined();
  }
  Napi::Value SetData(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const double* d = typedData<double>(info[0], nbins_, "data");
    guard(env, [&] {
      e(env).setData(d);
      return 0;
    });
    return env.Undefined();
  }
  Napi::Value SetTheta0(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const double* t = typedData<double>(info[0], nsyst_, "theta0");
    guard(env, [&] {
      e(env).setTheta0(t);
      return 0;
    });
    return env.Undefined();
  }
  Napi::Value SetBeta0(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const double* b = info[0].IsNull() || info[0].IsUndefined() ? nullptr : typedData<double>(info[0], nbins_, "beta0");
    guard(env, [&] {
      e(env).setBeta0(b);
      return 0;
    });
    return env.Undefined();
  }
  // valueAndGradientBatch(xs [K*n], data [K*nbins], K, values [K], grads [K*n])
  Napi::Value ValueAndGradientBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int K = info[2].As<Napi::Number>().Int32Value();
    if (K < 1) throw Napi::RangeError::New(env, "K must be positive");
    const double* xs = typedData<double>(info[0], static_cast<size_t>(K) * n_, "xs");
    const double* d = typedData<double>(info[1], static_cast<size_t>(K) * nbins_, "data");
    double* vals = typedData<double>(info[3], K, "values");
    double* grads = typedData<double>(info[4], static_cast<size_t>(K) * n_, "gradients");
    guard(env, [&] {
      e(env).valueAndGradientBatch(xs, d, K, vals, grads);
      return 0;
    });
    return env.Undefined();
  }
  // spdInverse(a [m*m], m, out [m*m]) → log det a, NaN when not positive definite
  Napi::Value SpdInverse(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int m = info[1].As<Napi::Number>().Int32Value();
    if (m < 0) throw Napi::RangeError::New(env, "size must be non-negative");
    const double* a = typedData<double>(info[0], static_cast<size_t>(m) * m, "a");
    double* out = typedData<double>(info[2], static_cast<size_t>(m) * m, "out");
    return Napi::Number::New(env, guard(env, [&] { return e(env).spdInverse(a, m, out); }));
  }
  Napi::Value Description(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), e(info.Env()).description()); }
  // copyBandwidth(bytes, reps) → bytes/s (read + written) of device-to-device copies
  Napi::Value CopyBandwidth(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    double bytes = info[0].As<Napi::Number>().DoubleValue();
    int reps = info[1].As<Napi::Number>().Int32Value();
    if (!(bytes >= 1) || reps < 1) throw Napi::RangeError::New(env, "copyBandwidth: bytes and reps must be positive");
    return Napi::Number::New(env, guard(env, [&] { return e(env).copyBandwidth(static_cast<size_t>(bytes), reps); }));
  }
  Napi::Value Kind(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), e(info.Env()).kind()); }
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    eng_.reset();
    return info.Env().Undefined();
  }

  std::unique_ptr<Engine> eng_;
  int n_ = 0, nbins_ = 0, nbinsFull_ = 0, nproc_ = 0, nsyst_ = 0;
};

Napi::Object InitAll(Napi::Env env, Napi::Object exports) {
  exports.Set("probe", Napi::Function::New(env, Probe));
  exports.Set("CudaEngine", CudaEngine::Init(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(fitter_cuda, InitAll)
