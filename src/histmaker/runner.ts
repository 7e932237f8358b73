/**
 * The analysis event loop: for each (dataset, file) of this shard, read chunks, compute derived
 * columns on demand, apply certification and the named selections as masks (recording the cutflow),
 * and fill the histograms of the selected events. Each file fills its own histograms, which are added
 * to the totals only when the whole file succeeded, so a retried or failed file never counts twice.
 */
import path from "node:path";
import type {
  AnalysisDefinition,
  AxisSpec,
  ChunkContext,
  ColumnSet,
  DatasetSpec,
  HistogramSpec,
  SelectionSpec,
  StringColumn,
} from "./analysis.js";
import { AnalysisError } from "./analysis.js";
import { Certification, LumiTable, collectBlocks, splitBlockKey } from "./certification.js";
import { Cutflow, regionCutflowSteps, type RegionCutflows } from "./cutflow.js";
import type { Column, EventChunk, JaggedColumn, NumericArray } from "./events.js";
import { isJagged } from "./events.js";
import { openEventSource, sumBranch } from "./eventSources.js";
import { Progress } from "./progress.js";
import { Hist } from "./Hist.js";
import * as axes from "./axes.js";
import type { Axis } from "./axes.js";
import { UserError } from "../errors.js";
import { loadAnalysisCorrections } from "./correctionlib/analysisCorrections.js";
import type { PoolStats } from "./runWorkers.js";

export interface Shard {
  index: number;
  count: number;
}

export interface RunOptions {
  /** directory relative dataset paths are resolved against (the analysis module's directory) */
  baseDir?: string;
  threads?: number;
  /** at most this many files per dataset */
  maxFiles?: number;
  shard?: Shard;
  /** extra attempts for a failing file (default 1); files failing after them end up in `failures` */
  retries?: number;
  progress?: boolean;
  /** messages (warnings, retries); default: stderr */
  log?: (message: string) => void;
  /**
   * files processed at the same time (default 1): by this thread and jobs − 1 worker threads; each
   * worker loads the analysis from `modulePath`, and the per-file results are added in file order,
   * so the output is the same
   */
  jobs?: number;
  modulePath?: string;
  /** with jobs > 1: told how the files were spread over the jobs (tests, benchmarks) */
  onJobs?: (stats: PoolStats) => void;
}

export interface FileFailure {
  dataset: string;
  file: string;
  attempts: number;
  error: string;
}

export interface DatasetResult {
  name: string;
  kind: "data" | "mc";
  xsec: number | null;
  /** Σ generator weights used for scaling: given by the analysis or summed over the processed files */
  sumGenWeights: number;
  sumGenWeightsSource: "given" | "files";
  /** files whose events all went in */
  files: string[];
  /**
   * the entry range [start, stop) processed of each of `files` (the whole file today); a file's
   * identity in `merge` is (dataset, file, range). Absent in outputs of older versions (whole files).
   */
  entryRanges?: [number, number][];
  events: number;
  /** certified (run, block) keys seen in the processed data (run · 2^32 + block), sorted */
  lumiBlocks: number[];
  /** recorded luminosity (/pb) of each of lumiBlocks (0 where the lumi CSV lacks the block) */
  lumiBlockPb: number[];
  /** recorded luminosity (/pb) of lumiBlocks, from the dataset's lumi CSV; null without one */
  lumiPb: number | null;
  /** blocks certified and processed but absent from the lumi CSV */
  missingLumiBlocks: number;
  /** the dataset's run periods, and the recorded luminosity (/pb) processed in each (with a lumi CSV) */
  runPeriods: Record<string, [number, number]> | null;
  lumiPerPeriodPb: Record<string, number> | null;
}

/** Luminosity per run period from the processed blocks. */
export function lumiPerPeriod(d: Pick<DatasetResult, "lumiBlocks" | "lumiBlockPb" | "runPeriods">): Record<string, number> | null {
  if (d.runPeriods == null) return null;
  const out: Record<string, number> = {};
  for (const [name, [lo, hi]] of Object.entries(d.runPeriods)) {
    let s = 0;
    d.lumiBlocks.forEach((k, i) => {
      const run = splitBlockKey(k)[0];
      if (run >= lo && run <= hi) s += d.lumiBlockPb[i] ?? 0;
    });
    out[name] = s;
  }
  return out;
}

