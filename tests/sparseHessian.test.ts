/**
 * fitter/sparseHessian: the Hessian pattern is a superset of the exact dense Hessian's non-zeros
 * (every entry outside it is exactly 0), the probe colouring is valid (brute-force check), and the
 * probed sparse Hessian equals the exact dense one (≤ 1e-12 of max |H|, exactly symmetric) on
 * generated models (local, asymmetric, BB-lite, pairs), the committed fixtures and the rabbit
 * files (external terms, normal systematics, masked channels), in both POI modes.
 */
import { describe, expect, it } from "vitest";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { readTensor } from "../src/tensor/TensorReader.js";
import { generateModel, type GeneratorOptions } from "../src/tensor/modelGenerator.js";
import type { TensorModel } from "../src/tensor/types.js";
import { buildLikelihoodSpec, type PoiMode } from "../fitter/likelihoodSpec.js";
import { Float64Evaluator } from "../fitter/Float64Evaluator.js";
import { describeParameters } from "../fitter/parameters.js";
import { WithExternalTerms, addExternalHessian, resolveExternalTerms } from "../fitter/externalTerms.js";
import { chooseDenseRows, hessianPattern } from "../fitter/sparseHessian/hessianPattern.js";
import { checkColouring, colourProbes } from "../fitter/sparseHessian/probeColouring.js";
import { sparseHessianSource, symmetricCsrToDense } from "../fitter/sparseHessian/probeHessian.js";
import { checkSymmetricPattern, type SymmetricPattern } from "../fitter/sparseHessian/symmetricCsr.js";
import { FitSession } from "../fitter/session.js";
import { sparseHessianFor } from "../fitter/fit.js";
import { rng } from "./helpers/random.js";

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, "fixtures");
const rabbitDir = join(here, "..", "..", "shared", "data", "rabbit");

/** a point away from the prefit one: POIs around 1, θ spread over the asymmetry window and beyond */
function testPoint(n: number, nsig: number, seed: number): Float64Array {
  const u = rng(seed);
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = i < nsig ? 0.7 + 0.6 * u() : 2.4 * (u() - 0.5);
  return x;
}

function inPattern(p: SymmetricPattern): Uint8Array {
  const m = new Uint8Array(p.n * p.n);
  for (let i = 0; i < p.n; i++) for (let k = p.rowPtr[i]; k < p.rowPtr[i + 1]; k++) m[i * p.n + p.cols[k]] = 1;
  return m;
}

async function checkModel(model: TensorModel, poiMode: PoiMode, seed: number, bbb?: boolean): Promise<{ n: number; nnz: number; probes: number }> {
  const spec = buildLikelihoodSpec(model, { poiMode, bbb });
  const names = describeParameters(model).map((p) => p.name);
  const terms = resolveExternalTerms(model.externalTerms, names);
  const ev = new Float64Evaluator(spec, { threads: 2 });
  try {
    const n = ev.nparams;
    const objective = terms.length > 0 ? new WithExternalTerms(ev, terms) : ev;
    const pattern = hessianPattern(spec, { externalTerms: terms });
    checkSymmetricPattern(pattern);
    const mask = inPattern(pattern);
    const source = sparseHessianSource(objective, spec, { externalTerms: terms, pattern });
    checkColouring(pattern, source.colouring);
    expect(source.probes).toBe(source.denseRows.length + source.colouring.ncolours);
    for (const x of [testPoint(n, spec.nsig, seed), testPoint(n, spec.nsig, seed + 1)]) {
      const h = ev.hessian(x);
      addExternalHessian(terms, h, n);
      let outside = 0;
      let maxAbs = 0;
      for (let e = 0; e < n * n; e++) {
        if (!mask[e] && h[e] !== 0) outside++;
        maxAbs = Math.max(maxAbs, Math.abs(h[e]));
      }
      expect(outside).toBe(0);
      expect(maxAbs).toBeGreaterThan(0);
      const csr = await source.evaluate(x);
      const probed = symmetricCsrToDense(csr);
      let maxDiff = 0;
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          maxDiff = Math.max(maxDiff, Math.abs(probed[i * n + j] - h[i * n + j]));
          expect(probed[i * n + j]).toBe(probed[j * n + i]);
        }
      }
      expect(maxDiff).toBeLessThanOrEqual(1e-12 * maxAbs);
    }
    return { n, nnz: pattern.cols.length, probes: source.probes };
  } finally {
    ev.dispose();
  }
}

