/**
 * What the `histmaker plot` page shows, computed from a run output: per histogram the σ×L-scaled
 * sum of each process (values and variances, flow shape, every tensor index when the page budget
 * allows, else only the nominal index 0), the summed data, and the run's datasets and cutflows.
 * The page projects and unrolls these arrays itself; numbers are float64 throughout.
 */
import { UserError } from "../../errors.js";
import { axisEdges, axisBins, sameBinning, type Axis } from "../axes.js";
import type { CutflowJson } from "../cutflow.js";
import type { Hist } from "../Hist.js";
import type { RunOutput } from "../runOutput.js";
import type { Grouping } from "./processes.js";

/** Numbers per histogram above which only the nominal tensor index is embedded. */
export const VARIATION_BUDGET = 400_000;

export interface PlotAxis {
  name: string;
  label: string;
  type: Axis["type"];
  underflow: boolean;
  overflow: boolean;
  /** in-range bins */
  bins: number;
  /** continuous axes: bins + 1 edges */
  edges: number[] | null;
  /** category and boolean axes: one label per in-range bin */
  categories: string[] | null;
}

export interface PlotSeries {
  /** index into PlotPayload.processes */
  process: number;
  /** flow shape × variations (tensor index last), row-major */
  values: number[];
  /** same shape; the values themselves for unweighted storage (Poisson) */
  variances: number[];
}

export interface PlotHistogram {
  name: string;
  axes: PlotAxis[];
  /** flow shape of the axes (no tensor axis) */
  shape: number[];
  tensor: { name: string; size: number; labels: string[] | null } | null;
  /** how many tensor indices the arrays hold: the tensor size, or 1 (nominal only) */
  variations: number;
  mc: PlotSeries[];
  /** summed data counts (flow shape, nominal), or null when no data dataset has this histogram */
  data: number[] | null;
  /** the datasets whose histogram went in */
  mcDatasets: string[];
  dataDatasets: string[];
}

export interface CutflowRow {
  dataset: string;
  /** a region's own cutflow (runs with regions), or null for the dataset's */
  region: string | null;
  kind: "mc" | "data";
  process: string | null;
  scale: number;
  steps: string[];
  raw: number[];
  weighted: number[];
}

export interface DatasetRow {
  name: string;
  kind: "mc" | "data";
  process: string | null;
  xsec: number | null;
  sumGenWeights: number;
  events: number;
  files: number;
  lumiPb: number | null;
  scale: number;
}

export interface PlotPayload {
  title: string;
  input: string;
  analysis: string;
  generated: string;
  command: string;
  scaled: boolean;
  logDefault: boolean;
  luminosityPb: number | null;
  luminositySource: string;
  failures: number;
  processes: { name: string; color: string; datasets: string[] }[];
  data: string[];
  histograms: PlotHistogram[];
  /** matching histograms that no plotted dataset has */
  skipped: string[];
  datasets: DatasetRow[];
  cutflows: CutflowRow[];
}

export interface PayloadOptions {
  input: string;
  command: string;
  grouping: Grouping;
  /** histogram names to keep (matched against the name after `dataset::`) */
  histograms?: RegExp;
  unscaled?: boolean;
  log?: boolean;
  variationBudget?: number;
}

function plotAxis(a: Axis): PlotAxis {
  const base = { name: a.name, label: a.label || a.name, type: a.type, underflow: a.underflow, overflow: a.overflow, bins: axisBins(a) };
  if (a.type === "category_int" || a.type === "category_str") return { ...base, edges: null, categories: a.categories.map(String) };
  if (a.type === "boolean") return { ...base, edges: null, categories: ["false", "true"] };
  return { ...base, edges: axisEdges(a), categories: null };
}

/** Why two datasets' histograms cannot be drawn together, or null; data is drawn at tensor index 0 whatever its tensor. */
function binningDiffers(a: Hist, b: Hist, compareTensor: boolean): string | null {
  if (a.axes.length !== b.axes.length) return `${a.axes.length} vs ${b.axes.length} axes`;
  for (let i = 0; i < a.axes.length; i++) if (!sameBinning(a.axes[i], b.axes[i])) return `axis "${a.axes[i].name}" binning differs`;
  if (compareTensor && a.tensorSize !== b.tensorSize) return `tensor size ${a.tensorSize} vs ${b.tensorSize}`;
  return null;
}

/** Histogram names in the order the run lists them (first dataset first). */
export function histogramNames(out: RunOutput): string[] {
  const seen = new Set<string>();
  for (const ds of Object.keys(out.info.datasets)) for (const n of out.info.histograms?.[ds] ?? Object.keys(out.hists[ds] ?? {})) seen.add(n);
  for (const hs of Object.values(out.hists)) for (const n of Object.keys(hs)) seen.add(n);
  return [...seen];
}

/** Adds s·(values of h at tensor indices < keep) into acc (flow shape × keep). */
function addScaled(acc: Float64Array, accVar: Float64Array, h: Hist, s: number, keep: number): void {
  const v = h.values({ flow: true });
  const w = h.storage === "weighted" ? h.variances({ flow: true }) : v;
  const k = Math.max(1, h.tensorSize);
  const cells = v.length / k;
  for (let c = 0; c < cells; c++)
    for (let t = 0; t < keep; t++) {
      acc[c * keep + t] += s * v[c * k + t];
      accVar[c * keep + t] += s * s * w[c * k + t];
    }
}

