/**
 * `Hist`: an N-dimensional histogram whose storage lives in typed arrays shared with the native
 * addon, which fills them (atomically, from any number of threads). Layout: row-major over the
 * axes in order, every axis with its enabled flow bins (underflow first, overflow last), and the
 * optional tensor axis as the inner-most dimension (K cells per bin, one per tensor entry).
 *
 * Storages: "double" (Σw), "weighted" (Σw and Σw² in two arrays) and "count" (uint64 event
 * counts; weights are refused). variances() of "double" and "count" storage assume Poisson
 * statistics of unweighted fills and return the values.
 */
import { UserError } from "../errors.js";
import { type Axis, axisBins, axisExtent, axisFromJSON, categoryInt, categoryStr, integer, regular, sameBinning, variable } from "./axes.js";
import { loadHistmakerNative, type NativeAxisSpec, type NativeColumn, type NativeHistHandle } from "./nativeAddon.js";
import { isNumericArray } from "../numericArray.js";

export type StorageType = "double" | "weighted" | "count";

export interface TensorAxis {
  name: string;
  size: number;
  labels?: string[];
}

/**
 * How concurrent fills add into the shared storage: "cas" = an atomic compare-and-swap per cell,
 * "bin-lock" = a spin lock per bin then plain adds of its K cells; "auto" (default) picks bin-lock
 * for tensors of K >= 4 and cas otherwise. A lone single-thread fill always uses plain adds.
 */
export type AtomicMode = "auto" | "cas" | "bin-lock";

export interface HistOptions {
  storage?: StorageType;
  tensor?: TensorAxis;
  atomicMode?: AtomicMode;
}

export type FillColumn = NativeColumn | readonly number[] | readonly string[];

/** Columns by axis name, or an array with one column per axis in axis order. */
export type FillColumns = Record<string, FillColumn> | readonly FillColumn[];

export interface FillOptions {
  /** one weight per event */
  weight?: Float64Array;
  /** n × K row-major: the K tensor weights of each event (multiplied by `weight` when both are given) */
  tensorWeights?: Float64Array;
  /** threads adding into the one shared storage (default 1) */
  threads?: number;
}

/** The schema written to `meta_json`: enough to rebuild the histogram's binning. */
export interface HistSchema {
  storage: StorageType;
  axes: Axis[];
  tensor: TensorAxis | null;
}

const STORAGE_KIND: Record<StorageType, 0 | 1 | 2> = { double: 0, weighted: 1, count: 2 };
const ATOMIC_MODE: Record<AtomicMode, 0 | 1 | 2> = { auto: 0, cas: 1, "bin-lock": 2 };

function nativeSpec(ax: Axis): NativeAxisSpec {
  const flow = { underflow: ax.underflow, overflow: ax.overflow };
  switch (ax.type) {
    case "regular":
      return { kind: 0, n: ax.bins, lower: ax.lower, upper: ax.upper, ...flow };
    case "variable":
      return { kind: 1, n: ax.edges.length - 1, edges: Float64Array.from(ax.edges), ...flow };
    case "integer":
      return { kind: 2, n: ax.upper - ax.lower, lower: ax.lower, upper: ax.upper, ...flow };
    case "boolean":
      return { kind: 3, n: 2, ...flow };
    case "category_int":
      return { kind: 4, n: ax.categories.length, categories: Float64Array.from(ax.categories), ...flow };
    case "category_str":
      // strings are mapped to their index on the JS side; C++ sees codes 0..n-1
      return { kind: 4, n: ax.categories.length, categories: Float64Array.from(ax.categories, (_, i) => i), ...flow };
  }
}

function product(xs: readonly number[]): number {
  return xs.reduce((a, b) => a * b, 1);
}

/**
 * Sums `src` (cells over `extents` × K) into a new array: along axis a, old index i contributes to
 * new linear offset contrib[a][i] (in units of K cells), or is dropped when contrib[a][i] < 0.
 */
