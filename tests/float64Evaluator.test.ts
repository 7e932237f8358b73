/**
 * Float64Evaluator (native float64 likelihood): derivatives against finite differences for every
 * model option, the NLL and yields against a naive TypeScript evaluation of likelihood.md, the
 * Hessian against HVP columns, yield variances against a finite-difference Jacobian, and (when
 * /usr/bin/python3 with h5py is present) NLL, gradient and Hessian against ref_fit.py's Model.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { Float64Evaluator } from "../fitter/Float64Evaluator.js";
import type { LikelihoodSpec, PoiMode } from "../fitter/likelihoodSpec.js";
import type { SystematicType } from "../src/tensor/types.js";
import { rng } from "./helpers/random.js";

const here = dirname(fileURLToPath(import.meta.url));
const sharedDir = resolve(here, "../../shared");
const fixturesDir = resolve(here, "fixtures");

/** Small deterministic generator (mulberry32). */

interface ModelOptions {
  symmetric: boolean;
  poiMode: PoiMode;
  bb: boolean;
  systematicType: SystematicType;
  seed: number;
}

const NBINS = 14;
const NMASKED = 3;
const NPROC = 4;
const NSIG = 2;
const NSYST = 9;

interface Sizes {
  NBINS: number;
  NMASKED: number;
  NPROC: number;
  NSIG: number;
  NSYST: number;
  density: number;
}
const SMALL: Sizes = { NBINS, NMASKED, NPROC, NSIG, NSYST, density: 0.45 };

function makeSpec(o: ModelOptions, sizes: Sizes = SMALL): LikelihoodSpec {
  const { NBINS, NMASKED, NPROC, NSIG, NSYST, density } = sizes;
  const r = rng(o.seed);
  const nbinsFull = NBINS + NMASKED;
  const nrows = nbinsFull * NPROC;
  const ncols = o.symmetric ? NSYST : 2 * NSYST;
  const norm = new Float64Array(nrows);
  for (let i = 0; i < nrows; i++) norm[i] = 5 + 60 * r();
  norm[3 * NPROC + 2] = 0; // an empty template
  const rowPtr = new Int32Array(nrows + 1);
  const cols: number[] = [];
  const vals: number[] = [];
  for (let row = 0; row < nrows; row++) {
    for (let c = 0; c < ncols; c++) {
      if (r() < density) {
        cols.push(c);
        const scale = o.systematicType === "normal" ? 3 : 0.08;
        vals.push(scale * (2 * r() - 1));
      }
    }
    rowPtr[row + 1] = cols.length;
  }
  const data = new Float64Array(NBINS);
  for (let b = 0; b < NBINS; b++) {
    let s = 0;
    for (let p = 0; p < NPROC; p++) s += norm[b * NPROC + p];
    data[b] = Math.round(s * (0.8 + 0.4 * r()));
  }
  data[1] = 0;
  data[6] = 0; // n = 0 bins
  let bbK: Float64Array | null = null;
  if (o.bb) {
    bbK = new Float64Array(NBINS);
    for (let b = 0; b < NBINS; b++) bbK[b] = b % 5 === 2 ? Number.POSITIVE_INFINITY : 20 + 400 * r();
  }
  const constraintWeights = new Float64Array(NSYST).fill(1);
  constraintWeights[0] = 0;
  constraintWeights[4] = 0; // free parameters
  const theta0 = new Float64Array(NSYST);
  for (let s = 0; s < NSYST; s++) theta0[s] = 0.3 * (2 * r() - 1);
  return {
    nbins: NBINS,
    nbinsFull,
    nproc: NPROC,
    nsig: NSIG,
    nsyst: NSYST,
    norm,
    logk: { nrows, ncols, rowPtr, cols: Int32Array.from(cols), values: Float64Array.from(vals) },
    symmetric: o.symmetric,
    systematicType: o.systematicType,
    data,
    bbK,
    constraintWeights,
    theta0,
    poiMode: o.poiMode,
  };
}

