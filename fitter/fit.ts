/**
 * The fit driver: minimise the NLL of a TensorModel and derive the float64 results.
 *
 *  (a) optional, with a tfjs backend: trust-region Newton–Krylov on the float32 autodiff likelihood
 *      to get close cheaply (loose EDM tolerance);
 *  (b) always: trust-Krylov on the float64 evaluator from there (or from the prefit point) until
 *      the EDM is tiny;
 *  (c) one exact float64 Hessian, its Cholesky factor and inverse C = H⁻¹, one Newton step
 *      x ← x − C g kept only if it lowers the NLL, and EDM = ½ gᵀ C g at the final point.
 * Frozen parameters are held at their prefit values by a reduced objective; the file's external
 * terms (g·x + ½xᵀHx) are added around the likelihood (externalTerms.ts).
 */
import { availableParallelism } from "node:os";
import { performance } from "node:perf_hooks";
import { UserError } from "../src/errors.js";
import type { TensorModel } from "../src/tensor/types.js";
import { zeroLikelihoodBins, zeroLikelihoodMessage } from "./binDiagnostics.js";
import { CholeskyFactor } from "./denseLinalg.js";
import { computeImpacts, type ImpactTable } from "./impacts.js";
import { Float64Evaluator } from "./Float64Evaluator.js";
import { buildLikelihoodSpec, type LikelihoodSpec, type PoiMode } from "./likelihoodSpec.js";
import { WithExternalTerms, addExternalHessian, resolveExternalTerms } from "./externalTerms.js";
import type { Objective } from "./objective.js";
import { newtonPolish } from "./newtonCg.js";
import { prefitYieldVariances } from "./prefitVariances.js";
import { FrozenObjective, describeParameters, prefitPoint, selectFrozen } from "./parameters.js";
import { goodnessOfFit, ndfParameters, type FitResult, type ParameterResult, type YieldTable } from "./results.js";
import { initBackend, type BackendName } from "./tfBackends.js";
import { TfLikelihood } from "./tfLikelihood.js";
import { trustKrylov, type TrustKrylovIteration } from "./trustKrylov.js";

export type FitBackend = "native" | BackendName;

export const FIT_BACKENDS: readonly FitBackend[] = ["native", "cpu", "wasm", "webgpu", "tensorflow"];

export interface FitOptions {
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
}

/** The float64 minimisation stops here; the final point must reach CONVERGED_EDM to count as converged. */
const DEFAULT_EDM_TOLERANCE = 1e-14;
const CONVERGED_EDM = 1e-6;
/** A Hessian taken at a point with a larger EDM is recomputed after the Newton steps. */
const NEWTON_EDM = 1e-14;
const MAX_HESSIANS = 3;
const MAX_NEWTON_STEPS = 4;
/** The float32 stage only needs to get close: its NLL is not accurate beyond ~1e-7 relative. */
const FLOAT32_EDM_TOLERANCE = 1e-3;
const DEFAULT_MAX_ITER = 500;
const FLOAT64_VALUE_NOISE = 1e-13;
const MAX_KRYLOV = 500;

function seconds(t0: number): number {
  return (performance.now() - t0) / 1000;
}

/** The data the fit uses: observed, a named pseudo-data column, or (later) Asimov. */
function chooseData(model: TensorModel, opts: FitOptions): { data: Float64Array; source: string } {
  if (opts.asimov && opts.pseudodata !== undefined) {
    throw new UserError("--asimov and --pseudodata: choose one of them");
  }
  if (opts.pseudodata !== undefined) {
    const pd = model.pseudodata;
    const j = pd ? pd.names.indexOf(opts.pseudodata) : -1;
    if (!pd || j < 0) {
      const have = pd && pd.names.length > 0 ? `available: ${pd.names.join(", ")}` : "the input has no pseudo-data";
      throw new UserError(`--pseudodata ${opts.pseudodata}: no such pseudo-data set (${have})`);
    }
    const npseudo = pd.names.length;
    const data = new Float64Array(model.nbins);
    for (let b = 0; b < model.nbins; b++) data[b] = pd.values[b * npseudo + j];
    return { data, source: `pseudodata:${opts.pseudodata}` };
  }
  return { data: model.dataObs, source: opts.asimov ? "asimov" : "observed" };
}

