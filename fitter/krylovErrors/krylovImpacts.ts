/**
 * The impact tables of impacts.ts (same quantities, same ImpactTable) from Krylov solves instead of
 * a dense C = H⁻¹:
 *
 *  - traditional C_tj/√C_jj: C_tj from the target's column (exact); C_jj exact for the nuisances
 *    with an exact variance, the stochastic estimate otherwise (`traditionalStdErr` carries the
 *    propagated standard error, 0 where exact);
 *  - grouped √(v_Gᵀ C_GG⁻¹ v_G) = √(C_tt − ((H_ḠḠ)⁻¹)_tt): the variance with the group's members held
 *    fixed is the inverse of H restricted to the other parameters (Schur complement), one solve per
 *    target and group (exact up to the solve tolerance; cancellation when the group's impact is
 *    below ~√tol·σ_t);
 *  - stat √((H_SS)⁻¹_tt), S = the active unconstrained parameters (plus t), one restricted solve per
 *    target (exact);
 *  - global √cw_j C_tj, their quadrature sums, and the data-statistics remainder (exact).
 *
 * Restricted solves use A = P H P + (I − P) with P the projector on the kept parameters: SPD, and
 * A⁻¹ e_t = (H_kept)⁻¹ e_t on the kept set.
 */
import { CholeskyFactor } from "../denseLinalg.js";
import type { ImpactGroup, ImpactTable } from "../impacts.js";
import type { KrylovErrors } from "./krylovErrors.js";
import { pcg, type HessianProduct, type Preconditioner } from "./pcg.js";
import { schurSolver } from "./schurSolver.js";
import type { RestrictedFactor } from "./sparseDirect.js";

export interface KrylovImpactOptions {
  /** full indices of the targets (POIs/NOIs); those not free or without a column are dropped */
  targets: number[];
  /** full indices of the impact sources (systematics) */
  sources: number[];
  names: string[];
  groups: ImpactGroup[];
  /** full length n */
  constraintWeights: Float64Array;
  /** dμ/dx per full index */
  scale: Float64Array;
  /** full index → reduced index (−1 for held parameters) */
  reducedIndex: Int32Array;
  /** reduced indices the KrylovErrors columns were solved for (same order as its columns) */
  columnTargets: number[];
  tolerance?: number;
  preconditioner?: Preconditioner;
  maxIterations?: number;
  /** reduced indices to eliminate by block elimination in the grouped impacts' solves (POIs, unconstrained) */
  stiff?: number[];
  /**
   * a factor of the restricted matrix P H P + (I − P) for a kept mask (sparseDirect.ts), used as the
   * preconditioner of the restricted solves (exact answer in 1–2 iterations); null: the CG path
   */
  restricted?: (kept: Uint8Array) => RestrictedFactor | null;
  /** C e_j for a reduced index j by one solve (null when it failed) */
  columnSolve?: (j: number) => Promise<Float64Array | null>;
  /**
   * whether a group with this many free members is cheaper by |G| column solves, √(v_Gᵀ C_GG⁻¹ v_G)
   * (the dense path's formula), than by a restricted solve per target; needs columnSolve
   */
  groupedBySolves?: (members: number) => boolean;
}

export interface KrylovImpacts {
  table: ImpactTable;
  /** per nuisance (table order): whether its C_jj (hence its traditional impacts) is exact */
  nuisanceExact: boolean[];
  /** [ntargets, nnuisances]: standard error of the traditional impact from that of C_jj */
  traditionalStdErr: Float64Array;
  solves: number;
  hvps: number;
}

