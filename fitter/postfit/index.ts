/**
 * The post-fit methods a `fit` run can ask for (scans, 2D scans, contours, MINOS, asymptotic
 * limits and significance), run on the fit's open FitSession after the global fit. Options are
 * checked against the model before anything is minimised (planPostfit), so a misspelt name costs
 * no fit. Results go into FitResult.postfit and fitresults.json (postfitJson; keys of results.md).
 */
import { UserError } from "../../src/errors.js";
import type { FitSession } from "../session.js";
import { asymptoticLimit, significance, type LimitResult, type SignificanceResult } from "./asymptotics.js";
import { contour, DEFAULT_CONTOUR_LEVELS, type ContourResult } from "./contour.js";
import { minos, type MinosResult } from "./minos.js";
import { scan1d, scan2d, type Scan2dResult, type ScanResult } from "./scan.js";

export interface PostfitOptions {
  /** --scan: parameter names (each "A" or "A,B,…") */
  scan?: string[];
  scanPoints?: number;
  scanRange?: number;
  /** --scan2d: pairs "A,B" */
  scan2d?: string[];
  /** --contour: pairs "A,B" */
  contour?: string[];
  /** --contour-levels in σ (default 1,2) */
  contourLevels?: number[];
  /** rays per contour level (default 32) */
  contourPoints?: number;
  /** --minos: names, or "pois" for every POI */
  minos?: string[];
  /** --limits */
  limits?: boolean;
  /** --cl (default 0.95) */
  cl?: number;
  /** --significance */
  significance?: boolean;
}

export interface PostfitPlan {
  scan: number[];
  scan2d: Array<[number, number]>;
  contour: Array<[number, number]>;
  minos: number[];
  limits: number[];
  significance: number[];
  opts: PostfitOptions;
}

export interface PostfitResults {
  scans?: Record<string, ScanResult>;
  scans2d?: Record<string, Scan2dResult>;
  contours?: Record<string, ContourResult>;
  minos?: Record<string, MinosResult>;
  limits?: Record<string, LimitResult>;
  significance?: Record<string, SignificanceResult>;
  /** why methods were skipped or incomplete; "" when all ran */
  message: string;
  seconds: number;
}

function splitNames(list: string[] | undefined): string[] {
  return (list ?? []).flatMap((s) => s.split(",")).map((s) => s.trim()).filter((s) => s !== "");
}

function pairs(session: FitSession, list: string[] | undefined, option: string): Array<[number, number]> {
  return (list ?? []).map((s) => {
    const names = s.split(",").map((t) => t.trim());
    if (names.length !== 2 || names.some((t) => t === "")) throw new UserError(`${option} ${s}: expected two parameter names A,B`);
    const a = session.indexOf(names[0], option);
    const b = session.indexOf(names[1], option);
    if (a === b) throw new UserError(`${option} ${s}: needs two different parameters`);
    return [a, b];
  });
}

function notFrozen(session: FitSession, indices: number[], option: string): number[] {
  for (const i of indices) if (session.frozen.includes(i)) throw new UserError(`${option}: ${session.names[i]} is frozen (--freeze)`);
  return [...new Set(indices)];
}

