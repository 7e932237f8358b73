import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { UserError } from "../src/errors.js";
import { naturalSort } from "../src/tensor/naturalSort.js";
import { LOGK_EPSILON, logKFromVariation, symmetrizeLogK } from "../src/tensor/symmetrize.js";
import { TensorBuilder, type ShapeSystematicOptions } from "../src/tensor/TensorBuilder.js";
import { readTensor } from "../src/tensor/TensorReader.js";
import { writeTensor } from "../src/tensor/TensorWriter.js";
import type { LogKCsr, TensorModel } from "../src/tensor/types.js";

const edges3 = [{ name: "x", edges: [0, 1, 2, 3] }];

/** log κ entry (bin, proc name, column) of a model, 0 when absent */
function logkAt(model: TensorModel, bin: number, proc: string, col: number): number {
  const row = bin * model.procs.length + model.procs.indexOf(proc);
  const { rowPtr, cols, values } = model.logk;
  for (let k = rowPtr[row]; k < rowPtr[row + 1]; k++) if (cols[k] === col) return values[k];
  return 0;
}

function expectSortedCsr(csr: LogKCsr): void {
  expect(csr.rowPtr.length).toBe(csr.nrows + 1);
  expect(csr.rowPtr[csr.nrows]).toBe(csr.values.length);
  for (let r = 0; r < csr.nrows; r++) {
    for (let k = csr.rowPtr[r] + 1; k < csr.rowPtr[r + 1]; k++) expect(csr.cols[k]).toBeGreaterThan(csr.cols[k - 1]);
    for (let k = csr.rowPtr[r]; k < csr.rowPtr[r + 1]; k++) {
      expect(csr.cols[k]).toBeLessThan(csr.ncols);
      expect(csr.values[k]).not.toBe(0);
    }
  }
}

/** S (signal) [10, 20, 0], A [1, 2, 3], B [5, 5, 5]; data [16, 27, 8] */
function baseBuilder(type: "log_normal" | "normal" = "log_normal"): TensorBuilder {
  const b = new TensorBuilder({ systematicType: type });
  b.addChannel("ch", edges3);
  b.addProcess("ch", "S", [10, 20, 0], { signal: true });
  b.addProcess("ch", "B", [5, 5, 5], { sumw2: [1, 2, 3] });
  b.addProcess("ch", "A", [1, 2, 3]);
  b.addData("ch", [16, 27, 8]);
  return b;
}

const up = [6, 5, 4];
const down = [4.5, 5, 6];
// hand-computed: logkUp = log(up/nom), logkDown = −log(down/nom), nom = 5
const lu = [Math.log(6 / 5), 0, Math.log(4 / 5)];
const ld = [-Math.log(4.5 / 5), 0, -Math.log(6 / 5)];

function withShape(options: ShapeSystematicOptions): TensorModel {
  const b = baseBuilder();
  b.addShapeSystematic("shape", "B", "ch", up, down, options);
  return b.build();
}

describe("naturalSort", () => {
  it("orders digit runs by value, case-insensitively", () => {
    expect(naturalSort(["syst10", "syst2", "Syst1", "a", "b1c2", "b1c10"])).toEqual([
      "a", "b1c2", "b1c10", "Syst1", "syst2", "syst10",
    ]);
  });
});

describe("logKFromVariation", () => {
  it("log-normal: log(var/nom), log(1e-3) on sign flips or zero variation, 0 where nominal is 0", () => {
    const lk = logKFromVariation([12, -1, 0, 7], [10, 10, 10, 0], "log_normal");
    expect(lk[0]).toBeCloseTo(Math.log(1.2), 15);
    expect(lk[1]).toBe(Math.log(1e-3));
    expect(lk[2]).toBe(LOGK_EPSILON);
    expect(lk[3]).toBe(0);
  });
  it("normal: var − nom, scaled by kfactor", () => {
    expect(Array.from(logKFromVariation([12, 7, 3], [10, 10, 0], "normal", 0.5))).toEqual([1, -1.5, 0]);
  });
});

