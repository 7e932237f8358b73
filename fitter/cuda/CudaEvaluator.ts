/**
 * The float64 likelihood on an NVIDIA GPU (kernels in fitter/cuda/kernels/likelihood.cu, compiled by
 * NVRTC at first use per GPU architecture and cached), behind the same LikelihoodEvaluator interface
 * as the native engine, plus batched toys and the dense SPD inverse on the device (cuSOLVER).
 * mode "emulate" runs the same kernels compiled for the CPU, serially: for tests without a GPU.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { checkBatchSize, checkLength as checkLengthOf, checkSpecShapes, type BatchedNllGradient, type BatchedToyEvaluator, type EngineDescription, type LikelihoodEvaluator } from "../evaluator.js";
import type { LikelihoodSpec } from "../likelihoodSpec.js";
import { cudaPackageDir, loadFitterCuda, type CudaEngineHandle, type CudaLoadReport } from "./addon.js";
import { CUDA_LIBRARIES, kernelCacheDir, libraryCandidates, type DiscoveryOptions, type SearchDir } from "./discovery.js";

export type CudaMode = "cuda" | "emulate";

export interface CudaProbe {
  ok: boolean;
  /** one line: the device, or what is missing and what was tried */
  message: string;
  /** e.g. "NVIDIA H200 (sm_90)"; null when not ok */
  device: string | null;
  /** null when the addon itself is not built */
  report: CudaLoadReport | null;
  dirs: SearchDir[];
}

function shortError(e: string): string {
  // dlerror repeats the path: keep what follows it
  const i = e.lastIndexOf(": ");
  return (i >= 0 ? e.slice(i + 2) : e).trim();
}

/** the one line printed when the CUDA engine cannot run */
export function cudaUnavailableMessage(report: CudaLoadReport, dirs: SearchDir[]): string {
  const parts: string[] = [];
  const missing = report.libraries.filter((l) => l.required && !l.loaded);
  if (missing.length > 0) {
    const descr = missing.map((l) => {
      const spec = CUDA_LIBRARIES.find((s) => s.name === l.name);
      const fileTries = l.tried.filter((t) => t.path.includes("/"));
      const failed = fileTries.length > 0 ? ` (${fileTries.map((t) => `${t.path}: ${shortError(t.error)}`).join("; ")})` : "";
      return `${spec?.stem ?? l.name}*${l.name === "cuda" ? " (the NVIDIA driver)" : ""}${failed}`;
    });
    parts.push(`not found or not loadable: ${descr.join(", ")}`);
  } else if (report.error) {
    parts.push(report.error);
  }
  const where =
    dirs.length > 0 ? dirs.map((d) => (d.source === "HEPFIT_CUDA_LIBS" || d.source.startsWith("CUDA_") ? `${d.source}=${d.dir}` : d.dir)).join(", ") : "no CUDA folders";
  const howto = missing.length > 0 ? "; set HEPFIT_CUDA_LIBS to the folder(s) with these libraries or install the CUDA toolkit or the nvidia-* CUDA wheels" : "";
  return `CUDA engine unavailable: ${parts.join("; ")}; searched ${where}, then the loader path${howto}`;
}

/** loads the CUDA libraries (once per process) and describes device 0, or what is missing */
export function probeCuda(opts: DiscoveryOptions = {}): CudaProbe {
  const { dirs, libraries } = libraryCandidates(opts);
  let addon;
  try {
    addon = loadFitterCuda();
  } catch (e) {
    return { ok: false, message: `CUDA engine unavailable: ${(e as Error).message}`, device: null, report: null, dirs };
  }
  const report = addon.probe(libraries);
  if (!report.ok) return { ok: false, message: cudaUnavailableMessage(report, dirs), device: null, report, dirs };
  const device = `${report.deviceName} (sm_${report.computeCapability.replace(".", "")})`;
  return { ok: true, message: `CUDA device 0: ${device}, driver ${report.driverVersion}, NVRTC ${report.nvrtcVersion}`, device, report, dirs };
}

/** thrown when mode "cuda" is asked for and CUDA is not usable; message is the probe's one line */
export class CudaUnavailableError extends Error {
  constructor(readonly probe: CudaProbe) {
    super(probe.message);
    this.name = "CudaUnavailableError";
  }
}

function checkLength(name: string, a: ArrayLike<number>, want: number): void {
  checkLengthOf("CudaEvaluator", name, a, want);
}

export interface CudaEvaluatorOptions {
  mode?: CudaMode;
  discovery?: DiscoveryOptions;
}

export class CudaEvaluator implements LikelihoodEvaluator, BatchedToyEvaluator {
  readonly nparams: number;
  readonly mode: CudaMode;
  private readonly spec: LikelihoodSpec;
  private handle: CudaEngineHandle | null;

