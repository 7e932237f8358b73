import { afterAll, describe, expect, it } from "vitest";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import h5wasm from "h5wasm/node";
import { correlationFromCovariance, fitResultsJson, writeFitResults, type RunMeta } from "../fitter/writeResults.js";
import type { FitResult, YieldTable } from "../fitter/results.js";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function table(nbins: number, nproc: number, scale: number): YieldTable {
  const perProcess = Float64Array.from({ length: nbins * nproc }, (_, i) => scale * (i + 1));
  const total = Float64Array.from({ length: nbins }, (_, b) => {
    let s = 0;
    for (let p = 0; p < nproc; p++) s += perProcess[b * nproc + p];
    return s;
  });
  return { perProcess, perProcessVariance: perProcess.map((v) => v / 4), total, totalVariance: total.map((v) => v * 2) };
}

function syntheticResult(): FitResult {
  const cov = new Float64Array([0.04, 0.01, 0, 0.01, 0.25, 0, 0, 0, 0]);
  return {
    status: "converged", message: "", nll: 12.5, chi2: 25, ndf: 3, pvalue: 1e-5, edm: 1e-20, iterations: 7, hvps: 30, hessians: 1,
    parameters: [
      { name: "sig", kind: "poi", value: 1.1, error: 0.2, prefit: 1, prefitError: null, frozen: false },
      { name: "lumi", kind: "nuisance", value: 0.3, error: 0.5, prefit: 0, prefitError: 1, frozen: false },
      { name: "jes", kind: "nuisance", value: 0, error: 0, prefit: 0, prefitError: 1, frozen: true },
    ],
    covariance: cov, x: new Float64Array([1.1, 0.3, 0]), gradient: new Float64Array(3), poiMode: "linear", bbb: false,
    data: new Float64Array([5, 6, 7, 8, 9, 10]), dataSource: "observed",
    prefitYields: table(7, 2, 1), postfitYields: table(7, 2, 1.5),
    engine: { backend: "native", precision: "float64", device: "cpu" },
    timing: { load_s: 0.1, minimize_s: 0.2, covariance_s: 0.05, hessian_s: 0.03, postfit_yields_s: 0.01, total_s: 0.4 },
  };
}

const meta: RunMeta = { command: "fit x.hdf5", version: "0.1.0", git_hash: "abc", time: "2026-01-01T00:00:00Z", input: "/x.hdf5", input_sha256: "00" };
const layout = {
  procs: ["sig", "bkg"],
  channels: [
    { name: "a", axes: [{ name: "x", edges: [0, 1, 2, 3, 4] }], masked: false, flow: false, start: 0, size: 4 },
    { name: "b", axes: [{ name: "y", categories: [-1, 1] }], masked: false, flow: false, start: 4, size: 2 },
    { name: "m", axes: [{ name: "z", edges: [0, 1] }], masked: true, flow: false, start: 6, size: 1 },
  ],
  nbins: 6,
  nbinsFull: 7,
};

describe("correlationFromCovariance", () => {
  it("normalises by the standard deviations and leaves zero-variance rows at 0 (diagonal 1)", () => {
    const c = correlationFromCovariance(new Float64Array([0.04, 0.01, 0, 0.01, 0.25, 0, 0, 0, 0]), 3);
    expect(c[1]).toBeCloseTo(0.01 / (0.2 * 0.5), 14);
    expect(c[0]).toBe(1);
    expect(c[8]).toBe(1);
    expect(c[2]).toBe(0);
  });
  it("gives NaN (not an identity matrix) where the covariance is missing, as after a failed fit", () => {
    const c = correlationFromCovariance(new Float64Array(4).fill(Number.NaN), 2);
    expect(Array.from(c).every((v) => Number.isNaN(v))).toBe(true);
    // one parameter without a variance: its row and column only
    const partial = correlationFromCovariance(new Float64Array([0.04, 0.01, 0.01, Number.NaN]), 2);
    expect(partial[0]).toBe(1);
    expect(Number.isNaN(partial[1]) && Number.isNaN(partial[2]) && Number.isNaN(partial[3])).toBe(true);
  });
});

describe("fitResultsJson", () => {
  it("has every key of results.md", () => {
    const j = fitResultsJson(syntheticResult(), meta);
    for (const k of ["status", "message", "nll", "chi2", "ndf", "pvalue", "edm", "iterations", "parameters", "engine", "timing", "meta"]) {
      expect(j).toHaveProperty(k);
    }
    const p = (j.parameters as Record<string, unknown>[])[0];
    expect(Object.keys(p).sort()).toEqual(["error", "kind", "name", "prefit", "prefitError", "value"]);
    expect((j.parameters as Record<string, unknown>[])[2].frozen).toBe(true);
    expect(j.engine).toEqual({ backend: "native", precision: "float64", device: "cpu" });
    expect(Object.keys(j.timing as object).sort()).toEqual(["covariance_s", "hessian_s", "load_s", "minimize_s", "postfit_yields_s", "total_s"]);
  });
  it("writes a non-finite p-value as null", () => {
    const r = syntheticResult();
    r.pvalue = Number.NaN;
    expect(JSON.parse(JSON.stringify(fitResultsJson(r, meta))).pvalue).toBeNull();
  });
});

