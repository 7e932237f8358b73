/**
 * LogParameterObjective: the objective with some parameters on a log scale (x = e^y). Gradient
 * and HVP against central differences, and a minimisation in y reaching the same minimum as in x,
 * on a tiny "curved valley" likelihood: a linear signal strength against an exponential
 * normalisation nuisance.
 */
import { describe, expect, it } from "vitest";
import { LogParameterObjective } from "../fitter/minimiser/logParameters.js";
import type { Objective, ValueAndGradient } from "../fitter/objective.js";
import { trustKrylov } from "../fitter/trustKrylov.js";

/** Poisson NLL of bins b with ν_b = μ s_b e^{0.05θ} + b_b e^{0.1θ·w_b}, plus ½θ² */
class ValleyNll implements Objective {
  readonly nparams = 2;
  private readonly s = [400, 900, 1600, 700];
  private readonly b = [5000, 3000, 2000, 4000];
  private readonly w = [1, 0.8, 0.5, 0.9];
  private readonly n = [5600, 4100, 3700, 4800];

  private yields(x: Float64Array) {
    const [mu, th] = [x[0], x[1]];
    return this.s.map((s, i) => {
      const es = Math.exp(0.05 * th);
      const eb = Math.exp(0.1 * th * this.w[i]);
      const nu = mu * s * es + this.b[i] * eb;
      const dmu = s * es;
      const dth = 0.05 * mu * s * es + 0.1 * this.w[i] * this.b[i] * eb;
      const dmuth = 0.05 * s * es;
      const dthth = 0.0025 * mu * s * es + 0.01 * this.w[i] ** 2 * this.b[i] * eb;
      return { nu, dmu, dth, dmuth, dthth };
    });
  }

  valueAndGradient(x: Float64Array): ValueAndGradient {
    let value = 0.5 * x[1] * x[1];
    const gradient = Float64Array.from([0, x[1]]);
    this.yields(x).forEach((y, i) => {
      const n = this.n[i];
      value += y.nu - n - n * Math.log(y.nu / n);
      const w = 1 - n / y.nu;
      gradient[0] += w * y.dmu;
      gradient[1] += w * y.dth;
    });
    return { value, gradient };
  }

  hessianVectorProduct(x: Float64Array, v: Float64Array): Float64Array {
    const h = [0, 0, 0, 1]; // [mm, mt, tm, tt]; the constraint adds 1 to tt
    this.yields(x).forEach((y, i) => {
      const n = this.n[i];
      const w = 1 - n / y.nu;
      const c = n / (y.nu * y.nu);
      h[0] += c * y.dmu * y.dmu;
      h[1] += c * y.dmu * y.dth + w * y.dmuth;
      h[3] += c * y.dth * y.dth + w * y.dthth;
    });
    return Float64Array.from([h[0] * v[0] + h[1] * v[1], h[1] * v[0] + h[3] * v[1]]);
  }
}

describe("LogParameterObjective", () => {
  const inner = new ValleyNll();
  const lp = new LogParameterObjective(inner, [0]);

  it("maps x ↔ y and keeps the value", async () => {
    const x = Float64Array.from([1.3, -0.4]);
    const y = lp.toLog(x);
    expect(y[0]).toBeCloseTo(Math.log(1.3), 15);
    expect(y[1]).toBe(-0.4);
    expect(lp.fromLog(y)[0]).toBeCloseTo(1.3, 14);
    expect((await lp.valueAndGradient(y)).value).toBeCloseTo(inner.valueAndGradient(x).value, 9);
    expect(() => lp.toLog(Float64Array.from([-1, 0]))).toThrow(/not positive/);
    expect(() => new LogParameterObjective(inner, [2])).toThrow(/no parameter/);
  });

  it("gradient and HVP agree with central differences in y", async () => {
    const y = Float64Array.from([Math.log(1.2), 0.7]);
    const { gradient } = await lp.valueAndGradient(y);
    const h = 1e-6;
    for (let j = 0; j < 2; j++) {
      const e = Float64Array.from([0, 0]);
      e[j] = 1;
      const plus = await lp.valueAndGradient(y.map((v, i) => v + h * e[i]));
      const minus = await lp.valueAndGradient(y.map((v, i) => v - h * e[i]));
      expect(gradient[j]).toBeCloseTo((plus.value - minus.value) / (2 * h), 4);
      const hv = await lp.hessianVectorProduct(y, e);
      for (let i = 0; i < 2; i++) {
        const fd = (plus.gradient[i] - minus.gradient[i]) / (2 * h);
        expect(Math.abs(hv[i] - fd)).toBeLessThan(1e-5 * Math.max(1, Math.abs(fd)));
      }
    }
  });

  it("a minimisation in y ends at the minimum found in x", async () => {
    const x0 = Float64Array.from([1, 0]);
    const inX = await trustKrylov(inner, x0, { edmTolerance: 1e-16 });
    const inY = await trustKrylov(lp, lp.toLog(x0), { edmTolerance: 1e-16 });
    expect(inX.status).toBe("converged");
    expect(inY.status).toBe("converged");
    const xFromY = lp.fromLog(inY.x);
    expect(xFromY[0]).toBeCloseTo(inX.x[0], 6);
    expect(xFromY[1]).toBeCloseTo(inX.x[1], 6);
    expect(inY.value).toBeCloseTo(inX.value, 8);
  });
});

describe("LogParameterObjective gradient reuse", () => {
  it("HVPs at one point cost one inner gradient, and a new point gives the new curvature", async () => {
    const inner = new ValleyNll();
    let gradients = 0;
    const counting: Objective = {
      nparams: inner.nparams,
      valueAndGradient: (x) => {
        gradients++;
        return inner.valueAndGradient(x);
      },
      hessianVectorProduct: (x, v) => inner.hessianVectorProduct(x, v),
    };
    const lp = new LogParameterObjective(counting, [0]);
    const fresh = new LogParameterObjective(inner, [0]);
    const y = lp.toLog(Float64Array.from([1.1, 0.3]));
    const v = Float64Array.from([0.4, -0.7]);
    const first = await lp.hessianVectorProduct(y, v);
    for (let k = 0; k < 4; k++) expect(await lp.hessianVectorProduct(Float64Array.from(y), v)).toEqual(first);
    expect(gradients).toBe(1);
    const y2 = Float64Array.from([y[0] + 0.2, y[1] - 0.1]);
    const h2 = await lp.hessianVectorProduct(y2, v);
    expect(gradients).toBe(2);
    expect(h2).toEqual(await fresh.hessianVectorProduct(y2, v));
  });
});
