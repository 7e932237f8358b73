/**
 * Histogram axes: plain, JSON-serialisable descriptions (the same objects go into `meta_json`).
 *
 * Bin index convention along an axis (also used by the native addon): when the axis has an
 * underflow bin it is index 0 and the regular bins follow; the overflow bin, when present, is last.
 *
 * Binning rules (decided here, implemented in histmaker-native/src/axes.h):
 *  - bins are half-open [lower, upper); a value exactly on an inner edge goes to the bin starting
 *    there, a value equal to the last edge goes to overflow (dropped without overflow);
 *  - NaN goes to the overflow bin when there is one, otherwise the event is dropped
 *    (boolean axis: NaN is dropped; any other non-zero value is `true`);
 *  - integer(lower, upper) has one bin per integer lower .. upper-1; a value x lands in floor(x);
 *  - category axes: a value not in the list goes to the overflow ("other") bin when enabled, or
 *    grows the axis when `growth` is set, or is dropped; category axes never have underflow.
 */
import { UserError } from "../errors.js";

export interface AxisOptions {
  name: string;
  label?: string;
  underflow?: boolean;
  overflow?: boolean;
}

export interface CategoryOptions {
  name: string;
  label?: string;
  /** an "other" bin for values not in the list (default true unless growth) */
  overflow?: boolean;
  /** add unseen values as new categories during fills (default false) */
  growth?: boolean;
}

interface AxisBase {
  name: string;
  label: string;
  underflow: boolean;
  overflow: boolean;
}

export interface RegularAxis extends AxisBase {
  type: "regular";
  bins: number;
  lower: number;
  upper: number;
}

export interface VariableAxis extends AxisBase {
  type: "variable";
  edges: number[];
}

export interface IntegerAxis extends AxisBase {
  type: "integer";
  lower: number;
  upper: number;
}

export interface BooleanAxis extends AxisBase {
  type: "boolean";
}

export interface CategoryIntAxis extends AxisBase {
  type: "category_int";
  categories: number[];
  growth: boolean;
}

export interface CategoryStrAxis extends AxisBase {
  type: "category_str";
  categories: string[];
  growth: boolean;
}

export type Axis = RegularAxis | VariableAxis | IntegerAxis | BooleanAxis | CategoryIntAxis | CategoryStrAxis;

function baseOf(opts: AxisOptions, what: string, flowDefault: boolean): AxisBase {
  if (typeof opts?.name !== "string" || opts.name.length === 0) throw new UserError(`${what}: axis needs a non-empty name`);
  return {
    name: opts.name,
    label: opts.label ?? opts.name,
    underflow: opts.underflow ?? flowDefault,
    overflow: opts.overflow ?? flowDefault,
  };
}

/** `bins` equal bins on [lower, upper); flow bins on by default. */
export function regular(bins: number, lower: number, upper: number, opts: AxisOptions): RegularAxis {
  const base = baseOf(opts, "regular", true);
  if (!Number.isInteger(bins) || bins < 1) throw new UserError(`regular axis "${base.name}": bins must be an integer >= 1, got ${bins}`);
  if (!Number.isFinite(lower) || !Number.isFinite(upper) || !(upper > lower))
    throw new UserError(`regular axis "${base.name}": needs finite lower < upper, got [${lower}, ${upper})`);
  return { type: "regular", ...base, bins, lower, upper };
}

/** Bins between consecutive strictly increasing `edges`; flow bins on by default. */
export function variable(edges: readonly number[], opts: AxisOptions): VariableAxis {
  const base = baseOf(opts, "variable", true);
  if (edges.length < 2) throw new UserError(`variable axis "${base.name}": needs at least 2 edges`);
  for (let i = 0; i < edges.length; i++) {
    if (!Number.isFinite(edges[i])) throw new UserError(`variable axis "${base.name}": edge ${i} is not finite`);
    if (i > 0 && !(edges[i] > edges[i - 1])) throw new UserError(`variable axis "${base.name}": edges must increase strictly (edge ${i})`);
  }
  return { type: "variable", ...base, edges: [...edges] };
}

/** One bin per integer lower, ..., upper - 1; flow bins on by default. */
export function integer(lower: number, upper: number, opts: AxisOptions): IntegerAxis {
  const base = baseOf(opts, "integer", true);
  if (!Number.isSafeInteger(lower) || !Number.isSafeInteger(upper) || !(upper > lower))
    throw new UserError(`integer axis "${base.name}": needs integers lower < upper, got [${lower}, ${upper})`);
  return { type: "integer", ...base, lower, upper };
}

