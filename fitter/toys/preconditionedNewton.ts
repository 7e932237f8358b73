/**
 * Refits near a known minimum with the covariance C = H⁻¹ of the fit to the data as a fixed
 * approximate inverse Hessian. A toy's or an impact refit's Hessian differs from the nominal one
 * only by data fluctuations and modest parameter shifts, so
 *   - Newton steps x ← x − M g with M ≈ H⁻¹ fixed converge linearly at a fast rate (fit.ts does
 *     the same with the exact Hessian's Cholesky factor), one gradient and one matrix-vector
 *     product per step instead of a trust-region iteration's dozens of HVPs;
 *   - conjugate gradients preconditioned by M solve H s = b (exact EDM, POI/NOI errors) in a few
 *     iterations instead of hundreds.
 * With parameters held (refit impacts hold one nuisance j), the inverse of the free block is the
 * Schur complement C_ff − C_fj C_jf / C_jj: a rank-one update per held parameter.
 *
 * All vectors are full length n in the minimiser's coordinates; entries of held parameters are
 * kept at zero in gradients and directions. C has zero rows/columns for the --freeze parameters
 * (the nominal fit held them too).
 *
 * C may be stored in float32 (toys.ts converts the float64 inverse once): M only preconditions, so
 * its rounding changes CG iteration counts, never the minimum (gradients, HVPs, EDM and residual
 * checks are float64), and one pass reads half the bytes. Products with it are accumulated in
 * float64 (fitter_native symmF32); the held parameters' rank-one updates are float64.
 */
import { denseGemm, denseSymmF32 } from "../denseLinalg.js";
import type { Objective } from "../objective.js";

export class ApproxInverse {
  private readonly held: Uint8Array;
  /** columns c_j of C for the extra held parameters (float64 even when C is float32), with 1/C_jj */
  private readonly updates: { col: Float64Array; inv: number }[] = [];
  /** the native kernel (fitter_native gemm / symmF32); off after it refused an array (JS loop then) */
  private useNative = true;

  constructor(
    private readonly c: Float64Array | Float32Array,
    readonly n: number,
    heldIndices: Iterable<number>,
    extraHeld: Iterable<number>,
  ) {
    this.held = new Uint8Array(n);
    for (const i of heldIndices) this.held[i] = 1;
    for (const j of extraHeld) {
      this.held[j] = 1;
      const cjj = c[j * n + j];
      if (!(cjj > 0)) continue;
      this.updates.push({ col: Float64Array.from(c.subarray(j * n, (j + 1) * n)), inv: 1 / cjj });
    }
  }

  isHeld(i: number): boolean {
    return this.held[i] === 1;
  }

  /** zeroes the held entries in place */
  mask(v: Float64Array): Float64Array {
    for (let i = 0; i < this.n; i++) if (this.held[i]) v[i] = 0;
    return v;
  }

  /**
   * M v for several v at once: one pass over the dense C for all of them (the product is bound by
   * reading C's n² doubles, so k vectors cost little more than one)
   */
  applyMany(vs: readonly Float64Array[]): Float64Array[] {
    const k = vs.length;
    if (k === 0) return [];
    if (k === 1 || !this.useNative) return vs.map((v) => this.apply(v));
    const n = this.n;
    const b = new Float64Array(n * k);
    vs.forEach((v, j) => b.set(v, j * n));
    let out: Float64Array = new Float64Array(n * k);
    try {
      // one thread: the toys' parallelism comes from the workers
      if (this.c instanceof Float32Array) out = denseSymmF32(this.c, n, b, 1);
      else denseGemm(false, false, n, k, n, 1, this.c, b, out, 1);
    } catch {
      this.useNative = false;
      return vs.map((v) => this.apply(v));
    }
    return vs.map((v, j) => this.finish(v, out.subarray(j * n, (j + 1) * n).slice()));
  }

  /** the rank-one updates of the held parameters and the mask, on C v already in `out` */
  private finish(v: Float64Array, out: Float64Array): Float64Array {
    const n = this.n;
    for (const u of this.updates) {
      let d = 0;
      for (let k = 0; k < n; k++) if (!this.held[k]) d += u.col[k] * v[k];
      d *= u.inv;
      for (let i = 0; i < n; i++) out[i] -= u.col[i] * d;
    }
    return this.mask(out);
  }

