/**
 * Asymptotic CLs limits and discovery significance for a POI (signal strength μ), with the
 * conventions of Combine's AsymptoticLimits and pyhf's asymptotic calculator (Cowan, Cranmer,
 * Gross, Vitells, arXiv:1007.1727):
 *  - limits: test statistic q̃μ with μ̂ bounded below by 0:
 *      q̃μ = 0 for μ̂ > μ;  2(NLL(μ) − NLL(μ̂)) for 0 ≤ μ̂ ≤ μ;  2(NLL(μ) − NLL(0)) for μ̂ < 0,
 *    every NLL profiled over all other parameters (other POIs included);
 *  - the Asimov data set at μ = 0 with the nuisances at their conditional fit to the data at μ = 0
 *    and the constraint centres θ0 moved there (pyhf's and Combine's post-fit Asimov); its
 *    q̃μ,A = 2(NLL_A(μ) − NLL_A(μ̂_A)) gives σ_A;
 *  - observed: CLs+b = 1 − Φ(√q̃μ), CLb = Φ(√q̃μ,A − √q̃μ) when q̃μ ≤ q̃μ,A, else
 *    CLs+b = 1 − Φ((q̃μ + q̃μ,A)/(2√q̃μ,A)), CLb = 1 − Φ((q̃μ − q̃μ,A)/(2√q̃μ,A)); CLs = CLs+b/CLb;
 *  - expected band k ∈ {−2, −1, 0, 1, 2}: CLs_k = (1 − Φ(√q̃μ,A − k)) / Φ(k) (pyhf's ordering: k = −2
 *    is the lowest limit);
 *  - the limit is the μ where CLs = 1 − cl, found by Brent's method (the expected ones as the μ
 *    where √q̃μ,A = k + Φ⁻¹(1 − αΦ(k))).
 *  - significance: q0 = 2(NLL(0) − NLL(μ̂)) for μ̂ ≥ 0 (else 0), Z = √q0; expected: the same on the
 *    Asimov data set at μ = expect-signal (nuisances and θ0 at their conditional fit at that μ).
 * With BB-lite the Asimov data are Σ_p ν_bp at the conditional fit (so β̂ = 1 there).
 * In POI mode square the fits are profiled in μ = x² ≥ 0.
 */
import { UserError } from "../../src/errors.js";
import type { FitSession, SessionFit } from "../session.js";
import { normalCdf, normalQuantile, normalSf } from "./normal.js";
import { Profile, type ProfileStats } from "./profile.js";
import { findCrossing } from "./rootFinding.js";
import { bestAndError } from "./scan.js";

export const EXPECTED_BAND = [-2, -1, 0, 1, 2] as const;

export interface ClsAt {
  mu: number;
  qmu: number;
  qmuA: number;
  clsb: number;
  clb: number;
  cls: number;
  /** CLs of the expected band, k = −2..2 */
  expected: number[];
}

export interface LimitResult {
  cl: number;
  observed: number | null;
  /** expected limits for k = −2..2 (null where not found) */
  expected: Array<number | null>;
  message: string;
  stats: ProfileStats;
}

export interface SignificanceResult {
  observed: number;
  expected: number;
  pObserved: number;
  pExpected: number;
  q0: number;
  q0Asimov: number;
  stats: ProfileStats;
}

function addStats(into: ProfileStats, ...from: ProfileStats[]): ProfileStats {
  for (const s of from) {
    into.refits += s.refits;
    into.failed += s.failed;
    into.iterations += s.iterations;
    into.hvps += s.hvps;
  }
  return into;
}

/** θ0 for an Asimov data set generated at `fit`: the fitted systematics. */
function theta0At(session: FitSession, fit: SessionFit): Float64Array {
  return fit.x.slice(session.npoi);
}

/**
 * The conditional fit an Asimov data set is generated from, to the session's full EDM tolerance:
 * the data set moves with its θ̂̂ at first order, so a profile refit's 1e-10 is not enough.
 */
