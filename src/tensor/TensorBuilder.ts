/**
 * Builds a TensorModel from templates: channels, processes, data and systematics, in the manner of
 * rabbit's TensorWriter (its API shape, not its code). log κ is kept sparse per
 * (systematic, channel, process) block and assembled into a CSR at build(); nothing of size
 * bins × procs × systs is ever allocated.
 *
 * Orderings of the result follow ../shared/spec/tensor-format.md: processes are the signals sorted,
 * then the backgrounds sorted; systematics are the unconstrained ones then the constrained ones,
 * each in natural order (as rabbit does); real channels' bins first, masked channels' bins after.
 */
import { UserError } from "../errors.js";
import { naturalSort } from "./naturalSort.js";
import { logKFromVariation, symmetrizeLogK, type Symmetrization } from "./symmetrize.js";
import type { AxisInfo, ChannelInfo, LogKCsr, SystGroup, SystematicType, TensorModel } from "./types.js";

export type { Symmetrization } from "./symmetrize.js";

export interface TensorBuilderOptions {
  /** log_normal (default): logk = log(var/nom); normal: logk = var − nom */
  systematicType?: SystematicType;
  /** keep negative nominal yields (default: clipped to 0, as rabbit does) */
  allowNegativeExpectation?: boolean;
}

export interface ChannelOptions {
  /** a masked channel has no data and does not enter the likelihood (e.g. for unfolding) */
  masked?: boolean;
  /** the axes' under/overflow bins are included (informational only here) */
  flow?: boolean;
}

export interface ProcessOptions {
  signal?: boolean;
  /** sum of squared weights per bin; defaults to the nominal itself (Poisson-like MC) */
  sumw2?: ArrayLike<number>;
}

/** Bookkeeping of a nuisance parameter. */
export interface SystematicOptions {
  /** false: no Gaussian constraint (a free parameter); default true */
  constrained?: boolean;
  /** nuisance of interest: reported like a POI */
  noi?: boolean;
  /** groups the systematic belongs to (for grouped impacts) */
  groups?: string[];
}

export interface ShapeSystematicOptions extends SystematicOptions {
  /** how an up/down pair is stored; default "average" */
  symmetrize?: Symmetrization;
  /** scales log κ (e.g. 0.5 for a half-size variation) */
  kfactor?: number;
  /** the templates hold variation − nominal instead of the variation */
  asDifference?: boolean;
}

/**
 * Normalisation uncertainty of one process: u (the up and mirrored down variation scale the yield by
 * 1 + u, logk = log(1 + u)), or {up, down} giving the relative change of the up and the down variation
 * (e.g. {up: 0.05, down: -0.03} for +5 % / −3 %).
 */
export type NormUncertainty = number | { up: number; down: number };

/** Direct log κ entries for one (systematic, channel, process): bins within the channel, strictly increasing. */
export interface LogKEntries {
  bins: ArrayLike<number>;
  avg: ArrayLike<number>;
  /** asymmetric half-difference; makes the tensor asymmetric */
  halfDiff?: ArrayLike<number>;
}

interface ChannelRecord {
  name: string;
  axes: AxisInfo[];
  masked: boolean;
  flow: boolean;
  size: number;
  /** order of addition, to keep real and masked channels in the order they came */
  order: number;
  nominal: Map<string, Float64Array>;
  sumw2: Map<string, Float64Array>;
  data: Float64Array | null;
  dataVar: Float64Array | null;
  pseudodata: Map<string, Float64Array>;
}

/** Non-zero log κ of one systematic on one process in one channel. */
interface LogKBlock {
  channel: ChannelRecord;
  proc: string;
  bins: Int32Array;
  values: Float64Array;
}

interface SystRecord {
  constrained: boolean;
  noi: boolean;
}

