/**
 * Postfit yield uncertainties J C Jᵀ without a dense C (J = ∂ν/∂x, yieldJacobian.ts):
 *  - per channel sum (all processes, and per process): g = Jᵀ 1_channel, variance gᵀ C g by one
 *    CG solve H y = g each (exact up to the solve tolerance);
 *  - per bin and per (bin, process): the Hutchinson estimate (1/K) Σ_k (J C z_k)_r (J z_k)_r from the
 *    probe solutions C z_k of krylovErrors (unbiased: E[z zᵀ] = I), with the standard error of the
 *    mean over probes per entry.
 */
import type { ChannelInfo } from "../../src/tensor/types.js";
import { pcg, type HessianProduct, type Preconditioner } from "./pcg.js";
import type { YieldJacobian } from "./yieldJacobian.js";

export interface ChannelSumVariance {
  channel: string;
  /** Σ over the channel's bins of the total yield, and per process */
  total: number;
  totalVariance: number;
  perProcess: Float64Array;
  perProcessVariance: Float64Array;
}

export interface KrylovYieldVariances {
  /** estimates, [nbinsFull, nproc] and [nbinsFull] */
  perProcess: Float64Array;
  perProcessStdErr: Float64Array;
  total: Float64Array;
  totalStdErr: Float64Array;
  channelSums: ChannelSumVariance[];
  solves: number;
  hvps: number;
}

export interface KrylovYieldOptions {
  jacobian: YieldJacobian;
  nproc: number;
  channels: ChannelInfo[];
  /** reduced index → full index */
  freeIndices: Int32Array;
  /** probes and C z_k in the reduced space */
  probes: Float64Array[];
  probeSolutions: Float64Array[];
  /**
   * the probes are the unit vectors of the whole reduced space (probeSolutions the columns of C):
   * the per-bin variances are then the exact sums Σ_j (J C e_j)_r (J e_j)_r, with zero standard error
   */
  basis?: boolean;
  tolerance?: number;
  preconditioner?: Preconditioner;
  maxIterations?: number;
}

function expand(v: Float64Array, free: Int32Array, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let k = 0; k < free.length; k++) out[free[k]] = v[k];
  return out;
}

function reduce(v: Float64Array, free: Int32Array): Float64Array {
  return Float64Array.from(free, (i) => v[i]);
}

function meanAndStdErr(sum: Float64Array, sumSq: Float64Array, K: number): { mean: Float64Array; stderr: Float64Array } {
  const mean = sum.map((s) => s / K);
  const stderr = new Float64Array(sum.length).fill(Number.NaN);
  if (K > 1) for (let i = 0; i < sum.length; i++) stderr[i] = Math.sqrt(Math.max(0, sumSq[i] / K - mean[i] * mean[i]) / (K - 1));
  return { mean, stderr };
}

/** Hutchinson (or, with `basis`, exact) per-row and per-bin variances from the probe solutions. */
function probeVariances(o: KrylovYieldOptions): { rows: { mean: Float64Array; stderr: Float64Array }; bins: { mean: Float64Array; stderr: Float64Array } } {
  const J = o.jacobian;
  const n = J.nparams;
  const nrows = J.nrows;
  const nbins = nrows / o.nproc;
  const K = o.probes.length;
  const rowSum = new Float64Array(nrows);
  const rowSq = new Float64Array(nrows);
  const binSum = new Float64Array(nbins);
  const binSq = new Float64Array(nbins);
  for (let k = 0; k < K; k++) {
    const u = J.apply(expand(o.probeSolutions[k], o.freeIndices, n));
    const w = J.apply(expand(o.probes[k], o.freeIndices, n));
    for (let r = 0; r < nrows; r++) {
      const v = u[r] * w[r];
      rowSum[r] += v;
      rowSq[r] += v * v;
    }
    const ub = J.binTotals(u);
    const wb = J.binTotals(w);
    for (let b = 0; b < nbins; b++) {
      const v = ub[b] * wb[b];
      binSum[b] += v;
      binSq[b] += v * v;
    }
  }
  if (o.basis) return { rows: { mean: rowSum, stderr: new Float64Array(nrows) }, bins: { mean: binSum, stderr: new Float64Array(nbins) } };
  const nan = (len: number): Float64Array => new Float64Array(len).fill(Number.NaN);
  return {
    rows: K > 0 ? meanAndStdErr(rowSum, rowSq, K) : { mean: nan(nrows), stderr: nan(nrows) },
    bins: K > 0 ? meanAndStdErr(binSum, binSq, K) : { mean: nan(nbins), stderr: nan(nbins) },
  };
}

export async function krylovYieldVariances(hvp: HessianProduct, o: KrylovYieldOptions): Promise<KrylovYieldVariances> {
  const J = o.jacobian;
  const nrows = J.nrows;
  const { rows, bins } = probeVariances(o);
  let hvps = 0;
  let solves = 0;
  const counted: HessianProduct = async (v) => {
    hvps++;
    return await hvp(v);
  };
  const quad = async (rowWeights: Float64Array): Promise<number> => {
    const g = reduce(J.applyTranspose(rowWeights), o.freeIndices);
    const r = await pcg(counted, g, { tolerance: o.tolerance ?? 1e-10, preconditioner: o.preconditioner, maxIterations: o.maxIterations });
    solves++;
    if (r.negativeCurvature) return Number.NaN;
    let s = 0;
    for (let i = 0; i < g.length; i++) s += g[i] * r.x[i];
    return s;
  };
  const channelSums: ChannelSumVariance[] = [];
  for (const ch of o.channels) {
    const perProcess = new Float64Array(o.nproc);
    const perProcessVariance = new Float64Array(o.nproc);
    let total = 0;
    const all = new Float64Array(nrows);
    for (let p = 0; p < o.nproc; p++) {
      const w = new Float64Array(nrows);
      for (let b = ch.start; b < ch.start + ch.size; b++) {
        const r = b * o.nproc + p;
        w[r] = 1;
        all[r] = 1;
        perProcess[p] += J.nu[r];
      }
      total += perProcess[p];
      perProcessVariance[p] = o.nproc > 1 ? await quad(w) : Number.NaN;
    }
    const totalVariance = await quad(all);
    if (o.nproc === 1) perProcessVariance[0] = totalVariance;
    channelSums.push({ channel: ch.name, total, totalVariance, perProcess, perProcessVariance });
  }
  return { perProcess: rows.mean, perProcessStdErr: rows.stderr, total: bins.mean, totalStdErr: bins.stderr, channelSums, solves, hvps };
}