async function generatingFit(session: FitSession, index: number, mu: number): Promise<SessionFit> {
  return await session.minimize({ fixed: new Map([[index, mu]]), label: "asimov-gen" });
}

/** CLs ingredients for one POI; caches its profiles on the observed and on the μ = 0 Asimov data. */
export class AsymptoticCls {
  readonly observed: Profile;
  readonly asimov: Profile;
  /** NLL denominators (μ̂ bounded below by 0) */
  private readonly nllDen: number;
  private readonly nllDenA: number;
  readonly muHat: number;
  readonly error: number;
  /** the conditional fit the Asimov data come from and the free Asimov fit */
  private setupStats: ProfileStats = { refits: 0, failed: 0, iterations: 0, hvps: 0 };

  private constructor(
    readonly session: FitSession,
    readonly index: number,
    observed: Profile,
    asimov: Profile,
    nllDen: number,
    nllDenA: number,
    muHat: number,
    error: number,
  ) {
    this.observed = observed;
    this.asimov = asimov;
    this.nllDen = nllDen;
    this.nllDenA = nllDenA;
    this.muHat = muHat;
    this.error = error;
  }

  static async create(session: FitSession, index: number): Promise<AsymptoticCls> {
    if (index >= session.npoi) throw new UserError(`--limits: ${session.names[index]} is not a POI`);
    const { value: muHat, error } = bestAndError(session, index, "--limits");
    const best = session.best!;
    const observed = new Profile(session, [index]);
    const at0 = await generatingFit(session, index, 0);
    const nllDen = muHat >= 0 ? best.nll : at0.nll;
    // post-fit Asimov at μ = 0
    const data = session.asimovData(at0.x);
    const theta0 = theta0At(session, at0);
    const freeA = await session.minimize({ start: at0.x, data, theta0, label: "asimov" });
    const asimov = new Profile(session, [index], { reference: freeA, data, theta0 });
    const muHatA = session.toReported(index, freeA.x[index]);
    const nllDenA = muHatA >= 0 ? freeA.nll : (await asimov.at([0])).fit.nll;
    const calc = new AsymptoticCls(session, index, observed, asimov, nllDen, nllDenA, muHat, error);
    calc.setupStats = { refits: 2, failed: [at0, freeA].filter((f) => f.status !== "converged").length, iterations: at0.iterations + freeA.iterations, hvps: at0.hvps + freeA.hvps };
    return calc;
  }

  /** q̃μ,A at μ (Asimov refit). */
  async qmuA(mu: number): Promise<number> {
    const p = await this.asimov.at([mu]);
    return Math.max(0, 2 * (p.fit.nll - this.nllDenA));
  }

  /** q̃μ at μ (observed refit). */
  async qmu(mu: number): Promise<number> {
    if (this.muHat > mu) return 0;
    const p = await this.observed.at([mu]);
    return Math.max(0, 2 * (p.fit.nll - this.nllDen));
  }

  async at(mu: number): Promise<ClsAt> {
    const qmu = await this.qmu(mu);
    const qmuA = await this.qmuA(mu);
    const sq = Math.sqrt(qmu);
    const sqA = Math.sqrt(qmuA);
    let clsb: number;
    let clb: number;
    if (sq <= sqA) {
      clsb = normalSf(sq);
      clb = normalCdf(sqA - sq);
    } else {
      clsb = normalSf((qmu + qmuA) / (2 * sqA));
      clb = normalSf((qmu - qmuA) / (2 * sqA));
    }
    const expected = EXPECTED_BAND.map((k) => normalSf(sqA - k) / normalCdf(k));
    return { mu, qmu, qmuA, clsb, clb, cls: clsb / clb, expected };
  }

  get stats(): ProfileStats {
    return addStats({ refits: 0, failed: 0, iterations: 0, hvps: 0 }, this.setupStats, this.observed.stats, this.asimov.stats);
  }
}

export interface LimitOptions {
  /** confidence level (default 0.95) */
  cl?: number;
  /** absolute tolerance on μ (default 1e-6 · σ̂) */
  xtol?: number;
}

