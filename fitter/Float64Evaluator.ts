/**
 * The float64 likelihood of ../shared/spec/likelihood.md evaluated by the fitter_native C++ addon:
 * NLL, gradient, exact Hessian-vector products, exact dense Hessian, yields and their variances.
 * Every reported number of the fitter comes from here (the tfjs float32 stage only gets close).
 *
 * log κ is not copied: the native side reads spec.logk.cols and spec.logk.values in place (and keeps
 * them alive), at their stored types — Uint16Array or Int32Array columns, Float32Array or Float64Array
 * values, each value widened to float64 before any arithmetic, so float32 storage gives exactly the
 * results of the same values stored as float64. Do not modify those arrays while the evaluator lives.
 */
import { availableParallelism } from "node:os";
import { checkBatchSize, checkLength as checkLengthOf, checkSpecShapes, type LikelihoodEvaluator } from "./evaluator.js";
import type { LikelihoodSpec } from "./likelihoodSpec.js";
import { loadFitterNative, type NativeEvaluatorHandle } from "./native/addon.js";

export interface Float64EvaluatorOptions {
  /** worker threads of the native passes; default os.availableParallelism() */
  threads?: number;
}

function checkLength(name: string, a: ArrayLike<number>, want: number): void {
  checkLengthOf("Float64Evaluator", name, a, want);
}

export class Float64Evaluator implements LikelihoodEvaluator {
  readonly nparams: number;
  private readonly spec: LikelihoodSpec;
  private handle: NativeEvaluatorHandle | null;

  constructor(spec: LikelihoodSpec, opts: Float64EvaluatorOptions = {}) {
    const ncols = checkSpecShapes("Float64Evaluator", spec);
    const threads = Math.max(1, Math.floor(opts.threads ?? availableParallelism()));
    const native = loadFitterNative();
    this.spec = spec;
    this.nparams = spec.nsig + spec.nsyst;
    this.handle = new native.NativeEvaluator(
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
        values: spec.logk.values,
        data: spec.data,
        bbK: spec.bbK,
        bbActive: spec.bbK ? (spec.bbActive ?? null) : null,
        constraintWeights: spec.constraintWeights,
        theta0: spec.theta0,
      },
      threads,
    );
  }

  private native(): NativeEvaluatorHandle {
    if (!this.handle) throw new Error("Float64Evaluator used after dispose()");
    return this.handle;
  }

  private checkX(x: Float64Array): void {
    checkLength("x", x, this.nparams);
  }

  /** reduced NLL including the constraint terms, Barlow–Beeston-lite profiled */
  nll(x: Float64Array): number {
    this.checkX(x);
    return this.native().nll(x);
  }

  valueAndGradient(x: Float64Array): { value: number; gradient: Float64Array } {
    this.checkX(x);
    const gradient = new Float64Array(this.nparams);
    const value = this.native().valueAndGradient(x, gradient);
    return { value, gradient };
  }

  /** exact H·v (analytic second derivatives) */
  hessianVectorProduct(x: Float64Array, v: Float64Array): Float64Array {
    this.checkX(x);
    checkLength("v", v, this.nparams);
    const out = new Float64Array(this.nparams);
    this.native().hvp(x, v, out);
    return out;
  }

  /**
   * K exact products H(x)·v_j at one point: vs and the result row-major [K, nparams]. The native pass
   * reads log κ once per 16 vectors; each product is bit-identical to hessianVectorProduct(x, v_j).
   */
  hessianVectorProducts(x: Float64Array, vs: Float64Array, k: number): Float64Array {
    this.checkX(x);
    checkBatchSize("Float64Evaluator", k);
    checkLength("vs", vs, k * this.nparams);
    const out = new Float64Array(k * this.nparams);
    this.native().hvpBatch(x, vs, k, out);
    return out;
  }

  /** exact dense Hessian, n×n row-major (symmetric) */
  hessian(x: Float64Array): Float64Array {
    this.checkX(x);
    const out = new Float64Array(this.nparams * this.nparams);
    this.native().hessian(x, out);
    return out;
  }

  /** ν_bp over all bins (masked ones included), row-major [nbinsFull, nproc] */
  yields(x: Float64Array): Float64Array {
    this.checkX(x);
    const out = new Float64Array(this.spec.nbinsFull * this.spec.nproc);
    this.native().yields(x, out);
    return out;
  }

  /** diagonals of J C Jᵀ with J = ∂ν/∂x: per (bin, process) row and per bin (processes summed) */
  yieldVariances(x: Float64Array, cov: Float64Array): { perProcess: Float64Array; total: Float64Array } {
    this.checkX(x);
    checkLength("cov", cov, this.nparams * this.nparams);
    const perProcess = new Float64Array(this.spec.nbinsFull * this.spec.nproc);
    const total = new Float64Array(this.spec.nbinsFull);
    this.native().yieldVariances(x, cov, perProcess, total);
    return { perProcess, total };
  }

  /** replaces the observed counts (Asimov, toys); length nbins */
  setData(data: Float64Array): void {
    checkLength("data", data, this.spec.nbins);
    this.native().setData(data);
  }

  /** replaces the constraint centres (frequentist toys); length nsyst */
  setTheta0(theta0: Float64Array): void {
    checkLength("theta0", theta0, this.spec.nsyst);
    this.native().setTheta0(theta0);
  }

  /**
   * replaces the Barlow–Beeston auxiliary observables β0 (frequentist toys; length nbins): the
   * constraint becomes k(β − β0) − kβ0 log(β/β0); null restores β0 = 1. No effect without BB.
   */
  setBeta0(beta0: Float64Array | null): void {
    if (beta0) checkLength("beta0", beta0, this.spec.nbins);
    this.native().setBeta0(beta0);
  }

  /** frees the native copy of the model now rather than at garbage collection */
  dispose(): void {
    this.handle?.dispose();
    this.handle = null;
  }
}
