/**
 * The `fit` command: outputs and their keys, exit codes, user errors (one line, exit 2, nothing
 * written). Runs main() in-process with process.exit intercepted, plus one spawn of bin/fit.js
 * when the compiled dist/ is present.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import h5wasm from "h5wasm/node";
import { main } from "../src/cli/fit.js";
import { readTensor } from "../src/tensor/TensorReader.js";
import { runCommand } from "./helpers/cli.js";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "..");
const fixture = join(here, "fixtures", "ref_dense.hdf5");
const work = mkdtempSync(join(tmpdir(), "fitcli-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let savedExitCode: typeof process.exitCode;
beforeEach(() => {
  savedExitCode = process.exitCode;
  process.exitCode = undefined;
});
afterEach(() => {
  process.exitCode = savedExitCode;
  vi.restoreAllMocks();
});

const runMain = (args: string[]): Promise<Run> => runCommand(main, "fit", args);


describe("fit CLI", () => {
  it("writes fitresults.json (results.md keys) and fitresults.hdf5, exit 0", async () => {
    const out = join(work, "ok");
    const r = await runMain([fixture, "-o", out]);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(["fitresults.hdf5", "fitresults.json", "report.html", "report.log"]);
    const j = JSON.parse(readFileSync(join(out, "fitresults.json"), "utf8"));
    for (const k of ["status", "message", "nll", "chi2", "ndf", "pvalue", "edm", "iterations", "parameters", "engine", "timing", "meta"]) {
      expect(j).toHaveProperty(k);
    }
    expect(j.status).toBe("converged");
    expect(j.parameters[0]).toMatchObject({ name: "sig0", kind: "poi", prefit: 1, prefitError: null });
    expect(j.parameters[1]).toMatchObject({ name: "syst0000", kind: "nuisance", prefit: 0, prefitError: 1 });
    expect(j.engine).toEqual({ backend: "native", precision: "float64", device: "cpu", float64_engine: "native", float64_device: expect.stringMatching(/^cpu \(\d+ threads\)$/) });
    for (const k of ["load_s", "minimize_s", "covariance_s", "total_s"]) expect(j.timing[k]).toBeGreaterThanOrEqual(0);
    expect(j.meta.command).toBe(`fit ${fixture} -o ${out}`);
    expect(j.meta.input_sha256).toBe(createHash("sha256").update(readFileSync(fixture)).digest("hex"));
    expect(j.meta.version).toBe(JSON.parse(readFileSync(join(repo, "package.json"), "utf8")).version);
    expect(j.pvalue).toBeGreaterThan(0);
    // the HDF5 results agree with the JSON and with themselves
    await h5wasm.ready;
    const f = new h5wasm.File(join(out, "fitresults.hdf5"), "r");
    try {
      const get = (p: string) => (f.get(p) as InstanceType<typeof h5wasm.Dataset>).value as Float64Array;
      const n = j.parameters.length;
      const cov = get("covariance");
      const errors = get("parameters/errors");
      for (let i = 0; i < n; i++) {
        expect(errors[i]).toBe(j.parameters[i].error);
        expect(Math.sqrt(cov[i * n + i])).toBeCloseTo(errors[i], 12);
      }
      const yields = get("channels/ch0/postfit/yields");
      const total = get("channels/ch0/postfit/total");
      const nproc = yields.length / total.length;
      expect(nproc).toBe(3);
      for (let b = 0; b < total.length; b++) {
        let s = 0;
        for (let p = 0; p < nproc; p++) s += yields[b * nproc + p];
        expect(s).toBeCloseTo(total[b], 8);
      }
      expect(Math.min(...get("channels/ch0/postfit/total_err"))).toBeGreaterThan(0);
      expect(Math.min(...get("channels/ch0/prefit/total_err"))).toBeGreaterThan(0);
      const data = get("data_obs");
      const model = await readTensor(fixture);
      expect(Array.from(data)).toEqual(Array.from(model.dataObs));
    } finally {
      f.close();
    }
    expect(r.stdout).toMatch(/POI\s+sig0/);
    expect(r.stdout).toMatch(/chi2\/ndf/);
  });

  it("defaults the output folder to outputs/<input name>/ under the working directory", async () => {
    const cwd = process.cwd();
    const dir = join(work, "cwd");
    (await import("node:fs")).mkdirSync(dir);
    process.chdir(dir);
    try {
      const r = await runMain([fixture, "--no-html"]);
      expect(r.code, r.stderr).toBe(0);
      expect(existsSync(join(dir, "outputs", "ref_dense", "fitresults.json"))).toBe(true);
    } finally {
      process.chdir(cwd);
    }
  });

  const userErrors: [string, string[], RegExp][] = [
    ["missing input", [join(work, "nope.hdf5")], /nope\.hdf5: no such file/],
    ["bad --max-iter", [fixture, "--max-iter", "0"], /--max-iter/],
    ["bad --threads", [fixture, "--threads", "two"], /--threads/],
    ["bad --poi-mode", [fixture, "--poi-mode", "cubic"], /--poi-mode/],
    ["bad --backend", [fixture, "--backend", "cuda"], /--backend/],
    ["bad --expect-signal", [fixture, "--expect-signal", "x"], /--expect-signal/],
    ["unknown pseudodata", [fixture, "--pseudodata", "toy7"], /--pseudodata toy7/],
    ["unknown frozen name", [fixture, "--freeze", "lumi_2016"], /--freeze lumi_2016/],
    ["asimov with pseudodata", [fixture, "--asimov", "--pseudodata", "a"], /--asimov/],
    ["unknown option", [fixture, "--bogus"], /bogus/],
  ];
  it.each(userErrors)("%s: one line on stderr, exit 2, nothing written", async (_label, args, pattern) => {
    const out = join(work, `err-${_label.replace(/\W+/g, "_")}`);
    const r = await runMain([...args, "-o", out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(pattern);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(existsSync(out)).toBe(false);
  });

  it("exits 1 and still writes results when the fit fails", async () => {
    const out = join(work, "failed");
    // syst0000 there is a free parameter with no effect: singular Hessian
    const r = await runMain([join(here, "fixtures", "ref_singular.hdf5"), "-o", out, "--correlation"]);
    expect(r.code).toBe(1);
    const j = JSON.parse(readFileSync(join(out, "fitresults.json"), "utf8"));
    expect(j.status).toBe("failed");
    expect(j.message).not.toBe("");
    // valid and complete JSON: every parameter listed, no error without a covariance
    expect(j.parameters).toHaveLength(21);
    for (const p of j.parameters) expect(p.error).toBeNull();
    expect(j.edm).toBeNull();
    expect(existsSync(join(out, "fitresults.hdf5"))).toBe(true);
    await h5wasm.ready;
    const f = new h5wasm.File(join(out, "fitresults.hdf5"), "r");
    try {
      // no covariance, so no correlations either (not an identity matrix)
      const corr = (f.get("correlation") as InstanceType<typeof h5wasm.Dataset>).value as Float64Array;
      expect(Array.from(corr).every((v) => Number.isNaN(v))).toBe(true);
    } finally {
      f.close();
    }
  });

  it("--freeze and --no-bbb reach the fit", async () => {
    const out = join(work, "freeze");
    const bbbFixture = join(here, "fixtures", "ref_sparse_asym_bbb.hdf5");
    const r = await runMain([bbbFixture, "-o", out, "--freeze", "syst0003,syst0007", "--no-bbb"]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(readFileSync(join(out, "fitresults.json"), "utf8"));
    expect(j.bbb).toBe(false);
    const frozen = j.parameters.filter((p: { frozen?: boolean }) => p.frozen).map((p: { name: string }) => p.name);
    expect(frozen).toEqual(["syst0003", "syst0007"]);
  });

  const launcher = join(repo, "bin", "fit.js");
  const built = existsSync(join(repo, "dist", "src", "cli", "fit.js"));
  it.skipIf(!built)("bin/fit.js runs the compiled command (exit 2 on a missing file, 0 on a fit)", () => {
    const bad = spawnSync(process.execPath, [launcher, join(work, "missing.hdf5")], { encoding: "utf8" });
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    const out = join(work, "spawned");
    const ok = spawnSync(process.execPath, [launcher, fixture, "-o", out], { encoding: "utf8" });
    expect(ok.status, ok.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(out, "fitresults.json"), "utf8")).status).toBe("converged");
  });
  if (!built) console.log("skipping the bin/fit.js spawn test: run `npx tsc` first (dist/src/cli/fit.js missing)");
  it("--gpu runs on a real GPU or refuses in one line: a software WebGPU adapter does not count", async () => {
    const out = join(work, "gpu");
    const r = await runMain([fixture, "-o", out, "--gpu"]);
    if (r.code === 0) {
      const j = JSON.parse(readFileSync(join(out, "fitresults.json"), "utf8"));
      expect(j.engine.device).toBe("gpu");
    } else {
      expect(r.code).toBe(2);
      const errLines = r.stderr.split("\n").filter((l) => l.startsWith("error:"));
      expect(errLines).toHaveLength(1);
      expect(errLines[0]).toContain("--gpu: no GPU backend available");
      expect(existsSync(out)).toBe(false);
    }
  });

});
