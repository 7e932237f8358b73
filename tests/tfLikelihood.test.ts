import { afterAll, describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs";
import { initBackend, type BackendName } from "../fitter/tfBackends.js";
import { TfLikelihood } from "../fitter/tfLikelihood.js";
import type { LikelihoodSpec, PoiMode } from "../fitter/likelihoodSpec.js";
import type { LogKCsr, SystematicType } from "../src/tensor/types.js";
import { Float64Evaluator } from "../fitter/Float64Evaluator.js";
import { trustKrylov } from "../fitter/trustKrylov.js";
import { xorshift } from "./helpers/random.js";

/** the native float64 evaluator, when its addon is built */
function nativeAvailable(): string | null {
  try {
    const m = makeModel({ symmetric: true, poiMode: "linear", bb: false, systematicType: "log_normal" }, 1);
    new Float64Evaluator(m.spec, { threads: 1 }).dispose();
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

const rng = xorshift;

interface Options {
  symmetric: boolean;
  poiMode: PoiMode;
  bb: boolean;
  systematicType: SystematicType;
}

/** A dense test model (kept for the reference) plus the LikelihoodSpec built from it. */
interface TestModel {
  spec: LikelihoodSpec;
  /** [nbinsFull][nproc][ncols] */
  logkDense: Float64Array;
  ncols: number;
}

function denseToCsr(dense: Float64Array, nrows: number, ncols: number): LogKCsr {
  const rowPtr = new Int32Array(nrows + 1);
  const cols: number[] = [];
  const values: number[] = [];
  for (let r = 0; r < nrows; r++) {
    for (let c = 0; c < ncols; c++) {
      const v = dense[r * ncols + c];
      if (v !== 0) {
        cols.push(c);
        values.push(v);
      }
    }
    rowPtr[r + 1] = cols.length;
  }
  return { nrows, ncols, rowPtr, cols: Int32Array.from(cols), values: Float64Array.from(values) };
}

function makeModel(opts: Options, seed: number): TestModel {
  const rand = rng(seed);
  const nbins = 10;
  const nbinsFull = 13; // 3 masked bins
  const nproc = 4;
  const nsig = 2;
  const nsyst = 6;
  const ncols = opts.symmetric ? nsyst : 2 * nsyst;
  const norm = new Float64Array(nbinsFull * nproc);
  for (let i = 0; i < norm.length; i++) norm[i] = rand() < 0.1 ? 0 : 20 + 500 * rand();
  const logkDense = new Float64Array(nbinsFull * nproc * ncols);
  for (let r = 0; r < nbinsFull * nproc; r++) {
    for (let c = 0; c < ncols; c++) {
      if (rand() < 0.35) continue; // sparse: many structural zeros
      // the last systematic and the last real bin have no log κ at all: trailing empty CSR
      // columns/rows must still come out as zeros of the right length
      if (c === nsyst - 1 || c === ncols - 1 || Math.floor(r / nproc) === nbins - 1) continue;
      const rel = (rand() - 0.5) * (c < nsyst ? 0.2 : 0.06);
      // normal systematics shift yields additively: scale by the nominal yield
      logkDense[r * ncols + c] = opts.systematicType === "normal" ? rel * (norm[r] + 10) : rel;
    }
  }
  const data = new Float64Array(nbins);
  for (let b = 0; b < nbins; b++) {
    let nu = 0;
    for (let p = 0; p < nproc; p++) nu += norm[b * nproc + p];
    data[b] = b === 3 || b === 7 ? 0 : Math.round(nu * (0.9 + 0.2 * rand()));
  }
  let bbK: Float64Array | null = null;
  if (opts.bb) {
    bbK = new Float64Array(nbins);
    for (let b = 0; b < nbins; b++) bbK[b] = b === 5 ? Number.POSITIVE_INFINITY : 200 + 3000 * rand();
  }
  const constraintWeights = Float64Array.from({ length: nsyst }, (_, s) => (s === 0 ? 0 : 1)); // θ_0 free
  const theta0 = Float64Array.from({ length: nsyst }, () => (rand() - 0.5) * 0.6);
  const spec: LikelihoodSpec = {
    nbins,
    nbinsFull,
    nproc,
    nsig,
    nsyst,
    norm,
    logk: denseToCsr(logkDense, nbinsFull * nproc, ncols),
    symmetric: opts.symmetric,
    systematicType: opts.systematicType,
    data,
    bbK,
    constraintWeights,
    theta0,
    poiMode: opts.poiMode,
  };
  return { spec, logkDense, ncols };
}

/** Float64 reference NLL, straight from likelihood.md with dense loops. */
function referenceNll(m: TestModel, x: Float64Array): number {
  const { spec, logkDense, ncols } = m;
  const { nbins, nproc, nsig, nsyst } = spec;
  const theta = x.subarray(nsig);
  const alpha = (th: number): number => {
    const t = 2 * th;
    return Math.min(1, Math.max(-1, (t * (3 * t ** 4 - 10 * t ** 2 + 15)) / 8));
  };
  let nll = 0;
  for (let b = 0; b < nbins; b++) {
    let nu = 0;
    for (let p = 0; p < nproc; p++) {
      const r = p < nsig ? (spec.poiMode === "square" ? x[p] * x[p] : x[p]) : 1;
      const row = (b * nproc + p) * ncols;
      let sum = 0;
      for (let s = 0; s < nsyst; s++) {
        const kavg = logkDense[row + s];
        const kdiff = spec.symmetric ? 0 : logkDense[row + nsyst + s];
        sum += theta[s] * (kavg + alpha(theta[s]) * kdiff);
      }
      nu += spec.systematicType === "log_normal" ? r * spec.norm[b * nproc + p] * Math.exp(sum) : r * spec.norm[b * nproc + p] + sum;
    }
    const n = spec.data[b];
    const k = spec.bbK ? spec.bbK[b] : Number.POSITIVE_INFINITY;
    if (Number.isFinite(k)) {
      const beta = (n + k) / (nu + k);
      nll += beta * nu - n - (n > 0 ? n * Math.log((beta * nu) / n) : 0) + k * (beta - 1) - k * Math.log(beta);
    } else {
      nll += nu - n - (n > 0 ? n * Math.log(nu / n) : 0);
    }
  }
  for (let s = 0; s < nsyst; s++) nll += 0.5 * spec.constraintWeights[s] * (theta[s] - spec.theta0[s]) ** 2;
  return nll;
}

function referenceGradient(m: TestModel, x: Float64Array): Float64Array {
  const h = 1e-6;
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const xp = Float64Array.from(x);
    const xm = Float64Array.from(x);
    xp[i] += h;
    xm[i] -= h;
    g[i] = (referenceNll(m, xp) - referenceNll(m, xm)) / (2 * h);
  }
  return g;
}

/** H·v_i ≈ mixed central difference of the float64 reference along e_i and v */
function referenceHvp(m: TestModel, x: Float64Array, v: Float64Array): Float64Array {
  const h = 1e-4;
  const eps = 1e-4;
  const out = new Float64Array(x.length);
  const at = (i: number, si: number, sv: number): number => {
    const y = Float64Array.from(x);
    for (let j = 0; j < y.length; j++) y[j] += sv * eps * v[j];
    y[i] += si * h;
    return referenceNll(m, y);
  };
  for (let i = 0; i < x.length; i++) {
    out[i] = (at(i, 1, 1) - at(i, 1, -1) - at(i, -1, 1) + at(i, -1, -1)) / (4 * h * eps);
  }
  return out;
}

function randomPoint(m: TestModel, rand: () => number): Float64Array {
  const { nsig, nsyst, poiMode } = m.spec;
  const x = new Float64Array(nsig + nsyst);
  for (let i = 0; i < nsig; i++) x[i] = poiMode === "square" ? (rand() < 0.5 ? -1 : 1) * (0.6 + 0.8 * rand()) : 0.6 + 0.8 * rand();
  // θ spans the smooth-step window (|θ| < 0.5) and the linear extrapolation beyond
  for (let s = 0; s < nsyst; s++) x[nsig + s] = (rand() - 0.5) * 3;
  return x;
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (const v of a) m = Math.max(m, Math.abs(v));
  return m;
}

function maxAbsDiff(a: Float64Array, b: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const allOptions: Options[] = [];
for (const symmetric of [true, false])
  for (const poiMode of ["linear", "square"] as const)
    for (const bb of [false, true])
      for (const systematicType of ["log_normal", "normal"] as const) allOptions.push({ symmetric, poiMode, bb, systematicType });

const label = (o: Options): string =>
  `${o.symmetric ? "sym" : "asym"} ${o.poiMode} ${o.bb ? "BB" : "noBB"} ${o.systematicType}`;

for (const backend of ["cpu", "wasm"] as BackendName[]) {
  describe(`TfLikelihood on ${backend}`, () => {
    it.each(allOptions.map((o, i) => [label(o), o, i] as const))("%s: value, gradient, HVP vs float64 reference", async (_l, opts, i) => {
      await initBackend(backend);
      const m = makeModel(opts, 1000 + i);
      const like = new TfLikelihood(m.spec);
      expect(like.nparams).toBe(m.spec.nsig + m.spec.nsyst);
      const rand = rng(77 + i);
      for (let trial = 0; trial < 3; trial++) {
        const x = randomPoint(m, rand);
        const v = Float64Array.from({ length: x.length }, () => rand() - 0.5);
        const ref = referenceNll(m, x);
        const refGrad = referenceGradient(m, x);
        const refHv = referenceHvp(m, x, v);
        const value = await like.nll(x);
        const vg = await like.valueAndGradient(x);
        const hv = await like.hessianVectorProduct(x, v);
        // float32: relative precision ~1e-7 per op; the per-bin terms are O(1000) here
        expect(Math.abs(value - ref)).toBeLessThan(2e-5 * Math.abs(ref) + 1e-3);
        expect(vg.value).toBeCloseTo(value, 10);
        expect(maxAbsDiff(vg.gradient, refGrad)).toBeLessThan(1e-4 * maxAbs(refGrad) + 1e-3);
        expect(maxAbsDiff(hv, refHv)).toBeLessThan(2e-4 * maxAbs(refHv) + 1e-2);
      }
      like.dispose();
    });

    it.each(["nd", "segment", "ell"] as const)("index kernels %s (explicit): value, gradient, HVP vs float64 reference", async (indexKernels) => {
      await initBackend(backend);
      const opts: Options = { symmetric: false, poiMode: "square", bb: true, systematicType: "log_normal" };
      const m = makeModel(opts, 4242);
      const like = new TfLikelihood(m.spec, { indexKernels });
      const rand = rng(4243);
      for (let trial = 0; trial < 2; trial++) {
        const x = randomPoint(m, rand);
        const v = Float64Array.from({ length: x.length }, () => rand() - 0.5);
        const ref = referenceNll(m, x);
        const refGrad = referenceGradient(m, x);
        const refHv = referenceHvp(m, x, v);
        const vg = await like.valueAndGradient(x);
        const hv = await like.hessianVectorProduct(x, v);
        expect(Math.abs(vg.value - ref)).toBeLessThan(2e-5 * Math.abs(ref) + 1e-3);
        expect(maxAbsDiff(vg.gradient, refGrad)).toBeLessThan(1e-4 * maxAbs(refGrad) + 1e-3);
        expect(maxAbsDiff(hv, refHv)).toBeLessThan(2e-4 * maxAbs(refHv) + 1e-2);
      }
      like.dispose();
    });

    it("large yields: the float32 NLL is smooth near the minimum (noise far below one unit of NLL)", async () => {
      await initBackend(backend);
      // 1e6 events per bin: a naive float32 ν − n − n·log(ν/n) would jitter by ~0.1 per bin
      const m = makeModel({ symmetric: true, poiMode: "linear", bb: true, systematicType: "log_normal" }, 777);
      const norm = m.spec.norm.map((v) => v * 3000);
      const x0 = new Float64Array(m.spec.nsig + m.spec.nsyst).fill(0.01);
      x0[0] = 1;
      x0[1] = 1;
      const asimov = new Float64Array(m.spec.nbins);
      const spec0 = { ...m.spec, norm, data: asimov };
      // data = ν(x0) scaled by 1.0003 and rounded: the minimum is near x0
      for (let b = 0; b < m.spec.nbins; b++) {
        let nu = 0;
        for (let p = 0; p < m.spec.nproc; p++) {
          let sum = 0;
          for (let c = 0; c < m.ncols; c++) sum += x0[m.spec.nsig + c] * m.logkDense[(b * m.spec.nproc + p) * m.ncols + c];
          nu += norm[b * m.spec.nproc + p] * Math.exp(sum);
        }
        asimov[b] = Math.round(nu * 1.0003);
      }
      const mm: TestModel = { ...m, spec: spec0 };
      const like = new TfLikelihood(spec0);
      const residuals: number[] = [];
      const dir = Float64Array.from({ length: x0.length }, (_, i) => Math.sin(i + 1));
      for (let k = 0; k < 25; k++) {
        const x = x0.map((v, i) => v + 1e-4 * k * dir[i]);
        residuals.push((await like.nll(x)) - referenceNll(mm, x));
      }
      const spread = Math.max(...residuals) - Math.min(...residuals);
      expect(spread).toBeLessThan(3e-3);
      like.dispose();
    });

    it("no log κ entries at all (normalisation-only model): full-tape path", async () => {
      await initBackend(backend);
      const base = makeModel({ symmetric: true, poiMode: "square", bb: true, systematicType: "log_normal" }, 4343);
      const empty: LogKCsr = { ...base.spec.logk, rowPtr: new Int32Array(base.spec.logk.nrows + 1), cols: new Int32Array(0), values: new Float64Array(0) };
      const m: TestModel = { ...base, logkDense: new Float64Array(base.logkDense.length), spec: { ...base.spec, logk: empty } };
      const like = new TfLikelihood(m.spec);
      const rand = rng(9);
      const x = randomPoint(m, rand);
      const v = Float64Array.from(x, () => rand() - 0.5);
      const ref = referenceNll(m, x);
      const vg = await like.valueAndGradient(x);
      expect(Math.abs(vg.value - ref)).toBeLessThan(2e-5 * Math.abs(ref) + 1e-3);
      const refGrad = referenceGradient(m, x);
      expect(maxAbsDiff(vg.gradient, refGrad)).toBeLessThan(1e-4 * maxAbs(refGrad) + 1e-3);
      const refHv = referenceHvp(m, x, v);
      expect(maxAbsDiff(await like.hessianVectorProduct(x, v), refHv)).toBeLessThan(2e-4 * maxAbs(refHv) + 1e-2);
      like.dispose();
    });

    it("masked bins do not enter the NLL; setData replaces the counts", async () => {
      await initBackend(backend);
      const m = makeModel({ symmetric: false, poiMode: "linear", bb: true, systematicType: "log_normal" }, 4242);
      const like = new TfLikelihood(m.spec);
      const x = randomPoint(m, rng(5));
      const before = await like.nll(x);
      // perturbing masked rows changes nothing
      const m2: TestModel = { ...m, spec: { ...m.spec, norm: Float64Array.from(m.spec.norm) } };
      for (let i = m.spec.nbins * m.spec.nproc; i < m.spec.norm.length; i++) m2.spec.norm[i] *= 7;
      const like2 = new TfLikelihood(m2.spec);
      expect(await like2.nll(x)).toBe(before);
      like2.dispose();
      // new data
      const data = Float64Array.from(m.spec.data, (n) => n + 17);
      like.setData(data);
      const ref = referenceNll({ ...m, spec: { ...m.spec, data } }, x);
      expect(Math.abs((await like.nll(x)) - ref)).toBeLessThan(2e-5 * Math.abs(ref) + 1e-3);
      like.dispose();
    });

    it("keeps the tensor count flat across calls and frees everything on dispose", async () => {
      await initBackend(backend);
      const base = tf.memory().numTensors;
      const m = makeModel({ symmetric: false, poiMode: "square", bb: true, systematicType: "log_normal" }, 99);
      const like = new TfLikelihood(m.spec);
      const resident = tf.memory().numTensors;
      const x = randomPoint(m, rng(3));
      const v = Float64Array.from(x, () => 0.1);
      for (let k = 0; k < 3; k++) {
        await like.nll(x);
        await like.valueAndGradient(x);
        await like.hessianVectorProduct(x, v);
        like.setData(m.spec.data);
        expect(tf.memory().numTensors).toBe(resident);
      }
      like.dispose();
      expect(tf.memory().numTensors).toBe(base);
      await expect(like.nll(x)).rejects.toThrow(/dispose/);
    });
  });
}

const nativeProblem = nativeAvailable();
if (nativeProblem) console.log(`skipping TfLikelihood vs Float64Evaluator: ${nativeProblem}`);

describe.skipIf(nativeProblem !== null)("TfLikelihood agrees with the native Float64Evaluator", () => {
  it.each(allOptions.map((o, i) => [label(o), o, i] as const))("%s", async (_l, opts, i) => {
    await initBackend(i % 2 === 0 ? "cpu" : "wasm");
    const m = makeModel(opts, 5000 + i);
    const like = new TfLikelihood(m.spec);
    const native = new Float64Evaluator(m.spec, { threads: 1 });
    const rand = rng(300 + i);
    for (let trial = 0; trial < 3; trial++) {
      const x = randomPoint(m, rand);
      const v = Float64Array.from({ length: x.length }, () => rand() - 0.5);
      const ref = native.valueAndGradient(x);
      const refHv = native.hessianVectorProduct(x, v);
      const vg = await like.valueAndGradient(x);
      const hv = await like.hessianVectorProduct(x, v);
      expect(Math.abs(vg.value - ref.value)).toBeLessThan(2e-5 * Math.abs(ref.value) + 1e-3);
      expect(maxAbsDiff(vg.gradient, ref.gradient)).toBeLessThan(1e-4 * maxAbs(ref.gradient) + 1e-3);
      expect(maxAbsDiff(hv, refHv)).toBeLessThan(1e-4 * maxAbs(refHv) + 1e-3);
    }
    native.dispose();
    like.dispose();
  });
});

describe.skipIf(nativeProblem !== null)("trustKrylov on TfLikelihood", () => {
  it.each([
    ["wasm", { symmetric: false, poiMode: "square", bb: true, systematicType: "log_normal" }],
    ["cpu", { symmetric: true, poiMode: "linear", bb: false, systematicType: "log_normal" }],
  ] as const)("%s: the float32 minimum matches the float64 one", async (backend, opts) => {
    await initBackend(backend);
    const base = makeModel(opts, 31);
    // data = a mildly shifted expectation (no empty bins) so that the fit has work to do and a
    // clear interior minimum
    const data = Float64Array.from({ length: base.spec.nbins }, (_, b) => {
      let nu = 0;
      for (let p = 0; p < base.spec.nproc; p++) nu += base.spec.norm[b * base.spec.nproc + p];
      return Math.round(nu * (1 + 0.05 * Math.sin(b)));
    });
    const m: TestModel = { ...base, spec: { ...base.spec, data } };
    const x0 = new Float64Array(m.spec.nsig + m.spec.nsyst);
    x0.fill(1, 0, m.spec.nsig);
    const native = new Float64Evaluator(m.spec, { threads: 1 });
    const r64 = await trustKrylov(native, x0, { edmTolerance: 1e-12 });
    const like = new TfLikelihood(m.spec);
    const r32 = await trustKrylov(like, x0, { edmTolerance: 1e-5 });
    expect(r64.status).toBe("converged");
    expect(r32.status).toBe("converged");
    expect(Math.abs(r32.value - r64.value)).toBeLessThan(1e-3 + 1e-5 * Math.abs(r64.value));
    // the float64 EDM at the float32 minimum stays tiny: the two minima agree to well below 1σ
    const g = native.valueAndGradient(r32.x).gradient;
    const again = await trustKrylov(native, r32.x, { edmTolerance: 1e-12, maxIterations: 1 });
    expect(again.edm).toBeLessThan(1e-3);
    expect(Math.hypot(...g)).toBeLessThan(1);
    native.dispose();
    like.dispose();
  });
});

afterAll(async () => {
  await initBackend("cpu");
});
