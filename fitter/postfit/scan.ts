/**
 * Likelihood scans (likelihood.md "Likelihood scan"): one parameter fixed on a grid over
 * x̂ ± range·σ̂ (σ̂ the Hessian error), every other parameter profiled, 2ΔNLL per point; and the
 * same on a two-parameter grid. Points are computed walking outwards from the minimum, each
 * warm-started from its computed neighbour (Profile), so a point costs a few iterations.
 * Grid values are in reported units (μ for POIs); in POI mode square the grid stops at μ = 0.
 */
import { UserError } from "../../src/errors.js";
import type { FitSession } from "../session.js";
import { Profile, type ProfileStats } from "./profile.js";

export interface ScanOptions {
  /** grid points per parameter (default 21) */
  points?: number;
  /** half-width of the grid in Hessian errors (default 3) */
  range?: number;
}

export interface ScanResult {
  values: number[];
  twiceDnll: number[];
  /** false where the refit did not converge */
  converged: boolean[];
  /** per point: minimiser iterations, HVPs and seconds of its refit */
  iterations: number[];
  hvps: number[];
  seconds: number[];
  stats: ProfileStats;
}

export interface Scan2dResult {
  x: number[];
  y: number[];
  /** twiceDnll[i][j] at (x[i], y[j]) */
  twiceDnll: number[][];
  converged: boolean[][];
  stats: ProfileStats;
}

export const DEFAULT_SCAN_POINTS = 21;
export const DEFAULT_SCAN_RANGE = 3;

/** Best value and Hessian error of parameter i in reported units; UserError when there is none. */
export function bestAndError(session: FitSession, i: number, option: string): { value: number; error: number } {
  const best = session.best;
  if (!best) throw new Error("no best fit in the session");
  const n = session.n;
  const value = session.toReported(i, best.x[i]);
  if (session.frozen.includes(i)) throw new UserError(`${option}: ${session.names[i]} is frozen (--freeze)`);
  const cov = best.covariance;
  const jac = session.jacobian(best.x)[i];
  const error = cov ? Math.abs(jac) * Math.sqrt(cov[i * (n + 1)]) : Number.NaN;
  if (!(error > 0 && Number.isFinite(error))) {
    throw new UserError(`${option}: ${session.names[i]} has no Hessian error at the best fit (the fit failed or the parameter is degenerate)`);
  }
  return { value, error };
}

/** The grid over value ± range·error, clipped at μ = 0 for square-mode POIs. */
export function scanGrid(session: FitSession, i: number, value: number, error: number, points: number, range: number): number[] {
  let lo = value - range * error;
  const hi = value + range * error;
  if (i < session.npoi && session.poiMode === "square") lo = Math.max(lo, 0);
  if (points === 1) return [value];
  return Array.from({ length: points }, (_, k) => (k === points - 1 ? hi : lo + ((hi - lo) * k) / (points - 1)));
}

/** Indices of `values` ordered from the one nearest `centre` outwards (up first, then down). */
function outwardOrder(values: number[], centre: number): number[] {
  let c = 0;
  for (let k = 1; k < values.length; k++) if (Math.abs(values[k] - centre) < Math.abs(values[c] - centre)) c = k;
  const order = [c];
  for (let k = c + 1; k < values.length; k++) order.push(k);
  for (let k = c - 1; k >= 0; k--) order.push(k);
  return order;
}

function checkOptions(opts: ScanOptions): { points: number; range: number } {
  const points = opts.points ?? DEFAULT_SCAN_POINTS;
  const range = opts.range ?? DEFAULT_SCAN_RANGE;
  if (!(Number.isInteger(points) && points >= 1)) throw new UserError(`--scan-points: must be a positive integer, got ${points}`);
  if (!(Number.isFinite(range) && range > 0)) throw new UserError(`--scan-range: must be a positive number, got ${range}`);
  return { points, range };
}

/** 1D profile scan of parameter `index`. */
export async function scan1d(session: FitSession, index: number, opts: ScanOptions = {}): Promise<ScanResult> {
  const { points, range } = checkOptions(opts);
  const { value, error } = bestAndError(session, index, "--scan");
  const values = scanGrid(session, index, value, error, points, range);
  const profile = new Profile(session, [index]);
  const twiceDnll = new Array<number>(points).fill(Number.NaN);
  const converged = new Array<boolean>(points).fill(false);
  const iterations = new Array<number>(points).fill(0);
  const hvps = new Array<number>(points).fill(0);
  const seconds = new Array<number>(points).fill(0);
  for (const k of outwardOrder(values, value)) {
    const t0 = performance.now();
    const p = await profile.at([values[k]]);
    seconds[k] = (performance.now() - t0) / 1000;
    twiceDnll[k] = p.twiceDnll;
    converged[k] = p.fit.status === "converged";
    iterations[k] = p.fit.iterations;
    hvps[k] = p.fit.hvps;
  }
  return { values, twiceDnll, converged, iterations, hvps, seconds, stats: profile.stats };
}

/** 2D profile scan of parameters a and b on a points × points grid. */
export async function scan2d(session: FitSession, a: number, b: number, opts: ScanOptions = {}): Promise<Scan2dResult> {
  const { points, range } = checkOptions(opts);
  if (a === b) throw new UserError(`--scan2d: needs two different parameters, got ${session.names[a]} twice`);
  const ba = bestAndError(session, a, "--scan2d");
  const bb = bestAndError(session, b, "--scan2d");
  const x = scanGrid(session, a, ba.value, ba.error, points, range);
  const y = scanGrid(session, b, bb.value, bb.error, points, range);
  const profile = new Profile(session, [a, b]);
  const twiceDnll = x.map(() => new Array<number>(y.length).fill(Number.NaN));
  const converged = x.map(() => new Array<boolean>(y.length).fill(false));
  // rows outwards from the minimum's row; within a row outwards from the minimum's column: every
  // point's nearest computed neighbour is adjacent
  const cols = outwardOrder(y, bb.value);
  for (const i of outwardOrder(x, ba.value)) {
    for (const j of cols) {
      const p = await profile.at([x[i], y[j]]);
      twiceDnll[i][j] = p.twiceDnll;
      converged[i][j] = p.fit.status === "converged";
    }
  }
  return { x, y, twiceDnll, converged, stats: profile.stats };
}
