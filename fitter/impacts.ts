/**
 * Impacts on the POIs and NOIs from the float64 covariance C = H⁻¹ at the minimum, as combine and
 * rabbit report them (../shared/spec/likelihood.md, "Results and their definitions"):
 *
 *  - traditional ("profiled") impact of a systematic j on a target i: C_ij / √C_jj;
 *  - grouped impact of a group G: √(v_Gᵀ (C_GG)⁻¹ v_G), v_G = C_iG (Cholesky of C_GG, one per group);
 *  - "stat": √((H_SS)⁻¹)_ii with S = the POIs and the unconstrained parameters (a constrained target
 *    is added to S by a rank-one border), i.e. the error with every constrained nuisance fixed;
 *  - global impacts (arXiv:2307.04007): the impact of the auxiliary observable θ0_j of a constrained
 *    nuisance, √cw_j · C_ij; groups add them in quadrature, and the data-statistics part is
 *    √(C_ii − Σ_j (√cw_j C_ij)²).
 *
 * Parameters with zero (or non-finite) variance are frozen and take no part. Everything is float64.
 * `scale` (dμ/dx for square-mode POIs) multiplies every number of a target's row, so C and H can be
 * given in the minimiser's coordinates.
 */
import { CholeskyFactor } from "./denseLinalg.js";

export interface ImpactGroup {
  name: string;
  /** parameter indices of the members */
  indices: number[];
}

export interface ImpactOptions {
  /** parameter indices of the parameters the impacts are on (POIs and NOIs); frozen ones are dropped */
  targets: number[];
  /** parameter indices of the systematics whose impacts are reported; frozen ones are dropped */
  sources: number[];
  /** every parameter's name, length n */
  names: string[];
  groups: ImpactGroup[];
  /** Gaussian constraint weight of every parameter, length n: 0 for POIs and free parameters */
  constraintWeights: Float64Array;
  /** dμ/dx per parameter (length n); 1 when absent */
  scale?: Float64Array;
  /** the Hessian C was inverted from (row-major n × n, same coordinates); without it stat is NaN */
  hessian?: Float64Array;
  threads?: number;
}

/** Row-major tables, one row per target. */
export interface ImpactTable {
  /** target names and parameter indices */
  targets: string[];
  targetIndices: number[];
  /** impact sources (columns of `traditional` and `global`) */
  nuisances: string[];
  nuisanceIndices: number[];
  /** [ntargets, nnuisances]: C_ij / √C_jj */
  traditional: Float64Array;
  groups: string[];
  /** [ntargets, ngroups]: √(v_Gᵀ C_GG⁻¹ v_G) */
  grouped: Float64Array;
  /** [ntargets]: from the Hessian block of the POIs and the unconstrained parameters (NaN without H) */
  stat: Float64Array;
  /** whether each nuisance has an auxiliary observable (cw > 0); global impacts of the others are 0 */
  constrained: boolean[];
  /** [ntargets, nnuisances]: √cw_j · C_ij */
  global: Float64Array;
  /** [ntargets, ngroups]: the members' global impacts in quadrature */
  globalGrouped: Float64Array;
  /** [ntargets]: √(C_ii − Σ_j global_ij²), clamped at 0 */
  dataStat: Float64Array;
}

function isActive(cov: Float64Array, n: number, i: number): boolean {
  const v = cov[i * n + i];
  return Number.isFinite(v) && v > 0;
}

