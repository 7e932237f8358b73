/**
 * Envelope (profile) LLᵀ of a sparse symmetric positive-definite matrix in a given order (native
 * C++, fitter/native/src/envelope.cpp): solves with one or many right-hand sides, log det, exact
 * diag(A⁻¹) by selected inversion, and restricted systems A' = PAP + (I − P) through a keep mask.
 * Results do not depend on the thread count (every sum has a fixed order).
 */
import { availableParallelism } from "node:os";
import { loadFitterNative, type NativeEnvelopeHandle } from "../native/addon.js";
import type { SymmetricCsr } from "../sparseHessian/symmetricCsr.js";
import type { EnvelopeOrder } from "./envelopeOrder.js";

export interface EnvelopeFactorOptions {
  /** rows/columns with keep[i] = 0 are replaced by the identity */
  keep?: Uint8Array;
  /** default min(2, available cores) */
  threads?: number;
}

export interface EnvelopeFactor {
  readonly n: number;
  /** log det of the (restricted) matrix */
  readonly logDet: number;
  /** bytes held by the factor (equals envelopeBytes for the same pattern, order and keep) */
  readonly bytes: number;
  /** stored envelope entries (one solve: 2 multiply-adds per entry) */
  readonly entries: number;
  /** multiply-adds the factorisation took (for choosing between refactoring and solves) */
  readonly factorMultiplyAdds: number;
  /** x with A x = b (original order) */
  solve(b: Float64Array): Float64Array;
  /** k right-hand sides, column-major n × k */
  solveMany(b: Float64Array, k: number): Float64Array;
  /**
   * diag(A⁻¹) exactly, by the Takahashi recurrences over the envelope (needs a second envelope of
   * scratch); keepSelectedInverse holds A⁻¹ on the envelope afterwards (bytes doubles) for quadraticForms
   */
  inverseDiagonal(opts?: { keepSelectedInverse?: boolean }): Float64Array;
  /**
   * vᵀ A⁻¹ v for k sparse vectors (CSR: ptr of length k + 1, indices, values) from the held selected
   * inverse: exact where every pair of a vector's indices lies in the envelope (true when they are
   * coupled in A), NaN for a vector where one does not
   */
  quadraticForms(ptr: Float64Array, idx: Int32Array, val: Float64Array): Float64Array;
  /** frees the native memory; the factor cannot be used afterwards */
  dispose(): void;
}

export type EnvelopeFactorResult =
  | { readonly positiveDefinite: true; readonly factor: EnvelopeFactor }
  /** `row`: original index where a pivot was not positive (callers fall back to CG) */
  | { readonly positiveDefinite: false; readonly row: number };

class NativeEnvelopeFactor implements EnvelopeFactor {
  readonly logDet: number;
  readonly entries: number;
  readonly factorMultiplyAdds: number;
  private disposed = false;

  constructor(
    private readonly handle: NativeEnvelopeHandle,
    readonly n: number,
    private readonly threads: number,
  ) {
    this.logDet = handle.logDet();
    this.entries = handle.entries();
    this.factorMultiplyAdds = handle.multiplyAdds();
  }

  private live(): NativeEnvelopeHandle {
    if (this.disposed) throw new Error("EnvelopeFactor used after dispose()");
    return this.handle;
  }

  solve(b: Float64Array): Float64Array {
    return this.solveMany(b, 1);
  }

  solveMany(b: Float64Array, k: number): Float64Array {
    if (!Number.isInteger(k) || k < 0) throw new RangeError(`EnvelopeFactor.solveMany: bad k ${k}`);
    if (b.length !== this.n * k) throw new RangeError(`EnvelopeFactor.solve: right-hand side of length ${b.length}, expected ${this.n * k}`);
    const out = new Float64Array(this.n * k);
    this.live().solve(b, k, out, this.threads);
    return out;
  }

  get bytes(): number {
    return this.disposed ? 0 : this.handle.bytes();
  }

  inverseDiagonal(opts: { keepSelectedInverse?: boolean } = {}): Float64Array {
    const out = new Float64Array(this.n);
    this.live().inverseDiagonal(out, this.threads, opts.keepSelectedInverse === true);
    return out;
  }

  quadraticForms(ptr: Float64Array, idx: Int32Array, val: Float64Array): Float64Array {
    const k = ptr.length - 1;
    if (k < 0 || ptr[0] !== 0 || ptr[k] !== idx.length || idx.length !== val.length) throw new RangeError("EnvelopeFactor.quadraticForms: ptr does not span idx/val");
    const out = new Float64Array(k);
    this.live().quadraticForms(ptr, idx, val, out, this.threads);
    return out;
  }

  dispose(): void {
    if (!this.disposed) this.handle.dispose();
    this.disposed = true;
  }
}

export function defaultEnvelopeThreads(): number {
  return Math.max(1, Math.min(2, availableParallelism()));
}

/** Factors `matrix` in `order` (envelopeOrder); a not-positive-definite matrix is a result, not an exception. */
export function factorEnvelope(matrix: SymmetricCsr, order: EnvelopeOrder, opts: EnvelopeFactorOptions = {}): EnvelopeFactorResult {
  const n = matrix.n;
  if (order.perm.length !== n) throw new RangeError(`factorEnvelope: order has ${order.perm.length} rows, matrix ${n}`);
  if (matrix.values.length !== matrix.cols.length) throw new RangeError("factorEnvelope: values and cols differ in length");
  if (opts.keep && opts.keep.length !== n) throw new RangeError(`factorEnvelope: keep has length ${opts.keep.length}, expected ${n}`);
  const threads = Math.max(1, Math.floor(opts.threads ?? defaultEnvelopeThreads()));
  const handle = new (loadFitterNative().NativeEnvelope)();
  const bad = handle.factor(n, matrix.rowPtr, matrix.cols, matrix.values, order.perm, opts.keep ?? null, threads);
  if (bad >= 0) {
    handle.dispose();
    return { positiveDefinite: false, row: bad };
  }
  return { positiveDefinite: true, factor: new NativeEnvelopeFactor(handle, n, threads) };
}