function reduceCells(src: Float64Array, extents: readonly number[], K: number, contrib: Int32Array[], newCells: number): Float64Array {
  const out = new Float64Array(newCells * K);
  const nd = extents.length;
  const cells = product(extents);
  if (cells === 0) return out;
  const idx = new Int32Array(nd);
  for (let c = 0; c < cells; c++) {
    let target = 0;
    let keep = true;
    for (let a = 0; a < nd; a++) {
      const t = contrib[a][idx[a]];
      if (t < 0) {
        keep = false;
        break;
      }
      target += t;
    }
    if (keep) {
      const s = c * K;
      const d = target * K;
      for (let k = 0; k < K; k++) out[d + k] += src[s + k];
    }
    for (let a = nd - 1; a >= 0; a--) {
      if (++idx[a] < extents[a]) break;
      idx[a] = 0;
    }
  }
  return out;
}

function identityContrib(extent: number, stride: number): Int32Array {
  return Int32Array.from({ length: extent }, (_, i) => i * stride);
}

function stridesOf(extents: readonly number[]): number[] {
  const s = new Array<number>(extents.length).fill(1);
  for (let a = extents.length - 2; a >= 0; a--) s[a] = s[a + 1] * extents[a + 1];
  return s;
}

const isNumericTyped = (c: unknown): c is NativeColumn => isNumericArray(c);

export class Hist {
  readonly storage: StorageType;
  readonly tensor: TensorAxis | null;
  readonly #atomicMode: AtomicMode;
  #axes: Axis[];
  #sumw: Float64Array | null = null;
  #sumw2: Float64Array | null = null;
  #count: BigUint64Array | null = null;
  #native!: NativeHistHandle;
  #stringCodes: (Map<string, number> | null)[] = [];
  readonly #inflight = new Set<Promise<void>>();

