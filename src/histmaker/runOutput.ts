/**
 * The output of `histmaker run` / `histmaker merge`: one HDF5 file holding
 *   /<dataset>::<histogram>/{values,variances} + meta_json   histograms in histIO's layout, unscaled
 *                                                            (simulation: Σ generator weight × weights)
 *   /histmaker_run                                           one JSON string (RunInfo below): datasets
 *        (kind, σ, Σ generator weights, files, events, processed lumi blocks and luminosity), cutflows,
 *        failures, the luminosity simulation is scaled to, the scale σ·L/Σw per dataset, and meta.
 * Python: info = json.loads(f["histmaker_run"][0]); v = f["Wmunu::nominal/values"][...] * info["scales"]["Wmunu"]
 */
import { renameSync, rmSync } from "node:fs";
import path from "node:path";
import { UserError } from "../errors.js";
import { sameBinning } from "./axes.js";
import { Cutflow, type CutflowJson } from "./cutflow.js";
import { h5 } from "./eventSources.js";
import { Hist } from "./Hist.js";
import { loadHists, saveHists } from "./histIO.js";
import { applyScales, lumiPerPeriod, type DatasetResult, type FileFailure, type RunResult, type Shard } from "./runner.js";

export const RUN_SCHEMA = "hepfit.histmaker-run";
export const HIST_SEPARATOR = "::";

export interface RunMeta {
  command: string;
  time: string;
  threads?: number;
  /** the inputs a merge added up */
  mergedFrom?: string[];
  [key: string]: unknown;
}

export interface RunInfo {
  schema: typeof RUN_SCHEMA;
  version: 1;
  analysis: string;
  datasets: Record<string, DatasetResult>;
  cutflows: Record<string, CutflowJson>;
  /** per dataset, per region: the region's cutflow ("preselection", then the region's cuts); absent in older outputs */
  regionCutflows?: Record<string, Record<string, CutflowJson>>;
  failures: FileFailure[];
  luminosityPb: number | null;
  luminositySource: RunResult["luminositySource"];
  analysisLuminosityPb: number | null;
  scales: Record<string, number>;
  shards: (Shard | null)[];
  /** histogram names per dataset */
  histograms: Record<string, string[]>;
  meta: RunMeta;
}

export interface RunOutput {
  info: RunInfo;
  hists: Record<string, Record<string, Hist>>;
}

export function toRunInfo(result: RunResult, meta: RunMeta, shards: (Shard | null)[] = [result.shard]): RunInfo {
  return {
    schema: RUN_SCHEMA,
    version: 1,
    analysis: result.analysis,
    datasets: result.datasets,
    cutflows: Object.fromEntries(Object.entries(result.cutflows).map(([k, c]) => [k, c.toJSON()])),
    regionCutflows: Object.fromEntries(
      Object.entries(result.regionCutflows).map(([ds, rs]) => [ds, Object.fromEntries(Object.entries(rs).map(([r, c]) => [r, c.toJSON()]))]),
    ),
    failures: result.failures,
    luminosityPb: result.luminosityPb,
    luminositySource: result.luminositySource,
    analysisLuminosityPb: result.analysisLuminosityPb,
    scales: result.scales,
    shards,
    histograms: Object.fromEntries(Object.entries(result.hists).map(([ds, hs]) => [ds, Object.keys(hs)])),
    meta,
  };
}

