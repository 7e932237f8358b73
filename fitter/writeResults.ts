/**
 * Writes a fit's outputs into a folder: `fitresults.json` (the stable summary of
 * ../shared/spec/results.md) and `fitresults.hdf5` (parameters, covariance, optionally the
 * correlation, prefit and postfit yields per channel × process, the data, metadata). Each file is
 * written under a temporary name and renamed, so a reader never sees half a file.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { writeFileAtomic } from "../src/atomicWrite.js";
import { join } from "node:path";
import h5wasm from "h5wasm/node";
import type { ChannelInfo } from "../src/tensor/types.js";
import { impactsJson, type ImpactTable } from "./impacts.js";
import { postfitJson } from "./postfit/index.js";
import { krylovErrorsJson, writeKrylovHdf5 } from "./krylovErrors/krylovResultsOutput.js";
import type { FitResult, YieldTable } from "./results.js";
import { refitImpactsHessianJson, refitImpactsJson } from "./refitImpacts.js";

export const RESULTS_JSON = "fitresults.json";
export const RESULTS_HDF5 = "fitresults.hdf5";

/** Where a result came from; written into both files. */
export interface RunMeta {
  command: string;
  version: string;
  git_hash: string;
  /** ISO 8601 time of the run */
  time: string;
  input: string;
  input_sha256: string;
  /** where the input's metadata came from: our meta_json, rabbit's pickled meta, or none */
  input_meta_source?: string | null;
  /** why the input's channel layout fell back to ch0/ch1_masked (rabbit meta not mappable), else null */
  input_meta_warning?: string | null;
  /** the input's own provenance (rabbit's meta_info / our meta_json meta_info) */
  input_meta_info?: unknown;
}

/** What the yields are laid out by: process names and the channels' bin ranges. */
export interface YieldLayout {
  procs: string[];
  channels: ChannelInfo[];
  nbins: number;
  nbinsFull: number;
}

/** The JSON summary, keys as in results.md (plus a few extra ones). */
export function fitResultsJson(result: FitResult, meta: RunMeta): Record<string, unknown> {
  return {
    status: result.status,
    message: result.message,
    nll: result.nll,
    chi2: result.chi2,
    ndf: result.ndf,
    pvalue: finiteOrNull(result.pvalue),
    edm: result.edm,
    iterations: result.iterations,
    hvps: result.hvps,
    hessians: result.hessians,
    poi_mode: result.poiMode,
    bbb: result.bbb,
    data: result.dataSource,
    parameters: result.parameters.map((p, i) => ({
      name: p.name,
      kind: p.kind,
      value: finiteOrNull(p.value),
      error: finiteOrNull(p.error),
      prefit: p.prefit,
      prefitError: p.prefitError,
      ...(p.frozen ? { frozen: true } : {}),
      ...(p.minos ? { minos: p.minos } : {}),
      // Krylov mode: a stochastic error carries its standard error
      ...(result.krylov && !result.krylov.exact[i] ? { error_estimated: true, error_stderr: finiteOrNull(result.krylov.errorStdErr[i]) } : {}),
    })),
    // how the errors were made: "dense" (C = H⁻¹) or "krylov" (fit --no-hessian; accuracy in "errors")
    error_method: result.errorMethod ?? "dense",
    ...(result.krylov ? krylovErrorsJson(result) : {}),
    engine: result.engine,
    timing: result.timing,
    // results.md: "impacts" {poi: {nuisance or group: value}}; global impacts are an extra key
    ...(result.impacts ? impactsJson(result.impacts) : {}),
    // --- toys and refit impacts (results.md "refit_impacts", "toys")
    ...(result.refitImpacts ? { refit_impacts: refitImpactsJson(result.refitImpacts), refit_impacts_hessian: refitImpactsHessianJson(result.refitImpacts) } : {}),
    ...(result.toys ? { toys: result.toys } : {}),
    // results.md post-fit keys: scans, scans2d, contours, limits, significance
    ...(result.postfit ? postfitJson(result.postfit) : {}),
    meta,
  };
}

function finiteOrNull(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

export { writeFileAtomic };

/**
 * Correlation matrix from a covariance; zero where a variance is zero (frozen parameters), NaN in
 * the rows and columns of a non-finite variance (a failed fit has no covariance: no correlations).
 */
export function correlationFromCovariance(cov: Float64Array, n: number): Float64Array {
  const sd = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = cov[i * n + i];
    sd[i] = Number.isFinite(v) ? Math.sqrt(Math.max(v, 0)) : Number.NaN;
  }
  const corr = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const d = sd[i] * sd[j];
      corr[i * n + j] = Number.isNaN(d) ? Number.NaN : i === j ? 1 : d > 0 ? cov[i * n + j] / d : 0;
    }
  }
  return corr;
}

