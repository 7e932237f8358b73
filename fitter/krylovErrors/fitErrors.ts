/**
 * The fit's errors in the no-dense-matrix (Krylov) mode, at the best fit of a session: what fit.ts
 * reports instead of the dense covariance path's numbers.
 *  - POI/NOI errors and their covariance block, from one solve H c = e_t per POI/NOI (exact up to
 *    the solve tolerance);
 *  - other parameters' errors: exact (one solve each) for `exactFor` or all of them when there are
 *    at most `exactAllMax` free parameters, else Hutchinson estimates with a per-entry standard
 *    error (krylovErrors.ts);
 *  - impacts (krylovImpacts.ts), postfit yield uncertainties (krylovYields.ts);
 *  - the exact EDM ½ gᵀH⁻¹g by one more solve.
 * The preconditioner is pluggable (FitErrorsOptions.preconditioner, given the expected (Fisher)
 * information diagonal at the best fit for a Jacobi one); default none (see below).
 */
import { performance } from "node:perf_hooks";
import { UserError } from "../../src/errors.js";
import type { ImpactTable } from "../impacts.js";
import { FrozenObjective, selectFrozen } from "../parameters.js";
import type { FitSession, SessionFit } from "../session.js";
import { krylovErrors } from "./krylovErrors.js";
import { krylovImpacts } from "./krylovImpacts.js";
import { krylovYieldVariances, type ChannelSumVariance } from "./krylovYields.js";
import { identityPreconditioner, pcg, type HessianProduct, type Preconditioner } from "./pcg.js";
import { YieldJacobian } from "./yieldJacobian.js";
import { defaultMemoryLimit } from "./memoryPlan.js";
import { prepareSparseDirect, type SparseDirect } from "./sparseDirect.js";
import type { SparseHessianSource } from "../sparseHessian/symmetricCsr.js";

/** every free parameter's variance exactly (one solve each) up to this many free parameters */
export const EXACT_ALL_MAX = 500;
export const DEFAULT_PROBES = 32;
export const DEFAULT_TOLERANCE = 1e-11;
/** at most this many parameters are eliminated by the Schur solver (k D-solves at set-up) */
export const MAX_STIFF = 64;
/** exact per-bin yield variances from the selected inverse while their cost ≤ this × the factorisation's (or the minimum) */
export const EXACT_YIELDS_FACTOR_MULTIPLE = 4;
export const EXACT_YIELDS_MIN_BUDGET = 2e9;

export interface FitErrorsOptions {
  /** regex or comma-separated names of parameters whose error is computed exactly */
  exactFor?: string;
  /** exact for all free parameters when there are at most this many (default EXACT_ALL_MAX) */
  exactAllMax?: number;
  /** Rademacher probes (default DEFAULT_PROBES) */
  probes?: number;
  seed?: number;
  /** relative residual of the exact solves (default DEFAULT_TOLERANCE) */
  tolerance?: number;
  /**
   * "schur" (default): block elimination of the POIs and unconstrained parameters, CG on the
   * constrained rest (schurSolver.ts); "cg": preconditioned CG on the whole Hessian
   */
  solver?: "schur" | "cg";
  /** CG iteration limit per solve (default max(2m, 100)) */
  maxIterations?: number;
  impacts?: boolean;
  yields?: boolean;
  /**
   * sparse-Cholesky mode: multiply-adds the exact per-bin yield variances may cost (default
   * max(EXACT_YIELDS_MIN_BUDGET, EXACT_YIELDS_FACTOR_MULTIPLE × the factorisation's)); above it they are estimated
   */
  exactYieldsBudget?: number;
  /** replaces the Jacobi preconditioner; gets the reduced-space Fisher diagonal it would have used */
  preconditioner?: (fisherDiagonal: Float64Array) => Preconditioner;
  log?: ((line: string) => void) | null;
  /**
   * the exact Hessian as a sparse matrix: when the envelope of its free-parameter part fits
   * `sparseMemoryLimit`, it is factored (sparseDirect.ts) and the factor preconditions every solve,
   * gives every variance exactly (selected inversion) and factors the impacts' restricted systems
   */
  sparseHessian?: SparseHessianSource;
  /** bytes the sparse factor(s) may take (default memoryPlan's defaultMemoryLimit()) */
  sparseMemoryLimit?: number;
  /** threads of the sparse factorisation (default min(2, cores)) */
  sparseThreads?: number;
  /**
   * grouped impacts with the sparse factor: "auto" (default) picks per group the cheaper exact way,
   * |G| column solves or one restricted factorisation; "solves" / "factor" force one
   */
  sparseGrouped?: "auto" | "solves" | "factor";
}

