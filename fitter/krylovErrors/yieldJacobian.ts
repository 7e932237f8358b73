/**
 * The yield Jacobian J = ∂ν/∂x (rows bin·nproc + proc over all nbinsFull bins, columns the fit's
 * parameters) as products J·v and Jᵀ·w at a point, without storing J: what the no-dense-matrix
 * error mode needs for postfit yield uncertainties (Jᵀ C J by solves) and for a cheap
 * preconditioner. The formulas are the native evaluator's yield model (fitter/native/src/
 * evaluator.cpp setParams, forwardRows, rowD, binJacobian), which the native yieldVariances uses
 * with a dense C; tests check the two agree. The POI factor is r = x (linear) or x² (square);
 * asymmetric log κ enter as logkavg·θ + logkhalfdiff·θ·S(θ) with rabbit's smooth step S.
 * β (Barlow–Beeston) is not part of the yields, as in the native evaluator.
 */
import type { LikelihoodSpec } from "../likelihoodSpec.js";

/** rabbit's smooth step: S(θ) = t(3t⁴ − 10t² + 15)/8, t = 2θ, for |θ| < ½, sign(θ) outside; and S'. */
function smoothStep(th: number): { a: number; da: number } {
  if (Math.abs(th) < 0.5) {
    const t = 2 * th;
    const t2 = t * t;
    const a = Math.min(1, Math.max(-1, (t * (3 * t2 * t2 - 10 * t2 + 15)) / 8));
    return { a, da: (15 / 4) * (t2 - 1) * (t2 - 1) };
  }
  return { a: th > 0 ? 1 : -1, da: 0 };
}

export class YieldJacobian {
  readonly nrows: number;
  readonly nparams: number;
  private readonly spec: LikelihoodSpec;
  /** ν per row at the point */
  readonly nu: Float64Array;
  /** ∂ν/∂(log-normal exponent or additive shift) per row: ν (log-normal) or 1 (normal) */
  private readonly g: Float64Array;
  /** ∂ν/∂x_p of the POI of each signal row: r'(x_p)·m */
  private readonly poiD: Float64Array;
  /** per column of log κ: its coefficient in the row's derivative (1 for avg columns, κ_s for half-differences) */
  private readonly colScale: Float64Array;

  constructor(spec: LikelihoodSpec, x: Float64Array) {
    const { nbinsFull, nproc, nsig, nsyst } = spec;
    const n = nsig + nsyst;
    if (x.length !== n) throw new RangeError(`YieldJacobian: x has length ${x.length}, expected ${n}`);
    this.spec = spec;
    this.nparams = n;
    this.nrows = nbinsFull * nproc;
    const ncols = spec.symmetric ? nsyst : 2 * nsyst;
    // exponent coefficients a (value) and the derivative scale of each column
    const a = new Float64Array(ncols);
    this.colScale = new Float64Array(ncols).fill(1);
    for (let s = 0; s < nsyst; s++) a[s] = x[nsig + s];
    if (!spec.symmetric) {
      for (let s = 0; s < nsyst; s++) {
        const th = x[nsig + s];
        const st = smoothStep(th);
        a[nsyst + s] = th * st.a;
        this.colScale[nsyst + s] = st.a + th * st.da;
      }
    }
    const R = new Float64Array(nproc).fill(1);
    const dR = new Float64Array(nproc);
    for (let q = 0; q < nsig; q++) {
      R[q] = spec.poiMode === "square" ? x[q] * x[q] : x[q];
      dR[q] = spec.poiMode === "square" ? 2 * x[q] : 1;
    }
    const logNormal = spec.systematicType === "log_normal";
    const { rowPtr, cols, values } = spec.logk;
    this.nu = new Float64Array(this.nrows);
    this.g = new Float64Array(this.nrows);
    this.poiD = new Float64Array(this.nrows);
    for (let r = 0; r < this.nrows; r++) {
      let e = 0;
      for (let k = rowPtr[r]; k < rowPtr[r + 1]; k++) e += values[k] * a[cols[k]];
      const p = r % nproc;
      const m = logNormal ? spec.norm[r] * Math.exp(e) : spec.norm[r];
      const nu = logNormal ? R[p] * m : R[p] * spec.norm[r] + e;
      this.nu[r] = nu;
      this.g[r] = logNormal ? nu : 1;
      if (p < nsig) this.poiD[r] = dR[p] * m;
    }
  }

  /** column of log κ entry → parameter index */
  private param(col: number): number {
    const { nsig, nsyst } = this.spec;
    return nsig + (col >= nsyst ? col - nsyst : col);
  }

  /** (J v)_r for every row r */
  apply(v: Float64Array): Float64Array {
    const { nproc, nsig } = this.spec;
    const { rowPtr, cols, values } = this.spec.logk;
    const out = new Float64Array(this.nrows);
    for (let r = 0; r < this.nrows; r++) {
      let s = 0;
      for (let k = rowPtr[r]; k < rowPtr[r + 1]; k++) s += values[k] * this.colScale[cols[k]] * v[this.param(cols[k])];
      let d = this.g[r] * s;
      const p = r % nproc;
      if (p < nsig) d += this.poiD[r] * v[p];
      out[r] = d;
    }
    return out;
  }

  /** Jᵀ w (w per row) */
  applyTranspose(w: Float64Array): Float64Array {
    const { nproc, nsig } = this.spec;
    const { rowPtr, cols, values } = this.spec.logk;
    const out = new Float64Array(this.nparams);
    for (let r = 0; r < this.nrows; r++) {
      const wr = w[r];
      if (wr === 0) continue;
      const gw = this.g[r] * wr;
      for (let k = rowPtr[r]; k < rowPtr[r + 1]; k++) out[this.param(cols[k])] += gw * values[k] * this.colScale[cols[k]];
      const p = r % nproc;
      if (p < nsig) out[p] += this.poiD[r] * wr;
    }
    return out;
  }

