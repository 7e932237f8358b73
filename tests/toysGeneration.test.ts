/**
 * Toy generation and the BB auxiliary β0 of frequentist toys: per-toy random streams, the moments
 * of the randomised global observables, β0 and data, and the native NLL with β0 against a direct
 * evaluation of k(β − β0) − kβ0 log(β/β0) at the profiled β̂ = (n + kβ0)/(ν + k), its gradient
 * against finite differences.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Float64Evaluator } from "../fitter/Float64Evaluator.js";
import { buildLikelihoodSpec, type LikelihoodSpec } from "../fitter/likelihoodSpec.js";
import { generateToy, profiledBeta, type ToyGenerationConfig } from "../fitter/toys/toyGeneration.js";
import { SeededRandom } from "../src/tensor/seededRandom.js";
import { readTensor } from "../src/tensor/TensorReader.js";
import type { TensorModel } from "../src/tensor/types.js";

const here = dirname(fileURLToPath(import.meta.url));

describe("SeededRandom.stream", () => {
  it("depends only on (seed, index)", () => {
    const draw = (seed: number, i: number): number[] => {
      const r = SeededRandom.stream(seed, i);
      return [r.nextUint32(), r.nextUint32(), r.nextUint32()];
    };
    expect(draw(7, 3)).toEqual(draw(7, 3));
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) seen.add(draw(7, i).join(","));
    for (let s = 0; s < 50; s++) seen.add(draw(s + 100, 0).join(","));
    expect(seen.size).toBe(2050);
    expect(draw(7, 2 ** 40)).not.toEqual(draw(7, 0));
    expect(() => SeededRandom.stream(1, -1)).toThrow(RangeError);
  });
});

describe("generateToy", () => {
  const nsyst = 3;
  const nbins = 4;
  const nu = Float64Array.from([5, 50, 500, 0]);
  const base: ToyGenerationConfig = {
    seed: 11,
    syst: "frequentist",
    data: "poisson",
    npoi: 1,
    constraintWeights: Float64Array.from([1, 4, 0]),
    bbK: Float64Array.from([10, 100, Number.POSITIVE_INFINITY, 20]),
    centre: Float64Array.from([1, 0.5, -0.2, 0.3]),
    betaCentre: null,
  };
  const totals = (): Float64Array => nu;

  function moments(cfg: ToyGenerationConfig, pick: (t: ReturnType<typeof generateToy>) => number, n = 4000): { mean: number; variance: number } {
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const v = pick(generateToy(cfg, i, totals));
      s += v;
      s2 += v * v;
    }
    const mean = s / n;
    return { mean, variance: s2 / n - mean * mean };
  }

  it("frequentist: θ0 ~ N(θ_gen, 1/√cw), kβ0 ~ Gamma(k), n ~ Poisson(ν); the generation point stays", () => {
    const t = generateToy(base, 0, totals);
    expect(Array.from(t.xGen)).toEqual(Array.from(base.centre));
    expect(t.theta0[2]).toBe(0); // unconstrained: no global observable
    const n = 4000;
    const tol = (v: number): number => 4 * Math.sqrt(v / n);
    const th0 = moments(base, (x) => x.theta0[0]);
    expect(Math.abs(th0.mean - 0.5)).toBeLessThan(tol(1));
    expect(Math.abs(th0.variance - 1)).toBeLessThan(0.1);
    const th1 = moments(base, (x) => x.theta0[1]);
    expect(Math.abs(th1.mean + 0.2)).toBeLessThan(tol(0.25));
    expect(Math.abs(th1.variance - 0.25)).toBeLessThan(0.025);
    const b0 = moments(base, (x) => (x.beta0 as Float64Array)[0]);
    expect(Math.abs(b0.mean - 1)).toBeLessThan(tol(0.1));
    expect(Math.abs(b0.variance - 0.1)).toBeLessThan(0.015);
    expect(generateToy(base, 0, totals).beta0?.[2]).toBe(1); // no β in that bin
    const d1 = moments(base, (x) => x.data[1]);
    expect(Math.abs(d1.mean - 50)).toBeLessThan(tol(50));
    expect(Math.abs(d1.variance / 50 - 1)).toBeLessThan(0.1);
    expect(generateToy(base, 5, totals).data[3]).toBe(0);
    for (const v of generateToy(base, 5, totals).data) expect(Number.isInteger(v)).toBe(true);
  });

  it("bayesian: θ drawn from the prior, θ0 = 0, no β0; none: only the data", () => {
    const bay = { ...base, syst: "bayesian" as const };
    const t = generateToy(bay, 1, totals);
    expect(t.beta0).toBeNull();
    expect(Array.from(t.theta0)).toEqual([0, 0, 0]);
    expect(t.xGen[0]).toBe(1);
    expect(t.xGen[3]).toBe(0.3); // unconstrained
    const g = moments(bay, (x) => x.xGen[2]);
    expect(Math.abs(g.mean + 0.2)).toBeLessThan(4 * Math.sqrt(0.25 / 4000));
    const none = generateToy({ ...base, syst: "none" }, 1, totals);
    expect(none.beta0).toBeNull();
    expect(Array.from(none.theta0)).toEqual([0, 0, 0]);
    expect(Array.from(none.xGen)).toEqual(Array.from(base.centre));
  });

  it("asimov data are the expected yields (β^centre included)", () => {
    const t = generateToy({ ...base, syst: "none", data: "asimov", betaCentre: Float64Array.from([2, 1, 1, 1]) }, 3, totals);
    expect(Array.from(t.data)).toEqual([10, 50, 500, 0]);
    expect(Array.from(profiledBeta(Float64Array.from([12, 50]), Float64Array.from([10, 50]), Float64Array.from([10, Infinity])) as Float64Array)).toEqual([
      22 / 20,
      1,
    ]);
  });
});

describe("native NLL with BB auxiliaries β0", () => {
  let model: TensorModel;
  let spec: LikelihoodSpec;
  beforeAll(async () => {
    model = await readTensor(join(here, "fixtures", "ref_sparse_asym_bbb.hdf5"));
    spec = buildLikelihoodSpec(model, { poiMode: "linear" });
  });

  it("equals k(β̂ − β0) − kβ0 log(β̂/β0) + the Poisson term at β̂ = (n + kβ0)/(ν + k); gradient by finite differences", () => {
    const ev = new Float64Evaluator(spec, { threads: 1 });
    try {
      const k = spec.bbK as Float64Array;
      const n = spec.nsig + spec.nsyst;
      const x = new Float64Array(n).map((_, i) => (i === 0 ? 1.1 : 0.1 * Math.sin(i)));
      const ones = new Float64Array(spec.nbins).fill(1);
      const plain = ev.nll(x);
      ev.setBeta0(ones);
      // the same terms, summed in another order
      expect(Math.abs(ev.nll(x) - plain)).toBeLessThan(1e-13 * plain);
      const rng = SeededRandom.stream(3, 0);
      const beta0 = new Float64Array(spec.nbins).map((_, b) => (Number.isFinite(k[b]) ? rng.gamma(k[b]) / k[b] : 1));
      ev.setBeta0(beta0);
      const withBeta0 = ev.nll(x);
      // direct evaluation
      const perProcess = ev.yields(x);
      let direct = 0;
      for (let b = 0; b < spec.nbins; b++) {
        let nu = 0;
        for (let p = 0; p < spec.nproc; p++) nu += perProcess[b * spec.nproc + p];
        const d = spec.data[b];
        const kb = k[b];
        if (!Number.isFinite(kb)) {
          direct += nu - d - (d > 0 ? d * Math.log(nu / d) : 0);
          continue;
        }
        const b0 = beta0[b];
        const beta = (d + kb * b0) / (nu + kb);
        direct += beta * nu - d - (d > 0 ? d * Math.log((beta * nu) / d) : 0) + kb * (beta - b0) - kb * b0 * Math.log(beta / b0);
      }
      for (let s = 0; s < spec.nsyst; s++) direct += 0.5 * spec.constraintWeights[s] * x[spec.nsig + s] ** 2;
      expect(Math.abs(withBeta0 - direct)).toBeLessThan(1e-9 * Math.max(1, Math.abs(direct)));
      expect(withBeta0).not.toBe(plain);
      const { gradient } = ev.valueAndGradient(x);
      for (const i of [0, 1, 5, n - 1]) {
        const h = 1e-6;
        const xp = Float64Array.from(x);
        const xm = Float64Array.from(x);
        xp[i] += h;
        xm[i] -= h;
        const fd = (ev.nll(xp) - ev.nll(xm)) / (2 * h);
        expect(Math.abs(fd - gradient[i])).toBeLessThan(1e-5 * Math.max(1, Math.abs(gradient[i])));
      }
      // HVP against finite differences of the gradient
      const v = new Float64Array(n).map((_, i) => Math.cos(i));
      const hv = ev.hessianVectorProduct(x, v);
      const h = 1e-6;
      const gp = ev.valueAndGradient(x.map((xi, i) => xi + h * v[i])).gradient;
      const gm = ev.valueAndGradient(x.map((xi, i) => xi - h * v[i])).gradient;
      for (let i = 0; i < n; i++) expect(Math.abs((gp[i] - gm[i]) / (2 * h) - hv[i])).toBeLessThan(1e-5 * Math.max(1, Math.abs(hv[i])));
      ev.setBeta0(null);
      expect(ev.nll(x)).toBe(plain);
    } finally {
      ev.dispose();
    }
  });
});
