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
import type { LikelihoodSpec, PoiMode } from "../likelihoodSpec.js";
import { conjugateGradient, newtonPolish } from "../newtonCg.js";
import type { Objective } from "../objective.js";
import { FrozenObjective, type ParameterInfo } from "../parameters.js";
import { FitSession } from "../session.js";
import { ApproxInverse, blockPreconditionedCg, fixedInverseNewton, newtonPcg, preconditionedCg } from "./preconditionedNewton.js";

export interface RefitEngineOptions {
  poiMode: PoiMode;
  /** Barlow–Beeston-lite; default on when the model has sumw2 */
  bbb?: boolean;
  expectSignal?: number;
  /** --freeze selector: held at their prefit values in every fit */
  freeze?: string;
  /** threads of the native evaluator (default 1: parallelism comes from the workers) */
  threads?: number;
  /** data of the fits until setData (default the observed data) */
  data?: Float64Array;
  maxIter?: number;
  /**
   * covariance of the fit to the data in minimiser coordinates (full n × n; may live in a
   * SharedArrayBuffer shared by the workers): refits then take Newton steps and preconditioned CG
   * with it (preconditionedNewton.ts) before falling back to the trust region. float32 storage
   * (what toys.ts shares) halves the bytes each preconditioner pass reads; results stay float64
   */
  inverseHessian?: Float64Array | Float32Array | null;
}

export interface RefitRequest {
  /** start point in the minimiser's coordinates (square mode: x with μ = x²), full length */
  start: Float64Array;
  /** parameters held at a value (minimiser coordinates), on top of the --freeze ones */
  fixed?: ReadonlyMap<number, number>;
  /** also the dense covariance (minimiser coordinates) at the minimum */
  covariance?: boolean;
}

export interface RefitOutcome {
  converged: boolean;
  message: string;
  nll: number;
  /** full parameter vector at the minimum, minimiser coordinates */
  x: Float64Array;
  edm: number;
  iterations: number;
  hvps: number;
  /** number of free parameters of this fit (for the χ² ndf) */
  nfree: number;
  /** with `covariance`: full n × n, minimiser coordinates (null when not positive definite) */
  covariance: Float64Array | null;
}

/**
 * Toys and refits stop at this EDM (the main fit goes to 1e-14 for its covariance); a fit counts as
 * converged below the session's CONVERGED_EDM = 1e-6.
 */
const EDM_TOLERANCE = 1e-12;
/** Newton with the nominal covariance only from points this close (approximate EDM) */
const NEWTON_MAX_START_EDM = Number.POSITIVE_INFINITY;
/** a refit that stopped above this EDM gets the Newton finish */
const NEWTON_FINISH_FROM = 1e-10;
/** converged after the Newton finish (the session's CONVERGED_EDM) */
const NEWTON_FINISH_EDM = 1e-6;
/** relative residual of the CG solves for errors (as the session's POI errors) */
const CG_TOLERANCE = 1e-10;

/** A FitSession (session.ts) set up for many refits, with the Barlow–Beeston β0 of toys. */
export class RefitEngine {
  readonly session: FitSession;
  readonly model: TensorModel;
  readonly infos: ParameterInfo[];
  readonly names: string[];
  readonly n: number;
  readonly npoi: number;
  readonly poiMode: PoiMode;
  /** prefit point, minimiser coordinates */
  readonly x0: Float64Array;
  /** indices held at prefit by --freeze */
  readonly frozen: readonly number[];
  private readonly inverse: Float64Array | Float32Array | null;
  /** refits where Newton-PCG with the given inverse Hessian gave up (the trust region finished them) */
  fallbacks = 0;
  /** why the last of them gave up */
  lastFallback = "";

  constructor(model: TensorModel, opts: RefitEngineOptions) {
    this.session = new FitSession(model, {
      poiMode: opts.poiMode,
      bbb: opts.bbb,
      expectSignal: opts.expectSignal,
      freeze: opts.freeze,
      threads: opts.threads ?? 1,
      maxIter: opts.maxIter,
      edmTolerance: EDM_TOLERANCE,
    });
    if (opts.data) this.session.setData(opts.data);
    this.model = model;
    this.infos = this.session.infos;
    this.names = this.session.names;
    this.n = this.session.n;
    this.npoi = this.session.npoi;
    this.poiMode = this.session.poiMode;
    this.x0 = this.session.prefit;
    this.frozen = this.session.frozen;
    this.inverse = opts.inverseHessian && opts.inverseHessian.length === this.n * this.n ? opts.inverseHessian : null;
  }

  get spec(): LikelihoodSpec {
    return this.session.spec;
  }

  /** BB k per real bin (null when BB is off); +Infinity where a bin has no β */
  get bbK(): Float64Array | null {
    return this.session.spec.bbK;
  }