/** Writes histograms and run info to `file` atomically. */
export async function writeRunOutput(file: string, out: RunOutput): Promise<void> {
  const target = path.resolve(file);
  const tmp = `${target}.tmp-${process.pid}`;
  const flat: Record<string, Hist> = {};
  for (const [ds, hs] of Object.entries(out.hists)) {
    if (ds.includes("/") || ds.includes(HIST_SEPARATOR)) throw new UserError(`dataset name "${ds}" cannot contain "/" or "${HIST_SEPARATOR}"`);
    for (const [name, h] of Object.entries(hs)) flat[`${ds}${HIST_SEPARATOR}${name}`] = h;
  }
  try {
    await saveHists(tmp, flat);
    const lib = await h5();
    const f = new lib.File(tmp, "a");
    try {
      f.create_dataset({ name: "histmaker_run", data: [JSON.stringify(out.info)] });
    } finally {
      f.close();
    }
    renameSync(tmp, target);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

export async function readRunOutput(file: string): Promise<RunOutput> {
  const flat = await loadHists(file);
  const lib = await h5();
  let text: string;
  const f = new lib.File(path.resolve(file), "r");
  try {
    const ds = f.get("histmaker_run");
    if (!(ds instanceof lib.Dataset)) throw new UserError(`${file}: not a histmaker run output (no "histmaker_run")`);
    const v = ds.value;
    text = String(Array.isArray(v) ? v[0] : v);
  } finally {
    f.close();
  }
  let info: RunInfo;
  try {
    info = JSON.parse(text) as RunInfo;
  } catch {
    throw new UserError(`${file}: "histmaker_run" is not valid JSON`);
  }
  if (info.schema !== RUN_SCHEMA) throw new UserError(`${file}: run info schema is "${String(info.schema)}", expected "${RUN_SCHEMA}"`);
  const hists: Record<string, Record<string, Hist>> = {};
  for (const ds of Object.keys(info.datasets)) hists[ds] = {};
  for (const [key, h] of Object.entries(flat)) {
    const at = key.indexOf(HIST_SEPARATOR);
    if (at < 0) continue;
    const ds = key.slice(0, at);
    (hists[ds] ??= {})[key.slice(at + HIST_SEPARATOR.length)] = h;
  }
  return { info, hists };
}

/** A histogram scaled by a factor (values × s, variances × s²). */
export function scaled(h: Hist, s: number): Hist {
  if (s === 1) return h;
  const v = h.values({ flow: true });
  for (let i = 0; i < v.length; i++) v[i] *= s;
  const opts = { storage: h.storage, ...(h.tensor ? { tensor: h.tensor } : {}) };
  if (h.storage === "weighted") {
    const w = h.variances({ flow: true });
    for (let i = 0; i < w.length; i++) w[i] *= s * s;
    return Hist.fromArrays([...h.axes], opts, v, w);
  }
  return Hist.fromArrays([...h.axes], opts, v);
}

function sameHistBinning(a: Hist, b: Hist): string | null {
  if (a.storage !== b.storage) return `storage ${a.storage} vs ${b.storage}`;
  if (a.tensorSize !== b.tensorSize) return `tensor size ${a.tensorSize} vs ${b.tensorSize}`;
  const ax = a.axes;
  const bx = b.axes;
  if (ax.length !== bx.length) return `${ax.length} vs ${bx.length} axes`;
  for (let i = 0; i < ax.length; i++) if (!sameBinning(ax[i], bx[i])) return `axis "${ax[i].name}" binning differs`;
  return null;
}

/**
 * Adds run outputs (shards): histograms, cutflows, events, Σ generator weights (when summed from files),
 * processed lumi blocks (union: a block split across shards counts once) and failures; then recomputes
 * the luminosity and the simulation scales. Refuses different analyses, binnings, or a file processed twice.
 */
export function mergeRunOutputs(inputs: { file: string; output: RunOutput }[], meta: RunMeta): RunOutput {
  if (inputs.length === 0) throw new UserError("merge: no inputs");
  const first = inputs[0];
  const info0 = first.output.info;
  const hists: Record<string, Record<string, Hist>> = {};
  for (const [ds, hs] of Object.entries(first.output.hists)) {
    hists[ds] = {};
    for (const [n, h] of Object.entries(hs)) hists[ds][n] = h.copy();
  }
  const cutflows: Record<string, Cutflow> = Object.fromEntries(Object.entries(info0.cutflows).map(([k, c]) => [k, Cutflow.fromJSON(c)]));
  const regionCutflows = regionCutflowsOf(info0);
  const datasets: Record<string, DatasetResult> = structuredClone(info0.datasets);
  const failures: FileFailure[] = [...info0.failures];
  const blockLumi = new Map<string, Map<number, number>>();
  // a processed piece is identified by (dataset, file, entry range): two datasets may read one file
  const seenFiles = new Map<string, string>();
  const shards: (Shard | null)[] = [...info0.shards];
  for (const [name, d] of Object.entries(datasets)) {
    blockLumi.set(name, new Map(d.lumiBlocks.map((k, i) => [k, d.lumiBlockPb[i] ?? 0])));
    d.entryRanges = entryRangesOf(d);
    for (const [i, f] of d.files.entries()) seenFiles.set(pieceKey(name, f, d.entryRanges[i]), first.file);
  }

  for (const { file, output } of inputs.slice(1)) {
    const info = output.info;
    if (info.analysis !== info0.analysis) throw new UserError(`${file}: analysis "${info.analysis}" differs from "${info0.analysis}" in ${first.file}`);
    const names = Object.keys(info.datasets).sort().join(",");
    if (names !== Object.keys(info0.datasets).sort().join(","))
      throw new UserError(`${file}: datasets (${names}) differ from ${first.file}`);
    for (const [ds, hs] of Object.entries(output.hists)) {
      for (const [n, h] of Object.entries(hs)) {
        const into = hists[ds]?.[n];
        if (!into) throw new UserError(`${file}: histogram ${ds}/${n} is not in ${first.file}`);
        const why = sameHistBinning(into, h);
        if (why) throw new UserError(`${file}: histogram ${ds}/${n} does not match ${first.file} (${why})`);
        into.add(h);
      }
      for (const n of Object.keys(hists[ds] ?? {}))
        if (!hs[n]) throw new UserError(`${file}: histogram ${ds}/${n} of ${first.file} is missing`);
    }
    for (const [ds, c] of Object.entries(info.cutflows)) cutflows[ds].add(Cutflow.fromJSON(c), `${file}: cutflow of ${ds}`);
    const theirRegions = regionCutflowsOf(info);
    for (const ds of Object.keys(datasets)) {
      const mine = Object.keys(regionCutflows[ds] ?? {}).sort().join(",");
      const theirs = Object.keys(theirRegions[ds] ?? {}).sort().join(",");
      if (mine !== theirs) throw new UserError(`${file}: regions of ${ds} (${theirs || "none"}) differ from ${first.file} (${mine || "none"})`);
      for (const [r, c] of Object.entries(theirRegions[ds] ?? {})) regionCutflows[ds][r].add(c, `${file}: cutflow of ${ds} region ${r}`);
    }
    for (const [name, d] of Object.entries(info.datasets)) {
      const into = datasets[name];
      const ranges = entryRangesOf(d);
      for (const [i, f] of d.files.entries()) {
        const key = pieceKey(name, f, ranges[i]);
        const prev = seenFiles.get(key);
        if (prev !== undefined)
          throw new UserError(`${file}: ${name}: ${f} (entries ${rangeText(ranges[i])}) was processed already in ${prev} (overlapping shards)`);
        seenFiles.set(key, file);
      }
      into.files.push(...d.files);
      into.entryRanges!.push(...ranges);
      into.events += d.events;
      if (d.sumGenWeightsSource === "files") into.sumGenWeights += d.sumGenWeights;
      else if (d.sumGenWeights !== into.sumGenWeights)
        throw new UserError(`${file}: ${name} Σ generator weights ${d.sumGenWeights} differs from ${into.sumGenWeights}`);
      const m = blockLumi.get(name)!;
      d.lumiBlocks.forEach((k, i) => m.set(k, d.lumiBlockPb[i] ?? 0));
      into.missingLumiBlocks += d.missingLumiBlocks;
      if (d.lumiPb !== null) into.lumiPb = 0;
    }
    failures.push(...info.failures);
    shards.push(...info.shards);
  }

  let dataLumi: number | null = null;
  for (const [name, d] of Object.entries(datasets)) {
    const m = blockLumi.get(name)!;
    const keys = [...m.keys()].sort((a, b) => a - b);
    d.lumiBlocks = keys;
    d.lumiBlockPb = keys.map((k) => m.get(k)!);
    if (d.lumiPb !== null) {
      d.lumiPb = d.lumiBlockPb.reduce((a, b) => a + b, 0);
      d.lumiPerPeriodPb = lumiPerPeriod(d);
      dataLumi = (dataLumi ?? 0) + d.lumiPb;
    }
  }
  const result: RunResult = {
    analysis: info0.analysis,
    datasets,
    hists,
    cutflows,
    regionCutflows,
    failures,
    luminosityPb: null,
    luminositySource: "none",
    scales: {},
    shard: null,
    analysisLuminosityPb: info0.analysisLuminosityPb,
  };
  applyScales(result, dataLumi, () => undefined);
  return { info: toRunInfo(result, meta, shards), hists };
}

function regionCutflowsOf(info: RunInfo): Record<string, Record<string, Cutflow>> {
  const out: Record<string, Record<string, Cutflow>> = {};
  for (const ds of Object.keys(info.datasets))
    out[ds] = Object.fromEntries(Object.entries(info.regionCutflows?.[ds] ?? {}).map(([r, c]) => [r, Cutflow.fromJSON(c)]));
  return out;
}

/** Entry ranges of a dataset's files; outputs written before ranges were recorded processed whole files. */
function entryRangesOf(d: DatasetResult): [number, number][] {
  if (d.entryRanges && d.entryRanges.length === d.files.length) return d.entryRanges.map(([a, b]) => [a, b]);
  return d.files.map(() => [0, -1]);
}

function pieceKey(dataset: string, file: string, range: [number, number]): string {
  // a whole file (old outputs: stop -1) overlaps any range of it; with whole-file processing the
  // ranges are [0, entries), so the key on the start alone is exact today
  return JSON.stringify([dataset, file, range[0]]);
}

function rangeText(r: [number, number]): string {
  return r[1] < 0 ? "all" : `${r[0]}..${r[1]}`;
}
