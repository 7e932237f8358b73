/**
 * Repeated float64 minimisations of one model for toys and refit impacts: data, global
 * observables θ0 and BB auxiliaries β0 may be replaced between fits, parameters may be held at
 * given values, and each fit starts from a caller-given point (warm start). POI/NOI errors come
 * from a conjugate-gradient solve of H s = e_i with exact Hessian-vector products (no dense
 * Hessian); the dense covariance is computed only when every parameter's error is wanted.
 *
 * The float64 evaluator (Float64Evaluator) with the file's external terms is the only likelihood:
 * everything reported is float64.
 */
import type { TensorModel } from "../../src/tensor/types.js";
import { CholeskyFactor } from "../denseLinalg.js";
import { Float64Evaluator } from "../Float64Evaluator.js";
import { WithExternalTerms, addExternalHessian, resolveExternalTerms, type ResolvedExternalTerm } from "../externalTerms.js";
import { buildLikelihoodSpec, type LikelihoodSpec, type PoiMode } from "../likelihoodSpec.js";
import { conjugateGradient, newtonPolish } from "../newtonCg.js";
import type { Objective } from "../objective.js";
import { FrozenObjective, describeParameters, prefitPoint, selectFrozen, type ParameterInfo } from "../parameters.js";
import { trustKrylov } from "../trustKrylov.js";

export interface RefitEngineOptions {
  poiMode: PoiMode;
  /** Barlow–Beeston-lite; default on when the model has sumw2 */
  bbb?: boolean;
  expectSignal?: number;
  /** --freeze selector: held at their prefit values in every fit */
  freeze?: string;
  /** threads of the native evaluator */
  threads?: number;
  /** data of the fits until setData (default the observed data) */
  data?: Float64Array;
  maxIter?: number;
}

export interface RefitRequest {
  /** start point in the minimiser's coordinates (square mode: x with μ = x²), full length */
  start: Float64Array;
  /** parameters held at a value (minimiser coordinates), on top of the --freeze ones */
  fixed?: ReadonlyMap<number, number>;
}

export interface RefitOutcome {
  converged: boolean;
  message: string;
  nll: number;
  /** full parameter vector at the minimum, minimiser coordinates */
  x: Float64Array;
  /** the trust region's EDM estimate at the end */
  edm: number;
  iterations: number;
  hvps: number;
  /** number of free parameters of this fit (for the χ² ndf) */
  nfree: number;
}

/** The minimisation stops here; a fit counts as converged below CONVERGED_EDM (as fit.ts). */
const EDM_TOLERANCE = 1e-12;
const CONVERGED_EDM = 1e-6;
const FLOAT64_VALUE_NOISE = 1e-13;
const MAX_KRYLOV = 500;
/** relative residual of the CG solves for errors: the variance e·s is then good to ~1e-16 × cond */
const CG_TOLERANCE = 1e-10;

export class RefitEngine {
  readonly model: TensorModel;
  readonly spec: LikelihoodSpec;
  readonly infos: ParameterInfo[];
  readonly names: string[];
  readonly n: number;
  readonly npoi: number;
  readonly poiMode: PoiMode;
  /** prefit point, minimiser coordinates */
  readonly x0: Float64Array;
  /** indices held at prefit by --freeze */
  readonly frozen: readonly number[];
  private readonly evaluator: Float64Evaluator;
  private readonly externalTerms: ResolvedExternalTerm[];
  private readonly objective: Objective;
  private readonly maxIter: number;

  constructor(model: TensorModel, opts: RefitEngineOptions) {
    this.model = model;
    this.poiMode = opts.poiMode;
    this.infos = describeParameters(model, opts.expectSignal ?? 1);
    this.names = this.infos.map((p) => p.name);
    this.n = this.infos.length;
    this.npoi = model.signals.length;
    this.x0 = prefitPoint(model, opts.poiMode, opts.expectSignal ?? 1);
    this.frozen = opts.freeze !== undefined ? selectFrozen(this.names, opts.freeze) : [];
    this.spec = buildLikelihoodSpec(model, { poiMode: opts.poiMode, bbb: opts.bbb, data: opts.data });
    this.evaluator = new Float64Evaluator(this.spec, { threads: opts.threads ?? 1 });
    this.externalTerms = resolveExternalTerms(model.externalTerms, this.names);
    this.objective = this.externalTerms.length > 0 ? new WithExternalTerms(this.evaluator, this.externalTerms) : this.evaluator;
    this.maxIter = opts.maxIter ?? 500;
  }

  /** BB k per real bin (null when BB is off); +Infinity where a bin has no β */
  get bbK(): Float64Array | null {
    return this.spec.bbK;
  }

  setData(data: Float64Array): void {
    this.evaluator.setData(data);
  }

  setTheta0(theta0: Float64Array): void {
    this.evaluator.setTheta0(theta0);
  }

  setBeta0(beta0: Float64Array | null): void {
    this.evaluator.setBeta0(beta0);
  }