function axisSize(axis: AxisInfo, channel: string): number {
  if (axis.edges) {
    if (axis.edges.length < 2) throw new UserError(`channel ${channel}: axis ${axis.name} needs at least 2 edges`);
    return axis.edges.length - 1;
  }
  if (axis.categories) {
    if (axis.categories.length < 1) throw new UserError(`channel ${channel}: axis ${axis.name} has no categories`);
    return axis.categories.length;
  }
  throw new UserError(`channel ${channel}: axis ${axis.name} has neither edges nor categories`);
}

function toFloat64(values: ArrayLike<number>, expected: number, what: string): Float64Array {
  if (values.length !== expected) {
    throw new UserError(`${what}: expected ${expected} values, got ${values.length}`);
  }
  const out = Float64Array.from(values);
  for (let i = 0; i < out.length; i++) {
    if (!Number.isFinite(out[i])) throw new UserError(`${what}: non-finite value at bin ${i}`);
  }
  return out;
}

/** Keeps the non-zero entries of a per-bin log κ array, zeroing bins where the nominal is 0. */
function sparsify(logk: Float64Array, nominal: Float64Array): { bins: Int32Array; values: Float64Array } {
  let nnz = 0;
  for (let i = 0; i < logk.length; i++) if (logk[i] !== 0 && nominal[i] !== 0) nnz++;
  const bins = new Int32Array(nnz);
  const values = new Float64Array(nnz);
  let k = 0;
  for (let i = 0; i < logk.length; i++) {
    if (logk[i] !== 0 && nominal[i] !== 0) {
      bins[k] = i;
      values[k++] = logk[i];
    }
  }
  return { bins, values };
}

export class TensorBuilder {
  readonly systematicType: SystematicType;
  private readonly allowNegativeExpectation: boolean;
  private readonly channels = new Map<string, ChannelRecord>();
  private readonly signals = new Set<string>();
  private readonly backgrounds = new Set<string>();
  private readonly pseudodataNames: string[] = [];
  private readonly systs = new Map<string, SystRecord>();
  private readonly groups = new Map<string, Set<string>>();
  /** per systematic name: its logkavg blocks, and its logkhalfdiff blocks */
  private readonly avgBlocks = new Map<string, LogKBlock[]>();
  private readonly halfDiffBlocks = new Map<string, LogKBlock[]>();
  private readonly bookedBlocks = new Set<string>();
  /** set once any systematic keeps its asymmetry (even if its half-difference happens to be all zero) */
  private asymmetric = false;

  constructor(options: TensorBuilderOptions = {}) {
    this.systematicType = options.systematicType ?? "log_normal";
    this.allowNegativeExpectation = options.allowNegativeExpectation ?? false;
  }

  /** Adds a channel; its bins are the product of its axes' bins, row-major. */
  addChannel(name: string, axes: AxisInfo[], options: ChannelOptions = {}): void {
    if (this.channels.has(name)) throw new UserError(`channel ${name} already added`);
    if (axes.length === 0) throw new UserError(`channel ${name} has no axes`);
    let size = 1;
    for (const axis of axes) size *= axisSize(axis, name);
    this.channels.set(name, {
      name,
      axes: axes.map((a) => ({ ...a })),
      masked: options.masked ?? false,
      flow: options.flow ?? false,
      size,
      order: this.channels.size,
      nominal: new Map(),
      sumw2: new Map(),
      data: null,
      dataVar: null,
      pseudodata: new Map(),
    });
  }

  /** Number of bins of a channel. */
  channelSize(channel: string): number {
    return this.channel(channel).size;
  }

  addProcess(channel: string, name: string, nominal: ArrayLike<number>, options: ProcessOptions = {}): void {
    const ch = this.channel(channel);
    if (ch.nominal.has(name)) throw new UserError(`process ${name} already added to channel ${channel}`);
    const signal = options.signal ?? false;
    if ((signal && this.backgrounds.has(name)) || (!signal && this.signals.has(name))) {
      throw new UserError(`process ${name} added both as signal and as background`);
    }
    const nom = toFloat64(nominal, ch.size, `nominal of process ${name} in channel ${channel}`);
    if (!this.allowNegativeExpectation) for (let i = 0; i < nom.length; i++) if (nom[i] < 0) nom[i] = 0;
    const sumw2 = options.sumw2
      ? toFloat64(options.sumw2, ch.size, `sumw2 of process ${name} in channel ${channel}`)
      : Float64Array.from(nom, Math.abs);
    for (let i = 0; i < sumw2.length; i++) {
      if (sumw2[i] < 0) throw new UserError(`sumw2 of process ${name} in channel ${channel}: negative at bin ${i}`);
    }
    (signal ? this.signals : this.backgrounds).add(name);
    ch.nominal.set(name, nom);
    ch.sumw2.set(name, sumw2);
  }

