/**
 * The analysis-module API: what an `ANALYSIS.ts|.mjs|.js` file passed to `histmaker run` exports
 * (as its default export, usually through `defineAnalysis`). Everything here is columnar: derived
 * columns, selections and weights are functions of a whole chunk's columns returning typed arrays.
 */
import type { Column, JaggedColumn, NumericArray } from "./events.js";
import { isJagged } from "./events.js";
import type { CorrectionSet } from "./correctionlib/correctionSet.js";

/** A histogram axis as the analysis declares it (turned into a native axis by the runner). */
export type AxisSpec =
  | { type: "regular"; name: string; bins: number; lo: number; hi: number; label?: string; flow?: boolean }
  | { type: "variable"; name: string; edges: number[]; label?: string; flow?: boolean }
  | { type: "integer"; name: string; lo: number; hi: number; label?: string; flow?: boolean }
  | { type: "boolean"; name: string; label?: string }
  | { type: "categoryInt"; name: string; categories: number[]; label?: string; growth?: boolean }
  | { type: "categoryStr"; name: string; categories: string[]; label?: string; growth?: boolean };

/** Data or simulation, with where its events are and how it is normalised. */
export interface DatasetSpec {
  name: string;
  /** event files (.root, .h5/.hdf5 columnar); relative paths are relative to the analysis module */
  files: string[];
  kind: "data" | "mc";
  /** tree name inside ROOT files / group inside columnar files (default "Events") */
  tree?: string;
  /** simulation: cross-section in pb */
  xsec?: number;
  /** simulation: Σ generator weights of the whole sample; when absent it is summed over the processed files */
  sumGenWeights?: number;
  /**
   * simulation: take each file's Σ generator weights from a per-run tree instead of summing the events'
   * weights (for skimmed files), e.g. NanoAOD's {tree: "Runs", branch: "genEventSumw"}
   */
  sumGenWeightsFrom?: { tree: string; branch: string };
  /** simulation: per-event generator-weight column (default "genWeight"; absent column → weight 1) */
  genWeightColumn?: string;
  /** data: certification ("golden") JSON of run → [[firstLumi, lastLumi], ...] */
  certification?: string;
  /** data: per-(run, lumi block) luminosity CSV in brilcalc's format (recorded /ub) */
  lumiCsv?: string;
  /** data: keep only runs inside one of these periods (name → [firstRun, lastRun], inclusive) */
  runPeriods?: Record<string, [number, number]>;
  /** run / lumi-block columns (default "run" / "luminosityBlock") */
  runColumn?: string;
  lumiColumn?: string;
  /** free-form labels for the module's own functions (e.g. a process tag) */
  tags?: Record<string, string | number | boolean>;
}

/** What a column function sees besides the columns. */
export interface ChunkContext {
  dataset: DatasetSpec;
  isData: boolean;
  file: string;
  /** index of the chunk's first event in its file */
  start: number;
  length: number;
  /** the analysis' `corrections`, loaded once per run: ctx.corrections.muonSF["name"].evaluate(eta, pt, "nominal") */
  corrections: Readonly<Record<string, CorrectionSet>>;
}

/** One string per event (a derived column for string category axes). */
export type StringColumn = readonly string[];

/** The chunk's columns: read branches plus the derived columns computed so far. */
export type ColumnSet = Readonly<Record<string, Column | StringColumn>>;

export type ColumnFunction = (columns: ColumnSet, ctx: ChunkContext) => Column | StringColumn;
export type MaskFunction = (columns: ColumnSet, ctx: ChunkContext) => Uint8Array | NumericArray;
export type WeightFunction = (columns: ColumnSet, ctx: ChunkContext) => NumericArray;

export interface SelectionSpec {
  name: string;
  /** a boolean-like column name, or a function returning one value per event (non-zero = keep) */
  cut: string | MaskFunction;
  /** restrict the selection to data or simulation (default: both) */
  only?: "data" | "mc";
}

/**
 * Systematic variations as a K-wide tensor axis: per event K multiplicative factors on top of the
 * histogram's nominal weight, given as a jagged column with exactly K entries per event, or a function
 * returning an n×K row-major array (n = events in the chunk).
 */
export interface TensorWeightSpec {
  name: string;
  size: number;
  labels?: string[];
  weights: string | ((columns: ColumnSet, ctx: ChunkContext) => NumericArray | JaggedColumn);
}

