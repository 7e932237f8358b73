/**
 * Pseudo-experiments (toys) in Combine's conventions:
 *
 *  - frequentist: the global observables of the constrained nuisances are randomised,
 *    θ0_s ~ N(θ_s^gen, 1/√cw_s), the data are Poisson(ν(x^gen)) and the toy is fitted with its θ0
 *    (Combine's --toysFrequentist, rabbit's default toys);
 *  - bayesian: the nuisances are drawn from their prior, θ_s^gen ~ N(θ_s^centre, 1/√cw_s), the
 *    data are Poisson(ν(x^gen)) and the fit keeps θ0 = 0 (Combine's default toys);
 *  - none: only the data are randomised.
 * x^centre is the prefit point (POIs at --expect-signal, θ = 0) or the best fit to the data
 * (--toys-from postfit). Unconstrained parameters and POIs are never randomised.
 *
 * Barlow–Beeston-lite (gamma) MC statistics: the constraint of β_b is the likelihood of an
 * auxiliary measurement k_b·β0_b of k_b·β_b (β0 = 1 for the real MC). We draw it as
 * k_b β0_b ~ Gamma(shape k_b β_b^gen, scale 1) (likelihood.md: "β0 randomised as Gamma"): the same
 * mean and variance as the Poisson count rabbit draws (rabbit's frequentistassign:
 * β0 = Poisson(k β)/k), but continuous, as k_b (an effective number of weighted MC events) is.
 * Bayesian toys draw β_b^gen ~ Gamma(k_b β_b^centre, 1)/k_b and scale the generated yields by it
 * (rabbit's bayesassign draws Gamma(k β0 + 1, 1)/k, the posterior for a flat prior; ours has mean
 * exactly β^centre). β^centre is 1 for prefit toys and β̂(x̂) of the fit to the data for postfit
 * toys; data are generated from β^gen·ν(x^gen).
 *
 * Each toy's random numbers come from SeededRandom.stream(seed, toy index), drawn in a fixed order
 * (θ: one normal per systematic; β: one gamma per bin with a β; data: one Poisson per bin), so a
 * toy is the same whichever worker fits it and whatever range it is part of.
 */
import { SeededRandom } from "../../src/tensor/seededRandom.js";

export type ToySyst = "frequentist" | "bayesian" | "none";
export type ToyDataMode = "poisson" | "asimov";
export type ToyFrom = "prefit" | "postfit";

export const TOY_SYST: readonly ToySyst[] = ["frequentist", "bayesian", "none"];
export const TOY_DATA: readonly ToyDataMode[] = ["poisson", "asimov"];
export const TOY_FROM: readonly ToyFrom[] = ["prefit", "postfit"];

export interface ToyGenerationConfig {
  seed: number;
  syst: ToySyst;
  data: ToyDataMode;
  npoi: number;
  /** Gaussian constraint weights of the systematics (0 = unconstrained), length nsyst */
  constraintWeights: Float64Array;
  /** BB k per real bin (+Infinity: no β there), null when BB is off */
  bbK: Float64Array | null;
  /** generation centre x^centre in the minimiser's coordinates (full vector) */
  centre: Float64Array;
  /** β^centre per real bin (null: 1 everywhere) */
  betaCentre: Float64Array | null;
}

export interface Toy {
  /** counts per real bin */
  data: Float64Array;
  /** global observables the toy is fitted with, length nsyst */
  theta0: Float64Array;
  /** BB auxiliary observables the toy is fitted with (null: all 1) */
  beta0: Float64Array | null;
  /** the point the toy was generated at (minimiser coordinates); pulls are taken against it */
  xGen: Float64Array;
}

/**
 * Generates toy `index`; `binTotals(x)` gives ν per real bin (processes summed, no β) at a point.
 */
export function generateToy(cfg: ToyGenerationConfig, index: number, binTotals: (x: Float64Array) => Float64Array): Toy {
  const rng = SeededRandom.stream(cfg.seed, index);
  const cw = cfg.constraintWeights;
  const nsyst = cw.length;
  const xGen = Float64Array.from(cfg.centre);
  const theta0 = new Float64Array(nsyst);
  for (let s = 0; s < nsyst; s++) {
    const z = rng.normal();
    if (!(cw[s] > 0)) continue;
    const sigma = 1 / Math.sqrt(cw[s]);
    if (cfg.syst === "frequentist") theta0[s] = cfg.centre[cfg.npoi + s] + sigma * z;
    else if (cfg.syst === "bayesian") xGen[cfg.npoi + s] = cfg.centre[cfg.npoi + s] + sigma * z;
  }
  const nu = binTotals(xGen);
  const nbins = nu.length;
  let beta0: Float64Array | null = null;
  const betaGen = new Float64Array(nbins).fill(1);
  if (cfg.betaCentre) betaGen.set(cfg.betaCentre);
  if (cfg.bbK && cfg.syst !== "none") {
    const k = cfg.bbK;
    if (cfg.syst === "frequentist") beta0 = new Float64Array(nbins).fill(1);
    for (let b = 0; b < nbins; b++) {
      if (!Number.isFinite(k[b]) || !(k[b] > 0)) continue;
      const shape = k[b] * betaGen[b];
      const draw = shape > 0 ? rng.gamma(shape) / k[b] : 0;
      if (cfg.syst === "frequentist") (beta0 as Float64Array)[b] = draw;
      else betaGen[b] = draw;
    }
  }
  const data = new Float64Array(nbins);
  for (let b = 0; b < nbins; b++) {
    const mean = Math.max(0, betaGen[b] * nu[b]);
    data[b] = cfg.data === "asimov" ? mean : rng.poisson(mean);
  }
  return { data, theta0, beta0, xGen };
}

/** β̂_b = (n_b + k_b)/(ν_b + k_b) of a fit (1 where a bin has no β): β^centre of postfit toys. */
export function profiledBeta(data: Float64Array, nu: Float64Array, bbK: Float64Array | null): Float64Array | null {
  if (!bbK) return null;
  const out = new Float64Array(data.length).fill(1);
  for (let b = 0; b < data.length; b++) {
    const k = bbK[b];
    if (Number.isFinite(k) && k > 0) out[b] = (data[b] + k) / (nu[b] + k);
  }
  return out;
}
