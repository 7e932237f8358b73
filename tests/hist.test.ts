import { describe, expect, it } from "vitest";
import { UserError } from "../src/errors.js";
import { type Axis, axisEdges, axisExtent, axisFromJSON, boolean, categoryInt, categoryStr, integer, regular, variable } from "../src/histmaker/axes.js";
import { Hist } from "../src/histmaker/Hist.js";
import { rng } from "./helpers/random.js";

/** Deterministic uniform numbers (mulberry32) so failures reproduce. */

/** Independent reference: flow-included bin of x along a continuous axis by linear search over its edges. */
function refIndex(ax: Axis, x: number): number {
  const under = ax.underflow ? 1 : 0;
  if (ax.type === "boolean") return Number.isNaN(x) ? -1 : x !== 0 ? 1 : 0;
  if (ax.type === "category_int") {
    const i = ax.categories.indexOf(x);
    return i >= 0 ? i : ax.overflow ? ax.categories.length : -1;
  }
  if (ax.type === "category_str") throw new Error("not numeric");
  const e = ax.type === "integer" ? axisEdges(ax) : axisEdges(ax);
  const v = ax.type === "integer" ? Math.floor(x) : x;
  const n = e.length - 1;
  if (Number.isNaN(v)) return ax.overflow ? n + under : -1;
  if (v < e[0]) return ax.underflow ? 0 : -1;
  if (v >= e[n]) return ax.overflow ? n + under : -1;
  let b = 0;
  while (!(v >= e[b] && v < e[b + 1])) b++;
  return b + under;
}

function refFill1D(ax: Axis, xs: number[], ws?: number[]): Float64Array {
  const out = new Float64Array(axisExtent(ax));
  xs.forEach((x, i) => {
    const b = refIndex(ax, x);
    if (b >= 0) out[b] += ws ? ws[i] : 1;
  });
  return out;
}

function nextDown(x: number): number {
  const f = new Float64Array([x]);
  const u = new BigInt64Array(f.buffer);
  if (x > 0) u[0] -= 1n;
  else if (x < 0) u[0] += 1n;
  else return -Number.MIN_VALUE;
  return f[0];
}

describe("regular axis", () => {
  it("puts values exactly on every edge into the bin starting there, and the value just below into the previous bin", () => {
    for (const [n, lo, hi] of [
      [10, 0, 1],
      [7, -1.3, 2.9],
      [3, 0, 0.3],
      [48, -2.4, 2.4],
    ] as const) {
      const ax = regular(n, lo, hi, { name: "x" });
      const edges = axisEdges(ax);
      const h = new Hist([ax]);
      h.fillSync({ x: Float64Array.from(edges) });
      const expected = new Float64Array(n + 2);
      for (let i = 0; i <= n; i++) expected[i + 1] += 1; // edge i -> bin i (flow index i+1); last edge -> overflow
      expect(Array.from(h.values({ flow: true }))).toEqual(Array.from(expected));
      const h2 = new Hist([ax]);
      h2.fillSync({ x: Float64Array.from(edges.map(nextDown)) });
      const expected2 = new Float64Array(n + 2);
      for (let i = 0; i <= n; i++) expected2[i] += 1; // just below edge i -> bin i-1 (flow index i)
      expect(Array.from(h2.values({ flow: true }))).toEqual(Array.from(expected2));
    }
  });

  it("matches an edge-search reference on random values, with and without flow bins", () => {
    const r = rng(1);
    const xs = Array.from({ length: 5000 }, () => r() * 3 - 1);
    for (const flow of [true, false]) {
      const ax = regular(13, -0.5, 1.7, { name: "x", underflow: flow, overflow: flow });
      const h = new Hist([ax]);
      h.fillSync({ x: xs });
      expect(Array.from(h.values({ flow: true }))).toEqual(Array.from(refFill1D(ax, xs)));
      expect(h.values().length).toBe(13);
    }
  });

  it("sends NaN to overflow when there is one and drops it otherwise; ±Infinity go to the flow bins", () => {
    const withFlow = new Hist([regular(2, 0, 1, { name: "x" })]);
    withFlow.fillSync({ x: [NaN, Infinity, -Infinity, 0.2] });
    expect(Array.from(withFlow.values({ flow: true }))).toEqual([1, 1, 0, 2]);
    const noFlow = new Hist([regular(2, 0, 1, { name: "x", underflow: false, overflow: false })]);
    noFlow.fillSync({ x: [NaN, Infinity, -Infinity, 0.2, 1.0] });
    expect(Array.from(noFlow.values({ flow: true }))).toEqual([1, 0]);
    const onlyUnder = new Hist([regular(2, 0, 1, { name: "x", overflow: false })]);
    onlyUnder.fillSync({ x: [NaN, -1, 0.7] });
    expect(Array.from(onlyUnder.values({ flow: true }))).toEqual([1, 0, 1]);
  });

  it("accepts every numeric typed array as a column", () => {
    const ax = integer(0, 4, { name: "x" });
    const cols = [
      new Float32Array([0, 1, 3, 5]),
      new Int32Array([0, 1, 3, 5]),
      new Uint32Array([0, 1, 3, 5]),
      new Int16Array([0, 1, 3, 5]),
      new Uint16Array([0, 1, 3, 5]),
      new Int8Array([0, 1, 3, 5]),
      new Uint8Array([0, 1, 3, 5]),
      new BigInt64Array([0n, 1n, 3n, 5n]),
      new BigUint64Array([0n, 1n, 3n, 5n]),
    ];
    for (const c of cols) {
      const h = new Hist([ax]);
      h.fillSync({ x: c });
      expect(Array.from(h.values({ flow: true }))).toEqual([0, 1, 1, 0, 1, 1]);
    }
  });
});

