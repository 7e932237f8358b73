/**
 * Narrow log κ storage (issue 12, memory): the reader keeps float32 files' log κ as float32 and
 * narrows column indices to 16 bits when they fit; the native evaluator reads log κ at its stored
 * type, widening each value to float64 before any arithmetic. Its NLL, gradient, HVP, Hessian and
 * yields must then be exactly those of the same values stored as float64 with int32 indices.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Float64Evaluator } from "../fitter/Float64Evaluator.js";
import { buildLikelihoodSpec, type LikelihoodSpec } from "../fitter/likelihoodSpec.js";
import { parseFitGenArgs, runFitGen } from "../src/cli/fitGen.js";
import { allocCols, CsrBuilder, LogkCsrCollector, rowPointersFromCounts } from "../src/tensor/logkCsr.js";
import { generateModel } from "../src/tensor/modelGenerator.js";
import { readTensor } from "../src/tensor/TensorReader.js";
import { writeTensor } from "../src/tensor/TensorWriter.js";
import type { LogKCsr, TensorModel } from "../src/tensor/types.js";

const dir = mkdtempSync(path.join(tmpdir(), "logk-storage-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The same log κ as float64 values, int32 columns and (optionally) float64 row pointers. */
function widened(logk: LogKCsr, rowPtrF64 = false): LogKCsr {
  return {
    nrows: logk.nrows,
    ncols: logk.ncols,
    rowPtr: rowPtrF64 ? Float64Array.from(logk.rowPtr) : Int32Array.from(logk.rowPtr),
    cols: Int32Array.from(logk.cols),
    values: Float64Array.from(logk.values),
  };
}

function point(spec: LikelihoodSpec, seed: number): Float64Array {
  const n = spec.nsig + spec.nsyst;
  const x = new Float64Array(n);
  for (let q = 0; q < spec.nsig; q++) x[q] = 1 + 0.1 * Math.sin(seed + q);
  for (let j = spec.nsig; j < n; j++) x[j] = 0.4 * Math.sin(seed * 7 + j * 1.3);
  return x;
}

/** Every output of the two evaluators, compared bit for bit. */
function expectSameOutputs(a: LikelihoodSpec, b: LikelihoodSpec): void {
  const ea = new Float64Evaluator(a, { threads: 2 });
  const eb = new Float64Evaluator(b, { threads: 2 });
  try {
    for (const seed of [0, 1, 2]) {
      const x = point(a, seed);
      const n = x.length;
      const v = Float64Array.from({ length: n }, (_, i) => Math.cos(3 * i + seed));
      expect(eb.nll(x)).toBe(ea.nll(x));
      const ga = ea.valueAndGradient(x);
      const gb = eb.valueAndGradient(x);
      expect(gb.value).toBe(ga.value);
      expect(Array.from(gb.gradient)).toEqual(Array.from(ga.gradient));
      expect(Array.from(eb.hessianVectorProduct(x, v))).toEqual(Array.from(ea.hessianVectorProduct(x, v)));
      expect(Array.from(eb.yields(x))).toEqual(Array.from(ea.yields(x)));
      if (seed === 0) expect(Array.from(eb.hessian(x))).toEqual(Array.from(ea.hessian(x)));
    }
  } finally {
    ea.dispose();
    eb.dispose();
  }
}

async function roundTrip(model: TensorModel, storage: "dense" | "sparse", float32: boolean, name: string): Promise<TensorModel> {
  const file = path.join(dir, name);
  await writeTensor(file, model, { storage, float32, compression: "none" });
  return readTensor(file);
}

