/**
 * `fit --toys/--refit-impacts` and `fit-toys-merge` from the command line: the fitresults.json keys
 * (results.md "toys", "refit_impacts"), toys.hdf5, two --toy-range runs merged == one run, the
 * Condor/Slurm submit files, and user errors (one line, exit 2, nothing written).
 */
import { afterAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { main } from "../src/cli/fit.js";
import { main as mergeMain } from "../src/cli/fitToysMerge.js";
import { readToyFile } from "../fitter/toys/toyFile.js";
import { runCommand } from "./helpers/cli.js";

const here = dirname(fileURLToPath(import.meta.url));
const fixture = join(here, "fixtures", "ref_dense.hdf5");
const work = mkdtempSync(join(tmpdir(), "toyscli-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const fitCli = (args: string[]) => runCommand(main, "fit", [fixture, "--no-html", "--threads", "1", ...args]);

describe("fit --toys / --refit-impacts", () => {
  it("write toys.hdf5 and the toys / refit_impacts keys", async () => {
    const out = join(work, "one");
    const r = await fitCli(["-o", out, "--toys", "20", "--seed", "3", "--workers", "1", "--refit-impacts", "syst000[0-1]"]);
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    const json = JSON.parse(readFileSync(join(out, "fitresults.json"), "utf8"));
    expect(json.toys).toMatchObject({ n: 20, seed: 3, failed: 0, file: "toys.hdf5", syst: "frequentist", data: "poisson", from: "prefit", range: [0, 20] });
    expect(json.toys.gof.pvalue).toBeGreaterThanOrEqual(0);
    expect(json.toys.gof.pvalue).toBeLessThanOrEqual(1);
    expect(Object.keys(json.toys.parameters)).toEqual(["sig0"]);
    for (const k of ["mean", "std", "pull_mean", "pull_std"]) expect(typeof json.toys.parameters.sig0[k]).toBe("number");
    expect(Object.keys(json.refit_impacts.sig0)).toEqual(["syst0000", "syst0001"]);
    const imp = json.refit_impacts.sig0.syst0000;
    expect(Math.sign(imp.up)).toBe(-Math.sign(imp.down));
    expect(Math.abs(imp.up / json.refit_impacts_hessian.sig0.syst0000 - 1)).toBeLessThan(0.2);
    expect(existsSync(join(out, "toys.hdf5"))).toBe(true);
    expect(readdirSync(out).filter((f) => f.includes("checkpoint") || f.includes(".tmp"))).toEqual([]);
    expect(r.stderr).toMatch(/toys 20\/20 \(0 failed\)/);
  });

  it("two --toy-range runs merged by fit-toys-merge equal one run", async () => {
    const a = join(work, "ra");
    const b = join(work, "rb");
    const full = join(work, "full");
    expect((await fitCli(["-o", full, "--toys", "12", "--seed", "5", "--workers", "1"])).code).toBe(0);
    expect((await fitCli(["-o", a, "--toys", "12", "--seed", "5", "--toy-range", "0:5", "--workers", "1"])).code).toBe(0);
    expect((await fitCli(["-o", b, "--toys", "12", "--seed", "5", "--toy-range", "5:12", "--workers", "1"])).code).toBe(0);
    const merged = join(work, "merged");
    const m = await runCommand(mergeMain, "fit-toys-merge", ["-o", merged, join(b, "toys.hdf5"), a]);
    expect(m.code).toBe(0);
    const one = await readToyFile(join(full, "toys.hdf5"));
    const two = await readToyFile(join(merged, "toys.hdf5"));
    expect(Array.from(two.index)).toEqual(Array.from(one.index));
    one.records.forEach((rec, t) => expect(Buffer.from(rec.buffer).equals(Buffer.from(two.records[t].buffer))).toBe(true));
    const summary = JSON.parse(readFileSync(join(merged, "toys.json"), "utf8")).toys;
    expect(summary).toEqual(JSON.parse(readFileSync(join(full, "fitresults.json"), "utf8")).toys);
    // overlapping ranges and writing over an input are refused
    const again = await runCommand(mergeMain, "fit-toys-merge", ["-o", join(work, "m2"), a, a]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/overlapping/);
    const over = await runCommand(mergeMain, "fit-toys-merge", ["-o", a, a, b]);
    expect(over.code).toBe(2);
    expect(over.stderr).toMatch(/inputs are never overwritten/);
    // output checks before any reading: under a file, on /proc; --version
    const underFile = await runCommand(mergeMain, "fit-toys-merge", ["-o", join(a, "toys.hdf5", "x"), a, b]);
    expect(underFile.code).toBe(2);
    expect(underFile.stderr.trim().split("\n")).toHaveLength(1);
    const proc = await runCommand(mergeMain, "fit-toys-merge", ["-o", "/proc/hepfit-toys", a, b]);
    expect(proc.code).toBe(2);
    expect(proc.stderr).toMatch(/virtual file system/);
    const v = await runCommand(mergeMain, "fit-toys-merge", ["--version"]);
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("--submit writes Condor and Slurm array jobs over --toy-range slices", async () => {
    const c = join(work, "condor");
    const r = await fitCli(["-o", c, "--toys", "250", "--seed", "9", "--submit", "condor", "--toys-per-job", "100"]);
    expect(r.code).toBe(0);
    const sub = readFileSync(join(c, "toys.sub"), "utf8");
    expect(sub).toMatch(/queue 3\n/);
    const sh = readFileSync(join(c, "toys_job.sh"), "utf8");
    const exec = sh.split("\n").find((l) => l.startsWith("exec")) as string;
    expect(exec).toMatch(/--toys 250 --seed 9/);
    expect(exec).toMatch(/--toy-range "\$a:\$b"/);
    expect(exec).not.toMatch(/--submit|--toys-per-job|-o \S+ -o/);
    expect(exec).toContain(fixture);
    expect(existsSync(join(c, "fitresults.json"))).toBe(false);
    const s = join(work, "slurm");
    expect((await fitCli(["-o", s, "--toys", "250", "--submit", "slurm"])).code).toBe(0);
    expect(readFileSync(join(s, "toys.slurm"), "utf8")).toMatch(/#SBATCH --array=0-2\n/);
  });

  it.each([
    [["--toys", "0"], /--toys: must be an integer >= 1/],
    [["--toys", "5", "--toys-syst", "bayes"], /--toys-syst: must be one of frequentist, bayesian, none/],
    [["--seed", "4"], /--seed: needs --toys N/],
    [["--toys", "10", "--toy-range", "5:3"], /--toy-range 5:3: need 0 <= A < B <= --toys/],
    [["--toys", "10", "--toy-range", "5:30"], /--toy-range 5:30/],
    [["--refit-impacts", "("], /--refit-impacts \(: not a regular expression/],
    [["--workers", "2"], /--workers: needs --toys or --refit-impacts/],
    [["--toys", "3", "--toys-from", "here"], /--toys-from: must be one of prefit, postfit/],
  ])("%j is a user error", async (args, message) => {
    const out = join(work, `bad-${args.join("_").replace(/[^\w]/g, "")}`);
    const r = await fitCli(["-o", out, ...(args as string[])]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(message as RegExp);
    expect(existsSync(out)).toBe(false);
  });
});