describe("variable, integer, boolean and category axes", () => {
  it("variable axis matches the reference, edges exact", () => {
    const edges = [-3, -1, 0, 0.5, 2, 10];
    const r = rng(2);
    const xs = [...edges, NaN, ...Array.from({ length: 3000 }, () => r() * 16 - 4)];
    for (const flow of [true, false]) {
      const ax = variable(edges, { name: "x", underflow: flow, overflow: flow });
      const h = new Hist([ax]);
      h.fillSync({ x: Float64Array.from(xs) });
      expect(Array.from(h.values({ flow: true }))).toEqual(Array.from(refFill1D(ax, xs)));
    }
  });

  it("integer axis bins floor(x) for lower..upper-1", () => {
    const ax = integer(-2, 3, { name: "q" });
    const h = new Hist([ax]);
    h.fillSync({ q: [-3, -2, -1.5, -0.5, 0, 0.99, 2, 2.999, 3, NaN] });
    // flow: [under, -2, -1, 0, 1, 2, over]
    expect(Array.from(h.values({ flow: true }))).toEqual([1, 2, 1, 2, 0, 2, 2]);
    const noFlow = new Hist([integer(-2, 3, { name: "q", underflow: false, overflow: false })]);
    noFlow.fillSync({ q: [-3, -2, 0, 3, NaN] });
    expect(Array.from(noFlow.values())).toEqual([1, 0, 1, 0, 0]);
  });

  it("boolean axis: zero is false, anything else true, NaN dropped", () => {
    const h = new Hist([boolean({ name: "iso" })]);
    h.fillSync({ iso: [0, 1, 2, -1, 0, NaN] });
    expect(Array.from(h.values({ flow: true }))).toEqual([2, 3]);
    expect(h.shape).toEqual([2]);
  });

  it("integer categories: other bin, no other bin, non-integers", () => {
    const withOther = new Hist([categoryInt([11, -13, 5], { name: "pdg" })]);
    withOther.fillSync({ pdg: new Int32Array([11, 11, -13, 7, 5, 0]) });
    expect(Array.from(withOther.values({ flow: true }))).toEqual([2, 1, 1, 2]);
    const xs = [11, 11.5, NaN, -13, 5, 5];
    const dropped = new Hist([categoryInt([11, -13, 5], { name: "pdg", overflow: false })]);
    dropped.fillSync({ pdg: Float64Array.from(xs) });
    expect(Array.from(dropped.values({ flow: true }))).toEqual([1, 1, 2]);
    // dense categories take the direct-lookup path; compare with the reference on random ints
    const dense = categoryInt([3, 4, 5, 6], { name: "c" });
    const r = rng(3);
    const ints = Array.from({ length: 2000 }, () => Math.floor(r() * 10));
    const h = new Hist([dense]);
    h.fillSync({ c: Int32Array.from(ints) });
    expect(Array.from(h.values({ flow: true }))).toEqual(Array.from(refFill1D(dense, ints)));
  });

  it("integer categories grow with unseen values, keeping earlier contents", () => {
    const h = new Hist([categoryInt([1], { name: "run", growth: true })]);
    h.fillSync({ run: [1, 1, 2] });
    h.fillSync({ run: [7, 2, 1] });
    const ax = h.axes[0];
    expect(ax.type === "category_int" && ax.categories).toEqual([1, 2, 7]);
    expect(Array.from(h.values({ flow: true }))).toEqual([3, 2, 1]);
  });

  it("string categories: lookup, other bin, growth", () => {
    const h = new Hist([categoryStr(["mu", "e"], { name: "ch" })]);
    h.fillSync({ ch: ["e", "mu", "tau", "e"] });
    expect(Array.from(h.values({ flow: true }))).toEqual([1, 2, 1]);
    const g = new Hist([categoryStr([], { name: "ch", growth: true }), regular(2, 0, 2, { name: "x", underflow: false, overflow: false })]);
    g.fillSync({ ch: ["a", "b", "a"], x: [0.5, 1.5, 1.5] });
    g.fillSync({ ch: ["c", "a"], x: [0.5, 0.5] });
    const ax = g.axes[0];
    expect(ax.type === "category_str" && ax.categories).toEqual(["a", "b", "c"]);
    expect(Array.from(g.values())).toEqual([1 + 1, 1, 0, 1, 1, 0]);
    expect(() => h.fillSync({ ch: new Int32Array([0]) })).toThrow(UserError);
    expect(() => g.fillSync({ ch: [1, 2] as unknown as string[], x: [0.5, 0.5] })).toThrow(UserError);
    expect(() => g.fillSync({ ch: ["d"], x: [0.5, 0.5] })).toThrow(UserError);
    const gAxis = g.axes[0];
    expect(gAxis.type === "category_str" && gAxis.categories).toEqual(["a", "b", "c"]);
  });
});