describe("float32 / 16-bit log κ storage", () => {
  const model = generateModel({ bins: 40, procs: 4, signals: 1, systs: 25, asym: true, bbb: true, local: 0.5, seed: 3 });

  for (const storage of ["sparse", "dense"] as const) {
    it(`${storage} float32 file: the reader keeps float32 values and 16-bit columns, equal to the file's values`, async () => {
      const back = await roundTrip(model, storage, true, `f32_${storage}.hdf5`);
      expect(back.logk.values).toBeInstanceOf(Float32Array);
      expect(back.logk.cols).toBeInstanceOf(Uint16Array);
      expect(back.logk.rowPtr).toBeInstanceOf(Int32Array);
      // the stored values are the model's rounded to float32 (zeros dropped), in the same CSR order
      const expected: number[] = [];
      for (let k = 0; k < model.logk.values.length; k++) {
        const v = Math.fround(model.logk.values[k]);
        if (v !== 0) expected.push(v);
      }
      expect(Array.from(back.logk.values)).toEqual(expected);
      // norm stays float64 in memory, holding the float32-rounded yields
      expect(back.norm).toBeInstanceOf(Float64Array);
      expect(Array.from(back.norm)).toEqual(Array.from(model.norm, (v) => Math.fround(v)));
    });

    it(`${storage} float64 file: float64 values and 16-bit columns, exactly the model's`, async () => {
      const back = await roundTrip(model, storage, false, `f64_${storage}.hdf5`);
      expect(back.logk.values).toBeInstanceOf(Float64Array);
      expect(back.logk.cols).toBeInstanceOf(Uint16Array);
      expect(Array.from(back.logk.values)).toEqual(Array.from(model.logk.values));
      expect(Array.from(back.logk.cols)).toEqual(Array.from(model.logk.cols));
      expect(Array.from(back.logk.rowPtr)).toEqual(Array.from(model.logk.rowPtr));
    });
  }

  it("native NLL, gradient, HVP, Hessian and yields from float32/uint16 storage equal those of the same values as float64/int32", async () => {
    const back = await roundTrip(model, "sparse", true, "f32_eval.hdf5");
    for (const bbb of [true, false]) {
      const narrow = buildLikelihoodSpec(back, { poiMode: "linear", bbb });
      expect(narrow.logk.values).toBeInstanceOf(Float32Array);
      const wide: LikelihoodSpec = { ...narrow, logk: widened(narrow.logk) };
      expectSameOutputs(wide, narrow);
      // float32 values with int32 columns, and float64 row pointers (the > 2³¹-entry form)
      const mixed: LikelihoodSpec = { ...narrow, logk: { ...narrow.logk, cols: Int32Array.from(narrow.logk.cols), rowPtr: Float64Array.from(narrow.logk.rowPtr) } };
      expectSameOutputs(wide, mixed);
    }
  });

  it("more than 65536 columns: int32 indices, float32 values, same outputs as float64", () => {
    // hand-made: 6 bins × 2 processes, 70000 systematics of which each row uses a few far apart
    const nbins = 6;
    const nproc = 2;
    const nsyst = 70000;
    const nrows = nbins * nproc;
    const rowPtr = new Int32Array(nrows + 1);
    const cols: number[] = [];
    const values: number[] = [];
    for (let r = 0; r < nrows; r++) {
      for (const c of [r, 1000 + 37 * r, 65535 + r, 69990 + (r % 10)].sort((a, b) => a - b)) {
        cols.push(c);
        values.push(Math.fround(0.01 * Math.sin(c + r)));
      }
      rowPtr[r + 1] = cols.length;
    }
    const narrowCols = allocCols(nsyst, cols.length);
    expect(narrowCols).toBeInstanceOf(Int32Array);
    narrowCols.set(cols);
    const narrow: LikelihoodSpec = {
      nbins,
      nbinsFull: nbins,
      nproc,
      nsig: 1,
      nsyst,
      norm: Float64Array.from({ length: nrows }, (_, r) => 50 + 10 * r),
      logk: { nrows, ncols: nsyst, rowPtr, cols: narrowCols, values: Float32Array.from(values) },
      symmetric: true,
      systematicType: "log_normal",
      data: Float64Array.from({ length: nbins }, (_, b) => 120 + 20 * b),
      bbK: null,
      bbActive: null,
      constraintWeights: new Float64Array(nsyst).fill(1),
      theta0: new Float64Array(nsyst),
      poiMode: "linear",
    };
    const wide: LikelihoodSpec = { ...narrow, logk: widened(narrow.logk) };
    const ea = new Float64Evaluator(wide, { threads: 2 });
    const eb = new Float64Evaluator(narrow, { threads: 2 });
    try {
      const x = point(narrow, 5);
      const v = Float64Array.from({ length: x.length }, (_, i) => Math.cos(i));
      expect(eb.nll(x)).toBe(ea.nll(x));
      expect(Array.from(eb.valueAndGradient(x).gradient)).toEqual(Array.from(ea.valueAndGradient(x).gradient));
      expect(Array.from(eb.hessianVectorProduct(x, v))).toEqual(Array.from(ea.hessianVectorProduct(x, v)));
    } finally {
      ea.dispose();
      eb.dispose();
    }
  });

  it("the evaluator refuses log κ arrays of other types", () => {
    const spec = buildLikelihoodSpec(model, { poiMode: "linear" });
    const bad = { ...spec, logk: { ...spec.logk, cols: Uint32Array.from(spec.logk.cols) } } as unknown as LikelihoodSpec;
    expect(() => new Float64Evaluator(bad, { threads: 1 })).toThrow(/Int32Array or a Uint16Array/);
    const badValues = { ...spec, logk: { ...spec.logk, values: new Float32Array(3) } } as unknown as LikelihoodSpec;
    expect(() => new Float64Evaluator(badValues, { threads: 1 })).toThrow(/different lengths/);
  });

  it("fit-gen --float32 writes float32 norm and log κ", async () => {
    const out = path.join(dir, "gen32.hdf5");
    const args = parseFitGenArgs(["node", "fit-gen", "--bins", "30", "--systs", "12", "--sparse", "--float32", "-o", out]);
    expect(args.float32).toBe(true);
    const summary = await runFitGen(args);
    expect(summary.float32).toBe(true);
    const back = await readTensor(out);
    expect(back.logk.values).toBeInstanceOf(Float32Array);
    expect(back.logk.values.length).toBe(summary.logkNonZeros);
    expect(parseFitGenArgs(["node", "fit-gen", "-o", out]).float32).toBe(false);
  });
});