function makeX(seed: number, NSIG_ = NSIG, NSYST_ = NSYST): Float64Array {
  const [NSIG, NSYST] = [NSIG_, NSYST_];
  const r = rng(seed);
  const x = new Float64Array(NSIG + NSYST);
  for (let q = 0; q < NSIG; q++) x[q] = 0.8 + 0.4 * r();
  // θ values inside and outside the smooth-step window |θ| < 0.5 (away from its edge)
  const th = [0.1, -0.3, 0.8, -1.4, 0.45, -0.05, 1.1, 0.0, -0.6];
  for (let s = 0; s < NSYST; s++) x[NSIG + s] = th[s % th.length] + 0.02 * (2 * r() - 1);
  return x;
}

/** Naive evaluation of likelihood.md, written independently of the native code. */
function naiveYields(spec: LikelihoodSpec, x: Float64Array): Float64Array {
  const { nproc, nsig, nsyst, logk } = spec;
  const nrows = spec.nbinsFull * nproc;
  const out = new Float64Array(nrows);
  for (let row = 0; row < nrows; row++) {
    const p = row % nproc;
    let e = 0;
    for (let k = logk.rowPtr[row]; k < logk.rowPtr[row + 1]; k++) {
      const c = logk.cols[k];
      const s = c % nsyst;
      const th = x[nsig + s];
      if (c < nsyst) e += th * logk.values[k];
      else {
        const t = 2 * th;
        const alpha = Math.abs(th) < 0.5 ? Math.max(-1, Math.min(1, (t * (3 * t ** 4 - 10 * t * t + 15)) / 8)) : Math.sign(th);
        e += th * alpha * logk.values[k];
      }
    }
    const rp = p < nsig ? (spec.poiMode === "square" ? x[p] * x[p] : x[p]) : 1;
    out[row] = spec.systematicType === "log_normal" ? rp * spec.norm[row] * Math.exp(e) : rp * spec.norm[row] + e;
  }
  return out;
}

function naiveNll(spec: LikelihoodSpec, x: Float64Array): number {
  const nu = naiveYields(spec, x);
  let f = 0;
  for (let b = 0; b < spec.nbins; b++) {
    let nub = 0;
    for (let p = 0; p < spec.nproc; p++) nub += nu[b * spec.nproc + p];
    const n = spec.data[b];
    const k = spec.bbK ? spec.bbK[b] : Infinity;
    if (Number.isFinite(k)) {
      const beta = (n + k) / (nub + k);
      f += beta * nub - n - (n > 0 ? n * Math.log((beta * nub) / n) : 0) + k * (beta - 1) - k * Math.log(beta);
    } else {
      f += nub - n - (n > 0 ? n * Math.log(nub / n) : 0);
    }
  }
  for (let s = 0; s < spec.nsyst; s++) {
    const d = x[spec.nsig + s] - spec.theta0[s];
    f += 0.5 * spec.constraintWeights[s] * d * d;
  }
  return f;
}

function shifted(x: Float64Array, dir: Float64Array, h: number): Float64Array {
  return x.map((xi, i) => xi + h * dir[i]);
}

function unit(n: number, j: number): Float64Array {
  const e = new Float64Array(n);
  e[j] = 1;
  return e;
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rel: number, abs: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    const tol = abs + rel * Math.abs(expected[i]);
    if (!(Math.abs(actual[i] - expected[i]) <= tol)) {
      throw new Error(`index ${i}: ${actual[i]} vs ${expected[i]} (tolerance ${tol})`);
    }
  }
}

