/** checkSpecShapes: the one shape check both float64 engines (native, CUDA) run on a likelihood spec. */
import { describe, expect, it } from "vitest";
import { checkLength, checkSpecShapes } from "../fitter/evaluator.js";
import { buildLikelihoodSpec } from "../fitter/likelihoodSpec.js";
import { smallModel } from "./fixtures/tensorFiles.js";

describe("checkSpecShapes", () => {
  const spec = buildLikelihoodSpec(smallModel({ nbins: 6, nsyst: 3, seed: 5 }), { poiMode: "linear" });

  it("accepts a built spec and returns its log κ column count", () => {
    expect(checkSpecShapes("E", spec)).toBe(spec.symmetric ? spec.nsyst : 2 * spec.nsyst);
  });

  it("names the engine and the array whose length is wrong", () => {
    expect(() => checkSpecShapes("E", { ...spec, data: spec.data.subarray(1) })).toThrow(/^E: data has length/);
    expect(() => checkSpecShapes("E", { ...spec, theta0: new Float64Array(spec.nsyst + 1) })).toThrow(/theta0 has length/);
    expect(() => checkSpecShapes("E", { ...spec, logk: { ...spec.logk, ncols: spec.logk.ncols + 1 } })).toThrow(/logk has \d+ columns/);
    expect(() => checkLength("E", "x", new Float64Array(2), 3)).toThrow("E: x has length 2, expected 3");
  });
});
