/**
 * Trust-region minimiser with the subproblem solved on a Krylov (Lanczos) basis: the GLTR method
 * of Gould, Lucidi, Roma and Toint (SIAM J. Optim. 9, 1999), the algorithm behind scipy's
 * `trust-krylov`. Only gradients and Hessian-vector products are needed.
 *
 * Per outer iteration at x (gradient g, radius Δ, optional diagonal preconditioner M defining the
 * trust-region norm ‖s‖_M = √(sᵀMs)):
 *  - Lanczos on the scaled Hessian M^-½ H M^-½ started from M^-½ g builds Q_k and the tridiagonal
 *    T_k (fully reorthogonalised: HVPs dominate the cost, so the extra dot products are free);
 *  - after each Lanczos step the tridiagonal subproblem min γ₀h₁ + ½hᵀT_kh, ‖h‖ ≤ Δ is solved
 *    exactly (Moré–Sorensen with tridiagonal LDLᵀ, hard case included). While T_k is positive
 *    definite and its Newton point is inside the region this is the interior (CG-like) phase,
 *    otherwise the boundary phase; the Lanczos recursion stops when the subproblem's gradient
 *    residual γ_{k+1}|h_k| falls below η‖g‖;
 *  - EDM = ½ gᵀH⁻¹g is estimated as ½ γ₀² (T_k⁻¹)₁₁ (the CG energy of the Newton system, a
 *    lower estimate) plus ½‖r_k‖²/λ for the Newton residual r_k, with λ the smallest Ritz value
 *    seen so far; this conservative value is reported and tested against the tolerance (the CG
 *    energy alone can be off by orders of magnitude when H is ill-conditioned);
 *  - the step is accepted by the ratio of actual to predicted reduction, and Δ updated. On
 *    rejection the same Krylov basis is reused with the smaller radius (no new HVPs);
 *  - where the predicted gain is below 1e-8·|f| the actual reduction is taken from the gradients,
 *    −½(g(x) + g(x+s))·s: the NLL summed over many bins rounds at ~1e-12·|f| (W-mass: 1e-9 at
 *    527), which rejected good final Newton steps;
 *  - after a well-predicted step cut by the radius, longer steps on the same Krylov basis are
 *    tried (one gradient each) before a new basis is built.
 *
 * For float32 objectives the NLL is noisy at the level of a few ulp of its terms: when a step is
 * rejected although its predicted reduction is below that noise, the minimum is resolved as well
 * as the objective allows and the minimiser stops with status "converged" (saying so).
 */
import type { Objective } from "./objective.js";

export interface TrustKrylovIteration {
  iteration: number;
  /** NLL at the current point */
  nll: number;
  /** same as nll (kept for callers that print `value`) */
  value: number;
  edm: number;
  radius: number;
  /** Lanczos steps (= HVPs) spent in this iteration */
  krylovSteps: number;
  /** HVPs so far */
  hvps: number;
  /** the current point (read-only view; for checkpoints and diagnostics) */
  x: Float64Array;
}