describe("symmetrizeLogK", () => {
  it("implements each mode on hand numbers", () => {
    const a = symmetrizeLogK([0.2, -0.1], [0.1, 0.3], "average");
    expect(Array.from(a.avg)).toEqual([0.5 * (0.2 + 0.1), 0.5 * (-0.1 + 0.3)]);
    expect(a.halfDiff).toBeNull();
    const c = symmetrizeLogK([0.2, -0.1], [0.1, 0.3], "conservative");
    expect(Array.from(c.avg)).toEqual([0.2, 0.3]);
    const l = symmetrizeLogK([0.2, -0.1], [0.1, 0.3], "linear");
    expect(Array.from(l.diff as Float64Array)).toEqual([0.5 * (0.2 - 0.1), 0.5 * (-0.1 - 0.3)]);
    const q = symmetrizeLogK([0.2], [0.1], "quadratic");
    expect((q.diff as Float64Array)[0]).toBeCloseTo(0.5 * Math.sqrt(3) * 0.1, 15);
    const n = symmetrizeLogK([0.2], [0.1], "none");
    expect(n.avg[0]).toBeCloseTo(0.15, 15);
    expect((n.halfDiff as Float64Array)[0]).toBeCloseTo(0.05, 15);
    expect(n.diff).toBeNull();
  });
});