export interface RunResult {
  analysis: string;
  datasets: Record<string, DatasetResult>;
  hists: Record<string, Record<string, Hist>>;
  cutflows: Record<string, Cutflow>;
  /** per dataset, per region: the region's cutflow (empty objects without regions) */
  regionCutflows: RegionCutflows;
  failures: FileFailure[];
  /** luminosity (/pb) simulation is scaled to, null when unknown (simulation then stays unscaled) */
  luminosityPb: number | null;
  luminositySource: "data" | "analysis" | "none";
  /** per dataset: σ·L/Σw for simulation, 1 for data */
  scales: Record<string, number>;
  shard: Shard | null;
  /** the analysis' own `luminosity` (/pb), the fallback for scaling simulation */
  analysisLuminosityPb: number | null;
}

interface WorkItem {
  dataset: DatasetSpec;
  file: string;
}

/** The (dataset, file) pairs of a shard: --max-files per dataset first, then global index mod N. */
export function planFiles(def: AnalysisDefinition, opts: Pick<RunOptions, "baseDir" | "maxFiles" | "shard">): WorkItem[] {
  const all: WorkItem[] = [];
  for (const ds of def.datasets) {
    const files = opts.maxFiles !== undefined ? ds.files.slice(0, opts.maxFiles) : ds.files;
    for (const f of files) all.push({ dataset: ds, file: resolvePath(f, opts.baseDir) });
  }
  const shard = opts.shard;
  return shard ? all.filter((_, i) => i % shard.count === shard.index) : all;
}

function resolvePath(p: string, baseDir?: string): string {
  return baseDir && !path.isAbsolute(p) ? path.resolve(baseDir, p) : p;
}

/** Converts an analysis axis declaration into a histogram axis. */
export function toAxis(spec: AxisSpec): Axis {
  const flow = "flow" in spec && spec.flow !== undefined ? { underflow: spec.flow, overflow: spec.flow } : {};
  switch (spec.type) {
    case "regular":
      return axes.regular(spec.bins, spec.lo, spec.hi, { name: spec.name, label: spec.label, ...flow });
    case "variable":
      return axes.variable(spec.edges, { name: spec.name, label: spec.label, ...flow });
    case "integer":
      return axes.integer(spec.lo, spec.hi, { name: spec.name, label: spec.label, ...flow });
    case "boolean":
      return axes.boolean({ name: spec.name, label: spec.label });
    case "categoryInt":
      return axes.categoryInt(spec.categories, { name: spec.name, label: spec.label, growth: spec.growth });
    case "categoryStr":
      return axes.categoryStr(spec.categories, { name: spec.name, label: spec.label, growth: spec.growth });
    default:
      throw new AnalysisError(`unknown axis type ${(spec as { type: string }).type}`);
  }
}

export function histogramsFor(def: AnalysisDefinition, ds: DatasetSpec): HistogramSpec[] {
  return def.histograms.filter((h) => {
    const sel = h.datasets ?? "all";
    if (sel === "all") return true;
    if (sel === "data") return ds.kind === "data";
    if (sel === "mc") return ds.kind === "mc";
    return sel.includes(ds.name);
  });
}

/** A histogram as stored: `name`, or `name::region` for one histogram per region. */
export interface HistInstance {
  key: string;
  spec: HistogramSpec;
  /** the region this instance is filled in (null: the preselection, or all regions on a region axis) */
  region: string | null;
}

/** The stored histograms a histogram declaration makes (one per region unless regionAxis). */
export function histInstances(spec: HistogramSpec): HistInstance[] {
  if (spec.regions === undefined || spec.regionAxis) return [{ key: spec.name, spec, region: null }];
  return spec.regions.map((r) => ({ key: `${spec.name}${REGION_SEPARATOR}${r}`, spec, region: r }));
}

export const REGION_SEPARATOR = "::";

export function newHist(spec: HistogramSpec): Hist {
  const storage = spec.storage ?? "weighted";
  const tensor = spec.tensor ? { name: spec.tensor.name, size: spec.tensor.size, labels: spec.tensor.labels } : undefined;
  const axisList = spec.axes.map(toAxis);
  if (spec.regions !== undefined && spec.regionAxis) axisList.unshift(axes.categoryStr(spec.regions, { name: "region", overflow: false }));
  return new Hist(axisList, { storage, ...(tensor ? { tensor } : {}) });
}

/** Steps of a dataset's cutflow. */
export function cutflowSteps(def: AnalysisDefinition, ds: DatasetSpec): string[] {
  const steps = ["all"];
  if (hasCertifiedStep(ds)) steps.push("certified");
  for (const s of def.selections ?? []) steps.push(s.name);
  return steps;
}

function hasCertifiedStep(ds: DatasetSpec): boolean {
  return ds.kind === "data" && (ds.certification !== undefined || ds.runPeriods !== undefined);
}