/** Resolves and checks the options against the session's parameters (UserError on bad input). */
export function planPostfit(session: FitSession, opts: PostfitOptions): PostfitPlan {
  if (opts.scanPoints !== undefined && !(Number.isInteger(opts.scanPoints) && opts.scanPoints >= 1)) {
    throw new UserError(`--scan-points: must be a positive integer, got ${opts.scanPoints}`);
  }
  if (opts.scanRange !== undefined && !(Number.isFinite(opts.scanRange) && opts.scanRange > 0)) {
    throw new UserError(`--scan-range: must be a positive number, got ${opts.scanRange}`);
  }
  for (const l of opts.contourLevels ?? []) {
    if (!(Number.isFinite(l) && l > 0)) throw new UserError(`--contour-levels: levels must be positive numbers of σ, got ${l}`);
  }
  if (opts.cl !== undefined && !(opts.cl > 0 && opts.cl < 1)) throw new UserError(`--cl: must be between 0 and 1 (exclusive), got ${opts.cl}`);
  const pois = Array.from({ length: session.npoi }, (_, i) => i).filter((i) => !session.frozen.includes(i));
  const minosNames = splitNames(opts.minos);
  const minosIdx = minosNames.flatMap((nm) => (nm === "pois" ? pois : [session.indexOf(nm, "--minos")]));
  if ((opts.limits || opts.significance) && pois.length === 0) {
    throw new UserError(`--${opts.limits ? "limits" : "significance"}: the model has no free POI`);
  }
  const scan2d = pairs(session, opts.scan2d, "--scan2d");
  const contours = pairs(session, opts.contour, "--contour");
  return {
    scan: notFrozen(session, splitNames(opts.scan).map((nm) => session.indexOf(nm, "--scan")), "--scan"),
    scan2d: scan2d.map(([a, b]) => (notFrozen(session, [a, b], "--scan2d"), [a, b])),
    contour: contours.map(([a, b]) => (notFrozen(session, [a, b], "--contour"), [a, b])),
    minos: notFrozen(session, minosIdx, "--minos"),
    limits: opts.limits ? pois : [],
    significance: opts.significance ? pois : [],
    opts,
  };
}

export function planIsEmpty(plan: PostfitPlan): boolean {
  return plan.scan.length + plan.scan2d.length + plan.contour.length + plan.minos.length + plan.limits.length + plan.significance.length === 0;
}

/** Runs the planned methods on a session whose best fit is set (and has a covariance). */
export async function runPostfit(session: FitSession, plan: PostfitPlan, log?: (line: string) => void): Promise<PostfitResults> {
  const t0 = performance.now();
  const out: PostfitResults = { message: "", seconds: 0 };
  const names = session.names;
  const messages: string[] = [];
  if (!session.best || session.best.status !== "converged" || !session.best.covariance) {
    out.message = "post-fit methods skipped: the global fit did not converge";
    return out;
  }
  const o = plan.opts;
  if (plan.scan.length > 0) {
    out.scans = {};
    for (const i of plan.scan) {
      out.scans[names[i]] = await scan1d(session, i, { points: o.scanPoints, range: o.scanRange });
      log?.(`scan ${names[i]}: ${out.scans[names[i]].stats.refits} refits`);
    }
  }
  if (plan.scan2d.length > 0) {
    out.scans2d = {};
    for (const [a, b] of plan.scan2d) out.scans2d[`${names[a]},${names[b]}`] = await scan2d(session, a, b, { points: o.scanPoints, range: o.scanRange });
  }
  if (plan.contour.length > 0) {
    out.contours = {};
    for (const [a, b] of plan.contour) {
      const c = await contour(session, a, b, { levels: o.contourLevels ?? DEFAULT_CONTOUR_LEVELS, points: o.contourPoints });
      out.contours[`${names[a]},${names[b]}`] = c;
      const bad = c.converged.flat().filter((v) => !v).length;
      if (bad > 0) messages.push(`contour ${names[a]},${names[b]}: ${bad} rays ended at a bound or without a root`);
    }
  }
  if (plan.minos.length > 0) {
    out.minos = {};
    for (const i of plan.minos) {
      const m = await minos(session, i);
      out.minos[names[i]] = m;
      if (m.message) messages.push(`minos ${names[i]}: ${m.message}`);
    }
  }
  if (plan.limits.length > 0) {
    out.limits = {};
    for (const i of plan.limits) {
      const l = await asymptoticLimit(session, i, { cl: o.cl });
      out.limits[names[i]] = l;
      if (l.message) messages.push(`limits ${names[i]}: ${l.message}`);
    }
  }
  if (plan.significance.length > 0) {
    out.significance = {};
    for (const i of plan.significance) out.significance[names[i]] = await significance(session, i);
  }
  out.message = messages.join("; ");
  out.seconds = (performance.now() - t0) / 1000;
  return out;
}