describe("storages", () => {
  it("double storage sums weights; variances fall back to values", () => {
    const h = new Hist([regular(2, 0, 2, { name: "x" })]);
    h.fillSync({ x: [0.5, 0.5, 1.5] }, { weight: new Float64Array([2, 3, -1]) });
    expect(Array.from(h.values())).toEqual([5, -1]);
    expect(Array.from(h.variances())).toEqual([5, -1]);
    expect(h.storage).toBe("double");
  });

  it("weighted storage keeps Σw and Σw²", () => {
    const h = new Hist([regular(2, 0, 2, { name: "x" })], { storage: "weighted" });
    h.fillSync({ x: [0.5, 0.5, 1.5, 5] }, { weight: new Float64Array([2, 3, -1, 4]) });
    expect(Array.from(h.values({ flow: true }))).toEqual([0, 5, -1, 4]);
    expect(Array.from(h.variances({ flow: true }))).toEqual([0, 13, 1, 16]);
    const unweighted = new Hist([regular(2, 0, 2, { name: "x" })], { storage: "weighted" });
    unweighted.fillSync({ x: [0.5, 0.5, 1.5] });
    expect(Array.from(unweighted.variances())).toEqual([2, 1]);
  });

  it("count storage counts events and refuses weights and tensors", () => {
    const h = new Hist([integer(0, 3, { name: "n" })], { storage: "count" });
    h.fillSync({ n: new Uint8Array([0, 2, 2, 2, 9]) });
    expect(Array.from(h.values({ flow: true }))).toEqual([0, 1, 0, 3, 1]);
    expect(h.sum()).toBe(4);
    expect(h.sum({ flow: true })).toBe(5);
    expect(() => h.fillSync({ n: [1] }, { weight: new Float64Array([2]) })).toThrow(UserError);
    expect(() => new Hist([integer(0, 3, { name: "n" })], { storage: "count", tensor: { name: "t", size: 2 } })).toThrow(UserError);
  });
});