  /** Observed counts of a (non-masked) channel; variances only for non-Poisson data (chi2 fits). */
  addData(channel: string, values: ArrayLike<number>, variances?: ArrayLike<number>): void {
    const ch = this.channel(channel);
    if (ch.masked) throw new UserError(`channel ${channel} is masked and takes no data`);
    if (ch.data) throw new UserError(`data for channel ${channel} already set`);
    ch.data = toFloat64(values, ch.size, `data of channel ${channel}`);
    if (variances) ch.dataVar = toFloat64(variances, ch.size, `data variances of channel ${channel}`);
  }

  /** An alternative data set; every non-masked channel must get one of the same name. */
  addPseudoData(channel: string, name: string, values: ArrayLike<number>): void {
    const ch = this.channel(channel);
    if (ch.masked) throw new UserError(`channel ${channel} is masked and takes no pseudo-data`);
    if (ch.pseudodata.has(name)) throw new UserError(`pseudo-data ${name} for channel ${channel} already set`);
    ch.pseudodata.set(name, toFloat64(values, ch.size, `pseudo-data ${name} of channel ${channel}`));
    if (!this.pseudodataNames.includes(name)) this.pseudodataNames.push(name);
  }

  /** A normalisation uncertainty on one or more processes of a channel (same nuisance for all). */
  addNormSystematic(
    name: string,
    processes: string | string[],
    channel: string,
    uncertainty: NormUncertainty | NormUncertainty[],
    options: ShapeSystematicOptions = {},
  ): void {
    const procs = Array.isArray(processes) ? processes : [processes];
    const uncs = Array.isArray(uncertainty) ? uncertainty : [uncertainty];
    if (uncs.length !== 1 && uncs.length !== procs.length) {
      throw new UserError(`norm systematic ${name}: ${uncs.length} uncertainties for ${procs.length} processes`);
    }
    const ch = this.channel(channel);
    procs.forEach((proc, i) => {
      const u = uncs.length === 1 ? uncs[0] : uncs[i];
      const nom = this.nominal(ch, proc);
      if (typeof u === "number") {
        if (!Number.isFinite(u)) throw new UserError(`norm systematic ${name}: non-finite uncertainty`);
        this.addShapeSystematic(name, proc, channel, nom.map((v) => v * (1 + u)), null, options);
      } else {
        if (!Number.isFinite(u.up) || !Number.isFinite(u.down)) {
          throw new UserError(`norm systematic ${name}: non-finite uncertainty`);
        }
        this.addShapeSystematic(
          name, proc, channel, nom.map((v) => v * (1 + u.up)), nom.map((v) => v * (1 + u.down)), options,
        );
      }
    });
  }