/** What fitresults.json "errors" says about how the errors were made. */
export interface ErrorSummary {
  /** "sparse-cholesky": the solves preconditioned by the sparse factor, variances from its selected inverse */
  method: "krylov" | "sparse-cholesky";
  preconditioner: string;
  tolerance: number;
  probes: number;
  seed: number;
  /** parameters with an exact error (targets included) and with a stochastic one */
  exact: number;
  estimated: number;
  /** median and 90% quantile over the estimated variances of stderr/variance */
  median_relative_stderr: number | null;
  p90_relative_stderr: number | null;
  max_relative_residual: number;
  solves: number;
  hvps: number;
  seconds: number;
  notes: string[];
}

export interface FitErrors {
  /** full length n, minimiser coordinates: C_ii (exact or estimated), 0 for held parameters */
  variance: Float64Array;
  varianceStdErr: Float64Array;
  exact: Uint8Array;
  /** full indices of the POIs/NOIs and their covariance, minimiser coordinates, k × k */
  targetIndices: number[];
  targetCovariance: Float64Array;
  impacts: { table: ImpactTable; nuisanceExact: boolean[]; traditionalStdErr: Float64Array } | null;
  yields: {
    perProcessVariance: Float64Array;
    perProcessVarianceStdErr: Float64Array;
    totalVariance: Float64Array;
    totalVarianceStdErr: Float64Array;
    channelSums: ChannelSumVariance[];
  } | null;
  edm: number;
  summary: ErrorSummary;
}

function quantile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** Parses --errors-for against the parameter names (UserError naming the option). */
export function selectExact(names: string[], selector: string | undefined): number[] {
  if (selector === undefined) return [];
  if (selector.trim() === "") throw new UserError("--errors-for: empty; give parameter names (comma-separated) or a regular expression");
  try {
    return selectFrozen(names, selector);
  } catch (err) {
    if (err instanceof UserError) throw new UserError(err.message.replace(/^--freeze/, "--errors-for"));
    throw err;
  }
}

export async function computeFitErrors(session: FitSession, best: SessionFit, opts: FitErrorsOptions = {}): Promise<FitErrors> {
  const t0 = performance.now();
  const { n, spec } = session;
  const log = opts.log ?? null;
  const reduced = new FrozenObjective(session.objective, best.x, session.frozen);
  const free = reduced.freeIndices;
  const m = reduced.nparams;
  const red = new Int32Array(n).fill(-1);
  free.forEach((i, k) => (red[i] = k));
  const xr = reduced.reduce(best.x);
  const hvp: HessianProduct = async (v) => await reduced.hessianVectorProduct(xr, v);

  const jacobian = new YieldJacobian(spec, best.x);
  const fisherFull = jacobian.fisherDiagonal();
  const fisher = reduced.reduce(fisherFull);
  const notes: string[] = [];
  let sparse: SparseDirect | null = null;
  if (opts.sparseHessian) {
    const prepared = await prepareSparseDirect(opts.sparseHessian, best.x, free, {
      limitBytes: opts.sparseMemoryLimit ?? defaultMemoryLimit(),
      inverseDiagonal: true,
      keepSelectedInverse: opts.yields === true,
      threads: opts.sparseThreads,
      log,
    });
    if (typeof prepared === "string") {
      notes.push(prepared);
      log?.(`krylov errors: ${prepared}`);
    } else {
      sparse = prepared;
      notes.push(...prepared.notes);
    }
  }
  try {
    return await errorsWith(session, best, opts, { t0, free, m, red, hvp, jacobian, fisher, notes, sparse });
  } finally {
    sparse?.dispose();
  }
}