  setData(data: Float64Array): void {
    this.session.setData(data);
  }

  setTheta0(theta0: Float64Array): void {
    this.session.setTheta0(theta0);
  }

  setBeta0(beta0: Float64Array | null): void {
    this.session.evaluator.setBeta0(beta0);
  }

  /** expected events per real bin (processes summed) at x, without BB scaling */
  binTotals(x: Float64Array): Float64Array {
    return this.session.asimovData(x);
  }

  async minimize(req: RefitRequest): Promise<RefitOutcome> {
    let start = req.start;
    let spent = { iterations: 0, hvps: 0 };
    if (this.inverse && !req.covariance) {
      const quick = await this.minimizeNewtonPcg(this.inverse, req);
      if (quick.converged) return quick;
      this.fallbacks++;
      this.lastFallback = quick.message;
      if (quick.x.every((v) => Number.isFinite(v))) start = quick.x;
      spent = { iterations: quick.iterations, hvps: quick.hvps };
    }
    const out = await this.minimizeTrustRegion({ ...req, start });
    out.iterations += spent.iterations;
    out.hvps += spent.hvps;
    return out;
  }

  /**
   * Inexact Newton preconditioned by the given inverse Hessian (newtonPcg): near the point where
   * that inverse was taken it converges in a few steps of a few HVPs each. `iterations` counts
   * the Newton steps, `hvps` the PCG's Hessian-vector products.
   */
  private async minimizeNewtonPcg(c: Float64Array | Float32Array, req: RefitRequest): Promise<RefitOutcome> {
    const m = new ApproxInverse(c, this.n, this.frozen, req.fixed?.keys() ?? []);
    const r = await newtonPcg(this.session.objective, m, this.heldStart(req), { edmTolerance: EDM_TOLERANCE });
    let nfree = this.n;
    for (let i = 0; i < this.n; i++) if (m.isHeld(i)) nfree--;
    return { converged: r.converged, message: r.message, nll: r.value, x: r.x, edm: r.edm, iterations: r.steps, hvps: r.hvps, nfree, covariance: null };
  }

  private heldStart(req: RefitRequest): Float64Array {
    const base = Float64Array.from(req.start);
    for (const i of this.frozen) base[i] = this.x0[i];
    for (const [i, v] of req.fixed ?? []) base[i] = v;
    return base;
  }

  /**
   * Newton steps with the nominal covariance (preconditionedNewton.ts), then the exact EDM
   * ½ gᵀH⁻¹g by preconditioned CG; converged when it is below the trust region's tolerance.
   * `iterations` counts the Newton steps, `hvps` the CG's Hessian-vector products.
   */
  private async minimizeWithInverse(c: Float64Array | Float32Array, req: RefitRequest, maxStartEdm = NEWTON_MAX_START_EDM): Promise<RefitOutcome> {
    const m = new ApproxInverse(c, this.n, this.frozen, req.fixed?.keys() ?? []);
    const obj = this.session.objective;
    const nr = await fixedInverseNewton(obj, m, this.heldStart(req), 1e-16, maxStartEdm);
    let hvps = 0;
    const at = nr.x;
    if (!(nr.approxEdm < 1e-8)) {
      return { converged: false, message: "", nll: nr.value, x: nr.x, edm: nr.approxEdm, iterations: nr.steps, hvps: 0, nfree: 0, covariance: null };
    }
    const cg = await preconditionedCg(
      async (v) => {
        hvps++;
        return await obj.hessianVectorProduct(at, v);
      },
      m,
      nr.gradient,
      1e-6,
      50,
    );
    let edm = 0;
    for (let i = 0; i < this.n; i++) edm += 0.5 * nr.gradient[i] * cg.s[i];
    const converged = cg.ok && Number.isFinite(nr.value) && Number.isFinite(edm) && edm < EDM_TOLERANCE;
    let nfree = this.n;
    for (let i = 0; i < this.n; i++) if (m.isHeld(i)) nfree--;
    return {
      converged,
      message: converged ? "" : `Newton with the nominal covariance: EDM ${edm.toExponential(3)}`,
      nll: nr.value,
      x: nr.x,
      edm,
      iterations: nr.steps,
      hvps,
      nfree,
      covariance: null,
    };
  }