describe("tensor axis", () => {
  it("one K-wide tensor fill equals K separate fills with each column of weights", () => {
    const r = rng(4);
    const n = 3000;
    const K = 7;
    const pt = Float64Array.from({ length: n }, () => 20 + r() * 50);
    const eta = Float64Array.from({ length: n }, () => r() * 6 - 3);
    const q = Int32Array.from({ length: n }, () => (r() < 0.5 ? -1 : 1));
    const w = Float64Array.from({ length: n }, () => r() * 2 - 0.5);
    const tw = Float64Array.from({ length: n * K }, () => 0.5 + r());
    const axes = () => [regular(10, 25, 65, { name: "pt" }), variable([-2.4, -1, 0, 1, 2.4], { name: "eta" }), categoryInt([-1, 1], { name: "q" })];
    for (const storage of ["double", "weighted"] as const) {
      const t = new Hist(axes(), { storage, tensor: { name: "syst", size: K, labels: Array.from({ length: K }, (_, k) => `v${k}`) } });
      t.fillSync({ pt, eta, q }, { weight: w, tensorWeights: tw });
      expect(t.shape).toEqual([10, 4, 2, K]);
      const tv = t.values({ flow: true });
      const tvar = t.variances({ flow: true });
      for (let k = 0; k < K; k++) {
        const single = new Hist(axes(), { storage });
        const wk = Float64Array.from({ length: n }, (_, i) => w[i] * tw[i * K + k]);
        single.fillSync({ pt, eta, q }, { weight: wk });
        const sv = single.values({ flow: true });
        const svar = single.variances({ flow: true });
        for (let c = 0; c < sv.length; c++) {
          expect(tv[c * K + k]).toBe(sv[c]);
          expect(tvar[c * K + k]).toBe(svar[c]);
        }
      }
      const perK = t.sumTensor({ flow: true });
      for (let k = 0; k < K; k++) {
        let s = 0;
        for (let i = 0; i < n; i++) s += w[i] * tw[i * K + k];
        expect(perK[k]).toBeCloseTo(s, 9);
      }
    }
  });

  it("requires tensorWeights of n × K", () => {
    const h = new Hist([regular(2, 0, 1, { name: "x" })], { tensor: { name: "syst", size: 3 } });
    expect(() => h.fillSync({ x: [0.1] })).toThrow(/tensorWeights/);
    expect(() => h.fillSync({ x: [0.1] }, { tensorWeights: new Float64Array(2) })).toThrow(UserError);
    expect(() => new Hist([regular(2, 0, 1, { name: "x" })]).fillSync({ x: [0.1] }, { tensorWeights: new Float64Array(1) })).toThrow(UserError);
  });
});

