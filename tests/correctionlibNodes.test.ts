/**
 * correctionlib node types, flows and compound corrections on the fixtures in
 * tests/fixtures/correctionlib/. The cases and expected numbers of core_examples.json and compound.json
 * are those of correctionlib's own tests (tests/test_core.py, test_compound.py,
 * test_transform_nested.py, test_hashprng.py); the others are derived by hand in the comments.
 * (correctionlib itself is not installed here, so nothing is cross-run.)
 */
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadCorrectionSet } from "../src/histmaker/correctionlib/index.js";
import type { CorrectionArgument, CorrectionSet } from "../src/histmaker/correctionlib/index.js";

const dir = path.join(import.meta.dirname, "fixtures", "correctionlib");
const cset: CorrectionSet = loadCorrectionSet(path.join(dir, "core_examples.json"));

/** One element, all scalar arguments. */
function ev(name: string, ...args: CorrectionArgument[]): number {
  const out = cset[name].evaluate(...args);
  expect(out.length).toBe(1);
  return out[0];
}

describe("correctionlib test_core.py cases", () => {
  it("constant correction and input count", () => {
    expect(ev("constant")).toBe(1.234);
    expect(() => ev("constant", 0, 1.2, 35.0, 0.01)).toThrow(/takes 0 inputs/);
  });

  it("binning → category → formula (test_evaluator_v1)", () => {
    expect(() => ev("test corr", 0, 1.2, 35.0, 0.01)).toThrow(/takes 2 inputs \(pt: real, syst: string\), got 4/);
    expect(() => ev("test corr", 1.2)).toThrow(/got 1/);
    expect(ev("test corr", 12.0, "blah")).toBe(1.1);
    expect(ev("test corr", 12.0, "blah2")).toBe(2.2);
    expect(ev("test corr", 31.0, "blah2")).toBe(1.3);
    expect(ev("test corr", 31.0, "blah3")).toBe(0.25 * 31.0 + Math.exp(3.1));
    // wrong types name the correction, the input and what was given
    expect(() => ev("test corr", 12.0, 5)).toThrow(/correction "test corr" \(.*core_examples\.json\): input "syst" is string, got the number 5/);
    expect(() => ev("test corr", "asdf", "blah")).toThrow(/input "pt" is real, got the string "asdf"/);
    // unknown category without default
    expect(() => ev("test corr", 12.0, "blah3")).toThrow(/correction "test corr" .*input "syst" value "blah3" is not a category \(node data\.content\[0\], which has no default\)/);
    // out of range with flow "error"
    expect(() => ev("test corr", 40.0, "blah")).toThrow(/input "pt" value 40 is above the binning range \[0, 40\) \(flow "error"\)/);
    expect(() => ev("test corr", -0.5, "blah")).toThrow(/input "pt" value -0.5 is below/);
  });

  it("TFormula expressions (test_tformula)", () => {
    const formulas: ((x: number) => number)[] = [
      (x) => 23.0 * x,
      (x) => 23.0 * Math.log(Math.max(x, 0.1)),
      (x) => 2.2e3 + x,
      (x) => -2e-3 * x,
    ];
    formulas.forEach((f, i) => {
      for (const x of [1.0, 32.0, -3.0, 1550.0]) expect(ev("tformula", i, x)).toBe(f(x));
    });
    // an int input refuses a non-integer value
    expect(() => ev("tformula", 0.5, 1.0)).toThrow(/input "index" is an int, got value 0.5/);
  });

  it("categories with and without default (test_category)", () => {
    expect(ev("category_nodefault", "blah")).toBe(1.2);
    expect(() => ev("category_nodefault", "asdf")).toThrow(/value "asdf" is not a category/);
    expect(ev("category_default", "blah")).toBe(1.2);
    expect(ev("category_default", "asdf")).toBe(0.1);
    expect(ev("category_default", "def")).toBe(0.1);
    // int keys, negative too; the default is a formula node
    expect(ev("category_int", -1)).toBe(0.5);
    expect(ev("category_int", 3)).toBe(3.5);
    expect(ev("category_int", 7)).toBe(2);
  });

  it("binning flows (test_binning)", () => {
    expect(() => ev("binning_error", -1.0)).toThrow(/below/);
    expect(ev("binning_error", 0.0)).toBe(1.0);
    expect(ev("binning_error", 0.2)).toBe(1.0);
    expect(ev("binning_error", 1.0)).toBe(2.0);
    expect(() => ev("binning_error", 3.0)).toThrow(/above/);

    expect(ev("binning_clamp", -1.0)).toBe(1.0);
    expect(ev("binning_clamp", 1.0)).toBe(2.0);
    expect(ev("binning_clamp", 3.0)).toBe(2.0);
    expect(ev("binning_clamp", 3000.0)).toBe(2.0);

    expect(ev("binning_42", -1.0)).toBe(42.0);
    expect(ev("binning_42", 0.0)).toBe(1.0);
    expect(ev("binning_42", 1.0)).toBe(2.0);
    expect(ev("binning_42", 2.9)).toBe(2.0);
    expect(ev("binning_42", 3.0)).toBe(42.0);
  });

  it("multibinning flows, row-major content (test_binning)", () => {
    expect(() => ev("multibinning_error", 0.0, 5.0)).toThrow(/input "y" value 5 is below the multibinning range \[10, 40\)/);
    expect(() => ev("multibinning_error", -1.0, 5.0)).toThrow(/input "x" value -1 is below/);
    expect(ev("multibinning_error", 0.0, 10.0)).toBe(0.0);
    expect(ev("multibinning_error", 0.0, 20.0)).toBe(1.0);
    expect(ev("multibinning_error", 0.0, 30.0)).toBe(2.0);
    expect(() => ev("multibinning_error", 0.0, 40.0)).toThrow(/above/);
    expect(ev("multibinning_error", 1.0, 10.0)).toBe(3.0);
    expect(ev("multibinning_error", 1.0, 20.0)).toBe(4.0);
    expect(ev("multibinning_error", 1.0, 30.0)).toBe(5.0);
    expect(() => ev("multibinning_error", 2.0, 5.0)).toThrow();

    const clamp: [number, number, number][] = [
      [-1.0, 5.0, 0.0], [-1.0, 25.0, 1.0], [-1.0, 35.0, 2.0], [-1.0, 45.0, 2.0], [0.0, 45.0, 2.0], [2.0, 45.0, 5.0],
      [3.0, 45.0, 5.0], [3.0, 35.0, 5.0], [3.0, 25.0, 4.0], [3.0, 15.0, 3.0], [3.0, 5.0, 3.0], [0.0, 5.0, 0.0],
    ];
    for (const [x, y, want] of clamp) expect(ev("multibinning_clamp", x, y)).toBe(want);

    expect(ev("multibinning_42", -1.0, 5.0)).toBe(42.0);
    expect(ev("multibinning_42", 2.0, 45.0)).toBe(42.0);
    expect(ev("multibinning_42", 3.0, 5.0)).toBe(42.0);

    expect(ev("multibinning_formula", -1.0, 5.0)).toBe(2.0 * -1 + 5.0 * 5.0);
    expect(ev("multibinning_formula", 0.0, 10.0)).toBe(0.0);
  });
});

