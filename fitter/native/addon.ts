/**
 * Loads the fitter_native C++ addon (built by node-gyp into fitter/native/build/Release).
 * Works from the sources (vitest: fitter/native/addon.ts) and from the compiled dist/fitter/native/addon.js
 * by walking up to the directory that holds fitter/native/binding.gyp.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface NativeSpecInput {
  nbins: number;
  nbinsFull: number;
  nproc: number;
  nsig: number;
  nsyst: number;
  ncols: number;
  symmetric: boolean;
  systematicType: string;
  poiMode: string;
  norm: Float64Array;
  /** Int32Array, or Float64Array of exact integers when nnz > 2³¹ − 1 */
  rowPtr: Int32Array | Float64Array;
  /** borrowed, not copied: the evaluator keeps a reference and reads them in place */
  cols: Int32Array | Uint16Array;
  /** borrowed like cols; float32 values are widened to float64 as they are loaded */
  values: Float64Array | Float32Array;
  data: Float64Array;
  bbK: Float64Array | null;
  /** [nbins * nproc], 1 = the process is scaled by β; null = every process is */
  bbActive: Uint8Array | null;
  constraintWeights: Float64Array;
  theta0: Float64Array;
}

export interface NativeEvaluatorHandle {
  nll(x: Float64Array): number;
  valueAndGradient(x: Float64Array, gradOut: Float64Array): number;
  hvp(x: Float64Array, v: Float64Array, out: Float64Array): void;
  /** k products H(x)·v_j in one pass over log κ per ≤ 16 vectors; vs and out row-major [k, n]; bit-identical to hvp per vector */
  hvpBatch(x: Float64Array, vs: Float64Array, k: number, out: Float64Array): void;
  hessian(x: Float64Array, out: Float64Array): void;
  yields(x: Float64Array, out: Float64Array): void;
  yieldVariances(x: Float64Array, cov: Float64Array, perRow: Float64Array, perBin: Float64Array): void;
  setData(data: Float64Array): void;
  setTheta0(theta0: Float64Array): void;
  /** BB auxiliary observables β0 per real bin (frequentist toys); null: all 1 */
  setBeta0(beta0: Float64Array | null): void;
  dispose(): void;
}

export interface NativeCholeskyHandle {
  factor(a: Float64Array, n: number, threads: number, backend: string): boolean;
  solve(b: Float64Array, out: Float64Array): void;
  inverse(out: Float64Array): void;
  logDet(): number;
  backend(): string;
}

export interface NativeEnvelopeHandle {
  /** -1 when positive definite, else the original index of the first non-positive pivot */
  factor(
    n: number,
    rowPtr: Float64Array,
    cols: Int32Array,
    values: Float64Array,
    perm: Int32Array,
    keep: Uint8Array | null,
    threads: number,
  ): number;
  /** k right-hand sides, column-major n×k, original order */
  solve(b: Float64Array, k: number, out: Float64Array, threads: number): void;
  logDet(): number;
  /** keep: hold the selected inverse for quadraticForms */
  inverseDiagonal(out: Float64Array, threads: number, keep?: boolean): void;
  /** vᵀA⁻¹v per sparse vector (ptr nvec+1, original indices); NaN where a pair lies outside the envelope */
  quadraticForms(ptr: Float64Array, idx: Int32Array, val: Float64Array, out: Float64Array, threads: number): void;
  bytes(): number;
  entries(): number;
  /** multiply-adds of the factorisation */
  multiplyAdds(): number;
  dispose(): void;
}

export interface FitterNative {
  NativeEvaluator: new (spec: NativeSpecInput, threads: number) => NativeEvaluatorHandle;
  NativeCholesky: new () => NativeCholeskyHandle;
  NativeEnvelope: new () => NativeEnvelopeHandle;
  /** column-major C += alpha op(A) op(B) */
  gemm(
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    alpha: number,
    a: Float64Array,
    lda: number,
    b: Float64Array,
    ldb: number,
    c: Float64Array,
    ldc: number,
    threads: number,
  ): void;
  /**
   * out_j = A v_j for k vectors (v_j, out_j at offset j·n) with A an n×n symmetric matrix stored
   * in float32, accumulated in float64 in a fixed order (reproducible bit for bit whatever k and
   * threads); row- and column-major alike
   */
  symmF32(a: Float32Array, n: number, k: number, v: Float64Array, out: Float64Array, threads: number): void;
  openblasAvailable(): boolean;
}

let cached: FitterNative | null = null;

function addonPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "fitter", "native", "binding.gyp"))) {
      return join(dir, "fitter", "native", "build", "Release", "fitter_native.node");
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new Error("fitter_native addon: cannot find fitter/native/binding.gyp above " + fileURLToPath(import.meta.url));
}

export function loadFitterNative(): FitterNative {
  if (cached) return cached;
  const path = addonPath();
  if (!existsSync(path)) {
    throw new Error(`fitter_native addon not built (${path} missing): run \`npm run build\` or \`cd fitter/native && npx node-gyp rebuild\``);
  }
  const require = createRequire(import.meta.url);
  cached = require(path) as FitterNative;
  return cached;
}