describe("multi-dimensional fill, project, slice, rebin, add", () => {
  const r = rng(5);
  const n = 4000;
  const xs = Array.from({ length: n }, () => r() * 1.2 - 0.1);
  const ys = Array.from({ length: n }, () => Math.floor(r() * 6) - 1);
  const ws = Array.from({ length: n }, () => Math.round(r() * 4));
  const xAxis = () => regular(10, 0, 1, { name: "x" });
  const yAxis = () => integer(0, 4, { name: "y" });
  function make(): Hist {
    const h = new Hist([xAxis(), yAxis()], { storage: "weighted" });
    h.fillSync({ x: Float64Array.from(xs), y: Int32Array.from(ys) }, { weight: Float64Array.from(ws) });
    return h;
  }
  /** Events binned by x only (y ignored), from the events, not from the 2-D histogram. */
  function direct(filter: (i: number) => boolean, ax: Axis, key: (i: number) => number): Float64Array {
    const out = new Float64Array(axisExtent(ax));
    for (let i = 0; i < n; i++) {
      if (!filter(i)) continue;
      const b = refIndex(ax, key(i));
      if (b >= 0) out[b] += ws[i];
    }
    return out;
  }

  it("2-D fill matches a per-event reference", () => {
    const h = make();
    const ex = axisExtent(xAxis());
    const ey = axisExtent(yAxis());
    const ref = new Float64Array(ex * ey);
    for (let i = 0; i < n; i++) ref[refIndex(xAxis(), xs[i]) * ey + refIndex(yAxis(), ys[i])] += ws[i];
    expect(Array.from(h.values({ flow: true }))).toEqual(Array.from(ref));
    expect(h.flowShape).toEqual([12, 6]);
    expect(h.sum({ flow: true })).toBe(ws.reduce((a, b) => a + b, 0));
  });

  it("project sums over the other axes including their flow bins", () => {
    const h = make();
    expect(Array.from(h.project("x").values({ flow: true }))).toEqual(Array.from(direct(() => true, xAxis(), (i) => xs[i])));
    expect(Array.from(h.project("y").values({ flow: true }))).toEqual(Array.from(direct(() => true, yAxis(), (i) => ys[i])));
    const yx = h.project("y", "x");
    expect(yx.shape).toEqual([4, 10]);
    const v = yx.values();
    const hv = h.values();
    for (let a = 0; a < 10; a++) for (let b = 0; b < 4; b++) expect(v[b * 10 + a]).toBe(hv[a * 4 + b]);
    expect(() => h.project("z")).toThrow(UserError);
  });

  it("slice keeps bins [lo, hi) and moves the rest into the flow bins", () => {
    const h = make().slice("x", 2, 7).project("x");
    const ax = h.axes[0];
    expect(ax.type === "regular" && [ax.bins, ax.lower, ax.upper]).toEqual([5, axisEdges(xAxis())[2], axisEdges(xAxis())[7]]);
    const full = direct(() => true, xAxis(), (i) => xs[i]);
    const v = h.values({ flow: true });
    const under = full.slice(0, 3).reduce((a, b) => a + b, 0);
    const over = full.slice(8).reduce((a, b) => a + b, 0);
    expect(Array.from(v)).toEqual([under, ...Array.from(full.slice(3, 8)), over]);
    const noFlow = new Hist([regular(10, 0, 1, { name: "x", underflow: false, overflow: false })]);
    noFlow.fillSync({ x: xs });
    const s = noFlow.slice("x", 2, 7);
    expect(s.sum({ flow: true })).toBe(Array.from(noFlow.values()).slice(2, 7).reduce((a, b) => a + b, 0));
    const cat = new Hist([categoryStr(["a", "b", "c"], { name: "c" })]);
    cat.fillSync({ c: ["a", "b", "b", "c", "z"] });
    const cs = cat.slice("c", 1, 2);
    expect(Array.from(cs.values({ flow: true }))).toEqual([2, 3]);
    expect(() => cat.slice("c", 2, 2)).toThrow(UserError);
  });

  it("rebin equals filling the coarser binning directly; add merges", () => {
    const h = make();
    const coarse = h.rebin("x", 2).project("x");
    const coarseAxis = regular(5, 0, 1, { name: "x" });
    expect(Array.from(coarse.values({ flow: true }))).toEqual(Array.from(direct(() => true, coarseAxis, (i) => xs[i])));
    const ry = h.rebin("y", 2).project("y");
    const ryAxis = variable([0, 2, 4], { name: "y" });
    expect(Array.from(ry.values({ flow: true }))).toEqual(Array.from(direct(() => true, ryAxis, (i) => ys[i])));
    expect(() => h.rebin("x", 3)).toThrow(UserError);

    const twice = make().add(make());
    expect(Array.from(twice.values({ flow: true }))).toEqual(Array.from(h.values({ flow: true }), (v) => 2 * v));
    expect(Array.from(twice.variances({ flow: true }))).toEqual(Array.from(h.variances({ flow: true }), (v) => 2 * v));
    expect(() => h.add(new Hist([xAxis()], { storage: "weighted" }))).toThrow(UserError);
    expect(() => h.add(new Hist([xAxis(), yAxis()]))).toThrow(UserError);
  });

  it("add merges growth category axes by value", () => {
    const axes = () => [categoryStr([], { name: "ds", growth: true }), regular(2, 0, 2, { name: "x", underflow: false, overflow: false })];
    const a = new Hist(axes(), { storage: "weighted" });
    a.fillSync({ ds: ["W", "Z", "W"], x: [0.5, 0.5, 1.5] });
    const b = new Hist(axes(), { storage: "weighted" });
    b.fillSync({ ds: ["top", "W", "top"], x: [1.5, 0.5, 0.5] }, { weight: new Float64Array([2, 3, 4]) });
    a.add(b);
    const ax = a.axes[0];
    expect(ax.type === "category_str" && ax.categories).toEqual(["W", "Z", "top"]);
    // rows: W, Z, top; columns: x bins
    expect(Array.from(a.values())).toEqual([1 + 3, 1, 1, 0, 4, 2]);
    expect(Array.from(a.variances())).toEqual([1 + 9, 1, 1, 0, 16, 4]);
    expect(() => a.add(new Hist([categoryStr(["W"], { name: "ds" }), axes()[1]], { storage: "weighted" }))).toThrow(UserError);
  });

  it("validates hand-made axis objects through the factories", () => {
    expect(() => new Hist([{ type: "regular", name: "x", label: "x", bins: 0, lower: 0, upper: 1, underflow: true, overflow: true }])).toThrow(UserError);
  });

  it("copy is independent; toJSON carries the schema", () => {
    const h = make();
    const c = h.copy();
    c.fillSync({ x: [0.5], y: [1] }, { weight: new Float64Array([100]) });
    expect(c.sum()).toBe(h.sum() + 100);
    const schema = h.toJSON();
    expect(schema.storage).toBe("weighted");
    expect(schema.axes.map((a) => a.type)).toEqual(["regular", "integer"]);
    expect(schema.tensor).toBeNull();
  });

  it("rejects bad fills with a UserError", () => {
    const h = make();
    expect(() => h.fillSync({ x: [0.1] })).toThrow(/no column for axis "y"/);
    expect(() => h.fillSync({ x: [0.1, 0.2], y: [1] })).toThrow(UserError);
    expect(() => h.fillSync({ x: [0.1], y: [1] }, { weight: new Float64Array(2) })).toThrow(UserError);
    expect(() => h.fillSync({ x: [0.1], y: [1] }, { threads: 0 })).toThrow(UserError);
    expect(() => new Hist([xAxis(), xAxis()])).toThrow(UserError);
    expect(() => regular(0, 0, 1, { name: "x" })).toThrow(UserError);
    expect(() => variable([0, 0], { name: "x" })).toThrow(UserError);
  });

  it("accepts columns as an array in axis order", () => {
    const a = make();
    const b = new Hist([xAxis(), yAxis()], { storage: "weighted" });
    b.fillSync([Float64Array.from(xs), Int32Array.from(ys)], { weight: Float64Array.from(ws) });
    expect(Array.from(b.values({ flow: true }))).toEqual(Array.from(a.values({ flow: true })));
  });
});

