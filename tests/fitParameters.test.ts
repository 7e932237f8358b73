import { describe, expect, it } from "vitest";
import { FrozenObjective, describeParameters, prefitPoint, selectFrozen } from "../fitter/parameters.js";
import type { Objective } from "../fitter/objective.js";
import type { TensorModel } from "../src/tensor/types.js";
import { UserError } from "../src/errors.js";

function smallModel(): TensorModel {
  return {
    procs: ["sigA", "sigB", "bkg"], signals: ["sigA", "sigB"],
    systs: ["free0", "mass", "lumi", "jes"], systsNoConstraint: ["free0", "mass"],
    systGroups: [], noiIndices: [1], constraintWeights: new Float64Array([0, 0, 1, 4]),
    nbins: 2, nbinsFull: 2, dataObs: new Float64Array(2), dataVar: null, dataCovInv: null, pseudodata: null,
    sumw: null, sumw2: null, norm: new Float64Array(6),
    logk: { nrows: 6, ncols: 4, rowPtr: new Int32Array(7), cols: new Int32Array(0), values: new Float64Array(0) },
    symmetric: true, systematicType: "log_normal", storage: "dense", channels: [], externalTerms: [], metaJson: null,
  };
}

describe("describeParameters", () => {
  it("names POIs then systematics, with kinds and prefit widths from the constraint weights", () => {
    const p = describeParameters(smallModel(), 2);
    expect(p.map((q) => q.name)).toEqual(["sigA", "sigB", "free0", "mass", "lumi", "jes"]);
    expect(p.map((q) => q.kind)).toEqual(["poi", "poi", "free", "noi", "nuisance", "nuisance"]);
    expect(p.map((q) => q.prefit)).toEqual([2, 2, 0, 0, 0, 0]);
    expect(p.map((q) => q.prefitError)).toEqual([null, null, null, null, 1, 0.5]);
  });
});

describe("prefitPoint", () => {
  it("puts POIs at μ (linear) or √μ (square) and systematics at 0", () => {
    expect(Array.from(prefitPoint(smallModel(), "linear", 4))).toEqual([4, 4, 0, 0, 0, 0]);
    expect(Array.from(prefitPoint(smallModel(), "square", 4))).toEqual([2, 2, 0, 0, 0, 0]);
    expect(() => prefitPoint(smallModel(), "square", -1)).toThrow(UserError);
  });
});

describe("selectFrozen", () => {
  const names = ["sig0", "syst0000", "syst0001", "syst0010", "lumi"];
  it("takes a comma-separated list of names", () => {
    expect(selectFrozen(names, "lumi, syst0001")).toEqual([2, 4]);
  });
  it("takes a regular expression matched against whole names", () => {
    expect(selectFrozen(names, "syst000.")).toEqual([1, 2]);
    expect(selectFrozen(names, "syst.*|lumi")).toEqual([1, 2, 3, 4]);
  });
  it("rejects names that are neither", () => {
    expect(() => selectFrozen(names, "nope")).toThrow(/nope/);
    expect(() => selectFrozen(names, "lumi,nope")).toThrow(UserError);
    expect(() => selectFrozen(names, "(")).toThrow(UserError);
  });
});

describe("FrozenObjective", () => {
  // f(x) = ½ xᵀ A x + bᵀ x with a fixed symmetric A: gradient A x + b, HVP A v.
  const n = 4;
  const A = [4, 1, 0, 0.5, 1, 3, 0.2, 0, 0, 0.2, 2, 0.1, 0.5, 0, 0.1, 5];
  const b = [1, -2, 0.5, 3];
  const full: Objective = {
    nparams: n,
    valueAndGradient(x) {
      const g = new Float64Array(n);
      let v = 0;
      for (let i = 0; i < n; i++) {
        let ax = 0;
        for (let j = 0; j < n; j++) ax += A[i * n + j] * x[j];
        g[i] = ax + b[i];
        v += 0.5 * x[i] * ax + b[i] * x[i];
      }
      return { value: v, gradient: g };
    },
    hessianVectorProduct(_x, v) {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[i] += A[i * n + j] * v[j];
      return out;
    },
  };

  it("fixes frozen parameters and returns the free blocks of gradient, HVP and matrices", async () => {
    const base = new Float64Array([0.3, 0.7, -1, 2]);
    const red = new FrozenObjective(full, base, [1, 3]);
    expect(red.nparams).toBe(2);
    const xr = new Float64Array([1.5, -0.5]);
    const xf = red.expand(xr);
    expect(Array.from(xf)).toEqual([1.5, 0.7, -0.5, 2]);
    const vg = await red.valueAndGradient(xr);
    const fg = full.valueAndGradient(xf) as { value: number; gradient: Float64Array };
    expect(vg.value).toBe(fg.value);
    expect(Array.from(vg.gradient)).toEqual([fg.gradient[0], fg.gradient[2]]);
    const hv = await red.hessianVectorProduct(xr, new Float64Array([1, 2]));
    expect(Array.from(hv)).toEqual([A[0] * 1 + A[2] * 2, A[8] * 1 + A[10] * 2]);
    const m = red.reduceMatrix(Float64Array.from(A));
    expect(Array.from(m)).toEqual([A[0], A[2], A[8], A[10]]);
    const back = red.expandMatrix(m);
    expect(back[0]).toBe(A[0]);
    expect(back[1]).toBe(0);
    expect(back[2 * n + 2]).toBe(A[10]);
    expect(Array.from(red.reduce(xf))).toEqual([1.5, -0.5]);
  });

  it("passes promises through for async objectives", async () => {
    const asyncFull: Objective = {
      nparams: n,
      valueAndGradient: async (x) => full.valueAndGradient(x) as { value: number; gradient: Float64Array },
      hessianVectorProduct: async (x, v) => full.hessianVectorProduct(x, v) as Float64Array,
    };
    const red = new FrozenObjective(asyncFull, new Float64Array(n), [0]);
    const r = red.valueAndGradient(new Float64Array(3));
    expect(r).toBeInstanceOf(Promise);
    expect((await r).gradient.length).toBe(3);
  });
});
