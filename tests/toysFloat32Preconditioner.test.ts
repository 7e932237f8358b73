/**
 * The toys' preconditioner stored in float32 (fitter/toys/toys.ts float32Preconditioner):
 *   - the native product (fitter_native symmF32) of a float32 symmetric matrix with float64
 *     vectors equals, bit for bit, a float64 loop that sums in the kernel's documented order, and
 *     the plain sequential float64 sum to within its rounding bound; it does not depend on the
 *     number of vectors or threads;
 *   - ApproxInverse with float32 M (with and without held parameters) is M applied in float64;
 *   - Newton-PCG and the refit engine reach the same toy minimum with float32 M as with float64 M.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { denseSymmF32 } from "../fitter/denseLinalg.js";
import { loadFitterNative } from "../fitter/native/addon.js";
import { ApproxInverse, newtonPcg } from "../fitter/toys/preconditionedNewton.js";
import { RefitEngine, type RefitEngineOptions } from "../fitter/toys/refitEngine.js";
import { generateToy, type ToyGenerationConfig } from "../fitter/toys/toyGeneration.js";
import { float32Preconditioner, generationInverseHessian } from "../fitter/toys/toys.js";
import { readTensor } from "../src/tensor/TensorReader.js";
import type { TensorModel } from "../src/tensor/types.js";

const here = dirname(fileURLToPath(import.meta.url));

function rng(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648 - 0.5;
  };
}

/** symmetric n×n in float32 with entries spread over several decades and both signs */
function symmetricF32(n: number, seed: number): Float32Array {
  const r = rng(seed);
  const a = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      const v = r() * 10 ** Math.round(4 * r());
      a[i * n + j] = v;
      a[j * n + i] = v;
    }
  }
  return a;
}

/** the kernel's order: 8 lanes over 8-column chunks, lanes l and l+4 paired, then the tail */
function orderedRow(a: Float32Array, n: number, i: number, v: Float64Array, off: number): number {
  const lanes = new Float64Array(8);
  const n8 = n - (n % 8);
  for (let c = 0; c < n8; c += 8) for (let l = 0; l < 8; l++) lanes[l] = lanes[l] + a[i * n + c + l] * v[off + c + l];
  const b = [0, 1, 2, 3].map((l) => lanes[l] + lanes[l + 4]);
  let s = b[0] + b[1] + (b[2] + b[3]);
  for (let c = n8; c < n; c++) s = s + a[i * n + c] * v[off + c];
  return s;
}

describe("native float32-matrix × float64-vectors product", () => {
  const sizes = [1, 3, 8, 13, 64, 203];
  it.each(sizes)("n = %i: bitwise the ordered float64 sum, within rounding of the sequential sum", (n) => {
    const a = symmetricF32(n, 7 + n);
    const eps = 2 ** -53;
    for (const k of [1, 2, 4, 5, 9]) {
      const r = rng(100 * n + k);
      const v = Float64Array.from({ length: n * k }, () => r() * 10 ** Math.round(3 * r()));
      const out = denseSymmF32(a, n, v);
      for (let j = 0; j < k; j++) {
        for (let i = 0; i < n; i++) {
          const got = out[j * n + i];
          expect(got).toBe(orderedRow(a, n, i, v, j * n));
          // the sequential float64 sum and its error bound γ_n Σ|terms| (each sum has one)
          let seq = 0;
          let abs = 0;
          for (let c = 0; c < n; c++) {
            seq += a[i * n + c] * v[j * n + c];
            abs += Math.abs(a[i * n + c] * v[j * n + c]);
          }
          const gamma = (n * eps) / (1 - n * eps);
          expect(Math.abs(got - seq)).toBeLessThanOrEqual(2 * gamma * abs);
        }
      }
    }
  });

  it("each column is independent of the block size and of the thread count", () => {
    // large enough (n² ≥ 4·2^20) that 4 threads are really used
    const n = 2101;
    const a = symmetricF32(n, 5);
    const r = rng(9);
    const k = 6;
    const v = Float64Array.from({ length: n * k }, r);
    const block1 = denseSymmF32(a, n, v, 1);
    const block4 = denseSymmF32(a, n, v, 4);
    expect(Buffer.from(block4.buffer).equals(Buffer.from(block1.buffer))).toBe(true);
    for (let j = 0; j < k; j++) {
      const single = denseSymmF32(a, n, v.slice(j * n, (j + 1) * n), 3);
      expect(Buffer.from(single.buffer).equals(Buffer.from(block1.slice(j * n, (j + 1) * n).buffer))).toBe(true);
    }
    // spot rows against the ordered reference
    for (const i of [0, 1, 1000, n - 1]) expect(block4[3 * n + i]).toBe(orderedRow(a, n, i, v, 3 * n));
  });

  it("refuses arrays of the wrong element type or length", () => {
    const native = loadFitterNative();
    const n = 4;
    const out = new Float64Array(n);
    expect(() => native.symmF32(new Float64Array(n * n) as unknown as Float32Array, n, 1, new Float64Array(n), out, 1)).toThrow(/Float32Array/);
    expect(() => native.symmF32(new Float32Array(n * n), n, 1, new Float32Array(n) as unknown as Float64Array, out, 1)).toThrow(/Float64Array/);
    expect(() => native.symmF32(new Float32Array(n * n - 1), n, 1, new Float64Array(n), out, 1)).toThrow(/too short/);
    expect(() => denseSymmF32(new Float32Array(n * n), n, new Float64Array(n + 1))).toThrow(/multiple of n/);
  });
});

