/**
 * Conventions of the fit driver that a combine/rabbit user relies on: masked channels stay out of
 * the NLL and ndf, square-mode POIs are reported as μ with covariance rows transformed by dμ/dx,
 * Asimov data with MC statistics give β̂ = 1 and NLL 0, frozen parameters sit exactly at their
 * prefit values, parameter kinds (free, noi) and prefit errors.
 */
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { readTensor } from "../src/tensor/TensorReader.js";
import type { TensorModel } from "../src/tensor/types.js";
import { fit } from "../fitter/fit.js";
import { correlationFromCovariance } from "../fitter/writeResults.js";
import { smallModel } from "./fixtures/tensorFiles.js";

const fixtures = join(dirname(fileURLToPath(import.meta.url)), "fixtures");

/** `model` without its masked bins (the first nbins rows only). */
function withoutMasked(model: TensorModel): TensorModel {
  const rows = model.nbins * model.procs.length;
  const rowPtr = model.logk.rowPtr.slice(0, rows + 1);
  const nnz = rowPtr[rows];
  return {
    ...model,
    nbinsFull: model.nbins,
    norm: model.norm.slice(0, rows),
    sumw: model.sumw ? model.sumw.slice(0, rows) : null,
    sumw2: model.sumw2 ? model.sumw2.slice(0, rows) : null,
    logk: { ...model.logk, nrows: rows, rowPtr, cols: model.logk.cols.slice(0, nnz), values: model.logk.values.slice(0, nnz) },
    channels: model.channels.filter((c) => !c.masked),
  };
}

describe("masked channels", () => {
  it("are computed and reported but never enter the NLL, the data or ndf", async () => {
    const model = smallModel({ nbins: 16, nmasked: 4, nsyst: 4, seed: 5 });
    const masked = await fit(model, { threads: 1 });
    const plain = await fit(withoutMasked(model), { threads: 1 });
    expect(masked.status, masked.message).toBe("converged");
    expect(masked.nll).toBe(plain.nll);
    expect(masked.parameters.map((p) => p.value)).toEqual(plain.parameters.map((p) => p.value));
    expect(masked.parameters.map((p) => p.error)).toEqual(plain.parameters.map((p) => p.error));
    // rabbit's ndf: real bins − POIs − unconstrained systematics
    const unconstrained = Array.from(model.constraintWeights).filter((w) => w === 0).length;
    expect(masked.ndf).toBe(16 - model.signals.length - unconstrained);
    expect(masked.data).toHaveLength(16);
    // the masked bins' prefit yields are the nominal ones (μ = 1, θ = 0), and they have postfit ones
    const nproc = model.procs.length;
    expect(masked.prefitYields!.total).toHaveLength(20);
    for (let b = 16; b < 20; b++) {
      let nominal = 0;
      for (let p = 0; p < nproc; p++) nominal += model.norm[b * nproc + p];
      expect(masked.prefitYields!.total[b]).toBeCloseTo(nominal, 8);
      expect(masked.postfitYields!.total[b]).toBeGreaterThan(0);
      expect(masked.postfitYields!.totalVariance[b]).toBeGreaterThan(0);
    }
  });
});