describe("sparse Hessian on generated models", () => {
  const cases: [string, Partial<GeneratorOptions>][] = [
    ["local", { bins: 120, procs: 4, signals: 1, systs: 40, local: 0.8 }],
    ["local asym bbb", { bins: 96, procs: 5, signals: 2, systs: 36, local: 0.7, asym: true, bbb: true }],
    ["pairs sparse", { bins: 80, procs: 3, signals: 1, systs: 30, local: 0.5, pairs: true, sparse: true, bbb: true }],
    ["no local", { bins: 40, procs: 3, signals: 1, systs: 12, local: 0 }],
  ];
  for (const [name, o] of cases) {
    for (const mode of ["linear", "square"] as const) {
      it(`${name}, POIs ${mode}: pattern covers H, probed H = dense H`, async () => {
        const r = await checkModel(generateModel({ seed: 7, ...o }), mode, 11);
        if (o.local !== 0) expect(r.nnz).toBeLessThan(r.n * r.n);
        // without local systematics every row is full: probing costs n products either way
        if (o.local !== 0) expect(r.probes).toBeLessThan(r.n);
        else expect(r.probes).toBe(r.n);
      });
    }
  }

  it("the pattern is tight on a local model: every entry of the pattern is non-zero somewhere", async () => {
    const model = generateModel({ bins: 96, procs: 3, signals: 1, systs: 30, local: 0.8, seed: 3 });
    const spec = buildLikelihoodSpec(model, { poiMode: "linear" });
    const ev = new Float64Evaluator(spec, { threads: 2 });
    const n = ev.nparams;
    const h = ev.hessian(testPoint(n, spec.nsig, 5));
    ev.dispose();
    const p = hessianPattern(spec);
    for (let i = 0; i < n; i++) for (let k = p.rowPtr[i]; k < p.rowPtr[i + 1]; k++) expect(h[i * n + p.cols[k]]).not.toBe(0);
  });
});

describe("sparse Hessian: batched probing", () => {
  it("K probes per batched product give the CSR values of one-by-one probing, bit for bit", async () => {
    const cases: [Partial<GeneratorOptions>, PoiMode][] = [
      [{ bins: 96, procs: 5, signals: 2, systs: 36, local: 0.7, asym: true, bbb: true }, "square"],
      [{ bins: 80, procs: 3, signals: 1, systs: 30, local: 0.5, pairs: true, sparse: true, bbb: true }, "linear"],
    ];
    for (const [o, poiMode] of cases) {
      const spec = buildLikelihoodSpec(generateModel({ seed: 7, ...o }), { poiMode });
      const ev = new Float64Evaluator(spec, { threads: 2 });
      try {
        const n = ev.nparams;
        // an objective without hessianVectorProducts: every probe is one hessianVectorProduct
        let calls = 0;
        const single = {
          nparams: n,
          hessianVectorProduct: (x: Float64Array, v: Float64Array) => {
            calls++;
            return ev.hessianVectorProduct(x, v);
          },
        };
        const pattern = hessianPattern(spec);
        const x = testPoint(n, spec.nsig, 13);
        const reference = await sparseHessianSource(single, spec, { pattern }).evaluate(x);
        expect(calls).toBe(sparseHessianSource(single, spec, { pattern }).probes);
        for (const batchSize of [1, 3, 8, 16, undefined]) {
          const source = sparseHessianSource(ev, spec, { pattern, batchSize });
          const csr = await source.evaluate(x);
          expect(csr.values.length).toBe(reference.values.length);
          let differ = 0;
          for (let k = 0; k < csr.values.length; k++) if (!Object.is(csr.values[k], reference.values[k])) differ++;
          expect(differ).toBe(0);
        }
        expect(() => sparseHessianSource(ev, spec, { pattern, batchSize: 0 })).toThrow(/batchSize/);
      } finally {
        ev.dispose();
      }
    }
  });
});

