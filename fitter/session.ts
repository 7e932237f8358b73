/**
 * FitSession: one model's likelihood, held ready for repeated minimisations. Every post-fit method
 * (scans, contours, MINOS, limits, significance, refit impacts, toys) is built on it.
 *
 * It owns the model, the likelihood spec (POI mode, BB-lite, the data), the float64 evaluator,
 * the file's external terms, the --freeze selection, and (once set) the best fit. Its one
 * mechanism is `minimize(request)`: minimise the float64 NLL again, warm-started from the best fit
 * (or a given point), with
 *   - `fixed`:  parameters held at given values (reported units: POIs as μ; --freeze ones always held),
 *   - `data` / `theta0`: the observed counts and the constraint centres (global observables)
 *     replaced for this call only (session.setData / setTheta0 change them for good),
 *   - `errors`: "none" (default), "pois" (σ of the POIs, or of `errorIndices`, from one CG solve
 *     H s = e_i each on Hessian-vector products: no dense Hessian), or "covariance" (exact dense Hessian, Newton
 *     steps with its Cholesky factor, C = H⁻¹ at the final point: what `fit` reports).
 * It returns the NLL, the point, the gradient, status, iterations, HVPs and the requested errors.
 *
 * Coordinates: `x` vectors are the minimiser's (square POI mode: x with μ = x²), full length
 * n = nPOI + nsyst. `toInternal` / `toReported` convert one parameter's value.
 *
 * Minimisation (per call): (a) optional float32 first stage on a tfjs backend (`float32Backend`,
 * the main fit only); (b) trust-Krylov on the float64 evaluator until the EDM tolerance, with one
 * Newton-CG polish when it stopped short; (c) with errors "covariance": exact Hessian, Newton
 * steps, covariance. A failed minimisation never throws: status "failed" with a message.
 */
import { availableParallelism } from "node:os";
import { performance } from "node:perf_hooks";
import { UserError } from "../src/errors.js";
import type { TensorModel } from "../src/tensor/types.js";
import { zeroLikelihoodBins, zeroLikelihoodMessage } from "./binDiagnostics.js";
import { factorSpd, type DeviceSpdInverse } from "./spdFactor.js";
import type { LikelihoodEvaluator } from "./evaluator.js";
import { Float64Evaluator } from "./Float64Evaluator.js";
import { buildLikelihoodSpec, type LikelihoodSpec, type PoiMode } from "./likelihoodSpec.js";
import { WithExternalTerms, addExternalHessian, resolveExternalTerms, type ResolvedExternalTerm } from "./externalTerms.js";
import type { Objective } from "./objective.js";
import { conjugateGradient, newtonPolish } from "./newtonCg.js";
import { FrozenObjective, describeParameters, prefitPoint, selectFrozen, type ParameterInfo } from "./parameters.js";
import { initBackend, type BackendName } from "./tfBackends.js";
import { TfLikelihood } from "./tfLikelihood.js";
import { trustKrylov, type TrustKrylovIteration } from "./trustKrylov.js";
import { LogParameterObjective } from "./minimiser/logParameters.js";

/** How the session is set up (the likelihood-defining subset of FitOptions). */
export interface SessionOptions {
  poiMode?: PoiMode;
  bbb?: boolean;
  /** data = Asimov data set ν(prefit) */
  asimov?: boolean;
  expectSignal?: number;
  pseudodata?: string;
  /** held at their prefit values in every minimisation: names or a regular expression */
  freeze?: string;
  threads?: number;
  /** default iteration limit of the float64 minimisation (default 500) */
  maxIter?: number;
  /** default EDM tolerance of the float64 minimisation (default 1e-14) */
  edmTolerance?: number;
  /** progress lines (per iteration) go here when set */
  log?: ((line: string) => void) | null;
  /** the float64 engine (default: the native Float64Evaluator with `threads` threads) */
  createEvaluator?: (spec: LikelihoodSpec, threads: number) => LikelihoodEvaluator;
}

export type ErrorMode = "none" | "pois" | "covariance";