/** (A_kept)⁻¹ e_t restricted-solve value at t, where kept is a mask over the reduced space. */
async function restrictedInverseEntry(
  hvp: HessianProduct,
  m: number,
  kept: Uint8Array,
  t: number,
  opts: { tolerance: number; preconditioner?: Preconditioner; maxIterations?: number; stiff?: number[]; restrictedFactor?: Preconditioner | null },
): Promise<number> {
  const project = (v: Float64Array): Float64Array => {
    const out = Float64Array.from(v);
    for (let i = 0; i < m; i++) if (!kept[i]) out[i] = 0;
    return out;
  };
  const op: HessianProduct = async (v) => {
    const hv = await hvp(project(v));
    for (let i = 0; i < m; i++) if (!kept[i]) hv[i] = v[i];
    return hv;
  };
  const pre = opts.preconditioner;
  const restrictedPre: Preconditioner | undefined = pre && {
    name: pre.name,
    apply: (r) => {
      const out = pre.apply(project(r));
      for (let i = 0; i < m; i++) if (!kept[i]) out[i] = r[i];
      return out;
    },
  };
  const e = new Float64Array(m);
  e[t] = 1;
  if (opts.restrictedFactor) {
    const r = await pcg(op, e, { tolerance: opts.tolerance, preconditioner: opts.restrictedFactor, maxIterations: opts.maxIterations });
    return r.negativeCurvature ? Number.NaN : r.x[t];
  }
  // with stiff parameters (all kept, t among them), block elimination: e_t is zero on the rest, so
  // the answer costs only the set-up solves (schurSolver.ts)
  const stiff = opts.stiff?.filter((i) => kept[i]) ?? [];
  if (stiff.length > 0 && stiff.includes(t)) {
    const solver = await schurSolver(op, m, stiff, { tolerance: opts.tolerance, maxIterations: opts.maxIterations });
    const rs = await solver.solve(e, opts.tolerance);
    return rs.negativeCurvature ? Number.NaN : rs.x[t];
  }
  const r = await pcg(op, e, { tolerance: opts.tolerance, preconditioner: restrictedPre, maxIterations: opts.maxIterations });
  return r.negativeCurvature ? Number.NaN : r.x[t];
}

/**
 * Grouped impacts √(v_Gᵀ C_GG⁻¹ v_G) (v_G = s·C_Gt) from the members' columns of C: |G| solves per
 * group, no restricted system; null when a solve fails or C_GG is not positive definite.
 */
async function groupedFromColumns(
  members: number[],
  targets: number[],
  kept: Uint8Array,
  columnSolve: (j: number) => Promise<Float64Array | null>,
  columnOf: Map<number, Float64Array>,
  red: Int32Array,
  cov: (t: number, j: number) => number,
  scale: Float64Array,
): Promise<{ values: Float64Array; solves: number } | null> {
  const g = members.length;
  let solves = 0;
  const cols: Float64Array[] = [];
  for (const j of members) {
    let c = columnOf.get(red[j]) ?? null;
    if (!c) {
      c = await columnSolve(red[j]);
      solves++;
    }
    if (!c) return null;
    cols.push(c);
  }
  const cgg = new Float64Array(g * g);
  for (let a = 0; a < g; a++) for (let b = 0; b < g; b++) cgg[a * g + b] = 0.5 * (cols[a][red[members[b]]] + cols[b][red[members[a]]]);
  const f = CholeskyFactor.factor(cgg, g, { threads: 1 });
  if (!f) return null;
  const values = Float64Array.from(targets, (t) => {
    const s = Math.abs(scale[t]);
    if (!kept[red[t]]) return s * Math.sqrt(cov(t, t));
    const v = Float64Array.from(members, (j) => cov(t, j));
    const y = f.solve(v);
    let q = 0;
    for (let a = 0; a < g; a++) q += v[a] * y[a];
    return s * Math.sqrt(Math.max(0, q));
  });
  return { values, solves };
}

