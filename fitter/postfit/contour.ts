/**
 * Two-parameter profile-likelihood contours: for each level (in Gaussian σ, 2 dof:
 * 2ΔNLL = −2 ln(1 − erf(n/√2)), 1σ → 2.2958, 2σ → 6.1801) the points where the profile 2ΔNLL of
 * (a, b) reaches the level along rays from the minimum, each found by Brent's method on the ray
 * (not read off a grid). The rays are spaced evenly in angle on the Hessian error ellipse
 * (x̂ + t·L(cos φ, sin φ), L L ᵀ = C_ab), where a quadratic NLL reaches the level at t = √level, so
 * the first guess is nearly right. A ray that meets a parameter bound (μ = 0 in POI mode square)
 * before the level ends at the bound.
 */
import { UserError } from "../../src/errors.js";
import type { FitSession } from "../session.js";
import { chi2TwoDofLevel } from "./normal.js";
import { Profile, type ProfileStats } from "./profile.js";
import { findCrossing } from "./rootFinding.js";
import { bestAndError } from "./scan.js";

export interface ContourOptions {
  /** levels in σ (default [1, 2]) */
  levels?: number[];
  /** rays per level (default 32) */
  points?: number;
  /** tolerance of the crossing in units of the ray parameter t (≈ σ) (default 1e-6) */
  ttol?: number;
}

export interface ContourResult {
  levels: number[];
  /** 2ΔNLL of each level */
  twiceDnll: number[];
  /** per level, the [a, b] points in order of angle */
  points: Array<Array<[number, number]>>;
  /** per level and point: false where the ray ended at a bound or the root was not found */
  converged: boolean[][];
  stats: ProfileStats;
}

export const DEFAULT_CONTOUR_LEVELS = [1, 2];
export const DEFAULT_CONTOUR_POINTS = 32;

export async function contour(session: FitSession, a: number, b: number, opts: ContourOptions = {}): Promise<ContourResult> {
  const levels = opts.levels ?? DEFAULT_CONTOUR_LEVELS;
  const npoints = opts.points ?? DEFAULT_CONTOUR_POINTS;
  const ttol = opts.ttol ?? 1e-6;
  if (a === b) throw new UserError(`--contour: needs two different parameters, got ${session.names[a]} twice`);
  for (const l of levels) if (!(Number.isFinite(l) && l > 0)) throw new UserError(`--contour-levels: levels must be positive numbers of σ, got ${l}`);
  if (!(Number.isInteger(npoints) && npoints >= 3)) throw new UserError(`--contour-points: must be an integer >= 3, got ${npoints}`);
  const ea = bestAndError(session, a, "--contour");
  const eb = bestAndError(session, b, "--contour");
  // 2 × 2 covariance in reported units and its Cholesky factor
  const best = session.best!;
  const n = session.n;
  const jac = session.jacobian(best.x);
  const cab = jac[a] * jac[b] * best.covariance![a * n + b];
  const l11 = ea.error;
  const l21 = cab / l11;
  const l22 = Math.sqrt(Math.max(eb.error * eb.error - l21 * l21, 1e-12 * eb.error * eb.error));
  const profile = new Profile(session, [a, b]);
  const boundOf = (i: number): number | undefined => (i < session.npoi && session.poiMode === "square" ? 0 : undefined);
  const result: ContourResult = { levels, twiceDnll: [], points: [], converged: [], stats: profile.stats };
  for (const level of levels) {
    const q = chi2TwoDofLevel(level);
    const pts: Array<[number, number]> = [];
    const ok: boolean[] = [];
    for (let k = 0; k < npoints; k++) {
      const phi = (2 * Math.PI * k) / npoints;
      const ua = l11 * Math.cos(phi);
      const ub = l21 * Math.cos(phi) + l22 * Math.sin(phi);
      // the largest t before a parameter bound
      let limit = Number.POSITIVE_INFINITY;
      for (const [i, u, v0] of [
        [a, ua, ea.value],
        [b, ub, eb.value],
      ] as Array<[number, number, number]>) {
        const bound = boundOf(i);
        if (bound !== undefined && u < 0) limit = Math.min(limit, (bound - v0) / u);
      }
      const at = (t: number): [number, number] => [ea.value + t * ua, eb.value + t * ub];
      const f = async (t: number): Promise<number> => (await profile.at(at(t))).twiceDnll - q;
      const r = await findCrossing(f, 0, 0, -q, Math.sqrt(q), q, {
        xtol: ttol,
        rtol: 1e-12,
        limit: Number.isFinite(limit) ? limit : undefined,
      });
      pts.push(at(r.x));
      ok.push(r.converged);
    }
    result.twiceDnll.push(q);
    result.points.push(pts);
    result.converged.push(ok);
  }
  return result;
}
