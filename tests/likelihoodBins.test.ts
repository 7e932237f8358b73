/**
 * The bin terms of likelihood.md on the native float64 evaluator and the tfjs likelihood:
 *  - empty bins (ν_b = n_b = 0) contribute exactly 0, n_b = 0 bins contribute ν_b (also ν_b < 0),
 *    ν_b ≤ 0 with n_b > 0 gives NLL = +∞ (never NaN in the value, never a silent number);
 *  - Barlow–Beeston with processes without MC statistics (sumw2 = 0, "split" bins): ν_b = β a_b + z_b,
 *    the NLL against a naive evaluation that profiles β by bisection of ∂L/∂β (independent of the
 *    closed-form root), gradient, HVP and Hessian against finite differences;
 *  - the tfjs (cpu) NLL and gradient against the native ones at a point with such bins.
 */
import { describe, expect, it } from "vitest";
import { Float64Evaluator } from "../fitter/Float64Evaluator.js";
import type { LikelihoodSpec, PoiMode } from "../fitter/likelihoodSpec.js";
import { initBackend, type BackendName } from "../fitter/tfBackends.js";
import { TfLikelihood } from "../fitter/tfLikelihood.js";
import type { SystematicType } from "../src/tensor/types.js";
import { rng } from "./helpers/random.js";

interface Opts {
  symmetric: boolean;
  poiMode: PoiMode;
  bb: boolean;
  split: boolean;
  systematicType: SystematicType;
  seed: number;
}

const NBINS = 16;
const NMASKED = 2;
const NPROC = 4;
const NSIG = 1;
const NSYST = 7;
/** bins whose templates are all zero and n = 0 */
const EMPTY = [2, 9];
/** bins with n = 0 but a prediction */
const ZERO_DATA = [4, 12];
/** bins where only the signal (process 0) predicts anything */
const SIGNAL_ONLY = [7];