type H5Group = ReturnType<InstanceType<typeof h5wasm.File>["create_group"]>;

function sqrtArray(a: Float64Array): Float64Array {
  return a.map((v) => Math.sqrt(Math.max(v, 0)));
}

function channelsOf(layout: YieldLayout): ChannelInfo[] {
  if (layout.channels.length > 0) return layout.channels;
  return [{ name: "ch0", axes: [{ name: "obs" }], masked: false, flow: false, start: 0, size: layout.nbinsFull }];
}

function writeYields(group: H5Group, table: YieldTable, ch: ChannelInfo, nproc: number): void {
  const lo = ch.start;
  const hi = ch.start + ch.size;
  const yields = table.perProcess.subarray(lo * nproc, hi * nproc);
  group.create_dataset({ name: "yields", data: Float64Array.from(yields), shape: [ch.size, nproc] });
  group.create_dataset({
    name: "yields_err",
    data: sqrtArray(Float64Array.from(table.perProcessVariance.subarray(lo * nproc, hi * nproc))),
    shape: [ch.size, nproc],
  });
  group.create_dataset({ name: "total", data: Float64Array.from(table.total.subarray(lo, hi)) });
  group.create_dataset({ name: "total_err", data: sqrtArray(Float64Array.from(table.totalVariance.subarray(lo, hi))) });
}

/** Krylov mode: standard errors of yields_err / total_err (0 where exact) and the exact channel sums. */
function writeYieldAccuracy(group: H5Group, table: YieldTable, ch: ChannelInfo, nproc: number): void {
  const lo = ch.start;
  const hi = ch.start + ch.size;
  // σ = √V: δσ = δV / (2σ)
  const errStd = (v: Float64Array, dv: Float64Array): Float64Array => v.map((x, i) => (x > 0 ? dv[i] / (2 * Math.sqrt(x)) : Number.NaN));
  if (table.perProcessVarianceStdErr) {
    const v = Float64Array.from(table.perProcessVariance.subarray(lo * nproc, hi * nproc));
    group.create_dataset({ name: "yields_err_stderr", data: errStd(v, Float64Array.from(table.perProcessVarianceStdErr.subarray(lo * nproc, hi * nproc))), shape: [ch.size, nproc] });
  }
  if (table.totalVarianceStdErr) {
    const v = Float64Array.from(table.totalVariance.subarray(lo, hi));
    group.create_dataset({ name: "total_err_stderr", data: errStd(v, Float64Array.from(table.totalVarianceStdErr.subarray(lo, hi))) });
  }
  const sum = table.channelSums?.find((c) => c.channel === ch.name);
  if (sum) {
    group.create_dataset({ name: "sum_yields", data: Float64Array.from(sum.perProcess) });
    group.create_dataset({ name: "sum_yields_err", data: sqrtArray(Float64Array.from(sum.perProcessVariance)) });
    group.create_dataset({ name: "sum_total", data: Float64Array.from([sum.total]) });
    group.create_dataset({ name: "sum_total_err", data: Float64Array.from([Math.sqrt(Math.max(0, sum.totalVariance))]) });
  }
}

/**
 * The `impacts` group: targets, nuisances, groups (names); traditional and global [ntargets,
 * nnuisances]; grouped and global_grouped [ntargets, ngroups]; stat and data_stat [ntargets];
 * constrained [nnuisances] (1 where a global impact exists). Empty tables are left out.
 */
function writeImpacts(group: H5Group, t: ImpactTable): void {
  const nt = t.targets.length;
  const nn = t.nuisances.length;
  const ng = t.groups.length;
  if (nt === 0) return;
  group.create_dataset({ name: "targets", data: t.targets });
  group.create_dataset({ name: "stat", data: Float64Array.from(t.stat) });
  group.create_dataset({ name: "data_stat", data: Float64Array.from(t.dataStat) });
  if (nn > 0) {
    group.create_dataset({ name: "nuisances", data: t.nuisances });
    group.create_dataset({ name: "constrained", data: Int8Array.from(t.constrained, (c) => (c ? 1 : 0)), dtype: "<b" });
    group.create_dataset({ name: "traditional", data: Float64Array.from(t.traditional), shape: [nt, nn] });
    group.create_dataset({ name: "global", data: Float64Array.from(t.global), shape: [nt, nn] });
  }
  if (ng > 0) {
    group.create_dataset({ name: "groups", data: t.groups });
    group.create_dataset({ name: "grouped", data: Float64Array.from(t.grouped), shape: [nt, ng] });
    group.create_dataset({ name: "global_grouped", data: Float64Array.from(t.globalGrouped), shape: [nt, ng] });
  }
}

/** What goes into fitresults.hdf5 beyond the default content. */
export interface ResultsWriteOptions {
  /** also store the correlation matrix (float64, n×n; by default readers derive it from the covariance) */
  correlation?: boolean;
}

