/**
 * The FitResult of a fit in the no-dense-matrix (Krylov) mode: the session's best fit (minimised
 * without a dense Hessian) with the errors of fitErrors.ts. No n × n array is made: `covariance` is
 * empty and the POI/NOI covariance block sits in `krylov`.
 */
import { performance } from "node:perf_hooks";
import type { EngineInfo, FitResult, ParameterResult, YieldTable } from "../results.js";
import { goodnessOfFit, ndfParameters } from "../results.js";
import { CONVERGED_EDM, totalsOverProcesses, type FitSession, type SessionFit } from "../session.js";
import { computeFitErrors, type FitErrorsOptions } from "./fitErrors.js";

export interface KrylovFitInput {
  session: FitSession;
  best: SessionFit;
  engine: EngineInfo;
  prefitYields: YieldTable | null;
  skipYields: boolean;
  loadSeconds: number;
  tStart: number;
  errors: FitErrorsOptions;
}

export async function krylovFitResult(input: KrylovFitInput): Promise<FitResult> {
  const { session, best } = input;
  const { spec, infos, n, poiMode, evaluator } = session;
  const frozenSet = new Set(session.frozen);
  const x = best.x;
  const finitePoint = Number.isFinite(best.nll) && x.every((v) => Number.isFinite(v));
  const tErrors = performance.now();
  const fe = finitePoint ? await computeFitErrors(session, best, { ...input.errors, yields: !input.skipYields }) : null;
  const errorsSeconds = (performance.now() - tErrors) / 1000;
  const jac = session.jacobian(x);

  // the EDM of the dense path is the exact ½gᵀH⁻¹g; here by one solve
  const edm = fe ? fe.edm : best.edm;
  const converged = finitePoint && Number.isFinite(edm) && edm < CONVERGED_EDM;
  const messages: string[] = [];
  if (!converged) {
    if (best.message) messages.push(best.message);
    else messages.push(`EDM ${edm.toExponential(3)} above ${CONVERGED_EDM}`);
  }
  if (fe) messages.push(...fe.summary.notes.filter((note) => note.startsWith("the Hessian")));

  const errorStdErr = new Float64Array(n);
  const parameters: ParameterResult[] = infos.map((p, i) => {
    const isPoi = i < spec.nsig;
    const isFrozen = frozenSet.has(i);
    const value = isFrozen ? p.prefit : isPoi && poiMode === "square" ? x[i] * x[i] : x[i];
    let error = Number.NaN;
    if (isFrozen) error = 0;
    else if (fe) {
      const v = fe.variance[i];
      error = v > 0 ? Math.abs(jac[i]) * Math.sqrt(v) : Number.NaN;
      // σ = √V: δσ = δV / (2√V)
      errorStdErr[i] = v > 0 ? (Math.abs(jac[i]) * fe.varianceStdErr[i]) / (2 * Math.sqrt(v)) : Number.NaN;
    }
    return { name: p.name, kind: p.kind, value, error, prefit: p.prefit, prefitError: p.prefitError, frozen: isFrozen };
  });

  let postfitYields: YieldTable | null = null;
  if (!input.skipYields && fe?.yields) {
    const perProcess = evaluator.yields(x);
    postfitYields = {
      perProcess,
      perProcessVariance: fe.yields.perProcessVariance,
      total: totalsOverProcesses(perProcess, spec.nbinsFull, spec.nproc),
      totalVariance: fe.yields.totalVariance,
      perProcessVarianceStdErr: fe.yields.perProcessVarianceStdErr,
      totalVarianceStdErr: fe.yields.totalVarianceStdErr,
      channelSums: fe.yields.channelSums,
    };
  }

  const k = fe ? fe.targetIndices.length : 0;
  const targetCovariance = new Float64Array(k * k);
  if (fe) {
    for (let a = 0; a < k; a++) {
      for (let b = 0; b < k; b++) targetCovariance[a * k + b] = jac[fe.targetIndices[a]] * jac[fe.targetIndices[b]] * fe.targetCovariance[a * k + b];
    }
  }
  const gof = goodnessOfFit(best.nll, spec.nbins, ndfParameters(spec.nsig, spec.constraintWeights, frozenSet));
  return {
    status: converged ? "converged" : "failed",
    message: messages.join("; "),
    nll: best.nll,
    ...gof,
    edm,
    iterations: best.iterations,
    hvps: best.hvps + (fe?.summary.hvps ?? 0),
    hessians: 0,
    parameters,
    covariance: new Float64Array(0),
    errorMethod: "krylov",
    ...(fe
      ? {
          krylov: {
            summary: fe.summary,
            errorStdErr,
            exact: fe.exact,
            targetIndices: fe.targetIndices,
            targetCovariance,
            ...(fe.impacts ? { impactsNuisanceExact: fe.impacts.nuisanceExact, impactsTraditionalStdErr: fe.impacts.traditionalStdErr } : {}),
          },
        }
      : {}),
    x,
    gradient: best.gradient,
    poiMode,
    bbb: spec.bbK !== null,
    data: Float64Array.from(spec.data),
    dataSource: session.dataSource,
    prefitYields: input.prefitYields,
    postfitYields,
    engine: input.engine,
    timing: {
      load_s: input.loadSeconds,
      minimize_s: best.timing.minimize_s,
      covariance_s: errorsSeconds,
      hessian_s: 0,
      postfit_yields_s: 0,
      total_s: input.loadSeconds + (performance.now() - input.tStart) / 1000,
    },
    ...(fe?.impacts ? { impacts: fe.impacts.table } : {}),
  };
}
