/**
 * Solves H x = b by block elimination of a few "stiff" parameters T (the POIs and the unconstrained
 * parameters: their curvature is that of the whole data set, orders of magnitude above the
 * constrained nuisances' ≈ 1 + data term). With N the other parameters,
 *
 *   H = [A B; Bᵀ D],  W = D⁻¹ Bᵀ,  S = A − B W  (k × k),
 *   x_T = S⁻¹ (b_T − B D⁻¹ b_N),  x_N = D⁻¹ b_N − W x_T.
 *
 * Set-up: k HVPs for the columns H e_t and k CG solves with D; then every solve is one CG solve with
 * D (none for a right-hand side that is zero on N, e.g. a POI's unit vector). Exact up to the CG
 * tolerance: this is a reordering of the same linear algebra, not an approximation. D keeps the
 * constrained nuisances' I + (data term) structure, on which plain CG converges fastest, while the
 * stiff directions that make H badly conditioned are handled by the small dense S.
 */
import { pcg, type HessianProduct, type PcgOptions, type PcgResult } from "./pcg.js";

export interface LinearSolver {
  readonly name: string;
  solve(b: Float64Array, tolerance: number): Promise<PcgResult>;
}

/** Plain (preconditioned) CG on the whole H. */
export function cgSolver(hvp: HessianProduct, opts: Omit<PcgOptions, "tolerance"> = {}): LinearSolver {
  return {
    name: `cg(${opts.preconditioner?.name ?? "none"})`,
    solve: (b, tolerance) => pcg(hvp, b, { ...opts, tolerance }),
  };
}

/** the set-up solves stop at this fraction of the requested tolerance */
const SETUP_TOLERANCE_FACTOR = 1e-3;

/** Cholesky of a small SPD matrix (row-major k × k); null when not positive definite. */
function smallCholesky(a: Float64Array, k: number): Float64Array | null {
  const l = new Float64Array(k * k);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * k + j];
      for (let p = 0; p < j; p++) s -= l[i * k + p] * l[j * k + p];
      if (i === j) {
        if (!(s > 0)) return null;
        l[i * k + i] = Math.sqrt(s);
      } else l[i * k + j] = s / l[j * k + j];
    }
  }
  return l;
}

function choleskySolve(l: Float64Array, k: number, b: Float64Array): Float64Array {
  const y = Float64Array.from(b);
  for (let i = 0; i < k; i++) {
    for (let p = 0; p < i; p++) y[i] -= l[i * k + p] * y[p];
    y[i] /= l[i * k + i];
  }
  for (let i = k - 1; i >= 0; i--) {
    for (let p = i + 1; p < k; p++) y[i] -= l[p * k + i] * y[p];
    y[i] /= l[i * k + i];
  }
  return y;
}

/**
 * The block-elimination solver for stiff indices `stiff` (reduced space of size m). Falls back to
 * plain CG when T is empty or covers everything, or when S is not positive definite.
 */
export async function schurSolver(
  hvp: HessianProduct,
  m: number,
  stiff: number[],
  opts: { tolerance: number } & Omit<PcgOptions, "tolerance">,
): Promise<LinearSolver> {
  const T = [...new Set(stiff)].sort((a, b) => a - b);
  const k = T.length;
  if (k === 0 || k >= m) return cgSolver(hvp, opts);
  const inT = new Int32Array(m).fill(-1);
  T.forEach((t, a) => (inT[t] = a));
  const N = Int32Array.from({ length: m }, (_, i) => i).filter((i) => inT[i] < 0);
  const nn = N.length;
  const toN = (v: Float64Array): Float64Array => Float64Array.from(N, (i) => v[i]);
  const dOp: HessianProduct = async (vN) => {
    const v = new Float64Array(m);
    for (let a = 0; a < nn; a++) v[N[a]] = vN[a];
    return toN(await hvp(v));
  };
  const dSolve = (b: Float64Array, tolerance: number): Promise<PcgResult> => pcg(dOp, b, { ...opts, preconditioner: undefined, tolerance });
  // columns H e_t: A (T rows) and Bᵀ (N rows)
  const A = new Float64Array(k * k);
  const Bt: Float64Array[] = [];
  for (let a = 0; a < k; a++) {
    const e = new Float64Array(m);
    e[T[a]] = 1;
    const col = await hvp(e);
    for (let b = 0; b < k; b++) A[b * k + a] = col[T[b]];
    Bt.push(toN(col));
  }
  const W: Float64Array[] = [];
  // the set-up solves' accuracy enters every solution
  let setupResidual = 0;
  for (let a = 0; a < k; a++) {
    // tighter than the solves: W enters every solution through x_N = y − W x_T, and ‖H_{N,t}‖ (the
    // residual's scale) is the data set's size while the entries of W that matter are small
    const r = await dSolve(Bt[a], opts.tolerance * SETUP_TOLERANCE_FACTOR);
    if (r.negativeCurvature) return cgSolver(hvp, opts);
    setupResidual = Math.max(setupResidual, r.relativeResidual);
    W.push(r.x);
  }
  const S = new Float64Array(k * k);
  for (let a = 0; a < k; a++) {
    for (let b = 0; b < k; b++) {
      let s = 0;
      const ba = Bt[a];
      const wb = W[b];
      for (let i = 0; i < nn; i++) s += ba[i] * wb[i];
      S[a * k + b] = A[a * k + b] - s;
    }
  }
  // symmetrise against rounding in the D-solves
  for (let a = 0; a < k; a++) for (let b = 0; b < a; b++) S[a * k + b] = S[b * k + a] = 0.5 * (S[a * k + b] + S[b * k + a]);
  const L = smallCholesky(S, k);
  if (!L) return cgSolver(hvp, opts);
  return {
    name: `schur(${k} stiff parameters; cg on the rest)`,
    solve: async (b, tolerance) => {
      const bN = toN(b);
      let y = new Float64Array(nn);
      let iterations = 0;
      let relativeResidual = setupResidual / SETUP_TOLERANCE_FACTOR;
      let converged = setupResidual <= opts.tolerance * SETUP_TOLERANCE_FACTOR;
      if (bN.some((v) => v !== 0)) {
        const r = await dSolve(bN, tolerance);
        if (r.negativeCurvature) return { ...r, x: new Float64Array(m) };
        y = Float64Array.from(r.x);
        iterations = r.iterations;
        relativeResidual = Math.max(relativeResidual, r.relativeResidual);
        converged = converged && r.converged;
      }
      const rhs = Float64Array.from(T, (t, a) => {
        let s = b[t];
        const ba = Bt[a];
        for (let i = 0; i < nn; i++) s -= ba[i] * y[i];
        return s;
      });
      const xT = choleskySolve(L, k, rhs);
      const x = new Float64Array(m);
      T.forEach((t, a) => (x[t] = xT[a]));
      for (let i = 0; i < nn; i++) {
        let s = y[i];
        for (let a = 0; a < k; a++) s -= W[a][i] * xT[a];
        x[N[i]] = s;
      }
      return { x, iterations, relativeResidual, converged, negativeCurvature: false };
    },
  };
}