describe("sparse Hessian on the committed fixtures", () => {
  const files = readdirSync(fixtures).filter((f) => f.endsWith(".hdf5")).map((f) => join(fixtures, f));
  const variants = join(fixtures, "rabbit_variants");
  if (existsSync(variants)) files.push(...readdirSync(variants).filter((f) => f.endsWith(".hdf5")).map((f) => join(variants, f)));
  it.each(files)("%s", async (file) => {
    const model = await readTensor(file);
    for (const mode of ["linear", "square"] as const) await checkModel(model, mode, 21);
  });
});

const haveRabbit = existsSync(join(rabbitDir, "g10_external_sparsehess.hdf5"));
if (!haveRabbit) console.log(`sparseHessian.test: rabbit files skipped, ${rabbitDir} is not here`);
describe.skipIf(!haveRabbit)("sparse Hessian on the rabbit files", () => {
  const files = haveRabbit ? readdirSync(rabbitDir).filter((f) => f.endsWith(".hdf5")) : [];
  it.each(files)("%s", async (file) => {
    const model = await readTensor(join(rabbitDir, file));
    for (const mode of ["linear", "square"] as const) await checkModel(model, mode, 31);
  });
});

describe("hessianPattern and chooseDenseRows", () => {
  it("external terms the pattern was not told about are refused", () => {
    const model = generateModel({ bins: 20, procs: 2, systs: 4, local: 1, seed: 2 });
    const spec = buildLikelihoodSpec(model, { poiMode: "linear" });
    const ev = new Float64Evaluator(spec, { threads: 1 });
    const names = describeParameters(model).map((q) => q.name);
    const terms = resolveExternalTerms([{ name: "t", params: names.slice(1, 3), gradValues: null, hessDense: Float64Array.from([1, 0.5, 0.5, 1]), hessSparse: null }], names);
    expect(() => sparseHessianSource(new WithExternalTerms(ev, terms), spec)).toThrow(/external terms/);
    // told: the two systematics couple
    const p = hessianPattern(spec, { externalTerms: terms });
    const a = terms[0].indices[0];
    const b = terms[0].indices[1];
    expect(Array.from(p.cols.subarray(p.rowPtr[a], p.rowPtr[a + 1]))).toContain(b);
    ev.dispose();
  });

  it("a log κ column outside the tensor is an error, not a smaller pattern", () => {
    const model = generateModel({ bins: 10, procs: 2, systs: 3, local: 1, seed: 2, sparse: true });
    const spec = buildLikelihoodSpec(model, { poiMode: "linear" });
    const cols = Int32Array.from(spec.logk.cols);
    cols[0] = 99;
    expect(() => hessianPattern({ ...spec, logk: { ...spec.logk, cols } })).toThrow(/column 99/);
    expect(() => hessianPattern({ ...spec, systematicType: "lognormal" as never })).toThrow(/systematic type/);
  });

  it("dense rows: the k longest rows minimising k + (k+1)-th length; explicit threshold", () => {
    // 3 rows of length n, the rest banded of length ≤ 5
    const n = 40;
    const rows: number[][] = [];
    for (let i = 0; i < n; i++) {
      const s = new Set<number>([0, 1, 2, i]);
      if (i < 3) for (let j = 0; j < n; j++) s.add(j);
      for (let d = -2; d <= 2; d++) if (i + d >= 0 && i + d < n) s.add(i + d);
      rows.push([...s].sort((a, b) => a - b));
    }
    const rowPtr = new Float64Array(n + 1);
    rows.forEach((r, i) => (rowPtr[i + 1] = rowPtr[i] + r.length));
    const p: SymmetricPattern = { n, rowPtr, cols: Int32Array.from(rows.flat()) };
    checkSymmetricPattern(p);
    expect(Array.from(chooseDenseRows(p))).toEqual([0, 1, 2]);
    const longer = rows.map((r, i) => (r.length > 7 ? i : -1)).filter((i) => i >= 0);
    expect(longer.length).toBeGreaterThan(3);
    expect(Array.from(chooseDenseRows(p, { threshold: 7 }))).toEqual(longer);
    expect(chooseDenseRows(p, { threshold: n }).length).toBe(0);
  });
});

