/**
 * The fit driver: build a FitSession (session.ts) → minimise → covariance → results. The stages of
 * the minimisation (all in FitSession.minimize):
 *
 *  (a) optional, with a tfjs backend: trust-region Newton–Krylov on the float32 autodiff likelihood
 *      to get close cheaply (loose EDM tolerance);
 *  (b) always: trust-Krylov on the float64 evaluator from there (or from the prefit point) until
 *      the EDM is tiny;
 *  (c) one exact float64 Hessian, its Cholesky factor and inverse C = H⁻¹, one Newton step
 *      x ← x − C g kept only if it lowers the NLL, and EDM = ½ gᵀ C g at the final point.
 * Frozen parameters are held at their prefit values by a reduced objective; the file's external
 * terms (g·x + ½xᵀHx) are added around the likelihood (externalTerms.ts). Post-fit methods
 * (FitOptions.postfit: scans, contours, MINOS, limits, significance; fitter/postfit/) then run on
 * the same session, warm-started from the best fit.
 */
import { performance } from "node:perf_hooks";
import { UserError } from "../src/errors.js";
import type { TensorModel } from "../src/tensor/types.js";
import { computeImpacts, type ImpactTable } from "./impacts.js";
import { CudaEvaluator } from "./cuda/CudaEvaluator.js";
import { checkLength, type LikelihoodEvaluator } from "./evaluator.js";
import { selectExact, type FitErrorsOptions } from "./krylovErrors/fitErrors.js";
import { krylovFitResult } from "./krylovErrors/krylovFitResult.js";
import { planErrorMethod } from "./krylovErrors/memoryPlan.js";
import type { LikelihoodSpec, PoiMode } from "./likelihoodSpec.js";
import { prefitYieldVariances } from "./prefitVariances.js";
import { goodnessOfFit, ndfParameters, type FitResult, type ParameterResult, type YieldTable } from "./results.js";
import { planIsEmpty, planPostfit, runPostfit, type PostfitOptions } from "./postfit/index.js";
import { FitSession, totalsOverProcesses, type SessionOptions } from "./session.js";
import { hessianPattern } from "./sparseHessian/hessianPattern.js";
import { sparseHessianSource } from "./sparseHessian/probeHessian.js";
import type { SparseHessianSource } from "./sparseHessian/symmetricCsr.js";
import type { BackendName } from "./tfBackends.js";

export type FitBackend = "native" | BackendName;

export const FIT_BACKENDS: readonly FitBackend[] = ["native", "cpu", "wasm", "webgpu", "tensorflow"];

export interface FitOptions {
  /** minimise first with the positive POIs on a log scale (session.ts logPoiStage); default true */
  logPoiStage?: boolean;
  /** how signal strengths enter: r = x (linear, default) or r = x² (square, rabbit's default) */
  poiMode?: PoiMode;
  /** Barlow–Beeston-lite; default on when the model has non-zero sumw2 */
  bbb?: boolean;
  /** fit the Asimov data set ν(prefit) instead of the observed data */
  asimov?: boolean;
  /** prefit signal strength (Asimov data and starting point); default 1 */
  expectSignal?: number;
  /** fit this pseudo-data set from the model instead of the observed data */
  pseudodata?: string;
  /** parameters held at their prefit values: comma-separated names or a regular expression */
  freeze?: string;
  /** "native": float64 evaluator only (default); a tfjs backend adds a float32 first stage */
  backend?: FitBackend;
  /**
   * the float64 engine: "native" (C++ on the CPU, default), "cuda" (NVIDIA GPU, fitter/cuda), or
   * "cuda-emulate" (the CUDA kernels on the CPU, serially: tests only)
   */
  engine?: "native" | "cuda" | "cuda-emulate";
  threads?: number;
  /** iteration limit of the float64 minimisation (default 500) */
  maxIter?: number;
  /** one line per iteration to `log` */
  verbose?: boolean;
  /** where progress lines go (default: nowhere) */
  log?: (line: string) => void;
  /** time already spent reading the model, reported as timing.load_s */
  loadSeconds?: number;
  /** EDM the float64 minimisation stops at (default 1e-12) */
  edmTolerance?: number;
  /** skip the prefit and postfit yield tables (saves time in repeated fits) */
  skipYields?: boolean;
  /** impacts on the POIs and NOIs from the covariance (impacts.ts); timing key impacts_s */
  impacts?: boolean;
  /** scans, 2D scans, contours, MINOS, asymptotic limits and significance on the fit's session */
  postfit?: PostfitOptions;
  /**
   * "dense": exact Hessian and C = H⁻¹; "krylov": no n × n matrix, errors from CG solves
   * (fitter/krylovErrors/, fit --no-hessian); "auto" (default): dense unless its matrices would
   * not fit in `memoryLimitBytes`
   */
  errorMethod?: "auto" | "dense" | "krylov";
  /** bytes the dense error path may use (default: a share of the free memory; memoryPlan.ts) */
  memoryLimitBytes?: number;
  /** Krylov mode: exact subset, probes, seed (fitErrors.ts) */
  krylov?: Omit<FitErrorsOptions, "impacts" | "yields" | "log">;
  /**
   * Krylov mode: give the error solves the exact sparse Hessian probed by Hessian-vector products
   * (fitter/sparseHessian/), used when its pattern has at most SPARSE_HESSIAN_MAX_FILL · n² entries.
   * Default true; false: CG solves on HVPs only.
   */
  sparseHessian?: boolean;
  /** one-line notices that are always shown (the automatic switch to Krylov errors) */
  notice?: (line: string) => void;
  /**
   * where the minimiser starts (full vector, minimiser coordinates; default the prefit point): an
   * earlier best fit makes a re-run with other error options cost one convergence check
   */
  start?: Float64Array;
  /** the same by parameter name in reported units (μ for POIs), e.g. an earlier fit's values; every parameter needed */
  startValues?: ReadonlyMap<string, number>;
}

