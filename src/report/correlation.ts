/**
 * The correlation block the report shows: the POIs/NOIs and the nuisances most correlated with
 * them (or, for fits small enough to read the whole covariance, with anything), derived here from
 * the stored covariance (the HDF5 need not hold a correlation matrix).
 */
import type { CorrelationPayload } from "./types.js";

/** Up to this many parameters the whole covariance is scanned (n² doubles; 1500² = 18 MB). */
export const FULL_SCAN_MAX = 1500;

export interface CorrelationInput {
  names: string[];
  kinds: string[];
  /** rows [start, stop) of the n × n covariance */
  rows: (start: number, stop: number) => Float64Array;
  /** how many non-target parameters to show */
  top: number;
}

function sqrtPos(v: number): number {
  return Number.isFinite(v) && v > 0 ? Math.sqrt(v) : Number.NaN;
}

/** corr_ij = cov_ij / √(cov_ii cov_jj); null where a variance is zero or not finite. */
function corr(cov: number, vi: number, vj: number): number | null {
  const d = sqrtPos(vi) * sqrtPos(vj);
  const c = cov / d;
  return Number.isFinite(c) ? Math.max(-1, Math.min(1, c)) : null;
}

export function correlationBlock(input: CorrelationInput): CorrelationPayload | null {
  const { names, kinds, top } = input;
  const cache = new Map<number, Float64Array>();
  // single rows are read once each (the ranking and the matrix both need them)
  const row1 = (i: number): Float64Array => {
    let r = cache.get(i);
    if (r === undefined) cache.set(i, (r = input.rows(i, i + 1)));
    return r;
  };
  const rows = (start: number, stop: number): Float64Array => (stop === start + 1 ? row1(start) : input.rows(start, stop));
  const n = names.length;
  if (n === 0) return null;
  const targets = kinds.flatMap((k, i) => (k === "poi" || k === "noi" ? [i] : []));
  const score = new Float64Array(n);
  const diag = new Float64Array(n).fill(Number.NaN);
  let note: string;
  if (n <= FULL_SCAN_MAX) {
    const all = rows(0, n);
    for (let i = 0; i < n; i++) diag[i] = all[i * n + i];
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        if (i === j) continue;
        const c = corr(all[i * n + j], diag[i], diag[j]);
        if (c !== null) score[i] = Math.max(score[i], Math.abs(c));
      }
    }
    note = `POIs/NOIs and the ${top} other parameters with the largest |correlation| to any parameter`;
  } else {
    // large fits: only the targets' rows are read (a full pass costs seconds); candidates ranked by
    // |cov_tj| are then normalised by σ_j from their own rows
    note = `POIs/NOIs and the ${top} parameters most correlated with them`;
    for (const t of targets) {
      const row = rows(t, t + 1);
      diag[t] = row[t];
      for (let j = 0; j < n; j++) if (j !== t) score[j] = Math.max(score[j], Math.abs(row[j]));
    }
  }
  const others = [...Array(n).keys()].filter((i) => !targets.includes(i) && score[i] > 0);
  if (n > FULL_SCAN_MAX) {
    // |cov_tj| ranks by covariance; normalise by σ_j, read from each candidate's diagonal block
    const cand = others.sort((a, b) => score[b] - score[a]).slice(0, 2 * top);
    for (const j of cand) {
      diag[j] = rows(j, j + 1)[j];
      score[j] = score[j] / sqrtPos(diag[j]);
      if (!Number.isFinite(score[j])) score[j] = 0;
    }
    others.length = 0;
    others.push(...cand);
  }
  others.sort((a, b) => score[b] - score[a]);
  const chosen = [...targets, ...others.slice(0, top)];
  const m = chosen.length;
  const matrix: (number | null)[] = new Array<number | null>(m * m).fill(null);
  const chosenRows = new Map<number, Float64Array>();
  for (const i of chosen) {
    const row = rows(i, i + 1);
    chosenRows.set(i, row);
    diag[i] = row[i];
  }
  chosen.forEach((i, a) => {
    const row = chosenRows.get(i)!;
    chosen.forEach((j, b) => {
      matrix[a * m + b] = a === b ? (Number.isFinite(sqrtPos(diag[i])) ? 1 : null) : corr(row[j], diag[i], diag[j]);
    });
  });
  return { names: chosen.map((i) => names[i]), matrix, note };
}
