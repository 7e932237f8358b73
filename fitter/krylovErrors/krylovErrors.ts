/**
 * Errors without a dense matrix: everything from preconditioned CG solves H x = b on exact
 * Hessian-vector products (C = H⁻¹ is never formed).
 *
 *  - target columns: C e_t for every POI/NOI t, one solve each; they give the targets' variances,
 *    their covariance block C_tt' and every C_tj (exact up to the solve tolerance);
 *  - exact variances: C_jj = (C e_j)_j by one solve each, for a chosen subset (or for all when the
 *    problem is small);
 *  - the other variances: Hutchinson's estimator with K Rademacher probes z_k,
 *    Ĉ_jj = (1/K) Σ_k z_jk ((C z_k)_j − Σ_{l∈L, l≠j} C_jl z_lk), where L is the set of columns
 *    already known exactly (targets, exact subset): their part of the off-diagonal noise is taken
 *    out exactly (a control variate), which removes the POI-driven correlations. The estimate is
 *    unbiased; its standard error is the sample standard deviation of the K per-probe values over
 *    √K, reported per entry. The probe solutions C z_k are kept for the yield uncertainties.
 *
 * All indices here are of the reduced (free-parameter) space of length m.
 */
import { SeededRandom } from "../../src/tensor/seededRandom.js";
import { identityPreconditioner, type HessianProduct, type Preconditioner } from "./pcg.js";
import { cgSolver, schurSolver } from "./schurSolver.js";

export interface KrylovErrorOptions {
  /** reduced indices of the POIs/NOIs: their columns C e_t are solved for */
  targets: number[];
  /** reduced indices whose variance is computed exactly (one solve each) */
  exact: number[];
  /** Rademacher probes of the stochastic diagonal (0: none; entries not exact are then NaN) */
  probes: number;
  seed?: number;
  preconditioner?: Preconditioner;
  /** relative residual of the target and exact solves (default 1e-11) */
  tolerance?: number;
  /** relative residual of the probe solves (default 1e-6: far below the sampling error) */
  probeTolerance?: number;
  maxIterations?: number;
  /** solve H s = gradient too, for the exact EDM ½ gᵀ H⁻¹ g */
  gradient?: Float64Array;
  log?: ((line: string) => void) | null;
  /**
   * reduced indices eliminated by block elimination (schurSolver.ts): the POIs and unconstrained
   * parameters; empty or absent: plain CG with `preconditioner` on the whole H
   */
  stiff?: number[];
  /** return the exactly solved columns C e_j (memory: one m-vector each) */
  keepExactColumns?: boolean;
}

export interface KrylovErrors {
  m: number;
  /** C e_t per target (same order as options.targets) */
  columns: Float64Array[];
  /** C_jj: exact where `exact[j]`, else the stochastic estimate (NaN without probes) */
  variance: Float64Array;
  /** standard error of variance[j]: 0 where exact (up to the solve tolerance) */
  varianceStdErr: Float64Array;
  exact: Uint8Array;
  /** Rademacher probes and their solutions C z_k (for the yield uncertainties) */
  probes: Float64Array[];
  probeSolutions: Float64Array[];
  /** with keepExactColumns: reduced index j → C e_j for the targets and the exact subset */
  exactColumns: Map<number, Float64Array> | null;
  /** ½ gᵀ H⁻¹ g when a gradient was given */
  edm: number | null;
  solves: number;
  hvps: number;
  /** largest relative residual of the target and exact solves */
  maxRelativeResidual: number;
  /** parameters (reduced indices) where CG met non-positive curvature */
  notPositiveDefinite: number[];
  preconditioner: string;
}