describe("uniform binning, wrap, infinite edges, int inputs", () => {
  // 4 bins of width 1 on [-2, 2): contents 10, 11, 12, 13
  it("uniform edges with each flow", () => {
    expect(ev("uniform_error", -2.0)).toBe(10);
    expect(ev("uniform_error", -0.5)).toBe(11);
    expect(ev("uniform_error", 0.0)).toBe(12);
    expect(ev("uniform_error", 1.999)).toBe(13);
    expect(() => ev("uniform_error", 2.0)).toThrow(/input "phi" value 2 is above the binning range \[-2, 2\)/);
    expect(() => ev("uniform_error", NaN)).toThrow(/value NaN is NaN, outside/);
    expect(ev("uniform_clamp", -7)).toBe(10);
    expect(ev("uniform_clamp", 7)).toBe(13);
    expect(ev("uniform_-1", 2.0)).toBe(-1);
    expect(ev("uniform_-1", -2.5)).toBe(-1);
    // wrap: period 4, so 2.5 → -1.5 (bin 0), -2.5 → 1.5 (bin 3), 6.2 → -1.8 (bin 0)
    expect(ev("uniform_wrap", 2.5)).toBe(10);
    expect(ev("uniform_wrap", -2.5)).toBe(13);
    expect(ev("uniform_wrap", 6.2)).toBe(10);
    expect(ev("uniform_wrap", 0.5)).toBe(12);
  });

  it("edge-list wrap and ±inf edges", () => {
    // edges [0, 1, 4], period 4: 5.5 → 1.5 (bin 1), -0.5 → 3.5 (bin 1), 4.2 → 0.2 (bin 0)
    expect(ev("edges_wrap", 5.5)).toBe(2);
    expect(ev("edges_wrap", -0.5)).toBe(2);
    expect(ev("edges_wrap", 4.2)).toBe(1);
    expect(ev("edges_inf", -1e300)).toBe(-1);
    expect(ev("edges_inf", 5)).toBe(0);
    expect(ev("edges_inf", 1e300)).toBe(1);
    expect(() => ev("edges_inf", Infinity)).toThrow(/above/);
  });

  it("binning and multibinning of int inputs", () => {
    expect(ev("binning_int", 0)).toBe(0.9);
    expect(ev("binning_int", 10)).toBe(1.0);
    expect(ev("binning_int", 29)).toBe(1.1);
    expect(ev("binning_int", 60)).toBe(1.1);
    // x: 2 uniform bins on [0, 2); n: edges [0, 1, 2, 3]; content row-major [[1,2,3],[4,5,6]]
    expect(ev("multibinning_uniform", 0.5, 0)).toBe(1);
    expect(ev("multibinning_uniform", 0.5, 2)).toBe(3);
    expect(ev("multibinning_uniform", 1.5, 1)).toBe(5);
    expect(ev("multibinning_uniform", 9, 9)).toBe(6);
  });
});

