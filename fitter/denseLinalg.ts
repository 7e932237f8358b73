/**
 * Dense symmetric positive-definite algebra in float64 through the fitter_native addon: Cholesky
 * factor, solve, inverse (covariance = H⁻¹) and log-determinant. The native code uses a recursive
 * blocked algorithm on a packed AVX2 GEMM; OpenBLAS is used instead when it is installed and
 * `backend` allows it.
 */
import { availableParallelism } from "node:os";
import { loadFitterNative, type NativeCholeskyHandle } from "./native/addon.js";

export type DenseBackend = "auto" | "native" | "openblas";

export interface CholeskyOptions {
  /** default os.availableParallelism() */
  threads?: number;
  /** "auto" (default): OpenBLAS when libopenblas.so.0 can be loaded, else the built-in code */
  backend?: DenseBackend;
}

export class CholeskyFactor {
  private constructor(
    private readonly handle: NativeCholeskyHandle,
    readonly n: number,
  ) {}

  /** Factors the symmetric n×n matrix a (row-major); null when it is not positive definite. */
  static factor(a: Float64Array, n: number, opts: CholeskyOptions = {}): CholeskyFactor | null {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`CholeskyFactor: bad dimension ${n}`);
    if (a.length !== n * n) throw new RangeError(`CholeskyFactor: matrix has ${a.length} entries, expected ${n * n}`);
    const native = loadFitterNative();
    const backend = opts.backend ?? defaultBackend();
    if (backend === "openblas" && !native.openblasAvailable()) {
      throw new Error("CholeskyFactor: backend 'openblas' requested but libopenblas.so.0 cannot be loaded");
    }
    const threads = Math.max(1, Math.floor(opts.threads ?? availableParallelism()));
    const handle = new native.NativeCholesky();
    return handle.factor(a, n, threads, backend) ? new CholeskyFactor(handle, n) : null;
  }

  /** which implementation factored the matrix: "native" or "openblas" */
  get backend(): string {
    return this.handle.backend();
  }

  /** x with A x = b */
  solve(b: Float64Array): Float64Array {
    if (b.length !== this.n) throw new RangeError(`CholeskyFactor.solve: b has length ${b.length}, expected ${this.n}`);
    const out = new Float64Array(this.n);
    this.handle.solve(b, out);
    return out;
  }

  /** A⁻¹, full symmetric n×n */
  inverse(): Float64Array {
    const out = new Float64Array(this.n * this.n);
    this.handle.inverse(out);
    return out;
  }

  /** log det A = 2 Σ log L_ii */
  logDet(): number {
    return this.handle.logDet();
  }
}

/** FITTER_DENSE_BACKEND=native|openblas|auto overrides the default "auto". */
function defaultBackend(): DenseBackend {
  const env = process.env.FITTER_DENSE_BACKEND;
  return env === "native" || env === "openblas" ? env : "auto";
}

/** Column-major C += alpha op(A) op(B) with the native packed kernel (exposed for benchmarks and tests). */
export function denseGemm(
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: Float64Array,
  b: Float64Array,
  c: Float64Array,
  threads = availableParallelism(),
): void {
  const lda = transA ? k : m;
  const ldb = transB ? n : k;
  loadFitterNative().gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, c, m, threads);
}

/**
 * out_j = A v_j for k vectors of length n packed in v (v_j = v[j·n, (j+1)·n)), A an n×n symmetric
 * matrix in float32 storage, with float64 products and sums in a fixed order: the result does not
 * depend on k or threads. Returns the k·n products packed like v.
 */
export function denseSymmF32(a: Float32Array, n: number, v: Float64Array, threads = 1): Float64Array {
  const k = n === 0 ? 0 : v.length / n;
  if (!Number.isInteger(k)) throw new Error(`denseSymmF32: vector block length ${v.length} is not a multiple of n = ${n}`);
  const out = new Float64Array(v.length);
  loadFitterNative().symmF32(a, n, k, v, out, threads);
  return out;
}

/** whether libopenblas could be loaded at run time */
export function openblasAvailable(): boolean {
  return loadFitterNative().openblasAvailable();
}