export async function krylovImpacts(hvp: HessianProduct, errors: KrylovErrors, opts: KrylovImpactOptions): Promise<KrylovImpacts> {
  const m = errors.m;
  const red = opts.reducedIndex;
  const cw = opts.constraintWeights;
  const tolerance = opts.tolerance ?? 1e-11;
  let hvps = 0;
  let solves = 0;
  const counted: HessianProduct = async (v) => {
    hvps++;
    return await hvp(v);
  };
  const solveOpts = { tolerance, preconditioner: opts.preconditioner, maxIterations: opts.maxIterations };
  const columnOf = new Map<number, Float64Array>();
  opts.columnTargets.forEach((t, k) => columnOf.set(t, errors.columns[k]));
  // free parameters take part (held ones, red < 0, do not), whether or not their variance is known:
  // a nuisance without one still has global and grouped impacts; its traditional impact is NaN
  const active = (i: number): boolean => red[i] >= 0;
  const targets = opts.targets.filter((t) => active(t) && columnOf.has(red[t]) && errors.variance[red[t]] > 0);
  const nuisances = opts.sources.filter(active);
  const nt = targets.length;
  const nn = nuisances.length;
  const ng = opts.groups.length;
  const cov = (t: number, j: number): number => (columnOf.get(red[t]) as Float64Array)[red[j]];

  const traditional = new Float64Array(nt * nn);
  const traditionalStdErr = new Float64Array(nt * nn);
  const global = new Float64Array(nt * nn);
  const dataStat = new Float64Array(nt);
  const constrained = nuisances.map((j) => cw[j] > 0);
  const nuisanceExact = nuisances.map((j) => errors.exact[red[j]] === 1);
  targets.forEach((t, k) => {
    const s = opts.scale[t];
    let globalSquares = 0;
    nuisances.forEach((j, c) => {
      const cij = s * cov(t, j);
      const vj = errors.variance[red[j]];
      const impact = cij / Math.sqrt(vj);
      traditional[k * nn + c] = impact;
      // d(C/√V)/dV = −½ C V^{-3/2}: the relative error of the impact is half that of V
      traditionalStdErr[k * nn + c] = Math.abs(impact) * 0.5 * (errors.varianceStdErr[red[j]] / vj);
      if (constrained[c]) {
        const g = Math.sqrt(cw[j]) * cij;
        global[k * nn + c] = g;
        globalSquares += g * g;
      }
    });
    dataStat[k] = Math.sqrt(Math.max(0, s * s * cov(t, t) - globalSquares));
  });

  const grouped = new Float64Array(nt * ng);
  const globalGrouped = new Float64Array(nt * ng);
  for (let gi = 0; gi < ng; gi++) {
    const members = opts.groups[gi].indices.filter(active);
    const kept = new Uint8Array(m).fill(1);
    for (const j of members) kept[red[j]] = 0;
    if (members.length > 0 && opts.columnSolve && opts.groupedBySolves?.(members.length)) {
      const bySolves = await groupedFromColumns(members, targets, kept, opts.columnSolve, columnOf, red, cov, opts.scale);
      if (bySolves) {
        solves += bySolves.solves;
        for (let k = 0; k < nt; k++) {
          grouped[k * ng + gi] = bySolves.values[k];
          let sq = 0;
          for (const j of members) if (cw[j] > 0) sq += (Math.sqrt(cw[j]) * opts.scale[targets[k]] * cov(targets[k], j)) ** 2;
          globalGrouped[k * ng + gi] = Math.sqrt(sq);
        }
        continue;
      }
    }
    // one restricted factorisation per group, shared by its targets
    const factor = members.length > 0 && targets.some((t) => kept[red[t]]) ? (opts.restricted?.(kept) ?? null) : null;
    for (let k = 0; k < nt; k++) {
      const t = targets[k];
      const s = opts.scale[t];
      const ctt = cov(t, t);
      let value: number;
      if (members.length === 0) value = 0;
      else if (!kept[red[t]]) value = Math.abs(s) * Math.sqrt(ctt);
      else {
        const fixedVariance = await restrictedInverseEntry(counted, m, kept, red[t], { ...solveOpts, stiff: opts.stiff, restrictedFactor: factor?.preconditioner });
        solves++;
        value = Math.abs(s) * Math.sqrt(Math.max(0, ctt - fixedVariance));
      }
      grouped[k * ng + gi] = value;
      let sq = 0;
      for (const j of members) if (cw[j] > 0) sq += (Math.sqrt(cw[j]) * s * cov(t, j)) ** 2;
      globalGrouped[k * ng + gi] = Math.sqrt(sq);
    }
    factor?.dispose();
  }

  const stat = new Float64Array(nt).fill(Number.NaN);
  const unconstrained = new Uint8Array(m);
  for (let i = 0; i < red.length; i++) if (active(i) && !(cw[i] > 0)) unconstrained[red[i]] = 1;
  // targets that are themselves unconstrained (POIs) share one mask, hence one restricted factor
  let statMask: Uint8Array | null = null;
  let statFactor: RestrictedFactor | null = null;
  for (let k = 0; k < nt; k++) {
    const t = targets[k];
    const kept = Uint8Array.from(unconstrained);
    kept[red[t]] = 1;
    if (opts.restricted && (statMask === null || !kept.every((v, i) => v === statMask![i]))) {
      statFactor?.dispose();
      statFactor = opts.restricted(kept);
      statMask = kept;
    }
    const v = await restrictedInverseEntry(counted, m, kept, red[t], { ...solveOpts, restrictedFactor: statFactor?.preconditioner });
    solves++;
    stat[k] = v > 0 ? Math.abs(opts.scale[t]) * Math.sqrt(v) : Number.NaN;
  }
  statFactor?.dispose();

  return {
    table: {
      targets: targets.map((t) => opts.names[t]),
      targetIndices: targets,
      nuisances: nuisances.map((j) => opts.names[j]),
      nuisanceIndices: nuisances,
      traditional,
      groups: opts.groups.map((g) => g.name),
      grouped,
      stat,
      constrained,
      global,
      globalGrouped,
      dataStat,
    },
    nuisanceExact,
    traditionalStdErr,
    solves,
    hvps,
  };
}