function seconds(t0: number): number {
  return (performance.now() - t0) / 1000;
}

function validateOptions(opts: FitOptions): void {
  if (opts.engine !== undefined && !["native", "cuda", "cuda-emulate"].includes(opts.engine)) {
    throw new UserError(`--engine: unknown float64 engine "${String(opts.engine)}" (native or cuda)`);
  }
  if (opts.errorMethod !== undefined && !["auto", "dense", "krylov"].includes(opts.errorMethod)) {
    throw new UserError(`error method: must be auto, dense or krylov, got "${opts.errorMethod}"`);
  }
  if (opts.backend !== undefined && !FIT_BACKENDS.includes(opts.backend)) {
    throw new UserError(`--backend: unknown backend "${opts.backend}" (choose one of ${FIT_BACKENDS.join(", ")})`);
  }
}

function yieldTable(evaluator: LikelihoodEvaluator, spec: LikelihoodSpec, x: Float64Array, cov: Float64Array): YieldTable {
  const perProcess = evaluator.yields(x);
  const variances = evaluator.yieldVariances(x, cov);
  return {
    perProcess,
    perProcessVariance: variances.perProcess,
    total: totalsOverProcesses(perProcess, spec.nbinsFull, spec.nproc),
    totalVariance: variances.total,
  };
}

/** which float64 engine ran and where (fitresults.json engine.float64_engine / float64_device) */
function float64EngineInfo(evaluator: LikelihoodEvaluator, threads: number): { float64_engine: string; float64_device: string } {
  const d = evaluator.describe?.() ?? { engine: "native", device: `cpu (${threads} threads)` };
  return { float64_engine: d.engine, float64_device: d.device };
}

/** Fits `model`; never throws for a failed minimisation (status "failed"), only for bad options. */
export async function fit(model: TensorModel, opts: FitOptions = {}): Promise<FitResult> {
  const tStart = performance.now();
  validateOptions(opts);
  const backend: FitBackend = opts.backend ?? "native";
  const session = new FitSession(model, sessionOptions(opts));
  try {
    // post-fit options are checked before the fit: a misspelt name costs no minimisation
    const plan = opts.postfit ? planPostfit(session, opts.postfit) : null;
    const errorMethod = resolveErrorMethod(session, opts);
    if (errorMethod === "krylov" && plan && !planIsEmpty(plan)) {
      throw new UserError("scans, contours, MINOS, limits and significance need the dense covariance: not available with Krylov errors (--no-hessian, or a fit too large for the dense path)");
    }
    // a misspelt --errors-for costs no minimisation either
    if (errorMethod === "krylov") selectExact(session.names, opts.krylov?.exactFor);
    const result = await fitInSession(session, { ...opts, errorMethod }, backend, tStart);
    if (plan && !planIsEmpty(plan)) {
      const postfit = await runPostfit(session, plan, opts.verbose && opts.log ? opts.log : undefined);
      result.postfit = postfit;
      for (const [name, m] of Object.entries(postfit.minos ?? {})) {
        const p = result.parameters.find((q) => q.name === name);
        if (p) p.minos = { lower: m.lower, upper: m.upper };
      }
      result.timing.postfit_s = postfit.seconds;
      result.timing.total_s += postfit.seconds;
    }
    return result;
  } finally {
    session.dispose();
  }
}