/** A random SPD covariance and J C Jᵀ diagonals with J from central differences of the naive yields. */
function expectedVariances(spec: LikelihoodSpec, x: Float64Array) {
  const n = spec.nsig + spec.nsyst;
  // a random SPD covariance
  const r = rng(99);
  const A = Float64Array.from({ length: n * n }, () => r() - 0.5);
  const C = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = i === j ? 0.05 : 0;
      for (let k = 0; k < n; k++) s += A[i * n + k] * A[j * n + k];
      C[i * n + j] = s;
    }
  // Jacobian of the yields by central differences of the naive yields
  const nrows = spec.nbinsFull * spec.nproc;
  const J = new Float64Array(nrows * n);
  const h = 1e-6;
  for (let j = 0; j < n; j++) {
    const yp = naiveYields(spec, shifted(x, unit(n, j), h));
    const ym = naiveYields(spec, shifted(x, unit(n, j), -h));
    for (let row = 0; row < nrows; row++) J[row * n + j] = (yp[row] - ym[row]) / (2 * h);
  }
  const quad = (g: Float64Array) => {
    let s = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) s += g[i] * C[i * n + j] * g[j];
    return s;
  };
  const wantRow = new Float64Array(nrows);
  const wantBin = new Float64Array(spec.nbinsFull);
  for (let b = 0; b < spec.nbinsFull; b++) {
    const jb = new Float64Array(n);
    for (let p = 0; p < spec.nproc; p++) {
      const row = (b * spec.nproc + p) * n;
      const jr = J.subarray(row, row + n);
      wantRow[b * spec.nproc + p] = quad(jr);
      for (let i = 0; i < n; i++) jb[i] += jr[i];
    }
    wantBin[b] = quad(jb);
  }
  return { C, wantRow, wantBin };
}

/** NLL and yields vs the naive code, gradient and HVP vs finite differences, Hessian vs HVP columns. */
function checkDerivatives(spec: LikelihoodSpec, x: Float64Array, seedV: number): void {
  const ev = new Float64Evaluator(spec, { threads: 2 });
  const n = ev.nparams;
  expect(n).toBe(spec.nsig + spec.nsyst);

  // NLL and yields against the naive code
  expect(Math.abs(ev.nll(x) - naiveNll(spec, x))).toBeLessThan(1e-10 * (1 + Math.abs(naiveNll(spec, x))));
  expectClose(ev.yields(x), naiveYields(spec, x), 1e-13, 1e-12);

  // gradient vs central differences of the NLL
  const { value, gradient } = ev.valueAndGradient(x);
  expect(value).toBeCloseTo(ev.nll(x), 12);
  const h = 1e-5;
  const fd = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    const e = unit(n, j);
    fd[j] = (naiveNll(spec, shifted(x, e, h)) - naiveNll(spec, shifted(x, e, -h))) / (2 * h);
  }
  expectClose(gradient, fd, 1e-6, 2e-5);

  // HVP vs central differences of the gradient along a random direction
  const r = rng(seedV);
  const v = Float64Array.from({ length: n }, () => 2 * r() - 1);
  const hv = ev.hessianVectorProduct(x, v);
  const gp = ev.valueAndGradient(shifted(x, v, h)).gradient;
  const gm = ev.valueAndGradient(shifted(x, v, -h)).gradient;
  expectClose(hv, gp.map((g, i) => (g - gm[i]) / (2 * h)), 1e-6, 2e-5);

  // dense Hessian vs HVP columns (both exact: agreement to rounding) and symmetry
  const H = ev.hessian(x);
  for (let j = 0; j < n; j++) {
    const col = ev.hessianVectorProduct(x, unit(n, j));
    const hcol = Float64Array.from({ length: n }, (_, i) => H[i * n + j]);
    expectClose(hcol, col, 1e-10, 1e-9);
    for (let i = 0; i < n; i++) expect(H[i * n + j]).toBe(H[j * n + i]);
  }
  ev.dispose();
}

const combos: ModelOptions[] = [];
let seed = 11;
for (const symmetric of [true, false])
  for (const poiMode of ["linear", "square"] as PoiMode[])
    for (const bb of [false, true])
      for (const systematicType of ["log_normal", "normal"] as SystematicType[])
        combos.push({ symmetric, poiMode, bb, systematicType, seed: seed++ });

const label = (o: ModelOptions) =>
  `${o.symmetric ? "sym" : "asym"} ${o.poiMode} ${o.bb ? "BB" : "noBB"} ${o.systematicType}`;

describe("Float64Evaluator against finite differences and a naive evaluation", () => {
  for (const o of combos) {
    it(label(o), () => {
      checkDerivatives(makeSpec(o), makeX(o.seed * 7), o.seed);
    });
  }
});