/** An empty per-region cutflow set of the analysis (one Cutflow per region). */
function newRegionCutflows(def: AnalysisDefinition): Record<string, Cutflow> {
  return Object.fromEntries(Object.entries(def.regions ?? {}).map(([r, cuts]) => [r, new Cutflow(regionCutflowSteps(cuts))]));
}

/** Everything one worker (or the main thread) needs to process files: the analysis and its inputs. */
export interface FileProcessor {
  def: AnalysisDefinition;
  certs: Map<string, Certification>;
  threads: number;
  retries: number;
  corrections: ChunkContext["corrections"];
}

/** Loads the certification JSONs of the analysis' data datasets. */
export function loadCertifications(def: AnalysisDefinition, baseDir?: string): Map<string, Certification> {
  const certs = new Map<string, Certification>();
  for (const ds of def.datasets) {
    if (ds.kind !== "data") continue;
    if (ds.certification !== undefined) certs.set(ds.name, Certification.fromFile(resolvePath(ds.certification, baseDir), ds.runPeriods));
    else if (ds.runPeriods !== undefined) certs.set(ds.name, new Certification(null, ds.runPeriods));
  }
  return certs;
}

/** The outcome of one (dataset, file) after its retries: its contribution, or the failure. */
export interface FileOutcome {
  part: FilePart | null;
  failure: FileFailure | null;
}

/**
 * Processes one file with retries. Events of a failed attempt are taken back from the progress
 * (discard); an AnalysisError (a bug in the analysis module) is not retried but thrown.
 */
export async function processWithRetries(
  fp: FileProcessor,
  item: { dataset: DatasetSpec; file: string },
  hooks: { onChunk: (n: number, fraction: number) => void; discard: (n: number) => void; say: (m: string) => void },
): Promise<FileOutcome> {
  const ds = item.dataset;
  let lastError = "";
  for (let attempt = 1; attempt <= fp.retries + 1; attempt++) {
    let counted = 0;
    try {
      const part = await processFile(fp.def, ds, item.file, {
        cert: fp.certs.get(ds.name) ?? null,
        threads: fp.threads,
        corrections: fp.corrections,
        onChunk: (n, fraction) => {
          counted += n;
          hooks.onChunk(n, fraction);
        },
      });
      return { part, failure: null };
    } catch (err) {
      if (err instanceof AnalysisError) throw err;
      hooks.discard(counted);
      lastError = err instanceof Error ? err.message : String(err);
      hooks.say(`${ds.name}: ${item.file} failed (attempt ${attempt}/${fp.retries + 1}): ${lastError}`);
    }
  }
  return { part: null, failure: { dataset: ds.name, file: item.file, attempts: fp.retries + 1, error: lastError } };
}