describe("construction helpers", () => {
  it("fromArrays rebuilds a histogram from flow-included arrays and checks their length", () => {
    const axes = [regular(2, 0, 2, { name: "x", underflow: false })];
    const h = Hist.fromArrays(axes, { storage: "weighted" }, new Float64Array([1, 2, 3]), new Float64Array([4, 5, 6]));
    expect(Array.from(h.values())).toEqual([1, 2]);
    expect(Array.from(h.variances({ flow: true }))).toEqual([4, 5, 6]);
    h.fillSync({ x: [1.5] });
    expect(Array.from(h.values({ flow: true }))).toEqual([1, 3, 3]);
    expect(() => Hist.fromArrays(axes, {}, new Float64Array(2))).toThrow(UserError);
    expect(() => Hist.fromArrays(axes, { storage: "count" }, new Float64Array([1, 0.5, 0]))).toThrow(UserError);
    const counts = Hist.fromArrays(axes, { storage: "count" }, new Float64Array([1, 7, 0]));
    expect(Array.from(counts.values({ flow: true }))).toEqual([1, 7, 0]);
  });

  it("reports storage bytes and the atomic update mode", () => {
    const axes = () => [regular(10, 0, 1, { name: "x" })];
    expect(new Hist(axes()).storageBytes).toBe(12 * 8);
    expect(new Hist(axes(), { storage: "weighted", tensor: { name: "t", size: 5 } }).storageBytes).toBe(2 * 12 * 5 * 8);
    expect(new Hist(axes()).atomicMode).toBe("cas");
    expect(new Hist(axes(), { tensor: { name: "t", size: 5 } }).atomicMode).toBe("bin-lock");
    expect(new Hist(axes(), { tensor: { name: "t", size: 5 }, atomicMode: "cas" }).atomicMode).toBe("cas");
    expect(() => new Hist(axes(), { atomicMode: "none" as "cas" })).toThrow(UserError);
  });

  it("axisFromJSON rebuilds every axis type and rejects unknown ones", () => {
    const all: Axis[] = [
      regular(3, -1, 2, { name: "a", label: "A", underflow: false }),
      variable([0, 1, 5], { name: "b", overflow: false }),
      integer(-2, 2, { name: "c" }),
      boolean({ name: "d" }),
      categoryInt([3, 1], { name: "e", growth: true }),
      categoryStr(["x", "y"], { name: "f", overflow: false }),
    ];
    for (const ax of all) expect(axisFromJSON(JSON.parse(JSON.stringify(ax)), "test")).toEqual(ax);
    expect(() => axisFromJSON({ type: "hexagonal", name: "h" }, "file.hdf5:/h axis 0")).toThrow(/unknown axis type/);
  });
});