describe("probe colouring", () => {
  function randomPattern(n: number, density: number, seed: number): SymmetricPattern {
    const u = rng(seed);
    const sets = Array.from({ length: n }, (_, i) => new Set<number>([i]));
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        if (u() < density) {
          sets[i].add(j);
          sets[j].add(i);
        }
      }
    }
    const rows = sets.map((s) => [...s].sort((a, b) => a - b));
    const rowPtr = new Float64Array(n + 1);
    rows.forEach((r, i) => (rowPtr[i + 1] = rowPtr[i] + r.length));
    return { n, rowPtr, cols: Int32Array.from(rows.flat()) };
  }

  /** brute force: sparse columns j ≠ k sharing a sparse row must differ in colour */
  function bruteForceValid(p: SymmetricPattern, colour: Int32Array): boolean {
    for (let r = 0; r < p.n; r++) {
      if (colour[r] < 0) continue;
      const cs = Array.from(p.cols.subarray(p.rowPtr[r], p.rowPtr[r + 1])).filter((j) => colour[j] >= 0);
      for (const a of cs) for (const b of cs) if (a !== b && colour[a] === colour[b]) return false;
    }
    return true;
  }

  for (const [n, density, seed] of [[30, 0.1, 1], [80, 0.05, 2], [150, 0.02, 3], [200, 0.3, 4]] as const) {
    for (const order of ["natural", "largest-first"] as const) {
      it(`random pattern n=${n} density ${density}, ${order}`, () => {
        const p = randomPattern(n, density, seed);
        const dense = chooseDenseRows(p);
        const c = colourProbes(p, dense, { order });
        checkColouring(p, c);
        expect(bruteForceValid(p, c.colour)).toBe(true);
        // within range, at least the longest sparse row's sparse length
        let longest = 0;
        for (let i = 0; i < n; i++) {
          if (c.colour[i] < 0) continue;
          let len = 0;
          for (let k = p.rowPtr[i]; k < p.rowPtr[i + 1]; k++) if (c.colour[p.cols[k]] >= 0) len++;
          longest = Math.max(longest, len);
        }
        expect(c.ncolours).toBeGreaterThanOrEqual(longest);
        expect(c.ncolours).toBeLessThanOrEqual(n);
        expect(c.start[c.ncolours]).toBe(n - dense.length);
      });
    }
  }

  it("a colouring with a clash is rejected by checkColouring", () => {
    const p = randomPattern(20, 0.2, 9);
    const c = colourProbes(p, new Int32Array(0));
    const colour = Int32Array.from(c.colour);
    // give a row's two sparse neighbours the same colour
    const r = Array.from({ length: p.n }, (_, i) => i).find((i) => p.rowPtr[i + 1] - p.rowPtr[i] >= 2)!;
    colour[p.cols[p.rowPtr[r] + 1]] = colour[p.cols[p.rowPtr[r]]];
    expect(() => checkColouring(p, { ...c, colour })).toThrow(/two columns/);
    expect(bruteForceValid(p, colour)).toBe(false);
  });

  it("more than 32·4 colours grow the row bitsets (dense block, no dense rows)", () => {
    const n = 300;
    const p = randomPattern(n, 1, 1);
    const c = colourProbes(p, new Int32Array(0));
    checkColouring(p, c);
    expect(c.ncolours).toBe(n);
  });

  it("colour count on the local-systematics structure stays near the longest sparse row", () => {
    const model = generateModel({ bins: 2000, procs: 3, signals: 1, systs: 1200, local: 0.95, sparse: true, seed: 4 });
    const spec = buildLikelihoodSpec(model, { poiMode: "linear" });
    const p = hessianPattern(spec);
    const dense = chooseDenseRows(p);
    // the POI, normalisation and shape systematics act on every bin
    expect(dense.length).toBe(1 + 1200 - Math.round(1200 * 0.95));
    const c = colourProbes(p, dense);
    checkColouring(p, c);
    let longest = 0;
    for (let i = 0; i < p.n; i++) {
      if (c.colour[i] < 0) continue;
      let len = 0;
      for (let k = p.rowPtr[i]; k < p.rowPtr[i + 1]; k++) if (c.colour[p.cols[k]] >= 0) len++;
      longest = Math.max(longest, len);
    }
    expect(c.ncolours).toBeGreaterThanOrEqual(longest);
    expect(c.ncolours).toBeLessThanOrEqual(Math.ceil(1.5 * longest));
    expect(dense.length + c.ncolours).toBeLessThan(p.n / 3);
    // colouring by first bin: valid, and no more colours than the file order on this structure
    const byBin = colourProbes(p, dense, { order: p.binOrder });
    checkColouring(p, byBin);
    expect(byBin.ncolours).toBeGreaterThanOrEqual(longest);
    expect(byBin.ncolours).toBeLessThanOrEqual(c.ncolours);
  });

  it("binOrder: a permutation by first bin; a non-permutation order is refused", () => {
    const model = generateModel({ bins: 60, procs: 2, signals: 1, systs: 20, local: 0.9, sparse: true, seed: 5 });
    const spec = buildLikelihoodSpec(model, { poiMode: "linear" });
    const p = hessianPattern(spec);
    expect(Array.from(p.binOrder).sort((a, b) => a - b)).toEqual(Array.from({ length: p.n }, (_, i) => i));
    const firstBin = (i: number): number => {
      for (let b = 0; b < spec.nbins; b++) {
        for (let q = 0; q < spec.nproc; q++) {
          const row = b * spec.nproc + q;
          if (i < spec.nsig ? q === i && spec.norm[row] !== 0 : false) return b;
          if (i >= spec.nsig && spec.norm[row] !== 0) {
            for (let k = spec.logk.rowPtr[row]; k < spec.logk.rowPtr[row + 1]; k++) if (spec.logk.cols[k] % spec.nsyst === i - spec.nsig && spec.logk.values[k] !== 0) return b;
          }
        }
      }
      return spec.nbins;
    };
    for (let q = 1; q < p.n; q++) expect(firstBin(p.binOrder[q - 1])).toBeLessThanOrEqual(firstBin(p.binOrder[q]));
    const bad = Int32Array.from(p.binOrder);
    bad[0] = bad[1];
    expect(() => colourProbes(p, new Int32Array(0), { order: bad })).toThrow(/permutation/);
  });
});

