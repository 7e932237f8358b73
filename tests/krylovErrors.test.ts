/**
 * The no-dense-matrix error mode (fitter/krylovErrors/, fit --no-hessian) against the dense path on
 * generated models where the dense path fits: POI/NOI errors, their covariance, impacts (traditional,
 * grouped, stat, global) and yield uncertainties to 1e-6 relative (issue 12's acceptance number);
 * the Hutchinson diagonal within its stated standard errors; the yield Jacobian against the native
 * evaluator's dense yieldVariances; the memory plan and the automatic switch; CLI outputs and
 * user errors.
 */
import { afterAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import h5wasm from "h5wasm/node";
import { generateModel } from "../src/tensor/modelGenerator.js";
import { writeTensor } from "../src/tensor/TensorWriter.js";
import type { TensorModel } from "../src/tensor/types.js";
import { main } from "../src/cli/fit.js";
import { fit } from "../fitter/fit.js";
import { Float64Evaluator } from "../fitter/Float64Evaluator.js";
import { buildLikelihoodSpec } from "../fitter/likelihoodSpec.js";
import { pcg, jacobiPreconditioner } from "../fitter/krylovErrors/pcg.js";
import { schurSolver } from "../fitter/krylovErrors/schurSolver.js";
import { YieldJacobian } from "../fitter/krylovErrors/yieldJacobian.js";
import { planErrorMethod } from "../fitter/krylovErrors/memoryPlan.js";
import { selectExact } from "../fitter/krylovErrors/fitErrors.js";
import type { FitResult } from "../fitter/results.js";
import { runCommand } from "./helpers/cli.js";
import { maxRel, modelWithNoi, rel } from "./helpers/relative.js";

const work = mkdtempSync(join(tmpdir(), "krylov-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));




describe("pcg", () => {
  it("solves an SPD system to the tolerance, with and without Jacobi; reports negative curvature", async () => {
    const n = 40;
    const A = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) A[i * n + j] = Math.exp(-Math.abs(i - j)) * (1 + 0.1 * Math.cos(i + j));
      A[i * n + i] += 1 + i;
    }
    for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) A[i * n + j] = A[j * n + i];
    const mul = (v: Float64Array): Float64Array => Float64Array.from({ length: n }, (_, i) => A.subarray(i * n, (i + 1) * n).reduce((s, a, j) => s + a * v[j], 0));
    const b = Float64Array.from({ length: n }, (_, i) => Math.sin(i + 1));
    for (const pre of [undefined, jacobiPreconditioner(Float64Array.from({ length: n }, (_, i) => A[i * (n + 1)]))]) {
      const r = await pcg(mul, b, { tolerance: 1e-13, preconditioner: pre });
      expect(r.converged).toBe(true);
      const res = mul(r.x).map((v, i) => v - b[i]);
      expect(Math.hypot(...res) / Math.hypot(...b)).toBeLessThan(1e-12);
    }
    const indefinite = await pcg((v) => v.map((x, i) => (i === 0 ? -x : x)), Float64Array.from({ length: 4 }, () => 1));
    expect(indefinite.negativeCurvature).toBe(true);
  });

  it("stops when the residual stops falling (stagnation) instead of running to 2n iterations", async () => {
    // a floor the residual cannot pass: H has a null direction (entry 0) along which b has a part
    const n = 400;
    const mul = (v: Float64Array): Float64Array => v.map((x, i) => (i === 0 ? 0 : (1 + (i % 97)) * x));
    const b = Float64Array.from({ length: n }, (_, i) => Math.cos(i));
    const r = await pcg(mul, b, { tolerance: 1e-14, stagnationWindow: 50 });
    expect(r.stagnated, `iterations ${r.iterations}, residual ${r.relativeResidual}`).toBe(true);
    expect(r.converged).toBe(false);
    expect(r.iterations).toBeLessThan(2 * n);
    // the symmetric part alone converges as before, with no stagnation
    expect(r.relativeResidual).toBeGreaterThan(0.5 / Math.hypot(...b));
    const exact = await pcg((v) => v.map((x, i) => (1 + (i % 97)) * x), b, { tolerance: 1e-12, stagnationWindow: 50 });
    expect(exact.converged).toBe(true);
    expect(exact.stagnated ?? false).toBe(false);
  });
});

