import { describe, expect, it } from "vitest";
import { conjugateGradient, newtonPolish } from "../fitter/newtonCg.js";
import type { Objective } from "../fitter/objective.js";

/** A random SPD matrix A = BᵀB + n·I from a fixed linear congruential sequence. */
function spd(n: number): Float64Array {
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5;
  const b = Float64Array.from({ length: n * n }, rnd);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = i === j ? 0.1 : 0;
      for (let k = 0; k < n; k++) s += b[k * n + i] * b[k * n + j];
      a[i * n + j] = s;
    }
  return a;
}

function matVec(a: Float64Array, v: Float64Array): Float64Array {
  const n = v.length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[i] += a[i * n + j] * v[j];
  return out;
}

describe("conjugateGradient", () => {
  it("solves an SPD system to the requested residual", async () => {
    const n = 30;
    const a = spd(n);
    const xTrue = Float64Array.from({ length: n }, (_, i) => Math.cos(i));
    const b = matVec(a, xTrue);
    const r = await conjugateGradient((v) => matVec(a, v), b, 1e-12, 200);
    expect(r.negativeCurvature).toBe(false);
    const res = matVec(a, r.s).map((v, i) => v - b[i]);
    expect(Math.hypot(...res) / Math.hypot(...b)).toBeLessThan(1e-11);
  });

  it("stops at non-positive curvature", async () => {
    const r = await conjugateGradient((v) => v.map((x) => -x), new Float64Array([1, 2]), 1e-10, 10);
    expect(r.negativeCurvature).toBe(true);
  });
});

describe("newtonPolish", () => {
  // f(x) = Σ (exp(x_i) − x_i·e^{c_i}) with minimum at x = c; Hessian diag(exp(x))
  const c = Float64Array.from({ length: 8 }, (_, i) => 0.1 * i - 0.3);
  const obj: Objective = {
    nparams: c.length,
    valueAndGradient: (x) => ({
      value: x.reduce((s, xi, i) => s + Math.exp(xi) - xi * Math.exp(c[i]), 0),
      gradient: x.map((xi, i) => Math.exp(xi) - Math.exp(c[i])),
    }),
    hessianVectorProduct: (x, v) => v.map((vi, i) => Math.exp(x[i]) * vi),
  };

  it("converges quadratically from near the minimum", async () => {
    const x0 = c.map((v, i) => v + 1e-3 * Math.sin(i + 1));
    const vg = obj.valueAndGradient(x0) as { value: number; gradient: Float64Array };
    const r = await newtonPolish(obj, x0, vg.value, vg.gradient, { maxSteps: 3, tolerance: 1e-10 });
    expect(r.steps).toBeGreaterThanOrEqual(2);
    r.x.forEach((v, i) => expect(Math.abs(v - c[i])).toBeLessThan(1e-9));
    expect(r.hvps).toBeGreaterThan(0);
  });

  it("keeps the start when already at the minimum", async () => {
    const vg = obj.valueAndGradient(c) as { value: number; gradient: Float64Array };
    const r = await newtonPolish(obj, c, vg.value, vg.gradient);
    expect(r.steps).toBe(0);
    expect(Array.from(r.x)).toEqual(Array.from(c));
  });
});