describe("fit.ts: sparseHessianFor (the Krylov errors' sparse Hessian)", () => {
  it("a local model gets a source over the session objective that matches the dense Hessian; off by option", async () => {
    const model = generateModel({ bins: 480, procs: 3, signals: 1, systs: 200, local: 0.95, bbb: true, seed: 8 });
    const session = new FitSession(model, { threads: 1 });
    try {
      const lines: string[] = [];
      const source = sparseHessianFor(session, { verbose: true, log: (l) => lines.push(l) });
      expect(source).not.toBeNull();
      expect(lines.join("\n")).toMatch(/sparse Hessian: \d+ entries .* HVPs per Hessian/);
      const x = testPoint(session.n, session.spec.nsig, 3);
      const h = await source!.evaluate(x);
      const dense = session.evaluator.hessian(x);
      const probed = symmetricCsrToDense(h);
      let maxAbs = 0;
      let maxDiff = 0;
      for (let e = 0; e < dense.length; e++) {
        maxAbs = Math.max(maxAbs, Math.abs(dense[e]));
        maxDiff = Math.max(maxDiff, Math.abs(dense[e] - probed[e]));
      }
      expect(maxDiff).toBeLessThanOrEqual(1e-12 * maxAbs);
      expect(sparseHessianFor(session, { sparseHessian: false })).toBeNull();
    } finally {
      session.dispose();
    }
  });

  it("a model whose pattern is full gets none (and says why)", () => {
    const session = new FitSession(generateModel({ bins: 30, procs: 3, systs: 8, local: 0, seed: 8 }), { threads: 1 });
    try {
      const lines: string[] = [];
      expect(sparseHessianFor(session, { verbose: true, log: (l) => lines.push(l) })).toBeNull();
      expect(lines[0]).toMatch(/not used, its pattern fills 100.0%/);
    } finally {
      session.dispose();
    }
  });

  it("with external terms: the session's objective and terms", async () => {
    const file = join(rabbitDir, "g10_external_sparsehess.hdf5");
    const alt = join(fixtures, "rabbit_variants", "ext_sparse.hdf5");
    const model = await readTensor(existsSync(file) ? file : alt);
    const session = new FitSession(model, { threads: 1 });
    try {
      expect(session.externalTerms.length).toBeGreaterThan(0);
      // these files are small and dense-ish: build the source directly to compare with the session's Hessian
      const source = sparseHessianSource(session.objective, session.spec, { externalTerms: session.externalTerms });
      const x = testPoint(session.n, session.spec.nsig, 4);
      const dense = session.evaluator.hessian(x);
      addExternalHessian(session.externalTerms, dense, session.n);
      const probed = symmetricCsrToDense(await source.evaluate(x));
      let maxAbs = 0;
      let maxDiff = 0;
      for (let e = 0; e < dense.length; e++) {
        maxAbs = Math.max(maxAbs, Math.abs(dense[e]));
        maxDiff = Math.max(maxDiff, Math.abs(dense[e] - probed[e]));
      }
      expect(maxDiff).toBeLessThanOrEqual(1e-12 * maxAbs);
    } finally {
      session.dispose();
    }
  });
});

