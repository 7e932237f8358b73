import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it, vi } from "vitest";
import { formatSummary, main, parseFitGenArgs, runFitGen } from "../src/cli/fitGen.js";
import { UserError } from "../src/errors.js";
import { generateModel } from "../src/tensor/modelGenerator.js";
import { readTensor } from "../src/tensor/TensorReader.js";
import type { TensorModel } from "../src/tensor/types.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const shared = path.resolve(here, "../../shared");
const refFit = path.join(shared, "reference/ref_fit.py");
const python = "/usr/bin/python3";

/** why the float64 reference fit cannot run here, or null when it can */
function refFitUnavailable(): string | null {
  if (!existsSync(refFit)) return `${refFit} not found`;
  if (!existsSync(python)) return `${python} not found`;
  const r = spawnSync(python, ["-c", "import h5py, scipy, numpy"], { encoding: "utf8" });
  return r.status === 0 ? null : `${python} lacks h5py/scipy/numpy`;
}
const refSkip = refFitUnavailable();
if (refSkip) console.log(`skipping the reference-fit check: ${refSkip}`);

const dir = mkdtempSync(path.join(tmpdir(), "fitgen-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const argv = (...args: string[]): string[] => ["node", "fit-gen", ...args];

function expectSameModel(read: TensorModel, made: TensorModel): void {
  expect(read.procs).toEqual(made.procs);
  expect(read.signals).toEqual(made.signals);
  expect(read.systs).toEqual(made.systs);
  expect(read.nbins).toBe(made.nbins);
  expect(read.systGroups).toEqual(made.systGroups);
  expect(read.symmetric).toBe(made.symmetric);
  expect(Array.from(read.dataObs)).toEqual(Array.from(made.dataObs));
  expect(Array.from(read.norm)).toEqual(Array.from(made.norm));
  expect(Array.from(read.sumw2 ?? [])).toEqual(Array.from(made.sumw2 ?? []));
  expect(read.logk.ncols).toBe(made.logk.ncols);
  expect(Array.from(read.logk.rowPtr)).toEqual(Array.from(made.logk.rowPtr));
  expect(Array.from(read.logk.cols)).toEqual(Array.from(made.logk.cols));
  expect(Array.from(read.logk.values)).toEqual(Array.from(made.logk.values));
}

describe("parseFitGenArgs", () => {
  it("applies the generic defaults (dense) and the given options", () => {
    const a = parseFitGenArgs(argv("-o", "x.hdf5"));
    expect(a.output).toBe("x.hdf5");
    expect(a.preset).toBeNull();
    expect(a.storage).toBe("dense");
    expect(a.compression).toBeNull();
    expect(a.generator).toMatchObject({ bins: 200, procs: 4, signals: 1, systs: 50, events: 1e4, seed: 1, local: 0.3 });
    const b = parseFitGenArgs(argv("-o", "y.hdf5", "--bins", "10", "--procs", "3", "--signals", "2", "--systs", "7",
      "--events", "1e3", "--seed", "5", "--sparse", "--asym", "--bbb", "--mcstat", "2.5", "--pairs", "--local", "0",
      "--compression", "none"));
    expect(b.storage).toBe("sparse");
    expect(b.compression).toBe("none");
    expect(b.generator).toEqual({ bins: 10, procs: 3, signals: 2, systs: 7, events: 1000, seed: 5, sparse: true,
      asym: true, bbb: true, mcstat: 2.5, pairs: true, local: 0 });
    expect(b.command).toContain("fit-gen -o y.hdf5 --bins 10");
  });

  it("wmass preset is sparse unless --dense, and takes only --seed/--events", () => {
    const a = parseFitGenArgs(argv("-o", "w.hdf5", "--preset", "wmass", "--seed", "3"));
    expect(a.preset).toBe("wmass");
    expect(a.storage).toBe("sparse");
    expect(a.wmass).toEqual({ seed: 3, events: 1e5, dense: false });
    expect(parseFitGenArgs(argv("-o", "w.hdf5", "--preset", "wmass", "--dense")).storage).toBe("dense");
    expect(() => parseFitGenArgs(argv("-o", "w.hdf5", "--preset", "wmass", "--bins", "5"))).toThrow(
      /--bins does not apply to --preset wmass/,
    );
  });

  it("rejects bad options", () => {
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      expect(() => parseFitGenArgs(argv("-o", "x", "--sparse", "--dense"))).toThrow(UserError);
      expect(() => parseFitGenArgs(argv("-o", "x", "--procs", "2", "--signals", "3"))).toThrow(UserError);
      for (const bad of [["--bins", "0"], ["--bins", "2.5"], ["--events", "abc"], ["--local", "2"],
        ["--compression", "zip"], ["--preset", "zmass"], ["--frobnicate"]]) {
        expect(() => parseFitGenArgs(argv("-o", "x", ...bad))).toThrow(expect.objectContaining({ code: expect.stringMatching(/^commander\./) }));
      }
      expect(() => parseFitGenArgs(argv("--bins", "3"))).toThrow(expect.objectContaining({ code: "commander.missingMandatoryOptionValue" }));
    } finally {
      stderr.mockRestore();
    }
  });
});

describe("fit-gen", () => {
  it("writes a dense model that reads back identical to the generated one", async () => {
    const out = path.join(dir, "dense.hdf5");
    const args = parseFitGenArgs(argv("-o", out, "--bins", "60", "--systs", "12", "--seed", "3", "--bbb"));
    const s = await runFitGen(args);
    expect(s).toMatchObject({ nbins: 60, nprocs: 4, nsysts: 12, storage: "dense", symmetric: true });
    expect(s.fileBytes).toBeGreaterThan(0);
    const made = generateModel(args.generator);
    expect(s.logkNonZeros).toBe(made.logk.values.length);
    const read = await readTensor(out);
    expect(read.storage).toBe("dense");
    expectSameModel(read, made);
    expect(formatSummary(s, null)).toMatch(/bins 60, procs 4 \(1 signal\), systs 12\n.*log κ non-zeros \d+/);
    expect(readdirSync(dir).filter((f) => f.includes(".tmp-"))).toEqual([]);
  });

  it("writes sparse asymmetric models with each compression", async () => {
    for (const compression of ["gzip", "blosc2", "none"]) {
      const out = path.join(dir, `sparse-${compression}.hdf5`);
      const args = parseFitGenArgs(argv("-o", out, "--bins", "40", "--systs", "9", "--procs", "3", "--signals", "2",
        "--sparse", "--asym", "--pairs", "--compression", compression));
      const s = await runFitGen(args);
      expect(s.symmetric).toBe(false);
      const read = await readTensor(out);
      expect(read.storage).toBe("sparse");
      expectSameModel(read, generateModel(args.generator));
    }
  });

  it.skipIf(refSkip !== null)("its files fit with the float64 reference (finite results)", async () => {
    for (const extra of [[], ["--sparse", "--asym", "--bbb"]]) {
      const out = path.join(dir, `ref${extra.length}.hdf5`);
      await runFitGen(parseFitGenArgs(argv("-o", out, "--bins", "80", "--systs", "15", "--compression", "gzip", ...extra)));
      const r = spawnSync(python, [refFit, out, ...(extra.includes("--bbb") ? ["--bbb"] : [])], { encoding: "utf8" });
      expect(r.status, r.stderr).toBe(0);
      const res = JSON.parse(r.stdout) as { names: string[]; values: number[]; errors: number[]; nll: number; ndf: number; chi2_sat: number };
      expect(res.names.length).toBe(16);
      expect(res.values.every(Number.isFinite)).toBe(true);
      expect(res.errors.every((e) => Number.isFinite(e) && e > 0)).toBe(true);
      expect(Number.isFinite(res.nll)).toBe(true);
      // Poisson data around the model's own truth: a sane saturated chi2
      expect(res.chi2_sat / res.ndf).toBeLessThan(2);
    }
  });

  it("wmass preset writes 2880 bins and 4859 systematics", async () => {
    const out = path.join(dir, "wmass.hdf5");
    const s = await runFitGen(parseFitGenArgs(argv("-o", out, "--preset", "wmass", "--compression", "none")));
    expect(s).toMatchObject({ nbins: 2880, nprocs: 10, nsysts: 4859, nnoi: 1, storage: "sparse" });
    const read = await readTensor(out);
    expect(read.systs.length).toBe(4859);
    expect(read.systs[read.noiIndices[0]]).toBe("massShiftW100MeV");
    expect(read.channels[0].axes.map((a) => a.name)).toEqual(["eta", "pt", "charge"]);
    expect(read.logk.values.length).toBe(s.logkNonZeros);
  });

  it("main prints the summary; a bad option is one line and exit code 2", async () => {
    const out = path.join(dir, "main.hdf5");
    const stdout = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const exit = vi.spyOn(process, "exit").mockImplementation(((code?: number) => {
      throw new Error(`exit ${code}`);
    }) as never);
    try {
      await main(argv("-o", out, "--bins", "20", "--systs", "4"));
      const printed = stdout.mock.calls.map((c) => String(c[0])).join("");
      expect(printed).toMatch(/wrote .*main\.hdf5/);
      expect(printed).toMatch(/file size [\d.]+ MB/);
      await expect(main(argv("-o", out, "--sparse", "--dense"))).rejects.toThrow("exit 2");
      const err = stderr.mock.calls.map((c) => String(c[0])).join("");
      expect(err).toBe("error: options --sparse and --dense exclude each other\n");
      stderr.mockClear();
      await expect(main(argv("-o", path.join(dir, "no/such/dir/x.hdf5")))).rejects.toThrow("exit 2");
      expect(stderr.mock.calls.map((c) => String(c[0])).join("")).toMatch(/^error: -o .*x\.hdf5: folder .* does not exist\n$/);
      await expect(main(argv("-o", dir))).rejects.toThrow("exit 2");
      stderr.mockClear();
      await expect(main(argv("-o", out, "--bins", "x"))).rejects.toThrow("exit 2");
      expect(stderr.mock.calls.map((c) => String(c[0])).join("").trim().split("\n").length).toBe(1);
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
      exit.mockRestore();
    }
  });
});
