/**
 * The structural sparsity pattern of the NLL's Hessian (../shared/spec/likelihood.md) over the full
 * parameter vector x = (POIs, systematics) as the LikelihoodEvaluator orders it, plus the choice of
 * the rows that are probed one by one ("dense rows").
 *
 * Why this is a superset of the non-zeros: the NLL is Σ_b f_b(ν_b1..ν_bP) over the real bins b
 * (Barlow–Beeston-lite profiles β_b per bin, so f_b still depends on bin b's yields only, also when
 * some processes are not scaled), plus ½ Σ cw_s (θ_s − θ0_s)² (diagonal) plus the external terms. So
 * H_ij = Σ_b [ Σ_pq ∂²f_b/∂ν_bp∂ν_bq ∂ν_bp/∂x_i ∂ν_bq/∂x_j + Σ_p ∂f_b/∂ν_bp ∂²ν_bp/∂x_i∂x_j ]
 * can be non-zero only when some real bin depends on both x_i and x_j (or the constraint / an
 * external term couples them). Bin b depends on
 *  - POI p (process p < nsig) when norm_bp ≠ 0 (ν_bp = r_p norm_bp · …, or r_p norm_bp + Σ θ logk),
 *  - systematic s when a log κ entry of a row (b, p) in column s (log κ avg) or nsyst + s
 *    (asymmetric half-difference) is non-zero, and ν_bp can be non-zero: always for normal
 *    systematics, only where norm_bp ≠ 0 for log-normal ones (ν_bp = norm_bp·exp(…) ≡ 0 otherwise).
 * A stored zero contributes θ·0 to ν or to its exponent, whose derivatives are exactly 0. Masked
 * bins (nbins..nbinsFull) do not enter the NLL. The diagonal is always stored.
 *
 * Scaling (issue 12: 50k parameters, ~10⁸ log κ entries, ~2000 neighbours per row): row i is the
 * union of the parameter sets P(b) of its bins. Taking every P(b) in full costs Σ_b |P(b)|² (10¹⁰
 * for the 50k model); instead, for each bin b of row i that directly follows the previous bin of
 * row i (b − 1), only the parameters entering at b, P(b) \ P(b − 1), are added: P(b − 1) is already
 * in. That is exact for any bin sets and costs about the row's length for systematics acting on
 * runs of neighbouring bins (the usual shape, local and global alike).
 */
import type { LikelihoodSpec } from "../likelihoodSpec.js";
import type { ResolvedExternalTerm } from "../externalTerms.js";
import type { SymmetricPattern } from "./symmetricCsr.js";

export interface HessianPatternOptions {
  /** the external terms added around the likelihood (session.externalTerms); they add their own couplings */
  externalTerms?: readonly ResolvedExternalTerm[];
}

/** A compressed list of integer sets: set r is items[start[r] .. start[r+1]). */
interface SetList {
  start: Int32Array | Float64Array;
  items: Int32Array;
}

/** P(b) for every real bin: the parameters its yields depend on (unsorted, no duplicates). */
function binParameters(spec: LikelihoodSpec): SetList {
  const { nbins, nproc, nsig, nsyst, norm, logk, systematicType } = spec;
  if (systematicType !== "log_normal" && systematicType !== "normal") {
    throw new RangeError(`hessianPattern: systematic type ${String(systematicType)} is not supported`);
  }
  if (spec.poiMode !== "linear" && spec.poiMode !== "square") {
    throw new RangeError(`hessianPattern: POI mode ${String(spec.poiMode)} is not supported`);
  }
  const ncols = spec.symmetric ? nsyst : 2 * nsyst;
  if (logk.ncols !== ncols) throw new RangeError(`hessianPattern: log κ has ${logk.ncols} columns, expected ${ncols}`);
  if (logk.rowPtr.length < nbins * nproc + 1) throw new RangeError(`hessianPattern: log κ has ${logk.rowPtr.length - 1} rows, expected at least ${nbins * nproc}`);
  if (norm.length < nbins * nproc) throw new RangeError(`hessianPattern: norm has ${norm.length} entries, expected at least ${nbins * nproc}`);
  const n = nsig + nsyst;
  const mark = new Int32Array(n).fill(-1);
  const start = new Float64Array(nbins + 1);
  // first pass counts, second fills (both cheap: one sweep over log κ each)
  let items = new Int32Array(0);
  for (let pass = 0; pass < 2; pass++) {
    mark.fill(-1);
    let total = 0;
    for (let b = 0; b < nbins; b++) {
      if (pass === 1) total = start[b];
      for (let p = 0; p < nproc; p++) {
        const row = b * nproc + p;
        const hasNorm = norm[row] !== 0;
        if (hasNorm && p < nsig && mark[p] !== b) {
          mark[p] = b;
          if (pass === 1) items[total] = p;
          total++;
        }
        if (!hasNorm && systematicType === "log_normal") continue;
        const k1 = logk.rowPtr[row + 1];
        for (let k = logk.rowPtr[row]; k < k1; k++) {
          if (logk.values[k] === 0) continue;
          const c = logk.cols[k];
          if (!(c >= 0 && c < ncols)) throw new RangeError(`hessianPattern: log κ row ${row} has column ${c} outside [0, ${ncols})`);
          const i = nsig + (c < nsyst ? c : c - nsyst);
          if (mark[i] !== b) {
            mark[i] = b;
            if (pass === 1) items[total] = i;
            total++;
          }
        }
      }
      if (pass === 0) start[b + 1] = start[b] + total, total = 0;
    }
    if (pass === 0) items = new Int32Array(start[nbins]);
  }
  return { start, items };
}

