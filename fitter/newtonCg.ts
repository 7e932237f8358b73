/**
 * Newton polish by conjugate gradients on Hessian-vector products. Near the minimum the float64
 * NLL's rounding noise hides the remaining gain, so a trust region judged by the NLL stops at an
 * EDM of ~1e-12; Newton steps judged by the gradient norm go further for a few dozen HVPs,
 * which is much cheaper than recomputing the dense Hessian at a better point afterwards.
 */
import type { Objective } from "./objective.js";

export interface CgSolution {
  /** approximate solution of H s = b */
  s: Float64Array;
  iterations: number;
  /** true when CG met non-positive curvature (s is the iterate before it) */
  negativeCurvature: boolean;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Conjugate gradients for H s = b with H given by products; stops at ‖r‖ ≤ tol·‖b‖. */
export async function conjugateGradient(
  hvp: (v: Float64Array) => Float64Array | Promise<Float64Array>,
  b: Float64Array,
  tol: number,
  maxIterations: number,
): Promise<CgSolution> {
  const n = b.length;
  const s = new Float64Array(n);
  const r = Float64Array.from(b);
  const p = Float64Array.from(b);
  let rr = dot(r, r);
  const stop = tol * tol * rr;
  let it = 0;
  for (; it < maxIterations && rr > stop; it++) {
    const hp = await hvp(p);
    const curvature = dot(p, hp);
    if (!(curvature > 0)) return { s, iterations: it + 1, negativeCurvature: true };
    const alpha = rr / curvature;
    for (let i = 0; i < n; i++) {
      s[i] += alpha * p[i];
      r[i] -= alpha * hp[i];
    }
    const rrNew = dot(r, r);
    const beta = rrNew / rr;
    rr = rrNew;
    for (let i = 0; i < n; i++) p[i] = r[i] + beta * p[i];
  }
  return { s, iterations: it, negativeCurvature: false };
}

export interface NewtonPolishResult {
  x: Float64Array;
  value: number;
  gradient: Float64Array;
  /** Newton steps taken */
  steps: number;
  hvps: number;
}

export interface NewtonPolishOptions {
  /** at most this many Newton steps (default 2) */
  maxSteps?: number;
  /** CG relative residual (default 1e-4) */
  tolerance?: number;
  /** CG iterations per step (default min(n, 300)) */
  maxCg?: number;
  /** stop when the Newton decrement ½ gᵀH⁻¹g (CG estimate) is below this (default 1e-18) */
  edmFloor?: number;
}

/** Newton steps x ← x + s with H s = −g solved by CG, kept while they shrink ‖g‖. */
export async function newtonPolish(
  obj: Objective,
  x0: Float64Array,
  value0: number,
  gradient0: Float64Array,
  opts: NewtonPolishOptions = {},
): Promise<NewtonPolishResult> {
  const maxSteps = opts.maxSteps ?? 2;
  const tol = opts.tolerance ?? 1e-4;
  const maxCg = opts.maxCg ?? Math.min(obj.nparams, 300);
  const edmFloor = opts.edmFloor ?? 1e-18;
  let x = x0;
  let value = value0;
  let g = gradient0;
  let hvps = 0;
  let steps = 0;
  for (; steps < maxSteps; steps++) {
    const at = x;
    const minusG = g.map((v) => -v);
    const cg = await conjugateGradient(
      async (v) => {
        hvps++;
        return await obj.hessianVectorProduct(at, v);
      },
      minusG,
      tol,
      maxCg,
    );
    if (cg.negativeCurvature && cg.iterations <= 1) break;
    const decrement = 0.5 * dot(minusG, cg.s);
    if (!(decrement > edmFloor)) break;
    const xNew = x.map((v, i) => v + cg.s[i]);
    const trial = await obj.valueAndGradient(xNew);
    if (!Number.isFinite(trial.value) || !trial.gradient.every((v) => Number.isFinite(v))) break;
    if (!(dot(trial.gradient, trial.gradient) < dot(g, g))) break;
    x = xNew;
    value = trial.value;
    g = Float64Array.from(trial.gradient);
  }
  return { x, value, gradient: g, steps, hvps };
}
