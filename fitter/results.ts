/**
 * What a fit produces (FitResult) and the saturated goodness of fit: χ² = 2·NLL at the minimum,
 * rabbit's ndf = nbins − POIs − unconstrained systematics, p-value = P(χ²_ndf ≥ χ²) from the
 * regularised upper incomplete gamma.
 */
import type { ImpactTable } from "./impacts.js";
import type { ChannelSumVariance } from "./krylovErrors/krylovYields.js";
import type { ErrorSummary } from "./krylovErrors/fitErrors.js";
import type { RefitImpactTable } from "./refitImpacts.js";
import type { ToysSummary } from "./toys/toys.js";
import type { ParameterKind } from "./parameters.js";
import type { PostfitResults } from "./postfit/index.js";

export type FitStatus = "converged" | "failed";

export interface ParameterResult {
  name: string;
  kind: ParameterKind;
  /** postfit value (POIs: signal strength μ in every POI mode) */
  value: number;
  /** √C_ii (0 for a frozen parameter) */
  error: number;
  prefit: number;
  prefitError: number | null;
  /** true when held at its prefit value (--freeze) */
  frozen: boolean;
  /** MINOS errors (--minos): signed, null on a side without a crossing */
  minos?: { lower: number | null; upper: number | null };
}

export interface EngineInfo {
  /** backend of the first (float32) stage, or "native" when the float64 evaluator ran alone */
  backend: string;
  precision: "float64";
  device: string;
  /** the float64 engine: "native" or "cuda" (absent in results written before it was recorded) */
  float64_engine?: string;
  /** where the float64 engine ran, e.g. "cpu (16 threads)" or "NVIDIA H200 (sm_90, 139 GiB), …" */
  float64_device?: string;
}

export interface FitTiming {
  load_s: number;
  minimize_s: number;
  /** Hessian, Cholesky factor and inverse together */
  covariance_s: number;
  /** the exact Hessian alone (part of covariance_s) */
  hessian_s: number;
  /** postfit yields and their variances Jᵀ C J */
  postfit_yields_s: number;
  /** impacts (only with FitOptions.impacts) */
  impacts_s?: number;
  /** refit impacts and toys (fit --refit-impacts, --toys) */
  refit_impacts_s?: number;
  toys_s?: number;
  /** post-fit methods (scans, contours, MINOS, limits, significance) */
  postfit_s?: number;
  total_s: number;
}

/** Expected yields [nbinsFull, nproc] row-major with their variances, and per-bin totals. */
export interface YieldTable {
  perProcess: Float64Array;
  perProcessVariance: Float64Array;
  total: Float64Array;
  totalVariance: Float64Array;
  /** Krylov mode: standard errors of the stochastic variance estimates (0 where exact) */
  perProcessVarianceStdErr?: Float64Array;
  totalVarianceStdErr?: Float64Array;
  /** Krylov mode: per channel sums of the yields and their exact variances */
  channelSums?: ChannelSumVariance[];
}

/**
 * How the errors of a Krylov-mode fit (fit --no-hessian) were made and how accurate they are
 * (fitter/krylovErrors/fitErrors.ts). Reported units (POIs as μ).
 */
export interface KrylovErrorInfo {
  summary: ErrorSummary;
  /** per parameter: the standard error of `error` (0 where exact up to the solve tolerance) */
  errorStdErr: Float64Array;
  /** per parameter: 1 when its error is exact */
  exact: Uint8Array;
  /** POIs and NOIs (parameter indices) and their covariance, k × k row-major */
  targetIndices: number[];
  targetCovariance: Float64Array;
  /** with impacts: per nuisance of the impact table, whether its traditional impacts are exact */
  impactsNuisanceExact?: boolean[];
  /** with impacts: [ntargets, nnuisances] standard errors of the traditional impacts */
  impactsTraditionalStdErr?: Float64Array;
}