describe("logkCsr building blocks", () => {
  it("rowPointersFromCounts: Int32Array up to 2³¹ − 1 entries, exact Float64Array beyond", () => {
    const small = rowPointersFromCounts(Float64Array.of(0, 2, 0, 3));
    expect(small).toBeInstanceOf(Int32Array);
    expect(Array.from(small)).toEqual([0, 2, 2, 5]);
    const big = rowPointersFromCounts(Float64Array.of(0, 2 ** 31 - 1, 5));
    expect(big).toBeInstanceOf(Float64Array);
    expect(Array.from(big)).toEqual([0, 2 ** 31 - 1, 2 ** 31 + 4]);
  });

  it("LogkCsrCollector counts rows through the entry map, checks canonical order and keeps 16-bit columns", () => {
    // file rows 0..2 are hnorm_sparse entries living in CSR rows 1, 4, 5
    const c = new LogkCsrCollector("f", "hlogk_sparse/indices", 4, [3, 10], 6, Int32Array.of(1, 4, 5));
    c.add(BigInt64Array.of(0n, 2n, 0n));
    c.add(Int32Array.of(9, 1, 1, 2, 3));
    const { rowPtr, cols } = c.finish();
    expect(cols).toBeInstanceOf(Uint16Array);
    expect(Array.from(cols)).toEqual([2, 9, 1, 3]);
    expect(Array.from(rowPtr)).toEqual([0, 0, 2, 2, 2, 3, 4]);
    const unsorted = new LogkCsrCollector("f", "d", 2, [3, 10], 3, null);
    expect(() => unsorted.add(Int32Array.of(1, 0, 0, 5))).toThrow(/canonical order.*\(0, 5\) follows \(1, 0\)/);
    const short = new LogkCsrCollector("f", "d", 2, [3, 10], 3, null);
    short.add(Int32Array.of(0, 1));
    expect(() => short.finish()).toThrow(/holds 1 complete \(row, col\) pairs, expected 2/);
  });

  it("CsrBuilder grows and returns exact-length narrow arrays", () => {
    const b = new CsrBuilder(100, true, 1);
    for (let i = 0; i < 50; i++) b.push(i, i / 3);
    const { cols, values } = b.finish();
    expect(cols).toBeInstanceOf(Uint16Array);
    expect(values).toBeInstanceOf(Float32Array);
    expect(values.length).toBe(50);
    expect(values[49]).toBe(Math.fround(49 / 3));
    expect(new CsrBuilder(70000, false, 4).finish().cols).toBeInstanceOf(Int32Array);
  });
});
