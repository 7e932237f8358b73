/**
 * External NLL terms (external_terms/<name>: g·x + ½ xᵀHx) enter the fit: checked against an
 * equivalent constraint weight, and against the stationarity condition and covariance computed
 * independently from a bare Float64Evaluator plus the term.
 */
import { describe, expect, it } from "vitest";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Matrix, inverse } from "ml-matrix";
import { UserError } from "../src/errors.js";
import { readTensor } from "../src/tensor/TensorReader.js";
import type { TensorModel } from "../src/tensor/types.js";
import { fit } from "../fitter/fit.js";
import { resolveExternalTerms } from "../fitter/externalTerms.js";
import { Float64Evaluator } from "../fitter/Float64Evaluator.js";
import { buildLikelihoodSpec } from "../fitter/likelihoodSpec.js";

const fixtures = join(dirname(fileURLToPath(import.meta.url)), "fixtures");
const load = (): Promise<TensorModel> => readTensor(join(fixtures, "ref_dense.hdf5"));

describe("fit with external terms", () => {
  it("a term ½·3·θ² on a constrained nuisance equals raising its constraint weight from 1 to 4", async () => {
    const withTerm = await load();
    withTerm.externalTerms = [{ name: "prior", params: ["syst0003"], gradValues: Float64Array.of(0), hessDense: Float64Array.of(3) }];
    const tighter = await load();
    tighter.constraintWeights = Float64Array.from(tighter.constraintWeights, (w, s) => (s === 3 ? 4 : w));
    const a = await fit(withTerm, { threads: 1 });
    const b = await fit(tighter, { threads: 1 });
    expect(a.status, a.message).toBe("converged");
    expect(Math.abs(a.nll - b.nll)).toBeLessThan(1e-9);
    a.parameters.forEach((p, i) => {
      expect(Math.abs(p.value - b.parameters[i].value)).toBeLessThan(1e-7 * p.error);
      expect(Math.abs(p.error / b.parameters[i].error - 1)).toBeLessThan(1e-8);
    });
    // and the term matters: without it the nuisance is looser
    const plain = await fit(await load(), { threads: 1 });
    expect(plain.parameters[4].error).toBeGreaterThan(1.2 * a.parameters[4].error);
  });

  it.each(["native", "cpu"] as const)("linear and correlated terms on a POI and a nuisance (backend %s): stationary, C = (H_L + H_T)⁻¹", async (backend) => {
    const model = await load();
    const g = [0.3, -0.2];
    const h = [2, 0.5, 0.5, 1.5];
    model.externalTerms = [{ name: "ext", params: ["sig0", "syst0001"], gradValues: Float64Array.from(g), hessDense: Float64Array.from(h) }];
    const r = await fit(model, { threads: 1, backend });
    expect(r.status, r.message).toBe("converged");
    const n = r.parameters.length;
    const idx = [0, 2];
    const ev = new Float64Evaluator(buildLikelihoodSpec(model, { poiMode: "linear" }), { threads: 1 });
    try {
      const vg = ev.valueAndGradient(r.x);
      let termValue = 0;
      const grad = Float64Array.from(vg.gradient);
      for (let a = 0; a < 2; a++) {
        let hx = 0;
        for (let b = 0; b < 2; b++) hx += h[a * 2 + b] * r.x[idx[b]];
        termValue += g[a] * r.x[idx[a]] + 0.5 * r.x[idx[a]] * hx;
        grad[idx[a]] += g[a] + hx;
      }
      expect(Math.abs(r.nll - (vg.value + termValue))).toBeLessThan(1e-9);
      expect(Math.max(...grad.map(Math.abs))).toBeLessThan(1e-6);
      const hess = ev.hessian(r.x);
      for (let a = 0; a < 2; a++) for (let b = 0; b < 2; b++) hess[idx[a] * n + idx[b]] += h[a * 2 + b];
      const rows = Array.from({ length: n }, (_, i) => Array.from(hess.subarray(i * n, (i + 1) * n)));
      const cov = inverse(new Matrix(rows));
      r.parameters.forEach((p, i) => expect(Math.abs(p.error / Math.sqrt(cov.get(i, i)) - 1)).toBeLessThan(1e-8));
    } finally {
      ev.dispose();
    }
  });
});

describe("resolveExternalTerms", () => {
  const names = ["sig", "a", "b"];
  it("maps parameter names to indices of the full vector", () => {
    const [t] = resolveExternalTerms([{ name: "t", params: ["b", "sig"], gradValues: Float64Array.of(1, 2), hessDense: null }], names);
    expect(Array.from(t.indices)).toEqual([2, 0]);
    expect(t.hess).toBeNull();
  });
  it("rejects unknown parameters and mis-sized arrays as user errors naming the term", () => {
    expect(() => resolveExternalTerms([{ name: "t", params: ["c"], gradValues: Float64Array.of(1), hessDense: null }], names)).toThrow(UserError);
    expect(() => resolveExternalTerms([{ name: "t", params: ["c"], gradValues: Float64Array.of(1), hessDense: null }], names)).toThrow(/external_terms\/t: parameter c/);
    expect(() => resolveExternalTerms([{ name: "t", params: ["a"], gradValues: Float64Array.of(1, 2), hessDense: null }], names)).toThrow(/grad_values/);
    expect(() => resolveExternalTerms([{ name: "t", params: ["a", "b"], gradValues: Float64Array.of(1, 2), hessDense: Float64Array.of(1) }], names)).toThrow(/hess_dense/);
  });
});