function validateOptions(opts: FitOptions): void {
  if (opts.maxIter !== undefined && !(Number.isInteger(opts.maxIter) && opts.maxIter > 0)) {
    throw new UserError(`--max-iter: must be a positive integer, got ${opts.maxIter}`);
  }
  if (opts.threads !== undefined && !(Number.isInteger(opts.threads) && opts.threads > 0)) {
    throw new UserError(`--threads: must be a positive integer, got ${opts.threads}`);
  }
  if (opts.expectSignal !== undefined && !Number.isFinite(opts.expectSignal)) {
    throw new UserError(`--expect-signal: must be a finite number, got ${opts.expectSignal}`);
  }
  if (opts.backend !== undefined && !FIT_BACKENDS.includes(opts.backend)) {
    throw new UserError(`--backend: unknown backend "${opts.backend}" (choose one of ${FIT_BACKENDS.join(", ")})`);
  }
}

/** Sum over processes of ν_bp for the real bins: the Asimov data set. */
function totalsOverProcesses(perProcess: Float64Array, nbins: number, nproc: number): Float64Array {
  const out = new Float64Array(nbins);
  for (let b = 0; b < nbins; b++) {
    let s = 0;
    for (let p = 0; p < nproc; p++) s += perProcess[b * nproc + p];
    out[b] = s;
  }
  return out;
}

