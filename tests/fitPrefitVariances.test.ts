import { describe, expect, it } from "vitest";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { readTensor } from "../src/tensor/TensorReader.js";
import { buildLikelihoodSpec, type LikelihoodSpec } from "../fitter/likelihoodSpec.js";
import { Float64Evaluator } from "../fitter/Float64Evaluator.js";
import { prefitYieldVariances } from "../fitter/prefitVariances.js";

const fixtures = join(dirname(fileURLToPath(import.meta.url)), "fixtures");

/** The general propagation Jᵀ C J by the float64 evaluator, with the dense diagonal prefit covariance. */
function viaEvaluator(spec: LikelihoodSpec, x0: Float64Array) {
  const n = spec.nsig + spec.nsyst;
  const cov = new Float64Array(n * n);
  for (let s = 0; s < spec.nsyst; s++) if (spec.constraintWeights[s] > 0) cov[(spec.nsig + s) * (n + 1)] = 1 / spec.constraintWeights[s];
  const ev = new Float64Evaluator(spec, { threads: 1 });
  try {
    return { yields: ev.yields(x0), ...ev.yieldVariances(x0, cov) };
  } finally {
    ev.dispose();
  }
}

describe("prefitYieldVariances", () => {
  it.each([
    ["ref_dense.hdf5", "log_normal"],
    ["ref_sparse_asym_bbb.hdf5", "log_normal"],
    ["ref_square2.hdf5", "normal"],
  ] as const)("%s (%s) matches the evaluator's J C Jᵀ at θ = 0", async (file, type) => {
    const model = await readTensor(join(fixtures, file));
    // half the constraints tighter, one systematic free, to exercise the weights
    const cw = Float64Array.from(model.constraintWeights, (w, s) => (s === 1 ? 0 : s % 2 ? 4 : w));
    const spec = { ...buildLikelihoodSpec(model, { poiMode: "linear" }), constraintWeights: cw, systematicType: type };
    const x0 = new Float64Array(spec.nsig + spec.nsyst).fill(0);
    x0.fill(1.3, 0, spec.nsig);
    const want = viaEvaluator(spec, x0);
    const got = prefitYieldVariances(spec, want.yields);
    const maxRel = (a: Float64Array, b: Float64Array) => {
      let m = 0;
      const scale = Math.max(...b);
      for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / scale);
      return m;
    };
    expect(Math.max(...want.total)).toBeGreaterThan(0);
    expect(maxRel(got.perProcess, want.perProcess)).toBeLessThan(1e-12);
    expect(maxRel(got.total, want.total)).toBeLessThan(1e-12);
  });
});