function writeHdf5(path: string, result: FitResult, meta: RunMeta, layout: YieldLayout, opts: ResultsWriteOptions): void {
  const f = new h5wasm.File(path, "w");
  try {
    const n = result.parameters.length;
    const params = f.create_group("parameters");
    params.create_dataset({ name: "names", data: result.parameters.map((p) => p.name) });
    params.create_dataset({ name: "kinds", data: result.parameters.map((p) => p.kind) });
    params.create_dataset({ name: "values", data: Float64Array.from(result.parameters, (p) => p.value) });
    params.create_dataset({ name: "errors", data: Float64Array.from(result.parameters, (p) => p.error) });
    params.create_dataset({ name: "prefit_values", data: Float64Array.from(result.parameters, (p) => p.prefit) });
    // NaN marks "no prefit constraint" (POIs and free parameters)
    params.create_dataset({
      name: "prefit_errors",
      data: Float64Array.from(result.parameters, (p) => p.prefitError ?? Number.NaN),
    });
    params.create_dataset({ name: "frozen", data: Int8Array.from(result.parameters, (p) => (p.frozen ? 1 : 0)), dtype: "<b" });
    if (n > 0 && result.krylov) {
      writeKrylovHdf5(f, result);
    } else if (n > 0 && result.covariance.length === n * n) {
      // float64, contiguous and uncompressed: gzip saved 3% of a W-mass covariance at 14× the write
      // time (docs/measurements/fitresults-size.md). The correlation is derived by readers
      // (correlationFromCovariance) unless asked for: at 4860 parameters each matrix is 189 MB.
      f.create_dataset({ name: "covariance", data: result.covariance, shape: [n, n] });
      if (opts.correlation) f.create_dataset({ name: "correlation", data: correlationFromCovariance(result.covariance, n), shape: [n, n] });
    }
    f.create_dataset({ name: "procs", data: layout.procs });
    f.create_dataset({ name: "data_obs", data: Float64Array.from(result.data) });
    const nproc = layout.procs.length;
    const channels = f.create_group("channels");
    for (const ch of channelsOf(layout)) {
      const g = channels.create_group(ch.name);
      g.create_attribute("axes_json", JSON.stringify(ch.axes));
      g.create_attribute("masked", ch.masked ? 1 : 0);
      g.create_attribute("start", ch.start);
      g.create_attribute("size", ch.size);
      if (!ch.masked && ch.start + ch.size <= layout.nbins) {
        g.create_dataset({ name: "data", data: Float64Array.from(result.data.subarray(ch.start, ch.start + ch.size)) });
      }
      if (result.prefitYields) writeYields(g.create_group("prefit"), result.prefitYields, ch, nproc);
      if (result.postfitYields) {
        const post = g.create_group("postfit");
        writeYields(post, result.postfitYields, ch, nproc);
        writeYieldAccuracy(post, result.postfitYields, ch, nproc);
      }
    }
    if (result.impacts) writeImpacts(f.create_group("impacts"), result.impacts);
    const summary = fitResultsJson(result, meta);
    f.create_dataset({ name: "meta_json", data: [JSON.stringify({ ...meta, status: result.status, message: result.message, nll: result.nll, edm: result.edm, engine: result.engine, timing: summary.timing, error_method: summary.error_method, ...(summary.errors ? { errors: summary.errors } : {}) })] });
  } finally {
    f.close();
  }
}

export interface WrittenFiles {
  json: string;
  hdf5: string;
}

/** Writes fitresults.json and fitresults.hdf5 into `dir` (created if missing). */
export async function writeFitResults(
  dir: string,
  result: FitResult,
  meta: RunMeta,
  layout: YieldLayout,
  opts: ResultsWriteOptions = {},
): Promise<WrittenFiles> {
  await h5wasm.ready;
  mkdirSync(dir, { recursive: true });
  const hdf5 = join(dir, RESULTS_HDF5);
  const json = join(dir, RESULTS_JSON);
  // both files are staged before either is renamed: a failure leaves the folder as it was, never a
  // new HDF5 beside an old JSON
  const tmpHdf5 = `${hdf5}.tmp-${process.pid}`;
  const tmpJson = `${json}.tmp-${process.pid}`;
  try {
    writeHdf5(tmpHdf5, result, meta, layout, opts);
    writeFileSync(tmpJson, `${JSON.stringify(fitResultsJson(result, meta), null, 1)}\n`);
    renameSync(tmpHdf5, hdf5);
    renameSync(tmpJson, json);
  } catch (err) {
    rmSync(tmpHdf5, { force: true });
    rmSync(tmpJson, { force: true });
    throw err;
  }
  return { json, hdf5 };
}