export interface MinimizeRequest {
  /** starting point, full vector in the minimiser's coordinates; default: best fit, else prefit */
  start?: Float64Array;
  /** parameter index → value held fixed (reported units: μ for POIs); added to the --freeze set */
  fixed?: ReadonlyMap<number, number>;
  /** observed counts for this call only (length nbins) */
  data?: Float64Array;
  /** constraint centres θ0 for this call only (length nsyst) */
  theta0?: Float64Array;
  /** default "none" */
  errors?: ErrorMode;
  /** with errors "pois": the parameters to get CG errors for instead of the POIs (e.g. NOIs for toy pulls) */
  errorIndices?: number[];
  /** keep the dense Hessian the covariance was inverted from (errors "covariance") */
  keepHessian?: boolean;
  /** a tfjs backend for a float32 first stage (slow to start: for cold fits) */
  float32Backend?: BackendName;
  edmTolerance?: number;
  maxIter?: number;
  /** prefix of the progress lines (default "f64") */
  label?: string;
  /**
   * first minimise with the free positive POIs on a log scale (to EDM LOG_POI_EDM), then in x:
   * straightens the curved μ-vs-normalisation valley that stalls large fits (minimiser/logParameters.ts)
   */
  logPoiStage?: boolean;
}

export interface SessionFit {
  status: "converged" | "failed";
  message: string;
  /** full point, minimiser coordinates; fixed parameters at their fixed values */
  x: Float64Array;
  nll: number;
  /** full gradient (zero entries for held parameters) */
  gradient: Float64Array;
  edm: number;
  iterations: number;
  hvps: number;
  /** dense Hessians computed (errors "covariance") */
  hessians: number;
  /** indices of the parameters that were minimised */
  freeIndices: Int32Array;
  /** errors "covariance": C = H⁻¹ in minimiser coordinates, full n × n with zero rows for held parameters */
  covariance: Float64Array | null;
  /** keepHessian: the full dense Hessian at the point C was computed from */
  hessian: Float64Array | null;
  /** errors "pois" or "covariance": √C_ii in minimiser coordinates (NaN where not computed, 0 where held) */
  errors: Float64Array | null;
  /** "gpu" / "cpu" of the float32 stage, "cpu" without it */
  device: string;
  timing: { minimize_s: number; covariance_s: number; hessian_s: number };
}

/** The float64 minimisation stops here; the final point must reach CONVERGED_EDM to count as converged. */
export const DEFAULT_EDM_TOLERANCE = 1e-14;
export const CONVERGED_EDM = 1e-6;
const NEWTON_EDM = 1e-14;
const MAX_HESSIANS = 3;
const MAX_NEWTON_STEPS = 4;
const FLOAT32_EDM_TOLERANCE = 1e-3;
const DEFAULT_MAX_ITER = 500;
const FLOAT64_VALUE_NOISE = 1e-13;
const MAX_KRYLOV = 500;
/** the log-POI stage stops here; the stage in x takes it to the tolerance */
const LOG_POI_EDM = 1e-6;
/** relative residual of the CG solves for POI errors */
const POI_CG_TOLERANCE = 1e-10;
/** EDM measurements (each followed by Newton-CG steps while too high) after a trust region that stopped short */
const FINISH_ROUNDS = 2;