  constructor(axes: Axis[], opts: HistOptions = {}) {
    this.storage = opts.storage ?? "double";
    if (!(this.storage in STORAGE_KIND)) throw new UserError(`Hist: unknown storage "${String(this.storage)}" (double, weighted or count)`);
    if (axes.length === 0) throw new UserError("Hist: needs at least one axis");
    this.#atomicMode = opts.atomicMode ?? "auto";
    if (!(this.#atomicMode in ATOMIC_MODE)) throw new UserError(`Hist: unknown atomicMode "${String(this.#atomicMode)}" (auto, cas or bin-lock)`);
    const names = new Set<string>();
    for (const ax of axes) {
      if (names.has(ax.name)) throw new UserError(`Hist: axis name "${ax.name}" is used twice`);
      names.add(ax.name);
    }
    if (opts.tensor) {
      const t = opts.tensor;
      if (!Number.isInteger(t.size) || t.size < 1) throw new UserError(`Hist: tensor axis "${t.name}" needs an integer size >= 1`);
      if (t.labels && t.labels.length !== t.size) throw new UserError(`Hist: tensor axis "${t.name}" has ${t.labels.length} labels for size ${t.size}`);
      if (this.storage === "count") throw new UserError(`Hist: count storage takes no tensor axis (tensor "${t.name}")`);
      if (names.has(t.name)) throw new UserError(`Hist: tensor axis name "${t.name}" is also an axis name`);
      this.tensor = { name: t.name, size: t.size, ...(t.labels ? { labels: [...t.labels] } : {}) };
    } else {
      this.tensor = null;
    }
    // re-built through the factories: validates hand-made axis objects and normalises them
    this.#axes = axes.map((a, i) => axisFromJSON(a, `Hist axis ${i} ("${a.name}")`));
    this.#allocate();
  }

  /** Rebuilds a histogram from flow-included arrays in the layout described at the top. */
  static fromArrays(axes: Axis[], opts: HistOptions, values: Float64Array, variances?: Float64Array): Hist {
    const h = new Hist(axes, opts);
    const n = h.#cells();
    if (values.length !== n) throw new UserError(`Hist.fromArrays: values has ${values.length} entries, the binning needs ${n}`);
    h.#setPlanes(values, variances ?? null);
    return h;
  }

  get axes(): readonly Axis[] {
    return this.#axes.map((a) => structuredClone(a));
  }

  /** K (1 without a tensor axis). */
  get tensorSize(): number {
    return this.tensor?.size ?? 1;
  }

  /** Bins per axis without flow, then the tensor size when there is a tensor axis. */
  get shape(): number[] {
    const s = this.#axes.map(axisBins);
    return this.tensor ? [...s, this.tensor.size] : s;
  }

  /** Bins per axis with the enabled flow bins, then the tensor size (the stored layout). */
  get flowShape(): number[] {
    const s = this.#axes.map(axisExtent);
    return this.tensor ? [...s, this.tensor.size] : s;
  }

  /** The update scheme concurrent fills use ("cas" or "bin-lock"), resolved from the atomicMode option. */
  get atomicMode(): "cas" | "bin-lock" {
    return this.#native.atomicMode();
  }

  /** Bytes held by the storage arrays. */
  get storageBytes(): number {
    return (this.#sumw?.byteLength ?? 0) + (this.#sumw2?.byteLength ?? 0) + (this.#count?.byteLength ?? 0);
  }

  toJSON(): HistSchema {
    return { storage: this.storage, axes: this.axes as Axis[], tensor: this.tensor ? structuredClone(this.tensor) : null };
  }

  /** Fills on the calling thread (with `threads` > 1 it still blocks the caller until done). */
  fillSync(columns: FillColumns, opts: FillOptions = {}): void {
    if (this.#inflight.size > 0 && this.#needsGrowth(columns))
      throw new UserError("Hist.fillSync: a category axis must grow while an async fill is running; await it first");
    const args = this.#prepare(columns, opts);
    if (args.n === 0) return;
    this.#native.fill(args.columns, args.weight, args.tensorWeights, args.threads);
  }

  /** Fills off the main thread (libuv pool), `threads` threads adding into the same storage. */
  async fill(columns: FillColumns, opts: FillOptions = {}): Promise<void> {
    // growing a category axis re-allocates the storage: wait for fills still writing the old one
    while (this.#inflight.size > 0 && this.#needsGrowth(columns)) await Promise.allSettled([...this.#inflight]);
    const args = this.#prepare(columns, opts);
    if (args.n === 0) return;
    const p = this.#native.fillAsync(args.columns, args.weight, args.tensorWeights, args.threads);
    this.#inflight.add(p);
    try {
      await p;
    } finally {
      this.#inflight.delete(p);
    }
  }

  /** Σw (or counts) in the flow shape (flow: true) or without flow bins (default). */
  values(opts: { flow?: boolean } = {}): Float64Array {
    return this.#withoutFlow(this.#plane(0), opts.flow ?? false);
  }

  /** Σw² for weighted storage; the values for double and count storage (Poisson, unweighted fills). */
  variances(opts: { flow?: boolean } = {}): Float64Array {
    return this.#withoutFlow(this.#plane(this.#sumw2 ? 1 : 0), opts.flow ?? false);
  }

  /** Sum of all values (all tensor entries together); flow bins included only with flow: true. */
  sum(opts: { flow?: boolean } = {}): number {
    let s = 0;
    for (const v of this.values(opts)) s += v;
    return s;
  }

  /** Sum of the values for each tensor entry (length K). */
  sumTensor(opts: { flow?: boolean } = {}): Float64Array {
    const K = this.tensorSize;
    const v = this.values(opts);
    const out = new Float64Array(K);
    for (let i = 0; i < v.length; i += K) for (let k = 0; k < K; k++) out[k] += v[i + k];
    return out;
  }

  /**
   * Adds `other` (same axes, storage and tensor axis) into this histogram; returns this. Growth
   * category axes may differ in their categories: this one grows to the union and the other's
   * contents are matched by category value.
   */
  add(other: Hist): this {
    if (other.storage !== this.storage) throw new UserError(`Hist.add: storage ${other.storage} cannot be added to ${this.storage}`);
    if (other.tensorSize !== this.tensorSize) throw new UserError(`Hist.add: tensor sizes differ (${other.tensorSize} vs ${this.tensorSize})`);
    if (other.#axes.length !== this.#axes.length) throw new UserError("Hist.add: the histograms have different axes");
    let src: Hist = other;
    for (let a = 0; a < this.#axes.length; a++) {
      const mine = this.#axes[a];
      const theirs = src.#axes[a];
      if (sameBinning(mine, theirs)) continue;
      const growable =
        (mine.type === "category_int" || mine.type === "category_str") &&
        theirs.type === mine.type &&
        mine.growth &&
        theirs.growth &&
        mine.name === theirs.name &&
        mine.overflow === theirs.overflow;
      if (!growable) throw new UserError(`Hist.add: the histograms have different axes ("${mine.name}" vs "${theirs.name}")`);
      const theirCats = (theirs as { categories: (number | string)[] }).categories;
      const known = new Set<number | string>((mine as { categories: (number | string)[] }).categories);
      const fresh = theirCats.filter((c) => !known.has(c));
      if (this.#inflight.size > 0 && fresh.length > 0) throw new UserError("Hist.add: cannot grow a category axis while an async fill is running");
      if (fresh.length > 0) this.#grow(a, fresh);
      const grown = this.#axes[a] as { categories: (number | string)[] };
      const position = new Map(grown.categories.map((c, i) => [c, i]));
      const map = Int32Array.from({ length: axisExtent(theirs) }, (_, i) => (i < theirCats.length ? (position.get(theirCats[i]) as number) : grown.categories.length));
      src = src.#remapAxis(a, this.#axes[a], map);
    }
    if (this.#sumw && src.#sumw) for (let i = 0; i < this.#sumw.length; i++) this.#sumw[i] += src.#sumw[i];
    if (this.#sumw2 && src.#sumw2) for (let i = 0; i < this.#sumw2.length; i++) this.#sumw2[i] += src.#sumw2[i];
    if (this.#count && src.#count) for (let i = 0; i < this.#count.length; i++) this.#count[i] += src.#count[i];
    return this;
  }

  /** An independent copy. */
  copy(): Hist {
    const planes = this.#planes();
    return Hist.fromArrays(this.#axes, this.#options(), planes[0], planes[1]);
  }

  /** The histogram summed over every axis not named (flow bins included), axes in the order given; the tensor axis is kept. */
  project(...axisNames: string[]): Hist {
    const positions = axisNames.map((n) => this.#axisIndex(n, "project"));
    if (new Set(positions).size !== positions.length) throw new UserError(`Hist.project: an axis is named twice (${axisNames.join(", ")})`);
    const newAxes = positions.map((p) => this.#axes[p]);
    const newStrides = stridesOf(newAxes.map(axisExtent));
    const contrib = this.#axes.map((ax, a) => {
      const j = positions.indexOf(a);
      return j < 0 ? new Int32Array(axisExtent(ax)) : identityContrib(axisExtent(ax), newStrides[j]);
    });
    return this.#reduced(newAxes, contrib);
  }

  /**
   * Keeps bins [lo, hi) (flow excluded, 0-based) of one axis. The contents of the removed bins go
   * to the new axis' underflow/overflow bins where the axis has them, else they are dropped
   * (category axes: every removed category goes to the overflow "other" bin).
   */
  slice(axisName: string, lo: number, hi: number): Hist {
    const a = this.#axisIndex(axisName, "slice");
    const ax = this.#axes[a];
    const n = axisBins(ax);
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 0 || hi > n || lo >= hi)
      throw new UserError(`Hist.slice: axis "${axisName}" has bins 0..${n}, cannot keep [${lo}, ${hi})`);
    let sliced: Axis;
    const flow = { name: ax.name, label: ax.label, underflow: ax.underflow, overflow: ax.overflow };
    switch (ax.type) {
      case "regular": {
        // same edge formula as axisEdges(), so the kept bins keep their edges
        const edge = (i: number): number => (i === ax.bins ? ax.upper : ax.lower + ((ax.upper - ax.lower) * i) / ax.bins);
        sliced = regular(hi - lo, edge(lo), edge(hi), flow);
        break;
      }
      case "variable":
        sliced = variable(ax.edges.slice(lo, hi + 1), flow);
        break;
      case "integer":
        sliced = integer(ax.lower + lo, ax.lower + hi, flow);
        break;
      case "category_int":
        sliced = categoryInt(ax.categories.slice(lo, hi), { ...flow, growth: ax.growth });
        break;
      case "category_str":
        sliced = categoryStr(ax.categories.slice(lo, hi), { ...flow, growth: ax.growth });
        break;
      case "boolean":
        throw new UserError(`Hist.slice: boolean axis "${axisName}" cannot be sliced`);
    }
    const under = ax.underflow ? 1 : 0;
    const newN = hi - lo;
    // removed categories are "other" values: they join the overflow bin
    const isCategory = ax.type === "category_int" || ax.type === "category_str";
    const map = new Int32Array(axisExtent(ax));
    for (let i = 0; i < map.length; i++) {
      const b = i - under; // regular-bin position, -1 = underflow, n = overflow
      if (b >= lo && b < hi) map[i] = b - lo + (sliced.underflow ? 1 : 0);
      else if (b < lo && isCategory && sliced.overflow) map[i] = newN;
      else if (b < lo && sliced.underflow) map[i] = 0;
      else if (b >= hi && sliced.overflow) map[i] = newN + (sliced.underflow ? 1 : 0);
      else map[i] = -1;
    }
    return this.#remapAxis(a, sliced, map);
  }

  /** Merges groups of `factor` consecutive bins of one continuous axis (bins must divide evenly). */
  rebin(axisName: string, factor: number): Hist {
    const a = this.#axisIndex(axisName, "rebin");
    const ax = this.#axes[a];
    const n = axisBins(ax);
    if (!Number.isInteger(factor) || factor < 1 || n % factor !== 0)
      throw new UserError(`Hist.rebin: axis "${axisName}" has ${n} bins, not divisible by factor ${factor}`);
    const flow = { name: ax.name, label: ax.label, underflow: ax.underflow, overflow: ax.overflow };
    let merged: Axis;
    switch (ax.type) {
      case "regular":
        merged = regular(n / factor, ax.lower, ax.upper, flow);
        break;
      case "variable":
        merged = variable(ax.edges.filter((_, i) => i % factor === 0), flow);
        break;
      case "integer":
        // integer edges lower + k * factor are exact as a regular axis
        merged = regular(n / factor, ax.lower, ax.upper, flow);
        break;
      default:
        throw new UserError(`Hist.rebin: ${ax.type} axis "${axisName}" cannot be rebinned`);
    }
    const under = ax.underflow ? 1 : 0;
    const map = new Int32Array(axisExtent(ax));
    for (let i = 0; i < map.length; i++) {
      const b = i - under;
      map[i] = b < 0 ? 0 : b >= n ? n / factor + under : Math.floor(b / factor) + under;
    }
    return this.#remapAxis(a, merged, map);
  }

  // ---- internals ----

  #options(): HistOptions {
    return { storage: this.storage, atomicMode: this.#atomicMode, ...(this.tensor ? { tensor: this.tensor } : {}) };
  }

  #cells(): number {
    return product(this.#axes.map(axisExtent)) * this.tensorSize;
  }

  #allocate(): void {
    const cells = this.#cells();
    this.#sumw = this.storage === "count" ? null : new Float64Array(cells);
    this.#sumw2 = this.storage === "weighted" ? new Float64Array(cells) : null;
    this.#count = this.storage === "count" ? new BigUint64Array(cells) : null;
    this.#stringCodes = this.#axes.map((ax) => (ax.type === "category_str" ? new Map(ax.categories.map((c, i) => [c, i])) : null));
    this.#native = new (loadHistmakerNative().NativeHist)(
      this.#axes.map(nativeSpec),
      this.tensorSize,
      STORAGE_KIND[this.storage],
      this.#sumw,
      this.#sumw2,
      this.#count,
      ATOMIC_MODE[this.#atomicMode],
    );
  }

  /** Float64 copies of the storage: [Σw or counts, Σw² (weighted only)]. */
  #planes(): [Float64Array, Float64Array?] {
    return this.#sumw2 ? [this.#plane(0), this.#plane(1)] : [this.#plane(0)];
  }

  /** Float64 copy of Σw or counts (0) or Σw² (1). */
  #plane(which: 0 | 1): Float64Array {
    if (this.#count) return Float64Array.from(this.#count, (c) => Number(c));
    return Float64Array.from((which === 0 ? this.#sumw : this.#sumw2) as Float64Array);
  }

  #setPlanes(values: Float64Array, variances: Float64Array | null): void {
    if (this.#count) {
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        if (!(v >= 0) || !Number.isInteger(v)) throw new UserError(`Hist: count storage needs non-negative integer values, got ${v}`);
        this.#count[i] = BigInt(v);
      }
      return;
    }
    (this.#sumw as Float64Array).set(values);
    if (this.#sumw2) {
      if (!variances || variances.length !== values.length) throw new UserError("Hist: weighted storage needs variances of the same length as the values");
      this.#sumw2.set(variances);
    }
  }

  #withoutFlow(plane: Float64Array, flow: boolean): Float64Array {
    if (flow || this.#axes.every((a) => !a.underflow && !a.overflow)) return plane;
    const newStrides = stridesOf(this.#axes.map(axisBins));
    const contrib = this.#axes.map((ax, a) => {
      const m = new Int32Array(axisExtent(ax));
      const under = ax.underflow ? 1 : 0;
      const n = axisBins(ax);
      for (let i = 0; i < m.length; i++) m[i] = i - under >= 0 && i - under < n ? (i - under) * newStrides[a] : -1;
      return m;
    });
    return reduceCells(plane, this.#axes.map(axisExtent), this.tensorSize, contrib, product(this.#axes.map(axisBins)));
  }

  #reduced(newAxes: Axis[], contrib: Int32Array[]): Hist {
    const extents = this.#axes.map(axisExtent);
    const newCells = product(newAxes.map(axisExtent));
    const planes = this.#planes().map((p) => reduceCells(p as Float64Array, extents, this.tensorSize, contrib, newCells));
    return Hist.fromArrays(newAxes, this.#options(), planes[0], planes[1]);
  }

  /** Copy with axis `a` replaced by `newAxis`, old index i going to map[i] (-1: dropped). */
  #remapAxis(a: number, newAxis: Axis, map: Int32Array): Hist {
    const newAxes = this.#axes.map((ax, i) => (i === a ? newAxis : ax));
    const newStrides = stridesOf(newAxes.map(axisExtent));
    const contrib = this.#axes.map((ax, i) => {
      if (i !== a) return identityContrib(axisExtent(ax), newStrides[i]);
      return Int32Array.from(map, (m) => (m < 0 ? -1 : m * newStrides[i]));
    });
    return this.#reduced(newAxes, contrib);
  }

  #axisIndex(name: string, what: string): number {
    const i = this.#axes.findIndex((a) => a.name === name);
    if (i < 0) throw new UserError(`Hist.${what}: no axis "${name}" (axes: ${this.#axes.map((a) => a.name).join(", ")})`);
    return i;
  }

  #column(columns: FillColumns, ax: Axis): FillColumn {
    if (Array.isArray(columns) && columns.length !== this.#axes.length)
      throw new UserError(`Hist.fill: ${columns.length} columns given for ${this.#axes.length} axes`);
    const c = Array.isArray(columns) ? (columns as readonly FillColumn[])[this.#axes.indexOf(ax)] : (columns as Record<string, FillColumn>)[ax.name];
    if (c === undefined) throw new UserError(`Hist.fill: no column for axis "${ax.name}"`);
    return c;
  }

  /** Values of growth category axes not yet in the axis, per axis index. */
  #newCategories(columns: FillColumns): Map<number, (number | string)[]> {
    const found = new Map<number, (number | string)[]>();
    this.#axes.forEach((ax, a) => {
      if ((ax.type !== "category_int" && ax.type !== "category_str") || !ax.growth) return;
      const col = this.#column(columns, ax);
      const fresh: (number | string)[] = [];
      if (ax.type === "category_str") {
        const codes = this.#stringCodes[a] as Map<string, number>;
        const seen = new Set<string>();
        // non-strings are left for #prepare to reject, never added as categories
        if (!isNumericTyped(col)) for (const s of col as readonly unknown[]) if (typeof s === "string" && !codes.has(s) && !seen.has(s)) (seen.add(s), fresh.push(s));
      } else {
        const known = new Set<number>(ax.categories);
        const values = col as ArrayLike<number | bigint>;
        for (let i = 0; i < values.length; i++) {
          const v = Number(values[i]);
          if (Number.isSafeInteger(v) && !known.has(v)) (known.add(v), fresh.push(v));
        }
      }
      if (fresh.length > 0) found.set(a, fresh);
    });
    return found;
  }

  #needsGrowth(columns: FillColumns): boolean {
    return this.#newCategories(columns).size > 0;
  }

  /** Appends categories (before the overflow bin) and moves the contents into new storage. */
  #grow(a: number, fresh: (number | string)[]): void {
    const ax = this.#axes[a];
    if (ax.type !== "category_int" && ax.type !== "category_str") return;
    const oldN = ax.categories.length;
    const grown: Axis =
      ax.type === "category_int"
        ? { ...ax, categories: [...ax.categories, ...(fresh as number[])] }
        : { ...ax, categories: [...ax.categories, ...(fresh as string[])] };
    const map = Int32Array.from({ length: axisExtent(ax) }, (_, i) => (i < oldN ? i : oldN + fresh.length));
    const moved = this.#remapAxis(a, grown, map);
    this.#axes = moved.#axes;
    this.#sumw = moved.#sumw;
    this.#sumw2 = moved.#sumw2;
    this.#count = moved.#count;
    this.#native = moved.#native;
    this.#stringCodes = moved.#stringCodes;
  }

  /** Checks columns, weights and threads before anything changes (a rejected fill must not grow axes). */
  #validate(columns: FillColumns, opts: FillOptions): { n: number; threads: number } {
    let n = -1;
    for (const ax of this.#axes) {
      const col = this.#column(columns, ax);
      if (ax.type === "category_str") {
        if (isNumericTyped(col) || !Array.isArray(col)) throw new UserError(`Hist.fill: axis "${ax.name}" takes an array of strings`);
        const bad = (col as readonly unknown[]).findIndex((v) => typeof v !== "string");
        if (bad >= 0) throw new UserError(`Hist.fill: axis "${ax.name}" takes strings, entry ${bad} is ${typeof (col as readonly unknown[])[bad]}`);
      } else if (!isNumericTyped(col) && !(Array.isArray(col) && col.every((v) => typeof v === "number"))) {
        throw new UserError(`Hist.fill: column "${ax.name}" must be a typed array or an array of numbers`);
      }
      if (n < 0) n = col.length;
      else if (col.length !== n) throw new UserError(`Hist.fill: column "${ax.name}" has ${col.length} entries, expected ${n}`);
    }
    const threads = opts.threads ?? 1;
    if (!Number.isInteger(threads) || threads < 1 || threads > 256) throw new UserError(`Hist.fill: threads must be an integer in 1..256, got ${threads}`);
    if (this.storage === "count" && (opts.weight || opts.tensorWeights)) throw new UserError("Hist.fill: count storage takes no weights");
    if (opts.weight && !(opts.weight instanceof Float64Array && opts.weight.length === n))
      throw new UserError(`Hist.fill: weight must be a Float64Array of length ${n}`);
    if (this.tensor) {
      if (!(opts.tensorWeights instanceof Float64Array) || opts.tensorWeights.length !== n * this.tensor.size)
        throw new UserError(`Hist.fill: tensor axis "${this.tensor.name}" needs tensorWeights, a Float64Array of ${n} × ${this.tensor.size}`);
    } else if (opts.tensorWeights) {
      throw new UserError("Hist.fill: tensorWeights given but the histogram has no tensor axis");
    }
    return { n, threads };
  }

  /** Validates, grows category axes, and converts the columns for the addon. */
  #prepare(columns: FillColumns, opts: FillOptions) {
    const { n, threads } = this.#validate(columns, opts);
    for (const [a, fresh] of this.#newCategories(columns)) this.#grow(a, fresh);
    const native: NativeColumn[] = this.#axes.map((ax, a) => {
      const col = this.#column(columns, ax);
      if (ax.type === "category_str") {
        const codes = this.#stringCodes[a] as Map<string, number>;
        const strs = col as readonly string[];
        const out = new Int32Array(strs.length);
        for (let i = 0; i < strs.length; i++) out[i] = codes.get(strs[i]) ?? -1;
        return out;
      }
      return isNumericTyped(col) ? col : Float64Array.from(col as number[]);
    });
    return { n, columns: native, weight: opts.weight ?? null, tensorWeights: opts.tensorWeights ?? null, threads };
  }
}
