/**
 * Toys as a statistical check of the fitter: the pulls (x̂ − x_gen)/σ̂ of 500 frequentist toys of a
 * small model have mean 0 ± 3/√N and width 1 ± 3/√(2N) for the POI (CG errors) and, with
 * --toys-all-params (dense covariance), for the nuisances on average.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll } from "vitest";
import { fit } from "../fitter/fit.js";
import type { FitResult } from "../fitter/results.js";
import { readToyFile } from "../fitter/toys/toyFile.js";
import { runToys, type ToysOptions } from "../fitter/toys/toys.js";
import { readTensor } from "../src/tensor/TensorReader.js";
import type { TensorModel } from "../src/tensor/types.js";

const here = dirname(fileURLToPath(import.meta.url));
const fixture = join(here, "fixtures", "ref_dense.hdf5");
const work = mkdtempSync(join(tmpdir(), "toypulls-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let model: TensorModel;
let nominal: FitResult;
beforeAll(async () => {
  model = await readTensor(fixture);
  nominal = await fit(model, { threads: 1, skipYields: true });
});

function toys(m: TensorModel, nom: FitResult, input: string, over: Partial<ToysOptions>): ToysOptions {
  return {
    input,
    model: m,
    inputSha256: "test",
    nominal: nom,
    engine: { poiMode: "linear", threads: 1 },
    expectSignal: 1,
    seed: 2026,
    syst: "frequentist",
    data: "poisson",
    from: "prefit",
    first: 0,
    end: 500,
    allParams: false,
    workers: 1,
    resume: false,
    outDir: join(work, "pulls"),
    ...over,
  };
}

describe("toy pulls", () => {
  it("POI pulls of 500 frequentist toys are N(0, 1)", async () => {
    const N = 500;
    const t0 = performance.now();
    const run = await runToys(toys(model, nominal, fixture, {}));
    console.log(`500 toys in ${((performance.now() - t0) / 1000).toFixed(1)} s`, JSON.stringify(run.summary));
    expect(run.summary.failed).toBe(0);
    const p = run.summary.parameters.sig0;
    expect(Math.abs(p.pull_mean as number)).toBeLessThan(3 / Math.sqrt(N));
    expect(Math.abs((p.pull_std as number) - 1)).toBeLessThan(3 / Math.sqrt(2 * N));
  });

  it("CG errors per toy equal the dense covariance's; nuisance pulls are N(0, 1) on average", async () => {
    const N = 100;
    const cg = await runToys(toys(model, nominal, fixture, { end: N, outDir: join(work, "cg") }));
    const dense = await runToys(toys(model, nominal, fixture, { end: N, allParams: true, outDir: join(work, "dense") }));
    const a = await readToyFile(cg.file as string);
    const b = await readToyFile(dense.file as string);
    const ns = b.identity.parameters.length;
    expect(ns).toBe(nominal.parameters.length);
    for (let t = 0; t < N; t++) {
      // stored: cg [status..hvps, μ, σμ, μgen]; dense [.., values(ns), errors(ns), gen(ns)]
      expect(Math.abs(a.records[t][7] / b.records[t][6 + ns] - 1)).toBeLessThan(1e-6);
      expect(Math.abs(a.records[t][6] - b.records[t][6])).toBeLessThan(1e-6 * a.records[t][7]);
    }
    // nuisance pulls: each toy's 20 pulls pooled (they are correlated, so a loose band)
    const pulls = Object.entries(dense.summary.parameters).filter(([name]) => name !== "sig0");
    const meanOfMeans = pulls.reduce((s, [, p]) => s + (p.pull_mean as number), 0) / pulls.length;
    const meanOfStd = pulls.reduce((s, [, p]) => s + (p.pull_std as number), 0) / pulls.length;
    expect(Math.abs(meanOfMeans)).toBeLessThan(3 / Math.sqrt(N));
    expect(Math.abs(meanOfStd - 1)).toBeLessThan(3 / Math.sqrt(2 * N));
  });

  it("with Barlow–Beeston (β0 randomised as Gamma) the POI pulls of 300 toys are N(0, 1)", async () => {
    const input = join(here, "fixtures", "ref_sparse_asym_bbb.hdf5");
    const m = await readTensor(input);
    const nom = await fit(m, { threads: 1, skipYields: true });
    expect(nom.bbb).toBe(true);
    const N = 300;
    const run = await runToys(toys(m, nom, input, { end: N, outDir: join(work, "bbb") }));
    console.log(JSON.stringify(run.summary));
    expect(run.summary.failed).toBe(0);
    const p = run.summary.parameters[m.signals[0]];
    expect(Math.abs(p.pull_mean as number)).toBeLessThan(3 / Math.sqrt(N));
    expect(Math.abs((p.pull_std as number) - 1)).toBeLessThan(3 / Math.sqrt(2 * N));
  });
});