/** Runs the analysis over this shard's files. Failures are collected, never silently dropped. */
export async function runAnalysis(def: AnalysisDefinition, opts: RunOptions = {}): Promise<RunResult> {
  const log = opts.log ?? ((m: string) => process.stderr.write(m + "\n"));
  const work = planFiles(def, opts);
  const retries = opts.retries ?? 1;
  const threads = opts.threads ?? 1;
  const jobs = opts.jobs ?? 1;
  if (!Number.isInteger(jobs) || jobs < 1) throw new UserError(`--jobs: expected an integer >= 1, got ${jobs}`);
  if (jobs > 1 && opts.modulePath === undefined) throw new UserError("jobs > 1 needs the analysis module's path (workers load it themselves)");
  const corrections = loadAnalysisCorrections(def.corrections, opts.baseDir);

  const certs = loadCertifications(def, opts.baseDir);
  const lumiTables = new Map<string, LumiTable>();
  for (const ds of def.datasets)
    if (ds.kind === "data" && ds.lumiCsv !== undefined) lumiTables.set(ds.name, LumiTable.fromFile(resolvePath(ds.lumiCsv, opts.baseDir)));

  const result: RunResult = {
    analysis: def.name,
    datasets: {},
    hists: {},
    cutflows: {},
    regionCutflows: {},
    failures: [],
    luminosityPb: null,
    luminositySource: "none",
    scales: {},
    shard: opts.shard ?? null,
    analysisLuminosityPb: def.luminosity ?? null,
  };
  const blockSets = new Map<string, Set<number>>();
  for (const ds of def.datasets) {
    result.datasets[ds.name] = {
      name: ds.name,
      kind: ds.kind,
      xsec: ds.xsec ?? null,
      sumGenWeights: 0,
      sumGenWeightsSource: ds.sumGenWeights !== undefined ? "given" : "files",
      files: [],
      entryRanges: [],
      events: 0,
      lumiBlocks: [],
      lumiBlockPb: [],
      lumiPb: null,
      missingLumiBlocks: 0,
      runPeriods: ds.runPeriods ?? null,
      lumiPerPeriodPb: null,
    };
    result.hists[ds.name] = newHists(def, ds);
    result.cutflows[ds.name] = new Cutflow(cutflowSteps(def, ds));
    result.regionCutflows[ds.name] = newRegionCutflows(def);
    blockSets.set(ds.name, new Set());
  }

  const progress = new Progress({ totalFiles: work.length, enabled: opts.progress ?? false });
  const say = (m: string) => (opts.progress ? progress.log(m) : log(m));
  // per-file results are added in file order, whatever order they finish in, so that the sums
  // (floating-point additions) are the same for any number of jobs
  const fold = (i: number, outcome: FileOutcome) => {
    const item = work[i];
    const ds = item.dataset;
    if (outcome.failure) {
      result.failures.push(outcome.failure);
      return;
    }
    const part = outcome.part!;
    for (const [name, h] of Object.entries(part.hists)) result.hists[ds.name][name].add(h);
    result.cutflows[ds.name].add(part.cutflow, `${ds.name}`);
    for (const [r, c] of Object.entries(part.regionCutflows)) result.regionCutflows[ds.name][r].add(c, `${ds.name} region ${r}`);
    const dr = result.datasets[ds.name];
    dr.sumGenWeights += part.sumGenWeights;
    dr.events += part.events;
    dr.files.push(item.file);
    dr.entryRanges!.push([0, part.events]);
    const set = blockSets.get(ds.name)!;
    for (const k of part.blocks) set.add(k);
  };

  try {
    const fp: FileProcessor = { def, certs, threads, retries, corrections };
    if (jobs > 1 && work.length > 1) {
      const { runInWorkers } = await import("./runWorkers.js");
      const stats = await runInWorkers(work, Math.min(jobs, work.length), {
        modulePath: opts.modulePath!,
        baseDir: opts.baseDir,
        threads,
        retries,
        progress,
        say,
        processHere: (item, hooks) => processWithRetries(fp, item, hooks),
        onOutcome: fold,
      });
      opts.onJobs?.(stats);
    } else {
      for (let i = 0; i < work.length; i++) {
        const outcome = await processWithRetries(fp, work[i], {
          onChunk: (n, f) => progress.addEvents(n, f),
          discard: (n) => progress.discardEvents(n),
          say,
        });
        fold(i, outcome);
        progress.fileDone(outcome.failure === null);
      }
    }
  } catch (err) {
    progress.finish();
    if (err instanceof AnalysisError) throw new UserError(err.message);
    throw err;
  }
  progress.finish();

  // a given Σ generator weights is for the whole sample: with --max-files cutting the sample, the
  // processed files' own sum is the right normalisation
  const truncated = new Set(def.datasets.filter((d) => opts.maxFiles !== undefined && d.files.length > opts.maxFiles).map((d) => d.name));
  for (const name of truncated) {
    const dr = result.datasets[name];
    if (dr.sumGenWeightsSource === "given") {
      dr.sumGenWeightsSource = "files";
      say(`warning: ${name}: --max-files processes part of the sample; normalising to the Σ generator weights of the processed files, not the given one`);
    }
  }
  finaliseLuminosity(def, result, blockSets, lumiTables, say);
  return result;
}

/** The empty histograms a dataset fills, by stored name. */
export function newHists(def: AnalysisDefinition, ds: DatasetSpec): Record<string, Hist> {
  const out: Record<string, Hist> = {};
  for (const h of histogramsFor(def, ds)) for (const inst of histInstances(h)) out[inst.key] = newHist(h);
  return out;
}

/** Fills per-dataset luminosity from processed blocks, then the simulation scales σ·L/Σw. */
export function finaliseLuminosity(
  def: AnalysisDefinition,
  result: RunResult,
  blockSets: Map<string, Set<number>>,
  lumiTables: Map<string, LumiTable>,
  say: (m: string) => void,
): void {
  let dataLumi = 0;
  let anyLumi = false;
  for (const ds of def.datasets) {
    const dr = result.datasets[ds.name];
    if (ds.kind === "mc") {
      if (ds.sumGenWeights !== undefined && dr.sumGenWeightsSource === "given") dr.sumGenWeights = ds.sumGenWeights;
      continue;
    }
    const blocks = [...(blockSets.get(ds.name) ?? [])].sort((a, b) => a - b);
    dr.lumiBlocks = blocks;
    const table = lumiTables.get(ds.name);
    if (table) {
      const { lumiPb, missing } = table.sum(blocks);
      dr.lumiBlockPb = blocks.map((k) => table.recordedPb.get(k) ?? 0);
      dr.lumiPb = lumiPb;
      dr.lumiPerPeriodPb = lumiPerPeriod(dr);
      dr.missingLumiBlocks = missing.length;
      if (missing.length > 0) {
        const [r, l] = splitBlockKey(missing[0]);
        say(`warning: ${ds.name}: ${missing.length} certified blocks are not in ${ds.lumiCsv} (first: run ${r} block ${l}); counted as 0 luminosity`);
      }
      dataLumi += lumiPb;
      anyLumi = true;
    }
  }
  applyScales(result, anyLumi ? dataLumi : null, say);
}

