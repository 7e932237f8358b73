/**
 * log κ from variation templates, and the ways of turning an up/down pair into what the tensor
 * stores (../shared/spec/tensor-format.md, "How a writer builds log κ from templates").
 */
import type { SystematicType } from "./types.js";

/** How an asymmetric up/down pair is stored. */
export type Symmetrization = "average" | "conservative" | "linear" | "quadratic" | "none";

export const SYMMETRIZATIONS: readonly Symmetrization[] = ["average", "conservative", "linear", "quadratic", "none"];

/** log κ used where nominal and variation have opposite signs (or the variation is zero): log(1e-3). */
export const LOGK_EPSILON = Math.log(1e-3);

/**
 * log κ of one variation template against the nominal, bin by bin.
 * log_normal: kfactor·log(var/nom), LOGK_EPSILON where nom·var ≤ 0; normal: kfactor·(var − nom).
 * Bins with nominal 0 get 0 in both cases (nothing to scale there).
 */
export function logKFromVariation(
  variation: ArrayLike<number>,
  nominal: ArrayLike<number>,
  systematicType: SystematicType,
  kfactor = 1,
): Float64Array {
  const n = nominal.length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const nom = nominal[i];
    const v = variation[i];
    if (nom === 0) continue;
    if (systematicType === "normal") {
      out[i] = kfactor * (v - nom);
    } else {
      out[i] = nom * v > 0 ? kfactor * Math.log(v / nom) : LOGK_EPSILON;
    }
  }
  return out;
}

/** What an up/down pair becomes. */
export interface SymmetrizedLogK {
  /** symmetric part, stored under the systematic's own name (or `<name>SymAvg` for linear/quadratic) */
  avg: Float64Array;
  /** asymmetric half-difference (mode "none" only), stored in the halfdiff columns */
  halfDiff: Float64Array | null;
  /** second symmetric nuisance `<name>SymDiff` (modes "linear" and "quadratic" only) */
  diff: Float64Array | null;
}

/**
 * Combines logkUp = logk(up) and logkDown = −logk(down) (the sign convention of the spec):
 * - average: ½(up + down), one symmetric nuisance;
 * - conservative: per bin, whichever of up and down is larger in magnitude;
 * - linear: two symmetric nuisances, SymAvg = ½(up + down) and SymDiff = ½(up − down);
 * - quadratic: as linear with SymDiff scaled by √3 (matches the variance of a quadratic dependence);
 * - none: keep the asymmetry: logkavg = ½(up + down), logkhalfdiff = ½(up − down).
 */
export function symmetrizeLogK(
  logkUp: ArrayLike<number>,
  logkDown: ArrayLike<number>,
  mode: Symmetrization,
): SymmetrizedLogK {
  const n = logkUp.length;
  const avg = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    avg[i] = mode === "conservative"
      ? (Math.abs(logkUp[i]) > Math.abs(logkDown[i]) ? logkUp[i] : logkDown[i])
      : 0.5 * (logkUp[i] + logkDown[i]);
  }
  if (mode === "average" || mode === "conservative") return { avg, halfDiff: null, diff: null };
  const scale = mode === "quadratic" ? Math.sqrt(3) : 1;
  const half = new Float64Array(n);
  for (let i = 0; i < n; i++) half[i] = 0.5 * scale * (logkUp[i] - logkDown[i]);
  return mode === "none" ? { avg, halfDiff: half, diff: null } : { avg, halfDiff: null, diff: half };
}