function yieldTable(evaluator: Float64Evaluator, spec: LikelihoodSpec, x: Float64Array, cov: Float64Array): YieldTable {
  const perProcess = evaluator.yields(x);
  const variances = evaluator.yieldVariances(x, cov);
  return {
    perProcess,
    perProcessVariance: variances.perProcess,
    total: totalsOverProcesses(perProcess, spec.nbinsFull, spec.nproc),
    totalVariance: variances.total,
  };
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

async function evaluate(obj: Objective, x: Float64Array): Promise<{ value: number; gradient: Float64Array }> {
  return await obj.valueAndGradient(x);
}

function progressLine(stage: string, it: TrustKrylovIteration): string {
  return (
    `${stage} iter ${String(it.iteration).padStart(4)}  nll ${it.value.toPrecision(12)}  edm ${it.edm.toExponential(3)}` +
    `  radius ${it.radius.toExponential(2)}  krylov ${it.krylovSteps}`
  );
}

/** Fits `model`; never throws for a failed minimisation (status "failed"), only for bad options. */
export async function fit(model: TensorModel, opts: FitOptions = {}): Promise<FitResult> {
  const tStart = performance.now();
  validateOptions(opts);
  const poiMode: PoiMode = opts.poiMode ?? "linear";
  const expectSignal = opts.expectSignal ?? 1;
  const backend: FitBackend = opts.backend ?? "native";
  const threads = opts.threads ?? availableParallelism();
  const maxIter = opts.maxIter ?? DEFAULT_MAX_ITER;
  const edmTolerance = opts.edmTolerance ?? DEFAULT_EDM_TOLERANCE;
  const log = opts.verbose && opts.log ? opts.log : null;

  const infos = describeParameters(model, expectSignal);
  const names = infos.map((p) => p.name);
  const n = infos.length;
  const x0 = prefitPoint(model, poiMode, expectSignal);
  const frozen = opts.freeze !== undefined ? selectFrozen(names, opts.freeze) : [];
  const frozenSet = new Set(frozen);
  const externalTerms = resolveExternalTerms(model.externalTerms, names);
  const { data: chosenData, source: dataSource } = chooseData(model, opts);

  let spec = buildLikelihoodSpec(model, { poiMode, bbb: opts.bbb, data: chosenData });
  const evaluator = new Float64Evaluator(spec, { threads });
  try {
    const skipYields = opts.skipYields ?? false;
    let prefitYields: YieldTable | null = null;
    if (opts.asimov) {
      const nuPrefit = evaluator.yields(x0);
      const asimov = totalsOverProcesses(nuPrefit, spec.nbins, spec.nproc);
      spec = { ...spec, data: asimov };
      evaluator.setData(asimov);
    }
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

    // the external terms (quadratic, exact in float64) are added around every likelihood
    const withTerms = (obj: Objective): Objective => (externalTerms.length > 0 ? new WithExternalTerms(obj, externalTerms) : obj);
    const full64 = withTerms(evaluator);
    const reduced = frozen.length > 0 ? new FrozenObjective(full64, x0, frozen) : null;
    const toFull = (xr: Float64Array): Float64Array => (reduced ? reduced.expand(xr) : xr);
    const obj64: Objective = reduced ?? full64;
    const m = obj64.nparams;
    let xr = reduced ? reduced.reduce(x0) : Float64Array.from(x0);

    // (a) float32 stage on a tfjs backend
    const tMin = performance.now();
    let iterations = 0;
    let hvps = 0;
    let engineDevice = "cpu";
    const messages: string[] = [];
    if (backend !== "native") {
      const info = await initBackend(backend, { threads });
      engineDevice = info.device;
      const tfl = new TfLikelihood(spec);
      try {
        const obj32: Objective = frozen.length > 0 ? new FrozenObjective(withTerms(tfl), x0, frozen) : withTerms(tfl);
        const r32 = await trustKrylov(obj32, xr, {
          maxIterations: maxIter,
          edmTolerance: FLOAT32_EDM_TOLERANCE,
          maxKrylov: Math.min(m, MAX_KRYLOV),
          onIteration: log ? (it: TrustKrylovIteration) => log(progressLine("f32", it)) : undefined,
        });
        iterations += r32.iterations;
        hvps += r32.hvps;
        // a float32 stage that wandered off (non-finite) is ignored: float64 starts from the prefit point
        if (r32.x.every((v) => Number.isFinite(v))) xr = Float64Array.from(r32.x);
      } finally {
        tfl.dispose();
      }
    }

    // (b) float64 minimisation
    const r64 = await trustKrylov(obj64, xr, {
      maxIterations: maxIter,
      edmTolerance,
      maxKrylov: Math.min(m, MAX_KRYLOV),
      // float64: trust the NLL's differences far below the float32 default
      valueNoise: FLOAT64_VALUE_NOISE,
      onIteration: log ? (it: TrustKrylovIteration) => log(progressLine("f64", it)) : undefined,
    });
    iterations += r64.iterations;
    hvps += r64.hvps;
    xr = Float64Array.from(r64.x);
    let value = r64.value;
    let gradient = Float64Array.from(r64.gradient);
    if (r64.status !== "converged" && r64.message) messages.push(`minimiser: ${r64.message}`);
    if (!Number.isFinite(value)) {
      // name the bins where the likelihood is zero (ν_b ≤ 0 with n_b > 0) instead of "non-finite"
      const why = zeroLikelihoodMessage(model.channels, zeroLikelihoodBins(spec, evaluator.yields(toFull(xr))));
      if (why) messages.push(why);
    }
    // Newton-CG polish only when the trust region stopped short of its tolerance (NLL noise,
    // radius collapse, iteration limit); after a converged trust region it would be wasted HVPs
    const stoppedShort = !(r64.status === "converged" && r64.edm < edmTolerance);
    if (stoppedShort && Number.isFinite(value) && gradient.every((v) => Number.isFinite(v))) {
      const polished = await newtonPolish(obj64, xr, value, gradient, { maxSteps: 1, tolerance: 1e-2, maxCg: Math.min(m, 100) });
      hvps += polished.hvps;
      xr = Float64Array.from(polished.x);
      value = polished.value;
      gradient = Float64Array.from(polished.gradient);
      log?.(`newton-cg: ${polished.steps} steps, ${polished.hvps} HVPs, nll ${value.toPrecision(12)}`);
    }
    const minimizeSeconds = seconds(tMin);

    // (c) exact Hessian, covariance, Newton polish
    const tCov = performance.now();
    let covReduced: Float64Array | null = null;
    // the Hessian C was inverted from, kept only for the stat impact
    let hessianAtCov: Float64Array | null = null;
    let edm = Number.NaN;
    let factorOk = false;
    let hessianSeconds = 0;
    let hessians = 0;
    if (Number.isFinite(value) && xr.every((v) => Number.isFinite(v))) {
      for (let round = 0; ; round++) {
        const tHess = performance.now();
        const hFull = evaluator.hessian(toFull(xr));
        addExternalHessian(externalTerms, hFull, n);
        hessianSeconds += seconds(tHess);
        hessians++;
        const chol = CholeskyFactor.factor(reduced ? reduced.reduceMatrix(hFull) : hFull, m, { threads });
        if (!chol) {
          messages.push("the Hessian at the minimum is not positive definite (no covariance)");
          break;
        }
        factorOk = true;
        let step = chol.solve(gradient);
        edm = 0.5 * dot(gradient, step);
        // Newton steps with this Hessian while they lower the EDM (measured with it). The NLL
        // cannot judge them: near the minimum its rounding noise exceeds the gains.
        const edmAtHessian = edm;
        log?.(`hessian ${hessians}: exact edm ${edm.toExponential(3)} (${seconds(tHess).toFixed(2)} s with the Cholesky factor)`);
        for (let k = 0; k < MAX_NEWTON_STEPS && edm > 0; k++) {
          const xNew = xr.map((v, i) => v - step[i]);
          const trial = await evaluate(obj64, xNew);
          if (!Number.isFinite(trial.value) || !trial.gradient.every((v) => Number.isFinite(v))) break;
          const stepNew = chol.solve(trial.gradient);
          const edmNew = 0.5 * dot(trial.gradient, stepNew);
          if (!(edmNew < edm)) break;
          xr = xNew;
          value = trial.value;
          gradient = Float64Array.from(trial.gradient);
          step = stepNew;
          edm = edmNew;
          if (edm < NEWTON_EDM * 1e-4) break;
        }
        // the covariance must belong to the final point: a Hessian taken where the EDM was not
        // tiny is recomputed there (ill-conditioned fits amplify the shift into the errors)
        if (edmAtHessian <= NEWTON_EDM || round + 1 >= MAX_HESSIANS) {
          covReduced = chol.inverse();
          if (opts.impacts) hessianAtCov = hFull;
          break;
        }
      }
    } else {
      messages.push("the minimisation ended at a non-finite point or NLL");
    }
    const covarianceSeconds = seconds(tCov);

    // a later Hessian that failed to factor leaves no covariance: not converged, whatever the EDM
    const converged = factorOk && covReduced !== null && Number.isFinite(edm) && edm < CONVERGED_EDM;
    if (covReduced !== null && !converged) messages.unshift(`EDM ${edm.toExponential(3)} above ${CONVERGED_EDM} after ${iterations} iterations`);

    // values and errors in reported units
    const x = toFull(xr);
    const covRaw = covReduced ? (reduced ? reduced.expandMatrix(covReduced) : covReduced) : new Float64Array(n * n).fill(Number.NaN);
    const fullGradient = new Float64Array(n);
    if (reduced) reduced.freeIndices.forEach((idx, k) => (fullGradient[idx] = gradient[k]));
    else fullGradient.set(gradient);
    // dμ/dx: 2x for square-mode POIs, 1 otherwise
    const jac = new Float64Array(n).fill(1);
    if (poiMode === "square") for (let i = 0; i < spec.nsig; i++) jac[i] = 2 * x[i];
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
    if (opts.impacts && covReduced) {
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
        hessian: hessianAtCov ?? undefined,
        threads,
      });
      impactsSeconds = seconds(tImpacts);
    }

    const tYields = performance.now();
    const postfitYields = !skipYields && covReduced ? yieldTable(evaluator, spec, x, covRaw) : null;
    const yieldsSeconds = seconds(tYields);
    const gof = goodnessOfFit(value, spec.nbins, ndfParameters(spec.nsig, spec.constraintWeights, frozenSet));
    const loadSeconds = opts.loadSeconds ?? 0;
    return {
      status: converged ? "converged" : "failed",
      message: converged ? "" : messages.join("; "),
      nll: value,
      ...gof,
      edm,
      iterations,
      hvps,
      hessians,
      parameters,
      covariance,
      x,
      gradient: fullGradient,
      poiMode,
      bbb: spec.bbK !== null,
      data: Float64Array.from(spec.data),
      dataSource,
      prefitYields,
      postfitYields,
      engine: { backend, precision: "float64", device: engineDevice },
      timing: {
        load_s: loadSeconds,
        minimize_s: minimizeSeconds,
        covariance_s: covarianceSeconds,
        hessian_s: hessianSeconds,
        postfit_yields_s: yieldsSeconds,
        ...(impactsSeconds !== undefined ? { impacts_s: impactsSeconds } : {}),
        total_s: loadSeconds + seconds(tStart),
      },
      ...(impacts ? { impacts } : {}),
    };
  } finally {
    evaluator.dispose();
  }
}
