/**
 * Refit impacts (fitter/refitImpacts.ts): against an independent brute-force refit with
 * ref_fit.py's likelihood (tests/fixtures/refit_impacts_ref.py, scipy trust-exact + Newton) on
 * ref_dense and on a sparse asymmetric model with Barlow–Beeston; against the Hessian impacts
 * C_ij/√C_jj on a high-statistics (nearly quadratic) model (tests/fixtures/highstat_quadratic.hdf5:
 * `fit-gen --bins 40 --procs 3 --systs 12 --events 1e8 --seed 5`); the same with 1 and 2 workers; the
 * fitresults.json keys.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { fit } from "../fitter/fit.js";
import { refitImpactsJson, runRefitImpacts, selectImpactNuisances, type RefitImpactTable } from "../fitter/refitImpacts.js";
import { readTensor } from "../src/tensor/TensorReader.js";
import { toyWorkerScript } from "./helpers/toyWorker.js";

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, "fixtures");

interface Expected {
  values: number[];
  errors: number[];
  refit_impacts: Record<string, Record<string, { down: number; up: number }>>;
}

async function impactsOf(file: string, opts: { workers?: number; selector?: string; bbb?: boolean } = {}): Promise<{ table: RefitImpactTable; sigmaPoi: number }> {
  const input = join(fixtures, file);
  const model = await readTensor(input);
  const nominal = await fit(model, { threads: 1, skipYields: true, bbb: opts.bbb });
  expect(nominal.status).toBe("converged");
  const workers = opts.workers ?? 1;
  const table = await runRefitImpacts({
    input,
    model,
    nominal,
    engine: { poiMode: "linear", threads: 1, bbb: opts.bbb },
    selector: opts.selector,
    workers,
    workerScript: workers > 1 ? await toyWorkerScript() : undefined,
  });
  return { table, sigmaPoi: nominal.parameters[0].error };
}

function compareWithReference(table: RefitImpactTable, expected: Expected): number {
  const json = refitImpactsJson(table);
  let worst = 0;
  for (const [poi, row] of Object.entries(expected.refit_impacts)) {
    for (const [name, ref] of Object.entries(row)) {
      const got = json[poi][name];
      worst = Math.max(worst, Math.abs((got.down as number) - ref.down), Math.abs((got.up as number) - ref.up));
    }
  }
  return worst;
}

describe("refit impacts", () => {
  it("agree with a brute-force scipy refit on ref_dense to 1e-6", async () => {
    const expected = JSON.parse(readFileSync(join(fixtures, "ref_dense.refit_impacts.expected.json"), "utf8")) as Expected;
    const { table, sigmaPoi } = await impactsOf("ref_dense.hdf5");
    expect(table.failed).toEqual([]);
    expect(table.nuisances.length).toBe(Object.keys(expected.refit_impacts.sig0).length);
    const worst = compareWithReference(table, expected);
    console.log(`ref_dense: worst |Δ shift| vs scipy ${worst.toExponential(2)} (σ_POI ${sigmaPoi.toExponential(3)})`);
    expect(worst).toBeLessThan(1e-6);
    // the shifts are not trivially small: the largest is a sizeable part of the POI error
    const largest = Math.max(...Array.from(table.up, Math.abs));
    expect(largest).toBeGreaterThan(0.1 * sigmaPoi);
  });

  it("agree with a brute-force scipy refit on a sparse asymmetric model with Barlow–Beeston, 1 and 2 workers alike", async () => {
    const expected = JSON.parse(readFileSync(join(fixtures, "ref_sparse_asym_bbb.refit_impacts.expected.json"), "utf8")) as Expected;
    const one = await impactsOf("ref_sparse_asym_bbb.hdf5");
    const worst = compareWithReference(one.table, expected);
    console.log(`sparse asym bbb: worst |Δ shift| vs scipy ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-6);
    const two = await impactsOf("ref_sparse_asym_bbb.hdf5", { workers: 2 });
    expect(Array.from(two.table.up)).toEqual(Array.from(one.table.up));
    expect(Array.from(two.table.down)).toEqual(Array.from(one.table.down));
  });

  it("equal the Hessian impacts ∓C_ij/√C_jj where the likelihood is nearly quadratic (1e8 events per bin)", async () => {
    const { table, sigmaPoi } = await impactsOf("highstat_quadratic.hdf5");
    expect(table.failed).toEqual([]);
    let worst = 0;
    let largest = 0;
    for (let k = 0; k < table.hessian.length; k++) {
      worst = Math.max(worst, Math.abs(table.up[k] - table.hessian[k]), Math.abs(table.down[k] + table.hessian[k]));
      largest = Math.max(largest, Math.abs(table.hessian[k]));
    }
    console.log(`highstat_quadratic: worst |refit − Hessian| ${worst.toExponential(2)}, largest impact ${largest.toExponential(2)}, σ_POI ${sigmaPoi.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-3 * sigmaPoi);
    expect(largest).toBeGreaterThan(0.3 * sigmaPoi);
  });

  it("converge for near-degenerate pairs (1e7 events), within 1% of the Hessian impacts (log-normal non-linearity)", async () => {
    const { table } = await impactsOf("ref_highstat_pairs.hdf5");
    expect(table.failed).toEqual([]);
    for (let k = 0; k < table.hessian.length; k++) {
      expect(Math.abs(table.up[k] - table.hessian[k])).toBeLessThan(0.01 * Math.abs(table.hessian[k]) + 1e-7);
      expect(Math.abs(table.down[k] + table.hessian[k])).toBeLessThan(0.01 * Math.abs(table.hessian[k]) + 1e-7);
    }
  });

  it("select nuisances by a regular expression (whole name)", async () => {
    const { table } = await impactsOf("ref_dense.hdf5", { selector: "syst000[0-2]" });
    expect(table.nuisances).toEqual(["syst0000", "syst0001", "syst0002"]);
    const model = await readTensor(join(fixtures, "ref_dense.hdf5"));
    const nominal = await fit(model, { threads: 1, skipYields: true });
    expect(() => selectImpactNuisances(nominal, "nothing.*")).toThrow(/matches no nuisance/);
    expect(() => selectImpactNuisances(nominal, "(")).toThrow(/not a regular expression/);
    expect(() => selectImpactNuisances(nominal, "sig0")).toThrow(/matches no nuisance/); // a POI is no nuisance
  });
});