describe("Float64Evaluator edge cases", () => {
  it("a model without POIs and one without systematics", () => {
    const noPoi = makeSpec(combos[6], { ...SMALL, NSIG: 0 });
    checkDerivatives(noPoi, makeX(3, 0, NSYST), 1);
    const noSyst = makeSpec(combos[13], { ...SMALL, NSYST: 0 });
    checkDerivatives(noSyst, makeX(4, NSIG, 0), 2);
  });
});

describe("Float64Evaluator yield variances, data and theta0 updates", () => {
  for (const o of [combos[0], combos[combos.length - 1], combos[5]]) {
    it(`yieldVariances ${label(o)}`, () => {
      const spec = makeSpec(o);
      const ev = new Float64Evaluator(spec, { threads: 2 });
      const n = ev.nparams;
      const x = makeX(3);
      const { C, wantRow, wantBin } = expectedVariances(spec, x);
      const got = ev.yieldVariances(x, C);
      expectClose(got.perProcess, wantRow, 1e-6, 1e-6);
      expectClose(got.total, wantBin, 1e-6, 1e-6);
      ev.dispose();
    });
  }

  it("setData and setTheta0 change the NLL as the naive evaluation says", () => {
    const o = combos[3];
    const spec = makeSpec(o);
    const ev = new Float64Evaluator(spec, { threads: 1 });
    const x = makeX(5);
    const before = ev.nll(x);
    const data = spec.data.map((d, i) => d + (i % 3));
    const theta0 = spec.theta0.map((t, i) => t + 0.1 * i);
    ev.setData(data);
    ev.setTheta0(theta0);
    const after = ev.nll(x);
    const want = naiveNll({ ...spec, data, theta0 }, x);
    expect(after).not.toBeCloseTo(before, 3);
    expect(Math.abs(after - want)).toBeLessThan(1e-10 * (1 + Math.abs(want)));
    const g = ev.valueAndGradient(x).gradient;
    expect(g.every(Number.isFinite)).toBe(true);
    ev.dispose();
    expect(() => ev.nll(x)).toThrow(/dispose/);
  });

  it("gives the same numbers with 1 and 2 threads", () => {
    const spec = makeSpec(combos[6]);
    const a = new Float64Evaluator(spec, { threads: 1 });
    const b = new Float64Evaluator(spec, { threads: 2 });
    const x = makeX(8);
    const v = makeX(9);
    expect(Math.abs(a.nll(x) - b.nll(x))).toBeLessThan(1e-10);
    expectClose(b.valueAndGradient(x).gradient, a.valueAndGradient(x).gradient, 1e-12, 1e-11);
    expectClose(b.hessianVectorProduct(x, v), a.hessianVectorProduct(x, v), 1e-12, 1e-11);
    expectClose(b.hessian(x), a.hessian(x), 1e-12, 1e-11);
  });

  it("dense-panel Hessian and yield-variance path (rows sharing many columns) agrees with HVP columns", () => {
    // 40 nuisances with dense rows: the per-process groups are done as GEMMs, not rank-one updates
    const sizes: Sizes = { NBINS: 150, NMASKED: 0, NPROC: 3, NSIG: 1, NSYST: 40, density: 0.9 };
    for (const o of [combos[2], combos[11]]) {
      const spec = makeSpec(o, sizes);
      const ev = new Float64Evaluator(spec, { threads: 2 });
      const n = ev.nparams;
      const x = makeX(21, 1, 40);
      const H = ev.hessian(x);
      const r = rng(4);
      const v = Float64Array.from({ length: n }, () => 2 * r() - 1);
      const hv = ev.hessianVectorProduct(x, v);
      const Hv = Float64Array.from({ length: n }, (_, i) => H.subarray(i * n, i * n + n).reduce((s, h, j) => s + h * v[j], 0));
      expectClose(Hv, hv, 1e-9, 1e-7);
      for (const j of [0, 1, 17, n - 1]) {
        const col = ev.hessianVectorProduct(x, unit(n, j));
        expectClose(Float64Array.from({ length: n }, (_, i) => H[i * n + j]), col, 1e-9, 1e-7);
      }
      // the yield variances take the same dense-panel route here
      const { C, wantRow, wantBin } = expectedVariances(spec, x);
      const got = ev.yieldVariances(x, C);
      expectClose(got.perProcess, wantRow, 1e-6, 1e-6);
      expectClose(got.total, wantBin, 1e-6, 1e-6);
      ev.dispose();
    }
  });

  it("rejects inputs of the wrong size", () => {
    const spec = makeSpec(combos[0]);
    const ev = new Float64Evaluator(spec);
    expect(() => ev.nll(new Float64Array(3))).toThrow(/length 3/);
    expect(() => new Float64Evaluator({ ...spec, data: new Float64Array(2) })).toThrow(/data/);
    const badCols = spec.logk.cols.slice();
    badCols[3] = spec.logk.ncols + 5;
    expect(() => new Float64Evaluator({ ...spec, logk: { ...spec.logk, cols: badCols } })).toThrow(/column indices/);
  });
});

