/**
 * Toys (fitter/toys): reproducible from the seed, the same with 1 and 2 workers, resume after an
 * interruption == one uninterrupted run, two --toy-range files merged == one run (bitwise per toy),
 * and the pulls of the POI over 500 frequentist toys are N(0, 1) within their statistical bands.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { fit } from "../fitter/fit.js";
import type { FitResult } from "../fitter/results.js";
import { TOYS_CHECKPOINT, mergeToyTables, readToyFile, type ToyTable } from "../fitter/toys/toyFile.js";
import { runToys, summarizeToys, type ToysOptions } from "../fitter/toys/toys.js";
import { readTensor } from "../src/tensor/TensorReader.js";
import type { TensorModel } from "../src/tensor/types.js";
import { toyWorkerScript } from "./helpers/toyWorker.js";

const here = dirname(fileURLToPath(import.meta.url));
const fixture = join(here, "fixtures", "ref_dense.hdf5");
const work = mkdtempSync(join(tmpdir(), "toys-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let model: TensorModel;
let nominal: FitResult;
beforeAll(async () => {
  model = await readTensor(fixture);
  nominal = await fit(model, { threads: 1, skipYields: true });
});

function options(over: Partial<ToysOptions> & { outDir: string }): ToysOptions {
  return {
    input: fixture,
    model,
    inputSha256: "test",
    nominal,
    engine: { poiMode: "linear", threads: 1 },
    expectSignal: 1,
    seed: 7,
    syst: "frequentist",
    data: "poisson",
    from: "prefit",
    first: 0,
    end: 12,
    allParams: false,
    workers: 1,
    resume: false,
    ...over,
  };
}

function expectSameToys(a: ToyTable, b: ToyTable): void {
  expect(Array.from(a.index)).toEqual(Array.from(b.index));
  expect(a.records.length).toBe(b.records.length);
  a.records.forEach((r, t) => expect(Buffer.from(r.buffer).equals(Buffer.from(b.records[t].buffer))).toBe(true));
}

describe("toys", () => {
  it("reproduce from the seed; another seed gives other toys", async () => {
    const a = await runToys(options({ outDir: join(work, "seed-a") }));
    const b = await runToys(options({ outDir: join(work, "seed-b") }));
    const c = await runToys(options({ outDir: join(work, "seed-c"), seed: 8 }));
    expect(a.complete).toBe(true);
    const ta = await readToyFile(a.file as string);
    const tb = await readToyFile(b.file as string);
    const tc = await readToyFile(c.file as string);
    expectSameToys(ta, tb);
    expect(ta.records[0][1]).not.toBe(tc.records[0][1]);
    expect(a.summary.n).toBe(12);
    expect(a.summary.failed).toBe(0);
    // each toy fitted: the POI value moves from toy to toy, its error is close to the fit's
    const mu = ta.records.map((r) => r[6]);
    expect(new Set(mu).size).toBe(12);
    const err = ta.records.map((r) => r[7]);
    for (const e of err) expect(Math.abs(e / nominal.parameters[0].error - 1)).toBeLessThan(0.3);
  });

  it("give the same toys with 1 and 2 workers", async () => {
    const one = await runToys(options({ outDir: join(work, "w1") }));
    const two = await runToys(options({ outDir: join(work, "w2"), workers: 2, workerScript: await toyWorkerScript() }));
    expectSameToys(await readToyFile(one.file as string), await readToyFile(two.file as string));
  });

  it("resume after an interruption gives the uninterrupted run's toys.hdf5", async () => {
    const full = await runToys(options({ outDir: join(work, "full") }));
    const dir = join(work, "interrupted");
    const abort = new AbortController();
    const part = await runToys(
      options({ outDir: dir, checkpointEvery: 2, signal: abort.signal, onProgress: (done) => done >= 5 && abort.abort() }),
    );
    expect(part.complete).toBe(false);
    expect(part.file).toBeNull();
    expect(existsSync(join(dir, TOYS_CHECKPOINT))).toBe(true);
    expect(existsSync(join(dir, "toys.hdf5"))).toBe(false);
    // without --resume the checkpoint is not silently overwritten
    await expect(runToys(options({ outDir: dir }))).rejects.toThrow(/--resume/);
    // other options than the checkpoint's: an error, not a mixed set
    await expect(runToys(options({ outDir: dir, resume: true, seed: 99 }))).rejects.toThrow(/seed differs/);
    let fitted = 0;
    const resumed = await runToys(options({ outDir: dir, resume: true, onProgress: (done) => (fitted = done) }));
    expect(resumed.complete).toBe(true);
    expect(fitted).toBe(12 - 5);
    expect(existsSync(join(dir, TOYS_CHECKPOINT))).toBe(false);
    expectSameToys(await readToyFile(full.file as string), await readToyFile(resumed.file as string));
  });

  it("two --toy-range files merged equal one run over both ranges", async () => {
    const full = await readToyFile((await runToys(options({ outDir: join(work, "m-full") }))).file as string);
    const r1 = await runToys(options({ outDir: join(work, "m-1"), first: 0, end: 5 }));
    const r2 = await runToys(options({ outDir: join(work, "m-2"), first: 5, end: 12 }));
    const t1 = await readToyFile(r1.file as string);
    const t2 = await readToyFile(r2.file as string);
    // in either order
    const merged = mergeToyTables([
      { table: t2, name: "b" },
      { table: t1, name: "a" },
    ]);
    expectSameToys(full, merged);
    expect(summarizeToys(merged, "toys.hdf5")).toEqual(summarizeToys(full, "toys.hdf5"));
    expect(() => mergeToyTables([{ table: t1, name: "a" }, { table: t1, name: "a2" }])).toThrow(/overlapping/);
    const other = await readToyFile((await runToys(options({ outDir: join(work, "m-3"), first: 5, end: 7, seed: 3 }))).file as string);
    expect(() => mergeToyTables([{ table: t1, name: "a" }, { table: other, name: "c" }])).toThrow(/seed differs/);
  });
});
