/**
 * One toy, start to end: generate it (toyGeneration.ts), fit it from its generation point, and
 * pack what is kept into a flat Float64Array record (the unit that workers send back, checkpoints
 * hold and toys.hdf5 stores):
 *   [status (0 converged, 1 failed), nll, chi2, edm, iterations, hvps,
 *    values[nstored], errors[nstored], generated[nstored]]
 * in reported units (POIs as μ; square mode: μ = x², σ_μ = 2|x|σ_x).
 */
import { goodnessOfFit, ndfParameters } from "../results.js";
import type { RefitEngine } from "./refitEngine.js";
import { generateToy, type ToyGenerationConfig } from "./toyGeneration.js";

export const RECORD_HEADER = ["status", "nll", "chi2", "edm", "iterations", "hvps"] as const;
export const HEADER_LENGTH = RECORD_HEADER.length;

export interface ToyTaskConfig {
  generation: ToyGenerationConfig;
  /** indices of the parameters whose values and errors are kept */
  stored: number[];
  /** errors of every parameter from the dense covariance instead of CG solves for the stored ones */
  denseErrors: boolean;
}

export function recordLength(nstored: number): number {
  return HEADER_LENGTH + 3 * nstored;
}

/** μ = x² in square mode for POIs; the value otherwise */
function reported(engine: RefitEngine, i: number, x: number): number {
  return i < engine.npoi && engine.poiMode === "square" ? x * x : x;
}

function reportedError(engine: RefitEngine, i: number, x: number, sigma: number): number {
  return i < engine.npoi && engine.poiMode === "square" ? 2 * Math.abs(x) * sigma : sigma;
}

export async function runToy(engine: RefitEngine, cfg: ToyTaskConfig, index: number): Promise<Float64Array> {
  const toy = generateToy(cfg.generation, index, (x) => engine.binTotals(x));
  engine.setData(toy.data);
  engine.setTheta0(toy.theta0);
  engine.setBeta0(toy.beta0);
  const fit = await engine.minimize({ start: toy.xGen, covariance: cfg.denseErrors });
  const ns = cfg.stored.length;
  const rec = new Float64Array(recordLength(ns)).fill(Number.NaN);
  let hvps = fit.hvps;
  const sigma = new Float64Array(ns).fill(Number.NaN);
  const frozen = new Set(engine.frozen);
  if (fit.converged) {
    if (cfg.denseErrors) {
      const cov = fit.covariance;
      if (cov) cfg.stored.forEach((i, k) => (sigma[k] = frozen.has(i) ? 0 : Math.sqrt(cov[i * engine.n + i])));
    } else {
      const free = cfg.stored.filter((i) => !frozen.has(i));
      const v = await engine.targetVariances(fit.x, free);
      hvps += v.hvps;
      const byIndex = new Map(free.map((i, k) => [i, Math.sqrt(v.variances[k])]));
      cfg.stored.forEach((i, k) => (sigma[k] = frozen.has(i) ? 0 : (byIndex.get(i) ?? Number.NaN)));
    }
  }
  const ok = fit.converged && sigma.every((s) => Number.isFinite(s));
  rec[0] = ok ? 0 : 1;
  rec[1] = fit.nll;
  rec[2] = goodnessOfFit(fit.nll, engine.spec.nbins, ndfParameters(engine.spec.nsig, engine.spec.constraintWeights, frozen)).chi2;
  rec[3] = fit.edm;
  rec[4] = fit.iterations;
  rec[5] = hvps;
  cfg.stored.forEach((i, k) => {
    rec[HEADER_LENGTH + k] = reported(engine, i, fit.x[i]);
    rec[HEADER_LENGTH + ns + k] = reportedError(engine, i, fit.x[i], sigma[k]);
    rec[HEADER_LENGTH + 2 * ns + k] = reported(engine, i, toy.xGen[i]);
  });
  return rec;
}
