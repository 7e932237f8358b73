/**
 * Preconditioned conjugate gradients for H x = b with H given only by exact Hessian-vector
 * products: the solver of the no-dense-matrix error mode. The preconditioner is an interface so
 * that better ones (block, limited-memory, deflation) can replace the Jacobi default.
 */

/** M⁻¹ r for a symmetric positive definite M ≈ H. */
export interface Preconditioner {
  readonly name: string;
  apply(r: Float64Array): Float64Array;
}

export type HessianProduct = (v: Float64Array) => Float64Array | Promise<Float64Array>;

export const identityPreconditioner: Preconditioner = {
  name: "none",
  apply: (r) => Float64Array.from(r),
};

/** Jacobi: M = diag(d); entries ≤ 0 or non-finite are treated as 1. */
export function jacobiPreconditioner(diagonal: Float64Array, name = "jacobi"): Preconditioner {
  const inv = diagonal.map((d) => (Number.isFinite(d) && d > 0 ? 1 / d : 1));
  return {
    name,
    apply: (r) => {
      const out = new Float64Array(r.length);
      for (let i = 0; i < r.length; i++) out[i] = inv[i] * r[i];
      return out;
    },
  };
}

export interface PcgOptions {
  /** stop at ‖r‖ ≤ tolerance·‖b‖ (default 1e-12) */
  tolerance?: number;
  /** default max(2n, 100) */
  maxIterations?: number;
  preconditioner?: Preconditioner;
  /**
   * stop when the residual has not halved over this many iterations (default max(200, n/20)): the
   * HVP's own rounding (sums over 10⁸ terms) puts a floor under the residual that more iterations
   * cannot pass; the energy-norm error, which is what a variance eᵢᵀx depends on, is then tiny
   */
  stagnationWindow?: number;
  /** called after each iteration with the relative residual (progress of long solves) */
  onIteration?: (iteration: number, relativeResidual: number) => void;
}

export interface PcgResult {
  x: Float64Array;
  iterations: number;
  /** ‖b − H x‖ / ‖b‖ of the recurrence */
  relativeResidual: number;
  converged: boolean;
  /** CG met pᵀHp ≤ 0: H is not positive definite along p (x is the iterate before) */
  negativeCurvature: boolean;
  /** stopped because the residual stopped falling (see stagnationWindow) */
  stagnated?: boolean;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** PCG from x = 0. */
export async function pcg(hvp: HessianProduct, b: Float64Array, opts: PcgOptions = {}): Promise<PcgResult> {
  const n = b.length;
  const tol = opts.tolerance ?? 1e-12;
  const maxIt = opts.maxIterations ?? Math.max(2 * n, 100);
  const M = opts.preconditioner ?? identityPreconditioner;
  const x = new Float64Array(n);
  const r = Float64Array.from(b);
  const bNorm = Math.sqrt(dot(b, b));
  if (bNorm === 0) return { x, iterations: 0, relativeResidual: 0, converged: true, negativeCurvature: false };
  let z = M.apply(r);
  const p = Float64Array.from(z);
  let rz = dot(r, z);
  let rNorm = bNorm;
  let it = 0;
  const window = opts.stagnationWindow ?? Math.max(200, Math.ceil(n / 20));
  let windowStart = 0;
  let windowResidual = rNorm;
  for (; it < maxIt && rNorm > tol * bNorm; it++) {
    if (it - windowStart >= window) {
      if (rNorm > 0.5 * windowResidual) {
        return { x, iterations: it, relativeResidual: rNorm / bNorm, converged: false, negativeCurvature: false, stagnated: true };
      }
      windowStart = it;
      windowResidual = rNorm;
    }
    const hp = await hvp(p);
    const curvature = dot(p, hp);
    if (!(curvature > 0)) return { x, iterations: it + 1, relativeResidual: rNorm / bNorm, converged: false, negativeCurvature: true };
    const alpha = rz / curvature;
    for (let i = 0; i < n; i++) {
      x[i] += alpha * p[i];
      r[i] -= alpha * hp[i];
    }
    rNorm = Math.sqrt(dot(r, r));
    opts.onIteration?.(it + 1, rNorm / bNorm);
    z = M.apply(r);
    const rzNew = dot(r, z);
    const beta = rzNew / rz;
    rz = rzNew;
    for (let i = 0; i < n; i++) p[i] = z[i] + beta * p[i];
  }
  return { x, iterations: it, relativeResidual: rNorm / bNorm, converged: rNorm <= tol * bNorm, negativeCurvature: false };
}
