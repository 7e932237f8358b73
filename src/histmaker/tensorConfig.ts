/**
 * `histmaker tensor`: run outputs (histograms per dataset) → fit tensor. A small config maps datasets
 * to processes and data, histograms to channels, and declares normalisation systematics and shape
 * systematics taken from a histogram's tensor axis (one nuisance per index, or up/down pairs).
 * Simulation is scaled by the σ·L/Σw recorded in the run output.
 */
import { UserError } from "../errors.js";
import { TensorBuilder, type NormUncertainty, type Symmetrization } from "../tensor/TensorBuilder.js";
import { SYMMETRIZATIONS } from "../tensor/symmetrize.js";
import type { AxisInfo, SystematicType, TensorModel } from "../tensor/types.js";
import { axisEdges } from "./axes.js";
import type { Hist } from "./Hist.js";
import { scaled, type RunOutput } from "./runOutput.js";

export interface ChannelConfig {
  name: string;
  /** histogram (name in the run output) giving the nominal templates and data */
  histogram: string;
  /** axes to keep (the others are summed over); default: all, in order */
  axes?: string[];
  /** a masked channel takes no data (e.g. for unfolding) */
  masked?: boolean;
  /** processes present in the channel (default: all) */
  processes?: string[];
}

export interface ProcessConfig {
  datasets: string[];
  signal?: boolean;
}

interface SystematicBase {
  name: string;
  processes: string[];
  /** default: every channel */
  channels?: string[];
  constrained?: boolean;
  noi?: boolean;
  groups?: string[];
}

export interface NormSystematicConfig extends SystematicBase {
  type: "norm";
  /** relative uncertainty u (yield × (1 + u)) or {up, down} relative changes */
  size: NormUncertainty;
}

export interface TensorSystematicConfig extends SystematicBase {
  type: "tensor";
  /** histogram with a tensor axis; its other axes must match the channel's histogram */
  histogram: string;
  /**
   * each: one nuisance per tensor index (named <name><label or index>), the index's template is the
   * up variation and the down one mirrors it; pairs: indices (2i, 2i+1) are the up/down templates of
   * nuisance i (named <name> when there is one pair, else <name><i>)
   */
  mode: "each" | "pairs";
  /** tensor indices to use (each: the indices; pairs: the flat list up0, down0, up1, down1, ...); default all */
  indices?: number[];
  symmetrize?: Symmetrization;
  kfactor?: number;
}

export type SystematicConfig = NormSystematicConfig | TensorSystematicConfig;

export interface TensorConfig {
  /** run outputs (relative paths are relative to the config file) */
  inputs: string[];
  channels: ChannelConfig[];
  processes: Record<string, ProcessConfig>;
  /** data datasets; absent: Asimov data (the sum of the nominal templates) */
  data?: string[];
  systematics?: SystematicConfig[];
  systematicType?: SystematicType;
  storage?: "dense" | "sparse";
  /** accept run outputs that recorded failed files */
  allowFailures?: boolean;
}

