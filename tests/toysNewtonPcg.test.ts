/**
 * The toys' fast path (fitter/toys/preconditionedNewton.ts): block PCG equals separate solves and
 * the exact inverse; Newton-PCG with the generation inverse Hessian reaches the same minimum as
 * the dense-Hessian Newton of the session; a poor or wrong inverse makes it give up and the trust
 * region finish (counted on the engine), with the same minimum.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CholeskyFactor } from "../fitter/denseLinalg.js";
import { ApproxInverse, blockPreconditionedCg, newtonPcg, preconditionedCg } from "../fitter/toys/preconditionedNewton.js";
import { RefitEngine, type RefitEngineOptions } from "../fitter/toys/refitEngine.js";
import { generateToy, type ToyGenerationConfig } from "../fitter/toys/toyGeneration.js";
import { generationInverseHessian } from "../fitter/toys/toys.js";
import { readTensor } from "../src/tensor/TensorReader.js";
import type { TensorModel } from "../src/tensor/types.js";

const here = dirname(fileURLToPath(import.meta.url));

function spdMatrix(n: number, seed: number): Float64Array {
  // A = B Bᵀ + n I with a deterministic B
  let s = seed;
  const rnd = (): number => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648 - 0.5;
  };
  const b = Float64Array.from({ length: n * n }, rnd);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let v = i === j ? n : 0;
      for (let k = 0; k < n; k++) v += b[i * n + k] * b[j * n + k];
      a[i * n + j] = v;
    }
  }
  return a;
}

function matVec(a: Float64Array, v: Float64Array): Float64Array {
  const n = v.length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) out[i] += a[i * n + k] * v[k];
  return out;
}

describe("block preconditioned CG", () => {
  it("solves several right-hand sides in lockstep as separate solves do, to the exact inverse", async () => {
    const n = 12;
    const h = spdMatrix(n, 3);
    const hInv = (CholeskyFactor.factor(Float64Array.from(h), n, { threads: 1 }) as CholeskyFactor).inverse();
    // a preconditioner that is the inverse of a perturbed H (as the generation inverse is for a toy)
    const hp = Float64Array.from(h, (v, k) => (k % (n + 1) === 0 ? v * 1.3 : v));
    const m = new ApproxInverse((CholeskyFactor.factor(hp, n, { threads: 1 }) as CholeskyFactor).inverse(), n, [], []);
    const hvp = async (v: Float64Array): Promise<Float64Array> => matVec(h, v);
    const rhs = [0, 5, 11].map((t) => Float64Array.from({ length: n }, (_, i) => (i === t ? 1 : 0)));
    const block = await blockPreconditionedCg(hvp, m, rhs, 1e-12, 100);
    for (let q = 0; q < rhs.length; q++) {
      const single = await preconditionedCg(hvp, m, rhs[q], 1e-12, 100);
      expect(block[q].ok).toBe(true);
      expect(single.ok).toBe(true);
      expect(block[q].iterations).toBe(single.iterations);
      const t = [0, 5, 11][q];
      for (let i = 0; i < n; i++) {
        expect(block[q].s[i]).toBe(single.s[i]);
        expect(Math.abs(block[q].s[i] - hInv[t * n + i])).toBeLessThan(1e-10 * Math.abs(hInv[t * n + t]));
      }
    }
  });

  it("reports non-positive curvature", async () => {
    const n = 4;
    const h = new Float64Array(n * n);
    [2, 1, -1, 3].forEach((d, i) => (h[i * n + i] = d));
    const eye = new Float64Array(n * n);
    for (let i = 0; i < n; i++) eye[i * n + i] = 1;
    const r = await preconditionedCg(async (v) => matVec(h, v), new ApproxInverse(eye, n, [], []), Float64Array.from([1, 1, 1, 1]), 1e-10, 20);
    expect(r.ok).toBe(false);
    expect(r.negativeCurvature).toBe(true);
  });
});

const MODELS = ["ref_dense.hdf5", "ref_sparse_asym_bbb.hdf5"];

describe.each(MODELS)("Newton-PCG toys on %s", (name) => {
  let model: TensorModel;
  let engineOpts: RefitEngineOptions;
  let inverse: Float64Array;
  let gen: ToyGenerationConfig;
  const engines: RefitEngine[] = [];
  afterAll(() => engines.forEach((e) => e.dispose()));

  beforeAll(async () => {
    model = await readTensor(join(here, "fixtures", name));
    engineOpts = { poiMode: "linear", threads: 1, data: model.dataObs };
    const probe = new RefitEngine(model, { ...engineOpts, inverseHessian: null });
    engines.push(probe);
    const centre = Float64Array.from(probe.x0);
    inverse = generationInverseHessian(model, engineOpts, centre, null, 1) as Float64Array;
    expect(inverse).not.toBeNull();
    gen = {
      seed: 11,
      syst: "frequentist",
      data: "poisson",
      npoi: model.signals.length,
      constraintWeights: Float64Array.from(probe.spec.constraintWeights),
      bbK: probe.bbK,
      centre,
      betaCentre: null,
    };
  });

  function engineWith(inv: Float64Array | null): RefitEngine {
    const e = new RefitEngine(model, { ...engineOpts, inverseHessian: inv });
    engines.push(e);
    return e;
  }

  function loadToy(e: RefitEngine, index: number): Float64Array {
    const toy = generateToy(gen, index, (x) => e.binTotals(x));
    e.setData(toy.data);
    e.setTheta0(toy.theta0);
    e.setBeta0(toy.beta0);
    return toy.xGen;
  }

  it("reaches the minimum of the dense-Hessian Newton fit to 1e-8 σ", async () => {
    const fast = engineWith(inverse);
    const dense = engineWith(null);
    const n = fast.n;
    for (const index of [0, 1, 2, 3]) {
      const start = loadToy(fast, index);
      loadToy(dense, index);
      const r = await newtonPcg(fast.session.objective, new ApproxInverse(inverse, n, [], []), start, { edmTolerance: 1e-18 });
      expect(r.converged, r.message).toBe(true);
      const ref = await dense.session.minimize({ start, errors: "covariance" });
      expect(ref.status).toBe("converged");
      const cov = ref.covariance as Float64Array;
      let worst = 0;
      for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(r.x[i] - ref.x[i]) / Math.sqrt(cov[i * n + i]));
      // the asymmetric model has more than one local minimum for some toys: there Newton-PCG must
      // not stop at the worse one
      if (Math.abs(r.value - ref.nll) > 1e-9 * Math.max(1, Math.abs(ref.nll))) {
        expect(r.value).toBeLessThan(ref.nll);
        continue;
      }
      expect(worst).toBeLessThan(1e-8);
      expect(Math.abs(r.value - ref.nll)).toBeLessThan(1e-9 * Math.max(1, Math.abs(ref.nll)));
    }
  });

  it("toys converge on the fast path with the generation inverse (no fallback) and agree with the trust region", async () => {
    const fast = engineWith(inverse);
    const slow = engineWith(null);
    const n = fast.n;
    const cov = inverse;
    for (const index of [4, 5, 6]) {
      const start = loadToy(fast, index);
      loadToy(slow, index);
      const a = await fast.minimize({ start });
      const b = await slow.minimize({ start });
      expect(a.converged, a.message).toBe(true);
      expect(b.converged, b.message).toBe(true);
      expect(a.edm).toBeLessThan(1e-12);
      // both stop at EDM < 1e-12: within √(2·1e-12) σ of the minimum each
      for (let i = 0; i < n; i++) expect(Math.abs(a.x[i] - b.x[i]) / Math.sqrt(cov[i * n + i])).toBeLessThan(5e-6);
    }
    expect(fast.fallbacks).toBe(0);
  });

  it("falls back to the trust region when the inverse is poor or wrong, with the same minimum", async () => {
    const n = inverse.length ** 0.5;
    // indefinite (the diagonal with alternating signs): PCG may break down (then the trust region
    // finishes) or still converge on a small model
    const indefinite = new Float64Array(n * n);
    for (let i = 0; i < n; i++) indefinite[i * n + i] = (i % 2 === 0 ? 1 : -1) * inverse[i * n + i];
    // zero: no descent direction at all, Newton-PCG must give up
    const zero = new Float64Array(n * n);
    const good = engineWith(inverse);
    for (const poor of [indefinite, zero]) {
      const e = engineWith(poor);
      const start = loadToy(e, 7);
      loadToy(good, 7);
      const a = await e.minimize({ start });
      const b = await good.minimize({ start });
      if (poor === zero) {
        expect(e.fallbacks).toBe(1);
        expect(e.lastFallback).toMatch(/Newton-PCG: no descent direction/);
      }
      expect(a.converged, a.message).toBe(true);
      let worst = 0;
      for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(a.x[i] - b.x[i]) / Math.sqrt(inverse[i * n + i]));
      expect(worst).toBeLessThan(5e-6);
    }
  });
});