/** Two bins, false (0) and true (any other value); never flow bins. */
export function boolean(opts: { name: string; label?: string }): BooleanAxis {
  const base = baseOf({ ...opts, underflow: false, overflow: false }, "boolean", false);
  return { type: "boolean", ...base };
}

function categoryBase(opts: CategoryOptions, what: string): AxisBase & { growth: boolean } {
  const growth = opts.growth ?? false;
  const base = baseOf({ name: opts.name, label: opts.label, underflow: false, overflow: opts.overflow ?? !growth }, what, false);
  return { ...base, growth };
}

/** Integer categories in the given order. */
export function categoryInt(values: readonly number[], opts: CategoryOptions): CategoryIntAxis {
  const base = categoryBase(opts, "categoryInt");
  const seen = new Set<number>();
  for (const v of values) {
    if (!Number.isSafeInteger(v)) throw new UserError(`categoryInt axis "${base.name}": category ${v} is not an integer`);
    if (seen.has(v)) throw new UserError(`categoryInt axis "${base.name}": category ${v} appears twice`);
    seen.add(v);
  }
  if (values.length === 0 && !base.growth) throw new UserError(`categoryInt axis "${base.name}": needs categories or growth`);
  return { type: "category_int", ...base, categories: [...values] };
}

/** String categories in the given order. */
export function categoryStr(values: readonly string[], opts: CategoryOptions): CategoryStrAxis {
  const base = categoryBase(opts, "categoryStr");
  if (new Set(values).size !== values.length) throw new UserError(`categoryStr axis "${base.name}": categories must be unique`);
  if (values.length === 0 && !base.growth) throw new UserError(`categoryStr axis "${base.name}": needs categories or growth`);
  return { type: "category_str", ...base, categories: [...values] };
}

/** Number of regular bins (categories for category axes), flow excluded. */
export function axisBins(ax: Axis): number {
  switch (ax.type) {
    case "regular":
      return ax.bins;
    case "variable":
      return ax.edges.length - 1;
    case "integer":
      return ax.upper - ax.lower;
    case "boolean":
      return 2;
    case "category_int":
    case "category_str":
      return ax.categories.length;
  }
}

/** Number of bins including the enabled flow bins. */
export function axisExtent(ax: Axis): number {
  return axisBins(ax) + (ax.underflow ? 1 : 0) + (ax.overflow ? 1 : 0);
}

/** Bin edges of a continuous axis (regular edges are lower + (upper - lower) * i / bins, as in C++). */
export function axisEdges(ax: Axis): number[] {
  switch (ax.type) {
    case "regular": {
      const e: number[] = [];
      for (let i = 0; i <= ax.bins; i++) e.push(ax.lower + ((ax.upper - ax.lower) * i) / ax.bins);
      return e;
    }
    case "variable":
      return [...ax.edges];
    case "integer": {
      const e: number[] = [];
      for (let v = ax.lower; v <= ax.upper; v++) e.push(v);
      return e;
    }
    case "boolean":
      return [0, 1, 2];
    default:
      throw new UserError(`axis "${ax.name}": a category axis has no edges`);
  }
}

/** Two axes bin identically (names, types, edges/categories and flow flags). */
export function sameBinning(a: Axis, b: Axis): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Checks an axis read from a file (meta_json) and returns it re-built through the factories. */
export function axisFromJSON(raw: unknown, where: string): Axis {
  const o = raw as Record<string, unknown>;
  const opts = { name: String(o?.name ?? ""), label: typeof o?.label === "string" ? o.label : undefined };
  const flow = { underflow: o?.underflow === true, overflow: o?.overflow === true };
  switch (o?.type) {
    case "regular":
      return regular(Number(o.bins), Number(o.lower), Number(o.upper), { ...opts, ...flow });
    case "variable":
      return variable((o.edges as unknown[]).map(Number), { ...opts, ...flow });
    case "integer":
      return integer(Number(o.lower), Number(o.upper), { ...opts, ...flow });
    case "boolean":
      return boolean(opts);
    case "category_int":
      return categoryInt((o.categories as unknown[]).map(Number), { ...opts, overflow: flow.overflow, growth: o.growth === true });
    case "category_str":
      return categoryStr((o.categories as unknown[]).map(String), { ...opts, overflow: flow.overflow, growth: o.growth === true });
    default:
      throw new UserError(`${where}: unknown axis type ${JSON.stringify(o?.type)}`);
  }
}
