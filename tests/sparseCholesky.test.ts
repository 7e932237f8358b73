/**
 * fitter/sparseCholesky: the RCM + dense-last order, the envelope size computed before factoring, and
 * the native envelope LLᵀ (solves, multi-RHS, log det, keep masks, exact diag(A⁻¹), not-PD detection,
 * thread-count independence) against the dense Cholesky (fitter/denseLinalg.ts).
 */
import { describe, expect, it } from "vitest";
import { CholeskyFactor } from "../fitter/denseLinalg.js";
import { envelopeBytes, envelopeEntries, envelopeOrder, inversePermutation } from "../fitter/sparseCholesky/envelopeOrder.js";
import { factorEnvelope, type EnvelopeFactor } from "../fitter/sparseCholesky/envelopeCholesky.js";
import { denseToCsr, mulberry32, randomLikelihoodLike } from "./helpers/sparseMatrices.js";

function normRel(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let d = 0;
  let s = 0;
  for (let i = 0; i < y.length; i++) {
    d = Math.max(d, Math.abs(x[i] - y[i]));
    s = Math.max(s, Math.abs(y[i]));
  }
  return d / s;
}

function maxRel(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let w = 0;
  for (let i = 0; i < y.length; i++) w = Math.max(w, Math.abs(x[i] - y[i]) / Math.abs(y[i]));
  return w;
}

function factorOk(...args: Parameters<typeof factorEnvelope>): EnvelopeFactor {
  const r = factorEnvelope(...args);
  if (!r.positiveDefinite) throw new Error(`not positive definite at ${r.row}`);
  return r.factor;
}

function randomVector(n: number, seed: number): Float64Array {
  const rnd = mulberry32(seed);
  return Float64Array.from({ length: n }, () => rnd() - 0.5);
}

function denseInverseDiagonal(a: Float64Array, n: number): Float64Array {
  const inv = CholeskyFactor.factor(a, n, { threads: 1, backend: "native" })!.inverse();
  return Float64Array.from({ length: n }, (_, i) => inv[i * n + i]);
}

/** symmetric band matrix with half-bandwidth w, diagonally dominant */
function band(n: number, w: number, seed: number): Float64Array {
  const rnd = mulberry32(seed);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = Math.max(0, i - w); j < i; j++) {
      const v = rnd() - 0.5;
      a[i * n + j] = v;
      a[j * n + i] = v;
    }
  }
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) if (j !== i) s += Math.abs(a[i * n + j]);
    a[i * n + i] = s + 0.5;
  }
  return a;
}

function permuteSymmetric(a: Float64Array, n: number, p: Int32Array): Float64Array {
  const b = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) b[p[i] * n + p[j]] = a[i * n + j];
  return b;
}

describe("envelopeOrder", () => {
  it("is a permutation with the dense rows last, and recovers a shuffled band's profile", () => {
    const n = 300;
    const w = 4;
    const rnd = mulberry32(7);
    const shuffle = Int32Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [shuffle[i], shuffle[j]] = [shuffle[j], shuffle[i]];
    }
    const csr = denseToCsr(permuteSymmetric(band(n, w, 1), n, shuffle), n);
    const identity = { perm: Int32Array.from({ length: n }, (_, i) => i), denseStart: n };
    const order = envelopeOrder(csr, []);
    expect(inversePermutation(order.perm).length).toBe(n);
    expect(order.denseStart).toBe(n);
    const bandEntries = n * (w + 1) - (w * (w + 1)) / 2;
    expect(envelopeEntries(csr, order)).toBeLessThanOrEqual(bandEntries);
    expect(envelopeEntries(csr, identity)).toBeGreaterThan(10 * bandEntries);
    // dense rows: appended last in ascending order, not counted in the sparse graph
    const { a, dense } = randomLikelihoodLike(120, 5, { window: 3, seed: 3 });
    const o2 = envelopeOrder(denseToCsr(a, 120), dense);
    expect(o2.denseStart).toBe(115);
    expect(Array.from(o2.perm.subarray(115))).toEqual(Array.from(dense));
    expect([...o2.perm].sort((x, y) => x - y)).toEqual(Array.from({ length: 120 }, (_, i) => i));
  });

  it("handles several components and rejects a bad dense row", () => {
    const n = 50;
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) a[i * n + i] = 2;
    for (let i = 0; i + 1 < n; i++) if (i % 10 !== 9) a[i * n + i + 1] = a[(i + 1) * n + i] = -1;
    const csr = denseToCsr(a, n);
    const order = envelopeOrder(csr, []);
    expect(envelopeEntries(csr, order)).toBe(n + 45);
    expect(() => envelopeOrder(csr, [n])).toThrow(/dense row 50/);
  });
});

