/** factorSpd: the native Cholesky, or an engine's device inverse (here the CUDA engine's CPU emulation). */
import { describe, expect, it } from "vitest";
import { CudaEvaluator } from "../fitter/cuda/CudaEvaluator.js";
import { buildLikelihoodSpec } from "../fitter/likelihoodSpec.js";
import { factorSpd } from "../fitter/spdFactor.js";
import { readTensor } from "../src/tensor/TensorReader.js";
import { relError } from "./helpers/engineCompare.js";
import { rng } from "./helpers/random.js";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

function spd(n: number, seed: number): Float64Array {
  const r = rng(seed);
  const a = Float64Array.from({ length: n * n }, () => r() - 0.5);
  const c = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = i === j ? 0.5 : 0;
      for (let k = 0; k < n; k++) s += a[i * n + k] * a[j * n + k];
      c[i * n + j] = s;
    }
  return c;
}

describe("factorSpd", () => {
  it("device inverse and native Cholesky give the same solves and inverse; not positive definite → null", async () => {
    const spec = buildLikelihoodSpec(await readTensor(join(here, "fixtures", "ref_dense.hdf5")), { poiMode: "linear" });
    const dev = new CudaEvaluator(spec, { mode: "emulate" });
    try {
      const n = 12;
      const a = spd(n, 5);
      const native = factorSpd(a, n, 1, null);
      const device = factorSpd(a, n, 1, dev);
      expect(native).not.toBeNull();
      expect(device).not.toBeNull();
      const b = Float64Array.from({ length: n }, (_, i) => Math.sin(i + 1));
      expect(relError(device!.solve(b), native!.solve(b))).toBeLessThan(1e-12);
      expect(relError(device!.inverse(), native!.inverse())).toBeLessThan(1e-12);
      // A x = b holds for the device solve
      const x = device!.solve(b);
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let j = 0; j < n; j++) s += a[i * n + j] * x[j];
        expect(s).toBeCloseTo(b[i], 10);
      }
      const bad = Float64Array.from([1, 2, 2, 1]);
      expect(factorSpd(bad, 2, 1, null)).toBeNull();
      expect(factorSpd(bad, 2, 1, dev)).toBeNull();
      expect(() => device!.solve(new Float64Array(3))).toThrow(/length 3, expected 12/);
    } finally {
      dev.dispose();
    }
  });
});
