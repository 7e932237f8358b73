/**
 * The one interface every float64 likelihood engine implements (the native C++ engine, the CUDA
 * engine): what the minimiser, the fit session and the post-fit methods call. Formulas in
 * ../shared/spec/likelihood.md; parameter vector x = (POIs, then systematics in file order).
 */
import type { LikelihoodSpec } from "./likelihoodSpec.js";
import type { Objective, ValueAndGradient } from "./objective.js";

export { checkBatchSize } from "./objective.js";

/** a RangeError naming the engine and the array whose length is wrong */
export function checkLength(engine: string, name: string, a: ArrayLike<number>, want: number): void {
  if (a.length !== want) throw new RangeError(`${engine}: ${name} has length ${a.length}, expected ${want}`);
}

/** the array shapes every engine relies on; returns the number of log κ columns */
export function checkSpecShapes(engine: string, spec: LikelihoodSpec): number {
  const nrows = spec.nbinsFull * spec.nproc;
  checkLength(engine, "norm", spec.norm, nrows);
  if (spec.logk.rowPtr.length < nrows + 1) throw new RangeError(`${engine}: logk has ${spec.logk.rowPtr.length - 1} rows, expected ${nrows}`);
  const ncols = spec.symmetric ? spec.nsyst : 2 * spec.nsyst;
  if (spec.logk.ncols !== ncols) throw new RangeError(`${engine}: logk has ${spec.logk.ncols} columns, expected ${ncols}`);
  checkLength(engine, "data", spec.data, spec.nbins);
  if (spec.bbK) checkLength(engine, "bbK", spec.bbK, spec.nbins);
  if (spec.bbK && spec.bbActive) checkLength(engine, "bbActive", spec.bbActive, spec.nbins * spec.nproc);
  checkLength(engine, "constraintWeights", spec.constraintWeights, spec.nsyst);
  checkLength(engine, "theta0", spec.theta0, spec.nsyst);
  return ncols;
}

/** Which engine computed the float64 numbers, and where (for the summary and fitresults.json). */
export interface EngineDescription {
  /** "native" or "cuda" */
  engine: string;
  /** e.g. "cpu (16 threads)" or "NVIDIA H200 (sm_90)" */
  device: string;
}

export interface LikelihoodEvaluator extends Objective {
  readonly nparams: number;
  /** reduced NLL including the constraint terms, Barlow–Beeston-lite profiled */
  nll(x: Float64Array): number;
  valueAndGradient(x: Float64Array): ValueAndGradient;
  /** exact H·v (analytic second derivatives) */
  hessianVectorProduct(x: Float64Array, v: Float64Array): Float64Array;
  /**
   * Optional: K exact products at one point, vs and the result row-major [K, nparams], each equal to
   * hessianVectorProduct(x, v_j); call through hessianVectorProducts() in objective.ts (fallback).
   */
  hessianVectorProducts?(x: Float64Array, vs: Float64Array, k: number): Float64Array;
  /** exact dense Hessian, n×n row-major (symmetric) */
  hessian(x: Float64Array): Float64Array;
  /** ν_bp over all bins (masked ones included), row-major [nbinsFull, nproc] */
  yields(x: Float64Array): Float64Array;
  /** diagonals of J C Jᵀ with J = ∂ν/∂x: per (bin, process) row and per bin (processes summed) */
  yieldVariances(x: Float64Array, cov: Float64Array): { perProcess: Float64Array; total: Float64Array };
  /** replaces the observed counts (Asimov, toys); length nbins */
  setData(data: Float64Array): void;
  /** replaces the constraint centres (frequentist toys); length nsyst */
  setTheta0(theta0: Float64Array): void;
  /** replaces the Barlow–Beeston auxiliary observables β0 (length nbins); null restores β0 = 1 */
  setBeta0(beta0: Float64Array | null): void;
  /** frees the engine's copy of the model now rather than at garbage collection */
  dispose(): void;
  /** which engine on which device; absent: the native engine on the CPU */
  describe?(): EngineDescription;
}

/** NLL and gradients of K data sets at one parameter point each (toys), row-major [K, ·]. */
export interface BatchedNllGradient {
  values: Float64Array;
  /** [K, nparams] */
  gradients: Float64Array;
}

/**
 * Engines that evaluate K toys at once: data [K, nbins] and points x [K, nparams] (one point per
 * toy), the engine's constraint centres and β0 shared. What the toy machinery calls per
 * minimiser iteration when it advances K toys together.
 */
export interface BatchedToyEvaluator {
  valueAndGradientBatch(xs: Float64Array, data: Float64Array, k: number): BatchedNllGradient;
}

/**
 * NLL and gradients of K toys: the engine's own batch when it has one (CUDA: one pass over the
 * model for all K), else one evaluation per toy with setData (native), after which `restoreData`
 * (the engine's data before the call) is set back.
 */
export function valueAndGradientBatch(
  evaluator: LikelihoodEvaluator & Partial<BatchedToyEvaluator>,
  xs: Float64Array,
  data: Float64Array,
  k: number,
  restoreData: Float64Array,
): BatchedNllGradient {
  if (evaluator.valueAndGradientBatch) return evaluator.valueAndGradientBatch(xs, data, k);
  const n = evaluator.nparams;
  const nbins = restoreData.length;
  if (!(Number.isInteger(k) && k > 0)) throw new RangeError(`valueAndGradientBatch: K must be a positive integer, got ${k}`);
  if (xs.length !== k * n) throw new RangeError(`valueAndGradientBatch: xs has length ${xs.length}, expected ${k * n}`);
  if (data.length !== k * nbins) throw new RangeError(`valueAndGradientBatch: data has length ${data.length}, expected ${k * nbins}`);
  const values = new Float64Array(k);
  const gradients = new Float64Array(k * n);
  try {
    for (let i = 0; i < k; i++) {
      evaluator.setData(data.subarray(i * nbins, (i + 1) * nbins));
      const r = evaluator.valueAndGradient(xs.subarray(i * n, (i + 1) * n));
      values[i] = r.value;
      gradients.set(r.gradient, i * n);
    }
  } finally {
    evaluator.setData(restoreData);
  }
  return { values, gradients };
}