export interface TrustKrylovOptions {
  /** outer iterations (default 500) */
  maxIterations?: number;
  /** stop when EDM = ½gᵀH⁻¹g falls below this (default 1e-8) */
  edmTolerance?: number;
  /** in the (preconditioned) trust-region norm (default 1) */
  initialRadius?: number;
  /** default 1e4 */
  maxRadius?: number;
  /** Lanczos steps per iteration (default min(nparams, 300)) */
  maxKrylov?: number;
  /** relative residual at which the Lanczos recursion stops, capped by √‖g‖ (default 0.1) */
  krylovTolerance?: number;
  /**
   * positive diagonal (e.g. the Hessian diagonal); the trust region becomes ‖M^½ s‖ ≤ Δ. On the
   * W-mass-like model the exact Hessian diagonal made things worse (4× the HVPs): its stiff
   * entries (POI, normalisations) are strongly correlated with the nuisances.
   */
  preconditioner?: Float64Array;
  /**
   * Absolute noise of the objective value; a rejected step predicted to gain less than this
   * ends the minimisation as converged at the noise level. Default 1e-6 · max(1, |f|) when the
   * values are float32 numbers (a tfjs objective), else 1e-13 · max(1, |f|).
   */
  valueNoise?: number;
  /**
   * When a step fails the ratio test, try it once more with a second-order correction computed on
   * the same Krylov space (one extra gradient, no HVP) before shrinking the radius (default false:
   * on curved test valleys it raised ρ but rarely enough to accept the step).
   */
  secondOrderCorrection?: boolean;
  /**
   * After a boundary step with ρ > 0.9, try twice the radius on the same Krylov space (one
   * gradient per try, up to 3 doublings) before building a new one (default true).
   */
  expandOnBasis?: boolean;
  /**
   * Judge steps whose predicted gain is below 1e-8·|f| by the gradient-based reduction
   * −½(g(x) + g(x+s))·s instead of the NLL difference (default true; float64 objectives only,
   * i.e. valueNoise below 1e-8·|f|; then the stop at the noise level does not apply)
   */
  gradientRatioTest?: boolean;
  onIteration?: (info: TrustKrylovIteration) => void;
  /** after each trial step (diagnostics): the ratio test's numbers */
  onStep?: (info: TrustKrylovStep) => void;
}

export interface TrustKrylovStep {
  iteration: number;
  /** model reduction −m(s) */
  predicted: number;
  /** f(x) − f(x + s) */
  actual: number;
  /** −½(g(x) + g(x + s))·s: the reduction from the gradients (exact for a quadratic, no cancellation) */
  actualFromGradients: number;
  rho: number;
  /** step length in the trust-region norm */
  stepNorm: number;
  radius: number;
  accepted: boolean;
  /** the Lanczos recursion stopped at maxKrylov */
  krylovCapped: boolean;
  /** the step taken is the second-order corrected one (predicted/actual/ρ refer to it) */
  corrected: boolean;
  /** the step s (parameter space) and the point it was taken from (read-only views) */
  step: Float64Array;
  x: Float64Array;
}

export type TrustKrylovStatus = "converged" | "max-iterations" | "failed";

export interface TrustKrylovResult {
  x: Float64Array;
  value: number;
  gradient: Float64Array;
  edm: number;
  iterations: number;
  hvps: number;
  /** steps accepted after a second-order correction */
  corrections: number;
  /** longer steps taken on an existing Krylov space (expandOnBasis) */
  expansions: number;
  status: TrustKrylovStatus;
  message: string;
}

// ---------------------------------------------------------------------------------------------
// Dense vector helpers

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function norm2(a: Float64Array): number {
  return Math.sqrt(dot(a, a));
}

function allFinite(a: Float64Array): boolean {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// The tridiagonal trust-region subproblem

/** Symmetric tridiagonal matrix: diag[0..m-1], off[i] couples i-1 and i (off[0] unused). */
export interface Tridiagonal {
  diag: Float64Array;
  off: Float64Array;
}

/**
 * Solves (T + λI) h = rhs by LDLᵀ; returns null when a pivot is not positive (T + λI not
 * positive definite). Returns h and the pivots.
 */
function solveShifted(t: Tridiagonal, lambda: number, rhs: Float64Array): { h: Float64Array; pivots: Float64Array } | null {
  const m = t.diag.length;
  const d = new Float64Array(m);
  const l = new Float64Array(m);
  const y = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    if (i === 0) {
      d[0] = t.diag[0] + lambda;
      y[0] = rhs[0];
    } else {
      l[i] = t.off[i] / d[i - 1];
      d[i] = t.diag[i] + lambda - l[i] * t.off[i];
      y[i] = rhs[i] - l[i] * y[i - 1];
    }
    if (!(d[i] > 0)) return null;
  }
  const h = new Float64Array(m);
  for (let i = m - 1; i >= 0; i--) h[i] = y[i] / d[i] - (i + 1 < m ? l[i + 1] * h[i + 1] : 0);
  return { h, pivots: d };
}