function finiteOrNull(v: number | null): number | null {
  return v !== null && Number.isFinite(v) ? v : null;
}

/** fitresults.json keys of results.md ("scans", "scans2d", "contours", "limits", "significance"); MINOS goes into parameters. */
export function postfitJson(r: PostfitResults): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (r.scans) {
    out.scans = Object.fromEntries(
      Object.entries(r.scans).map(([k, s]) => [k, { values: s.values, twice_dnll: s.twiceDnll.map(finiteOrNull), converged: s.converged }]),
    );
  }
  if (r.scans2d) {
    out.scans2d = Object.fromEntries(
      Object.entries(r.scans2d).map(([k, s]) => [k, { x: s.x, y: s.y, twice_dnll: s.twiceDnll.map((row) => row.map(finiteOrNull)), converged: s.converged }]),
    );
  }
  if (r.contours) {
    out.contours = Object.fromEntries(
      Object.entries(r.contours).map(([k, c]) => [k, { levels: c.levels, twice_dnll: c.twiceDnll, points: c.points, converged: c.converged }]),
    );
  }
  if (r.limits) {
    out.limits = Object.fromEntries(
      Object.entries(r.limits).map(([k, l]) => [
        k,
        {
          cl: l.cl,
          observed: finiteOrNull(l.observed),
          expected: Object.fromEntries(l.expected.map((v, j) => [String(j - 2), finiteOrNull(v)])),
        },
      ]),
    );
  }
  if (r.significance) {
    out.significance = Object.fromEntries(
      Object.entries(r.significance).map(([k, s]) => [
        k,
        { observed: s.observed, expected: s.expected, p_observed: s.pObserved, p_expected: s.pExpected },
      ]),
    );
  }
  if (r.message) out.postfit_message = r.message;
  return out;
}

function fmt(v: number | null, digits = 5): string {
  return v !== null && Number.isFinite(v) ? v.toPrecision(digits) : "n/a";
}

/** Terminal summary lines of the post-fit results. */
export function formatPostfitSummary(r: PostfitResults, bestValues: Record<string, number>): string {
  const lines: string[] = [];
  for (const [k, s] of Object.entries(r.scans ?? {})) {
    const bad = s.converged.filter((c) => !c).length;
    lines.push(`scan       ${k}: ${s.values.length} points [${fmt(s.values[0])}, ${fmt(s.values[s.values.length - 1])}], max 2ΔNLL ${fmt(Math.max(...s.twiceDnll.filter(Number.isFinite)), 4)}${bad ? `, ${bad} failed` : ""}`);
  }
  for (const [k, s] of Object.entries(r.scans2d ?? {})) lines.push(`scan2d     ${k}: ${s.x.length} × ${s.y.length} points`);
  for (const [k, c] of Object.entries(r.contours ?? {})) lines.push(`contour    ${k}: levels ${c.levels.join(", ")} σ, ${c.points[0]?.length ?? 0} points each`);
  for (const [k, m] of Object.entries(r.minos ?? {})) {
    const v = bestValues[k];
    lines.push(`minos      ${k} = ${fmt(v, 6)} ${fmt(m.lower)} +${fmt(m.upper)}`);
  }
  for (const [k, l] of Object.entries(r.limits ?? {})) {
    lines.push(`limit      ${k} < ${fmt(l.observed)} at ${l.cl * 100}% CL (CLs); expected ${fmt(l.expected[2])} [${fmt(l.expected[1])}, ${fmt(l.expected[3])}] (±1σ) [${fmt(l.expected[0])}, ${fmt(l.expected[4])}] (±2σ)`);
  }
  for (const [k, s] of Object.entries(r.significance ?? {})) {
    lines.push(`signif.    ${k}: observed ${fmt(s.observed, 4)}σ (p ${fmt(s.pObserved, 3)}), expected ${fmt(s.expected, 4)}σ (p ${fmt(s.pExpected, 3)})`);
  }
  if (r.message) lines.push(`post-fit   ${r.message}`);
  return lines.join("\n");
}