function submatrix(a: Float64Array, n: number, idx: number[]): Float64Array {
  const m = idx.length;
  const out = new Float64Array(m * m);
  for (let r = 0; r < m; r++) {
    const row = idx[r] * n;
    for (let c = 0; c < m; c++) out[r * m + c] = a[row + idx[c]];
  }
  return out;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** √(vᵀ A⁻¹ v) for each target row v = s_i A_iG, with one Cholesky factor of A_GG. */
function groupedColumn(cov: Float64Array, n: number, members: number[], targets: number[], scale: (i: number) => number, threads?: number): Float64Array {
  const out = new Float64Array(targets.length);
  if (members.length === 0) return out;
  const chol = CholeskyFactor.factor(submatrix(cov, n, members), members.length, { threads });
  if (!chol) return out.fill(Number.NaN);
  targets.forEach((t, k) => {
    const s = scale(t);
    const v = Float64Array.from(members, (j) => s * cov[t * n + j]);
    out[k] = Math.sqrt(Math.max(0, dot(v, chol.solve(v))));
  });
  return out;
}

/**
 * Stat impact per target: √((H_SS)⁻¹_tt), S = active parameters with cw = 0 (POIs, free
 * parameters, unconstrained NOIs). A constrained target t joins S by a border:
 * (H_{S+t})⁻¹_tt = 1 / (H_tt − h_tᵀ H_SS⁻¹ h_t), h_t = H_{S,t}. With BB the Hessian is that of the
 * profiled NLL (β̂(x)), so the MC-statistics part is inside "stat".
 */
function statColumn(h: Float64Array, n: number, unconstrained: number[], targets: number[], scale: (i: number) => number, threads?: number): Float64Array {
  const out = new Float64Array(targets.length).fill(Number.NaN);
  const pos = new Map(unconstrained.map((p, k) => [p, k]));
  const chol = unconstrained.length > 0 ? CholeskyFactor.factor(submatrix(h, n, unconstrained), unconstrained.length, { threads }) : null;
  if (unconstrained.length > 0 && !chol) return out;
  const inverseDiag = chol ? inverseDiagonal(chol, unconstrained.length) : null;
  targets.forEach((t, k) => {
    const s = scale(t);
    const at = pos.get(t);
    let variance: number;
    if (at !== undefined && inverseDiag) {
      variance = inverseDiag[at];
    } else {
      let schur = h[t * n + t];
      if (chol) {
        const border = Float64Array.from(unconstrained, (j) => h[j * n + t]);
        schur -= dot(border, chol.solve(border));
      }
      variance = schur > 0 ? 1 / schur : Number.NaN;
    }
    out[k] = Math.abs(s) * Math.sqrt(variance);
  });
  return out;
}

/** Diagonal of A⁻¹ from its factor (S is small: the POIs and the free parameters). */
function inverseDiagonal(chol: CholeskyFactor, m: number): Float64Array {
  const inv = chol.inverse();
  return Float64Array.from({ length: m }, (_, i) => inv[i * m + i]);
}

/** All impact tables on the targets; `cov` and `hessian` are row-major n × n. */
export function computeImpacts(cov: Float64Array, n: number, opts: ImpactOptions): ImpactTable {
  if (cov.length !== n * n) throw new RangeError(`computeImpacts: covariance has ${cov.length} entries, expected ${n * n}`);
  if (opts.names.length !== n || opts.constraintWeights.length !== n) throw new RangeError(`computeImpacts: names and constraintWeights need length ${n}`);
  if (opts.hessian && opts.hessian.length !== n * n) throw new RangeError(`computeImpacts: hessian has ${opts.hessian.length} entries, expected ${n * n}`);
  const scaleOf = (i: number): number => (opts.scale ? opts.scale[i] : 1);
  const cw = opts.constraintWeights;
  const active = (i: number): boolean => isActive(cov, n, i);
  const targets = opts.targets.filter(active);
  const nuisances = opts.sources.filter(active);
  const nt = targets.length;
  const nn = nuisances.length;
  const ng = opts.groups.length;

  const traditional = new Float64Array(nt * nn);
  const global = new Float64Array(nt * nn);
  const dataStat = new Float64Array(nt);
  const constrained = nuisances.map((j) => cw[j] > 0);
  targets.forEach((t, k) => {
    const s = scaleOf(t);
    let globalSquares = 0;
    nuisances.forEach((j, c) => {
      const cij = s * cov[t * n + j];
      traditional[k * nn + c] = cij / Math.sqrt(cov[j * n + j]);
      if (constrained[c]) {
        const g = Math.sqrt(cw[j]) * cij;
        global[k * nn + c] = g;
        globalSquares += g * g;
      }
    });
    // the rest of the variance: data statistics, plus (when on) the Barlow–Beeston MC statistics
    // and any external likelihood terms, which have no auxiliary observable here. Σ cw_j C_ij² ≤ C_ii
    // exactly (H ⪰ W), so a negative remainder is rounding.
    dataStat[k] = Math.sqrt(Math.max(0, s * s * cov[t * n + t] - globalSquares));
  });

  const grouped = new Float64Array(nt * ng);
  const globalGrouped = new Float64Array(nt * ng);
  const column = new Map(nuisances.map((j, c) => [j, c]));
  opts.groups.forEach((group, gi) => {
    const members = group.indices.filter(active);
    const col = groupedColumn(cov, n, members, targets, scaleOf, opts.threads);
    for (let k = 0; k < nt; k++) {
      grouped[k * ng + gi] = col[k];
      let sq = 0;
      for (const j of members) {
        const c = column.get(j);
        if (c !== undefined) sq += global[k * nn + c] ** 2;
        else if (cw[j] > 0) sq += (Math.sqrt(cw[j]) * scaleOf(targets[k]) * cov[targets[k] * n + j]) ** 2;
      }
      globalGrouped[k * ng + gi] = Math.sqrt(sq);
    }
  });

  let stat: Float64Array = new Float64Array(nt).fill(Number.NaN);
  if (opts.hessian) {
    const unconstrained: number[] = [];
    for (let i = 0; i < n; i++) if (active(i) && !(cw[i] > 0)) unconstrained.push(i);
    stat = statColumn(opts.hessian, n, unconstrained, targets, scaleOf, opts.threads);
  }

  return {
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
  };
}

/**
 * JSON keys of the groups and of the stat entry: the plain name unless it clashes with a nuisance
 * name (or an earlier key), then "group:<name>".
 */
export function impactKeys(table: ImpactTable): { groups: string[]; stat: string } {
  const used = new Set(table.nuisances);
  const claim = (name: string): string => {
    let key = used.has(name) ? `group:${name}` : name;
    for (let i = 2; used.has(key); i++) key = `group:${name}#${i}`;
    used.add(key);
    return key;
  };
  const groups = table.groups.map(claim);
  return { groups, stat: claim("stat") };
}

function finiteOrNull(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

/**
 * The fitresults.json entries: `impacts` {target: {nuisance | group | "stat": value}} (traditional,
 * grouped, stat) and `global_impacts` {target: {constrained nuisance | group | "stat": value}} where
 * "stat" is the data-statistics part. Non-finite values are null.
 */
export function impactsJson(table: ImpactTable): { impacts: Record<string, Record<string, number | null>>; global_impacts: Record<string, Record<string, number | null>> } {
  const keys = impactKeys(table);
  const nn = table.nuisances.length;
  const ng = table.groups.length;
  const impacts: Record<string, Record<string, number | null>> = {};
  const globalImpacts: Record<string, Record<string, number | null>> = {};
  table.targets.forEach((t, k) => {
    const row: Record<string, number | null> = {};
    const grow: Record<string, number | null> = {};
    table.nuisances.forEach((name, c) => {
      row[name] = finiteOrNull(table.traditional[k * nn + c]);
      if (table.constrained[c]) grow[name] = finiteOrNull(table.global[k * nn + c]);
    });
    keys.groups.forEach((key, g) => {
      row[key] = finiteOrNull(table.grouped[k * ng + g]);
      grow[key] = finiteOrNull(table.globalGrouped[k * ng + g]);
    });
    row[keys.stat] = finiteOrNull(table.stat[k]);
    grow[keys.stat] = finiteOrNull(table.dataStat[k]);
    impacts[t] = row;
    globalImpacts[t] = grow;
  });
  return { impacts, global_impacts: globalImpacts };
}