export interface HistogramSpec {
  name: string;
  axes: AxisSpec[];
  /** one column name per axis */
  columns: string[];
  /** which datasets fill it: "all" (default), "data", "mc" or a list of dataset names */
  datasets?: "all" | "data" | "mc" | string[];
  /**
   * fill after this step of the preselection: "all" (before any cut), "certified" (data with a
   * certification) or a selection's name (default: after the last selection). Not with `regions`.
   */
  after?: string;
  /**
   * fill at the end of each of these regions' chains (after the preselection and the region's own
   * cuts): one histogram per region, stored as `<histogram>::<region>`, or with `regionAxis: true` one
   * histogram with a leading string category axis "region"
   */
  regions?: string[];
  regionAxis?: boolean;
  /** extra per-event weight on top of the event weight (column name or function) */
  weight?: string | WeightFunction;
  tensor?: TensorWeightSpec;
  /**
   * "weighted" (default: Σw and Σw²), "double" (Σw) or "count" (raw entries: event weights are
   * ignored, also in simulation, so one gets the unweighted MC statistics of each bin)
   */
  storage?: "double" | "weighted" | "count";
}

export interface AnalysisDefinition {
  name: string;
  datasets: DatasetSpec[];
  /** branches to read (default: every branch in the file) */
  branches?: string[];
  /** derived columns, computed in declaration order (each may use earlier ones) */
  columns?: Record<string, ColumnFunction>;
  /** named selections applied in order (the preselection common to every region); they make the cutflow */
  selections?: SelectionSpec[];
  /**
   * named regions, each a further chain of selections applied after the preselection (e.g. signal and
   * control regions); each region has its own cutflow ("preselection", then its cuts)
   */
  regions?: Record<string, SelectionSpec[]>;
  /** per-event weight for simulation on top of the generator weight (e.g. scale factors) */
  eventWeight?: WeightFunction;
  histograms: HistogramSpec[];
  /** integrated luminosity in /pb used to scale simulation when the run processes no certified data */
  luminosity?: number;
  /** events per chunk (default 100000) */
  chunkEntries?: number;
  /** correctionlib CorrectionSet files (.json or .json.gz; relative to the module), by the name columns use in ctx.corrections */
  corrections?: Record<string, string>;
}

/** Identity helper that gives an analysis module its types. */
export function defineAnalysis(def: AnalysisDefinition): AnalysisDefinition {
  return def;
}