  /** M v with M = (C_ff − Σ c_j c_jᵀ / C_jj) on the free parameters, 0 on the held ones */
  apply(v: Float64Array): Float64Array {
    const n = this.n;
    let out: Float64Array = new Float64Array(n);
    const c = this.c;
    if (this.useNative) {
      try {
        // C is symmetric: row- and column-major alike; one native matrix-vector product
        if (c instanceof Float32Array) out = denseSymmF32(c, n, v, 1);
        else denseGemm(false, false, n, 1, n, 1, c, v, out, 1);
      } catch {
        this.useNative = false;
        out.fill(0);
      }
    }
    if (!this.useNative) {
      for (let i = 0; i < n; i++) {
        if (this.held[i]) continue;
        let s = 0;
        const row = i * n;
        for (let k = 0; k < n; k++) s += c[row + k] * v[k];
        out[i] = s;
      }
    }
    return this.finish(v, out);
  }
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

export interface PcgResult {
  s: Float64Array;
  iterations: number;
  /** false when CG met non-positive curvature or did not reach the tolerance */
  ok: boolean;
  /** CG met non-positive curvature (s is the iterate before it) */
  negativeCurvature: boolean;
  /**
   * rᵀM r of the final residual r = b − H s: with M ≈ H⁻¹, bᵀs + rᵀM r estimates bᵀH⁻¹b (CG's
   * bᵀs alone is a lower bound)
   */
  residualEnergy: number;
}

/** Preconditioned CG for H s = b on the free parameters; stops at ‖r‖ ≤ tol·‖b‖. */
export async function preconditionedCg(
  hvp: (v: Float64Array) => Promise<Float64Array>,
  m: ApproxInverse,
  b: Float64Array,
  tol: number,
  maxIterations: number,
  norm: "2" | "M" = "2",
): Promise<PcgResult> {
  const [out] = await blockPreconditionedCg(hvp, m, [b], tol, maxIterations, norm);
  return out;
}

/**
 * Preconditioned CG for H s_j = b_j, all right-hand sides in lockstep so that each iteration
 * applies M to all of them in one pass (ApproxInverse.applyMany); each stops at its own
 * ‖r_j‖ ≤ tol·‖b_j‖. Iterations count per right-hand side (HVPs = Σ iterations).
 */
export async function blockPreconditionedCg(
  hvp: (v: Float64Array) => Promise<Float64Array>,
  m: ApproxInverse,
  bs: readonly Float64Array[],
  tol: number,
  maxIterations: number,
  norm: "2" | "M" = "2",
): Promise<PcgResult[]> {
  const k = bs.length;
  const s = bs.map((b) => new Float64Array(b.length));
  const r = bs.map((b) => m.mask(Float64Array.from(b)));
  const z = m.applyMany(r);
  const p = z.map((v) => Float64Array.from(v));
  const rz = r.map((rj, j) => dot(rj, z[j]));
  // "M": ‖r‖_M ≤ tol·‖b‖_M (the inexact Newton forcing: every direction weighted by its
  // curvature, where the 2-norm is blind to the flat ones of an ill-conditioned fit)
  const size = (j: number): number => (norm === "M" ? rz[j] : dot(r[j], r[j]));
  const stop = r.map((_, j) => tol * tol * size(j));
  const iterations = new Array<number>(k).fill(0);
  const status: Array<"active" | "done" | "curvature" | "limit"> = new Array(k).fill("active");
  for (;;) {
    const active: number[] = [];
    for (let j = 0; j < k; j++) {
      if (status[j] !== "active") continue;
      if (size(j) <= stop[j]) status[j] = "done";
      else if (iterations[j] >= maxIterations) status[j] = "limit";
      else active.push(j);
    }
    if (active.length === 0) break;
    const stepped: number[] = [];
    for (const j of active) {
      const hp = m.mask(await hvp(p[j]));
      iterations[j]++;
      const curvature = dot(p[j], hp);
      if (!(curvature > 0)) {
        status[j] = "curvature";
        continue;
      }
      const alpha = rz[j] / curvature;
      const sj = s[j];
      const rj = r[j];
      const pj = p[j];
      for (let i = 0; i < sj.length; i++) {
        sj[i] += alpha * pj[i];
        rj[i] -= alpha * hp[i];
      }
      stepped.push(j);
    }
    const zs = m.applyMany(stepped.map((j) => r[j]));
    stepped.forEach((j, q) => {
      z[j] = zs[q];
      const rzNew = dot(r[j], z[j]);
      const beta = rzNew / rz[j];
      rz[j] = rzNew;
      const pj = p[j];
      const zj = z[j];
      for (let i = 0; i < pj.length; i++) pj[i] = zj[i] + beta * pj[i];
    });
  }
  return s.map((sj, j) => ({
    s: sj,
    iterations: iterations[j],
    ok: status[j] === "done",
    negativeCurvature: status[j] === "curvature",
    residualEnergy: rz[j],
  }));
}

export interface NewtonResult {
  x: Float64Array;
  value: number;
  gradient: Float64Array;
  /** ½ gᵀ M g at the end (the approximate EDM the steps were judged by) */
  approxEdm: number;
  steps: number;
  gradients: number;
}

const MAX_STEPS = 60;
const MAX_HALVINGS = 12;
/** below this approximate EDM steps are judged by the EDM, above by the NLL */
const NEAR_EDM = 1e-6;
/** stop when a step reduces the approximate EDM by less than this factor */
const SLOW_RATE = 0.5;

/**
 * Newton steps with the fixed approximate inverse M from `start` (held entries stay), kept while
 * they lower ½ gᵀ M g; the NLL cannot judge them near the minimum (rounding noise).
 */
export async function fixedInverseNewton(
  obj: Objective,
  m: ApproxInverse,
  start: Float64Array,
  edmFloor: number,
  maxStartEdm = Number.POSITIVE_INFINITY,
): Promise<NewtonResult> {
  let x = Float64Array.from(start);
  let vg = await obj.valueAndGradient(x);
  let g = m.mask(Float64Array.from(vg.gradient));
  let value = vg.value;
  let step = m.apply(g);
  let edm = 0.5 * dot(g, step);
  let steps = 0;
  let gradients = 1;
  // too far for a fixed Hessian to help (e.g. a toy with every global observable moved): leave it
  // to the trust region
  if (!(edm <= maxStartEdm)) return { x, value, gradient: g, approxEdm: edm, steps, gradients };
  outer: while (steps < MAX_STEPS && Number.isFinite(edm) && edm > edmFloor) {
    // far from the minimum (non-linear yields) the full step may overshoot: halve it until the NLL
    // falls enough (Armijo, gᵀs = 2·EDM); near it the NLL's rounding noise hides the gains and the
    // full step is judged by the approximate EDM instead
    const far = edm > NEAR_EDM;
    for (let t = 1, tries = 0; tries < MAX_HALVINGS; t *= 0.5, tries++) {
      const xn = x.map((v, i) => v - t * step[i]);
      vg = await obj.valueAndGradient(xn);
      gradients++;
      const gn = m.mask(Float64Array.from(vg.gradient));
      const finite = Number.isFinite(vg.value) && gn.every((v) => Number.isFinite(v));
      if (!finite) {
        if (far) continue;
        break outer;
      }
      const sn = m.apply(gn);
      const en = 0.5 * dot(gn, sn);
      const accept = far ? vg.value <= value - 1e-4 * t * 2 * edm : en < edm;
      if (!accept) {
        if (far) continue;
        break outer;
      }
      const rate = en / edm;
      x = xn;
      value = vg.value;
      g = gn;
      step = sn;
      edm = en;
      steps++;
      // M is a poor model of this fit's Hessian here: the trust region does better
      if (rate > SLOW_RATE) break outer;
      continue outer;
    }
    break;
  }
  return { x, value, gradient: g, approxEdm: edm, steps, gradients };
}

export interface NewtonPcgOptions {
  /** converged when the EDM ½gᵀH⁻¹g (estimated by the step's PCG solve) is below this */
  edmTolerance: number;
  /** outer (Newton) steps at most */
  maxSteps?: number;
  /** PCG iterations per step at most */
  maxCg?: number;
}

export interface NewtonPcgResult {
  converged: boolean;
  /** why it stopped when not converged */
  message: string;
  /** the last accepted point (held entries as in `start`) */
  x: Float64Array;
  value: number;
  gradient: Float64Array;
  /** ½gᵀH⁻¹g at x (PCG estimate) */
  edm: number;
  steps: number;
  hvps: number;
  gradients: number;
}

/** PCG forcing term: loose far from the minimum, tightening as √EDM near it (superlinear) */
const MAX_FORCING = 0.1;
/** below this EDM the NLL's rounding noise can hide a step's gain: steps are judged by the EDM */
const NEWTON_PCG_NEAR = 1e-8;
/** relative residual of the solve whose EDM decides convergence (the estimate's accuracy) */
const EDM_FORCING = 1e-3;
const ARMIJO = 1e-4;

/**
 * Inexact Newton with M as preconditioner: at each point solve H(x) s = g by PCG (few HVPs where
 * M ≈ H⁻¹), step x ← x − t s with t halved until the NLL falls (Armijo) far from the minimum, the
 * full step near it. The solve at each point also gives its EDM, ½(gᵀs + rᵀM r); the iteration
 * stops there once that is below the tolerance (so the reported EDM is exact to the PCG's
 * accuracy at the returned point). Where M is a poor inverse (negative curvature, PCG at its
 * limit, no descent, the EDM growing near the minimum) it gives up and says why: the caller falls
 * back to the trust region.
 */
export async function newtonPcg(obj: Objective, m: ApproxInverse, start: Float64Array, opts: NewtonPcgOptions): Promise<NewtonPcgResult> {
  const maxSteps = opts.maxSteps ?? 30;
  const maxCg = opts.maxCg ?? 60;
  let x = Float64Array.from(start);
  let vg = await obj.valueAndGradient(x);
  let value = vg.value;
  let g = m.mask(Float64Array.from(vg.gradient));
  let gradients = 1;
  let hvps = 0;
  let steps = 0;
  let edm = Number.POSITIVE_INFINITY;
  const fail = (message: string): NewtonPcgResult => ({ converged: false, message, x, value, gradient: g, edm, steps, hvps, gradients });
  if (!(Number.isFinite(value) && g.every((v) => Number.isFinite(v)))) return fail("non-finite NLL or gradient at the start");
  for (;;) {
    const at = x;
    // EDM not yet known (first step): the loose forcing; near the minimum tight enough that the
    // EDM estimate is good to EDM_FORCING and the convergence superlinear
    const forcing = Math.min(MAX_FORCING, Number.isFinite(edm) ? Math.max(EDM_FORCING, Math.sqrt(edm)) : MAX_FORCING);
    const cg = await preconditionedCg(
      async (v) => {
        hvps++;
        return await obj.hessianVectorProduct(at, v);
      },
      m,
      g,
      forcing,
      maxCg,
      "M",
    );
    // non-positive curvature (the NLL is not convex away from the minimum: Poisson terms with
    // n > ν, several processes per bin): step along the CG iterate before it, or M g when there is
    // none: both descend (truncated Newton); there is no EDM estimate at such a point
    let direction = cg.s;
    if (cg.negativeCurvature) {
      if (edm < NEWTON_PCG_NEAR) return fail("Newton-PCG: non-positive curvature near the minimum");
      if (!cg.s.some((v) => v !== 0)) direction = m.apply(g);
    }
    // M must be positive definite for the EDM estimate (and PCG) to mean anything
    if (!(cg.residualEnergy >= 0)) return fail("Newton-PCG: the inverse Hessian is not positive definite here");
    const gs = dot(g, direction);
    const edmHere = cg.negativeCurvature ? Number.POSITIVE_INFINITY : 0.5 * (gs + cg.residualEnergy);
    if (!(gs > 0 && Number.isFinite(gs))) return fail("Newton-PCG: no descent direction");
    if (!cg.ok && cg.iterations >= maxCg && edmHere < NEWTON_PCG_NEAR) return fail("Newton-PCG: PCG at its iteration limit");
    // near the minimum a step must shrink the EDM (quadratic convergence): else M is too poor here
    if (edm < NEWTON_PCG_NEAR && !(edmHere < edm)) return fail(`Newton-PCG: EDM ${edmHere.toExponential(3)} not below ${edm.toExponential(3)}`);
    edm = edmHere;
    if (edm < opts.edmTolerance) return { converged: true, message: "", x, value, gradient: g, edm, steps, hvps, gradients };
    if (steps >= maxSteps) return fail(`Newton-PCG: ${steps} steps, EDM ${edm.toExponential(3)}`);
    const near = edm < NEWTON_PCG_NEAR;
    let accepted = false;
    for (let t = 1, tries = 0; tries < MAX_HALVINGS; t *= 0.5, tries++) {
      const xn = x.map((v, i) => v - t * direction[i]);
      vg = await obj.valueAndGradient(xn);
      gradients++;
      const finite = Number.isFinite(vg.value) && vg.gradient.every((v) => Number.isFinite(v));
      if (!finite) continue;
      if (!near && !(vg.value <= value - ARMIJO * t * gs)) continue;
      x = xn;
      value = vg.value;
      g = m.mask(Float64Array.from(vg.gradient));
      accepted = true;
      break;
    }
    if (!accepted) return fail(`Newton-PCG: no step lowers the NLL (EDM ${edm.toExponential(3)})`);
    steps++;
  }
}