/** Number of eigenvalues of T below sigma (Sturm count via the LDLᵀ pivots of T − σI). */
function countBelow(t: Tridiagonal, sigma: number): number {
  let count = 0;
  let d = 1;
  for (let i = 0; i < t.diag.length; i++) {
    const o2 = i === 0 ? 0 : t.off[i] * t.off[i];
    d = t.diag[i] - sigma - (i === 0 ? 0 : o2 / d);
    if (d === 0) d = -1e-300; // a zero pivot counts as just below
    if (d < 0) count++;
  }
  return count;
}

/** Smallest eigenvalue of T by Sturm bisection (to near machine precision). */
export function smallestEigenvalue(t: Tridiagonal): number {
  const m = t.diag.length;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < m; i++) {
    const r = (i > 0 ? Math.abs(t.off[i]) : 0) + (i + 1 < m ? Math.abs(t.off[i + 1]) : 0);
    lo = Math.min(lo, t.diag[i] - r);
    hi = Math.max(hi, t.diag[i] + r);
  }
  const scale = Math.max(Math.abs(lo), Math.abs(hi), 1e-300);
  for (let it = 0; it < 200 && hi - lo > 4e-16 * scale; it++) {
    const mid = 0.5 * (lo + hi);
    if (countBelow(t, mid) >= 1) hi = mid;
    else lo = mid;
  }
  return 0.5 * (lo + hi);
}

/** Eigenvector of T for eigenvalue mu (inverse iteration on a slightly shifted T). */
function eigenvectorNear(t: Tridiagonal, mu: number): Float64Array {
  const m = t.diag.length;
  let v = new Float64Array(m).fill(1 / Math.sqrt(m));
  const scale = Math.max(1e-300, ...Array.from(t.diag, Math.abs));
  // T − (mu − ε)I is positive definite for small ε > 0: LDLᵀ solves are fine
  for (let attempt = 0, eps = 1e-10 * scale; attempt < 8; attempt++, eps *= 100) {
    let ok = true;
    for (let it = 0; it < 4; it++) {
      const sol = solveShifted(t, -(mu - eps), v);
      if (!sol) {
        ok = false;
        break;
      }
      const n = norm2(sol.h);
      v = sol.h.map((x) => x / n);
    }
    if (ok) return v;
  }
  return v;
}

export interface SubproblemSolution {
  h: Float64Array;
  lambda: number;
  /** model value γ₀h₁ + ½hᵀTh */
  model: number;
  interior: boolean;
  /** smallest eigenvalue of T */
  lamMin: number;
}

/** T h for a symmetric tridiagonal T. */
function tridiagonalTimes(t: Tridiagonal, h: Float64Array): Float64Array {
  const m = h.length;
  const out = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    let v = t.diag[i] * h[i];
    if (i > 0) v += t.off[i] * h[i - 1];
    if (i + 1 < m) v += t.off[i + 1] * h[i + 1];
    out[i] = v;
  }
  return out;
}

/** Model value γ₀h₁ + ½hᵀTh. */
function modelValue(t: Tridiagonal, gamma0: number, h: Float64Array): number {
  const m = h.length;
  let quad = 0;
  for (let i = 0; i < m; i++) {
    let th = t.diag[i] * h[i];
    if (i > 0) th += t.off[i] * h[i - 1];
    if (i + 1 < m) th += t.off[i + 1] * h[i + 1];
    quad += h[i] * th;
  }
  return gamma0 * h[0] + 0.5 * quad;
}

/**
 * Exact solution of min γ₀h₁ + ½hᵀTh subject to ‖h‖ ≤ radius (Moré–Sorensen on the tridiagonal,
 * with the smallest eigenvalue from Sturm bisection bracketing λ, and the hard case).
 */