/** The transpose: for every parameter, its bins in ascending order. */
function transpose(sets: SetList, nsets: number, nitems: number): SetList {
  const count = new Float64Array(nitems + 1);
  for (let k = 0; k < sets.items.length; k++) count[sets.items[k] + 1]++;
  for (let i = 0; i < nitems; i++) count[i + 1] += count[i];
  const fill = count.slice(0, nitems);
  const items = new Int32Array(sets.items.length);
  for (let r = 0; r < nsets; r++) {
    for (let k = sets.start[r]; k < sets.start[r + 1]; k++) items[fill[sets.items[k]]++] = r;
  }
  return { start: count, items };
}

/** P(b) \ P(b − 1) for every bin (P(−1) = ∅). */
function enteringParameters(bins: SetList, nbins: number, n: number): SetList {
  const mark = new Int32Array(n).fill(-1);
  const start = new Float64Array(nbins + 1);
  let items = new Int32Array(0);
  for (let pass = 0; pass < 2; pass++) {
    mark.fill(-1);
    let total = 0;
    for (let b = 0; b < nbins; b++) {
      if (b > 0) for (let k = bins.start[b - 1]; k < bins.start[b]; k++) mark[bins.items[k]] = b;
      for (let k = bins.start[b]; k < bins.start[b + 1]; k++) {
        const i = bins.items[k];
        if (mark[i] !== b) {
          if (pass === 1) items[total] = i;
          total++;
        }
      }
      if (pass === 0) start[b + 1] = total;
    }
    if (pass === 0) items = new Int32Array(total);
  }
  return { start, items };
}

/** The external terms' couplings as symmetric adjacency lists (duplicates allowed). */
function externalCouplings(terms: readonly ResolvedExternalTerm[], n: number): SetList {
  const pairs: number[] = [];
  for (const t of terms) {
    const k = t.indices.length;
    for (const i of t.indices) if (!(i >= 0 && i < n)) throw new RangeError(`hessianPattern: external term ${t.name} names parameter ${i} outside [0, ${n})`);
    if (t.hess) {
      for (let a = 0; a < k; a++) {
        for (let b = 0; b < k; b++) if (t.hess[a * k + b] !== 0 || t.hess[b * k + a] !== 0) pairs.push(t.indices[a], t.indices[b]);
      }
    }
    const sp = t.hessSparse;
    if (sp) {
      // every stored entry counts (rabbit's hess_sparse), zero or not
      for (let e = 0; e < sp.values.length; e++) {
        const r = t.indices[sp.rows[e]];
        const c = t.indices[sp.cols[e]];
        pairs.push(r, c, c, r);
      }
    }
  }
  const start = new Float64Array(n + 1);
  for (let e = 0; e < pairs.length; e += 2) start[pairs[e] + 1]++;
  for (let i = 0; i < n; i++) start[i + 1] += start[i];
  const fill = start.slice(0, n);
  const items = new Int32Array(pairs.length / 2);
  for (let e = 0; e < pairs.length; e += 2) items[fill[pairs[e]]++] = pairs[e + 1];
  return { start, items };
}

export interface HessianPattern extends SymmetricPattern {
  /**
   * The parameters ordered by the first real bin they act on (those acting on none last), ties by
   * index: the order in which to colour the probes. Systematics acting on runs of neighbouring bins
   * then form an interval-like structure that greedy colouring in this order handles near-optimally,
   * where the file's order (random positions) needs ~20% more colours.
   */
  readonly binOrder: Int32Array;
}

/**
 * The Hessian's pattern over all nsig + nsyst parameters (both triangles, sorted rows, diagonal
 * present). Throws RangeError for a spec it cannot read (never a smaller pattern).
 */