describe("TensorBuilder", () => {
  it("orders processes signals-then-backgrounds (sorted) and fills norm, sumw, sumw2, data", () => {
    const m = baseBuilder().build();
    expect(m.procs).toEqual(["S", "A", "B"]);
    expect(m.signals).toEqual(["S"]);
    expect(m.nbins).toBe(3);
    expect(m.nbinsFull).toBe(3);
    expect(Array.from(m.norm)).toEqual([10, 1, 5, 20, 2, 5, 0, 3, 5]);
    expect(Array.from(m.sumw as Float64Array)).toEqual(Array.from(m.norm));
    // B's sumw2 as given; S and A default to the nominal
    expect(Array.from(m.sumw2 as Float64Array)).toEqual([10, 1, 1, 20, 2, 2, 0, 3, 3]);
    expect(Array.from(m.dataObs)).toEqual([16, 27, 8]);
    expect(m.dataVar).toBeNull();
    expect(m.pseudodata).toBeNull();
    expect(m.systs).toEqual([]);
    expect(m.logk.nrows).toBe(9);
    expect(m.logk.values.length).toBe(0);
    expect(m.symmetric).toBe(true);
    expect(m.channels).toEqual([{ name: "ch", axes: edges3, masked: false, flow: false, start: 0, size: 3 }]);
  });

  it("clips negative nominal yields unless allowed", () => {
    const b = new TensorBuilder();
    b.addChannel("ch", edges3);
    b.addProcess("ch", "S", [1, -2, 3], { signal: true });
    b.addData("ch", [1, 1, 1]);
    expect(Array.from(b.build().norm)).toEqual([1, 0, 3]);
    const b2 = new TensorBuilder({ allowNegativeExpectation: true });
    b2.addChannel("ch", edges3);
    b2.addProcess("ch", "S", [1, -2, 3], { signal: true });
    b2.addData("ch", [1, 1, 1]);
    expect(Array.from(b2.build().norm)).toEqual([1, -2, 3]);
  });

  it("normalisation systematic: log(1 + u) on the named processes, nothing where the nominal is 0", () => {
    const b = baseBuilder();
    b.addNormSystematic("lumi", ["S", "A"], "ch", 0.05);
    b.addNormSystematic("bnorm", "B", "ch", 0.1);
    const m = b.build();
    expect(m.systs).toEqual(["bnorm", "lumi"]);
    expectSortedCsr(m.logk);
    const lumi = m.systs.indexOf("lumi");
    const bnorm = m.systs.indexOf("bnorm");
    for (let bin = 0; bin < 3; bin++) {
      expect(logkAt(m, bin, "A", lumi)).toBeCloseTo(Math.log(1.05), 14);
      expect(logkAt(m, bin, "B", lumi)).toBe(0);
      expect(logkAt(m, bin, "B", bnorm)).toBeCloseTo(Math.log(1.1), 14);
    }
    expect(logkAt(m, 0, "S", lumi)).toBeCloseTo(Math.log(1.05), 14);
    expect(logkAt(m, 2, "S", lumi)).toBe(0); // nominal 0
    expect(m.logk.values.length).toBe(2 + 3 + 3);
  });

  it("asymmetric normalisation kept asymmetric with symmetrize none", () => {
    const b = baseBuilder();
    b.addNormSystematic("xs", "A", "ch", { up: 0.05, down: -0.03 }, { symmetrize: "none" });
    const m = b.build();
    expect(m.symmetric).toBe(false);
    expect(m.logk.ncols).toBe(2);
    expect(m.metaJson?.symmetric_tensor).toBe(false);
    for (let bin = 0; bin < 3; bin++) {
      expect(logkAt(m, bin, "A", 0)).toBeCloseTo(0.5 * (Math.log(1.05) - Math.log(0.97)), 14);
      expect(logkAt(m, bin, "A", 1)).toBeCloseTo(0.5 * (Math.log(1.05) + Math.log(0.97)), 14);
    }
  });

  it("shape systematic, average", () => {
    const m = withShape({ symmetrize: "average" });
    expect(m.systs).toEqual(["shape"]);
    expect(m.symmetric).toBe(true);
    expect(m.logk.ncols).toBe(1);
    expect(logkAt(m, 0, "B", 0)).toBeCloseTo(0.5 * (lu[0] + ld[0]), 14);
    expect(logkAt(m, 1, "B", 0)).toBe(0);
    expect(logkAt(m, 2, "B", 0)).toBeCloseTo(0.5 * (lu[2] + ld[2]), 14);
    expect(m.logk.values.length).toBe(2);
  });

  it("shape systematic, conservative keeps the larger magnitude", () => {
    const m = withShape({ symmetrize: "conservative" });
    expect(logkAt(m, 0, "B", 0)).toBeCloseTo(Math.log(1.2), 14); // |log 1.2| > |log(5/4.5)|
    expect(logkAt(m, 2, "B", 0)).toBeCloseTo(Math.log(0.8), 14); // |log 0.8| > |−log 1.2|
  });

  it("shape systematic, linear and quadratic split into SymAvg and SymDiff", () => {
    for (const [mode, f] of [["linear", 1], ["quadratic", Math.sqrt(3)]] as const) {
      const m = withShape({ symmetrize: mode });
      expect(m.systs).toEqual(["shapeSymAvg", "shapeSymDiff"]);
      expect(m.symmetric).toBe(true);
      for (const bin of [0, 2]) {
        expect(logkAt(m, bin, "B", 0)).toBeCloseTo(0.5 * (lu[bin] + ld[bin]), 14);
        expect(logkAt(m, bin, "B", 1)).toBeCloseTo(0.5 * f * (lu[bin] - ld[bin]), 14);
      }
    }
  });

  it("shape systematic, none keeps (avg, halfdiff) in columns s and nsyst + s", () => {
    const b = baseBuilder();
    b.addNormSystematic("a_norm", "A", "ch", 0.02);
    b.addShapeSystematic("shape", "B", "ch", up, down, { symmetrize: "none" });
    const m = b.build();
    expect(m.systs).toEqual(["a_norm", "shape"]);
    expect(m.symmetric).toBe(false);
    expect(m.logk.ncols).toBe(4);
    expectSortedCsr(m.logk);
    for (const bin of [0, 2]) {
      expect(logkAt(m, bin, "B", 1)).toBeCloseTo(0.5 * (lu[bin] + ld[bin]), 14);
      expect(logkAt(m, bin, "B", 3)).toBeCloseTo(0.5 * (lu[bin] - ld[bin]), 14);
      expect(logkAt(m, bin, "A", 2)).toBe(0); // the symmetric norm has no half-difference
    }
  });

  it("single up template is mirrored; kfactor and asDifference", () => {
    const b = baseBuilder();
    b.addShapeSystematic("mirr", "B", "ch", up);
    b.addShapeSystematic("half", "B", "ch", [1, 0, -1], null, { asDifference: true, kfactor: 0.5 });
    const m = b.build();
    const mirr = m.systs.indexOf("mirr");
    const half = m.systs.indexOf("half");
    expect(logkAt(m, 0, "B", mirr)).toBeCloseTo(Math.log(1.2), 14);
    expect(logkAt(m, 2, "B", mirr)).toBeCloseTo(Math.log(0.8), 14);
    expect(logkAt(m, 0, "B", half)).toBeCloseTo(0.5 * Math.log(1.2), 14);
    expect(logkAt(m, 2, "B", half)).toBeCloseTo(0.5 * Math.log(0.8), 14);
  });

  it("log-normal sign flip gives log(1e-3)", () => {
    const b = baseBuilder();
    b.addShapeSystematic("flip", "A", "ch", [-1, 0, 3.3]);
    const m = b.build();
    expect(logkAt(m, 0, "A", 0)).toBe(Math.log(1e-3));
    expect(logkAt(m, 1, "A", 0)).toBe(Math.log(1e-3));
    expect(logkAt(m, 2, "A", 0)).toBeCloseTo(Math.log(1.1), 14);
  });

  it("normal systematics: var − nom, and nom·u for normalisations", () => {
    const b = baseBuilder("normal");
    b.addShapeSystematic("shape", "B", "ch", up, down, { symmetrize: "average" });
    b.addNormSystematic("lumi", "S", "ch", 0.1);
    const m = b.build();
    expect(m.systematicType).toBe("normal");
    expect(m.metaJson?.systematic_type).toBe("normal");
    const shape = m.systs.indexOf("shape");
    const lumi = m.systs.indexOf("lumi");
    // up − nom = [1, 0, −1]; −(down − nom) = [0.5, 0, −1]
    expect(logkAt(m, 0, "B", shape)).toBeCloseTo(0.75, 14);
    expect(logkAt(m, 2, "B", shape)).toBeCloseTo(-1, 14);
    expect(logkAt(m, 0, "S", lumi)).toBeCloseTo(1, 14);
    expect(logkAt(m, 1, "S", lumi)).toBeCloseTo(2, 14);
  });

  it("puts unconstrained systematics first (natural order), with constraint weights, NOIs and groups", () => {
    const b = baseBuilder();
    b.addNormSystematic("alpha10", "B", "ch", 0.1, { groups: ["g1"] });
    b.addNormSystematic("alpha2", "B", "ch", 0.1, { groups: ["g1", "g2"] });
    b.addNormSystematic("zfree", "A", "ch", 0.1, { constrained: false, noi: true, groups: ["g2"] });
    b.addNormSystematic("beta", "S", "ch", 0.1, { constrained: false });
    const m = b.build();
    expect(m.systs).toEqual(["beta", "zfree", "alpha2", "alpha10"]);
    expect(m.systsNoConstraint).toEqual(["beta", "zfree"]);
    expect(Array.from(m.constraintWeights)).toEqual([0, 0, 1, 1]);
    expect(m.noiIndices).toEqual([1]);
    expect(m.systGroups).toEqual([
      { name: "g1", indices: [2, 3] },
      { name: "g2", indices: [1, 2] },
    ]);
    expectSortedCsr(m.logk);
    expect(logkAt(m, 0, "A", 1)).toBeCloseTo(Math.log(1.1), 14);
  });

  it("places masked channels after the real ones, without data", () => {
    const b = new TensorBuilder();
    b.addChannel("fid", [{ name: "y", categories: ["a", "b"] }], { masked: true });
    b.addChannel("reco", edges3);
    b.addProcess("fid", "S", [100, 200], { signal: true });
    b.addProcess("reco", "S", [10, 20, 30], { signal: true });
    b.addProcess("reco", "B", [1, 1, 1]);
    b.addData("reco", [11, 21, 31]);
    expect(() => b.addData("fid", [1, 2])).toThrow(UserError);
    b.addNormSystematic("lumi", "S", "fid", 0.02);
    b.addNormSystematic("lumi", ["S", "B"], "reco", 0.02);
    const m = b.build();
    expect(m.nbins).toBe(3);
    expect(m.nbinsFull).toBe(5);
    expect(m.channels.map((c) => [c.name, c.start, c.size, c.masked])).toEqual([
      ["reco", 0, 3, false],
      ["fid", 3, 2, true],
    ]);
    expect(Array.from(m.dataObs)).toEqual([11, 21, 31]);
    expect(Array.from(m.norm)).toEqual([10, 1, 20, 1, 30, 1, 100, 0, 200, 0]);
    expect(m.logk.nrows).toBe(10);
    expect(m.logk.values.length).toBe(3 * 2 + 2);
    expect(logkAt(m, 4, "S", 0)).toBeCloseTo(Math.log(1.02), 14);
    expect(logkAt(m, 4, "B", 0)).toBe(0);
    expect(Object.keys(m.metaJson?.channel_info as object)).toEqual(["reco", "fid"]);
  });

  it("concatenates data, variances and pseudo-data of several channels", () => {
    const b = new TensorBuilder();
    b.addChannel("c1", [{ name: "x", edges: [0, 1, 2] }]);
    b.addChannel("c2", [{ name: "x", edges: [0, 1] }, { name: "q", categories: [-1, 1] }]);
    b.addProcess("c1", "S", [1, 2], { signal: true });
    b.addProcess("c2", "S", [3, 4], { signal: true });
    b.addData("c1", [1, 2], [2, 3]);
    b.addData("c2", [3, 4]);
    b.addPseudoData("c1", "toyA", [10, 20]);
    b.addPseudoData("c1", "toyB", [11, 21]);
    b.addPseudoData("c2", "toyA", [30, 40]);
    expect(() => b.build()).toThrow(/no pseudo-data toyB/);
    b.addPseudoData("c2", "toyB", [31, 41]);
    const m = b.build();
    expect(m.nbins).toBe(4);
    expect(Array.from(m.dataVar as Float64Array)).toEqual([2, 3, 3, 4]);
    expect(m.pseudodata?.names).toEqual(["toyA", "toyB"]);
    expect(Array.from(m.pseudodata?.values as Float64Array)).toEqual([10, 11, 20, 21, 30, 31, 40, 41]);
  });

  it("addLogK books values directly, dropping zeros and bins with zero nominal", () => {
    const b = baseBuilder();
    b.addLogK("direct", "S", "ch", { bins: [0, 1, 2], avg: [0.1, 0, 0.3], halfDiff: [0.01, 0.02, 0.03] });
    const m = b.build();
    expect(m.symmetric).toBe(false);
    expect(logkAt(m, 0, "S", 0)).toBe(0.1);
    expect(logkAt(m, 1, "S", 0)).toBe(0);
    expect(logkAt(m, 2, "S", 0)).toBe(0); // nominal 0
    expect(logkAt(m, 1, "S", 1)).toBe(0.02);
    expect(m.logk.values.length).toBe(3);
    expect(() => b.addLogK("bad", "S", "ch", { bins: [1, 0], avg: [1, 1] })).toThrow(UserError);
  });

  it("declares a systematic without log κ; reports channel sizes", () => {
    const b = baseBuilder();
    expect(b.channelSize("ch")).toBe(3);
    b.addSystematicName("ext", { constrained: false, groups: ["external"] });
    const m = b.build();
    expect(m.systs).toEqual(["ext"]);
    expect(Array.from(m.constraintWeights)).toEqual([0]);
    expect(m.systGroups).toEqual([{ name: "external", indices: [0] }]);
    expect(m.logk.values.length).toBe(0);
    expect(m.logk.ncols).toBe(1);
  });

  it("rejects inconsistent input with UserError", () => {
    const b = baseBuilder();
    expect(() => b.addProcess("ch", "X", [1, 2])).toThrow(/expected 3 values, got 2/);
    expect(() => b.addProcess("nope", "X", [1, 2, 3])).toThrow(/channel nope not known/);
    expect(() => b.addProcess("ch", "S", [1, 2, 3])).toThrow(UserError);
    expect(() => b.addShapeSystematic("s", "Q", "ch", [1, 2, 3])).toThrow(/process Q has no nominal/);
    expect(() => b.addShapeSystematic("s", "A", "ch", [1, NaN, 3])).toThrow(/non-finite/);
    b.addShapeSystematic("s", "A", "ch", [1, 2, 4]);
    expect(() => b.addShapeSystematic("s", "A", "ch", [1, 2, 4])).toThrow(/already set/);
    expect(() => b.addNormSystematic("s", "B", "ch", 0.1, { constrained: false })).toThrow(/constrained/);
    const empty = new TensorBuilder();
    empty.addChannel("ch", edges3);
    empty.addProcess("ch", "S", [1, 1, 1], { signal: true });
    expect(() => empty.build()).toThrow(/channel ch has no data/);
    expect(() => empty.addChannel("c", [{ name: "x" }])).toThrow(/neither edges nor categories/);
  });
});

