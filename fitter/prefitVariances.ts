/**
 * Prefit yield variances without a dense covariance. At the prefit point (θ = 0) the prefit
 * covariance is diagonal (1/cw for constrained systematics, 0 for POIs and free parameters) and
 * ∂ν_bp/∂θ_s = ν_bp·logkavg_bps (log-normal; the asymmetric term θ·α(θ) has zero slope at 0) or
 * logk_bps (normal), so Jᵀ C J reduces to sums over the non-zero log κ: O(nnz) instead of the
 * O(nnz · nparams) of the general propagation.
 */
import type { LikelihoodSpec } from "./likelihoodSpec.js";

export interface YieldVariances {
  /** per (bin, process), row-major [nbinsFull, nproc] */
  perProcess: Float64Array;
  /** per bin, processes summed (their correlations included) */
  total: Float64Array;
}

/**
 * Variances of ν_bp and ν_b at θ = 0 from the constraint widths alone.
 * `yields` holds ν_bp at the prefit point ([nbinsFull, nproc]).
 */
export function prefitYieldVariances(spec: LikelihoodSpec, yields: Float64Array): YieldVariances {
  const { nbinsFull, nproc, nsyst, logk, constraintWeights } = spec;
  const logNormal = spec.systematicType === "log_normal";
  const perProcess = new Float64Array(nbinsFull * nproc);
  const total = new Float64Array(nbinsFull);
  // per-bin accumulation of Σ_p J_bp,s over the systematics touched in that bin
  const binDerivative = new Float64Array(nsyst);
  const touched = new Int32Array(nsyst);
  const isTouched = new Uint8Array(nsyst);
  for (let b = 0; b < nbinsFull; b++) {
    let ntouched = 0;
    for (let p = 0; p < nproc; p++) {
      const row = b * nproc + p;
      const scale = logNormal ? yields[row] : 1;
      let variance = 0;
      for (let k = logk.rowPtr[row]; k < logk.rowPtr[row + 1]; k++) {
        const s = logk.cols[k];
        if (s >= nsyst) continue; // half-difference part: no slope at θ = 0
        const cw = constraintWeights[s];
        if (!(cw > 0)) continue;
        const d = scale * logk.values[k];
        variance += (d * d) / cw;
        if (!isTouched[s]) {
          isTouched[s] = 1;
          touched[ntouched++] = s;
        }
        binDerivative[s] += d;
      }
      perProcess[row] = variance;
    }
    let binVariance = 0;
    for (let t = 0; t < ntouched; t++) {
      const s = touched[t];
      binVariance += (binDerivative[s] * binDerivative[s]) / constraintWeights[s];
      binDerivative[s] = 0;
      isTouched[s] = 0;
    }
    total[b] = binVariance;
  }
  return { perProcess, total };
}