describe("schurSolver", () => {
  it("block elimination of stiff parameters solves H x = b like the dense solve (I + data term + two stiff directions)", async () => {
    const n = 30;
    const H = new Float64Array(n * n);
    // H = I + Σ_k g_k g_kᵀ with two parameters (0, 7) coupled to everything at a 10⁴ larger scale
    for (let k = 0; k < 12; k++) {
      const g = Float64Array.from({ length: n }, (_, i) => Math.sin(1.3 * k * i + k) * (i === 0 || i === 7 ? 100 : 1));
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) H[i * n + j] += g[i] * g[j];
    }
    for (let i = 0; i < n; i++) H[i * (n + 1)] += 1;
    const mul = (v: Float64Array): Float64Array => Float64Array.from({ length: n }, (_, i) => H.subarray(i * n, (i + 1) * n).reduce((s, a, j) => s + a * v[j], 0));
    const solver = await schurSolver(mul, n, [7, 0], { tolerance: 1e-12 });
    expect(solver.name).toMatch(/^schur\(2 stiff/);
    for (const b of [Float64Array.from({ length: n }, (_, i) => (i === 0 ? 1 : 0)), Float64Array.from({ length: n }, (_, i) => Math.cos(i))]) {
      const r = await solver.solve(b, 1e-12);
      const res = mul(r.x).map((v, i) => v - b[i]);
      expect(Math.hypot(...res) / Math.hypot(...b)).toBeLessThan(1e-9);
    }
  });
});

describe("YieldJacobian", () => {
  it.each([
    ["log-normal symmetric, linear POIs", { asym: false }, "linear"],
    ["asymmetric, square POIs", { asym: true }, "square"],
  ] as const)("%s: ν and diag(J C Jᵀ) per row and per bin equal the native evaluator's (dense C)", (_l, gen, poiMode) => {
    const model = generateModel({ bins: 30, procs: 3, signals: 2, systs: 12, seed: 9, bbb: true, ...gen });
    const spec = buildLikelihoodSpec(model, { poiMode });
    const ev = new Float64Evaluator(spec, { threads: 1 });
    try {
      const n = ev.nparams;
      // a point off the prefit one, with |θ| < ½ for some (smooth-step region) and > ½ for others
      const x = Float64Array.from({ length: n }, (_, i) => (i < 2 ? 1.1 + 0.2 * i : 0.7 * Math.sin(3 * i)));
      const J = new YieldJacobian(spec, x);
      expect(maxRel(J.nu, ev.yields(x), 1e-300)).toBeLessThan(1e-13);
      // a random SPD C = B Bᵀ
      const B = Float64Array.from({ length: n * n }, (_, i) => Math.sin(1.7 * i + 0.3));
      const C = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) C[i * n + j] += 0.01 * B[i * n + k] * B[j * n + k];
      const cols = Array.from({ length: n }, (_, j) => J.apply(Float64Array.from({ length: n }, (_, i) => (i === j ? 1 : 0))));
      const rows = J.nrows;
      const perRow = new Float64Array(rows);
      for (let r = 0; r < rows; r++) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) perRow[r] += cols[i][r] * C[i * n + j] * cols[j][r];
      const native = ev.yieldVariances(x, C);
      expect(maxRel(perRow, native.perProcess, 1e-300)).toBeLessThan(1e-10);
      // Jᵀ is the transpose of J
      const w = Float64Array.from({ length: rows }, (_, r) => Math.cos(r));
      const v = Float64Array.from({ length: n }, (_, i) => Math.sin(2 * i));
      const lhs = J.apply(v).reduce((s, a, r) => s + a * w[r], 0);
      const rhs = J.applyTranspose(w).reduce((s, a, i) => s + a * v[i], 0);
      expect(rel(lhs, rhs)).toBeLessThan(1e-12);
      expect(J.fisherDiagonal().every((d) => d > 0)).toBe(true);
    } finally {
      ev.dispose();
    }
  });
});