describe("TensorBuilder → writeTensor → readTensor", () => {
  it("round-trips masked channels, pseudo-data, data variances and asymmetric log κ", async () => {
    const b = new TensorBuilder();
    b.addChannel("fid", [{ name: "y", categories: ["a", "b"] }], { masked: true });
    b.addChannel("reco", [{ name: "pt", label: "p_T", edges: [0, 1, 2] }, { name: "q", categories: [-1, 1] }]);
    b.addProcess("fid", "S", [100, 200], { signal: true });
    b.addProcess("reco", "S", [10, 20, 30, 40], { signal: true });
    b.addProcess("reco", "B", [1, 2, 3, 4], { sumw2: [0.5, 1, 1.5, 2] });
    b.addData("reco", [11, 21, 31, 41], [12, 22, 32, 42]);
    b.addPseudoData("reco", "asimov", [11, 22, 33, 44]);
    b.addNormSystematic("lumi", "S", "fid", 0.02);
    b.addNormSystematic("lumi", ["S", "B"], "reco", 0.02);
    b.addShapeSystematic("res", "B", "reco", [1.1, 2.2, 3, 4.4], [0.95, 1.9, 3, 3.8], { symmetrize: "none", groups: ["det"] });
    b.addNormSystematic("free", "B", "reco", 0.5, { constrained: false, noi: true });
    const made = b.build({ storage: "dense" });
    const dir = mkdtempSync(path.join(tmpdir(), "builder-test-"));
    try {
      for (const storage of ["dense", "sparse"] as const) {
        const file = path.join(dir, `${storage}.hdf5`);
        await writeTensor(file, made, { storage, compression: "gzip" });
        const read = await readTensor(file);
        expect(read.procs).toEqual(made.procs);
        expect(read.systs).toEqual(["free", "lumi", "res"]);
        expect(read.systsNoConstraint).toEqual(["free"]);
        expect(read.noiIndices).toEqual([0]);
        expect(read.systGroups).toEqual(made.systGroups);
        expect(read.nbins).toBe(4);
        expect(read.nbinsFull).toBe(6);
        expect(read.channels.map((c) => [c.name, c.start, c.size, c.masked])).toEqual([
          ["reco", 0, 4, false],
          ["fid", 4, 2, true],
        ]);
        expect(read.channels[0].axes).toEqual(made.channels[0].axes);
        expect(Array.from(read.dataObs)).toEqual([11, 21, 31, 41]);
        expect(Array.from(read.dataVar ?? [])).toEqual([12, 22, 32, 42]);
        expect(read.pseudodata?.names).toEqual(["asimov"]);
        expect(Array.from(read.pseudodata?.values ?? [])).toEqual([11, 22, 33, 44]);
        expect(Array.from(read.norm)).toEqual(Array.from(made.norm));
        expect(Array.from(read.sumw2 ?? [])).toEqual(Array.from(made.sumw2 ?? []));
        expect(read.symmetric).toBe(false);
        expect(read.logk.ncols).toBe(6);
        expect(Array.from(read.logk.rowPtr)).toEqual(Array.from(made.logk.rowPtr));
        expect(Array.from(read.logk.cols)).toEqual(Array.from(made.logk.cols));
        expect(Array.from(read.logk.values)).toEqual(Array.from(made.logk.values));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