// ---- agreement with the float64 reference (shared/reference/ref_fit.py's Model) on fixture files

const refDir = resolve(sharedDir, "reference");
const python = "/usr/bin/python3";
const havePython =
  existsSync(python) &&
  existsSync(resolve(refDir, "ref_fit.py")) &&
  spawnSync(python, ["-c", "import h5py, numpy, scipy"]).status === 0;
if (!havePython) console.log("skipping ref_fit.py comparisons: /usr/bin/python3 with h5py or shared/reference missing");

const REF_SCRIPT = `
import sys, json
sys.path.insert(0, sys.argv[1])
import numpy as np
from ref_fit import load, Model
inp = json.load(sys.stdin)
m = load(inp["file"])
out = []
for case in inp["cases"]:
    model = Model(m, case["bbb"], case["mode"])
    v, g, H = model.grad_hess(np.array(case["x"], dtype=float))
    out.append({"nll": float(v), "grad": g.tolist(), "hess": H.reshape(-1).tolist()})
print(json.dumps(out))
`;

interface RefCase {
  bbb: boolean;
  mode: PoiMode;
  x: number[];
}

function refGradHess(file: string, cases: RefCase[]): { nll: number; grad: number[]; hess: number[] }[] {
  const r = spawnSync(python, ["-c", REF_SCRIPT, refDir], { input: JSON.stringify({ file, cases }), encoding: "utf8", maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`ref_fit.py failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

describe("Float64Evaluator against ref_fit.py", () => {
  for (const name of ["h3_asym_bbb.hdf5", "h3_sparse.hdf5"]) {
    it.skipIf(!havePython)(`${name}: NLL, gradient and Hessian at two points, linear/square POIs, BB on/off`, async () => {
      const { readTensor } = await import("../src/tensor/TensorReader.js");
      const { buildLikelihoodSpec } = await import("../fitter/likelihoodSpec.js");
      const file = resolve(fixturesDir, name);
      const model = await readTensor(file);
      const nsig = model.signals.length;
      const n = nsig + model.systs.length;
      const x0 = Array.from({ length: n }, (_, i) => (i < nsig ? 1 : 0));
      const x1 = Array.from({ length: n }, (_, i) => (i < nsig ? 0.9 + 0.1 * i : 0.9 * Math.sin(3 * i)));
      const cases: RefCase[] = [];
      for (const mode of ["linear", "square"] as PoiMode[])
        for (const bbb of [false, true]) for (const x of [x0, x1]) cases.push({ bbb, mode, x });
      const ref = refGradHess(file, cases);
      cases.forEach((c, i) => {
        const ev = new Float64Evaluator(buildLikelihoodSpec(model, { poiMode: c.mode, bbb: c.bbb }), { threads: 2 });
        const x = Float64Array.from(c.x);
        const { value, gradient } = ev.valueAndGradient(x);
        expect(Math.abs(value - ref[i].nll)).toBeLessThan(1e-9 * Math.max(1, Math.abs(ref[i].nll)));
        const gscale = Math.max(1, ...ref[i].grad.map(Math.abs));
        expectClose(gradient, ref[i].grad, 1e-9, 1e-10 * gscale);
        const H = ev.hessian(x);
        const hscale = Math.max(1, ...ref[i].hess.map(Math.abs));
        expectClose(H, ref[i].hess, 1e-9, 1e-11 * hscale);
        ev.dispose();
      });
    });
  }
});