export function solveTridiagonalSubproblem(t: Tridiagonal, gamma0: number, radius: number): SubproblemSolution {
  const m = t.diag.length;
  const rhs = new Float64Array(m);
  rhs[0] = -gamma0;
  const lamMin = smallestEigenvalue(t);
  if (lamMin > 0) {
    const sol = solveShifted(t, 0, rhs);
    if (sol && norm2(sol.h) <= radius) return { h: sol.h, lambda: 0, model: modelValue(t, gamma0, sol.h), interior: true, lamMin };
  }
  // boundary: find λ > max(0, −λmin) with ‖h(λ)‖ = radius; ‖h(λ)‖ ≤ γ₀/(λ + λmin) bounds it above
  const lo0 = Math.max(0, -lamMin);
  let lo = lo0;
  let hi = Math.max(lo0, gamma0 / radius - lamMin) * (1 + 1e-12) + 1e-300;
  const tiny = 1e-14 * Math.max(1, Math.abs(lamMin), hi);
  // hard case: even just above −λmin the norm stays inside the region
  const near = solveShifted(t, lo0 + tiny, rhs);
  if (near && norm2(near.h) < radius) {
    const z = eigenvectorNear(t, lamMin);
    const h = near.h;
    // ‖h + τz‖ = radius; pick the root that gives the lower model value
    const hz = dot(h, z);
    const hh = dot(h, h);
    const disc = Math.sqrt(Math.max(0, hz * hz + radius * radius - hh));
    const candidates = [-hz + disc, -hz - disc].map((tau) => h.map((v, i) => v + tau * z[i]));
    const models = candidates.map((c) => modelValue(t, gamma0, c));
    const best = models[0] <= models[1] ? 0 : 1;
    return { h: candidates[best], lambda: lo0, model: models[best], interior: false, lamMin };
  }
  let lambda = near ? lo0 + tiny : 0.5 * (lo + hi);
  let best: Float64Array | null = null;
  for (let it = 0; it < 200; it++) {
    const sol = solveShifted(t, lambda, rhs);
    if (!sol) {
      lo = lambda;
      lambda = 0.5 * (lo + hi);
      continue;
    }
    const h = sol.h;
    const hn = norm2(h);
    best = h;
    if (Math.abs(hn - radius) <= 1e-10 * radius) break;
    if (hn > radius) lo = lambda;
    else hi = lambda;
    // Newton on φ(λ) = 1/‖h‖ − 1/Δ: φ' = hᵀ(T+λI)⁻¹h / ‖h‖³
    const u = solveShifted(t, lambda, h);
    let next = Number.NaN;
    if (u) {
      const hu = dot(h, u.h);
      next = lambda + ((hn * hn) / hu) * ((hn - radius) / radius);
    }
    lambda = Number.isFinite(next) && next > lo && next < hi ? next : 0.5 * (lo + hi);
    if (hi - lo <= 1e-15 * Math.max(1, hi)) break;
  }
  if (!best) {
    // cannot happen for λ above −λmin; fall back to a steepest-descent step on the boundary
    const h = new Float64Array(m);
    h[0] = -Math.sign(gamma0 || 1) * radius;
    return { h, lambda: hi, model: modelValue(t, gamma0, h), interior: false, lamMin };
  }
  const hn = norm2(best);
  // polish the norm to the boundary exactly (scaling changes the model by O(tolerance))
  if (hn > radius) best = best.map((v) => (v * radius) / hn);
  return { h: best, lambda, model: modelValue(t, gamma0, best), interior: false, lamMin };
}

/**
 * EDM from the Krylov space: ½ γ₀² (T⁻¹)₁₁ (the CG energy: a lower estimate, increasing with k)
 * and an upper estimate adding ½‖r‖²/λ for the Newton residual r = γ₀ β |(T⁻¹e₁)_k| (what the
 * directions not yet explored can still add; λ stands in for λmin(H): the smallest Ritz value
 * seen so far). +∞ when T is not positive definite.
 */
function newtonEdm(t: Tridiagonal, gamma0: number, beta: number, lamMinT: number, lamEstimate: number): { edm: number; upper: number } {
  const m = t.diag.length;
  const e1 = new Float64Array(m);
  e1[0] = 1;
  const sol = lamMinT > 0 ? solveShifted(t, 0, e1) : null;
  if (!sol) return { edm: Number.POSITIVE_INFINITY, upper: Number.POSITIVE_INFINITY };
  const edm = 0.5 * gamma0 * gamma0 * sol.h[0];
  const residual = gamma0 * beta * Math.abs(sol.h[m - 1]);
  return { edm, upper: edm + (0.5 * residual * residual) / Math.min(lamMinT, lamEstimate) };
}

