/**
 * valueAndGradientBatch (fitter/evaluator.ts): K toys' NLL and gradients through the engine's own
 * batch (CUDA engine, here on its CPU emulation) or one by one (native engine, data restored after).
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { CudaEvaluator } from "../fitter/cuda/CudaEvaluator.js";
import { valueAndGradientBatch } from "../fitter/evaluator.js";
import { Float64Evaluator } from "../fitter/Float64Evaluator.js";
import { buildLikelihoodSpec } from "../fitter/likelihoodSpec.js";
import { readTensor } from "../src/tensor/TensorReader.js";
import { relError } from "./helpers/engineCompare.js";
import { rng } from "./helpers/random.js";

const here = dirname(fileURLToPath(import.meta.url));

describe("valueAndGradientBatch", () => {
  it("native fallback and CUDA (emulated) batch equal one-by-one evaluations; the engine's data is kept", async () => {
    const spec = buildLikelihoodSpec(await readTensor(join(here, "fixtures", "ref_sparse_asym_bbb.hdf5")), { poiMode: "linear" });
    const n = spec.nsig + spec.nsyst;
    const K = 4;
    const r = rng(3);
    const xs = new Float64Array(K * n);
    const data = new Float64Array(K * spec.nbins);
    for (let k = 0; k < K; k++) {
      for (let q = 0; q < spec.nsig; q++) xs[k * n + q] = 0.8 + 0.4 * r();
      for (let s = 0; s < spec.nsyst; s++) xs[k * n + spec.nsig + s] = r() - 0.5;
      for (let b = 0; b < spec.nbins; b++) data[k * spec.nbins + b] = Math.round(spec.data[b] * (0.7 + 0.6 * r()));
    }
    const native = new Float64Evaluator(spec, { threads: 1 });
    const cuda = new CudaEvaluator(spec, { mode: "emulate" });
    try {
      const x0 = xs.slice(0, n);
      const before = native.nll(x0);
      const a = valueAndGradientBatch(native, xs, data, K, spec.data);
      const b = valueAndGradientBatch(cuda, xs, data, K, spec.data);
      expect(native.nll(x0)).toBe(before);
      expect(relError([cuda.nll(x0)], [before])).toBeLessThanOrEqual(1e-12);
      const ref = new Float64Evaluator({ ...spec }, { threads: 1 });
      try {
        for (let k = 0; k < K; k++) {
          ref.setData(data.subarray(k * spec.nbins, (k + 1) * spec.nbins));
          const want = ref.valueAndGradient(xs.subarray(k * n, (k + 1) * n));
          expect(a.values[k]).toBe(want.value);
          expect(Array.from(a.gradients.subarray(k * n, (k + 1) * n))).toEqual(Array.from(want.gradient));
          expect(relError([b.values[k]], [want.value])).toBeLessThanOrEqual(1e-12);
          expect(relError(b.gradients.subarray(k * n, (k + 1) * n), want.gradient)).toBeLessThanOrEqual(1e-12);
        }
      } finally {
        ref.dispose();
      }
      expect(() => valueAndGradientBatch(native, xs, data.subarray(1), K, spec.data)).toThrow(/data has length/);
      expect(() => valueAndGradientBatch(native, xs, data, 0, spec.data)).toThrow(/K must be a positive integer/);
    } finally {
      native.dispose();
      cuda.dispose();
    }
  });
});