/** the largest pattern fill (stored entries / n²) for which the Krylov errors get a sparse Hessian */
export const SPARSE_HESSIAN_MAX_FILL = 0.25;

/**
 * The sparse Hessian source for the Krylov errors of a session (full parameter vector, external
 * terms included), or null when opts.sparseHessian is false or the pattern is too full to pay off
 * (then a line to opts.log says so).
 */
export function sparseHessianFor(session: FitSession, opts: Pick<FitOptions, "sparseHessian" | "log" | "verbose">): SparseHessianSource | null {
  if (opts.sparseHessian === false) return null;
  const log = opts.verbose && opts.log ? opts.log : null;
  const t0 = performance.now();
  const pattern = hessianPattern(session.spec, { externalTerms: session.externalTerms });
  const n = pattern.n;
  const fill = pattern.cols.length / (n * n);
  if (fill > SPARSE_HESSIAN_MAX_FILL) {
    log?.(`sparse Hessian: not used, its pattern fills ${(100 * fill).toFixed(1)}% of the ${n}×${n} matrix`);
    return null;
  }
  const source = sparseHessianSource(session.objective, session.spec, { externalTerms: session.externalTerms, pattern });
  log?.(
    `sparse Hessian: ${pattern.cols.length} entries (${(100 * fill).toFixed(2)}% of ${n}×${n}), ${source.denseRows.length} dense rows + ` +
      `${source.probes - source.denseRows.length} colours = ${source.probes} HVPs per Hessian (pattern and colouring ${seconds(t0).toFixed(2)} s)`,
  );
  return source;
}

/**
 * "dense" or "krylov" for a fit's options: "auto" (the default) picks Krylov when the dense path's
 * n × n arrays would not fit in memory (memoryPlan.ts) and says so by opts.notice.
 */
export function resolveErrorMethod(session: FitSession, opts: FitOptions): "dense" | "krylov" {
  const method = opts.errorMethod ?? "auto";
  if (method !== "auto") return method;
  const plan = planErrorMethod({ nparams: session.n - session.frozen.length, impacts: opts.impacts === true, limitBytes: opts.memoryLimitBytes });
  if (plan.notice) (opts.notice ?? opts.log)?.(plan.notice);
  return plan.method;
}

/** The session settings of a fit's options. */
export function sessionOptions(opts: FitOptions): SessionOptions {
  return {
    poiMode: opts.poiMode,
    bbb: opts.bbb,
    asimov: opts.asimov,
    expectSignal: opts.expectSignal,
    pseudodata: opts.pseudodata,
    freeze: opts.freeze,
    threads: opts.threads,
    maxIter: opts.maxIter,
    edmTolerance: opts.edmTolerance,
    log: opts.verbose && opts.log ? opts.log : null,
    ...(opts.engine === "cuda" || opts.engine === "cuda-emulate"
      ? { createEvaluator: (spec: LikelihoodSpec) => new CudaEvaluator(spec, { mode: opts.engine === "cuda" ? "cuda" : "emulate" }) }
      : {}),
  };
}

/** A full minimiser-coordinate point from values by name (reported units); every parameter needed. */
function startFromValues(session: FitSession, values: ReadonlyMap<string, number>): Float64Array {
  return Float64Array.from(session.names, (name, i) => {
    const v = values.get(name);
    if (v === undefined) throw new UserError(`start values: no value for parameter ${name}`);
    return session.toInternal(i, v);
  });
}

/**
 * The global fit in an open session: minimise from the prefit point → covariance → results. Sets
 * session.best, so post-fit methods can start from it.
 */
