/**
 * A SparseHessianSource for tests, from the evaluator's exact dense Hessian: pattern = the union of
 * the non-zeros at a few points plus the diagonal; dense rows = rows with more than half the
 * parameters as neighbours. evaluate(x) reads the dense Hessian at x on that pattern and throws if a
 * non-zero falls outside it (the real source, fitter/sparseHessian/, probes the values by HVPs).
 */
import { Float64Evaluator } from "../../fitter/Float64Evaluator.js";
import { buildLikelihoodSpec } from "../../fitter/likelihoodSpec.js";
import type { SparseHessianSource, SymmetricPattern } from "../../fitter/sparseHessian/symmetricCsr.js";
import type { TensorModel } from "../../src/tensor/types.js";

export function denseHessianSource(model: TensorModel, opts: { poiMode?: "linear" | "square"; points: Float64Array[] }): SparseHessianSource & { dispose(): void } {
  const spec = buildLikelihoodSpec(model, { poiMode: opts.poiMode ?? "linear" });
  const ev = new Float64Evaluator(spec, { threads: 1 });
  const n = ev.nparams;
  const nz = new Uint8Array(n * n);
  for (const x of opts.points) {
    const h = ev.hessian(x);
    for (let k = 0; k < n * n; k++) if (h[k] !== 0) nz[k] = 1;
  }
  for (let i = 0; i < n; i++) nz[i * n + i] = 1;
  const rowPtr = new Float64Array(n + 1);
  const cols: number[] = [];
  const dense: number[] = [];
  for (let i = 0; i < n; i++) {
    let count = 0;
    for (let j = 0; j < n; j++) {
      if (nz[i * n + j] || nz[j * n + i]) {
        cols.push(j);
        count++;
      }
    }
    rowPtr[i + 1] = cols.length;
    if (count > n / 2) dense.push(i);
  }
  const pattern: SymmetricPattern = { n, rowPtr, cols: Int32Array.from(cols) };
  return {
    pattern,
    denseRows: Int32Array.from(dense),
    probes: 0,
    evaluate: async (x) => {
      const h = ev.hessian(x);
      const values = new Float64Array(pattern.cols.length);
      let stored = 0;
      for (let i = 0; i < n; i++) {
        for (let k = rowPtr[i]; k < rowPtr[i + 1]; k++) values[k] = h[i * n + pattern.cols[k]];
        for (let j = 0; j < n; j++) if (h[i * n + j] !== 0) stored++;
      }
      const inPattern = values.reduce((s, v) => s + (v !== 0 ? 1 : 0), 0);
      if (inPattern !== stored) throw new Error(`denseHessianSource: ${stored - inPattern} Hessian non-zeros outside the pattern`);
      return { ...pattern, values };
    },
    dispose: () => ev.dispose(),
  };
}