describe("memory plan", () => {
  it("dense while 4 (5 with impacts) n² float64 fit under the limit, krylov with a one-line notice otherwise", () => {
    expect(planErrorMethod({ nparams: 100, impacts: false, limitBytes: 4 * 8 * 100 * 100 }).method).toBe("dense");
    const k = planErrorMethod({ nparams: 100, impacts: true, limitBytes: 4 * 8 * 100 * 100 });
    expect(k.method).toBe("krylov");
    expect(k.notice).toMatch(/^errors: .*5 × 100² float64.*Krylov/);
    expect(k.notice).not.toContain("\n");
    // the default limit is the machine's: 100 000 parameters never fit in memory here
    expect(planErrorMethod({ nparams: 100000, impacts: false }).method).toBe("krylov");
    expect(planErrorMethod({ nparams: 10, impacts: false }).method).toBe("dense");
  });
});

describe("Krylov errors against the dense path (every variance exact: small fit)", () => {
  const cases = [["linear", "linear"], ["square", "square"]] as const;
  it.each(cases)("POI mode %s: errors, POI/NOI covariance, impacts, yields agree to 1e-6", async (_l, poiMode) => {
    const model = modelWithNoi({ bins: 200, procs: 4, systs: 60, sparse: true, bbb: true, seed: 5 });
    const dense = await fit(model, { errorMethod: "dense", impacts: true, threads: 2, poiMode });
    const kry = await fit(model, { errorMethod: "krylov", impacts: true, threads: 2, poiMode });
    expect(dense.status).toBe("converged");
    expect(kry.status).toBe("converged");
    expect(kry.errorMethod).toBe("krylov");
    expect(kry.covariance.length).toBe(0);
    const k = kry.krylov!;
    expect(k.summary.estimated).toBe(0);
    expect(k.summary.max_relative_residual).toBeLessThan(1e-10);
    const n = dense.parameters.length;
    expect(maxRel(kry.parameters.map((p) => p.error), dense.parameters.map((p) => p.error))).toBeLessThan(1e-6);
    // POI sig0 and NOI syst0004: covariance block
    expect(k.targetIndices).toEqual([0, 5]);
    for (let a = 0; a < 2; a++) {
      for (let b = 0; b < 2; b++) {
        const i = k.targetIndices[a];
        const j = k.targetIndices[b];
        expect(rel(k.targetCovariance[a * 2 + b], dense.covariance[i * n + j])).toBeLessThan(1e-6);
      }
    }
    const di = dense.impacts!;
    const ki = kry.impacts!;
    expect(ki.targets).toEqual(di.targets);
    expect(ki.nuisances).toEqual(di.nuisances);
    const tradFloor = 1e-6 * Math.max(...Array.from(di.traditional, Math.abs));
    expect(maxRel(ki.traditional, di.traditional, tradFloor)).toBeLessThan(1e-6);
    expect(maxRel(ki.grouped, di.grouped)).toBeLessThan(1e-6);
    expect(maxRel(ki.stat, di.stat)).toBeLessThan(1e-6);
    expect(maxRel(ki.global, di.global, tradFloor)).toBeLessThan(1e-6);
    expect(maxRel(ki.globalGrouped, di.globalGrouped)).toBeLessThan(1e-6);
    expect(maxRel(ki.dataStat, di.dataStat)).toBeLessThan(1e-6);
    const dy = dense.postfitYields!;
    const ky = kry.postfitYields!;
    expect(maxRel(ky.totalVariance, dy.totalVariance, 0)).toBeLessThan(1e-6);
    expect(maxRel(ky.perProcessVariance, dy.perProcessVariance, 1e-12)).toBeLessThan(1e-6);
    expect(Array.from(ky.totalVarianceStdErr!).every((v) => v === 0)).toBe(true);
    // the channel sum: 1ᵀ (J C Jᵀ) 1 from the dense covariance (reported units → minimiser ones)
    const J = new YieldJacobian(buildLikelihoodSpec(model, { poiMode }), dense.x);
    const g = J.applyTranspose(new Float64Array(J.nrows).fill(1));
    const jac = Float64Array.from({ length: n }, (_, i) => (poiMode === "square" && i === 0 ? 2 * dense.x[0] : 1));
    let q = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) q += (g[i] * g[j] * dense.covariance[i * n + j]) / (jac[i] * jac[j]);
    expect(rel(ky.channelSums![0].totalVariance, q)).toBeLessThan(1e-6);
  }, 120000);
});

