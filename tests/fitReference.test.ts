/**
 * The fit against the float64 reference (../shared/reference/ref_fit.py; fixtures and commands in
 * tests/fixtures/README-ref.md): every value within 1e-5 × its error, every error within 1e-5
 * relative, NLL within 1e-6 absolute, on every backend we ship.
 */
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { readTensor } from "../src/tensor/TensorReader.js";
import { fit, type FitBackend } from "../fitter/fit.js";
import type { PoiMode } from "../fitter/likelihoodSpec.js";
import type { FitResult } from "../fitter/results.js";

const fixtures = join(dirname(fileURLToPath(import.meta.url)), "fixtures");

interface Expected {
  bbb: boolean;
  poi_mode: PoiMode;
  names: string[];
  values: number[];
  errors: number[];
  nll: number;
  ndf: number;
}

function expected(name: string): Expected {
  return JSON.parse(readFileSync(join(fixtures, name), "utf8")) as Expected;
}

/** Largest deviations from the reference, in the units of the bars. */
function compareToReference(result: FitResult, ref: Expected): { value: number; error: number; nll: number } {
  expect(result.parameters.map((p) => p.name)).toEqual(ref.names);
  let value = 0;
  let error = 0;
  result.parameters.forEach((p, i) => {
    value = Math.max(value, Math.abs(p.value - ref.values[i]) / ref.errors[i]);
    error = Math.max(error, Math.abs(p.error / ref.errors[i] - 1));
  });
  return { value, error, nll: Math.abs(result.nll - ref.nll) };
}

const cases = [
  { label: "dense symmetric", file: "ref_dense.hdf5", ref: "ref_dense.expected.json" },
  { label: "sparse asymmetric with MC statistics", file: "ref_sparse_asym_bbb.hdf5", ref: "ref_sparse_asym_bbb.expected.json" },
  { label: "two signals in square mode", file: "ref_square2.hdf5", ref: "ref_square2.expected.json" },
  { label: "high statistics with near-degenerate pairs", file: "ref_highstat_pairs.hdf5", ref: "ref_highstat_pairs.expected.json" },
];
const backends: FitBackend[] = ["native", "cpu", "wasm"];

describe.each(cases)("fit vs ref_fit.py: $label", ({ file, ref }) => {
  const want = expected(ref);
  it.each(backends)("backend %s", async (backend) => {
    const model = await readTensor(join(fixtures, file));
    const result = await fit(model, { backend, poiMode: want.poi_mode, bbb: want.bbb, threads: 2 });
    expect(result.status, result.message).toBe("converged");
    expect(result.bbb).toBe(want.bbb);
    expect(result.ndf).toBe(want.ndf);
    expect(result.chi2).toBeCloseTo(2 * result.nll, 12);
    const dev = compareToReference(result, want);
    expect(dev.value).toBeLessThan(1e-5);
    expect(dev.error).toBeLessThan(1e-5);
    expect(dev.nll).toBeLessThan(1e-6);
    expect(result.edm).toBeLessThan(1e-10);
    expect(result.engine).toEqual({ backend, precision: "float64", device: "cpu", float64_engine: "native", float64_device: expect.stringMatching(/^cpu \(\d+ threads\)$/) });
  });
});

describe("fit --asimov", () => {
  it("recovers μ = 1, θ = 0 with nll ≈ 0 and the reference's Asimov errors", async () => {
    const want = expected("ref_dense.asimov.expected.json");
    const model = await readTensor(join(fixtures, "ref_dense.hdf5"));
    const result = await fit(model, { asimov: true });
    expect(result.status).toBe("converged");
    expect(result.dataSource).toBe("asimov");
    expect(result.nll).toBeLessThan(1e-9);
    expect(Math.abs(result.parameters[0].value - 1)).toBeLessThan(1e-6 * result.parameters[0].error);
    for (const p of result.parameters.slice(1)) expect(Math.abs(p.value)).toBeLessThan(1e-6 * p.error);
    const dev = compareToReference(result, want);
    expect(dev.error).toBeLessThan(1e-5);
  });

  it("uses --expect-signal for the Asimov data (square mode reports μ, not x)", async () => {
    const model = await readTensor(join(fixtures, "ref_square2.hdf5"));
    const result = await fit(model, { asimov: true, expectSignal: 2, poiMode: "square" });
    expect(result.status).toBe("converged");
    for (const p of result.parameters.filter((q) => q.kind === "poi")) {
      expect(p.prefit).toBe(2);
      expect(Math.abs(p.value - 2)).toBeLessThan(1e-6 * p.error);
    }
    expect(result.nll).toBeLessThan(1e-9);
  });
});

describe("fit --pseudodata", () => {
  it("fits the named column of hpseudodata", async () => {
    const model = await readTensor(join(fixtures, "ref_pseudo.hdf5"));
    const result = await fit(model, { pseudodata: "obs_copy" });
    expect(result.dataSource).toBe("pseudodata:obs_copy");
    const dev = compareToReference(result, expected("ref_dense.expected.json"));
    expect(dev.value).toBeLessThan(1e-5);
    expect(dev.error).toBeLessThan(1e-5);
    expect(dev.nll).toBeLessThan(1e-6);
    const scaled = await fit(model, { pseudodata: "scaled" });
    expect(Array.from(scaled.data)).toEqual(Array.from(model.pseudodata!.values.filter((_, i) => i % 2 === 0)));
    await expect(fit(model, { pseudodata: "nope" })).rejects.toThrow(/--pseudodata nope.*scaled, obs_copy/);
  });
});

describe("fit --freeze", () => {
  it("holds frozen parameters at prefit with zero error and minimises the rest", async () => {
    const model = await readTensor(join(fixtures, "ref_dense.hdf5"));
    const free = await fit(model, {});
    const frozen = await fit(model, { freeze: "syst000[0-4]" });
    expect(frozen.status).toBe("converged");
    const names = frozen.parameters.filter((p) => p.frozen).map((p) => p.name);
    expect(names).toEqual(["syst0000", "syst0001", "syst0002", "syst0003", "syst0004"]);
    for (const p of frozen.parameters.filter((q) => q.frozen)) {
      expect(p.value).toBe(0);
      expect(p.error).toBe(0);
    }
    // constrained nuisances never reduce rabbit's ndf, frozen or not
    expect(frozen.ndf).toBe(free.ndf);
    expect(free.ndf).toBe(model.nbins - 1);
    // a constrained minimum: higher NLL, and the free parameters' gradient vanishes there
    expect(frozen.nll).toBeGreaterThan(free.nll);
    frozen.parameters.forEach((p, i) => {
      if (!p.frozen) expect(Math.abs(frozen.gradient[i])).toBeLessThan(1e-6);
    });
    // freezing everything but the POI: still nbins − 1
    const poiOnly = await fit(model, { freeze: "syst.*" });
    expect(poiOnly.ndf).toBe(model.nbins - 1);
  });
});