/** Checks an analysis definition, naming the module and what is wrong. */
export function validateAnalysis(def: unknown, source: string): AnalysisDefinition {
  const fail = (what: string): never => {
    throw new AnalysisError(`${source}: ${what}`);
  };
  if (def === null || typeof def !== "object") fail("the module's default export is not an analysis object");
  const a = def as AnalysisDefinition;
  if (typeof a.name !== "string" || a.name === "") fail("analysis needs a non-empty `name`");
  if (!Array.isArray(a.datasets) || a.datasets.length === 0) fail("analysis declares no datasets");
  if (!Array.isArray(a.histograms) || a.histograms.length === 0) fail("analysis declares no histograms");
  const seen = new Set<string>();
  for (const d of a.datasets) {
    if (typeof d.name !== "string" || d.name === "") fail("a dataset has no name");
    if (seen.has(d.name)) fail(`dataset "${d.name}" is declared twice`);
    seen.add(d.name);
    if (d.kind !== "data" && d.kind !== "mc") fail(`dataset "${d.name}": kind must be "data" or "mc"`);
    if (!Array.isArray(d.files)) fail(`dataset "${d.name}": files must be a list of paths`);
    if (d.kind === "mc" && (typeof d.xsec !== "number" || !(d.xsec > 0)))
      fail(`dataset "${d.name}": simulation needs a positive xsec (pb)`);
    if (d.kind === "data" && d.lumiCsv !== undefined && d.certification === undefined)
      fail(`dataset "${d.name}": a lumiCsv needs a certification JSON (the luminosity counts certified blocks)`);
  }
  if (a.corrections !== undefined)
    for (const [k, f] of Object.entries(a.corrections === null || typeof a.corrections !== "object" ? { "": null } : a.corrections))
      if (typeof f !== "string" || f === "") fail(`corrections${k === "" ? "" : `.${k}`} must map names to CorrectionSet file paths`);
  const selNames = new Set<string>();
  const checkSelection = (s: SelectionSpec, names: Set<string>, where: string) => {
    if (s === null || typeof s !== "object" || typeof s.name !== "string" || s.name === "") fail(`a selection${where} has no name`);
    if (names.has(s.name)) fail(`selection "${s.name}"${where} is declared twice`);
    if (typeof s.cut !== "string" && typeof s.cut !== "function") fail(`selection "${s.name}"${where}: cut must be a column name or a function`);
    names.add(s.name);
  };
  if (a.selections !== undefined && !Array.isArray(a.selections)) fail("selections must be a list");
  for (const s of a.selections ?? []) checkSelection(s, selNames, "");
  const regionNames = new Set<string>();
  if (a.regions !== undefined) {
    if (a.regions === null || typeof a.regions !== "object" || Array.isArray(a.regions))
      fail("regions must be an object of region name → list of selections");
    for (const [r, chain] of Object.entries(a.regions)) {
      if (r === "" || r.includes("/") || r.includes("::") || r === "preselection")
        fail(`region name "${r}" must be non-empty without "/" or "::", and not "preselection" (the common chain's name)`);
      if (!Array.isArray(chain)) fail(`region "${r}": must be a list of selections`);
      const names = new Set<string>();
      for (const s of chain) checkSelection(s, names, ` in region "${r}"`);
      regionNames.add(r);
    }
  }
  const preselSteps = new Set(["all", "certified", ...selNames]);
  const histNames = new Set<string>();
  for (const h of a.histograms) {
    if (typeof h.name !== "string" || h.name === "" || h.name.includes("/") || h.name.includes("::"))
      fail(`histogram name "${String(h.name)}" must be non-empty without "/" or "::"`);
    if (histNames.has(h.name)) fail(`histogram "${h.name}" is declared twice`);
    histNames.add(h.name);
    if (!Array.isArray(h.axes) || !Array.isArray(h.columns) || h.axes.length !== h.columns.length)
      fail(`histogram "${h.name}": needs one column per axis`);
    if (h.after !== undefined && !preselSteps.has(h.after))
      fail(`histogram "${h.name}": after "${h.after}" is not a step of the preselection ("all", "certified" or a selection)`);
    if (h.regions !== undefined) {
      if (!Array.isArray(h.regions) || h.regions.length === 0) fail(`histogram "${h.name}": regions must be a non-empty list of region names`);
      if (h.after !== undefined) fail(`histogram "${h.name}": give either after (a preselection step) or regions, not both`);
      for (const r of h.regions) if (!regionNames.has(r)) fail(`histogram "${h.name}": unknown region "${r}"`);
      if (new Set(h.regions).size !== h.regions.length) fail(`histogram "${h.name}": a region is listed twice`);
      if (h.regionAxis && h.axes.some((ax) => ax?.name === "region")) fail(`histogram "${h.name}": regionAxis adds an axis "region", which it already has`);
    } else if (h.regionAxis) fail(`histogram "${h.name}": regionAxis needs regions`);
    if (h.storage === "count" && h.tensor !== undefined) fail(`histogram "${h.name}": count storage takes no tensor axis`);
    if (Array.isArray(h.datasets))
      for (const dn of h.datasets) if (!seen.has(dn)) fail(`histogram "${h.name}": unknown dataset "${dn}"`);
    if (h.tensor !== undefined && !(Number.isInteger(h.tensor.size) && h.tensor.size > 0))
      fail(`histogram "${h.name}": tensor size must be a positive integer`);
  }
  return a;
}

/** An analysis module that is malformed (reported as a user error by the CLI). */
export class AnalysisError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AnalysisError";
  }
}

// ---- small vectorised helpers for analysis modules ------------------------------------------

/** Number of entries per event of a jagged column. */
export function counts(col: JaggedColumn): Int32Array {
  const n = col.offsets.length - 1;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = col.offsets[i + 1] - col.offsets[i];
  return out;
}

/** The entry at position `index` of each event of a jagged column, or `fill` where it has fewer. */
export function pick(col: JaggedColumn, index: number, fill = Number.NaN): Float64Array {
  const n = col.offsets.length - 1;
  const out = new Float64Array(n);
  const v = col.values;
  for (let i = 0; i < n; i++) {
    const at = col.offsets[i] + index;
    out[i] = at < col.offsets[i + 1] ? Number(v[at]) : fill;
  }
  return out;
}

/** A flat column as float64 (jagged columns are refused: pick an entry first). */
export function asFloat64(col: Column, name = "column"): Float64Array {
  if (isJagged(col)) throw new AnalysisError(`${name} is jagged; pick an entry per event first`);
  if (col instanceof Float64Array) return col;
  const out = new Float64Array(col.length);
  for (let i = 0; i < col.length; i++) out[i] = Number(col[i]);
  return out;
}