  /**
   * A shape systematic of one process in one channel, from its up template and optionally its down
   * template (without one, the down variation mirrors the up one: a symmetric log κ).
   */
  addShapeSystematic(
    name: string,
    process: string,
    channel: string,
    up: ArrayLike<number>,
    down: ArrayLike<number> | null = null,
    options: ShapeSystematicOptions = {},
  ): void {
    const ch = this.channel(channel);
    const nom = this.nominal(ch, process);
    const kfactor = options.kfactor ?? 1;
    const template = (values: ArrayLike<number>, which: string): Float64Array => {
      const t = toFloat64(values, ch.size, `${which} template of systematic ${name}, process ${process}, channel ${channel}`);
      if (options.asDifference) for (let i = 0; i < t.length; i++) t[i] += nom[i];
      return t;
    };
    const logkUp = logKFromVariation(template(up, "up"), nom, this.systematicType, kfactor);
    if (down === null) {
      this.bookBlock(this.avgBlocks, name, ch, process, sparsify(logkUp, nom));
      this.bookSystematic(name, options);
      return;
    }
    const logkDown = logKFromVariation(template(down, "down"), nom, this.systematicType, kfactor);
    for (let i = 0; i < logkDown.length; i++) logkDown[i] = -logkDown[i];
    const mode = options.symmetrize ?? "average";
    const sym = symmetrizeLogK(logkUp, logkDown, mode);
    if (sym.diff) {
      this.bookBlock(this.avgBlocks, `${name}SymAvg`, ch, process, sparsify(sym.avg, nom));
      this.bookSystematic(`${name}SymAvg`, options);
      this.bookBlock(this.avgBlocks, `${name}SymDiff`, ch, process, sparsify(sym.diff, nom));
      this.bookSystematic(`${name}SymDiff`, options);
      return;
    }
    this.bookBlock(this.avgBlocks, name, ch, process, sparsify(sym.avg, nom));
    if (sym.halfDiff) {
      this.asymmetric = true;
      this.bookBlock(this.halfDiffBlocks, name, ch, process, sparsify(sym.halfDiff, nom));
    }
    this.bookSystematic(name, options);
  }

