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
} from "./analysis.js";
import { AnalysisError } from "./analysis.js";
import { Certification, LumiTable, collectBlocks, splitBlockKey } from "./certification.js";
import { Cutflow } from "./cutflow.js";
import type { Column, EventChunk, JaggedColumn, NumericArray } from "./events.js";
import { isJagged } from "./events.js";
import { openEventSource, sumBranch } from "./eventSources.js";
import { Progress } from "./progress.js";
import { Hist } from "./Hist.js";
import * as axes from "./axes.js";
import type { Axis } from "./axes.js";
import { UserError } from "../errors.js";
import { loadAnalysisCorrections } from "./correctionlib/analysisCorrections.js";

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

export function newHist(spec: HistogramSpec): Hist {
  const storage = spec.storage ?? "weighted";
  const tensor = spec.tensor ? { name: spec.tensor.name, size: spec.tensor.size, labels: spec.tensor.labels } : undefined;
  return new Hist(spec.axes.map(toAxis), { storage, ...(tensor ? { tensor } : {}) });
}

/** Steps of a dataset's cutflow. */
export function cutflowSteps(def: AnalysisDefinition, ds: DatasetSpec): string[] {
  const steps = ["all"];
  if (ds.kind === "data" && (ds.certification !== undefined || ds.runPeriods !== undefined)) steps.push("certified");
  for (const s of def.selections ?? []) steps.push(s.name);
  return steps;
}

