/**
 * Dense SPD algebra of the native addon (CholeskyFactor, denseGemm) against ml-matrix and naive
 * products: inverse × A = I, solve, log-determinant, non-positive-definite detection, both backends.
 */
import { CholeskyDecomposition, Matrix, inverse as mlInverse } from "ml-matrix";
import { describe, expect, it } from "vitest";
import { CholeskyFactor, denseGemm, openblasAvailable } from "../fitter/denseLinalg.js";
import { rng } from "./helpers/random.js";


/** Random SPD matrix B Bᵀ / n + shift·I with a spread of scales (row-major). */
function randomSpd(n: number, seed: number, shift = 0.1): Float64Array {
  const r = rng(seed);
  const B = Float64Array.from({ length: n * n }, () => r() - 0.5);
  const scale = Float64Array.from({ length: n }, (_, i) => Math.exp(3 * Math.sin(i)));
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += B[i * n + k] * B[j * n + k];
      s = (s / n + (i === j ? shift : 0)) * scale[i] * scale[j];
      A[i * n + j] = s;
      A[j * n + i] = s;
    }
  return A;
}

function toMatrix(a: Float64Array, n: number): Matrix {
  return new Matrix(Array.from({ length: n }, (_, i) => Array.from(a.subarray(i * n, i * n + n))));
}

function maxIdentityError(inv: Float64Array, a: Float64Array, n: number): number {
  let err = 0;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += inv[i * n + k] * a[k * n + j];
      err = Math.max(err, Math.abs(s - (i === j ? 1 : 0)));
    }
  return err;
}

const backends = openblasAvailable() ? (["native", "openblas"] as const) : (["native"] as const);

describe("CholeskyFactor", () => {
  for (const backend of backends) {
    for (const n of [1, 7, 64, 131, 200]) {
      it(`${backend}: inverse, solve and logDet for n = ${n}`, () => {
        const a = randomSpd(n, n + 1);
        const f = CholeskyFactor.factor(a, n, { backend, threads: 2 });
        expect(f).not.toBeNull();
        if (!f) return;
        expect(f.backend).toBe(backend);
        const inv = f.inverse();
        // balanced error measure: D⁻¹ (A⁻¹ A) D with D the scales is the identity too; use A⁻¹A directly
        // with a tolerance relative to the condition of the scaled problem
        const scaled = new Float64Array(n * n);
        const d = Float64Array.from({ length: n }, (_, i) => Math.sqrt(a[i * n + i]));
        for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) scaled[i * n + j] = inv[i * n + j] * d[i] * d[j];
        const aNorm = new Float64Array(n * n);
        for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) aNorm[i * n + j] = a[i * n + j] / (d[i] * d[j]);
        expect(maxIdentityError(scaled, aNorm, n)).toBeLessThan(1e-10);
        let asym = 0;
        for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) asym = Math.max(asym, Math.abs(inv[i * n + j] - inv[j * n + i]));
        expect(asym).toBe(0);

        const ml = toMatrix(a, n);
        const mlInv = mlInverse(ml);
        let mlErr = 0;
        for (let i = 0; i < n; i += Math.max(1, n >> 3))
          for (let j = 0; j < n; j++)
            mlErr = Math.max(mlErr, Math.abs(inv[i * n + j] - mlInv.get(i, j)) / Math.sqrt(Math.abs(mlInv.get(i, i) * mlInv.get(j, j))));
        expect(mlErr).toBeLessThan(1e-8);

        const r = rng(5);
        const b = Float64Array.from({ length: n }, () => r() - 0.5);
        const x = f.solve(b);
        const xWant = mlInv.mmul(Matrix.columnVector(Array.from(b))).getColumn(0);
        for (let i = 0; i < n; i++) expect(Math.abs(x[i] - xWant[i])).toBeLessThan(1e-8 * (Math.abs(xWant[i]) + Math.sqrt(Math.abs(mlInv.get(i, i)))));

        const chol = new CholeskyDecomposition(ml);
        const L = chol.lowerTriangularMatrix;
        let logDet = 0;
        for (let i = 0; i < n; i++) logDet += 2 * Math.log(L.get(i, i));
        expect(Math.abs(f.logDet() - logDet)).toBeLessThan(1e-9 * Math.max(1, Math.abs(logDet)));
      });
    }

    it(`${backend}: returns null for matrices that are not positive definite`, () => {
      const n = 150;
      const a = randomSpd(n, 3);
      const bad = a.slice();
      bad[77 * n + 77] = -1; // a negative diagonal entry
      expect(CholeskyFactor.factor(bad, n, { backend })).toBeNull();
      // indefinite with a positive diagonal: [[1, 2], [2, 1]] embedded
      const ind = randomSpd(n, 4);
      const d0 = ind[0];
      ind[1] = ind[n] = 2 * d0;
      ind[n + 1] = d0;
      expect(CholeskyFactor.factor(ind, n, { backend })).toBeNull();
      const nan = a.slice();
      nan[0] = Number.NaN;
      expect(CholeskyFactor.factor(nan, n, { backend })).toBeNull();
    });
  }

  it("native and OpenBLAS give the same inverse", () => {
    if (!openblasAvailable()) return;
    const n = 257;
    const a = randomSpd(n, 9);
    const x = CholeskyFactor.factor(a, n, { backend: "native" })!.inverse();
    const y = CholeskyFactor.factor(a, n, { backend: "openblas" })!.inverse();
    let err = 0;
    for (let i = 0; i < n * n; i++) err = Math.max(err, Math.abs(x[i] - y[i]) / Math.sqrt(x[(i % n) * (n + 1)] * x[Math.floor(i / n) * (n + 1)]));
    expect(err).toBeLessThan(1e-9);
  });

  it("rejects a matrix of the wrong size", () => {
    expect(() => CholeskyFactor.factor(new Float64Array(5), 2)).toThrow(/entries/);
  });
});

describe("denseGemm", () => {
  for (const [ta, tb] of [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ] as const) {
    it(`op(A) op(B), transA=${ta} transB=${tb}, odd sizes, 1 and 2 threads`, () => {
      const r = rng(7);
      for (const [m, n, k] of [
        [1, 1, 1],
        [9, 7, 5],
        [157, 211, 300],
      ]) {
        const a = Float64Array.from({ length: m * k }, () => r() - 0.5); // column-major op(A) storage
        const b = Float64Array.from({ length: k * n }, () => r() - 0.5);
        const A = (i: number, p: number) => (ta ? a[p + i * k] : a[i + p * m]);
        const B = (p: number, j: number) => (tb ? b[j + p * n] : b[p + j * k]);
        for (const threads of [1, 2]) {
          const c = Float64Array.from({ length: m * n }, (_, i) => i * 0.01);
          denseGemm(ta, tb, m, n, k, -0.5, a, b, c, threads);
          let err = 0;
          for (let j = 0; j < n; j++)
            for (let i = 0; i < m; i++) {
              let s = 0;
              for (let p = 0; p < k; p++) s += A(i, p) * B(p, j);
              err = Math.max(err, Math.abs(c[i + j * m] - ((i + j * m) * 0.01 - 0.5 * s)));
            }
          expect(err).toBeLessThan(1e-12 * (1 + k));
        }
      }
    });
  }
});