describe("checkSymmetricPattern", () => {
  const make = (rows: number[][]): SymmetricPattern => {
    const rowPtr = new Float64Array(rows.length + 1);
    rows.forEach((r, i) => (rowPtr[i + 1] = rowPtr[i] + r.length));
    return { n: rows.length, rowPtr, cols: Int32Array.from(rows.flat()) };
  };
  it("accepts sorted rows with diagonals; rejects unsorted, duplicate, out-of-range, missing diagonal, bad rowPtr", () => {
    expect(() => checkSymmetricPattern(make([[0, 2], [1], [0, 2]]))).not.toThrow();
    expect(() => checkSymmetricPattern(make([[2, 0], [1], [0, 2]]))).toThrow(/ascending/);
    expect(() => checkSymmetricPattern(make([[0, 0], [1], [2]]))).toThrow(/ascending/);
    expect(() => checkSymmetricPattern(make([[0, 3], [1], [2]]))).toThrow(/outside/);
    expect(() => checkSymmetricPattern(make([[0], [2], [2]]))).toThrow(/diagonal/);
    const p = make([[0], [1]]);
    expect(() => checkSymmetricPattern({ ...p, rowPtr: new Float64Array([0, 1]) })).toThrow(/length/);
    expect(() => checkSymmetricPattern({ ...p, rowPtr: new Float64Array([0, 1, 3]) })).toThrow(/span/);
  });
});