/** Runs the analysis over this shard's files. Failures are collected, never silently dropped. */
export async function runAnalysis(def: AnalysisDefinition, opts: RunOptions = {}): Promise<RunResult> {
  const log = opts.log ?? ((m: string) => process.stderr.write(m + "\n"));
  const work = planFiles(def, opts);
  const retries = opts.retries ?? 1;
  const threads = opts.threads ?? 1;
  const corrections = loadAnalysisCorrections(def.corrections, opts.baseDir);

  const certs = new Map<string, Certification>();
  const lumiTables = new Map<string, LumiTable>();
  for (const ds of def.datasets) {
    if (ds.kind !== "data") continue;
    if (ds.certification !== undefined)
      certs.set(ds.name, Certification.fromFile(resolvePath(ds.certification, opts.baseDir), ds.runPeriods));
    else if (ds.runPeriods !== undefined) certs.set(ds.name, new Certification(null, ds.runPeriods));
    if (ds.lumiCsv !== undefined) lumiTables.set(ds.name, LumiTable.fromFile(resolvePath(ds.lumiCsv, opts.baseDir)));
  }

  const result: RunResult = {
    analysis: def.name,
    datasets: {},
    hists: {},
    cutflows: {},
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
      events: 0,
      lumiBlocks: [],
      lumiBlockPb: [],
      lumiPb: null,
      missingLumiBlocks: 0,
      runPeriods: ds.runPeriods ?? null,
      lumiPerPeriodPb: null,
    };
    result.hists[ds.name] = Object.fromEntries(histogramsFor(def, ds).map((h) => [h.name, newHist(h)]));
    result.cutflows[ds.name] = new Cutflow(cutflowSteps(def, ds));
    blockSets.set(ds.name, new Set());
  }

  const progress = new Progress({ totalFiles: work.length, enabled: opts.progress ?? false });
  const say = (m: string) => (opts.progress ? progress.log(m) : log(m));
  for (const item of work) {
    const ds = item.dataset;
    let lastError = "";
    let ok = false;
    for (let attempt = 1; attempt <= retries + 1 && !ok; attempt++) {
      let counted = 0;
      try {
        const part = await processFile(def, ds, item.file, {
          cert: certs.get(ds.name) ?? null,
          threads,
          corrections,
          onChunk: (n, fraction) => {
            counted += n;
            progress.addEvents(n, fraction);
          },
        });
        // the file is complete: fold it into the totals
        for (const [name, h] of Object.entries(part.hists)) result.hists[ds.name][name].add(h);
        result.cutflows[ds.name].add(part.cutflow, `${ds.name}`);
        const dr = result.datasets[ds.name];
        dr.sumGenWeights += part.sumGenWeights;
        dr.events += part.events;
        dr.files.push(item.file);
        const set = blockSets.get(ds.name)!;
        for (const k of part.blocks) set.add(k);
        ok = true;
      } catch (err) {
        if (err instanceof AnalysisError) throw new UserError(err.message);
        progress.discardEvents(counted);
        lastError = err instanceof Error ? err.message : String(err);
        say(`${ds.name}: ${item.file} failed (attempt ${attempt}/${retries + 1}): ${lastError}`);
      }
    }
    if (!ok) result.failures.push({ dataset: ds.name, file: item.file, attempts: retries + 1, error: lastError });
    progress.fileDone(ok);
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

interface FilePart {
  hists: Record<string, Hist>;
  cutflow: Cutflow;
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
    hists: Object.fromEntries(specs.map((h) => [h.name, newHist(h)])),
    cutflow: new Cutflow(cutflowSteps(def, ds)),
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

/** Columns with derived ones computed on first use (once per chunk), in a plain-object view. */
function lazyColumns(def: AnalysisDefinition, chunk: EventChunk, ctx: ChunkContext): ColumnSet {
  const view: Record<string, Column> = { ...chunk.columns };
  for (const [name, fn] of Object.entries(def.columns ?? {})) {
    let cached: Column | undefined;
    Object.defineProperty(view, name, {
      enumerable: true,
      get: () => {
        if (cached === undefined) {
          cached = fn(view, ctx);
          const n = isJagged(cached) ? cached.offsets.length - 1 : cached.length;
          if (n !== ctx.length)
            throw new AnalysisError(`derived column "${name}" has ${n} values for a chunk of ${ctx.length} events`);
        }
        return cached;
      },
    });
  }
  return view;
}

function column(cols: ColumnSet, name: string, what: string): Column {
  const c = cols[name];
  if (c === undefined) throw new Error(`${what}: no column "${name}" (not read, not derived)`);
  return c;
}

function flat(cols: ColumnSet, name: string, what: string): NumericArray {
  const c = column(cols, name, what);
  if (isJagged(c)) throw new AnalysisError(`${what}: column "${name}" is jagged; derive one value per event first`);
  return c;
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
      if (isJagged(gw)) throw new AnalysisError(`${ds.name}: generator weight "${gwName}" is jagged`);
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

  const mask = new Uint8Array(n).fill(1);
  let step = 0;
  part.cutflow.record(step++, null, weight, n);

  if (ds.kind === "data" && fo.cert !== null) {
    const run = flat(cols, ds.runColumn ?? "run", ds.name);
    const lumi = flat(cols, ds.lumiColumn ?? "luminosityBlock", ds.name);
    const cm = fo.cert.mask(run, lumi);
    for (let i = 0; i < n; i++) mask[i] &= cm[i];
    collectBlocks(run, lumi, mask, part.blocks);
    part.cutflow.record(step++, mask, weight, n);
  }

  const fillAfter = new Map<string, HistogramSpec[]>();
  const lastSel = def.selections?.length ? def.selections[def.selections.length - 1].name : "";
  for (const h of specs) {
    const key = h.after ?? lastSel;
    fillAfter.set(key, [...(fillAfter.get(key) ?? []), h]);
  }
  await fillHists(fillAfter.get("") ?? [], cols, ctx, mask, weight, part, fo);

  for (const sel of def.selections ?? []) {
    const applies = sel.only === undefined || sel.only === ds.kind;
    if (applies) {
      const m = typeof sel.cut === "string" ? flat(cols, sel.cut, `selection "${sel.name}"`) : sel.cut(cols, ctx);
      checkLength(m.length, n, `selection "${sel.name}"`);
      for (let i = 0; i < n; i++) if (mask[i] !== 0 && Number(m[i]) === 0) mask[i] = 0;
    }
    part.cutflow.record(step++, mask, weight, n);
    await fillHists(fillAfter.get(sel.name) ?? [], cols, ctx, mask, weight, part, fo);
  }
}

function checkLength(got: number, want: number, what: string): void {
  if (got !== want) throw new AnalysisError(`${what} returned ${got} values for a chunk of ${want} events`);
}

async function fillHists(
  specs: HistogramSpec[],
  cols: ColumnSet,
  ctx: ChunkContext,
  mask: Uint8Array,
  weight: Float64Array | null,
  part: FilePart,
  fo: FileOptions,
): Promise<void> {
  if (specs.length === 0) return;
  let nsel = 0;
  for (let i = 0; i < mask.length; i++) nsel += mask[i];
  if (nsel === 0) return;
  const idx = new Int32Array(nsel);
  for (let i = 0, j = 0; i < mask.length; i++) if (mask[i] !== 0) idx[j++] = i;

  for (const h of specs) {
    const what = `histogram "${h.name}"`;
    const columns = h.columns.map((c) => gather(flat(cols, c, what), idx));
    let w: Float64Array | null = weight ? gather(weight, idx) : null;
    if (h.weight !== undefined) {
      const hw = typeof h.weight === "string" ? flat(cols, h.weight, what) : h.weight(cols, ctx);
      checkLength(hw.length, ctx.length, `${what} weight`);
      const g = gather(hw, idx);
      if (w) for (let i = 0; i < nsel; i++) w[i] *= g[i];
      else w = g;
    }
    const hist = part.hists[h.name];
    if (h.tensor) {
      const k = h.tensor.size;
      const tw = tensorRows(h, cols, ctx, idx);
      // fold the nominal weight into the K tensor weights
      if (w) for (let i = 0; i < nsel; i++) for (let j = 0; j < k; j++) tw[i * k + j] *= w[i];
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

/** The selected events' K tensor weights, row-major n_sel × K. */
function tensorRows(h: HistogramSpec, cols: ColumnSet, ctx: ChunkContext, idx: Int32Array): Float64Array {
  const t = h.tensor!;
  const k = t.size;
  const what = `histogram "${h.name}" tensor "${t.name}"`;
  const src: NumericArray | JaggedColumn = typeof t.weights === "string" ? column(cols, t.weights, what) : t.weights(cols, ctx);
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