export async function krylovErrors(hvp: HessianProduct, m: number, opts: KrylovErrorOptions): Promise<KrylovErrors> {
  const pre = opts.preconditioner ?? identityPreconditioner;
  const tol = opts.tolerance ?? 1e-11;
  const probeTol = opts.probeTolerance ?? 1e-6;
  const log = opts.log ?? null;
  let hvps = 0;
  let solves = 0;
  let maxRes = 0;
  const notPd: number[] = [];
  const counted: HessianProduct = async (v) => {
    hvps++;
    return await hvp(v);
  };
  const progress = log ? (it: number, res: number): void => void (it % 100 === 0 && log(`krylov errors: CG iteration ${it}, relative residual ${res.toExponential(2)}`)) : undefined;
  const solver =
    opts.stiff && opts.stiff.length > 0
      ? await schurSolver(counted, m, opts.stiff, { tolerance: tol, maxIterations: opts.maxIterations, onIteration: progress })
      : cgSolver(counted, { preconditioner: pre, maxIterations: opts.maxIterations, onIteration: progress });
  const setupHvps = hvps;
  if (setupHvps > 0) log?.(`krylov errors: ${solver.name}: set-up ${setupHvps} HVPs`);
  const solve = async (b: Float64Array, tolerance: number, what: number | null): Promise<Float64Array | null> => {
    const r = await solver.solve(b, tolerance);
    solves++;
    if (r.negativeCurvature) {
      if (what !== null) notPd.push(what);
      return null;
    }
    if (tolerance === tol) maxRes = Math.max(maxRes, r.relativeResidual);
    if (what !== null && opts.targets.includes(what)) log?.(`krylov errors: column ${what}: ${r.iterations} CG iterations, relative residual ${r.relativeResidual.toExponential(2)}`);
    return r.x;
  };
  const unit = (j: number): Float64Array => {
    const e = new Float64Array(m);
    e[j] = 1;
    return e;
  };

  const variance = new Float64Array(m).fill(Number.NaN);
  const stderr = new Float64Array(m).fill(Number.NaN);
  const exact = new Uint8Array(m);
  const known = new Map<number, Float64Array>();

  const columns: Float64Array[] = [];
  for (const t of opts.targets) {
    const c = (await solve(unit(t), tol, t)) ?? new Float64Array(m).fill(Number.NaN);
    columns.push(c);
    if (Number.isFinite(c[t])) known.set(t, c);
  }
  const t0 = Date.now();
  let done = 0;
  for (const j of opts.exact) {
    if (known.has(j)) continue;
    const c = await solve(unit(j), tol, j);
    if (c) known.set(j, c);
    if (log && ++done % 100 === 0) log(`krylov errors: ${done}/${opts.exact.length} exact variances (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  }
  for (const [j, c] of known) {
    variance[j] = c[j];
    stderr[j] = 0;
    exact[j] = 1;
  }

  const probes: Float64Array[] = [];
  const probeSolutions: Float64Array[] = [];
  if (opts.probes > 0) {
    const rng = new SeededRandom(opts.seed ?? 12345);
    const sum = new Float64Array(m);
    const sumSq = new Float64Array(m);
    const knownList = [...known.entries()];
    for (let k = 0; k < opts.probes; k++) {
      const z = Float64Array.from({ length: m }, () => (rng.random() < 0.5 ? -1 : 1));
      const cz = await solve(z, probeTol, null);
      if (!cz) continue;
      probes.push(z);
      probeSolutions.push(cz);
      // control variate: the exactly known columns' off-diagonal part, Σ_{l∈L} C_jl z_l (l ≠ j)
      const known = new Float64Array(m);
      for (const [l, c] of knownList) {
        const zl = z[l];
        for (let j = 0; j < m; j++) known[j] += c[j] * zl;
      }
      for (let j = 0; j < m; j++) {
        const self = exact[j] ? variance[j] * z[j] : 0; // l = j is part of Σ_L only when j is known
        const v = z[j] * (cz[j] - (known[j] - self));
        sum[j] += v;
        sumSq[j] += v * v;
      }
      log?.(`krylov errors: probe ${k + 1}/${opts.probes}`);
    }
    const K = probes.length;
    if (K > 0) {
      for (let j = 0; j < m; j++) {
        if (exact[j]) continue;
        const mean = sum[j] / K;
        variance[j] = mean;
        stderr[j] = K > 1 ? Math.sqrt(Math.max(0, sumSq[j] / K - mean * mean) / (K - 1)) : Number.NaN;
      }
    }
  }

  let edm: number | null = null;
  if (opts.gradient) {
    const s = await solve(opts.gradient, tol, null);
    if (s) {
      let d = 0;
      for (let i = 0; i < m; i++) d += opts.gradient[i] * s[i];
      edm = 0.5 * d;
    } else {
      edm = Number.NaN;
    }
  }
  return {
    m,
    columns,
    variance,
    varianceStdErr: stderr,
    exact,
    probes,
    probeSolutions,
    exactColumns: opts.keepExactColumns ? known : null,
    edm,
    solves,
    hvps,
    maxRelativeResidual: maxRes,
    notPositiveDefinite: notPd,
    preconditioner: solver.name,
  };
}