describe("square POI mode", () => {
  it("reports μ = x² with error 2|x|σ and the POI's covariance rows for μ (correlations as the reference's)", async () => {
    const ref = JSON.parse(readFileSync(join(fixtures, "ref_square2.expected.json"), "utf8")) as {
      errors: number[];
      corr_poi_first_systs: number[];
    };
    const model = await readTensor(join(fixtures, "ref_square2.hdf5"));
    const r = await fit(model, { poiMode: "square", threads: 1 });
    expect(r.status, r.message).toBe("converged");
    const n = r.parameters.length;
    r.parameters.forEach((p, i) => {
      expect(Math.sqrt(r.covariance[i * (n + 1)]) / p.error - 1).toBeLessThan(1e-12);
      expect(Math.abs(p.error / ref.errors[i] - 1)).toBeLessThan(1e-5);
    });
    for (let i = 0; i < 2; i++) expect(r.parameters[i].value).toBeCloseTo(r.x[i] * r.x[i], 14);
    // the reference's correlations are those of x; μ's differ by sign(x) (x > 0 here)
    expect(r.x[0]).toBeGreaterThan(0);
    const corr = correlationFromCovariance(r.covariance, n);
    ref.corr_poi_first_systs.forEach((c, j) => expect(Math.abs(corr[j + 1] - c)).toBeLessThan(1e-6));
  });

  it("a frozen POI is exactly its prefit μ, with zero error and zero covariance row", async () => {
    const model = await readTensor(join(fixtures, "ref_square2.hdf5"));
    const r = await fit(model, { poiMode: "square", freeze: "sig0", expectSignal: 2, threads: 1 });
    expect(r.status, r.message).toBe("converged");
    const n = r.parameters.length;
    expect(r.parameters[0]).toMatchObject({ value: 2, error: 0, prefit: 2, frozen: true });
    for (let j = 0; j < n; j++) expect(r.covariance[j]).toBe(0);
    // the frozen POI is not fitted: ndf = bins − the other POI − unconstrained systematics
    const unconstrained = Array.from(model.constraintWeights).filter((w) => w === 0).length;
    expect(r.ndf).toBe(model.nbins - 1 - unconstrained);
  });
});

describe("Asimov data", () => {
  it("with MC statistics (BB lite): β̂ = 1, NLL 0, the fit returns the expected signal and θ = 0", async () => {
    const model = await readTensor(join(fixtures, "ref_sparse_asym_bbb.hdf5"));
    const r = await fit(model, { asimov: true, expectSignal: 0.5, threads: 1 });
    expect(r.bbb).toBe(true);
    expect(r.status, r.message).toBe("converged");
    expect(Math.abs(r.nll)).toBeLessThan(1e-9);
    expect(Math.abs(r.parameters[0].value - 0.5)).toBeLessThan(1e-6 * r.parameters[0].error);
    for (const p of r.parameters.slice(1)) expect(Math.abs(p.value)).toBeLessThan(1e-6 * p.error);
    // the Asimov data are the expected yields at μ = 0.5, θ = 0 (real bins)
    const nproc = model.procs.length;
    const nsig = model.signals.length;
    for (let b = 0; b < model.nbins; b++) {
      let nu = 0;
      for (let p = 0; p < nproc; p++) nu += (p < nsig ? 0.5 : 1) * model.norm[b * nproc + p];
      expect(r.data[b]).toBeCloseTo(nu, 8);
    }
  });
});

describe("parameter kinds", () => {
  it("free systematics have kind free and no prefit error; NOIs kind noi; ndf counts the POIs and unconstrained systematics (rabbit)", async () => {
    const model = { ...smallModel({ nbins: 20, nsyst: 5, seed: 3, extras: true }), externalTerms: [] };
    model.constraintWeights[2] = 4; // a tighter constraint: prefit error 1/√4
    const r = await fit(model, { threads: 1 });
    expect(r.status, r.message).toBe("converged");
    expect(r.parameters.map((p) => p.kind)).toEqual(["poi", "noi", "nuisance", "nuisance", "nuisance", "noi"]);
    expect(r.parameters.map((p) => p.prefitError)).toEqual([null, null, 1, 0.5, 1, 1]);
    // 1 POI and 1 unconstrained NOI; the constrained NOI and nuisances come with their own constraint
    expect(r.ndf).toBe(20 - 2);
  });

  it("freezing the ineffective free parameter of ref_singular makes its fit converge", async () => {
    const model = await readTensor(join(fixtures, "ref_singular.hdf5"));
    const r = await fit(model, { freeze: "syst0000", threads: 1 });
    expect(r.status, r.message).toBe("converged");
    expect(r.parameters[1]).toMatchObject({ name: "syst0000", kind: "free", prefitError: null, value: 0, error: 0, frozen: true });
  });
});
