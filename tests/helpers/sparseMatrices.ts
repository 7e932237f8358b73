/** Small dense ↔ symmetric-CSR helpers and random sparse SPD matrices for the sparse Cholesky tests. */
import type { SymmetricCsr } from "../../fitter/sparseHessian/symmetricCsr.js";

/** row-major symmetric n×n → CSR with both triangles, pattern = non-zeros + diagonal */
export function denseToCsr(a: Float64Array, n: number): SymmetricCsr {
  const rowPtr = new Float64Array(n + 1);
  const cols: number[] = [];
  const values: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const v = a[i * n + j];
      if (v !== 0 || i === j) {
        cols.push(j);
        values.push(v);
      }
    }
    rowPtr[i + 1] = cols.length;
  }
  return { n, rowPtr, cols: Int32Array.from(cols), values: Float64Array.from(values) };
}

import { rng as mulberry32 } from "./random.js";
export { mulberry32 };

/**
 * A = M Mᵀ + shift·I with M's columns "bins": local parameters (in a shuffled order) touch a window of
 * bins, dense parameters touch every bin — the structure of a binned likelihood's Hessian.
 */
export function randomLikelihoodLike(
  n: number,
  nDense: number,
  opts: { window: number; seed: number; shift?: number; nbins?: number },
): { a: Float64Array; dense: Int32Array } {
  const rnd = mulberry32(opts.seed);
  const nb = opts.nbins ?? n;
  const perm = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  const dense = Int32Array.from(perm.subarray(0, nDense)).sort();
  const m = new Float64Array(n * nb); // m[p * nb + b]: parameter p in bin b
  for (let q = 0; q < n; q++) {
    const p = perm[q];
    if (q < nDense) {
      for (let b = 0; b < nb; b++) m[p * nb + b] = rnd() - 0.5;
    } else {
      const centre = Math.floor(((q - nDense) / Math.max(1, n - nDense)) * nb);
      for (let b = Math.max(0, centre - opts.window); b < Math.min(nb, centre + opts.window); b++) if (rnd() < 0.6) m[p * nb + b] = rnd() - 0.5;
    }
  }
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let b = 0; b < nb; b++) s += m[i * nb + b] * m[j * nb + b];
      a[i * n + j] = s;
      a[j * n + i] = s;
    }
    a[i * n + i] += opts.shift ?? 1;
  }
  return { a, dense };
}
