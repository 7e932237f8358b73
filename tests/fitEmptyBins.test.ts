/**
 * Fits with empty bins (ν_b = n_b = 0), n_b = 0 bins, signal-only bins and Barlow–Beeston with
 * processes without MC statistics, against float64 references (fixtures and commands in
 * tests/fixtures/README-ref.md): ref_fit.py where every process has sumw2 > 0 or BB is off,
 * tests/fixtures/split_bb_fit.py (β profiled numerically) where some have sumw2 = 0. Bars as in
 * fitReference.test.ts: values within 1e-5 σ, errors 1e-5 relative, NLL 1e-6 absolute.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { fit, type FitBackend } from "../fitter/fit.js";
import type { FitResult } from "../fitter/results.js";
import { readTensor } from "../src/tensor/TensorReader.js";
import type { ChannelInfo } from "../src/tensor/types.js";
import { zeroLikelihoodBins, zeroLikelihoodMessage } from "../fitter/binDiagnostics.js";
import { describeBin } from "../src/tensor/binLabels.js";

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, "fixtures");

interface Expected {
  names: string[];
  values: number[];
  errors: number[];
  nll: number;
  ndf: number;
}

function expected(name: string): Expected {
  return JSON.parse(readFileSync(join(fixtures, name), "utf8")) as Expected;
}

function expectAgreement(result: FitResult, ref: Expected): void {
  expect(result.status, result.message).toBe("converged");
  expect(result.parameters.map((p) => p.name)).toEqual(ref.names);
  result.parameters.forEach((p, i) => {
    expect(Math.abs(p.value - ref.values[i]) / ref.errors[i], p.name).toBeLessThan(1e-5);
    expect(Math.abs(p.error / ref.errors[i] - 1), p.name).toBeLessThan(1e-5);
  });
  expect(Math.abs(result.nll - ref.nll)).toBeLessThan(1e-6);
  expect(result.ndf).toBe(ref.ndf);
}

const cases = [
  { label: "empty, signal-only and n = 0 bins, no BB", file: "ref_empty.hdf5", ref: "ref_empty.expected.json", bbb: false, asimov: false },
  { label: "empty, signal-only and n = 0 bins, BB", file: "ref_empty.hdf5", ref: "ref_empty.bbb.expected.json", bbb: true, asimov: false },
  { label: "Asimov at μ = 0 (signal-only bins get n = 0; μ̂ < 0 as rabbit), no BB", file: "ref_empty.hdf5", ref: "ref_empty.asimov0.expected.json", bbb: false, asimov: true },
  { label: "Asimov at μ = 0, BB", file: "ref_empty.hdf5", ref: "ref_empty.bbb.asimov0.expected.json", bbb: true, asimov: true },
  { label: "BB with processes without MC statistics (split_bb_fit.py)", file: "ref_split_bb.hdf5", ref: "ref_split_bb.expected.json", bbb: true, asimov: false },
];
const backends: FitBackend[] = ["native", "cpu"];

describe.each(cases)("fit vs float64 reference: $label", ({ file, ref, bbb, asimov }) => {
  it.each(backends)("backend %s", async (backend) => {
    const model = await readTensor(join(fixtures, file));
    const result = await fit(model, { backend, bbb, threads: 2, ...(asimov ? { asimov: true, expectSignal: 0 } : {}) });
    expect(result.bbb).toBe(bbb);
    expectAgreement(result, expected(ref));
  });
});

describe("the bundled W-mass toy", () => {
  it("fit inputs/wmass-toy.hdf5 --asimov --expect-signal 0 converges, as ref_fit.py --bbb", async () => {
    const model = await readTensor(join(here, "../inputs/wmass-toy.hdf5"));
    const result = await fit(model, { asimov: true, expectSignal: 0, threads: 2 });
    expect(result.bbb).toBe(true);
    expectAgreement(result, expected("wmass-toy.asimov0.bbb.expected.json"));
  });
});

describe("zero likelihood", () => {
  it("ν_b ≤ 0 with n_b > 0 is a failed fit whose message names the channel, bin and axis value", async () => {
    const model = await readTensor(join(fixtures, "ref_empty.hdf5"));
    // bin 3 has no prediction at all: observed events there make the likelihood zero everywhere
    model.dataObs = Float64Array.from(model.dataObs);
    model.dataObs[3] = 5;
    const result = await fit(model, { threads: 1 });
    expect(result.status).toBe("failed");
    expect(result.message).toMatch(/zero likelihood in 1 bin: channel ch0 bin 3 \(x in \[0\.075, 0\.1\)\): ν = 0, n = 5 \(expected yield ≤ 0/);
  });
});

describe("describeBin / zeroLikelihoodBins", () => {
  const channels: ChannelInfo[] = [
    { name: "a", axes: [{ name: "x", edges: [0, 1, 2] }], masked: false, flow: false, start: 0, size: 2 },
    // 2 × 3 in C order (last axis fastest), the continuous axis with under/overflow
    { name: "b", axes: [{ name: "q", categories: [-1, 1] }, { name: "pt", edges: [10, 20] }], masked: false, flow: true, start: 2, size: 6 },
    { name: "c", axes: [{ name: "y", edges: [0, 1, 2] }], masked: false, flow: false, start: 8, size: 5 },
  ];
  it("names channel, local index and axis values (flow bins, categories); omits values the axes cannot describe", () => {
    expect(describeBin(channels, 1)).toBe("channel a bin 1 (x in [1, 2))");
    expect(describeBin(channels, 2 + 4)).toBe("channel b bin 4 (q=1, pt in [10, 20))");
    expect(describeBin(channels, 2 + 5)).toBe("channel b bin 5 (q=1, pt overflow)");
    expect(describeBin(channels, 2 + 0)).toBe("channel b bin 0 (q=-1, pt underflow)");
    expect(describeBin(channels, 9)).toBe("channel c bin 1");
    expect(describeBin(channels, 99)).toBe("bin 99");
  });
  it("finds ν ≤ 0 with n > 0 and ν + k ≤ 0 under BB, not n = 0 bins", () => {
    const spec = {
      nbins: 4, nbinsFull: 4, nproc: 2, nsig: 1, nsyst: 0, norm: new Float64Array(8),
      logk: { nrows: 8, ncols: 0, rowPtr: new Int32Array(9), cols: new Int32Array(0), values: new Float64Array(0) },
      symmetric: true, systematicType: "log_normal" as const, data: Float64Array.from([0, 3, 2, 0]),
      bbK: Float64Array.from([Infinity, Infinity, 10, 4]), constraintWeights: new Float64Array(0), theta0: new Float64Array(0), poiMode: "linear" as const,
    };
    const nu = Float64Array.from([-1, 0, 0, -0.5, 1, 2, -3, -2]);
    const bad = zeroLikelihoodBins(spec, nu);
    expect(bad.map((z) => z.bin)).toEqual([1, 3]);
    expect(zeroLikelihoodMessage(channels, bad)).toMatch(/^zero likelihood in 2 bins: channel a bin 1 \(x in \[1, 2\)\): ν = -0\.5, n = 3 .*; channel b bin 1 \(q=-1, pt in \[10, 20\)\): ν = -5, n = 0 \(expected yield ≤ −k_b = -4/);
    expect(zeroLikelihoodMessage(channels, [])).toBeNull();
  });
});