function makeSpec(o: Opts): LikelihoodSpec {
  const r = rng(o.seed);
  const nbinsFull = NBINS + NMASKED;
  const nrows = nbinsFull * NPROC;
  const ncols = o.symmetric ? NSYST : 2 * NSYST;
  const norm = new Float64Array(nrows);
  for (let i = 0; i < nrows; i++) norm[i] = 5 + 60 * r();
  for (const b of EMPTY) norm.fill(0, b * NPROC, (b + 1) * NPROC);
  for (const b of SIGNAL_ONLY) norm.fill(0, b * NPROC + 1, (b + 1) * NPROC);
  // normal systematics add Σθ log k to ν: rows that must stay exactly 0 get no log k entries
  const zeroRow = (row: number) => norm[row] === 0 && (o.systematicType === "normal" || EMPTY.includes(Math.floor(row / NPROC)));
  const rowPtr = new Int32Array(nrows + 1);
  const cols: number[] = [];
  const vals: number[] = [];
  for (let row = 0; row < nrows; row++) {
    for (let c = 0; c < ncols; c++) {
      if (!zeroRow(row) && r() < 0.5) {
        cols.push(c);
        vals.push((o.systematicType === "normal" ? 3 : 0.08) * (2 * r() - 1));
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
  for (const b of [...EMPTY, ...ZERO_DATA]) data[b] = 0;
  let bbK: Float64Array | null = null;
  let bbActive: Uint8Array | null = null;
  if (o.bb) {
    bbK = new Float64Array(NBINS);
    for (let b = 0; b < NBINS; b++) bbK[b] = b % 5 === 3 || EMPTY.includes(b) ? Number.POSITIVE_INFINITY : 20 + 400 * r();
    if (o.split) {
      // process 3 (and in some bins process 1) without MC statistics
      bbActive = new Uint8Array(NBINS * NPROC).fill(1);
      for (let b = 0; b < NBINS; b++) {
        bbActive[b * NPROC + 3] = 0;
        if (b % 3 === 0) bbActive[b * NPROC + 1] = 0;
      }
    }
  }
  const constraintWeights = new Float64Array(NSYST).fill(1);
  constraintWeights[0] = 0;
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
    bbActive,
    constraintWeights,
    theta0: new Float64Array(NSYST),
    poiMode: o.poiMode,
  };
}

function makeX(seed: number, mu = 1.1): Float64Array {
  const r = rng(seed);
  const x = new Float64Array(NSIG + NSYST);
  x[0] = mu;
  const th = [0.1, -0.3, 0.8, -1.4, 0.45, -0.05, 1.1];
  for (let s = 0; s < NSYST; s++) x[NSIG + s] = th[s] + 0.02 * (2 * r() - 1);
  return x;
}

function naiveYields(spec: LikelihoodSpec, x: Float64Array): Float64Array {
  const { nproc, nsig, nsyst, logk } = spec;
  const out = new Float64Array(spec.nbinsFull * nproc);
  for (let row = 0; row < out.length; row++) {
    const p = row % nproc;
    let e = 0;
    for (let k = logk.rowPtr[row]; k < logk.rowPtr[row + 1]; k++) {
      const c = logk.cols[k];
      const th = x[nsig + (c % nsyst)];
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

/** L(β) = βa + z − n − n log((βa + z)/n) + k(β − 1) − k log β, the n log term dropped where n = 0. */
function bbTerm(beta: number, a: number, z: number, n: number, k: number): number {
  const nu = beta * a + z;
  return nu - n - (n > 0 ? n * Math.log(nu / n) : 0) + k * (beta - 1) - k * Math.log(beta);
}

/** β̂ by bisection of ∂L/∂β = a − n a/(βa + z) + k − k/β (increasing in β for a ≥ 0). */
function profileBeta(a: number, z: number, n: number, k: number): number {
  const dL = (b: number) => a - (n > 0 ? (n * a) / (b * a + z) : 0) + k - k / b;
  let lo = 1e-12;
  let hi = 1;
  while (dL(hi) < 0) hi *= 2;
  for (let i = 0; i < 200; i++) {
    const mid = 0.5 * (lo + hi);
    if (dL(mid) < 0) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}

/** The NLL written from likelihood.md without the closed forms: β profiled numerically. */
function naiveNll(spec: LikelihoodSpec, x: Float64Array): number {
  const nu = naiveYields(spec, x);
  let f = 0;
  for (let b = 0; b < spec.nbins; b++) {
    let a = 0;
    let z = 0;
    for (let p = 0; p < spec.nproc; p++) {
      const i = b * spec.nproc + p;
      if (!spec.bbActive || spec.bbActive[i]) a += nu[i];
      else z += nu[i];
    }
    const n = spec.data[b];
    const k = spec.bbK ? spec.bbK[b] : Infinity;
    if (n > 0 && !(a + z > 0)) return Number.POSITIVE_INFINITY;
    if (Number.isFinite(k)) f += bbTerm(a === 0 && z === 0 ? 1 : profileBeta(a, z, n, k), a, z, n, k);
    else f += a + z - n - (n > 0 ? n * Math.log((a + z) / n) : 0);
  }
  for (let s = 0; s < spec.nsyst; s++) {
    const d = x[spec.nsig + s] - spec.theta0[s];
    f += 0.5 * spec.constraintWeights[s] * d * d;
  }
  return f;
}

const shifted = (x: Float64Array, dir: Float64Array, h: number) => x.map((xi, i) => xi + h * dir[i]);
const unit = (n: number, j: number) => {
  const e = new Float64Array(n);
  e[j] = 1;
  return e;
};

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rel: number, abs: number, what: string): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    const tol = abs + rel * Math.abs(expected[i]);
    if (!(Math.abs(actual[i] - expected[i]) <= tol)) throw new Error(`${what} index ${i}: ${actual[i]} vs ${expected[i]} (tolerance ${tol})`);
  }
}

function checkDerivatives(spec: LikelihoodSpec, x: Float64Array, seedV: number): void {
  const ev = new Float64Evaluator(spec, { threads: 2 });
  const n = ev.nparams;
  const want = naiveNll(spec, x);
  expect(Math.abs(ev.nll(x) - want)).toBeLessThan(1e-10 * (1 + Math.abs(want)));
  const { value, gradient } = ev.valueAndGradient(x);
  expect(value).toBe(ev.nll(x));
  const h = 1e-5;
  const fd = Float64Array.from({ length: n }, (_, j) => (naiveNll(spec, shifted(x, unit(n, j), h)) - naiveNll(spec, shifted(x, unit(n, j), -h))) / (2 * h));
  expectClose(gradient, fd, 1e-6, 2e-5, "gradient");
  const r = rng(seedV);
  const v = Float64Array.from({ length: n }, () => 2 * r() - 1);
  const hv = ev.hessianVectorProduct(x, v);
  const gp = ev.valueAndGradient(shifted(x, v, h)).gradient;
  const gm = ev.valueAndGradient(shifted(x, v, -h)).gradient;
  expectClose(hv, gp.map((g, i) => (g - gm[i]) / (2 * h)), 1e-6, 2e-5, "HVP");
  const H = ev.hessian(x);
  for (let j = 0; j < n; j++) {
    const col = ev.hessianVectorProduct(x, unit(n, j));
    expectClose(Float64Array.from({ length: n }, (_, i) => H[i * n + j]), col, 1e-10, 1e-9, `Hessian column ${j}`);
  }
  ev.dispose();
}

const combos: Opts[] = [];
let seed = 101;
for (const symmetric of [true, false])
  for (const poiMode of ["linear", "square"] as PoiMode[])
    for (const [bb, split] of [
      [false, false],
      [true, false],
      [true, true],
    ])
      for (const systematicType of ["log_normal", "normal"] as SystematicType[])
        combos.push({ symmetric, poiMode, bb, split, systematicType, seed: seed++ });
const label = (o: Opts) => `${o.symmetric ? "sym" : "asym"} ${o.poiMode} ${o.bb ? (o.split ? "BB split" : "BB") : "noBB"} ${o.systematicType}`;

describe("native evaluator with empty bins, n = 0 bins and split Barlow–Beeston bins", () => {
  for (const o of combos) {
    it(`${label(o)}: NLL vs numerically profiled β, derivatives vs finite differences`, () => {
      checkDerivatives(makeSpec(o), makeX(o.seed * 3), o.seed);
    });
  }

  it("an empty bin contributes exactly 0 to the NLL, gradient, HVP and Hessian", () => {
    for (const o of [combos[0], combos[4], combos[5]]) {
      const spec = makeSpec(o);
      const x = makeX(7);
      const n = spec.nsig + spec.nsyst;
      // the same model without the empty bins
      const keep = Array.from({ length: spec.nbinsFull }, (_, b) => b).filter((b) => !EMPTY.includes(b));
      const rows = keep.flatMap((b) => Array.from({ length: NPROC }, (_, p) => b * NPROC + p));
      const rowPtr = new Int32Array(rows.length + 1);
      const cols: number[] = [];
      const vals: number[] = [];
      rows.forEach((row, i) => {
        for (let k = spec.logk.rowPtr[row]; k < spec.logk.rowPtr[row + 1]; k++) {
          cols.push(spec.logk.cols[k]);
          vals.push(spec.logk.values[k]);
        }
        rowPtr[i + 1] = cols.length;
      });
      const realKeep = keep.filter((b) => b < spec.nbins);
      const sub: LikelihoodSpec = {
        ...spec,
        nbins: realKeep.length,
        nbinsFull: keep.length,
        norm: Float64Array.from(rows, (row) => spec.norm[row]),
        logk: { nrows: rows.length, ncols: spec.logk.ncols, rowPtr, cols: Int32Array.from(cols), values: Float64Array.from(vals) },
        data: Float64Array.from(realKeep, (b) => spec.data[b]),
        bbK: spec.bbK ? Float64Array.from(realKeep, (b) => spec.bbK![b]) : null,
        bbActive: spec.bbActive ? Uint8Array.from(realKeep.flatMap((b) => Array.from({ length: NPROC }, (_, p) => spec.bbActive![b * NPROC + p]))) : null,
      };
      const full = new Float64Evaluator(spec, { threads: 1 });
      const less = new Float64Evaluator(sub, { threads: 1 });
      const v = Float64Array.from({ length: n }, (_, i) => Math.sin(i + 1));
      expect(full.nll(x)).toBe(less.nll(x));
      expect(Array.from(full.valueAndGradient(x).gradient)).toEqual(Array.from(less.valueAndGradient(x).gradient));
      expect(Array.from(full.hessianVectorProduct(x, v))).toEqual(Array.from(less.hessianVectorProduct(x, v)));
      expectClose(full.hessian(x), less.hessian(x), 1e-14, 1e-12, "Hessian");
      full.dispose();
      less.dispose();
    }
  });

  it("at μ = 0 a signal-only bin with n = 0 is finite (term ν_b = 0, gradient ∂ν_b/∂μ)", () => {
    for (const o of [combos[0], combos[2], combos[4]]) {
      const spec = makeSpec(o);
      for (const b of SIGNAL_ONLY) spec.data[b] = 0;
      const x = makeX(9, 0);
      const ev = new Float64Evaluator(spec, { threads: 1 });
      const { value, gradient } = ev.valueAndGradient(x);
      expect(Number.isFinite(value)).toBe(true);
      expect(gradient.every(Number.isFinite)).toBe(true);
      expect(Math.abs(value - naiveNll(spec, x))).toBeLessThan(1e-10 * (1 + Math.abs(value)));
      expect(ev.hessian(x).every(Number.isFinite)).toBe(true);
      ev.dispose();
    }
  });

  it("n_b = 0 with ν_b < 0 contributes ν_b (linear POI below 0)", () => {
    const spec = makeSpec(combos[0]);
    for (const b of SIGNAL_ONLY) spec.data[b] = 0;
    const x = makeX(9, -0.2);
    const ev = new Float64Evaluator(spec, { threads: 1 });
    const nu = ev.yields(x);
    const b = SIGNAL_ONLY[0];
    expect(nu[b * NPROC]).toBeLessThan(0);
    const value = ev.nll(x);
    expect(Number.isFinite(value)).toBe(true);
    expect(Math.abs(value - naiveNll(spec, x))).toBeLessThan(1e-10 * (1 + Math.abs(value)));
    // the bin's own contribution is ν_b: moving only its yield changes the NLL by exactly that
    const bumped = { ...spec, norm: Float64Array.from(spec.norm) };
    bumped.norm[b * NPROC] *= 2;
    const ev2 = new Float64Evaluator(bumped, { threads: 1 });
    expect(ev2.nll(x) - value).toBeCloseTo(nu[b * NPROC], 9);
    ev2.dispose();
    ev.dispose();
  });

  it("ν_b ≤ 0 with n_b > 0 gives NLL = +∞ (the minimiser backs off; the fit names the bin)", () => {
    for (const o of [combos[0], combos[2], combos[4]]) {
      const spec = makeSpec(o);
      spec.data[SIGNAL_ONLY[0]] = 3;
      const x = makeX(9, 0);
      const ev = new Float64Evaluator(spec, { threads: 1 });
      expect(ev.nll(x)).toBe(Number.POSITIVE_INFINITY);
      const { value, gradient } = ev.valueAndGradient(x);
      expect(value).toBe(Number.POSITIVE_INFINITY);
      expect(gradient.some((g) => !Number.isFinite(g))).toBe(true);
      ev.dispose();
    }
  });
});

describe("tfjs likelihood (cpu, wasm) with empty bins and split Barlow–Beeston bins", () => {
  const cases: [BackendName, Opts][] = combos.filter((c) => c.systematicType === "log_normal" || !c.bb).map((o) => ["cpu", o]);
  for (const o of combos.filter((c) => c.bb && c.systematicType === "log_normal" && c.poiMode === "linear")) cases.push(["wasm", o]);
  for (const [backend, o] of cases) {
    it(`${backend} ${label(o)}: NLL, gradient and HVP agree with the native float64 evaluator to float32 precision`, async () => {
      await initBackend(backend);
      const spec = makeSpec(o);
      for (const b of SIGNAL_ONLY) spec.data[b] = 0;
      for (const x of [makeX(o.seed * 5), makeX(o.seed * 5 + 1, o.poiMode === "linear" ? -0.05 : 0.01)]) {
        const ev = new Float64Evaluator(spec, { threads: 1 });
        const tfl = new TfLikelihood(spec);
        try {
          const want = ev.valueAndGradient(x);
          const got = await tfl.valueAndGradient(x);
          expect(Number.isFinite(got.value)).toBe(true);
          const scale = spec.data.reduce((s, d) => s + d, 0);
          expect(Math.abs(got.value - want.value)).toBeLessThan(1e-6 * scale + 1e-4);
          const gmax = want.gradient.reduce((m, g) => Math.max(m, Math.abs(g)), 0);
          expectClose(got.gradient, want.gradient, 1e-3, 1e-4 * gmax + 1e-3, "tfjs gradient");
          const v = Float64Array.from({ length: x.length }, (_, i) => Math.cos(i + 0.5));
          const hvWant = ev.hessianVectorProduct(x, v);
          const hvGot = await tfl.hessianVectorProduct(x, v);
          const hmax = hvWant.reduce((m, g) => Math.max(m, Math.abs(g)), 0);
          expectClose(hvGot, hvWant, 1e-3, 1e-3 * hmax, "tfjs HVP");
        } finally {
          ev.dispose();
          tfl.dispose();
        }
      }
    });
  }
});

describe("k_b = 0 (Σ sumw = 0 with sumw2 > 0)", () => {
  it("means no β on both engines, as k_b = +∞ (rabbit's betamask)", async () => {
    await initBackend("cpu");
    for (const o of [combos[2], combos[4]]) {
      const spec = makeSpec(o);
      const zero = { ...spec, bbK: Float64Array.from(spec.bbK!) };
      const inf = { ...spec, bbK: Float64Array.from(spec.bbK!) };
      for (const b of [0, 4, 6]) {
        zero.bbK[b] = 0;
        inf.bbK[b] = Number.POSITIVE_INFINITY;
      }
      const x = makeX(13);
      const a = new Float64Evaluator(zero, { threads: 1 });
      const b = new Float64Evaluator(inf, { threads: 1 });
      const v = Float64Array.from({ length: x.length }, (_, i) => Math.sin(i + 2));
      expect(a.nll(x)).toBe(b.nll(x));
      expect(Array.from(a.hessianVectorProduct(x, v))).toEqual(Array.from(b.hessianVectorProduct(x, v)));
      const ta = new TfLikelihood(zero);
      const tb = new TfLikelihood(inf);
      expect(await ta.nll(x)).toBe(await tb.nll(x));
      for (const e of [a, b, ta, tb]) e.dispose();
    }
  });
});

describe("negative per-process yields (norm_bp < 0, e.g. interference)", () => {
  /** process 2 negative in every third bin, keeping ν_b > 0 */
  function negativeSpec(o: Opts): LikelihoodSpec {
    const spec = makeSpec(o);
    const norm = Float64Array.from(spec.norm);
    for (let b = 0; b < spec.nbinsFull; b += 3) norm[b * NPROC + 2] = -0.4 * Math.abs(norm[b * NPROC + 2]);
    return { ...spec, norm };
  }
  for (const o of [combos[0], combos[3], combos[4], combos[14], combos[16]]) {
    it(`${label(o)}: native NLL vs the naive evaluation, derivatives vs finite differences; tfjs agrees`, async () => {
      const spec = negativeSpec(o);
      const x = makeX(o.seed * 11);
      expect(naiveYields(spec, x).some((v) => v < 0)).toBe(true);
      checkDerivatives(spec, x, o.seed + 1);
      await initBackend("cpu");
      const ev = new Float64Evaluator(spec, { threads: 1 });
      const tfl = new TfLikelihood(spec);
      const want = ev.valueAndGradient(x);
      const got = await tfl.valueAndGradient(x);
      expect(Math.abs(got.value - want.value)).toBeLessThan(1e-6 * spec.data.reduce((s, d) => s + d, 0) + 1e-4);
      const gmax = want.gradient.reduce((m, g) => Math.max(m, Math.abs(g)), 0);
      expectClose(got.gradient, want.gradient, 1e-3, 1e-4 * gmax + 1e-3, "tfjs gradient");
      ev.dispose();
      tfl.dispose();
    });
  }
});