export interface FitResult {
  status: FitStatus;
  /** why the fit failed; "" when converged */
  message: string;
  nll: number;
  chi2: number;
  ndf: number;
  pvalue: number;
  edm: number;
  /** minimiser iterations, all stages */
  iterations: number;
  /** Hessian-vector products, all stages */
  hvps: number;
  /** exact dense Hessians computed (1 unless the minimiser stopped short of EDM 1e-14) */
  hessians: number;
  parameters: ParameterResult[];
  /**
   * row-major n × n covariance in reported units (POIs as μ); zero rows/columns for frozen
   * parameters. Empty (length 0) when errorMethod is "krylov": see `krylov` instead.
   */
  covariance: Float64Array;
  /** "dense" (exact Hessian, Cholesky, C = H⁻¹; default when absent) or "krylov" (fit --no-hessian) */
  errorMethod?: "dense" | "krylov";
  /** errorMethod "krylov": accuracy and the POI/NOI covariance block */
  krylov?: KrylovErrorInfo;
  /** the minimiser's coordinates at the minimum (square mode: x with μ = x²) */
  x: Float64Array;
  /** gradient of the NLL in the minimiser's coordinates at x (zero entries for frozen parameters) */
  gradient: Float64Array;
  poiMode: "linear" | "square";
  bbb: boolean;
  /** data the fit used, length nbins */
  data: Float64Array;
  /** "observed", "asimov" or "pseudodata:<name>" */
  dataSource: string;
  prefitYields: YieldTable | null;
  postfitYields: YieldTable | null;
  engine: EngineInfo;
  timing: FitTiming;
  /** impacts on the POIs and NOIs (FitOptions.impacts and a covariance); absent otherwise */
  impacts?: ImpactTable;
  // --- toys and refit impacts (fitter/toys/toys.ts, fitter/refitImpacts.ts); set by the CLI after the fit
  /** fitresults.json "toys" */
  toys?: ToysSummary;
  /** fitresults.json "refit_impacts" */
  refitImpacts?: RefitImpactTable;
  /** scans, contours, MINOS, limits, significance (FitOptions.postfit); absent when none was asked for */
  postfit?: PostfitResults;
}

const LANCZOS_G = 7;
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** log Γ(a) for a > 0 (Lanczos, g = 7; relative error ~1e-15). */
export function logGamma(a: number): number {
  if (a < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * a))) - logGamma(1 - a);
  const z = a - 1;
  let s = LANCZOS[0];
  for (let i = 1; i < LANCZOS.length; i++) s += LANCZOS[i] / (z + i);
  const t = z + LANCZOS_G + 0.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(s);
}

const GAMMA_EPS = 1e-16;
const GAMMA_MAX_TERMS = 100000;

/** P(a, x) by its power series; converges quickly for x < a + 1. */
function gammaPSeries(a: number, x: number): number {
  let term = 1 / a;
  let sum = term;
  for (let n = 1; n < GAMMA_MAX_TERMS; n++) {
    term *= x / (a + n);
    sum += term;
    if (Math.abs(term) < Math.abs(sum) * GAMMA_EPS) break;
  }
  return sum * Math.exp(-x + a * Math.log(x) - logGamma(a));
}

/** Q(a, x) by its continued fraction (modified Lentz); converges quickly for x > a + 1. */
function gammaQContinuedFraction(a: number, x: number): number {
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < GAMMA_MAX_TERMS; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < GAMMA_EPS) break;
  }
  return Math.exp(-x + a * Math.log(x) - logGamma(a)) * h;
}

/** Regularised upper incomplete gamma Q(a, x) = Γ(a, x) / Γ(a), for a > 0, x ≥ 0. */
export function regularizedGammaQ(a: number, x: number): number {
  if (!(a > 0) || !(x >= 0)) return Number.NaN;
  if (x === 0) return 1;
  if (x === Number.POSITIVE_INFINITY) return 0;
  return x < a + 1 ? 1 - gammaPSeries(a, x) : gammaQContinuedFraction(a, x);
}

/** Regularised lower incomplete gamma P(a, x) = 1 − Q(a, x), accurate where P is small. */
export function regularizedGammaP(a: number, x: number): number {
  if (!(a > 0) || !(x >= 0)) return Number.NaN;
  if (x === 0) return 0;
  if (x === Number.POSITIVE_INFINITY) return 1;
  return x < a + 1 ? gammaPSeries(a, x) : 1 - gammaQContinuedFraction(a, x);
}

/** Survival function of the χ² distribution with ndf degrees of freedom: P(X ≥ chi2). NaN for ndf ≤ 0. */
export function chi2Survival(chi2: number, ndf: number): number {
  if (!(ndf > 0)) return Number.NaN;
  return regularizedGammaQ(ndf / 2, Math.max(chi2, 0) / 2);
}