/** Luminosity for simulation: the processed certified data if known, else the analysis' `luminosity`. */
export function applyScales(result: RunResult, dataLumi: number | null, say: (m: string) => void): void {
  const analysisLumi = result.analysisLuminosityPb;
  if (dataLumi !== null) {
    result.luminosityPb = dataLumi;
    result.luminositySource = "data";
  } else if (analysisLumi !== null) {
    result.luminosityPb = analysisLumi;
    result.luminositySource = "analysis";
  } else {
    result.luminosityPb = null;
    result.luminositySource = "none";
  }
  for (const dr of Object.values(result.datasets)) {
    if (dr.kind === "data") {
      result.scales[dr.name] = 1;
      continue;
    }
    if (result.luminosityPb === null || dr.xsec === null || !(dr.sumGenWeights !== 0)) {
      result.scales[dr.name] = 1;
      if (dr.files.length > 0 || dr.sumGenWeightsSource === "given")
        say(`warning: ${dr.name}: simulation left unscaled (${result.luminosityPb === null ? "no luminosity" : "Σ generator weights is 0"})`);
      continue;
    }
    result.scales[dr.name] = (dr.xsec * result.luminosityPb) / dr.sumGenWeights;
  }
}


/** What one file contributes: its histograms, cutflows, Σ generator weights, events and lumi blocks. */
export interface FilePart {
  hists: Record<string, Hist>;
  cutflow: Cutflow;
  regionCutflows: Record<string, Cutflow>;
  sumGenWeights: number;
  events: number;
  blocks: Set<number>;
}

interface FileOptions {
  cert: Certification | null;
  threads: number;
  corrections: ChunkContext["corrections"];
  onChunk: (events: number, fileFraction: number) => void;
}

async function processFile(def: AnalysisDefinition, ds: DatasetSpec, file: string, fo: FileOptions): Promise<FilePart> {
  const specs = histogramsFor(def, ds);
  const part: FilePart = {
    hists: newHists(def, ds),
    cutflow: new Cutflow(cutflowSteps(def, ds)),
    regionCutflows: newRegionCutflows(def),
    sumGenWeights: 0,
    events: 0,
    blocks: new Set(),
  };
  const source = await openEventSource(file, ds.tree ?? "Events");
  try {
    const branches = def.branches;
    for await (const chunk of source.iterate({ branches, chunkEntries: def.chunkEntries ?? 100_000 })) {
      await processChunk(def, ds, chunk, specs, part, fo);
      part.events += chunk.length;
      const fraction = Number.isFinite(source.entries) && source.entries > 0 ? (chunk.start + chunk.length) / source.entries : 0;
      fo.onChunk(chunk.length, fraction);
    }
  } finally {
    source.close();
  }
  if (ds.kind === "mc" && ds.sumGenWeightsFrom !== undefined)
    part.sumGenWeights = await sumBranch(file, ds.sumGenWeightsFrom.tree, ds.sumGenWeightsFrom.branch);
  return part;
}

type AnyColumn = Column | StringColumn;

function isStringColumn(c: AnyColumn): c is StringColumn {
  return Array.isArray(c) && (c.length === 0 || typeof c[0] === "string");
}

function lengthOf(c: AnyColumn): number {
  return isJagged(c as Column) ? (c as JaggedColumn).offsets.length - 1 : (c as NumericArray | StringColumn).length;
}

/** Columns with derived ones computed on first use (once per chunk), in a plain-object view. */
function lazyColumns(def: AnalysisDefinition, chunk: EventChunk, ctx: ChunkContext): ColumnSet {
  const view: Record<string, AnyColumn> = { ...chunk.columns };
  for (const [name, fn] of Object.entries(def.columns ?? {})) {
    let cached: AnyColumn | undefined;
    Object.defineProperty(view, name, {
      enumerable: true,
      get: () => {
        if (cached === undefined) {
          const c = fn(view, ctx);
          const n = lengthOf(c);
          if (n !== ctx.length) throw new AnalysisError(`derived column "${name}" has ${n} values for a chunk of ${ctx.length} events`);
          cached = c;
        }
        return cached;
      },
    });
  }
  return view;
}

