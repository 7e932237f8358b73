import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { chi2Survival, goodnessOfFit, ndfParameters, logGamma, regularizedGammaP, regularizedGammaQ } from "../fitter/results.js";

/** Q(k, x) for integer k: e^{-x} Σ_{j<k} x^j / j!, summed in log space (a closed form independent of the code under test). */
function integerQ(k: number, x: number): number {
  let logTerm = -x; // log(e^{-x} x^0 / 0!)
  let sum = Math.exp(logTerm);
  for (let j = 1; j < k; j++) {
    logTerm += Math.log(x) - Math.log(j);
    sum += Math.exp(logTerm);
  }
  return sum;
}

describe("logGamma", () => {
  it("matches factorials and Γ(1/2) = √π", () => {
    let logFact = 0;
    for (let n = 1; n < 60; n++) {
      expect(logGamma(n)).toBeCloseTo(logFact, 10);
      logFact += Math.log(n);
    }
    expect(logGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 13);
    expect(logGamma(1.5)).toBeCloseTo(Math.log(Math.sqrt(Math.PI) / 2), 13);
  });
});

describe("regularized incomplete gamma", () => {
  it("equals the finite sum for integer a on both sides of a + 1", () => {
    for (const k of [1, 2, 3, 7, 25, 100]) {
      for (const x of [0.01, 0.5, 1, 2.5, k - 1, k, k + 0.5, k + 3, 2 * k + 10, 5 * k]) {
        if (x <= 0) continue;
        const q = integerQ(k, x);
        const got = regularizedGammaQ(k, x);
        expect(Math.abs(got - q)).toBeLessThan(1e-13 + 1e-11 * q);
        expect(regularizedGammaP(k, x) + got).toBeCloseTo(1, 13);
      }
    }
  });

  it("satisfies Q(a+1, x) = Q(a, x) + x^a e^{-x} / Γ(a+1) for half-integer a", () => {
    for (const a of [0.5, 1.5, 10.5, 74.5]) {
      for (const x of [0.3, a, a + 2, 3 * a + 5]) {
        const lhs = regularizedGammaQ(a + 1, x);
        const rhs = regularizedGammaQ(a, x) + Math.exp(a * Math.log(x) - x - logGamma(a + 1));
        expect(Math.abs(lhs - rhs)).toBeLessThan(1e-13);
      }
    }
  });

  it("keeps tiny tail probabilities accurate (relative, not absolute)", () => {
    const q = regularizedGammaQ(3, 80);
    expect(Math.abs(q / integerQ(3, 80) - 1)).toBeLessThan(1e-11);
    const p = regularizedGammaP(50, 5);
    expect(Math.abs((1 - integerQ(50, 5)) - p)).toBeLessThan(1e-15);
    expect(p).toBeGreaterThan(0);
  });

  it("handles the edges", () => {
    expect(regularizedGammaQ(2, 0)).toBe(1);
    expect(regularizedGammaQ(2, Infinity)).toBe(0);
    expect(regularizedGammaQ(0, 1)).toBeNaN();
    expect(chi2Survival(5, 0)).toBeNaN();
  });
});

describe("chi2Survival", () => {
  it("is exp(-χ²/2) for two degrees of freedom", () => {
    for (const c of [0.1, 1, 4, 30]) expect(chi2Survival(c, 2)).toBeCloseTo(Math.exp(-c / 2), 14);
  });

  const python = "/usr/bin/python3";
  const hasScipy = existsSync(python) && spawnSync(python, ["-c", "import scipy.stats"]).status === 0;
  it.skipIf(!hasScipy)("agrees with scipy.stats.chi2.sf (odd and even ndf, both tails)", () => {
    const cases: [number, number][] = [
      [0.5, 1], [3.84, 1], [20, 1], [10, 7], [149, 149], [209.04, 149], [120, 149], [400, 149], [5000, 4859],
    ];
    const code = `import json,sys,scipy.stats as s;print(json.dumps([float(s.chi2.sf(c,n)) for c,n in json.loads(sys.argv[1])]))`;
    const out = spawnSync(python, ["-c", code, JSON.stringify(cases)], { encoding: "utf8" });
    const expected = JSON.parse(out.stdout) as number[];
    cases.forEach(([c, n], i) => {
      expect(Math.abs(chi2Survival(c, n) / expected[i] - 1)).toBeLessThan(1e-10);
    });
  });
  if (!hasScipy) console.log("skipping the scipy comparison: /usr/bin/python3 with scipy not found");
});

describe("goodnessOfFit", () => {
  it("uses χ² = 2·NLL and rabbit's ndf = nbins − POIs − unconstrained systematics", () => {
    const g = goodnessOfFit(10, 30, { pois: 1, unconstrained: 3 });
    expect(g.chi2).toBe(20);
    expect(g.ndf).toBe(26);
    expect(g.pvalue).toBeCloseTo(regularizedGammaQ(13, 10), 15);
    const none = goodnessOfFit(10, 3, { pois: 1, unconstrained: 2 });
    expect(none.ndf).toBe(0);
    expect(none.pvalue).toBeNaN();
  });

  it("ndfParameters counts fitted POIs and systematics with constraint weight 0, frozen ones excluded", () => {
    const cw = Float64Array.from([0, 1, 1, 0, 0.25, 0]);
    expect(ndfParameters(2, cw)).toEqual({ pois: 2, unconstrained: 3 });
    // frozen: POI 1 and systematic 3 (index 2 + 3)
    expect(ndfParameters(2, cw, new Set([1, 5, 3]))).toEqual({ pois: 1, unconstrained: 2 });
  });
});