// ---------------------------------------------------------------------------------------------
// Lanczos on the scaled Hessian

interface KrylovState {
  /** Lanczos vectors (scaled space) */
  basis: Float64Array[];
  t: Tridiagonal;
  gamma0: number;
  edm: number;
  steps: number;
}

function sliceTridiagonal(diag: number[], off: number[]): Tridiagonal {
  return { diag: Float64Array.from(diag), off: Float64Array.from(off) };
}

// ---------------------------------------------------------------------------------------------

export async function trustKrylov(obj: Objective, x0: Float64Array, opts: TrustKrylovOptions = {}): Promise<TrustKrylovResult> {
  const n = obj.nparams;
  if (x0.length !== n) throw new Error(`trustKrylov: x0 has ${x0.length} entries, objective has ${n} parameters`);
  const maxIterations = opts.maxIterations ?? 500;
  const edmTolerance = opts.edmTolerance ?? 1e-8;
  const maxRadius = opts.maxRadius ?? 1e4;
  let radius = Math.min(opts.initialRadius ?? 1, maxRadius);
  const maxKrylov = Math.max(1, Math.min(opts.maxKrylov ?? 300, n));
  const krylovTolerance = opts.krylovTolerance ?? 0.1;
  // scaling s = D y with D = M^-½, so that ‖y‖ = ‖s‖_M
  const scale = new Float64Array(n).fill(1);
  if (opts.preconditioner) {
    const m = opts.preconditioner;
    if (m.length !== n) throw new Error(`trustKrylov: preconditioner has ${m.length} entries, need ${n}`);
    for (let i = 0; i < n; i++) scale[i] = m[i] > 0 && Number.isFinite(m[i]) ? 1 / Math.sqrt(m[i]) : 1;
  }

  let hvps = 0;
  let corrections = 0;
  const useCorrection = opts.secondOrderCorrection ?? false;
  const useExpansion = opts.expandOnBasis ?? true;
  const useGradientTest = opts.gradientRatioTest ?? true;
  let expansions = 0;
  /** s = D Q h */
  const stepOf = (st: KrylovState, h: Float64Array): Float64Array => {
    const out = new Float64Array(n);
    for (let j = 0; j < h.length; j++) {
      const b = st.basis[j];
      const hj = h[j];
      for (let i = 0; i < n; i++) out[i] += hj * b[i];
    }
    for (let i = 0; i < n; i++) out[i] *= scale[i];
    return out;
  };
  let x = Float64Array.from(x0);
  let { value: f, gradient: g } = await obj.valueAndGradient(x);
  g = Float64Array.from(g);
  const result = (status: TrustKrylovStatus, message: string, iterations: number, edm: number): TrustKrylovResult => ({
    x,
    value: f,
    gradient: g,
    edm,
    iterations,
    hvps,
    corrections,
    expansions,
    status,
    message,
  });
  if (!Number.isFinite(f) || !allFinite(g)) return result("failed", "non-finite NLL or gradient at the starting point", 0, Number.NaN);

  /** H̃ q = D H D q */
  const scaledHvp = async (q: Float64Array): Promise<Float64Array> => {
    const v = q.map((qi, i) => qi * scale[i]);
    const hv = await obj.hessianVectorProduct(x, v);
    hvps++;
    return Float64Array.from(hv, (hi, i) => hi * scale[i]);
  };

  /** Lanczos until the subproblem residual is small; returns the basis and the subproblem solution. */
  /** smallest positive Ritz value met in any sweep: the stand-in for λmin(H) */
  let smallestRitz = Number.POSITIVE_INFINITY;
  const krylov = async (edmPrevious: number): Promise<{ state: KrylovState; sub: SubproblemSolution }> => {
    const gs = g.map((gi, i) => gi * scale[i]);
    const gamma0 = norm2(gs);
    // inexact Newton forcing: η ≤ √‖g‖ for superlinear convergence, and near the end tight
    // enough that the next point should already pass the EDM test (the EDM drops by ~η²)
    // (only when that needs η ≥ 1e-3: farther out the quadratic model is not worth solving finely)
    const etaWanted = edmPrevious > 0 ? Math.sqrt((0.1 * edmTolerance) / edmPrevious) : 1;
    const etaEnd = Number.isFinite(etaWanted) && etaWanted >= 1e-3 ? etaWanted : 1;
    const eta = Math.max(1e-8, Math.min(krylovTolerance, Math.sqrt(gamma0), etaEnd));
    const basis: Float64Array[] = [gs.map((v) => v / gamma0)];
    const diag: number[] = [];
    const off: number[] = [0];
    let sub: SubproblemSolution | null = null;
    let t: Tridiagonal = sliceTridiagonal([0], [0]);
    let edmEstimate = { edm: Number.POSITIVE_INFINITY, upper: Number.POSITIVE_INFINITY };
    for (let k = 0; k < maxKrylov; k++) {
      const q = basis[k];
      const w = await scaledHvp(q);
      if (!allFinite(w)) throw new NonFiniteError("non-finite Hessian-vector product");
      const delta = dot(q, w);
      diag.push(delta);
      for (let i = 0; i < n; i++) w[i] -= delta * q[i] + (k > 0 ? off[k] * basis[k - 1][i] : 0);
      // full reorthogonalisation (twice is enough)
      for (let pass = 0; pass < 2; pass++) {
        for (const b of basis) {
          const c = dot(b, w);
          for (let i = 0; i < n; i++) w[i] -= c * b[i];
        }
      }
      const beta = norm2(w);
      t = sliceTridiagonal(diag, off);
      sub = solveTridiagonalSubproblem(t, gamma0, radius);
      const tnorm = Math.max(...diag.map(Math.abs), ...off.map(Math.abs), 1e-300);
      const residual = beta * Math.abs(sub.h[k]);
      edmEstimate = newtonEdm(t, gamma0, beta, sub.lamMin, smallestRitz);
      if (beta <= 1e-12 * tnorm || k + 1 === n) {
        // invariant subspace: T holds the whole story, the CG energy is the EDM
        edmEstimate.upper = edmEstimate.edm;
        break;
      }
      if (k + 1 === maxKrylov) break;
      // already certain enough that this point passes: no need for the full Newton step
      if (k >= 1 && edmEstimate.upper < 0.5 * edmTolerance) break;
      // an ill-conditioned H can meet the residual test with a badly underestimated EDM (a
      // gradient along stiff directions hides small soft components): while the lower estimate
      // passes but the upper one does not, keep going
      // (and a claim of convergence rests on at least three Lanczos steps)
      const undecided = edmEstimate.edm < edmTolerance && (edmEstimate.upper >= edmTolerance || k < 2);
      if (residual <= eta * gamma0 && !undecided) break;
      off.push(beta);
      basis.push(w.map((v) => v / beta));
    }
    if (!sub) throw new Error("trustKrylov: empty Krylov space");
    if (sub.lamMin > 0) smallestRitz = Math.min(smallestRitz, sub.lamMin);
    return { state: { basis, t, gamma0, edm: edmEstimate.upper, steps: diag.length }, sub };
  };

  // a float32 objective (tfjs) returns values that are exact float32 numbers; anything else is
  // taken as float64
  const noiseOf = (value: number): number =>
    opts.valueNoise ?? (Math.fround(value) === value ? 1e-6 : 1e-13) * Math.max(1, Math.abs(value));

  // the gradient-based test needs gradients good to float64 (not a float32 objective)
  // (valueNoise 0 declares the values exact: then their differences are trusted)
  const float64Values = noiseOf(f) > 0 && noiseOf(f) < GRADIENT_TEST_BELOW * Math.max(1, Math.abs(f));
  let edm = Number.NaN;
  let iteration = 0;
  let cached: KrylovState | null = null;
  try {
    for (iteration = 1; iteration <= maxIterations; iteration++) {
      let state: KrylovState;
      let sub: SubproblemSolution;
      let krylovSteps = 0;
      if (norm2(g) === 0) {
        edm = 0;
        return result("converged", "gradient is exactly zero", iteration - 1, 0);
      }
      if (cached) {
        state = cached;
        sub = solveTridiagonalSubproblem(state.t, state.gamma0, radius);
      } else {
        const before = hvps;
        ({ state, sub } = await krylov(edm));
        krylovSteps = hvps - before;
      }
      edm = state.edm;
      opts.onIteration?.({ iteration, nll: f, value: f, edm, radius, krylovSteps, hvps, x });
      if (edm < edmTolerance) return result("converged", `edm ${edm.toExponential(3)} < ${edmTolerance}`, iteration - 1, edm);

      // step s = D Q h
      const s = new Float64Array(n);
      for (let j = 0; j < sub.h.length; j++) {
        const b = state.basis[j];
        const hj = sub.h[j];
        for (let i = 0; i < n; i++) s[i] += hj * b[i];
      }
      const stepNorm = norm2(s); // scaled norm
      for (let i = 0; i < n; i++) s[i] *= scale[i];
      const predicted = -sub.model;
      let xNew = x.map((xi, i) => xi + s[i]);
      let trial = await obj.valueAndGradient(xNew);
      let actual = f - trial.value;
      let finite = Number.isFinite(trial.value) && allFinite(trial.gradient);
      // Near the minimum the NLL difference drowns in the rounding of its sum over bins (the
      // W-mass fit: ~1e-9 at NLL 527, far above 1e-13·|f|) and rejects good steps; there the
      // reduction from the gradients, −½(g(x) + g(x+s))·s (exact for a quadratic, no cancellation
      // between large sums), judges the step instead.
      const gradientTest = useGradientTest && float64Values && predicted < GRADIENT_TEST_BELOW * Math.max(1, Math.abs(f));
      const reduction = (tr: { value: number; gradient: Float64Array }, xt: Float64Array): number => {
        if (!gradientTest) return f - tr.value;
        // the NLL itself may not rise beyond its rounding (a gradient that disagrees with the
        // values must not walk uphill)
        if (f - tr.value < -GRADIENT_TEST_RISE * Math.max(1, Math.abs(f))) return f - tr.value;
        let gs = 0;
        for (let i = 0; i < n; i++) gs += (g[i] + tr.gradient[i]) * (xt[i] - x[i]);
        return -0.5 * gs;
      };
      if (gradientTest && finite) actual = reduction(trial, xNew);
      let rho = finite && predicted > 0 ? actual / predicted : Number.NEGATIVE_INFINITY;
      let corrected = false;
      if (!(finite && rho > 1e-4 && actual > 0) && finite && useCorrection && predicted >= GRADIENT_TEST_BELOW * Math.max(1, Math.abs(f)) && sub.lamMin > 0 && sub.h.length > 1) {
        // Second-order correction on the same Krylov space: the step followed the tangent of a
        // curved valley (e.g. a POI against the normalisation nuisances: linear in μ, exponential
        // in θ), so the NLL grows like t⁴ along it although the yields barely change. The
        // projected misfit of the gradient at x + s, r = Qᵀ D (g(x+s) − g − Hs), is the second
        // directional derivative's pull back into the valley; c = −T⁻¹ r costs no HVP and one
        // gradient evaluation (Maratos-effect correction; "geodesic acceleration").
        const k = sub.h.length;
        const gt = Float64Array.from(trial.gradient, (v, i) => v * scale[i]);
        const th = tridiagonalTimes(state.t, sub.h);
        const r = new Float64Array(k);
        for (let j = 0; j < k; j++) r[j] = dot(state.basis[j], gt) - th[j] - (j === 0 ? state.gamma0 : 0);
        const c = solveShifted(state.t, sub.lambda, r.map((v) => -v));
        // (no longer than the step itself: a correction, not a new step)
        const cNorm = c ? norm2(c.h) : Number.NaN;
        if (c && allFinite(c.h) && cNorm > stepNorm) for (let j = 0; j < k; j++) c.h[j] *= stepNorm / cNorm;
        if (c && allFinite(c.h)) {
          const xc = Float64Array.from(xNew);
          for (let j = 0; j < k; j++) {
            const b = state.basis[j];
            const cj = c.h[j];
            for (let i = 0; i < n; i++) xc[i] += cj * b[i] * scale[i];
          }
          const trialC = await obj.valueAndGradient(xc);
          const actualC = f - trialC.value;
          const finiteC = Number.isFinite(trialC.value) && allFinite(trialC.gradient);
          const rhoC = finiteC && predicted > 0 ? actualC / predicted : Number.NEGATIVE_INFINITY;
          if (finiteC && rhoC > 0.1 && actualC > 0) {
            corrected = true;
            xNew = xc;
            trial = trialC;
            actual = actualC;
            finite = finiteC;
            rho = rhoC;
            corrections++;
          }
        }
      }
      if (opts.onStep) {
        let gs = 0;
        for (let i = 0; i < n; i++) gs += (g[i] + trial.gradient[i]) * (xNew[i] - x[i]);
        opts.onStep({
          iteration,
          predicted,
          actual,
          actualFromGradients: -0.5 * gs,
          rho,
          stepNorm,
          radius,
          accepted: finite && rho > 1e-4 && actual > 0,
          krylovCapped: state.steps >= maxKrylov,
          corrected,
          step: s,
          x,
        });
      }

      if (rho < 0.25) radius = 0.25 * Math.min(radius, stepNorm);
      else if (rho > 0.75 && stepNorm >= 0.99 * radius) radius = Math.min(2 * radius, maxRadius);

      // A step the model predicted well was cut by the radius: try longer steps on the same
      // Krylov space (one gradient each, no HVP) instead of regrowing the radius one costly
      // Krylov solve at a time (after a collapse the radius needs several doublings).
      if (useExpansion && !corrected && finite && rho > 0.9 && actual > 0 && !sub.interior) {
        for (let tries = 0; tries < MAX_EXPANSIONS && radius < maxRadius; tries++) {
          const subX = solveTridiagonalSubproblem(state.t, state.gamma0, radius);
          const predX = -subX.model;
          const sx = stepOf(state, subX.h);
          const xX = x.map((xi, i) => xi + sx[i]);
          const trialX = await obj.valueAndGradient(xX);
          const actualX = reduction(trialX, xX);
          const rhoX = predX > 0 ? actualX / predX : Number.NEGATIVE_INFINITY;
          if (!(Number.isFinite(trialX.value) && allFinite(trialX.gradient) && rhoX > 0.75 && actualX > actual)) {
            radius = Math.max(radius / 2, stepNorm);
            break;
          }
          xNew = xX;
          trial = trialX;
          actual = actualX;
          rho = rhoX;
          expansions++;
          if (subX.interior) break;
          radius = Math.min(2 * radius, maxRadius);
        }
      }

      if (finite && rho > 1e-4 && actual > 0) {
        x = xNew;
        f = trial.value;
        g = Float64Array.from(trial.gradient);
        cached = null;
      } else {
        cached = state;
        if (finite && !gradientTest && predicted <= noiseOf(f)) {
          return result(
            "converged",
            `stopped at the objective's noise level (predicted gain ${predicted.toExponential(2)} not resolvable, edm ${edm.toExponential(3)})`,
            iteration,
            edm,
          );
        }
        if (!(radius > 1e-14 * Math.max(1, norm2(x)))) {
          return result("failed", `trust radius collapsed (${radius.toExponential(2)}) without reaching edm < ${edmTolerance}; edm ${edm.toExponential(3)}`, iteration, edm);
        }
      }
    }
  } catch (err) {
    if (err instanceof NonFiniteError) return result("failed", err.message, iteration, edm);
    throw err;
  }
  return result("max-iterations", `reached ${maxIterations} iterations, edm ${edm.toExponential(3)}`, maxIterations, edm);
}

class NonFiniteError extends Error {}

/** predicted gains below this fraction of |f| are judged by the gradients (gradientRatioTest) */
const GRADIENT_TEST_BELOW = 1e-8;
/** ... but a step raising the NLL by more than this fraction of |f| is rejected (rounding is ~1e-12) */
const GRADIENT_TEST_RISE = 1e-10;
/** doublings of the radius tried on one Krylov space */
const MAX_EXPANSIONS = 3;