/** Observed and expected upper limits on POI `index`. */
export async function asymptoticLimit(session: FitSession, index: number, opts: LimitOptions = {}): Promise<LimitResult> {
  const cl = opts.cl ?? 0.95;
  if (!(cl > 0 && cl < 1)) throw new UserError(`--cl: must be between 0 and 1, got ${cl}`);
  const alpha = 1 - cl;
  const calc = await AsymptoticCls.create(session, index);
  const xtol = opts.xtol ?? 1e-6 * calc.error;
  const messages: string[] = [];

  // expected: √q̃μ,A(μ) = z_k, a root of q̃μ,A − z_k² from μ = 0 outwards
  const expected: Array<number | null> = [];
  for (const k of EXPECTED_BAND) {
    const z = k + normalQuantile(1 - alpha * normalCdf(k));
    const target = z * z;
    const f = async (mu: number): Promise<number> => (await calc.qmuA(mu)) - target;
    const r = await findCrossing(f, 0, 0, -target, Math.max(z, 0.1) * calc.error, target, { xtol, rtol: 1e-10 });
    if (r.converged) expected.push(r.x);
    else {
      expected.push(null);
      messages.push(`expected ${k}σ: no root found`);
    }
  }

  // observed: ln CLs(μ) = ln α, from max(μ̂, 0) upwards (CLs falls with μ)
  const lnAlpha = Math.log(alpha);
  const g = async (mu: number): Promise<number> => lnAlpha - Math.log((await calc.at(mu)).cls);
  const start = Math.max(calc.muHat, 0);
  const g0 = await g(start);
  let observed: number | null = null;
  if (g0 >= 0) {
    messages.push(`observed: CLs ≤ ${alpha} already at μ = ${start}`);
  } else {
    const guess = start + Math.max(expected[2] ?? 2 * calc.error, 0.1 * calc.error);
    const r = await findCrossing(g, start, start, g0, guess, -g0, { xtol, rtol: 1e-10 });
    if (r.converged) observed = r.x;
    else messages.push("observed: no root found");
  }
  return { cl, observed, expected, message: messages.join("; "), stats: calc.stats };
}

/** Observed and expected discovery significance of POI `index` (q0). */
export async function significance(session: FitSession, index: number): Promise<SignificanceResult> {
  if (index >= session.npoi) throw new UserError(`--significance: ${session.names[index]} is not a POI`);
  const { value: muHat } = bestAndError(session, index, "--significance");
  const best = session.best!;
  const observed = new Profile(session, [index]);
  const at0 = await observed.at([0]);
  const q0 = muHat > 0 ? Math.max(0, 2 * (at0.fit.nll - best.nll)) : 0;
  // Asimov at μ = expect-signal, nuisances and θ0 at their conditional fit there
  const muExp = session.expectSignal;
  const atExp = await generatingFit(session, index, muExp);
  const data = session.asimovData(atExp.x);
  const theta0 = theta0At(session, atExp);
  const freeA = await session.minimize({ start: atExp.x, data, theta0, label: "asimov" });
  const asimov = new Profile(session, [index], { reference: freeA, data, theta0 });
  const muHatA = session.toReported(index, freeA.x[index]);
  const at0A = await asimov.at([0]);
  const q0Asimov = muHatA > 0 ? Math.max(0, 2 * (at0A.fit.nll - freeA.nll)) : 0;
  const extra = [freeA, atExp];
  const stats = addStats(
    { refits: extra.length, failed: extra.filter((f) => f.status !== "converged").length, iterations: freeA.iterations + atExp.iterations, hvps: freeA.hvps + atExp.hvps },
    observed.stats,
    asimov.stats,
  );
  const zObs = Math.sqrt(q0);
  const zExp = Math.sqrt(q0Asimov);
  return { observed: zObs, expected: zExp, pObserved: normalSf(zObs), pExpected: normalSf(zExp), q0, q0Asimov, stats };
}