describe("factorEnvelope", () => {
  it("solves, multi-solves, log det and inverse diagonal agree with the dense Cholesky (likelihood-like, dense rows)", () => {
    for (const [n, nd, window, seed] of [
      [200, 6, 4, 11],
      [150, 0, 10, 12],
      [80, 20, 2, 13],
    ] as const) {
      const { a, dense } = randomLikelihoodLike(n, nd, { window, seed, shift: 1e-3 });
      const csr = denseToCsr(a, n);
      const order = envelopeOrder(csr, dense);
      const f = factorOk(csr, order);
      const d = CholeskyFactor.factor(a, n, { threads: 1, backend: "native" })!;
      expect(f.bytes).toBe(envelopeBytes(csr, order));
      expect(Math.abs(f.logDet - d.logDet())).toBeLessThan(1e-12 * Math.max(1, Math.abs(d.logDet())) * n);
      const b = randomVector(n, seed);
      expect(normRel(f.solve(b), d.solve(b))).toBeLessThan(1e-12);
      const k = 3;
      const bs = randomVector(n * k, seed + 1);
      const xs = f.solveMany(bs, k);
      for (let c = 0; c < k; c++) expect(normRel(xs.subarray(c * n, (c + 1) * n), d.solve(bs.slice(c * n, (c + 1) * n)))).toBeLessThan(1e-12);
      expect(maxRel(f.inverseDiagonal(), denseInverseDiagonal(a, n))).toBeLessThan(1e-11);
      f.dispose();
      expect(() => f.solve(b)).toThrow(/dispose/);
    }
  });

  it("band matrices: exact in natural and RCM order", () => {
    const n = 400;
    const a = band(n, 25, 5);
    const csr = denseToCsr(a, n);
    const d = CholeskyFactor.factor(a, n, { threads: 1, backend: "native" })!;
    const b = randomVector(n, 9);
    for (const order of [envelopeOrder(csr, []), { perm: Int32Array.from({ length: n }, (_, i) => i), denseStart: n }]) {
      const f = factorOk(csr, order);
      expect(envelopeEntries(csr, order)).toBeLessThanOrEqual(n * 26);
      expect(normRel(f.solve(b), d.solve(b))).toBeLessThan(1e-12);
      expect(Math.abs(f.logDet - d.logDet()) / Math.abs(d.logDet())).toBeLessThan(1e-12);
      expect(maxRel(f.inverseDiagonal(), denseInverseDiagonal(a, n))).toBeLessThan(1e-12);
      f.dispose();
    }
  });

  it("keep mask: factors PAP + (I − P)", () => {
    const n = 120;
    const { a, dense } = randomLikelihoodLike(n, 4, { window: 5, seed: 21, shift: 0.01 });
    const csr = denseToCsr(a, n);
    const order = envelopeOrder(csr, dense);
    const rnd = mulberry32(4);
    const keep = Uint8Array.from({ length: n }, () => (rnd() < 0.6 ? 1 : 0));
    const r = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) r[i * n + j] = keep[i] && keep[j] ? a[i * n + j] : i === j ? 1 : 0;
    const f = factorOk(csr, order, { keep });
    const d = CholeskyFactor.factor(r, n, { threads: 1, backend: "native" })!;
    expect(f.bytes).toBe(envelopeBytes(csr, order, keep));
    expect(f.bytes).toBeLessThan(envelopeBytes(csr, order));
    const b = randomVector(n, 2);
    expect(normRel(f.solve(b), d.solve(b))).toBeLessThan(1e-12);
    expect(Math.abs(f.logDet - d.logDet())).toBeLessThan(1e-10);
    expect(maxRel(f.inverseDiagonal(), denseInverseDiagonal(r, n))).toBeLessThan(1e-11);
  });

  it("reports a matrix that is not positive definite, with the original row", () => {
    const n = 60;
    const a = band(n, 3, 8);
    a[17 * n + 17] = -1;
    const csr = denseToCsr(a, n);
    const r = factorEnvelope(csr, envelopeOrder(csr, []));
    expect(r.positiveDefinite).toBe(false);
    if (!r.positiveDefinite) expect(r.row).toBeGreaterThanOrEqual(0);
    // a singular PSD matrix (a zero row) is not positive definite either
    const z = band(n, 3, 8);
    for (let j = 0; j < n; j++) z[5 * n + j] = z[j * n + 5] = 0;
    const c2 = denseToCsr(z, n);
    const r2 = factorEnvelope(c2, { perm: Int32Array.from({ length: n }, (_, i) => i), denseStart: n });
    expect(r2).toEqual({ positiveDefinite: false, row: 5 });
    // ... but with that row outside the keep mask it is
    const keep = new Uint8Array(n).fill(1);
    keep[5] = 0;
    expect(factorEnvelope(c2, envelopeOrder(c2, []), { keep }).positiveDefinite).toBe(true);
  });

  it("gives bit-identical results on 1 and 2 threads", () => {
    const n = 700;
    const { a, dense } = randomLikelihoodLike(n, 30, { window: 150, seed: 31, shift: 0.1 });
    const csr = denseToCsr(a, n);
    const order = envelopeOrder(csr, dense);
    const b = randomVector(n * 4, 3);
    const one = factorOk(csr, order, { threads: 1 });
    const two = factorOk(csr, order, { threads: 2 });
    expect(two.logDet).toBe(one.logDet);
    expect(Array.from(two.solveMany(b, 4))).toEqual(Array.from(one.solveMany(b, 4)));
    expect(Array.from(two.inverseDiagonal())).toEqual(Array.from(one.inverseDiagonal()));
    const d = CholeskyFactor.factor(a, n, { threads: 1, backend: "native" })!;
    expect(normRel(one.solve(b.subarray(0, n)), d.solve(b.slice(0, n)))).toBeLessThan(1e-12);
    expect(maxRel(one.inverseDiagonal(), denseInverseDiagonal(a, n))).toBeLessThan(1e-11);
  });

  it("quadratic forms vᵀA⁻¹v from the held selected inverse: exact for vectors on coupled indices, NaN otherwise", () => {
    const n = 150;
    const { a, dense } = randomLikelihoodLike(n, 5, { window: 4, seed: 41, shift: 0.01 });
    const csr = denseToCsr(a, n);
    const order = envelopeOrder(csr, dense);
    const f = factorOk(csr, order);
    const before = f.bytes;
    expect(() => f.quadraticForms(Float64Array.from([0, 0]), new Int32Array(0), new Float64Array(0))).toThrow(/inverseDiagonal/);
    f.inverseDiagonal({ keepSelectedInverse: true });
    expect(f.bytes).toBeGreaterThan(before);
    const inv = CholeskyFactor.factor(a, n, { threads: 1, backend: "native" })!.inverse();
    // vectors on mutually coupled indices (every pair non-zero in A, as the parameters of one bin are)
    const vecs: number[][] = [];
    for (let i = 0; i < n; i += 7) {
      const nb = [...csr.cols.subarray(csr.rowPtr[i], csr.rowPtr[i + 1])].filter((j) => j !== i && a[j * n + i] !== 0);
      const set = [i, ...nb.filter((j) => nb.every((k) => k === j || a[j * n + k] !== 0)).slice(0, 3)];
      vecs.push(set);
    }
    const ptr = new Float64Array(vecs.length + 1);
    const idx: number[] = [];
    const val: number[] = [];
    vecs.forEach((v, q) => {
      v.forEach((j, t) => {
        idx.push(j);
        val.push(Math.cos(j + t));
      });
      ptr[q + 1] = idx.length;
    });
    const got = f.quadraticForms(ptr, Int32Array.from(idx), Float64Array.from(val));
    vecs.forEach((v, q) => {
      let want = 0;
      for (let s = 0; s < v.length; s++) for (let t = 0; t < v.length; t++) want += val[ptr[q] + s] * val[ptr[q] + t] * inv[v[s] * n + v[t]];
      expect(Math.abs(got[q] - want) / Math.abs(want)).toBeLessThan(1e-11);
    });
    // a pair outside the envelope: two local parameters far apart in the band order
    const far = [order.perm[0], order.perm[order.denseStart - 1]];
    expect(a[far[0] * n + far[1]]).toBe(0);
    expect(f.quadraticForms(Float64Array.from([0, 2]), Int32Array.from(far), Float64Array.from([1, 1]))[0]).toBeNaN();
  });

  it("counts its entries and multiply-adds (the cost model of the grouped impacts)", () => {
    const n = 5;
    const full = denseToCsr(band(n, n, 3), n);
    const identity = { perm: Int32Array.from({ length: n }, (_, i) => i), denseStart: n };
    const f = factorOk(full, identity);
    expect(f.entries).toBe(15);
    expect(f.factorMultiplyAdds).toBe(0 + 1 + 3 + 6 + 10);
    const tri = factorOk(denseToCsr(band(50, 1, 3), 50), { perm: Int32Array.from({ length: 50 }, (_, i) => i), denseStart: 50 });
    expect(tri.entries).toBe(99);
    expect(tri.factorMultiplyAdds).toBe(49);
  });

  it("rejects mismatched shapes", () => {
    const csr = denseToCsr(band(10, 2, 1), 10);
    expect(() => factorEnvelope(csr, { perm: new Int32Array(9), denseStart: 9 })).toThrow(/order has 9 rows/);
    expect(() => factorEnvelope(csr, envelopeOrder(csr, []), { keep: new Uint8Array(3) })).toThrow(/keep has length 3/);
    const f = factorOk(csr, envelopeOrder(csr, []));
    expect(() => f.solve(new Float64Array(3))).toThrow(/length 3/);
  });
});
