/**
 * MINOS errors: where the profile 2ΔNLL of one parameter crosses 1 on either side of the minimum,
 * found by stepping out from x̂ ± σ̂ (Hessian error) and Brent's method on the profile (every
 * evaluation a warm-started refit). Reported as signed errors {lower < 0, upper > 0} in reported
 * units (results.md); null on a side where no crossing exists (a parameter bound, e.g. μ = 0 in
 * POI mode square, or a profile that never reaches 1).
 */
import type { FitSession } from "../session.js";
import { Profile, type ProfileStats } from "./profile.js";
import { findCrossing } from "./rootFinding.js";
import { bestAndError } from "./scan.js";

export interface MinosResult {
  lower: number | null;
  upper: number | null;
  /** why a side is null; "" when both were found */
  message: string;
  stats: ProfileStats;
}

export interface MinosOptions {
  /** absolute tolerance of the crossing in the parameter (default 1e-6 · min(1, σ̂)) */
  xtol?: number;
  /** 2ΔNLL level (default 1: 68.3 % for one parameter) */
  level?: number;
}

export async function minos(session: FitSession, index: number, opts: MinosOptions = {}): Promise<MinosResult> {
  const { value, error } = bestAndError(session, index, "--minos");
  const level = opts.level ?? 1;
  const xtol = opts.xtol ?? 1e-6 * Math.min(1, error);
  const profile = new Profile(session, [index]);
  const f = async (v: number): Promise<number> => (await profile.at([v])).twiceDnll - level;
  const bound = index < session.npoi && session.poiMode === "square" ? 0 : undefined;
  const messages: string[] = [];
  const side = async (dir: 1 | -1): Promise<number | null> => {
    const r = await findCrossing(f, value, value, -level, value + dir * Math.sqrt(level) * error, level, {
      xtol,
      rtol: 1e-12,
      limit: dir < 0 ? bound : undefined,
    });
    const name = dir > 0 ? "upper" : "lower";
    if (r.converged) return r.x - value;
    messages.push(r.bounded ? `${name}: the profile stays below ${level} down to the bound ${bound}` : `${name}: no crossing found (2ΔNLL − ${level} = ${r.fx.toPrecision(4)} at ${r.x.toPrecision(6)})`);
    return null;
  };
  const upper = await side(1);
  const lower = await side(-1);
  return { lower, upper, message: messages.join("; "), stats: profile.stats };
}