/** Checks a parsed config; names the config and what is wrong. */
export function validateTensorConfig(raw: unknown, source: string): TensorConfig {
  const fail = (what: string): never => {
    throw new UserError(`${source}: ${what}`);
  };
  if (raw === null || typeof raw !== "object") fail("the config must be an object");
  const c = raw as TensorConfig;
  if (typeof c.inputs === "string") (c as { inputs: unknown }).inputs = [c.inputs];
  if (!Array.isArray(c.inputs) || c.inputs.length === 0) fail("`inputs` must list run output files");
  if (!Array.isArray(c.channels) || c.channels.length === 0) fail("`channels` must list at least one channel");
  if (c.processes === null || typeof c.processes !== "object" || Object.keys(c.processes).length === 0)
    fail("`processes` must map process names to {datasets: [...]}");
  for (const [p, pc] of Object.entries(c.processes))
    if (!Array.isArray(pc?.datasets) || pc.datasets.length === 0) fail(`process "${p}" needs a non-empty datasets list`);
  for (const ch of c.channels) {
    if (typeof ch.name !== "string" || typeof ch.histogram !== "string") fail("every channel needs a name and a histogram");
    for (const p of ch.processes ?? []) if (!c.processes[p]) fail(`channel "${ch.name}": unknown process "${p}"`);
  }
  const chNames = new Set(c.channels.map((ch) => ch.name));
  for (const s of c.systematics ?? []) {
    if (typeof s.name !== "string" || s.name === "") fail("a systematic has no name");
    if (!Array.isArray(s.processes) || s.processes.length === 0) fail(`systematic "${s.name}": needs processes`);
    for (const p of s.processes) if (!c.processes[p]) fail(`systematic "${s.name}": unknown process "${p}"`);
    for (const ch of s.channels ?? []) if (!chNames.has(ch)) fail(`systematic "${s.name}": unknown channel "${ch}"`);
    if (s.type === "norm") {
      const ok = typeof s.size === "number" || (typeof s.size === "object" && s.size !== null && "up" in s.size && "down" in s.size);
      if (!ok) fail(`systematic "${s.name}": size must be a number or {up, down}`);
    } else if (s.type === "tensor") {
      if (typeof s.histogram !== "string") fail(`systematic "${s.name}": needs a histogram`);
      if (s.mode !== "each" && s.mode !== "pairs") fail(`systematic "${s.name}": mode must be "each" or "pairs"`);
      if (s.symmetrize !== undefined && !SYMMETRIZATIONS.includes(s.symmetrize))
        fail(`systematic "${s.name}": symmetrize must be one of ${SYMMETRIZATIONS.join(", ")}`);
    } else fail(`systematic "${(s as { name: string }).name}": type must be "norm" or "tensor"`);
  }
  return c;
}

/** Histograms of all inputs added together, per dataset, with the merged scales. */
export interface HistSource {
  hists: Record<string, Record<string, Hist>>;
  scales: Record<string, number>;
  kinds: Record<string, "data" | "mc">;
}

/** Combines run outputs for different datasets (a dataset may come from only one input). */
export function histSource(outputs: { file: string; output: RunOutput }[], allowFailures: boolean): HistSource {
  const src: HistSource = { hists: {}, scales: {}, kinds: {} };
  for (const { file, output } of outputs) {
    if (output.info.failures.length > 0 && !allowFailures)
      throw new UserError(
        `${file}: ${output.info.failures.length} files failed in this run (e.g. ${output.info.failures[0].file}); its histograms are incomplete (set allowFailures / --allow-failures to use it anyway)`,
      );
    for (const [ds, d] of Object.entries(output.info.datasets)) {
      if (d.files.length === 0) continue;
      if (src.hists[ds]) throw new UserError(`${file}: dataset "${ds}" also comes from another input; merge shards with \`histmaker merge\` first`);
      src.hists[ds] = output.hists[ds] ?? {};
      src.scales[ds] = output.info.scales[ds] ?? 1;
      src.kinds[ds] = d.kind;
    }
  }
  return src;
}

function channelAxes(h: Hist): AxisInfo[] {
  return h.axes.map((a) =>
    a.type === "category_int" || a.type === "category_str"
      ? { name: a.name, label: a.label, categories: [...a.categories] }
      : { name: a.name, label: a.label, edges: axisEdges(a) },
  );
}

/** Σ over datasets of the scaled histogram, projected on the channel's axes (tensor axis kept). */
function summed(src: HistSource, datasets: string[], histogram: string, axes: string[] | undefined, what: string): Hist {
  let total: Hist | null = null;
  for (const ds of datasets) {
    const hs = src.hists[ds];
    if (!hs) throw new UserError(`${what}: dataset "${ds}" is in none of the inputs (or processed no files)`);
    const h = hs[histogram];
    if (!h) throw new UserError(`${what}: dataset "${ds}" has no histogram "${histogram}"`);
    const p = scaled(axes ? h.project(...axes) : h, src.scales[ds] ?? 1);
    total = total === null ? (p === h ? h.copy() : p) : total.add(p);
  }
  return total!;
}