  private async minimizeTrustRegion(req: RefitRequest): Promise<RefitOutcome> {
    // the session takes held values in reported units (μ for POIs)
    let fixed: Map<number, number> | undefined;
    if (req.fixed) fixed = new Map([...req.fixed].map(([i, v]) => [i, this.session.toReported(i, v)]));
    const r = await this.session.minimize({ start: req.start, fixed, errors: req.covariance ? "covariance" : "none" });
    const out: RefitOutcome = {
      converged: r.status === "converged",
      message: r.message,
      nll: r.nll,
      x: r.x,
      edm: r.edm,
      iterations: r.iterations,
      hvps: r.hvps,
      nfree: r.freeIndices.length,
      covariance: r.covariance,
    };
    // the trust region may also stop "converged" at its noise level well above the tolerance
    const short = !out.converged || !(out.edm <= NEWTON_FINISH_FROM);
    if (short && !req.covariance && Number.isFinite(r.nll) && r.x.every((v) => Number.isFinite(v))) {
      if (this.inverse) {
        // near the minimum the nominal covariance is a good inverse Hessian: finish with it
        const fin = await this.minimizeWithInverse(this.inverse, { ...req, start: out.x }, Number.POSITIVE_INFINITY);
        out.iterations += fin.iterations;
        out.hvps += fin.hvps;
        if (fin.converged) {
          out.converged = true;
          out.message = "";
          out.x = fin.x;
          out.nll = fin.nll;
          out.edm = fin.edm;
          return out;
        }
      }
      await this.newtonFinish(out, req.fixed);
      if (!out.converged) {
        // last resort (near-degenerate directions, where CG and the gradient's rounding noise
        // cannot reach the EDM): Newton steps with the exact dense Hessian, as the main fit does
        const d = await this.session.minimize({ start: out.x, fixed, errors: "covariance" });
        out.hvps += d.hvps;
        out.iterations += d.iterations;
        if (d.status === "converged" || d.edm < out.edm) {
          out.x = d.x;
          out.nll = d.nll;
          out.edm = d.edm;
          out.converged = d.status === "converged";
          out.message = d.message;
        }
      }
    }
    return out;
  }

  /**
   * Where the trust region stalls on the NLL's rounding noise (high statistics: the reduced NLL
   * cancels large terms), Newton-CG steps judged by the gradient norm finish the job; the EDM is
   * then measured as ½ gᵀH⁻¹g with one more CG solve.
   */
  private async newtonFinish(out: RefitOutcome, fixed?: ReadonlyMap<number, number>): Promise<void> {
    const { obj, reduced } = this.reducedProblem(out.x, fixed);
    const m = obj.nparams;
    let xr = reduced ? reduced.reduce(out.x) : Float64Array.from(out.x);
    const vg = await obj.valueAndGradient(xr);
    const p = await newtonPolish(obj, xr, vg.value, Float64Array.from(vg.gradient), { maxSteps: 4, tolerance: 1e-8, maxCg: Math.max(2 * m, 50) });
    out.hvps += p.hvps;
    xr = p.x;
    const at = xr;
    const cg = await conjugateGradient(
      async (v) => {
        out.hvps++;
        return await obj.hessianVectorProduct(at, v);
      },
      p.gradient,
      1e-6,
      Math.max(2 * m, 50),
    );
    let edm = 0;
    for (let i = 0; i < m; i++) edm += 0.5 * p.gradient[i] * cg.s[i];
    out.x = reduced ? reduced.expand(xr) : Float64Array.from(xr);
    out.nll = p.value;
    out.edm = edm;
    out.converged = !cg.negativeCurvature && Number.isFinite(edm) && edm < NEWTON_FINISH_EDM;
    out.message = out.converged ? "" : `${out.message}; after Newton-CG: EDM ${edm.toExponential(3)}`;
  }

  /** the objective over the parameters not held at a point x */
  private reducedProblem(x: Float64Array, fixed?: ReadonlyMap<number, number>): { obj: Objective; reduced: FrozenObjective | null } {
    const held = new Set(this.frozen);
    for (const i of fixed?.keys() ?? []) held.add(i);
    if (held.size === 0) return { obj: this.session.objective, reduced: null };
    const reduced = new FrozenObjective(this.session.objective, x, [...held].sort((a, b) => a - b));
    return { obj: reduced, reduced };
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
    if (this.inverse) {
      const approx = new ApproxInverse(this.inverse, this.n, this.frozen, fixed?.keys() ?? []);
      const full = this.session.objective;
      let allOk = true;
      const free = targets.map((t, k) => ({ t, k })).filter(({ t }) => !approx.isHeld(t));
      const rhs = free.map(({ t }) => {
        const e = new Float64Array(this.n);
        e[t] = 1;
        return e;
      });
      // all targets in lockstep: one pass over the dense inverse per iteration for all of them
      const sols = await blockPreconditionedCg(
        async (v) => {
          hvps++;
          return await full.hessianVectorProduct(x, v);
        },
        approx,
        rhs,
        CG_TOLERANCE,
        200,
      );
      free.forEach(({ t, k }, q) => {
        const cg = sols[q];
        if (cg.ok && cg.s[t] > 0) variances[k] = cg.s[t];
        else allOk = false;
      });
      if (allOk) return { variances, hvps };
    }
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

  dispose(): void {
    this.session.dispose();
  }
}