describe("transform, formularef, hashprng", () => {
  it("nested transforms (test_transform_nested)", () => {
    expect(ev("transform_nested", 3.0, 4.0)).toBe(10.0);
  });

  it("a transform of an int input rounds half away from zero", () => {
    // rule pt/10: 25 → 2.5 → 3; -25 → -2.5 → -3; 24 → 2.4 → 2; 14 → 1.4 → 1 (default 0)
    expect(ev("transform_int", 25, 0)).toBe(30);
    expect(ev("transform_int", -25, 0)).toBe(-30);
    expect(ev("transform_int", 24, 0)).toBe(20);
    expect(ev("transform_int", -15, 0)).toBe(-20);
    expect(ev("transform_int", 14, 0)).toBe(0);
  });

  it("a transform of a broadcast input leaves it unchanged for the next element", () => {
    // flav is the scalar 0 for every element; each element's rule rewrites it only for its own lookup
    const out = cset["transform_int"].evaluate(new Float64Array([25, 14, -25, 24]), 0);
    expect(Array.from(out)).toEqual([30, 0, -30, 20]);
  });

  it("formularef binds the referring node's parameters to the generic formula", () => {
    // [0] + [1]*log(pt): eta < 0 → 1 + 0.5 log pt, eta ≥ 0 → 2 − 0.25 log pt
    expect(ev("formularef", 50, -1)).toBe(1.0 + 0.5 * Math.log(50));
    expect(ev("formularef", 50, 1)).toBe(2.0 + -0.25 * Math.log(50));
  });

  it("hashprng reproduces correctionlib's values (test_hashprng)", () => {
    expect(ev("prng_normal", 1.2, 2.3, 5)).toBe(-1.263776278956304);
    expect(ev("prng_stdflat", 1.2, 2.3, 5)).toBe(0.5312947726732237);
    expect(ev("prng_stdnormal", 1.2, 2.3, 5)).toBe(0.5320038585132821);
  });

  it("hashprng is deterministic per element and differs between elements", () => {
    const a = cset["prng_stdflat"].evaluate(new Float64Array([1.2, 1.2, 1.3]), 2.3, new Int32Array([5, 5, 5]));
    expect(a[0]).toBe(0.5312947726732237);
    expect(a[1]).toBe(a[0]);
    expect(a[2]).not.toBe(a[0]);
    expect(a[2] >= 0 && a[2] < 1).toBe(true);
  });
});

describe("compound corrections (test_compound)", () => {
  const comp = loadCorrectionSet(path.join(dir, "compound.json"));
  it("input update and output ops", () => {
    const one = (name: string, a: number, b: number) => comp[name].evaluate(a, b)[0];
    expect(one("l1l2", 10.0, 1.2)).toBe(1 + 0.1 * Math.log10(10 * 1.1) + 0.1 * 1.2);
    expect(one("l1l2", 10.0, 0.0)).toBe(1 + 0.1 * Math.log10(10 * 1.1));
    expect(one("multiplied", 1.2, 10.0)).toBe(1.1 * (1 + 0.1 * Math.log10(10) + 0.1 * 1.2));
    expect(one("multiplied", 0.0, 10.0)).toBe((1 + 0.1 * Math.log10(10)) * 1.1);
    // summed: pt += 1.1; s2 = 1 + 0.1 log10(pt + 1.1) + 0.1 eta; pt += s2; out = 1.1 + s2 + 1.1
    const s2 = 1 + 0.1 * Math.log10(10 + 1.1) + 0.1 * 0.5;
    expect(one("summed", 10.0, 0.5)).toBe(1.1 + s2 + 1.1);
    // divided: pt /= 1.1; out = 1.1 / (1 + 0.1 log10(pt / 1.1) + 0.1 eta)
    expect(one("divided", 10.0, 0.5)).toBe(1.1 / (1 + 0.1 * Math.log10(10 / 1.1) + 0.1 * 0.5));
  });

  it("vectorised over columns", () => {
    const pt = new Float64Array([10, 20, 40]);
    const out = comp["l1l2"].evaluate(pt, new Float32Array([0, 0.5, -1]));
    const eta = [0, 0.5, -1].map((x) => Math.fround(x));
    for (let i = 0; i < 3; i++) expect(out[i]).toBe(1 + 0.1 * Math.log10(pt[i] * 1.1) + 0.1 * eta[i]);
  });
});