function column(cols: ColumnSet, name: string, what: string): AnyColumn {
  const c = cols[name];
  if (c === undefined) throw new Error(`${what}: no column "${name}" (not read, not derived)`);
  return c;
}

function flat(cols: ColumnSet, name: string, what: string): NumericArray {
  const c = column(cols, name, what);
  if (isStringColumn(c)) throw new AnalysisError(`${what}: column "${name}" holds strings; expected numbers`);
  if (isJagged(c)) throw new AnalysisError(`${what}: column "${name}" is jagged; derive one value per event first`);
  return c;
}

/** Applies a chain of selections to `mask` (in place), recording each step and calling `after` with its name. */
async function applyChain(
  chain: SelectionSpec[],
  cols: ColumnSet,
  ctx: ChunkContext,
  ds: DatasetSpec,
  mask: Uint8Array,
  weight: Float64Array | null,
  flow: Cutflow,
  firstStep: number,
  after: (step: string) => Promise<void>,
  where = "",
): Promise<void> {
  const n = ctx.length;
  let step = firstStep;
  for (const sel of chain) {
    const applies = sel.only === undefined || sel.only === ds.kind;
    if (applies) {
      const what = `selection "${sel.name}"${where}`;
      const m = typeof sel.cut === "string" ? flat(cols, sel.cut, what) : sel.cut(cols, ctx);
      checkLength(m.length, n, what);
      for (let i = 0; i < n; i++) if (mask[i] !== 0 && Number(m[i]) === 0) mask[i] = 0;
    }
    flow.record(step++, mask, weight, n);
    await after(sel.name);
  }
}

async function processChunk(
  def: AnalysisDefinition,
  ds: DatasetSpec,
  chunk: EventChunk,
  specs: HistogramSpec[],
  part: FilePart,
  fo: FileOptions,
): Promise<void> {
  const n = chunk.length;
  const ctx: ChunkContext = { dataset: ds, isData: ds.kind === "data", file: chunk.file, start: chunk.start, length: n, corrections: fo.corrections };
  const cols = lazyColumns(def, chunk, ctx);

  // event weights: generator weight × analysis weight for simulation; none (1) for data
  let weight: Float64Array | null = null;
  if (ds.kind === "mc") {
    const gwName = ds.genWeightColumn ?? "genWeight";
    const gw = cols[gwName];
    weight = new Float64Array(n);
    if (gw === undefined) {
      if (ds.genWeightColumn !== undefined) throw new Error(`${ds.name}: no generator-weight column "${gwName}"`);
      weight.fill(1);
    } else {
      if (isStringColumn(gw) || isJagged(gw)) throw new AnalysisError(`${ds.name}: generator weight "${gwName}" is not one number per event`);
      for (let i = 0; i < n; i++) weight[i] = Number(gw[i]);
    }
    let s = 0;
    for (let i = 0; i < n; i++) s += weight[i];
    part.sumGenWeights += s;
    if (def.eventWeight) {
      const ew = def.eventWeight(cols, ctx);
      checkLength(ew.length, n, "eventWeight");
      for (let i = 0; i < n; i++) weight[i] *= Number(ew[i]);
    }
  }

  // preselection histograms by the step they are filled after
  const fillAfter = new Map<string, HistogramSpec[]>();
  const lastSel = def.selections?.length ? def.selections[def.selections.length - 1].name : hasCertifiedStep(ds) ? "certified" : "all";
  for (const h of specs) {
    if (h.regions !== undefined) continue;
    const key = h.after === "certified" && !hasCertifiedStep(ds) ? "all" : (h.after ?? lastSel);
    fillAfter.set(key, [...(fillAfter.get(key) ?? []), h]);
  }
  const fillAt = (step: string, mask: Uint8Array) =>
    fillHists(
      (fillAfter.get(step) ?? []).map((spec) => ({ spec, key: spec.name, region: null })),
      cols,
      ctx,
      mask,
      weight,
      part,
      fo,
    );

  const mask = new Uint8Array(n).fill(1);
  let step = 0;
  part.cutflow.record(step++, null, weight, n);
  await fillAt("all", mask);

  if (hasCertifiedStep(ds) && fo.cert !== null) {
    const run = flat(cols, ds.runColumn ?? "run", ds.name);
    const lumi = flat(cols, ds.lumiColumn ?? "luminosityBlock", ds.name);
    const cm = fo.cert.mask(run, lumi);
    for (let i = 0; i < n; i++) mask[i] &= cm[i];
    collectBlocks(run, lumi, mask, part.blocks);
    part.cutflow.record(step++, mask, weight, n);
    await fillAt("certified", mask);
  }

  await applyChain(def.selections ?? [], cols, ctx, ds, mask, weight, part.cutflow, step, (name) => fillAt(name, mask));

  // regions: each a further chain on a copy of the preselection mask
  for (const [region, cuts] of Object.entries(def.regions ?? {})) {
    const rmask = mask.slice();
    const flow = part.regionCutflows[region];
    flow.record(0, rmask, weight, n);
    await applyChain(cuts, cols, ctx, ds, rmask, weight, flow, 1, async () => undefined, ` in region "${region}"`);
    const targets: HistInstance[] = [];
    for (const h of specs) {
      if (!h.regions?.includes(region)) continue;
      targets.push(h.regionAxis ? { spec: h, key: h.name, region } : { spec: h, key: `${h.name}${REGION_SEPARATOR}${region}`, region });
    }
    await fillHists(targets, cols, ctx, rmask, weight, part, fo);
  }
}

