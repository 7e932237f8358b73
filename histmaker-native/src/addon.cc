// N-API binding: NativeHist wraps axis definitions and storage arrays owned by JavaScript
// (typed arrays passed in at construction, so values are read from JS without copies).
// fill() runs on the calling thread; fillAsync() runs on the libuv pool, off the main thread,
// fanning out into `threads` std::threads that all add atomically into the same storage.
//
// Concurrency: a fill on one thread that finds no other fill running takes the histogram
// exclusively and uses plain adds; every other fill shares it and uses the histogram's atomic
// mode (compare-and-swap per cell, or a spin lock per bin: see fill.h). The mode is fixed per
// histogram so concurrent fills never mix the two schemes.
#include <napi.h>

#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>

#include "axes.h"
#include "fill.h"

namespace {

using hm::Axis;
using hm::AxisKind;
using hm::Column;
using hm::ColumnType;
using hm::StorageKind;

ColumnType columnType(napi_typedarray_type t, Napi::Env env) {
  switch (t) {
    case napi_float64_array: return ColumnType::F64;
    case napi_float32_array: return ColumnType::F32;
    case napi_int32_array: return ColumnType::I32;
    case napi_uint32_array: return ColumnType::U32;
    case napi_int16_array: return ColumnType::I16;
    case napi_uint16_array: return ColumnType::U16;
    case napi_int8_array: return ColumnType::I8;
    case napi_uint8_array:
    case napi_uint8_clamped_array: return ColumnType::U8;
    case napi_bigint64_array: return ColumnType::I64;
    case napi_biguint64_array: return ColumnType::U64;
    default: throw Napi::TypeError::New(env, "histmaker_native: unsupported typed array type");
  }
}

double numberField(const Napi::Object& o, const char* key) {
  return o.Get(key).As<Napi::Number>().DoubleValue();
}

Axis parseAxis(const Napi::Object& o, Napi::Env env) {
  Axis ax;
  ax.kind = static_cast<AxisKind>(o.Get("kind").As<Napi::Number>().Int32Value());
  ax.n = o.Get("n").As<Napi::Number>().Int32Value();
  ax.underflow = o.Get("underflow").ToBoolean();
  ax.overflow = o.Get("overflow").ToBoolean();
  if (ax.n < 0) throw Napi::RangeError::New(env, "histmaker_native: negative bin count");
  switch (ax.kind) {
    case AxisKind::Regular:
      if (ax.n < 1) throw Napi::RangeError::New(env, "histmaker_native: regular axis needs n >= 1");
      ax.lower = numberField(o, "lower");
      ax.upper = numberField(o, "upper");
      break;
    case AxisKind::Variable: {
      auto e = o.Get("edges").As<Napi::Float64Array>();
      if (e.ElementLength() != static_cast<size_t>(ax.n) + 1)
        throw Napi::RangeError::New(env, "histmaker_native: variable axis needs n + 1 edges");
      ax.edges.assign(e.Data(), e.Data() + e.ElementLength());
      break;
    }
    case AxisKind::Integer: ax.intLower = static_cast<int64_t>(numberField(o, "lower")); break;
    case AxisKind::Boolean:
      ax.n = 2;
      ax.underflow = ax.overflow = false;
      break;
    case AxisKind::Category: {
      auto c = o.Get("categories").As<Napi::Float64Array>();
      if (c.ElementLength() != static_cast<size_t>(ax.n))
        throw Napi::RangeError::New(env, "histmaker_native: category axis needs n categories");
      ax.underflow = false;
      for (size_t i = 0; i < c.ElementLength(); i++) ax.categories.push_back(static_cast<int64_t>(c[i]));
      break;
    }
    default: throw Napi::RangeError::New(env, "histmaker_native: unknown axis kind");
  }
  ax.prepare();
  return ax;
}

class NativeHist;

struct FillRequest {
  hm::FillInput input;
  std::vector<Napi::Reference<Napi::Value>> keepAlive;  // typed arrays read during an async fill
  int threads = 1;
};

class NativeHist : public Napi::ObjectWrap<NativeHist> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeHist",
                       {InstanceMethod<&NativeHist::Fill>("fill"),
                        InstanceMethod<&NativeHist::FillAsync>("fillAsync"),
                        InstanceMethod<&NativeHist::Cells>("cells"),
                        InstanceMethod<&NativeHist::AtomicModeName>("atomicMode")});
  }

  // new NativeHist(axes: AxisSpec[], tensorSize, storageKind, sumw|null, sumw2|null, count|null,
  //                atomicMode: 0 auto | 1 compare-and-swap | 2 bin lock)
  explicit NativeHist(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeHist>(info) {
    Napi::Env env = info.Env();
    auto axesIn = info[0].As<Napi::Array>();
    for (uint32_t i = 0; i < axesIn.Length(); i++)
      axes_.push_back(parseAxis(axesIn.Get(i).As<Napi::Object>(), env));
    const double k = info[1].As<Napi::Number>().DoubleValue();
    if (!(k >= 1)) throw Napi::RangeError::New(env, "histmaker_native: tensor size must be >= 1");
    K_ = static_cast<size_t>(k);
    storage_.kind = static_cast<StorageKind>(info[2].As<Napi::Number>().Int32Value());
    strides_.assign(axes_.size(), 1);
    size_t cells = K_;
    for (size_t a = axes_.size(); a-- > 0;) {
      strides_[a] = static_cast<int64_t>(cells / K_);
      cells *= axes_[a].extent();
    }
    storage_.cells = cells;
    auto needF64 = [&](size_t idx) {
      auto arr = info[idx].As<Napi::Float64Array>();
      if (arr.ElementLength() != cells)
        throw Napi::RangeError::New(env, "histmaker_native: storage array has the wrong length");
      refs_.push_back(Napi::Persistent(info[idx]));
      return arr.Data();
    };
    switch (storage_.kind) {
      case StorageKind::Double: storage_.sumw = needF64(3); break;
      case StorageKind::Weighted:
        storage_.sumw = needF64(3);
        storage_.sumw2 = needF64(4);
        break;
      case StorageKind::Count: {
        auto arr = info[5].As<Napi::BigUint64Array>();
        if (arr.ElementLength() != cells)
          throw Napi::RangeError::New(env, "histmaker_native: count array has the wrong length");
        refs_.push_back(Napi::Persistent(info[5]));
        storage_.count = arr.Data();
        break;
      }
      default: throw Napi::RangeError::New(env, "histmaker_native: unknown storage kind");
    }
    const int mode = info[6].IsNumber() ? info[6].As<Napi::Number>().Int32Value() : 0;
    if (mode < 0 || mode > 2) throw Napi::RangeError::New(env, "histmaker_native: unknown atomic mode");
    // wide tensors: one lock per bin beats K (or 2K) compare-and-swaps per event
    atomicMode_ = mode == 1 ? hm::AddMode::Cas : mode == 2 ? hm::AddMode::BinLock
                  : K_ >= 4 ? hm::AddMode::BinLock : hm::AddMode::Cas;
    if (atomicMode_ == hm::AddMode::BinLock) {
      lockFlags_.assign(cells / K_, 0);
      locks_.flags = lockFlags_.data();
    }
  }

  // Runs a fill on the calling thread (plus req.threads - 1 helpers).
  void run(const FillRequest& req) {
    if (req.threads == 1) {
      std::unique_lock<std::shared_mutex> sole(mutex_, std::try_to_lock);
      if (sole.owns_lock()) {
        hm::fillParallel(axes_, strides_, K_, storage_, locks_, req.input, 1, hm::AddMode::Plain);
        return;
      }
    }
    std::shared_lock<std::shared_mutex> shared(mutex_);
    hm::fillParallel(axes_, strides_, K_, storage_, locks_, req.input, req.threads, atomicMode_);
  }

  const std::vector<Axis>& axes() const { return axes_; }
  const std::vector<int64_t>& strides() const { return strides_; }
  size_t tensorSize() const { return K_; }
  const hm::Storage& storage() const { return storage_; }

 private:
  // fill(columns: TypedArray[], weight: Float64Array|null, tensorWeights: Float64Array|null,
  //      threads: number, atomic: boolean)
  std::unique_ptr<FillRequest> parseFill(const Napi::CallbackInfo& info, bool keep) {
    Napi::Env env = info.Env();
    auto req = std::make_unique<FillRequest>();
    auto cols = info[0].As<Napi::Array>();
    if (cols.Length() != axes_.size())
      throw Napi::RangeError::New(env, "histmaker_native: one column per axis expected");
    size_t n = 0;
    for (uint32_t i = 0; i < cols.Length(); i++) {
      Napi::Value v = cols.Get(i);
      if (!v.IsTypedArray()) throw Napi::TypeError::New(env, "histmaker_native: column is not a typed array");
      auto ta = v.As<Napi::TypedArray>();
      const size_t len = ta.ElementLength();
      if (i == 0) n = len;
      else if (len != n) throw Napi::RangeError::New(env, "histmaker_native: columns differ in length");
      auto* base = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
      req->input.columns.push_back(Column{columnType(ta.TypedArrayType(), env), base, len});
      if (keep) req->keepAlive.push_back(Napi::Persistent(v));
    }
    req->input.n = n;
    if (!info[1].IsNull() && !info[1].IsUndefined()) {
      auto w = info[1].As<Napi::Float64Array>();
      if (w.ElementLength() != n) throw Napi::RangeError::New(env, "histmaker_native: weight length differs");
      req->input.weight = w.Data();
      if (keep) req->keepAlive.push_back(Napi::Persistent(info[1]));
    }
    if (!info[2].IsNull() && !info[2].IsUndefined()) {
      auto tw = info[2].As<Napi::Float64Array>();
      if (tw.ElementLength() != n * K_)
        throw Napi::RangeError::New(env, "histmaker_native: tensor weights length is not n * K");
      req->input.tensorWeights = tw.Data();
      if (keep) req->keepAlive.push_back(Napi::Persistent(info[2]));
    }
    req->threads = info[3].IsNumber() ? info[3].As<Napi::Number>().Int32Value() : 1;
    if (keep) req->keepAlive.push_back(Napi::Persistent(info.This()));  // keeps the storage alive
    return req;
  }

  Napi::Value Fill(const Napi::CallbackInfo& info) {
    auto req = parseFill(info, false);
    run(*req);
    return info.Env().Undefined();
  }

  Napi::Value FillAsync(const Napi::CallbackInfo& info);

  Napi::Value Cells(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(storage_.cells));
  }

  Napi::Value AtomicModeName(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), atomicMode_ == hm::AddMode::BinLock ? "bin-lock" : "cas");
  }

  std::vector<Axis> axes_;
  std::vector<int64_t> strides_;  // in cells of K
  size_t K_ = 1;
  hm::Storage storage_;
  std::vector<Napi::Reference<Napi::Value>> refs_;
  hm::AddMode atomicMode_ = hm::AddMode::Cas;
  std::vector<uint8_t> lockFlags_;
  hm::BinLocks locks_;
  std::shared_mutex mutex_;  // exclusive: a lone single-thread fill (plain adds); shared: atomic fills
};

class FillWorker : public Napi::AsyncWorker {
 public:
  FillWorker(Napi::Env env, NativeHist* hist, std::unique_ptr<FillRequest> req)
      : Napi::AsyncWorker(env, "histmaker_native.fill"),
        hist_(hist),
        req_(std::move(req)),
        deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override { hist_->run(*req_); }
  void OnOK() override {
    req_.reset();  // drop the references to the columns
    deferred_.Resolve(Env().Undefined());
  }
  void OnError(const Napi::Error& e) override {
    req_.reset();
    deferred_.Reject(e.Value());
  }

 private:
  NativeHist* hist_;
  std::unique_ptr<FillRequest> req_;
  Napi::Promise::Deferred deferred_;
};

Napi::Value NativeHist::FillAsync(const Napi::CallbackInfo& info) {
  auto req = parseFill(info, true);
  auto* worker = new FillWorker(info.Env(), this, std::move(req));
  Napi::Promise p = worker->Promise();
  worker->Queue();
  return p;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeHist", NativeHist::Define(env));
  exports.Set("hardwareConcurrency",
              Napi::Number::New(env, static_cast<double>(std::thread::hardware_concurrency())));
  return exports;
}

}  // namespace

NODE_API_MODULE(histmaker_native, Init)
