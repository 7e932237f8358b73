/**
 * `fit` with the post-fit options: the results.md keys in fitresults.json (scans, scans2d,
 * contours, parameters[].minos, limits, significance), the terminal summary lines, and user errors
 * (exit 2, nothing written) for bad post-fit options.
 */
import { describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../src/cli/fit.js";
import { fixture } from "./fixtures/tensorFiles.js";
import { runCommand } from "./helpers/cli.js";

const input = fixture("ref_dense.hdf5");

describe("fit CLI post-fit options", () => {
  it("writes scans, scans2d, contours, minos, limits and significance and prints their summaries", async () => {
    const out = join(mkdtempSync(join(tmpdir(), "postfit-cli-")), "out");
    const run = await runCommand(main, "fit", [
      input, "-o", out, "--no-html", "--no-bbb",
      "--scan", "sig0", "--scan", "syst0001", "--scan-points", "5", "--scan-range", "2",
      "--scan2d", "sig0,syst0001", "--contour", "sig0,syst0001", "--contour-levels", "1", "--contour-points", "6",
      "--minos", "pois", "--limits", "--cl", "0.9", "--significance",
    ]);
    expect(run.stderr).not.toMatch(/error/i);
    expect(run.code).toBe(0);
    const j = JSON.parse(readFileSync(join(out, "fitresults.json"), "utf8"));
    expect(Object.keys(j.scans).sort()).toEqual(["sig0", "syst0001"]);
    expect(j.scans.sig0.values).toHaveLength(5);
    expect(j.scans.sig0.twice_dnll[2]).toBeCloseTo(0, 9);
    // ±2σ of a nearly Gaussian profile: 2ΔNLL ≈ 4
    expect(j.scans.sig0.twice_dnll[0]).toBeGreaterThan(3.5);
    expect(j.scans.sig0.twice_dnll[4]).toBeLessThan(4.5);
    expect(j.scans2d["sig0,syst0001"].twice_dnll).toHaveLength(5);
    expect(j.scans2d["sig0,syst0001"].twice_dnll[0]).toHaveLength(5);
    expect(j.contours["sig0,syst0001"].levels).toEqual([1]);
    expect(j.contours["sig0,syst0001"].points[0]).toHaveLength(6);
    expect(j.contours["sig0,syst0001"].points[0][0]).toHaveLength(2);
    const sig0 = j.parameters[0];
    expect(sig0.minos.lower).toBeLessThan(0);
    expect(sig0.minos.upper).toBeGreaterThan(0);
    expect(Math.abs(sig0.minos.upper / sig0.error - 1)).toBeLessThan(0.05);
    expect(j.parameters[1].minos).toBeUndefined();
    expect(j.limits.sig0.cl).toBe(0.9);
    expect(Object.keys(j.limits.sig0.expected).sort()).toEqual(["-1", "-2", "0", "1", "2"]);
    expect(j.limits.sig0.expected["-2"]).toBeLessThan(j.limits.sig0.expected["2"]);
    expect(j.limits.sig0.observed).toBeGreaterThan(sig0.value);
    expect(j.significance.sig0.observed).toBeGreaterThan(0);
    expect(j.significance.sig0.expected).toBeGreaterThan(0);
    expect(typeof j.timing.postfit_s).toBe("number");
    expect(run.stdout).toMatch(/^scan +sig0: 5 points/m);
    expect(run.stdout).toMatch(/^minos +sig0 = /m);
    expect(run.stdout).toMatch(/^limit +sig0 < [0-9.]+ at 90% CL \(CLs\)/m);
    expect(run.stdout).toMatch(/^signif\. +sig0: observed/m);
    expect(run.stdout).toMatch(/^contour +sig0,syst0001: levels 1 σ, 6 points each/m);
  });

  it.each([
    [["--scan", "nosuch"], /--scan: no parameter named "nosuch"/],
    [["--scan2d", "sig0"], /--scan2d sig0: expected two parameter names A,B/],
    [["--contour-levels", "1,x", "--contour", "sig0,syst0000"], /--contour-levels: must be positive numbers/],
    [["--scan-points", "0", "--scan", "sig0"], /--scan-points: must be a positive integer/],
    [["--cl", "95", "--limits"], /--cl: must be between 0 and 1/],
    [["--minos", "sig0,bogus"], /--minos: no parameter named "bogus"/],
  ])("%j is a user error (exit 2, nothing written)", async (args, message) => {
    const out = join(mkdtempSync(join(tmpdir(), "postfit-cli-")), "out");
    const run = await runCommand(main, "fit", [input, "-o", out, "--no-html", ...(args as string[])]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message as RegExp);
    expect(existsSync(join(out, "fitresults.json"))).toBe(false);
  });
});