  /** expected events per real bin (processes summed) at x, without BB scaling */
  binTotals(x: Float64Array): Float64Array {
    const perProcess = this.evaluator.yields(x);
    const { nbins, nproc } = this.spec;
    const out = new Float64Array(nbins);
    for (let b = 0; b < nbins; b++) {
      let s = 0;
      for (let p = 0; p < nproc; p++) s += perProcess[b * nproc + p];
      out[b] = s;
    }
    return out;
  }

  /** the objective over the parameters not held, and how to map between full and reduced vectors */
  private reducedProblem(start: Float64Array, fixed?: ReadonlyMap<number, number>): { obj: Objective; reduced: FrozenObjective | null } {
    const held = new Set(this.frozen);
    const base = Float64Array.from(start);
    for (const i of this.frozen) base[i] = this.x0[i];
    if (fixed) {
      for (const [i, v] of fixed) {
        held.add(i);
        base[i] = v;
      }
    }
    if (held.size === 0) return { obj: this.objective, reduced: null };
    const reduced = new FrozenObjective(this.objective, base, [...held].sort((a, b) => a - b));
    return { obj: reduced, reduced };
  }

  async minimize(req: RefitRequest): Promise<RefitOutcome> {
    const { obj, reduced } = this.reducedProblem(req.start, req.fixed);
    const m = obj.nparams;
    let xr = reduced ? reduced.reduce(req.start) : Float64Array.from(req.start);
    const r = await trustKrylov(obj, xr, {
      maxIterations: this.maxIter,
      edmTolerance: EDM_TOLERANCE,
      maxKrylov: Math.min(m, MAX_KRYLOV),
      valueNoise: FLOAT64_VALUE_NOISE,
    });
    let hvps = r.hvps;
    xr = Float64Array.from(r.x);
    let value = r.value;
    let edm = r.edm;
    const finite = Number.isFinite(value) && xr.every((v) => Number.isFinite(v));
    // as fit.ts: one Newton-CG polish when the trust region stopped short of its tolerance
    if (finite && !(r.status === "converged" && r.edm < EDM_TOLERANCE)) {
      const p = await newtonPolish(obj, xr, value, Float64Array.from(r.gradient), { maxSteps: 2, tolerance: 1e-4, maxCg: Math.min(m, 300) });
      hvps += p.hvps;
      if (p.steps > 0) {
        xr = Float64Array.from(p.x);
        value = p.value;
        // the polish judged its steps by ‖g‖; an EDM estimate from one more CG solve is not worth its HVPs
        edm = Math.min(edm, EDM_TOLERANCE);
      }
    }
    const converged = finite && Number.isFinite(edm) && edm < CONVERGED_EDM && r.status !== "failed";
    const message = converged ? "" : r.message || `EDM ${edm.toExponential(3)} above ${CONVERGED_EDM}`;
    return { converged, message, nll: value, x: reduced ? reduced.expand(xr) : xr, edm, iterations: r.iterations, hvps, nfree: m };
  }

  /**
   * Variances (minimiser coordinates) of the free `targets` at the minimum `x` of a fit with
   * `fixed` held: (H⁻¹)_tt by CG on H s = e_t, one solve per target. NaN for a held target or
   * where CG meets non-positive curvature.
   */
  async targetVariances(x: Float64Array, targets: readonly number[], fixed?: ReadonlyMap<number, number>): Promise<{ variances: Float64Array; hvps: number }> {
    const { obj, reduced } = this.reducedProblem(x, fixed);
    const xr = reduced ? reduced.reduce(x) : x;
    const m = obj.nparams;
    const position = new Map<number, number>();
    if (reduced) reduced.freeIndices.forEach((idx, k) => position.set(idx, k));
    else for (let i = 0; i < m; i++) position.set(i, i);
    const variances = new Float64Array(targets.length).fill(Number.NaN);
    let hvps = 0;
    for (let t = 0; t < targets.length; t++) {
      const k = position.get(targets[t]);
      if (k === undefined) continue;
      const e = new Float64Array(m);
      e[k] = 1;
      const cg = await conjugateGradient(
        async (v) => {
          hvps++;
          return await obj.hessianVectorProduct(xr, v);
        },
        e,
        CG_TOLERANCE,
        Math.max(2 * m, 50),
      );
      if (!cg.negativeCurvature && cg.s[k] > 0) variances[t] = cg.s[k];
    }
    return { variances, hvps };
  }

  /**
   * Full covariance (minimiser coordinates, n × n, zero rows for held parameters) from the exact
   * dense Hessian at x; null when it is not positive definite.
   */
  covariance(x: Float64Array, fixed?: ReadonlyMap<number, number>): Float64Array | null {
    const { reduced } = this.reducedProblem(x, fixed);
    const h = this.evaluator.hessian(x);
    addExternalHessian(this.externalTerms, h, this.n);
    const m = reduced ? reduced.nparams : this.n;
    const chol = CholeskyFactor.factor(reduced ? reduced.reduceMatrix(h) : h, m, { threads: 1 });
    if (!chol) return null;
    const inv = chol.inverse();
    return reduced ? reduced.expandMatrix(inv) : inv;
  }

  dispose(): void {
    this.evaluator.dispose();
  }
}