  /**
   * Books log κ values directly (no templates), e.g. for generated models: entries at the given bins
   * of the channel; entries where the nominal is 0 or the value is 0 are dropped.
   */
  addLogK(name: string, process: string, channel: string, entries: LogKEntries, options: SystematicOptions = {}): void {
    const ch = this.channel(channel);
    const nom = this.nominal(ch, process);
    const what = `log κ of systematic ${name}, process ${process}, channel ${channel}`;
    const n = entries.bins.length;
    if (entries.avg.length !== n || (entries.halfDiff && entries.halfDiff.length !== n)) {
      throw new UserError(`${what}: bins and values differ in length`);
    }
    let prev = -1;
    for (let i = 0; i < n; i++) {
      const b = entries.bins[i];
      if (!Number.isInteger(b) || b <= prev || b >= ch.size) {
        throw new UserError(`${what}: bins must be strictly increasing integers in [0, ${ch.size})`);
      }
      prev = b;
    }
    const pick = (values: ArrayLike<number>): { bins: Int32Array; values: Float64Array } => {
      let nnz = 0;
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (!Number.isFinite(v)) throw new UserError(`${what}: non-finite value`);
        if (v !== 0 && nom[entries.bins[i]] !== 0) nnz++;
      }
      const bins = new Int32Array(nnz);
      const vals = new Float64Array(nnz);
      let k = 0;
      for (let i = 0; i < n; i++) {
        if (values[i] !== 0 && nom[entries.bins[i]] !== 0) {
          bins[k] = entries.bins[i];
          vals[k++] = values[i];
        }
      }
      return { bins, values: vals };
    };
    this.bookBlock(this.avgBlocks, name, ch, process, pick(entries.avg));
    if (entries.halfDiff) {
      this.asymmetric = true;
      this.bookBlock(this.halfDiffBlocks, name, ch, process, pick(entries.halfDiff));
    }
    this.bookSystematic(name, options);
  }

  /** Declares a nuisance parameter without any log κ (e.g. one that only enters an external term). */
  addSystematicName(name: string, options: SystematicOptions = {}): void {
    this.bookSystematic(name, options);
  }

  /** The model; `storage` records how a writer should store it (default sparse). */
  build(options: { storage?: "dense" | "sparse" } = {}): TensorModel {
    const chans = [...this.channels.values()];
    if (chans.length === 0) throw new UserError("tensor has no channels");
    const ordered = [...chans.filter((c) => !c.masked), ...chans.filter((c) => c.masked)];
    const procs = [...[...this.signals].sort(), ...[...this.backgrounds].sort()];
    if (procs.length === 0) throw new UserError("tensor has no processes");
    const nproc = procs.length;
    const procIndex = new Map(procs.map((p, i) => [p, i]));

    const channelInfos: ChannelInfo[] = [];
    const channelStart = new Map<ChannelRecord, number>();
    let start = 0;
    for (const c of ordered) {
      channelInfos.push({ name: c.name, axes: c.axes.map((a) => ({ ...a })), masked: c.masked, flow: c.flow, start, size: c.size });
      channelStart.set(c, start);
      start += c.size;
    }
    const nbinsFull = start;
    const nbins = ordered.filter((c) => !c.masked).reduce((s, c) => s + c.size, 0);

    const norm = new Float64Array(nbinsFull * nproc);
    const sumw2 = new Float64Array(nbinsFull * nproc);
    for (const c of ordered) {
      const s0 = channelStart.get(c) as number;
      for (const [proc, nom] of c.nominal) {
        const p = procIndex.get(proc) as number;
        const w2 = c.sumw2.get(proc) as Float64Array;
        for (let b = 0; b < c.size; b++) {
          norm[(s0 + b) * nproc + p] = nom[b];
          sumw2[(s0 + b) * nproc + p] = w2[b];
        }
      }
    }

    const dataObs = new Float64Array(nbins);
    const anyVar = ordered.some((c) => c.dataVar !== null);
    const dataVar = anyVar ? new Float64Array(nbins) : null;
    const npseudo = this.pseudodataNames.length;
    const pseudo = new Float64Array(nbins * npseudo);
    for (const c of ordered) {
      if (c.masked) continue;
      if (!c.data) throw new UserError(`channel ${c.name} has no data`);
      const s0 = channelStart.get(c) as number;
      dataObs.set(c.data, s0);
      if (dataVar) dataVar.set(c.dataVar ?? c.data, s0);
      this.pseudodataNames.forEach((pname, j) => {
        const values = c.pseudodata.get(pname);
        if (!values) throw new UserError(`channel ${c.name} has no pseudo-data ${pname}`);
        for (let b = 0; b < c.size; b++) pseudo[(s0 + b) * npseudo + j] = values[b];
      });
    }

    const names = [...this.systs.keys()];
    const noConstraint = naturalSort(names.filter((n) => !(this.systs.get(n) as SystRecord).constrained));
    const constrained = naturalSort(names.filter((n) => (this.systs.get(n) as SystRecord).constrained));
    const systs = [...noConstraint, ...constrained];
    const nsyst = systs.length;
    const systIndex = new Map(systs.map((s, i) => [s, i]));
    const constraintWeights = new Float64Array(nsyst).fill(1);
    for (let i = 0; i < noConstraint.length; i++) constraintWeights[i] = 0;
    const noiIndices = naturalSort(names.filter((n) => (this.systs.get(n) as SystRecord).noi)).map(
      (n) => systIndex.get(n) as number,
    );
    const systGroups: SystGroup[] = naturalSort(this.groups.keys()).map((g) => ({
      name: g,
      indices: [...(this.groups.get(g) as Set<string>)].map((s) => systIndex.get(s) as number).sort((a, b) => a - b),
    }));

    const symmetric = !this.asymmetric;
    const logk = this.assembleLogK(systs, symmetric, nbinsFull, procIndex, channelStart);

    return {
      procs,
      signals: [...this.signals].sort(),
      systs,
      systsNoConstraint: noConstraint,
      systGroups,
      noiIndices,
      constraintWeights,
      nbins,
      nbinsFull,
      dataObs,
      dataVar,
      dataCovInv: null,
      pseudodata: npseudo > 0 ? { names: [...this.pseudodataNames], values: pseudo } : null,
      sumw: Float64Array.from(norm),
      sumw2,
      norm,
      logk,
      symmetric,
      systematicType: this.systematicType,
      storage: options.storage ?? "sparse",
      channels: channelInfos,
      externalTerms: [],
      metaJson: {
        channel_info: Object.fromEntries(
          channelInfos.map((c) => [c.name, { axes: c.axes, masked: c.masked, flow: c.flow }]),
        ),
        symmetric_tensor: symmetric,
        systematic_type: this.systematicType,
      },
    };
  }

  /**
   * CSR over rows bin·nproc + proc. Columns are visited in increasing order (avg columns, then
   * halfdiff columns), so appending keeps every row's columns sorted without a sort.
   */
  private assembleLogK(
    systs: string[],
    symmetric: boolean,
    nbinsFull: number,
    procIndex: Map<string, number>,
    channelStart: Map<ChannelRecord, number>,
  ): LogKCsr {
    const nproc = procIndex.size;
    const nsyst = systs.length;
    const nrows = nbinsFull * nproc;
    const ncols = symmetric ? nsyst : 2 * nsyst;
    const columns: LogKBlock[][] = [];
    for (const s of systs) columns.push(this.avgBlocks.get(s) ?? []);
    if (!symmetric) for (const s of systs) columns.push(this.halfDiffBlocks.get(s) ?? []);

    const rowPtr = new Int32Array(nrows + 1);
    for (const blocks of columns) {
      for (const blk of blocks) {
        const s0 = channelStart.get(blk.channel) as number;
        const p = procIndex.get(blk.proc) as number;
        for (let k = 0; k < blk.bins.length; k++) rowPtr[(s0 + blk.bins[k]) * nproc + p + 1]++;
      }
    }
    for (let r = 0; r < nrows; r++) rowPtr[r + 1] += rowPtr[r];
    const nnz = rowPtr[nrows];
    const cols = new Int32Array(nnz);
    const values = new Float64Array(nnz);
    const fill = rowPtr.slice(0, nrows);
    columns.forEach((blocks, col) => {
      for (const blk of blocks) {
        const s0 = channelStart.get(blk.channel) as number;
        const p = procIndex.get(blk.proc) as number;
        for (let k = 0; k < blk.bins.length; k++) {
          const pos = fill[(s0 + blk.bins[k]) * nproc + p]++;
          cols[pos] = col;
          values[pos] = blk.values[k];
        }
      }
    });
    return { nrows, ncols, rowPtr, cols, values };
  }

  private channel(name: string): ChannelRecord {
    const ch = this.channels.get(name);
    if (!ch) throw new UserError(`channel ${name} not known`);
    return ch;
  }

  private nominal(ch: ChannelRecord, process: string): Float64Array {
    const nom = ch.nominal.get(process);
    if (!nom) throw new UserError(`process ${process} has no nominal in channel ${ch.name}`);
    return nom;
  }

  private bookBlock(
    store: Map<string, LogKBlock[]>,
    name: string,
    ch: ChannelRecord,
    proc: string,
    entries: { bins: Int32Array; values: Float64Array },
  ): void {
    const key = `${store === this.avgBlocks ? "a" : "h"}\u0000${name}\u0000${ch.name}\u0000${proc}`;
    if (this.bookedBlocks.has(key)) {
      throw new UserError(`systematic ${name} already set for process ${proc} in channel ${ch.name}`);
    }
    this.bookedBlocks.add(key);
    if (entries.bins.length === 0) return;
    let list = store.get(name);
    if (!list) store.set(name, (list = []));
    list.push({ channel: ch, proc, bins: entries.bins, values: entries.values });
  }

  private bookSystematic(name: string, options: SystematicOptions): void {
    const constrained = options.constrained ?? true;
    const noi = options.noi ?? false;
    const existing = this.systs.get(name);
    if (existing) {
      if (existing.constrained !== constrained) {
        throw new UserError(`systematic ${name} booked both constrained and unconstrained`);
      }
      existing.noi ||= noi;
    } else {
      this.systs.set(name, { constrained, noi });
    }
    for (const g of options.groups ?? []) {
      let members = this.groups.get(g);
      if (!members) this.groups.set(g, (members = new Set()));
      members.add(name);
    }
  }
}
