/**
 * One-dimensional root finding for the post-fit methods (profile crossings, CLs = α): Brent's
 * method (Brent 1973, as scipy.optimize.brentq) on an expensive, asynchronous function, and an
 * outward bracket search. Every evaluation is a refit, so both keep the count small.
 */

export type AsyncFunction = (x: number) => Promise<number>;

export interface BrentOptions {
  /** absolute tolerance in x (default 1e-8) */
  xtol?: number;
  /** relative tolerance in x (default 4·ε) */
  rtol?: number;
  /** evaluations (default 100) */
  maxEvaluations?: number;
}

export interface RootResult {
  x: number;
  fx: number;
  evaluations: number;
  converged: boolean;
}

/**
 * A root of f in [a, b] where fa = f(a) and fb = f(b) have opposite signs (or one is zero);
 * scipy's brentq algorithm (inverse quadratic interpolation / secant, falling back to bisection).
 */
export async function brent(f: AsyncFunction, a: number, fa: number, b: number, fb: number, opts: BrentOptions = {}): Promise<RootResult> {
  const xtol = opts.xtol ?? 1e-8;
  const rtol = opts.rtol ?? 4 * Number.EPSILON;
  const maxEval = opts.maxEvaluations ?? 100;
  if (fa === 0) return { x: a, fx: 0, evaluations: 0, converged: true };
  if (fb === 0) return { x: b, fx: 0, evaluations: 0, converged: true };
  if (Math.sign(fa) === Math.sign(fb)) throw new RangeError(`brent: f(${a}) = ${fa} and f(${b}) = ${fb} have the same sign`);
  let xpre = a;
  let fpre = fa;
  let xcur = b;
  let fcur = fb;
  let xblk = 0;
  let fblk = 0;
  let spre = 0;
  let scur = 0;
  let evaluations = 0;
  for (;;) {
    if (fpre !== 0 && fcur !== 0 && Math.sign(fpre) !== Math.sign(fcur)) {
      xblk = xpre;
      fblk = fpre;
      spre = scur = xcur - xpre;
    }
    if (Math.abs(fblk) < Math.abs(fcur)) {
      xpre = xcur;
      xcur = xblk;
      xblk = xpre;
      fpre = fcur;
      fcur = fblk;
      fblk = fpre;
    }
    const delta = (xtol + rtol * Math.abs(xcur)) / 2;
    const sbis = (xblk - xcur) / 2;
    if (fcur === 0 || Math.abs(sbis) < delta) return { x: xcur, fx: fcur, evaluations, converged: true };
    if (evaluations >= maxEval) return { x: xcur, fx: fcur, evaluations, converged: false };
    if (Math.abs(spre) > delta && Math.abs(fcur) < Math.abs(fpre)) {
      let stry: number;
      if (xpre === xblk) {
        stry = (-fcur * (xcur - xpre)) / (fcur - fpre);
      } else {
        const dpre = (fpre - fcur) / (xpre - xcur);
        const dblk = (fblk - fcur) / (xblk - xcur);
        stry = (-fcur * (fblk * dblk - fpre * dpre)) / (dblk * dpre * (fblk - fpre));
      }
      if (2 * Math.abs(stry) < Math.min(Math.abs(spre), 3 * Math.abs(sbis) - delta)) {
        spre = scur;
        scur = stry;
      } else {
        spre = sbis;
        scur = sbis;
      }
    } else {
      spre = sbis;
      scur = sbis;
    }
    xpre = xcur;
    fpre = fcur;
    if (Math.abs(scur) > delta) xcur += scur;
    else xcur += sbis > 0 ? delta : -delta;
    fcur = await f(xcur);
    evaluations++;
    if (!Number.isFinite(fcur)) return { x: xcur, fx: fcur, evaluations, converged: false };
  }
}

export interface BracketOptions extends BrentOptions {
  /** the search never goes beyond this x (a parameter bound); default ±Infinity */
  limit?: number;
  /** evaluations of the bracket search (default 30) */
  maxSteps?: number;
}

/**
 * Root of f on the side of `x0` towards `x1`, where f(x0) = f0 < 0 and f grows away from x0
 * (a profile 2ΔNLL minus a level, −ln CLs minus a level). Steps out from x0 past x1 with a
 * model f + c ≈ k·(x − origin)² fitted to the last point (so a quadratic profile is bracketed in
 * one or two steps), then Brent. Returns converged false (x at the last point) when no sign change
 * is found before `limit` or within maxSteps.
 */
export async function findCrossing(
  f: AsyncFunction,
  origin: number,
  x0: number,
  f0: number,
  x1: number,
  depth: number,
  opts: BracketOptions = {},
): Promise<RootResult & { bounded: boolean }> {
  const dir = Math.sign(x1 - x0) || 1;
  const limit = opts.limit ?? dir * Number.POSITIVE_INFINITY;
  const maxSteps = opts.maxSteps ?? 30;
  let a = x0;
  let fa = f0;
  let b = dir > 0 ? Math.min(x1, limit) : Math.max(x1, limit);
  let evaluations = 0;
  for (let step = 0; ; step++) {
    const fb = await f(b);
    evaluations++;
    if (!Number.isFinite(fb)) return { x: b, fx: fb, evaluations, converged: false, bounded: false };
    if (fb >= 0) {
      const r = await brent(f, a, fa, b, fb, opts);
      return { ...r, evaluations: r.evaluations + evaluations, bounded: false };
    }
    if (b === limit) return { x: b, fx: fb, evaluations, converged: false, bounded: true };
    if (step + 1 >= maxSteps) return { x: b, fx: fb, evaluations, converged: false, bounded: false };
    // quadratic model through the origin: f(x) + depth = k (x − origin)², k from b
    const distance = Math.abs(b - origin);
    const k = (fb + depth) / (distance * distance);
    let next = k > 0 ? Math.sqrt(depth / k) : 2 * distance;
    // overshoot slightly so the next point is past the root, at most double, at least +10 %
    next = Math.min(Math.max(1.02 * next, 1.1 * distance), 2 * distance);
    a = b;
    fa = fb;
    b = origin + dir * next;
    if ((dir > 0 && b > limit) || (dir < 0 && b < limit)) b = limit;
  }
}
