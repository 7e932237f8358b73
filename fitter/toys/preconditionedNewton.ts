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
 */
import { denseGemm } from "../denseLinalg.js";
import type { Objective } from "../objective.js";

export class ApproxInverse {
  private readonly held: Uint8Array;
  /** columns c_j of C for the extra held parameters, with 1/C_jj */
  private readonly updates: { col: Float64Array; inv: number }[] = [];
  /** the native kernel (fitter_native gemm); off after it refused an array (JS loop then) */
  private useNative = true;

  constructor(
    private readonly c: Float64Array,
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
      this.updates.push({ col: c.slice(j * n, (j + 1) * n), inv: 1 / cjj });
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

  /** M v with M = (C_ff − Σ c_j c_jᵀ / C_jj) on the free parameters, 0 on the held ones */
  apply(v: Float64Array): Float64Array {
    const n = this.n;
    const out = new Float64Array(n);
    const c = this.c;
    if (this.useNative) {
      try {
        // C is symmetric: row- and column-major alike; one native matrix-vector product
        denseGemm(false, false, n, 1, n, 1, c, v, out, 1);
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
    for (const u of this.updates) {
      let d = 0;
      for (let k = 0; k < n; k++) if (!this.held[k]) d += u.col[k] * v[k];
      d *= u.inv;
      for (let i = 0; i < n; i++) out[i] -= u.col[i] * d;
    }
    return this.mask(out);
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
}

/** Preconditioned CG for H s = b on the free parameters; stops at ‖r‖ ≤ tol·‖b‖. */
export async function preconditionedCg(
  hvp: (v: Float64Array) => Promise<Float64Array>,
  m: ApproxInverse,
  b: Float64Array,
  tol: number,
  maxIterations: number,
): Promise<PcgResult> {
  const s = new Float64Array(b.length);
  const r = m.mask(Float64Array.from(b));
  let z = m.apply(r);
  const p = Float64Array.from(z);
  let rz = dot(r, z);
  const stop = tol * tol * dot(r, r);
  for (let it = 0; it < maxIterations; it++) {
    if (dot(r, r) <= stop) return { s, iterations: it, ok: true };
    const hp = m.mask(await hvp(p));
    const curvature = dot(p, hp);
    if (!(curvature > 0)) return { s, iterations: it + 1, ok: false };
    const alpha = rz / curvature;
    for (let i = 0; i < s.length; i++) {
      s[i] += alpha * p[i];
      r[i] -= alpha * hp[i];
    }
    z = m.apply(r);
    const rzNew = dot(r, z);
    const beta = rzNew / rz;
    rz = rzNew;
    for (let i = 0; i < p.length; i++) p[i] = z[i] + beta * p[i];
  }
  return { s, iterations: maxIterations, ok: dot(r, r) <= stop };
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