  /**
   * J's rows explicitly, as sparse vectors over the reduced parameters (red: full index → reduced,
   * −1 = held: dropped), one per (bin, process) row or, with perBin, one per bin (the sum over its
   * processes); entries of a parameter met twice (log κ average and half-difference) merged. CSR.
   */
  sparseRows(red: Int32Array, perBin: boolean): { ptr: Float64Array; idx: Int32Array; val: Float64Array } {
    const { nproc, nsig, nbinsFull } = this.spec;
    const { rowPtr, cols, values } = this.spec.logk;
    const nout = perBin ? nbinsFull : this.nrows;
    const per = perBin ? nproc : 1;
    const acc = new Float64Array(this.nparams);
    const mark = new Uint8Array(this.nparams);
    const touched = new Int32Array(this.nparams);
    let ntouched = 0;
    const ptr = new Float64Array(nout + 1);
    // typed arrays of the upper bound (every log κ entry plus one POI entry per row): a large
    // model's J has more entries than a JS array may hold (130M on the 20k × 12k model)
    const bound = rowPtr[this.nrows] + this.nrows;
    const idx = new Int32Array(bound);
    const val = new Float64Array(bound);
    let nnz = 0;
    const touch = (j: number, v: number): void => {
      if (!mark[j]) {
        mark[j] = 1;
        touched[ntouched++] = j;
      }
      acc[j] += v;
    };
    for (let o = 0; o < nout; o++) {
      for (let r = o * per; r < (o + 1) * per; r++) {
        for (let k = rowPtr[r]; k < rowPtr[r + 1]; k++) touch(this.param(cols[k]), this.g[r] * values[k] * this.colScale[cols[k]]);
        const p = r % nproc;
        if (p < nsig) touch(p, this.poiD[r]);
      }
      const list = touched.subarray(0, ntouched).sort();
      for (const j of list) {
        if (red[j] >= 0 && acc[j] !== 0) {
          idx[nnz] = red[j];
          val[nnz++] = acc[j];
        }
        acc[j] = 0;
        mark[j] = 0;
      }
      ntouched = 0;
      ptr[o + 1] = nnz;
    }
    return { ptr, idx: idx.slice(0, nnz), val: val.slice(0, nnz) };
  }

  /**
   * An upper bound of Σ_rows k_r² (k_r = the row's entries), the multiply-adds of the rows' quadratic
   * forms, without building them: per (bin, process) row, or per bin with perBin.
   */
  quadraticFormCostBound(perBin: boolean): number {
    const { nproc, nsig, nbinsFull } = this.spec;
    const { rowPtr } = this.spec.logk;
    const nout = perBin ? nbinsFull : this.nrows;
    const per = perBin ? nproc : 1;
    let cost = 0;
    for (let o = 0; o < nout; o++) {
      let k = 0;
      for (let r = o * per; r < (o + 1) * per; r++) k += rowPtr[r + 1] - rowPtr[r] + (r % nproc < nsig ? 1 : 0);
      k = Math.min(k, this.nparams);
      cost += k * k;
    }
    return cost;
  }

  /** per-bin sums over processes of a per-row vector (length nbinsFull) */
  binTotals(perRow: Float64Array): Float64Array {
    const { nbinsFull, nproc } = this.spec;
    const out = new Float64Array(nbinsFull);
    for (let b = 0; b < nbinsFull; b++) {
      let s = 0;
      for (let p = 0; p < nproc; p++) s += perRow[b * nproc + p];
      out[b] = s;
    }
    return out;
  }

  /**
   * Diagonal of the expected (Fisher) information of the real bins, Σ_b (∂ν_b/∂x_j)²/ν_b, plus the
   * constraint weights: a positive, cheap stand-in for diag(H) as a Jacobi preconditioner (exact
   * for the Poisson part at n = ν; Barlow–Beeston profiling lowers the true curvature a little).
   */
  fisherDiagonal(): Float64Array {
    const { nbins, nproc, nsig, nsyst } = this.spec;
    const { rowPtr, cols, values } = this.spec.logk;
    const n = this.nparams;
    const out = new Float64Array(n);
    const acc = new Float64Array(n);
    const touched: number[] = [];
    const mark = new Uint8Array(n);
    for (let b = 0; b < nbins; b++) {
      let nub = 0;
      for (let p = 0; p < nproc; p++) {
        const r = b * nproc + p;
        nub += this.nu[r];
        for (let k = rowPtr[r]; k < rowPtr[r + 1]; k++) {
          const j = this.param(cols[k]);
          if (!mark[j]) {
            mark[j] = 1;
            touched.push(j);
          }
          acc[j] += this.g[r] * values[k] * this.colScale[cols[k]];
        }
        if (p < nsig) {
          if (!mark[p]) {
            mark[p] = 1;
            touched.push(p);
          }
          acc[p] += this.poiD[r];
        }
      }
      const inv = nub > 0 ? 1 / nub : 0;
      for (const j of touched) {
        out[j] += acc[j] * acc[j] * inv;
        acc[j] = 0;
        mark[j] = 0;
      }
      touched.length = 0;
    }
    for (let s = 0; s < nsyst; s++) out[nsig + s] += this.spec.constraintWeights[s];
    return out;
  }
}