describe("Krylov errors with frozen parameters", () => {
  it("held parameters have error 0 and take no part; the rest agree with the dense path", async () => {
    const model = modelWithNoi({ bins: 120, procs: 3, systs: 30, sparse: true, bbb: true, seed: 8 });
    const dense = await fit(model, { errorMethod: "dense", impacts: true, threads: 2, freeze: "syst000[0-2]", skipYields: true });
    const kry = await fit(model, { errorMethod: "krylov", impacts: true, threads: 2, freeze: "syst000[0-2]", skipYields: true });
    expect(kry.status).toBe("converged");
    for (const i of [1, 2, 3]) expect(kry.parameters[i].error).toBe(0);
    expect(maxRel(kry.parameters.map((p) => p.error), dense.parameters.map((p) => p.error))).toBeLessThan(1e-6);
    expect(kry.impacts!.nuisances).toEqual(dense.impacts!.nuisances);
    expect(maxRel(kry.impacts!.grouped, dense.impacts!.grouped)).toBeLessThan(1e-6);
    expect(maxRel(kry.impacts!.stat, dense.impacts!.stat)).toBeLessThan(1e-6);
  }, 60000);
});

describe("Krylov errors with the stochastic diagonal (fit-gen --bins 500 --systs 300 --sparse --bbb)", () => {
  let dense: FitResult;
  let kry: FitResult;
  it("exact subset and POI agree with dense to 1e-6; estimates within their stated standard errors", async () => {
    const model = generateModel({ bins: 500, procs: 4, systs: 300, sparse: true, bbb: true, seed: 3 });
    dense = await fit(model, { errorMethod: "dense", impacts: true, threads: 2 });
    kry = await fit(model, { errorMethod: "krylov", impacts: true, threads: 2, krylov: { exactAllMax: 0, exactFor: "syst00[0-2].", probes: 48, seed: 7 } });
    expect(kry.status).toBe("converged");
    const k = kry.krylov!;
    expect(k.summary.exact).toBe(31);
    expect(k.summary.estimated).toBe(270);
    const n = dense.parameters.length;
    const exactIdx = [...Array(n).keys()].filter((i) => k.exact[i]);
    expect(exactIdx).toEqual([0, ...Array.from({ length: 30 }, (_, s) => 1 + s)]);
    for (const i of exactIdx) expect(rel(kry.parameters[i].error, dense.parameters[i].error)).toBeLessThan(1e-6);
    // estimated errors: |σ̂ − σ| within 3 stated standard errors for ≥ 95% (normal: 99.7%)
    const est = [...Array(n).keys()].filter((i) => !k.exact[i]);
    const within = est.filter((i) => Math.abs(kry.parameters[i].error - dense.parameters[i].error) <= 3 * k.errorStdErr[i]).length;
    expect(within / est.length).toBeGreaterThanOrEqual(0.95);
    // the stated median relative accuracy of σ² is the real one (within a factor 2)
    const actual = est.map((i) => Math.abs(kry.parameters[i].error ** 2 / dense.parameters[i].error ** 2 - 1)).sort((a, b) => a - b);
    const median = actual[Math.floor(actual.length / 2)];
    const stated = k.summary.median_relative_stderr!;
    // |N(0, s)| has median 0.674 s
    expect(median).toBeLessThan(2 * 0.674 * stated);
    expect(median).toBeGreaterThan((0.674 * stated) / 2);
    // impacts: exact nuisances to 1e-6; grouped and stat exact
    const di = dense.impacts!;
    const ki = kry.impacts!;
    const nn = ki.nuisances.length;
    ki.nuisances.forEach((name, c) => {
      const d = di.traditional[c];
      const v = ki.traditional[c];
      if (k.impactsNuisanceExact![c]) expect(rel(v, d)).toBeLessThan(1e-6);
      else expect(Math.abs(v - d)).toBeLessThanOrEqual(5 * k.impactsTraditionalStdErr![c] + 1e-6 * Math.abs(d)); // + the probe solves' 1e-6 tolerance
      expect(name).toBe(di.nuisances[c]);
    });
    expect(nn).toBe(300);
    expect(maxRel(ki.grouped, di.grouped)).toBeLessThan(1e-6);
    expect(maxRel(ki.stat, di.stat)).toBeLessThan(1e-6);
    expect(rel(kry.parameters[0].error, dense.parameters[0].error)).toBeLessThan(1e-6);
  }, 300000);

  it("per-bin yield variances within their standard errors; channel sum exact", () => {
    const dy = dense.postfitYields!;
    const ky = kry.postfitYields!;
    const nb = dy.totalVariance.length;
    let within = 0;
    for (let b = 0; b < nb; b++) if (Math.abs(ky.totalVariance[b] - dy.totalVariance[b]) <= 3 * ky.totalVarianceStdErr![b]) within++;
    expect(within / nb).toBeGreaterThanOrEqual(0.95);
    expect(ky.channelSums![0].totalVariance).toBeGreaterThan(0);
  });
});