export interface GoodnessOfFit {
  chi2: number;
  ndf: number;
  pvalue: number;
}

/** The fitted parameters that reduce ndf: POIs and systematics without a constraint term. */
export interface NdfParameters {
  pois: number;
  unconstrained: number;
}

/**
 * Counts the fitted (not frozen) POIs and unconstrained systematics (constraint weight 0, NOIs
 * included when free). Parameter indices: POIs 0..nsig−1, then systematics.
 */
export function ndfParameters(nsig: number, constraintWeights: ArrayLike<number>, frozen: ReadonlySet<number> = new Set()): NdfParameters {
  let pois = 0;
  for (let i = 0; i < nsig; i++) if (!frozen.has(i)) pois++;
  let unconstrained = 0;
  for (let s = 0; s < constraintWeights.length; s++) if (constraintWeights[s] === 0 && !frozen.has(nsig + s)) unconstrained++;
  return { pois, unconstrained };
}

/**
 * Saturated-model goodness of fit from the reduced NLL at the minimum (χ² = 2·NLL), with rabbit's
 * ndf = nbins − POIs − unconstrained systematics (rabbit_fit.py's ndfsat; likelihood.md).
 * Constrained nuisances do not reduce ndf: each comes with its own Gaussian pseudo-measurement,
 * which adds one observation for the parameter it adds. Frozen parameters are not fitted and do
 * not count (rabbit subtracts its parameter counts whatever is frozen). Masked bins are not in
 * `nbins`. p-value NaN when ndf ≤ 0.
 */
export function goodnessOfFit(nll: number, nbins: number, fitted: NdfParameters): GoodnessOfFit {
  const chi2 = 2 * nll;
  const ndf = nbins - fitted.pois - fitted.unconstrained;
  return { chi2, ndf, pvalue: chi2Survival(chi2, ndf) };
}

function fmt(v: number, digits = 6): string {
  return Number.isFinite(v) ? v.toPrecision(digits) : String(v);
}

/** The terminal summary: POIs and NOIs with errors, NLL, χ²/ndf and p-value, EDM, status, timings. */
export function formatFitSummary(result: FitResult): string {
  const lines: string[] = [];
  const shown = result.parameters.filter((p) => p.kind === "poi" || p.kind === "noi");
  const width = Math.max(9, ...shown.map((p) => p.name.length));
  lines.push(`status     ${result.status}${result.message ? ` (${result.message})` : ""}`);
  for (const p of shown) {
    const tag = p.kind === "poi" ? "POI" : "NOI";
    lines.push(`${tag}  ${p.name.padEnd(width)}  ${fmt(p.value)} ± ${fmt(p.error, 4)}${p.frozen ? "  (frozen)" : ""}`);
  }
  lines.push(`nll        ${fmt(result.nll, 10)}`);
  lines.push(`chi2/ndf   ${fmt(result.chi2)} / ${result.ndf}  p-value ${fmt(result.pvalue, 4)}`);
  lines.push(`edm        ${Number.isFinite(result.edm) ? result.edm.toExponential(3) : String(result.edm)}  iterations ${result.iterations}  HVPs ${result.hvps}`);
  if (result.krylov) {
    const k = result.krylov.summary;
    const acc = k.estimated > 0 ? `, ${k.estimated} estimated (median relative σ² error ${k.median_relative_stderr?.toExponential(1) ?? "n/a"})` : "";
    lines.push(`errors     ${k.method}: ${k.exact} exact${acc}; ${k.solves} solves, ${k.hvps} HVPs, ${k.seconds.toFixed(2)} s`);
  }
  const f64 = result.engine.float64_engine ? `, float64 by ${result.engine.float64_engine} on ${result.engine.float64_device}` : "";
  lines.push(`engine     ${result.engine.backend} (${result.engine.device}), results in ${result.engine.precision}${f64}`);
  const t = result.timing;
  lines.push(`time [s]   load ${t.load_s.toFixed(3)}  minimise ${t.minimize_s.toFixed(3)}  covariance ${t.covariance_s.toFixed(3)}  total ${t.total_s.toFixed(3)}`);
  return lines.join("\n");
}