  constructor(spec: LikelihoodSpec, opts: CudaEvaluatorOptions = {}) {
    const ncols = checkSpecShapes("CudaEvaluator", spec);
    this.mode = opts.mode ?? "cuda";
    let candidates: ReturnType<typeof libraryCandidates>["libraries"] = [];
    let source = "";
    let header = "";
    if (this.mode === "cuda") {
      const probe = probeCuda(opts.discovery);
      if (!probe.ok) throw new CudaUnavailableError(probe);
      candidates = libraryCandidates(opts.discovery).libraries;
      const kernels = join(cudaPackageDir(), "kernels");
      source = readFileSync(join(kernels, "likelihood.cu"), "utf8");
      header = readFileSync(join(kernels, "args.h"), "utf8");
    }
    const addon = loadFitterCuda();
    this.spec = spec;
    this.nparams = spec.nsig + spec.nsyst;
    this.handle = new addon.CudaEngine(
      {
        nbins: spec.nbins,
        nbinsFull: spec.nbinsFull,
        nproc: spec.nproc,
        nsig: spec.nsig,
        nsyst: spec.nsyst,
        ncols,
        symmetric: spec.symmetric,
        systematicType: spec.systematicType,
        poiMode: spec.poiMode,
        norm: spec.norm,
        rowPtr: spec.logk.rowPtr,
        cols: spec.logk.cols,
        values: spec.logk.values as Float64Array | Float32Array,
        data: spec.data,
        bbK: spec.bbK,
        bbActive: spec.bbK ? (spec.bbActive ?? null) : null,
        constraintWeights: spec.constraintWeights,
        theta0: spec.theta0,
      },
      { mode: this.mode, candidates, source, header, cacheDir: kernelCacheDir(opts.discovery) },
    );
  }

  private engine(): CudaEngineHandle {
    if (!this.handle) throw new Error("CudaEvaluator used after dispose()");
    return this.handle;
  }

  /** which engine and device (for the summary and fitresults.json) */
  describe(): EngineDescription {
    return { engine: this.mode === "cuda" ? "cuda" : "cuda-emulate", device: this.engine().description() };
  }

  nll(x: Float64Array): number {
    checkLength("x", x, this.nparams);
    return this.engine().nll(x);
  }

  valueAndGradient(x: Float64Array): { value: number; gradient: Float64Array } {
    checkLength("x", x, this.nparams);
    const gradient = new Float64Array(this.nparams);
    const value = this.engine().valueAndGradient(x, gradient);
    return { value, gradient };
  }

  hessianVectorProduct(x: Float64Array, v: Float64Array): Float64Array {
    checkLength("x", x, this.nparams);
    checkLength("v", v, this.nparams);
    const out = new Float64Array(this.nparams);
    this.engine().hvp(x, v, out, 1);
    return out;
  }

  /** K Hessian-vector products at one point: vs and the result are [K, nparams] */
  hessianVectorProducts(x: Float64Array, vs: Float64Array, k: number): Float64Array {
    checkLength("x", x, this.nparams);
    checkBatchSize("CudaEvaluator", k);
    checkLength("vs", vs, k * this.nparams);
    const out = new Float64Array(k * this.nparams);
    this.engine().hvp(x, vs, out, k);
    return out;
  }

  hessian(x: Float64Array): Float64Array {
    checkLength("x", x, this.nparams);
    const out = new Float64Array(this.nparams * this.nparams);
    this.engine().hessian(x, out);
    return out;
  }

  yields(x: Float64Array): Float64Array {
    checkLength("x", x, this.nparams);
    const out = new Float64Array(this.spec.nbinsFull * this.spec.nproc);
    this.engine().yields(x, out);
    return out;
  }

  yieldVariances(x: Float64Array, cov: Float64Array): { perProcess: Float64Array; total: Float64Array } {
    checkLength("x", x, this.nparams);
    checkLength("cov", cov, this.nparams * this.nparams);
    const perProcess = new Float64Array(this.spec.nbinsFull * this.spec.nproc);
    const total = new Float64Array(this.spec.nbinsFull);
    this.engine().yieldVariances(x, cov, perProcess, total);
    return { perProcess, total };
  }

  setData(data: Float64Array): void {
    checkLength("data", data, this.spec.nbins);
    this.engine().setData(data);
  }

  setTheta0(theta0: Float64Array): void {
    checkLength("theta0", theta0, this.spec.nsyst);
    this.engine().setTheta0(theta0);
  }

  setBeta0(beta0: Float64Array | null): void {
    if (beta0) checkLength("beta0", beta0, this.spec.nbins);
    this.engine().setBeta0(beta0);
  }

  /** K toys at once: points xs [K, nparams] with data [K, nbins]; θ0 and β0 as set on the engine */
  valueAndGradientBatch(xs: Float64Array, data: Float64Array, k: number): BatchedNllGradient {
    if (!(Number.isInteger(k) && k > 0)) throw new RangeError(`CudaEvaluator: K must be a positive integer, got ${k}`);
    checkLength("xs", xs, k * this.nparams);
    checkLength("data", data, k * this.spec.nbins);
    const values = new Float64Array(k);
    const gradients = new Float64Array(k * this.nparams);
    this.engine().valueAndGradientBatch(xs, data, k, values, gradients);
    return { values, gradients };
  }

  /**
   * a⁻¹ of a symmetric positive-definite n×n matrix on the device (cuSOLVER potrf + potri), and
   * log det a; null when a is not positive definite.
   */
  spdInverse(a: Float64Array, n: number): { inverse: Float64Array; logDet: number } | null {
    checkLength("a", a, n * n);
    const inverse = new Float64Array(n * n);
    const logDet = this.engine().spdInverse(a, n, inverse);
    return Number.isNaN(logDet) ? null : { inverse, logDet };
  }

  /** the device's copy bandwidth in bytes/s (read + written), measured with `bytes`-sized copies */
  copyBandwidth(bytes = 1 << 30, reps = 10): number {
    return this.engine().copyBandwidth(bytes, reps);
  }

  dispose(): void {
    this.handle?.dispose();
    this.handle = null;
  }
}
