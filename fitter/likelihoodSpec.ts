/**
 * Everything a likelihood evaluator needs, independent of how it computes (tfjs float32 or the
 * native float64 evaluator). Built once from a TensorModel and the fit options; see
 * ../shared/spec/likelihood.md for the formulas.
 *
 * Parameter vector x = (POIs: one per signal process, then systematics in file order).
 */
import type { LogKCsr, SystematicType, TensorModel } from "../src/tensor/types.js";

export type PoiMode = "linear" | "square";

export interface LikelihoodSpec {
  /** bins entering the NLL (real channels) */
  nbins: number;
  /** all bins whose yields are computed (masked channels after nbins) */
  nbinsFull: number;
  nproc: number;
  /** number of signal processes = number of POIs; they are processes 0..nsig-1 */
  nsig: number;
  nsyst: number;
  /** nominal yields, row-major [nbinsFull, nproc] */
  norm: Float64Array;
  /** log κ, rows bin * nproc + proc over nbinsFull bins */
  logk: LogKCsr;
  /** false when logk has half-difference columns (nsyst..2nsyst-1) */
  symmetric: boolean;
  systematicType: SystematicType;
  /** observed (or Asimov / pseudo) counts, length nbins */
  data: Float64Array;
  /**
   * Barlow–Beeston-lite k_b = (Σ_act sumw)² / Σ_act sumw2 per real bin over the processes with
   * sumw2 > 0; +Infinity where either sum is 0 (no β for that bin; the engines also treat k ≤ 0 so).
   * null when BB is off.
   */
  bbK: Float64Array | null;
  /**
   * Which processes Barlow–Beeston scales, row-major [nbins, nproc]: 1 where sumw2_bp > 0. Processes
   * without MC statistical uncertainty (0) are left out of k_b and not scaled by β_b (current rabbit,
   * bbstat.py). Absent or null: every process is scaled.
   */
  bbActive?: Uint8Array | null;
  /** 1 = Gaussian constraint, 0 = free, length nsyst */
  constraintWeights: Float64Array;
  /** centres of the constraints (global observables), length nsyst; zeros except in toys */
  theta0: Float64Array;
  poiMode: PoiMode;
}

export interface SpecOptions {
  poiMode: PoiMode;
  /** Barlow–Beeston-lite; default: on when sumw2 has a non-zero entry */
  bbb?: boolean;
  /** replaces the observed data (Asimov, pseudo-data, toys) */
  data?: Float64Array;
  theta0?: Float64Array;
}

/** Barlow–Beeston-lite inputs of the real bins: k_b and which processes β_b scales. */
export interface BarlowBeestonInputs {
  /** k_b = (Σ_act sumw)² / Σ_act sumw2; +Infinity where either sum is 0 (no β, rabbit's betamask) */
  k: Float64Array;
  /** [nbins, nproc], 1 = scaled by β; null when every process with a yield is */
  active: Uint8Array | null;
}

/**
 * k_b and the β-scaled processes (those with sumw2_bp > 0), or null when sumw2 is absent or all
 * zero. A process with sumw2_bp = 0 and norm_bp = 0 under log-normal systematics has ν_bp ≡ 0, so
 * whether β scales it makes no difference: it counts as scaled (keeps such bins on the fast path).
 */
export function barlowBeeston(model: TensorModel): BarlowBeestonInputs | null {
  const { sumw2, nbins } = model;
  if (!sumw2) return null;
  const nproc = model.procs.length;
  const sumw = model.sumw ?? model.norm;
  const k = new Float64Array(nbins);
  const active = new Uint8Array(nbins * nproc);
  const alwaysZero = (i: number): boolean => model.systematicType === "log_normal" && model.norm[i] === 0;
  let any = false;
  let split = false;
  for (let b = 0; b < nbins; b++) {
    let sw = 0;
    let sw2 = 0;
    let inactive = false;
    for (let p = 0; p < nproc; p++) {
      const i = b * nproc + p;
      if (sumw2[i] > 0) {
        active[i] = 1;
        sw += sumw[i];
        sw2 += sumw2[i];
      } else if (alwaysZero(i)) {
        active[i] = 1;
      } else {
        inactive = true;
      }
    }
    if (sw2 > 0 && sw !== 0) {
      k[b] = (sw * sw) / sw2;
      any = true;
      if (inactive) split = true;
    } else {
      k[b] = Number.POSITIVE_INFINITY;
    }
  }
  return any ? { k, active: split ? active : null } : null;
}

/** Barlow–Beeston k_b for the real bins, or null when sumw2 is absent or all zero (see barlowBeeston). */
export function barlowBeestonK(model: TensorModel): Float64Array | null {
  return barlowBeeston(model)?.k ?? null;
}

export function buildLikelihoodSpec(model: TensorModel, opts: SpecOptions): LikelihoodSpec {
  const nsyst = model.systs.length;
  const bb = barlowBeeston(model);
  const useBB = opts.bbb ?? bb !== null;
  return {
    nbins: model.nbins,
    nbinsFull: model.nbinsFull,
    nproc: model.procs.length,
    nsig: model.signals.length,
    nsyst,
    norm: model.norm,
    logk: model.logk,
    symmetric: model.symmetric,
    systematicType: model.systematicType,
    data: opts.data ?? model.dataObs,
    bbK: useBB && bb ? bb.k : null,
    bbActive: useBB && bb ? bb.active : null,
    constraintWeights: model.constraintWeights,
    theta0: opts.theta0 ?? new Float64Array(nsyst),
    poiMode: opts.poiMode,
  };
}