/** One tensor index's plane (values, or variances) of a histogram with a tensor axis. */
function plane(values: Float64Array, k: number, size: number): Float64Array {
  const n = values.length / size;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = values[i * size + k];
  return out;
}

export function buildTensor(config: TensorConfig, src: HistSource): TensorModel {
  const builder = new TensorBuilder({ systematicType: config.systematicType ?? "log_normal" });
  const allProcs = Object.keys(config.processes);
  for (const ch of config.channels) {
    const what = `channel "${ch.name}"`;
    const procs = ch.processes ?? allProcs;
    let axesInfo: AxisInfo[] | null = null;
    const nominals: Record<string, Hist> = {};
    for (const p of procs) {
      const h = summed(src, config.processes[p].datasets, ch.histogram, ch.axes, `${what}, process "${p}"`);
      if (h.tensor) throw new UserError(`${what}: histogram "${ch.histogram}" has a tensor axis; use one without for the nominal templates`);
      nominals[p] = h;
      axesInfo ??= channelAxes(h);
    }
    builder.addChannel(ch.name, axesInfo!, { masked: ch.masked ?? false });
    for (const p of procs) {
      const h = nominals[p];
      builder.addProcess(ch.name, p, h.values(), { signal: config.processes[p].signal ?? false, sumw2: h.variances() });
    }
    if (!ch.masked) {
      if (config.data && config.data.length > 0) {
        for (const ds of config.data)
          if (src.kinds[ds] !== undefined && src.kinds[ds] !== "data") throw new UserError(`data: dataset "${ds}" is simulation`);
        builder.addData(ch.name, summed(src, config.data, ch.histogram, ch.axes, `${what}, data`).values());
      } else {
        const asimov = new Float64Array(builder.channelSize(ch.name));
        for (const p of procs) nominals[p].values().forEach((v, i) => (asimov[i] += v));
        builder.addData(ch.name, asimov);
      }
    }

    for (const s of config.systematics ?? []) {
      if (s.channels && !s.channels.includes(ch.name)) continue;
      const opts = { constrained: s.constrained ?? true, noi: s.noi ?? false, groups: s.groups ?? [s.name] };
      const sprocs = s.processes.filter((p) => procs.includes(p));
      if (s.type === "norm") {
        if (sprocs.length > 0) builder.addNormSystematic(s.name, sprocs, ch.name, s.size, opts);
        continue;
      }
      for (const p of sprocs) {
        const sw = `systematic "${s.name}", ${what}, process "${p}"`;
        const h = summed(src, config.processes[p].datasets, s.histogram, ch.axes, sw);
        if (!h.tensor) throw new UserError(`${sw}: histogram "${s.histogram}" has no tensor axis`);
        const K = h.tensor.size;
        const values = h.values();
        const indices = s.indices ?? Array.from({ length: K }, (_, i) => i);
        for (const k of indices) if (!Number.isInteger(k) || k < 0 || k >= K) throw new UserError(`${sw}: tensor index ${k} outside 0..${K - 1}`);
        if (values.length / K !== builder.channelSize(ch.name))
          throw new UserError(`${sw}: histogram "${s.histogram}" has ${values.length / K} bins, the channel ${builder.channelSize(ch.name)}`);
        const shapeOpts = { ...opts, symmetrize: s.symmetrize ?? "average", kfactor: s.kfactor ?? 1 };
        if (s.mode === "each") {
          for (const k of indices) {
            const label = h.tensor.labels?.[k] ?? String(k);
            builder.addShapeSystematic(`${s.name}${label}`, p, ch.name, plane(values, k, K), null, shapeOpts);
          }
        } else {
          if (indices.length % 2 !== 0) throw new UserError(`${sw}: pairs mode needs an even number of tensor indices`);
          const npairs = indices.length / 2;
          for (let i = 0; i < npairs; i++) {
            const name = npairs === 1 ? s.name : `${s.name}${i}`;
            builder.addShapeSystematic(name, p, ch.name, plane(values, indices[2 * i], K), plane(values, indices[2 * i + 1], K), shapeOpts);
          }
        }
      }
    }
  }
  return builder.build({ storage: config.storage ?? "sparse" });
}