function seconds(t0: number): number {
  return (performance.now() - t0) / 1000;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Sum over processes of ν_bp for the first nbins bins. */
export function totalsOverProcesses(perProcess: Float64Array, nbins: number, nproc: number): Float64Array {
  const out = new Float64Array(nbins);
  for (let b = 0; b < nbins; b++) {
    let s = 0;
    for (let p = 0; p < nproc; p++) s += perProcess[b * nproc + p];
    out[b] = s;
  }
  return out;
}

/** The data the fit uses: observed or a named pseudo-data column (Asimov is made by the session). */
function chooseData(model: TensorModel, opts: SessionOptions): { data: Float64Array; source: string } {
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

function progressLine(stage: string, it: TrustKrylovIteration): string {
  return (
    `${stage} iter ${String(it.iteration).padStart(4)}  nll ${it.value.toPrecision(12)}  edm ${it.edm.toExponential(3)}` +
    `  radius ${it.radius.toExponential(2)}  krylov ${it.krylovSteps}`
  );
}

export class FitSession {
  readonly model: TensorModel;
  /** the likelihood spec; spec.data / spec.theta0 are the session's current data */
  spec: LikelihoodSpec;
  readonly evaluator: LikelihoodEvaluator;
  readonly externalTerms: ResolvedExternalTerm[];
  readonly infos: ParameterInfo[];
  readonly names: string[];
  /** number of parameters (POIs + systematics) */
  readonly n: number;
  readonly npoi: number;
  readonly poiMode: PoiMode;
  readonly expectSignal: number;
  /** prefit point, minimiser coordinates */
  readonly prefit: Float64Array;
  /** --freeze indices, ascending */
  readonly frozen: number[];
  readonly dataSource: string;
  readonly threads: number;
  /** the float64 NLL with the external terms, full parameter vector */
  readonly objective: Objective;
  /** the global minimum, once set (fit() sets it) */
  best: SessionFit | null = null;
  private readonly maxIter: number;
  private readonly edmTolerance: number;
  private readonly log: ((line: string) => void) | null;

  /** Builds the spec and the evaluator; throws UserError for bad options (nothing else is started). */
  constructor(model: TensorModel, opts: SessionOptions = {}) {
    if (opts.maxIter !== undefined && !(Number.isInteger(opts.maxIter) && opts.maxIter > 0)) {
      throw new UserError(`--max-iter: must be a positive integer, got ${opts.maxIter}`);
    }
    if (opts.threads !== undefined && !(Number.isInteger(opts.threads) && opts.threads > 0)) {
      throw new UserError(`--threads: must be a positive integer, got ${opts.threads}`);
    }
    if (opts.expectSignal !== undefined && !Number.isFinite(opts.expectSignal)) {
      throw new UserError(`--expect-signal: must be a finite number, got ${opts.expectSignal}`);
    }
    this.model = model;
    this.poiMode = opts.poiMode ?? "linear";
    this.expectSignal = opts.expectSignal ?? 1;
    this.threads = opts.threads ?? availableParallelism();
    this.maxIter = opts.maxIter ?? DEFAULT_MAX_ITER;
    this.edmTolerance = opts.edmTolerance ?? DEFAULT_EDM_TOLERANCE;
    this.log = opts.log ?? null;
    this.infos = describeParameters(model, this.expectSignal);
    this.names = this.infos.map((p) => p.name);
    this.n = this.infos.length;
    this.npoi = model.signals.length;
    this.prefit = prefitPoint(model, this.poiMode, this.expectSignal);
    this.frozen = opts.freeze !== undefined ? selectFrozen(this.names, opts.freeze) : [];
    this.externalTerms = resolveExternalTerms(model.externalTerms, this.names);
    const chosen = chooseData(model, opts);
    this.dataSource = chosen.source;
    this.spec = buildLikelihoodSpec(model, { poiMode: this.poiMode, bbb: opts.bbb, data: chosen.data });
    this.evaluator = opts.createEvaluator
      ? opts.createEvaluator(this.spec, this.threads)
      : new Float64Evaluator(this.spec, { threads: this.threads });
    if (opts.asimov) this.setData(this.asimovData(this.prefit));
    this.objective = this.withTerms(this.evaluator);
  }

  private withTerms(obj: Objective): Objective {
    return this.externalTerms.length > 0 ? new WithExternalTerms(obj, this.externalTerms) : obj;
  }

  /** Σ_p ν_bp(x) over the real bins: the Asimov data set at x (minimiser coordinates). */
  asimovData(x: Float64Array): Float64Array {
    return totalsOverProcesses(this.evaluator.yields(x), this.spec.nbins, this.spec.nproc);
  }

  /** Replaces the data of every later minimisation. */
  setData(data: Float64Array): void {
    this.evaluator.setData(data);
    this.spec = { ...this.spec, data: Float64Array.from(data) };
  }

  /** Replaces the constraint centres θ0 of every later minimisation. */
  setTheta0(theta0: Float64Array): void {
    this.evaluator.setTheta0(theta0);
    this.spec = { ...this.spec, theta0: Float64Array.from(theta0) };
  }

  /** A reported value (μ for POIs) in minimiser coordinates. */
  toInternal(index: number, value: number): number {
    if (index < this.npoi && this.poiMode === "square") {
      if (value < 0) throw new UserError(`${this.names[index]} = ${value}: a signal strength cannot be negative in POI mode square (μ = x²)`);
      return Math.sqrt(value);
    }
    return value;
  }

  /** A minimiser coordinate as a reported value (μ = x² for square-mode POIs). */
  toReported(index: number, x: number): number {
    return index < this.npoi && this.poiMode === "square" ? x * x : x;
  }

  /** d(reported)/d(internal) at x: 2x for square-mode POIs, else 1. */
  jacobian(x: Float64Array): Float64Array {
    const jac = new Float64Array(this.n).fill(1);
    if (this.poiMode === "square") for (let i = 0; i < this.npoi; i++) jac[i] = 2 * x[i];
    return jac;
  }

  /** Index of a parameter by name; UserError naming the option when unknown. */
  indexOf(name: string, option: string): number {
    const i = this.names.indexOf(name);
    if (i < 0) throw new UserError(`${option}: no parameter named "${name}"`);
    return i;
  }

  /** Exact dense Hessian (n × n, external terms included) at a full point. */
  hessian(x: Float64Array): Float64Array {
    const h = this.evaluator.hessian(x);
    addExternalHessian(this.externalTerms, h, this.n);
    return h;
  }

  /** Sets the best fit (the warm start of later minimisations and the reference NLL). */
  setBest(fit: SessionFit): void {
    this.best = fit;
  }

  /** Minimises again; see the header. Data/θ0 given here are restored afterwards. */
  async minimize(req: MinimizeRequest = {}): Promise<SessionFit> {
    const restoreData = req.data ? this.spec.data : null;
    const restoreTheta0 = req.theta0 ? this.spec.theta0 : null;
    if (req.data) this.setData(req.data);
    if (req.theta0) this.setTheta0(req.theta0);
    try {
      return await this.minimizeNow(req);
    } finally {
      if (restoreData) this.setData(restoreData);
      if (restoreTheta0) this.setTheta0(restoreTheta0);
    }
  }

  /**
   * The log-POI first stage: positive free POIs as y = log x. Its point is kept only when it is
   * finite and lowered the NLL; the stage in x then finishes (and reaches μ̂ ≤ 0 where linear POIs go there).
   */
  private async logPoiStage(obj64: Objective, xr: Float64Array, freeIndices: Int32Array, maxIter: number, label: string): Promise<{ x: Float64Array; iterations: number; hvps: number }> {
    const logIdx: number[] = [];
    freeIndices.forEach((full, k) => {
      if (full < this.npoi && xr[k] > 0) logIdx.push(k);
    });
    if (logIdx.length === 0) return { x: xr, iterations: 0, hvps: 0 };
    const lp = new LogParameterObjective(obj64, logIdx);
    const log = this.log;
    const start = await obj64.valueAndGradient(xr);
    const r = await trustKrylov(lp, lp.toLog(xr), {
      maxIterations: maxIter,
      edmTolerance: LOG_POI_EDM,
      maxKrylov: Math.min(obj64.nparams, MAX_KRYLOV),
      valueNoise: FLOAT64_VALUE_NOISE,
      onIteration: log ? (it: TrustKrylovIteration) => log(progressLine(`${label}-logpoi`, it)) : undefined,
    });
    const x = lp.fromLog(r.x);
    const better = Number.isFinite(r.value) && x.every((v) => Number.isFinite(v)) && r.value <= start.value;
    return { x: better ? x : xr, iterations: r.iterations, hvps: r.hvps };
  }

  private async minimizeNow(req: MinimizeRequest): Promise<SessionFit> {
    const n = this.n;
    const maxIter = req.maxIter ?? this.maxIter;
    const edmTolerance = req.edmTolerance ?? this.edmTolerance;
    const errorMode = req.errors ?? "none";
    const log = this.log;
    const label = req.label ?? "f64";

    // the point: start (or best, or prefit), frozen parameters at prefit, fixed ones at their values
    const base = Float64Array.from(req.start ?? this.best?.x ?? this.prefit);
    if (base.length !== n) throw new RangeError(`FitSession.minimize: start has ${base.length} entries, expected ${n}`);
    for (const i of this.frozen) base[i] = this.prefit[i];
    const held = new Set(this.frozen);
    for (const [i, v] of req.fixed ?? []) {
      if (!(Number.isInteger(i) && i >= 0 && i < n)) throw new RangeError(`FitSession.minimize: no parameter ${i}`);
      base[i] = this.toInternal(i, v);
      held.add(i);
    }
    const heldList = [...held].sort((a, b) => a - b);
    const reduced = heldList.length > 0 ? new FrozenObjective(this.objective, base, heldList) : null;
    const toFull = (xr: Float64Array): Float64Array => (reduced ? reduced.expand(xr) : Float64Array.from(xr));
    const obj64: Objective = reduced ?? this.objective;
    const m = obj64.nparams;
    const freeIndices = reduced ? reduced.freeIndices : Int32Array.from({ length: n }, (_, i) => i);
    let xr = reduced ? reduced.reduce(base) : Float64Array.from(base);

    const tMin = performance.now();
    let iterations = 0;
    let hvps = 0;
    let device = "cpu";
    const messages: string[] = [];

    // (a) float32 stage on a tfjs backend
    if (req.float32Backend !== undefined && m > 0) {
      const info = await initBackend(req.float32Backend, { threads: this.threads });
      device = info.device;
      const tfl = new TfLikelihood(this.spec);
      try {
        const full32 = this.withTerms(tfl);
        const obj32: Objective = reduced ? new FrozenObjective(full32, base, heldList) : full32;
        const r32 = await trustKrylov(obj32, xr, {
          maxIterations: maxIter,
          edmTolerance: FLOAT32_EDM_TOLERANCE,
          maxKrylov: Math.min(m, MAX_KRYLOV),
          onIteration: log ? (it: TrustKrylovIteration) => log(progressLine("f32", it)) : undefined,
        });
        iterations += r32.iterations;
        hvps += r32.hvps;
        // a float32 stage that wandered off (non-finite) is ignored: float64 starts from the start point
        if (r32.x.every((v) => Number.isFinite(v))) xr = Float64Array.from(r32.x);
      } finally {
        tfl.dispose();
      }
    }

    // (b) float64 minimisation
    let value: number;
    let gradient: Float64Array;
    let edm: number;
    if (m === 0) {
      const vg = await obj64.valueAndGradient(xr);
      value = vg.value;
      gradient = new Float64Array(0);
      edm = 0;
    } else {
      if (req.logPoiStage) {
        const stage = await this.logPoiStage(obj64, xr, freeIndices, maxIter, label);
        iterations += stage.iterations;
        hvps += stage.hvps;
        xr = stage.x;
      }
      const r64 = await trustKrylov(obj64, xr, {
        maxIterations: maxIter,
        edmTolerance,
        maxKrylov: Math.min(m, MAX_KRYLOV),
        // float64: trust the NLL's differences far below the float32 default
        valueNoise: FLOAT64_VALUE_NOISE,
        onIteration: log ? (it: TrustKrylovIteration) => log(progressLine(label, it)) : undefined,
      });
      iterations += r64.iterations;
      hvps += r64.hvps;
      xr = Float64Array.from(r64.x);
      value = r64.value;
      gradient = Float64Array.from(r64.gradient);
      edm = r64.edm;
      if (r64.status !== "converged" && r64.message) messages.push(`minimiser: ${r64.message}`);
      if (!Number.isFinite(value)) {
        // name the bins where the likelihood is zero (ν_b ≤ 0 with n_b > 0) instead of "non-finite"
        const why = zeroLikelihoodMessage(this.model.channels, zeroLikelihoodBins(this.spec, this.evaluator.yields(toFull(xr))));
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
        // the trust region's EDM belongs to the point before the polish: where it would make the
        // fit "failed" (no dense Hessian follows to measure it), measure it again after the polish
        // and take more Newton-CG steps while it is above CONVERGED_EDM (a held parameter can
        // leave a narrow valley that the trust region crawls along on the NLL's rounding noise)
        if (errorMode !== "covariance" && !(edm < CONVERGED_EDM)) {
          for (let round = 0; round < FINISH_ROUNDS; round++) {
            const measured = await this.cgEdm(obj64, xr, gradient);
            hvps += measured.hvps;
            if (Number.isFinite(measured.edm)) edm = measured.edm;
            if (!(measured.edm > CONVERGED_EDM) || round + 1 === FINISH_ROUNDS) break;
            const more = await newtonPolish(obj64, xr, value, gradient, { maxSteps: 4, tolerance: 1e-8, maxCg: Math.max(2 * m, 50) });
            hvps += more.hvps;
            if (more.steps === 0) break;
            xr = Float64Array.from(more.x);
            value = more.value;
            gradient = Float64Array.from(more.gradient);
          }
        }
      }
    }
    const minimizeSeconds = seconds(tMin);

    // (c) errors
    const tCov = performance.now();
    let covReduced: Float64Array | null = null;
    let hessianAtCov: Float64Array | null = null;
    let errorsReduced: Float64Array | null = null;
    let hessianSeconds = 0;
    let hessians = 0;
    let factorOk = false;
    const finitePoint = Number.isFinite(value) && xr.every((v) => Number.isFinite(v));
    if (!finitePoint) messages.push("the minimisation ended at a non-finite point or NLL");
    // with a covariance, the EDM reported is the exact ½gᵀH⁻¹g (NaN when H cannot be factored)
    if (errorMode === "covariance") edm = Number.NaN;
    if (errorMode === "covariance" && finitePoint) {
      for (let round = 0; ; round++) {
        const tHess = performance.now();
        const hFull = this.hessian(toFull(xr));
        hessianSeconds += seconds(tHess);
        hessians++;
        // the engine's device inverts when it can (CUDA: cuSOLVER), else the native Cholesky
        const chol = factorSpd(reduced ? reduced.reduceMatrix(hFull) : hFull, m, this.threads, this.evaluator as Partial<DeviceSpdInverse>);
        if (!chol) {
          messages.push("the Hessian at the minimum is not positive definite (no covariance)");
          factorOk = false;
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
          const trial = await obj64.valueAndGradient(xNew);
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
          if (req.keepHessian) hessianAtCov = hFull;
          break;
        }
      }
      if (covReduced) {
        errorsReduced = new Float64Array(m);
        for (let a = 0; a < m; a++) errorsReduced[a] = Math.sqrt(covReduced[a * (m + 1)]);
      }
    } else if (errorMode === "pois" && finitePoint && m > 0) {
      errorsReduced = new Float64Array(m).fill(Number.NaN);
      const at = xr;
      const wanted = new Set(req.errorIndices ?? Array.from({ length: this.npoi }, (_, i) => i));
      for (let a = 0; a < m; a++) {
        if (!wanted.has(freeIndices[a])) continue;
        const e = new Float64Array(m);
        e[a] = 1;
        const cg = await conjugateGradient(
          async (v) => {
            hvps++;
            return await obj64.hessianVectorProduct(at, v);
          },
          e,
          POI_CG_TOLERANCE,
          Math.max(2 * m, 50),
        );
        if (cg.negativeCurvature) {
          messages.push(`the Hessian is not positive definite along ${this.names[freeIndices[a]]} (no error)`);
          continue;
        }
        errorsReduced[a] = Math.sqrt(cg.s[a]);
      }
    }
    const covarianceSeconds = seconds(tCov);

    const converged =
      finitePoint &&
      Number.isFinite(edm) &&
      edm < CONVERGED_EDM &&
      (errorMode !== "covariance" || (factorOk && covReduced !== null));
    if (finitePoint && !converged && !(errorMode === "covariance" && covReduced === null)) {
      messages.unshift(`EDM ${edm.toExponential(3)} above ${CONVERGED_EDM} after ${iterations} iterations`);
    }

    const fullGradient = new Float64Array(n);
    freeIndices.forEach((idx, k) => (fullGradient[idx] = gradient[k]));
    let errors: Float64Array | null = null;
    if (errorsReduced) {
      errors = new Float64Array(n);
      freeIndices.forEach((idx, k) => ((errors as Float64Array)[idx] = (errorsReduced as Float64Array)[k]));
    }
    return {
      status: converged ? "converged" : "failed",
      message: converged ? "" : messages.join("; "),
      x: toFull(xr),
      nll: value,
      gradient: fullGradient,
      edm,
      iterations,
      hvps,
      hessians,
      freeIndices,
      covariance: covReduced ? (reduced ? reduced.expandMatrix(covReduced) : covReduced) : null,
      hessian: hessianAtCov,
      errors,
      device,
      timing: { minimize_s: minimizeSeconds, covariance_s: covarianceSeconds, hessian_s: hessianSeconds },
    };
  }

  /** ½ gᵀH⁻¹g at xr by CG (NaN where H is not positive definite along the way) */
  private async cgEdm(obj: Objective, xr: Float64Array, gradient: Float64Array): Promise<{ edm: number; hvps: number }> {
    let hvps = 0;
    const cg = await conjugateGradient(
      async (v) => {
        hvps++;
        return await obj.hessianVectorProduct(xr, v);
      },
      gradient,
      1e-6,
      Math.max(2 * obj.nparams, 50),
    );
    return { edm: cg.negativeCurvature ? Number.NaN : 0.5 * dot(gradient, cg.s), hvps };
  }

  /** Frees the native evaluator. */
  dispose(): void {
    this.evaluator.dispose();
  }
}