function checkLength(got: number, want: number, what: string): void {
  if (got !== want) throw new AnalysisError(`${what} returned ${got} values for a chunk of ${want} events`);
}

/**
 * The entries a histogram fills: one per selected event, or, when some of its columns are jagged,
 * one per object of the selected events (all jagged columns must have as many objects per event).
 */
interface FillEntries {
  /** event index (within the chunk) of each entry */
  event: Int32Array;
  /** position of each entry's object within its event; null when the histogram is per event */
  rank: Int32Array | null;
}

/** Checks that a jagged column has the same number of objects per event as the reference one. */
function checkSameObjects(what: string, refName: string, ref: JaggedColumn, name: string, col: JaggedColumn, ctx: ChunkContext): void {
  if (col.offsets === ref.offsets) return;
  for (let e = 0; e < ctx.length; e++) {
    const a = ref.offsets[e + 1] - ref.offsets[e];
    const b = col.offsets[e + 1] - col.offsets[e];
    if (a !== b)
      throw new AnalysisError(
        `${what}: jagged columns "${refName}" and "${name}" differ in their objects (event ${ctx.start + e} of ${ctx.file}: ${a} vs ${b} entries); per-object fills need columns of the same objects`,
      );
  }
}

function fillEntries(h: HistogramSpec, cols: ColumnSet, ctx: ChunkContext, idx: Int32Array, jaggedNames: string[]): FillEntries {
  if (jaggedNames.length === 0) return { event: idx, rank: null };
  const what = `histogram "${h.name}"`;
  const ref = cols[jaggedNames[0]] as JaggedColumn;
  for (const name of jaggedNames.slice(1)) checkSameObjects(what, jaggedNames[0], ref, name, cols[name] as JaggedColumn, ctx);
  let total = 0;
  for (let i = 0; i < idx.length; i++) total += ref.offsets[idx[i] + 1] - ref.offsets[idx[i]];
  const event = new Int32Array(total);
  const rank = new Int32Array(total);
  for (let i = 0, j = 0; i < idx.length; i++) {
    const e = idx[i];
    const n = ref.offsets[e + 1] - ref.offsets[e];
    for (let k = 0; k < n; k++, j++) {
      event[j] = e;
      rank[j] = k;
    }
  }
  return { event, rank };
}

/** The values of a jagged column at the fill entries (each column indexed by its own offsets). */
function gatherObjects(col: JaggedColumn, entries: FillEntries): Float64Array {
  const { event, rank } = entries;
  const out = new Float64Array(event.length);
  const o = col.offsets;
  const v = col.values;
  for (let j = 0; j < event.length; j++) out[j] = Number(v[o[event[j]] + rank![j]]);
  return out;
}

/** A string category axis' strings per event: a derived string column, or a ROOT string branch (UTF-8 bytes per event). */
function stringsPerEvent(c: AnyColumn, what: string, colName: string, axisName: string): StringColumn {
  if (isStringColumn(c)) return c;
  if (isJagged(c as Column) && (c as JaggedColumn).values instanceof Uint8Array) {
    const j = c as JaggedColumn;
    const dec = new TextDecoder();
    const v = j.values as Uint8Array;
    return Array.from({ length: j.offsets.length - 1 }, (_, i) => dec.decode(v.subarray(j.offsets[i], j.offsets[i + 1])));
  }
  throw new AnalysisError(`${what}: axis "${axisName}" is a string category axis but column "${colName}" holds numbers; give a string branch or a derived column of strings`);
}