export async function fitInSession(session: FitSession, opts: FitOptions, backend: FitBackend, tStart: number): Promise<FitResult> {
  const { spec, evaluator, infos, names, n, poiMode, model, threads } = session;
  const x0 = session.prefit;
  const frozenSet = new Set(session.frozen);
  const skipYields = opts.skipYields ?? false;
  let prefitYields: YieldTable | null = null;
  if (!skipYields) {
    const perProcess = evaluator.yields(x0);
    const variances = prefitYieldVariances(spec, perProcess);
    prefitYields = {
      perProcess,
      perProcessVariance: variances.perProcess,
      total: totalsOverProcesses(perProcess, spec.nbinsFull, spec.nproc),
      totalVariance: variances.total,
    };
  }

  const errorMethod = resolveErrorMethod(session, opts);
  if (opts.start) checkLength("fit", "start", opts.start, n);
  const start = opts.start ?? (opts.startValues ? startFromValues(session, opts.startValues) : x0);
  const best = await session.minimize({
    start,
    errors: errorMethod === "dense" ? "covariance" : "none",
    keepHessian: errorMethod === "dense" && opts.impacts === true,
    float32Backend: backend !== "native" ? backend : undefined,
    logPoiStage: opts.logPoiStage ?? true,
  });
  session.setBest(best);
  if (errorMethod === "krylov") {
    const sparseHessian = sparseHessianFor(session, opts);
    const sparseOption: { sparseHessian?: SparseHessianSource } = sparseHessian ? { sparseHessian } : {};
    return krylovFitResult({
      session,
      best,
      engine: { backend, precision: "float64", device: best.device },
      prefitYields,
      skipYields,
      loadSeconds: opts.loadSeconds ?? 0,
      tStart,
      errors: { ...opts.krylov, ...sparseOption, impacts: opts.impacts === true, log: opts.verbose && opts.log ? opts.log : null },
    });
  }
  const converged = best.status === "converged";

  // values and errors in reported units
  const x = best.x;
  const covRaw = best.covariance ?? new Float64Array(n * n).fill(Number.NaN);
  // dμ/dx: 2x for square-mode POIs, 1 otherwise
  const jac = session.jacobian(x);
  const covariance = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) covariance[i * n + j] = jac[i] * jac[j] * covRaw[i * n + j];
  const parameters: ParameterResult[] = infos.map((p, i) => {
    const isPoi = i < spec.nsig;
    const isFrozen = frozenSet.has(i);
    // a frozen parameter is exactly its prefit value (in square mode (√μ)² may differ from μ by an ulp)
    const value = isFrozen ? p.prefit : isPoi && poiMode === "square" ? x[i] * x[i] : x[i];
    return {
      name: p.name,
      kind: p.kind,
      value,
      error: isFrozen ? 0 : Math.sqrt(covariance[i * (n + 1)]),
      prefit: p.prefit,
      prefitError: p.prefitError,
      frozen: isFrozen,
    };
  });

  let impacts: ImpactTable | undefined;
  let impactsSeconds: number | undefined;
  if (opts.impacts && best.covariance) {
    const tImpacts = performance.now();
    const npoi = spec.nsig;
    const constraintWeights = new Float64Array(n);
    constraintWeights.set(model.constraintWeights, npoi);
    const targets: number[] = [];
    infos.forEach((p, i) => {
      if (p.kind === "poi" || p.kind === "noi") targets.push(i);
    });
    impacts = computeImpacts(covRaw, n, {
      targets,
      sources: Array.from({ length: n - npoi }, (_, k) => npoi + k),
      names,
      groups: model.systGroups.map((g) => ({ name: g.name, indices: g.indices.map((s) => npoi + s) })),
      constraintWeights,
      scale: jac,
      hessian: best.hessian ?? undefined,
      threads,
    });
    impactsSeconds = seconds(tImpacts);
  }

  const tYields = performance.now();
  const postfitYields = !skipYields && best.covariance ? yieldTable(evaluator, spec, x, covRaw) : null;
  const yieldsSeconds = seconds(tYields);
  const gof = goodnessOfFit(best.nll, spec.nbins, ndfParameters(spec.nsig, spec.constraintWeights, frozenSet));
  const loadSeconds = opts.loadSeconds ?? 0;
  return {
    status: converged ? "converged" : "failed",
    message: best.message,
    nll: best.nll,
    ...gof,
    edm: best.edm,
    iterations: best.iterations,
    hvps: best.hvps,
    hessians: best.hessians,
    parameters,
    covariance,
    errorMethod: "dense",
    x,
    gradient: best.gradient,
    poiMode,
    bbb: spec.bbK !== null,
    data: Float64Array.from(spec.data),
    dataSource: session.dataSource,
    prefitYields,
    postfitYields,
    engine: { backend, precision: "float64", device: best.device, ...float64EngineInfo(evaluator, threads) },
    timing: {
      load_s: loadSeconds,
      minimize_s: best.timing.minimize_s,
      covariance_s: best.timing.covariance_s,
      hessian_s: best.timing.hessian_s,
      postfit_yields_s: yieldsSeconds,
      ...(impactsSeconds !== undefined ? { impacts_s: impactsSeconds } : {}),
      total_s: loadSeconds + seconds(tStart),
    },
    ...(impacts ? { impacts } : {}),
  };
}