export function buildPlotPayload(out: RunOutput, opts: PayloadOptions): PlotPayload {
  const { info } = out;
  const scaleOf = (ds: string): number => (opts.unscaled ? 1 : (info.scales[ds] ?? 1));
  const names = histogramNames(out).filter((n) => opts.histograms === undefined || opts.histograms.test(n));
  if (names.length === 0)
    throw new UserError(`${opts.input}: no histogram${opts.histograms ? ` matches --histograms ${opts.histograms.source}` : "s in this run"} (it has ${histogramNames(out).join(", ") || "none"})`);
  const { processes, data } = opts.grouping;
  const budget = opts.variationBudget ?? VARIATION_BUDGET;
  const histograms: PlotHistogram[] = [];
  const skipped: string[] = [];
  for (const name of names) {
    let ref: { ds: string; h: Hist } | null = null;
    const check = (ds: string, h: Hist, isData = false): void => {
      if (ref === null) ref = { ds, h };
      else {
        const why = binningDiffers(ref.h, h, !isData);
        if (why) throw new UserError(`${opts.input}: histogram "${name}" of ${ds} does not match that of ${ref.ds} (${why}); leave it out with --histograms`);
      }
    };
    const mcDatasets: string[] = [];
    for (const p of processes) for (const ds of p.datasets) if (out.hists[ds]?.[name]) (check(ds, out.hists[ds][name]), mcDatasets.push(ds));
    const dataDatasets: string[] = [];
    for (const ds of data) if (out.hists[ds]?.[name]) (check(ds, out.hists[ds][name], true), dataDatasets.push(ds));
    if (ref === null) {
      skipped.push(name); // only in data datasets a "data" list left out
      continue;
    }
    // the binning and tensor come from simulation when it has the histogram
    const h0 = mcDatasets.length > 0 ? out.hists[mcDatasets[0]][name] : (ref as { ds: string; h: Hist }).h;
    const cells = h0.flowShape.slice(0, h0.axes.length).reduce((a, b) => a * b, 1);
    const K = h0.tensor ? h0.tensorSize : 1;
    const nMc = processes.filter((p) => p.datasets.some((d) => out.hists[d]?.[name])).length;
    const keep = K > 1 && cells * K * 2 * nMc <= budget ? K : 1;
    const mc: PlotSeries[] = [];
    processes.forEach((p, pi) => {
      const have = p.datasets.filter((d) => out.hists[d]?.[name]);
      if (have.length === 0) return;
      const acc = new Float64Array(cells * keep);
      const accVar = new Float64Array(cells * keep);
      for (const d of have) addScaled(acc, accVar, out.hists[d][name], scaleOf(d), keep);
      mc.push({ process: pi, values: Array.from(acc), variances: Array.from(accVar) });
    });
    let dataValues: number[] | null = null;
    if (dataDatasets.length > 0) {
      const acc = new Float64Array(cells);
      const scratch = new Float64Array(cells);
      for (const d of dataDatasets) addScaled(acc, scratch, out.hists[d][name], 1, 1);
      dataValues = Array.from(acc);
    }
    histograms.push({
      name,
      axes: h0.axes.map(plotAxis),
      shape: h0.flowShape.slice(0, h0.axes.length),
      tensor: h0.tensor ? { name: h0.tensor.name, size: h0.tensorSize, labels: h0.tensor.labels ?? null } : null,
      variations: keep,
      mc,
      data: dataValues,
      mcDatasets,
      dataDatasets,
    });
  }
  const processOf = new Map<string, string>();
  for (const p of processes) for (const d of p.datasets) processOf.set(d, p.name);
  const datasets: DatasetRow[] = Object.values(info.datasets).map((d) => ({
    name: d.name,
    kind: d.kind,
    process: processOf.get(d.name) ?? null,
    xsec: d.xsec,
    sumGenWeights: d.sumGenWeights,
    events: d.events,
    files: d.files.length,
    lumiPb: d.lumiPb,
    scale: scaleOf(d.name),
  }));
  const row = (ds: string, region: string | null, c: CutflowJson): CutflowRow => ({
    dataset: ds,
    region,
    kind: info.datasets[ds]?.kind ?? "mc",
    process: processOf.get(ds) ?? null,
    scale: scaleOf(ds),
    steps: [...c.steps],
    raw: [...c.raw],
    weighted: [...c.weighted],
  });
  // runs with regions also hold one cutflow per (dataset, region); read when present
  const regionCutflows = (info as unknown as { regionCutflows?: Record<string, Record<string, CutflowJson>> }).regionCutflows ?? {};
  const cutflows: CutflowRow[] = [];
  for (const [ds, c] of Object.entries(info.cutflows)) {
    cutflows.push(row(ds, null, c));
    for (const [r, rc] of Object.entries(regionCutflows[ds] ?? {})) cutflows.push(row(ds, r, rc));
  }
  return {
    title: `histmaker plot: ${info.analysis}`,
    input: opts.input,
    analysis: info.analysis,
    generated: new Date().toISOString(),
    command: opts.command,
    scaled: !opts.unscaled,
    logDefault: opts.log ?? false,
    luminosityPb: info.luminosityPb,
    luminositySource: info.luminositySource,
    failures: info.failures.length,
    processes: processes.map((p) => ({ name: p.name, color: p.color, datasets: [...p.datasets] })),
    data: [...data],
    histograms,
    skipped,
    datasets,
    cutflows,
  };
}