describe("automatic switch", () => {
  it("a memory limit below the dense path's needs switches to Krylov with one notice; a large one keeps dense", async () => {
    const model = generateModel({ bins: 60, procs: 3, systs: 10, seed: 2 });
    const notices: string[] = [];
    const small = await fit(model, { memoryLimitBytes: 1000, notice: (l) => notices.push(l), threads: 1, skipYields: true });
    expect(small.errorMethod).toBe("krylov");
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(/Krylov errors/);
    const big = await fit(model, { memoryLimitBytes: 1e9, notice: (l) => notices.push(l), threads: 1, skipYields: true });
    expect(big.errorMethod).toBe("dense");
    expect(notices).toHaveLength(1);
    expect(rel(small.parameters[0].error, big.parameters[0].error)).toBeLessThan(1e-6);
  }, 60000);

  it("--errors-for names an unknown parameter: UserError naming the option", () => {
    expect(() => selectExact(["a", "b"], "zz")).toThrow(/^--errors-for zz: no parameter named zz/);
    expect(selectExact(["a", "b1", "b2"], "b.")).toEqual([1, 2]);
  });
});

describe("fit CLI in Krylov mode", () => {
  const input = join(work, "m.hdf5");
  it("--no-hessian writes error_method krylov, errors, poi_covariance and no dense covariance; the report builds", async () => {
    await writeTensor(input, modelWithNoi({ bins: 80, procs: 3, systs: 20, sparse: true, bbb: true, seed: 4 }));
    const out = join(work, "out");
    const r = await runCommand(main, "fit", [input, "-o", out, "--no-hessian", "--impacts"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/errors {5}krylov: 21 exact/);
    const json = JSON.parse(readFileSync(join(out, "fitresults.json"), "utf8"));
    expect(json.error_method).toBe("krylov");
    expect(json.errors.method).toBe("krylov");
    expect(json.errors.exact).toBe(21);
    expect(json.poi_covariance.names).toEqual(["sig0", "syst0004"]);
    expect(json.impacts.sig0).toBeDefined();
    await h5wasm.ready;
    const f = new h5wasm.File(join(out, "fitresults.hdf5"), "r");
    try {
      expect(f.get("covariance")).toBeNull();
      expect((f.get("poi_covariance") as { shape: number[] }).shape).toEqual([2, 2]);
      expect(JSON.parse(String((f.get("meta_json") as { value: string[] }).value[0])).error_method).toBe("krylov");
    } finally {
      f.close();
    }
    expect(existsSync(join(out, "report.html"))).toBe(true);
    expect(readFileSync(join(out, "report.html"), "utf8")).toContain("POIs/NOIs only (Krylov errors");
    // the dense path says so too
    const outDense = join(work, "outDense");
    expect((await runCommand(main, "fit", [input, "-o", outDense, "--no-html"])).code).toBe(0);
    expect(JSON.parse(readFileSync(join(outDense, "fitresults.json"), "utf8")).error_method).toBe("dense");
  }, 120000);

  it("--no-hessian factors the probed sparse Hessian when it pays (every error exact); --no-sparse-hessian keeps plain CG", async () => {
    const local = join(work, "local.hdf5");
    await writeTensor(local, modelWithNoi({ bins: 400, procs: 3, systs: 150, sparse: true, bbb: true, local: 0.9, seed: 9 }));
    const outSparse = join(work, "outSparse");
    expect((await runCommand(main, "fit", [local, "-o", outSparse, "--no-hessian", "--no-html"])).code).toBe(0);
    const sparse = JSON.parse(readFileSync(join(outSparse, "fitresults.json"), "utf8"));
    expect(sparse.errors.method).toBe("sparse-cholesky");
    expect(sparse.errors.estimated).toBe(0);
    const outCg = join(work, "outCg");
    expect((await runCommand(main, "fit", [local, "-o", outCg, "--no-hessian", "--no-sparse-hessian", "--no-html"])).code).toBe(0);
    const cg = JSON.parse(readFileSync(join(outCg, "fitresults.json"), "utf8"));
    expect(cg.errors.method).toBe("krylov");
    const err = (j: { parameters: { name: string; error: number }[] }, name: string): number => j.parameters.find((p) => p.name === name)!.error;
    expect(rel(err(sparse, "sig0"), err(cg, "sig0"))).toBeLessThan(1e-8);
  }, 120000);

  it("--memory-limit below the dense needs: one notice on stderr, Krylov results", async () => {
    const out = join(work, "auto");
    const r = await runCommand(main, "fit", [input, "-o", out, "--memory-limit", "1e-7", "--no-html"]);
    expect(r.code).toBe(0);
    expect(r.stderr.split("\n").filter((l) => l.includes("Krylov errors"))).toHaveLength(1);
    expect(JSON.parse(readFileSync(join(out, "fitresults.json"), "utf8")).error_method).toBe("krylov");
  }, 60000);

  const bad: [string, string[], RegExp][] = [
    ["--probes -1", ["--no-hessian", "--probes", "-1"], /--probes: must be a non-negative integer/],
    ["--memory-limit 0", ["--memory-limit", "0"], /--memory-limit: must be a positive number/],
    ["--errors-for unknown", ["--no-hessian", "--errors-for", "nosuch"], /--errors-for nosuch: no parameter named nosuch/],
    ["--no-hessian --minos", ["--no-hessian", "--minos", "pois"], /--minos: needs the dense covariance, not available with --no-hessian/],
    ["--no-hessian --correlation", ["--no-hessian", "--correlation"], /--correlation: needs the dense covariance/],
    ["--no-hessian --toys", ["--no-hessian", "--toys", "5"], /--toys: needs the dense covariance/],
    ["--memory-limit tiny --scan", ["--memory-limit", "1e-7", "--scan", "sig0"], /--scan: needs the dense covariance, not available with the automatic switch/],
  ];
  it.each(bad)("%s: one line, exit 2, nothing written", async (_l, args, pattern) => {
    const out = join(work, `bad-${args.join("").replace(/\W/g, "")}`);
    const r = await runCommand(main, "fit", [input, "-o", out, ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(pattern);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(existsSync(join(out, "fitresults.json"))).toBe(false);
  }, 60000);
});