export function hessianPattern(spec: LikelihoodSpec, opts: HessianPatternOptions = {}): HessianPattern {
  const n = spec.nsig + spec.nsyst;
  const nbins = spec.nbins;
  const bins = binParameters(spec);
  const paramBins = transpose(bins, nbins, n);
  const entering = enteringParameters(bins, nbins, n);
  const ext = externalCouplings(opts.externalTerms ?? [], n);
  const mark = new Int32Array(n).fill(-1);

  // writes row i's neighbours (each once, diagonal included) into out from pos (out null: counts only)
  const visitRow = (i: number, out: Int32Array | null, pos: number): number => {
    let count = 0;
    mark[i] = i;
    if (out) out[pos] = i;
    count++;
    let prev = -2;
    for (let k = paramBins.start[i]; k < paramBins.start[i + 1]; k++) {
      const b = paramBins.items[k];
      const set = b === prev + 1 ? entering : bins;
      const items = set.items;
      for (let q = set.start[b], q1 = set.start[b + 1]; q < q1; q++) {
        const j = items[q];
        if (mark[j] !== i) {
          mark[j] = i;
          if (out) out[pos + count] = j;
          count++;
        }
      }
      prev = b;
    }
    for (let q = ext.start[i]; q < ext.start[i + 1]; q++) {
      const j = ext.items[q];
      if (mark[j] !== i) {
        mark[j] = i;
        if (out) out[pos + count] = j;
        count++;
      }
    }
    return count;
  };

  const rowPtr = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) rowPtr[i + 1] = rowPtr[i] + visitRow(i, null, 0);
  const cols = new Int32Array(rowPtr[n]);
  mark.fill(-1);
  for (let i = 0; i < n; i++) {
    visitRow(i, cols, rowPtr[i]);
    cols.subarray(rowPtr[i], rowPtr[i + 1]).sort();
  }
  const firstBin = new Int32Array(n);
  for (let i = 0; i < n; i++) firstBin[i] = paramBins.start[i] < paramBins.start[i + 1] ? paramBins.items[paramBins.start[i]] : nbins;
  const binOrder = new Int32Array(n);
  for (let i = 0; i < n; i++) binOrder[i] = i;
  binOrder.sort((a, b) => firstBin[a] - firstBin[b] || a - b);
  return { n, rowPtr, cols, binOrder };
}

export interface DenseRowOptions {
  /** rows with more than this many stored entries are dense; default: chosen by estimated probe count (below) */
  threshold?: number;
}

/**
 * The rows to probe one by one. Every dense row costs one Hessian-vector product; the colouring of
 * the rest needs at least as many colours as the longest remaining row has entries in remaining
 * columns (they must all differ). Taking rows as dense longest first, the k-th choice costs about
 * k + (that longest remaining sparse part); the default takes the k that minimises this estimate
 * (the smallest such k), tracked in O(nnz) with buckets of sparse-part lengths. For the generated
 * local-systematics models this takes exactly the POIs and the global systematics (rows of length
 * ≈ n) and leaves the local ones (a few thousand entries); a fixed cut such as n/4 would keep rows of
 * n/5 entries sparse and so need n/5 colours, or make rows dense that cost more than they save.
 * Returns the dense rows ascending.
 */
export function chooseDenseRows(pattern: SymmetricPattern, opts: DenseRowOptions = {}): Int32Array {
  const { n, rowPtr, cols } = pattern;
  const degree = new Int32Array(n);
  for (let i = 0; i < n; i++) degree[i] = rowPtr[i + 1] - rowPtr[i];
  const isDense = new Uint8Array(n);
  if (opts.threshold !== undefined) {
    if (!(opts.threshold >= 0)) throw new RangeError(`chooseDenseRows: threshold must be ≥ 0, got ${opts.threshold}`);
    for (let i = 0; i < n; i++) if (degree[i] > opts.threshold) isDense[i] = 1;
  } else {
    const byLength = new Int32Array(n);
    for (let i = 0; i < n; i++) byLength[i] = i;
    byLength.sort((a, b) => degree[b] - degree[a] || a - b);
    // sparse[i]: entries of row i in columns not (yet) dense; count[v]: remaining rows with sparse[i] = v
    const sparse = Int32Array.from(degree);
    const count = new Int32Array(n + 2);
    for (let i = 0; i < n; i++) count[sparse[i]]++;
    let top = n + 1;
    while (top > 0 && count[top] === 0) top--;
    let bestK = 0;
    let bestCost = top;
    for (let k = 1; k <= n && k < bestCost; k++) {
      const r = byLength[k - 1];
      count[sparse[r]]--;
      isDense[r] = 1;
      for (let q = rowPtr[r]; q < rowPtr[r + 1]; q++) {
        const j = cols[q];
        if (isDense[j]) continue;
        count[sparse[j]]--;
        sparse[j]--;
        count[sparse[j]]++;
      }
      while (top > 0 && count[top] === 0) top--;
      if (k + top < bestCost) {
        bestCost = k + top;
        bestK = k;
      }
    }
    isDense.fill(0);
    for (let k = 0; k < bestK; k++) isDense[byLength[k]] = 1;
  }
  const dense: number[] = [];
  for (let i = 0; i < n; i++) if (isDense[i]) dense.push(i);
  return Int32Array.from(dense);
}