describe("float32Preconditioner", () => {
  it("rounds to float32 in shared memory; keeps float64 when a value does not fit", () => {
    const c = Float64Array.from([1 / 3, 2e-5, 2e-5, 7.25]);
    const f = float32Preconditioner(c) as Float32Array;
    expect(f).toBeInstanceOf(Float32Array);
    expect(f.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(Array.from(f)).toEqual(Array.from(c, (x) => Math.fround(x)));
    const huge = Float64Array.from([1e39, 0, 0, 1]);
    expect(float32Preconditioner(huge)).toBe(huge);
    expect(float32Preconditioner(null)).toBeNull();
  });
});

describe("ApproxInverse with float32 storage", () => {
  it("applies the float32 matrix in float64, with float64 rank-one updates for held parameters", () => {
    const n = 29;
    // an SPD matrix (B Bᵀ + n I), then rounded to float32
    const r = rng(4);
    const b = Float64Array.from({ length: n * n }, r);
    const c64 = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = i === j ? n : 0;
        for (let k = 0; k < n; k++) s += b[i * n + k] * b[j * n + k];
        c64[i * n + j] = s;
      }
    }
    const c32 = Float32Array.from(c64);
    const widened = Float64Array.from(c32);
    for (const [frozen, held] of [
      [[], []],
      [[2], [5, 17]],
    ]) {
      const m32 = new ApproxInverse(c32, n, frozen, held);
      const m64 = new ApproxInverse(widened, n, frozen, held);
      const vs = [0, 1, 2].map((q) => Float64Array.from({ length: n }, (_, i) => (m32.isHeld(i) ? 0 : Math.sin(i + 3 * q))));
      const many = m32.applyMany(vs);
      vs.forEach((v, q) => {
        const one = m32.apply(v);
        const ref = m64.apply(v);
        for (let i = 0; i < n; i++) {
          expect(many[q][i]).toBe(one[i]);
          if (m32.isHeld(i)) expect(one[i]).toBe(0);
          // the same float32 values, summed in float64 in another order
          expect(Math.abs(one[i] - ref[i])).toBeLessThan(1e-12 * n * n);
        }
      });
    }
  });
});

const MODELS = ["ref_dense.hdf5", "ref_sparse_asym_bbb.hdf5"];

describe.each(MODELS)("toy minima with float32 vs float64 M on %s", (name) => {
  let model: TensorModel;
  let engineOpts: RefitEngineOptions;
  let inverse64: Float64Array;
  let inverse32: Float32Array;
  let gen: ToyGenerationConfig;
  const engines: RefitEngine[] = [];
  afterAll(() => engines.forEach((e) => e.dispose()));

  beforeAll(async () => {
    model = await readTensor(join(here, "fixtures", name));
    engineOpts = { poiMode: "linear", threads: 1, data: model.dataObs };
    const probe = new RefitEngine(model, { ...engineOpts, inverseHessian: null });
    engines.push(probe);
    const centre = Float64Array.from(probe.x0);
    inverse64 = generationInverseHessian(model, engineOpts, centre, null, 1) as Float64Array;
    expect(inverse64).not.toBeNull();
    inverse32 = float32Preconditioner(inverse64) as Float32Array;
    expect(inverse32).toBeInstanceOf(Float32Array);
    gen = {
      seed: 23,
      syst: "frequentist",
      data: "poisson",
      npoi: model.signals.length,
      constraintWeights: Float64Array.from(probe.spec.constraintWeights),
      bbK: probe.bbK,
      centre,
      betaCentre: null,
    };
  });

  function engineWith(inv: Float64Array | Float32Array): RefitEngine {
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

  it("Newton-PCG reaches the same minimum (to 1e-8 σ) with float32 M", async () => {
    const e = engineWith(inverse32);
    const n = e.n;
    for (const index of [0, 1, 2, 3]) {
      const start = loadToy(e, index);
      const a = await newtonPcg(e.session.objective, new ApproxInverse(inverse32, n, [], []), start, { edmTolerance: 1e-18 });
      const b = await newtonPcg(e.session.objective, new ApproxInverse(inverse64, n, [], []), start, { edmTolerance: 1e-18 });
      expect(a.converged, a.message).toBe(true);
      expect(b.converged, b.message).toBe(true);
      let worst = 0;
      for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(a.x[i] - b.x[i]) / Math.sqrt(inverse64[i * n + i]));
      expect(worst).toBeLessThan(1e-8);
      expect(Math.abs(a.value - b.value)).toBeLessThan(1e-9 * Math.max(1, Math.abs(b.value)));
    }
  });

  it("the refit engine converges on the fast path with float32 M, to the float64-M minimum, also with a held parameter", async () => {
    const e32 = engineWith(inverse32);
    const e64 = engineWith(inverse64);
    const n = e32.n;
    for (const index of [4, 5, 6]) {
      const start = loadToy(e32, index);
      loadToy(e64, index);
      for (const fixed of [undefined, new Map([[n - 1, start[n - 1] + 0.1]])]) {
        const a = await e32.minimize({ start, fixed });
        const b = await e64.minimize({ start, fixed });
        expect(a.converged, a.message).toBe(true);
        expect(b.converged, b.message).toBe(true);
        expect(a.edm).toBeLessThan(1e-12);
        // both stop at EDM < 1e-12: within √(2·1e-12) σ of the minimum each
        for (let i = 0; i < n; i++) expect(Math.abs(a.x[i] - b.x[i]) / Math.sqrt(inverse64[i * n + i])).toBeLessThan(5e-6);
      }
    }
    expect(e32.fallbacks).toBe(0);
  });
});
