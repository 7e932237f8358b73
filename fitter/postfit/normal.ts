/**
 * The standard normal distribution in float64 with full relative accuracy in both tails (CLs
 * values of 1e-10 occur in expected bands): Φ and 1 − Φ from the regularised incomplete gamma
 * function (erfc(x) = Q(½, x²)), Φ⁻¹ from Acklam's rational approximation refined by Halley steps.
 * No npm package with these functions is a dependency of the project; they are a few lines here.
 */
import { regularizedGammaQ } from "../results.js";

/** Φ(z) = P(Z ≤ z). */
export function normalCdf(z: number): number {
  if (Number.isNaN(z)) return Number.NaN;
  if (z === 0) return 0.5;
  const half = 0.5 * regularizedGammaQ(0.5, 0.5 * z * z);
  return z < 0 ? half : 1 - half;
}

/** 1 − Φ(z) = P(Z > z), accurate for large z. */
export function normalSf(z: number): number {
  return normalCdf(-z);
}

const A = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
const B = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
const C = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
const D = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];

/** Φ⁻¹(p) for 0 < p < 1 (±Infinity at 0 and 1). */
export function normalQuantile(p: number): number {
  if (!(p >= 0 && p <= 1)) return Number.NaN;
  if (p === 0) return Number.NEGATIVE_INFINITY;
  if (p === 1) return Number.POSITIVE_INFINITY;
  const plow = 0.02425;
  let x: number;
  if (p < plow) {
    const q = Math.sqrt(-2 * Math.log(p));
    x = (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1);
  } else if (p <= 1 - plow) {
    const q = p - 0.5;
    const r = q * q;
    x = ((((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q) / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1);
  } else {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    x = -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1);
  }
  // Halley refinement on the tail that is accurate (p or 1 − p, whichever is smaller)
  for (let k = 0; k < 3; k++) {
    const e = p < 0.5 ? normalCdf(x) - p : -(normalSf(x) - (1 - p));
    const u = e * Math.sqrt(2 * Math.PI) * Math.exp(0.5 * x * x);
    x = x - u / (1 + 0.5 * x * u);
  }
  return x;
}

/**
 * 2ΔNLL of a two-parameter (2 dof) profile contour at `nsigma` Gaussian standard deviations:
 * the χ²₂ quantile of the two-sided coverage erf(n/√2), i.e. −2 ln(1 − coverage)
 * (1σ → 2.2958, 2σ → 6.1801).
 */
export function chi2TwoDofLevel(nsigma: number): number {
  // 1 − coverage = 2·(1 − Φ(n))
  return -2 * Math.log(2 * normalSf(nsigma));
}