describe("writeFitResults", () => {
  it("writes both files atomically with parameters, matrices, per-channel yields and metadata", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fitwrite-"));
    dirs.push(dir);
    const out = join(dir, "nested", "out");
    const r = syntheticResult();
    const written = await writeFitResults(out, r, meta, layout);
    expect(readdirSync(out).sort()).toEqual(["fitresults.hdf5", "fitresults.json"]);
    const j = JSON.parse(readFileSync(written.json, "utf8"));
    expect(j.nll).toBe(12.5);
    expect(j.meta.input_sha256).toBe("00");

    await h5wasm.ready;
    const f = new h5wasm.File(written.hdf5, "r");
    try {
      const get = (p: string) => (f.get(p) as InstanceType<typeof h5wasm.Dataset>).value;
      expect(get("parameters/names")).toEqual(["sig", "lumi", "jes"]);
      expect(Array.from(get("parameters/errors") as Float64Array)).toEqual([0.2, 0.5, 0]);
      const pe = get("parameters/prefit_errors") as Float64Array;
      expect(Number.isNaN(pe[0])).toBe(true);
      expect(pe[1]).toBe(1);
      const cov = f.get("covariance") as InstanceType<typeof h5wasm.Dataset>;
      expect(cov.shape).toEqual([3, 3]);
      expect(cov.value).toBeInstanceOf(Float64Array);
      expect(Array.from(cov.value as Float64Array)).toEqual(Array.from(r.covariance));
      // the correlation is derived by readers unless asked for (it doubles the file at W-mass size)
      expect(f.get("correlation")).toBeNull();
      // channel b holds bins 4..5: yields rows 4,5 of the [7, 2] table
      const yb = get("channels/b/postfit/yields") as Float64Array;
      expect(Array.from(yb)).toEqual(Array.from(r.postfitYields!.perProcess.subarray(8, 12)));
      expect((f.get("channels/b/postfit/yields") as InstanceType<typeof h5wasm.Dataset>).shape).toEqual([2, 2]);
      const eb = get("channels/b/prefit/total_err") as Float64Array;
      expect(eb[0]).toBeCloseTo(Math.sqrt(r.prefitYields!.totalVariance[4]), 12);
      expect(Array.from(get("channels/a/data") as Float64Array)).toEqual([5, 6, 7, 8]);
      expect(f.get("channels/m/data")).toBeNull();
      expect(Array.from(get("channels/m/prefit/total") as Float64Array)).toEqual([r.prefitYields!.total[6]]);
      const m = JSON.parse((get("meta_json") as string[])[0]);
      expect(m.git_hash).toBe("abc");
      expect(m.input_sha256).toBe("00");
    } finally {
      f.close();
    }
  });

  it("a failure while staging leaves the folder as it was: earlier results untouched, no temporary files", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fitwrite-"));
    dirs.push(dir);
    const r = syntheticResult();
    await writeFitResults(dir, r, meta, layout);
    const before = [readFileSync(join(dir, "fitresults.hdf5")), readFileSync(join(dir, "fitresults.json"))];
    // JSON.stringify throws on a BigInt: the JSON fails after the HDF5 was staged
    const badMeta = { ...meta, input: 1n } as unknown as RunMeta;
    await expect(writeFitResults(dir, { ...r, nll: 99 }, badMeta, layout)).rejects.toThrow(/BigInt/);
    expect(readdirSync(dir).sort()).toEqual(["fitresults.hdf5", "fitresults.json"]);
    expect(readFileSync(join(dir, "fitresults.hdf5")).equals(before[0])).toBe(true);
    expect(readFileSync(join(dir, "fitresults.json")).equals(before[1])).toBe(true);
  });

  it("stores the correlation too, in float64, when asked (correlation: true)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fitwrite-"));
    dirs.push(dir);
    const r = syntheticResult();
    const written = await writeFitResults(dir, r, meta, layout, { correlation: true });
    await h5wasm.ready;
    const f = new h5wasm.File(written.hdf5, "r");
    try {
      const corr = (f.get("correlation") as InstanceType<typeof h5wasm.Dataset>).value;
      expect(corr).toBeInstanceOf(Float64Array); // float64 like the covariance it derives from
      expect((corr as Float64Array)[1]).toBeCloseTo(0.1, 14);
      expect(Array.from(corr as Float64Array)).toEqual(Array.from(correlationFromCovariance(r.covariance, 3)));
    } finally {
      f.close();
    }
  });
});
