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
   * Barlow–Beeston-lite k_b = (Σ_p sumw)² / Σ_p sumw2 per real bin; +Infinity where Σ sumw2 = 0
   * (no β for that bin). null when BB is off.
   */
  bbK: Float64Array | null;
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

/** Barlow–Beeston k_b for the real bins, or null when sumw2 is absent or all zero. */
export function barlowBeestonK(model: TensorModel): Float64Array | null {
  const { sumw2, nbins } = model;
  if (!sumw2) return null;
  const nproc = model.procs.length;
  const sumw = model.sumw ?? model.norm;
  const k = new Float64Array(nbins);
  let any = false;
  for (let b = 0; b < nbins; b++) {
    let sw = 0;
    let sw2 = 0;
    for (let p = 0; p < nproc; p++) {
      sw += sumw[b * nproc + p];
      sw2 += sumw2[b * nproc + p];
    }
    if (sw2 > 0) {
      k[b] = (sw * sw) / sw2;
      any = true;
    } else {
      k[b] = Number.POSITIVE_INFINITY;
    }
  }
  return any ? k : null;
}

export function buildLikelihoodSpec(model: TensorModel, opts: SpecOptions): LikelihoodSpec {
  const nsyst = model.systs.length;
  const k = barlowBeestonK(model);
  const useBB = opts.bbb ?? k !== null;
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
    bbK: useBB ? k : null,
    constraintWeights: model.constraintWeights,
    theta0: opts.theta0 ?? new Float64Array(nsyst),
    poiMode: opts.poiMode,
  };
}
