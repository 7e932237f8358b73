/**
 * The numerical pieces of the post-fit methods: the normal distribution in both tails (values from
 * scipy.stats.norm), Brent's method and the outward bracket search.
 */
import { describe, expect, it } from "vitest";
import { normalCdf, normalQuantile, normalSf } from "../fitter/postfit/normal.js";
import { brent, findCrossing } from "../fitter/postfit/rootFinding.js";

describe("normal distribution", () => {
  // scipy.stats.norm.cdf / .sf
  const table: Array<[number, number, number]> = [
    [-12, 1.776482112077653e-33, 1.0],
    [-5, 2.866515718791933e-7, 0.9999997133484281],
    [-1.5, 0.06680720126885807, 0.9331927987311419],
    [0.3, 0.6179114221889526, 0.3820885778110474],
    [2, 0.9772498680518208, 0.022750131948179195],
    [8.5, 1.0, 9.47953482220325e-18],
  ];
  it.each(table)("Φ(%d) and 1 − Φ with full relative accuracy", (z, cdf, sf) => {
    expect(Math.abs(normalCdf(z) / cdf - 1)).toBeLessThan(1e-13);
    expect(Math.abs(normalSf(z) / sf - 1)).toBeLessThan(1e-13);
  });
  // scipy.stats.norm.ppf
  const quantiles: Array<[number, number]> = [
    [1e-12, -7.034483825301131],
    [0.025, -1.9599639845400545],
    [0.3, -0.5244005127080409],
    [0.5, 0],
    [0.975, 1.959963984540054],
    [1 - 1e-10, 6.361340889697422],
  ];
  it.each(quantiles)("Φ⁻¹(%d)", (p, z) => {
    expect(normalQuantile(p)).toBeCloseTo(z, 9);
  });
});

describe("root finding", () => {
  it("brent finds a root to the tolerance in few evaluations", async () => {
    let calls = 0;
    const f = async (x: number): Promise<number> => {
      calls++;
      return Math.cos(x) - x;
    };
    const r = await brent(f, 0, 1, 1, Math.cos(1) - 1, { xtol: 1e-14 });
    expect(r.converged).toBe(true);
    expect(r.x).toBeCloseTo(0.7390851332151607, 13);
    expect(calls).toBeLessThan(12);
    await expect(brent(f, 0, 1, 0.5, 0.3)).rejects.toThrow(/same sign/);
  });

  it("findCrossing brackets a quadratic profile outwards and stops at a bound", async () => {
    // 2ΔNLL = ((x − 2)/0.5)², crossing 1 at 2.5 and 1.5
    const f = async (x: number): Promise<number> => ((x - 2) / 0.5) ** 2 - 1;
    const up = await findCrossing(f, 2, 2, -1, 2.1, 1, { xtol: 1e-12 });
    expect(up.converged).toBe(true);
    expect(up.x).toBeCloseTo(2.5, 11);
    const down = await findCrossing(f, 2, 2, -1, 1.9, 1, { xtol: 1e-12 });
    expect(down.x).toBeCloseTo(1.5, 11);
    const bounded = await findCrossing(f, 2, 2, -1, 1.9, 1, { limit: 1.8 });
    expect(bounded.converged).toBe(false);
    expect(bounded.bounded).toBe(true);
    expect(bounded.x).toBe(1.8);
    // a profile that flattens out never crosses: not converged, no endless loop
    const flat = await findCrossing(async (x) => Math.tanh(x) - 2, 0, 0, -2, 1, 2, { maxSteps: 10 });
    expect(flat.converged).toBe(false);
  });
});