interface ErrorsContext {
  t0: number;
  free: Int32Array;
  m: number;
  red: Int32Array;
  hvp: HessianProduct;
  jacobian: YieldJacobian;
  fisher: Float64Array;
  notes: string[];
  sparse: SparseDirect | null;
}

async function errorsWith(session: FitSession, best: SessionFit, opts: FitErrorsOptions, ctx: ErrorsContext): Promise<FitErrors> {
  const { n, infos, spec, model } = session;
  const { t0, free, m, red, hvp, jacobian, fisher, notes, sparse } = ctx;
  const log = opts.log ?? null;
  // default: none. Measured on fit-gen --bins 500 --systs 300 --sparse --bbb (301 parameters):
  // plain CG reaches 1e-11 in 277–313 HVPs, while Jacobi (exact diagonal or Fisher diagonal) had not
  // reached 1e-3 after 602: H = I + (data term) on the constrained nuisances, whose clustered unit
  // eigenvalues a diagonal scaling spreads out (the minimiser saw the same, trustKrylov.ts)
  // (the sparse factor is H⁻¹ up to rounding: CG then stops after 1–2 iterations)
  const pre = sparse ? sparse.preconditioner : opts.preconditioner ? opts.preconditioner(fisher) : identityPreconditioner;
  const tolerance = opts.tolerance ?? DEFAULT_TOLERANCE;
  const diagonal = sparse?.inverseDiagonal ?? null;

  const targetsFull = infos.flatMap((p, i) => ((p.kind === "poi" || p.kind === "noi") && red[i] >= 0 ? [i] : []));
  const targetsRed = targetsFull.map((i) => red[i]);
  const exactAll = m <= (opts.exactAllMax ?? EXACT_ALL_MAX);
  // yield variances diag(J C Jᵀ) per row and per bin exactly from H⁻¹ on the envelope: a row's
  // parameters share its bin, so they are coupled in H and every pair lies in the envelope (NaN for
  // a row where one does not, e.g. a masked channel's: those keep the Hutchinson estimate)
  let exactYields: { rows: Float64Array; bins: Float64Array } | null = null;
  // each row's quadratic form costs k² reads of the selected inverse (k = its parameters): on a
  // large model with global systematics in every bin (k ≈ 1400 at 20k × 12k: ~3e11) that would
  // dwarf the factorisation, and the stochastic estimate takes over
  const yieldCost = opts.yields && sparse?.selectedInverse ? jacobian.quadraticFormCostBound(false) + jacobian.quadraticFormCostBound(true) : 0;
  const yieldBudget = opts.exactYieldsBudget ?? Math.max(EXACT_YIELDS_MIN_BUDGET, EXACT_YIELDS_FACTOR_MULTIPLE * (sparse?.factor.factorMultiplyAdds ?? 0));
  if (opts.yields && sparse?.selectedInverse && yieldCost > yieldBudget) {
    notes.push(`per-bin yield variances estimated: their exact quadratic forms would cost ${yieldCost.toExponential(1)} multiply-adds (budget ${yieldBudget.toExponential(1)})`);
    log?.(`sparse cholesky: exact yield variances skipped (${yieldCost.toExponential(1)} multiply-adds > ${yieldBudget.toExponential(1)}), estimated instead`);
  } else if (opts.yields && sparse?.selectedInverse) {
    const ty = performance.now();
    const rows = jacobian.sparseRows(red, false);
    const bins = jacobian.sparseRows(red, true);
    exactYields = {
      rows: sparse.factor.quadraticForms(rows.ptr, rows.idx, rows.val),
      bins: sparse.factor.quadraticForms(bins.ptr, bins.idx, bins.val),
    };
    log?.(`sparse cholesky: exact yield variances from the selected inverse in ${((performance.now() - ty) / 1000).toFixed(2)} s`);
  }
  const yieldsExact = exactYields !== null && exactYields.rows.every(Number.isFinite) && exactYields.bins.every(Number.isFinite);
  // with the exact diagonal from the sparse factor, columns are solved only where the yields need
  // them (small problems: the exact per-bin sums), probes only for the larger problems' yields
  const exactFull = exactAll && (diagonal === null || (opts.yields === true && !yieldsExact)) ? Array.from(free) : diagonal ? [] : selectExact(session.names, opts.exactFor).filter((i) => red[i] >= 0);
  const probes = exactAll || (diagonal && (!opts.yields || yieldsExact)) ? 0 : (opts.probes ?? DEFAULT_PROBES);
  const seed = opts.seed ?? 12345;
  log?.(`krylov errors: ${targetsRed.length} POI/NOI solves, ${diagonal ? `${m} exact variances by selected inversion, ${exactFull.length} columns solved` : `${exactAll ? m : exactFull.length} exact variances`}, ${probes} probes (${pre.name})`);
  // stiff: POIs and every unconstrained free parameter (a handful in practice; capped)
  const cwFull = new Float64Array(n);
  cwFull.set(model.constraintWeights, spec.nsig);
  const stiffFull = infos.flatMap((p, i) => (red[i] >= 0 && (i < spec.nsig || !(cwFull[i] > 0)) ? [i] : []));
  const useSchur = !sparse && (opts.solver ?? (opts.preconditioner ? "cg" : "schur")) === "schur" && stiffFull.length <= MAX_STIFF;
  const ke = await krylovErrors(hvp, m, {
    targets: targetsRed,
    stiff: useSchur ? stiffFull.map((i) => red[i]) : undefined,
    exact: exactFull.map((i) => red[i]),
    probes,
    seed,
    preconditioner: pre,
    tolerance,
    gradient: Float64Array.from(free, (i) => best.gradient[i]),
    keepExactColumns: exactAll && opts.yields === true,
    maxIterations: opts.maxIterations,
    log,
  });
  let solves = ke.solves;
  let hvps = ke.hvps + (sparse?.hvps ?? 0);
  if (diagonal) {
    // every variance exact from the selected inverse (targets keep their solved column's value)
    const isTarget = new Uint8Array(m);
    for (const t of targetsRed) isTarget[t] = 1;
    for (let j = 0; j < m; j++) {
      if (isTarget[j] && ke.exact[j]) continue;
      ke.variance[j] = diagonal[j];
      ke.varianceStdErr[j] = 0;
      ke.exact[j] = 1;
    }
  }
  if (ke.notPositiveDefinite.length > 0) {
    notes.push(`the Hessian is not positive definite along ${ke.notPositiveDefinite.map((r) => session.names[free[r]]).join(", ")} (no error)`);
  }

  if (ke.maxRelativeResidual > 10 * tolerance) {
    notes.push(`some solves stopped at the CG iteration limit: relative residual up to ${ke.maxRelativeResidual.toExponential(2)} (asked ${tolerance.toExponential(0)})`);
  }
  const variance = new Float64Array(n);
  const varianceStdErr = new Float64Array(n);
  const exact = new Uint8Array(n);
  free.forEach((i, k) => {
    variance[i] = ke.variance[k];
    varianceStdErr[i] = ke.varianceStdErr[k];
    exact[i] = ke.exact[k];
  });
  for (const i of session.frozen) exact[i] = 1;
  const kt = targetsFull.length;
  const targetCovariance = new Float64Array(kt * kt);
  for (let a = 0; a < kt; a++) for (let b = 0; b < kt; b++) targetCovariance[a * kt + b] = ke.columns[a][targetsRed[b]];

  let columnHvps = 0;
  const countedHvp: HessianProduct = async (v) => {
    columnHvps++;
    return await hvp(v);
  };
  let impacts: FitErrors["impacts"] = null;
  if (opts.impacts) {
    const npoi = spec.nsig;
    const constraintWeights = new Float64Array(n);
    constraintWeights.set(model.constraintWeights, npoi);
    const ki = await krylovImpacts(hvp, ke, {
      targets: targetsFull,
      sources: Array.from({ length: n - npoi }, (_, k) => npoi + k),
      names: session.names,
      groups: model.systGroups.map((g) => ({ name: g.name, indices: g.indices.map((s) => npoi + s) })),
      constraintWeights,
      scale: session.jacobian(best.x),
      reducedIndex: red,
      columnTargets: targetsRed,
      tolerance,
      preconditioner: pre,
      stiff: useSchur ? stiffFull.map((i) => red[i]) : undefined,
      restricted: sparse ? (kept) => sparse.restricted(kept) : undefined,
      columnSolve: sparse
        ? async (j) => {
            const e = new Float64Array(m);
            e[j] = 1;
            const r = await pcg(countedHvp, e, { tolerance, preconditioner: pre, maxIterations: opts.maxIterations });
            return r.negativeCurvature ? null : r.x;
          }
        : undefined,
      // a refined solve ≈ two factor solves (2 multiply-adds per envelope entry each) or one solve and an HVP
      groupedBySolves: sparse
        ? (g) => (opts.sparseGrouped ?? "auto") === "solves" || ((opts.sparseGrouped ?? "auto") === "auto" && g * 4 * sparse.factor.entries < sparse.factor.factorMultiplyAdds)
        : undefined,
    });
    solves += ki.solves;
    hvps += ki.hvps + columnHvps;
    impacts = { table: ki.table, nuisanceExact: ki.nuisanceExact, traditionalStdErr: ki.traditionalStdErr };
  }

  let yields: FitErrors["yields"] = null;
  if (opts.yields) {
    const channels = model.channels.length > 0 ? model.channels : [{ name: "ch0", axes: [], masked: false, flow: false, start: 0, size: spec.nbinsFull }];
    // small problems: all of C is known column by column, so the per-bin variances are exact sums
    const basis = exactAll && ke.exactColumns !== null && ke.exactColumns.size === m;
    const cols = basis ? [...(ke.exactColumns as Map<number, Float64Array>).entries()] : [];
    const ky = await krylovYieldVariances(hvp, {
      jacobian,
      nproc: spec.nproc,
      channels,
      freeIndices: free,
      probes: basis ? cols.map(([j]) => Float64Array.from({ length: m }, (_, i) => (i === j ? 1 : 0))) : ke.probes,
      probeSolutions: basis ? cols.map(([, c]) => c) : ke.probeSolutions,
      basis,
      tolerance,
      preconditioner: pre,
    });
    solves += ky.solves;
    hvps += ky.hvps;
    yields = {
      perProcessVariance: ky.perProcess,
      perProcessVarianceStdErr: ky.perProcessStdErr,
      totalVariance: ky.total,
      totalVarianceStdErr: ky.totalStdErr,
      channelSums: ky.channelSums,
    };
    let viaSelected = 0;
    if (exactYields) {
      const { rows, bins } = exactYields;
      for (let r = 0; r < rows.length; r++) {
        if (!Number.isFinite(rows[r])) continue;
        yields.perProcessVariance[r] = rows[r];
        yields.perProcessVarianceStdErr[r] = 0;
        viaSelected++;
      }
      for (let b = 0; b < bins.length; b++) {
        if (!Number.isFinite(bins[b])) continue;
        yields.totalVariance[b] = bins[b];
        yields.totalVarianceStdErr[b] = 0;
      }
    }
    if (yieldsExact) notes.push("per-bin yield variances exact (quadratic forms of the selected inverse)");
    else if (basis) notes.push("per-bin yield variances exact (every column of C solved)");
    else if (viaSelected > 0) notes.push(`per-bin yield variances exact from the selected inverse for ${viaSelected} of ${exactYields!.rows.length} rows; the others Hutchinson estimates from ${ke.probes.length} probes`);
    else notes.push(`per-bin yield variances: Hutchinson estimates from ${ke.probes.length} probes`);
  }

  const relErr = Array.from(ke.variance, (v, k) => (ke.exact[k] ? Number.NaN : ke.varianceStdErr[k] / v)).filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const estimated = m - Array.from(ke.exact).reduce((s, e) => s + e, 0);
  return {
    variance,
    varianceStdErr,
    exact,
    targetIndices: targetsFull,
    targetCovariance,
    impacts,
    yields,
    edm: ke.edm ?? Number.NaN,
    summary: {
      method: sparse ? "sparse-cholesky" : "krylov",
      preconditioner: ke.preconditioner,
      tolerance,
      probes: ke.probes.length,
      seed,
      exact: m - estimated,
      estimated,
      median_relative_stderr: quantile(relErr, 0.5),
      p90_relative_stderr: quantile(relErr, 0.9),
      max_relative_residual: ke.maxRelativeResidual,
      solves,
      hvps,
      seconds: (performance.now() - t0) / 1000,
      notes,
    },
  };
}