async function fillHists(
  targets: HistInstance[],
  cols: ColumnSet,
  ctx: ChunkContext,
  mask: Uint8Array,
  weight: Float64Array | null,
  part: FilePart,
  fo: FileOptions,
): Promise<void> {
  if (targets.length === 0) return;
  let nsel = 0;
  for (let i = 0; i < mask.length; i++) nsel += mask[i];
  if (nsel === 0) return;
  const idx = new Int32Array(nsel);
  for (let i = 0, j = 0; i < mask.length; i++) if (mask[i] !== 0) idx[j++] = i;

  for (const { spec: h, key, region } of targets) {
    const what = `histogram "${h.name}"`;
    const raw = h.columns.map((c) => column(cols, c, what));
    const isStrAxis = h.axes.map((ax) => ax.type === "categoryStr");
    const jaggedNames = h.columns.filter((c, a) => !isStrAxis[a] && !isStringColumn(raw[a]) && isJagged(raw[a] as Column));
    const entries = fillEntries(h, cols, ctx, idx, jaggedNames);
    const { event } = entries;
    const m = event.length;
    if (m === 0) continue;
    const columns: (Float64Array | string[])[] = raw.map((c, a) => {
      if (isStrAxis[a]) {
        const strs = stringsPerEvent(c, what, h.columns[a], h.axes[a].name);
        return Array.from(event, (e) => strs[e]);
      }
      if (isStringColumn(c)) throw new AnalysisError(`${what}: column "${h.columns[a]}" holds strings but axis "${h.axes[a].name}" is numeric`);
      if (isJagged(c)) return gatherObjects(c, entries);
      return gather(c, event);
    });
    if (h.regionAxis && region !== null) columns.unshift(new Array<string>(m).fill(region));
    const hist = part.hists[key];
    // count storage counts raw entries: weights are ignored, also in simulation
    if (hist.storage === "count") {
      await hist.fill(columns, { threads: fo.threads });
      continue;
    }
    let w: Float64Array | null = weight ? gather(weight, event) : null;
    if (h.weight !== undefined) {
      const hw: AnyColumn = typeof h.weight === "string" ? column(cols, h.weight, what) : h.weight(cols, ctx);
      if (isStringColumn(hw)) throw new AnalysisError(`${what}: weight column holds strings`);
      let g: Float64Array;
      if (isJagged(hw)) {
        // a per-object weight must belong to the same objects as the histogram's jagged columns
        if (entries.rank === null) throw new AnalysisError(`${what}: weight is jagged but the histogram's columns are one value per event`);
        checkSameObjects(what, jaggedNames[0], cols[jaggedNames[0]] as JaggedColumn, "weight", hw, ctx);
        g = gatherObjects(hw, entries);
      } else {
        checkLength(hw.length, ctx.length, `${what} weight`);
        g = gather(hw, event);
      }
      if (w) for (let i = 0; i < m; i++) w[i] *= g[i];
      else w = g;
    }
    if (h.tensor) {
      const k = h.tensor.size;
      const tw = tensorRows(h, cols, ctx, event);
      // fold the nominal weight into the K tensor weights
      if (w) for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) tw[i * k + j] *= w[i];
      await hist.fill(columns, { tensorWeights: tw, threads: fo.threads });
    } else {
      await hist.fill(columns, { ...(w ? { weight: w } : {}), threads: fo.threads });
    }
  }
}

function gather(src: NumericArray, idx: Int32Array): Float64Array {
  const out = new Float64Array(idx.length);
  for (let i = 0; i < idx.length; i++) out[i] = Number(src[idx[i]]);
  return out;
}

/** The selected entries' K tensor weights (per event, repeated for each object), row-major n × K. */
function tensorRows(h: HistogramSpec, cols: ColumnSet, ctx: ChunkContext, idx: Int32Array): Float64Array {
  const t = h.tensor!;
  const k = t.size;
  const what = `histogram "${h.name}" tensor "${t.name}"`;
  const src: AnyColumn = typeof t.weights === "string" ? column(cols, t.weights, what) : t.weights(cols, ctx);
  if (isStringColumn(src)) throw new AnalysisError(`${what}: weights hold strings`);
  const out = new Float64Array(idx.length * k);
  if (isJagged(src)) {
    for (let i = 0; i < idx.length; i++) {
      const e = idx[i];
      const lo = src.offsets[e];
      if (src.offsets[e + 1] - lo !== k)
        throw new AnalysisError(`${what}: event ${ctx.start + e} has ${src.offsets[e + 1] - lo} weights, expected ${k}`);
      for (let j = 0; j < k; j++) out[i * k + j] = Number(src.values[lo + j]);
    }
  } else {
    checkLength(src.length, ctx.length * k, `${what} (n×K)`);
    for (let i = 0; i < idx.length; i++) {
      const base = idx[i] * k;
      for (let j = 0; j < k; j++) out[i * k + j] = Number(src[base + j]);
    }
  }
  return out;
}
