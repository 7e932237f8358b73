/**
 * rabbit's pickled metadata (`meta/pickle_data`, written by wums.ioutils.pickle_dump_h5py) turned into
 * the shape of our `meta_json` (tensor-format.md): systematic_type, symmetric_tensor, meta_info and
 * channel_info with plain axes. Axis objects may be real `hist`/`boost_histogram` axes (their C++
 * state pickled by boost-histogram's tuple archive) or the small numpy stand-ins that wrote
 * shared/data/rabbit (an object whose __dict__ holds edges, name, label, _underflow, _overflow).
 */
import type { AxisInfo } from "../types.js";
import { NdArray, PickleError, PyDtype, PyGlobal, PyObject, PyPersistent, PySet, PyTuple, unpickle, type PyValue } from "./unpickle.js";

export interface RabbitPickledMeta {
  /** meta_json-shaped: every key the pickle had, with channel_info's axes as plain objects */
  meta: Record<string, unknown>;
  /** why channel_info could not be mapped (it is then left out of `meta`), else null */
  channelWarning: string | null;
}

/** Decodes the pickle bytes; throws PickleError when the pickle itself is unreadable or not a dict. */
export function decodeRabbitMeta(bytes: Uint8Array, buffers: Uint8Array[] = []): RabbitPickledMeta {
  const root = unpickle(bytes, { buffers });
  if (!(root instanceof Map)) throw new PickleError("the pickled metadata is not a dict");
  const meta: Record<string, unknown> = {};
  let channelWarning: string | null = null;
  for (const [k, v] of root) {
    const key = String(k);
    if (key === "channel_info") {
      try {
        meta[key] = channelInfoToJson(v);
      } catch (err) {
        if (!(err instanceof PickleError)) throw err;
        channelWarning = err.message;
      }
    } else {
      meta[key] = toJson(v);
    }
  }
  return { meta, channelWarning };
}

function channelInfoToJson(v: PyValue): Record<string, unknown> {
  if (!(v instanceof Map)) throw new PickleError("channel_info is not a dict");
  const out: Record<string, unknown> = {};
  for (const [name, raw] of v) {
    if (typeof name !== "string") throw new PickleError("channel_info has a channel name that is not a string");
    if (!(raw instanceof Map)) throw new PickleError(`channel '${name}' is not a dict`);
    const axes = seq(raw.get("axes") ?? null);
    if (axes === null) throw new PickleError(`channel '${name}' has no axes list`);
    const ch: Record<string, unknown> = {};
    for (const [k, val] of raw) if (k !== "axes") ch[String(k)] = toJson(val);
    ch["axes"] = axes.map((a, i) => {
      try {
        return axisToJson(a);
      } catch (err) {
        if (err instanceof PickleError) throw new PickleError(`channel '${name}' axis ${i}: ${err.message}`);
        throw err;
      }
    });
    out[name] = ch;
  }
  return out;
}

function seq(v: PyValue): PyValue[] | null {
  if (Array.isArray(v)) return v;
  if (v instanceof PyTuple) return v.items;
  return null;
}

function numbersOf(v: PyValue | undefined): number[] | null {
  if (v instanceof NdArray && v.values instanceof Float64Array) return Array.from(v.values);
  const items = v === undefined ? null : seq(v);
  if (items !== null && items.every((x): x is number => typeof x === "number")) return items;
  return null;
}

function categoriesOf(v: PyValue | undefined): (number | string)[] | null {
  if (v instanceof NdArray) {
    if (v.values instanceof Float64Array) return Array.from(v.values);
    const items: PyValue[] = v.values;
    if (items.every((x): x is string | number => typeof x === "string" || typeof x === "number")) return items;
    return null;
  }
  const items = v === undefined ? null : seq(v);
  if (items !== null && items.every((x): x is number | string => typeof x === "number" || typeof x === "string")) return items;
  return null;
}

function str(v: PyValue | undefined): string | undefined {
  return typeof v === "string" ? v : undefined;
}

/** The axis classes of hist / boost-histogram (Python side) that we map. */
const AXIS_KINDS = new Set(["Regular", "Variable", "Integer", "IntCategory", "StrCategory", "Boolean"]);

/** One pickled axis object as {name, label?, edges | categories, underflow, overflow}. */
export function axisToJson(v: PyValue): AxisInfo {
  if (!(v instanceof PyObject)) throw new PickleError("is not an axis object");
  const cls = `${v.module}.${v.name}`;
  if (!AXIS_KINDS.has(v.name) || !(v.module.startsWith("hist") || v.module.startsWith("boost_histogram"))) {
    throw new PickleError(`${cls} is not a hist/boost_histogram axis`);
  }
  // Instance state: the stand-in's __dict__, or (for __slots__ classes) (__dict__, {_ax: ...}) / {_ax: ...}.
  const dicts: Map<PyValue, PyValue>[] = [];
  const st = v.state;
  if (st instanceof Map) dicts.push(st);
  else if (st instanceof PyTuple) for (const item of st.items) if (item instanceof Map) dicts.push(item);
  if (v.dictItems.size > 0) dicts.push(v.dictItems);
  const get = (key: string): PyValue | undefined => {
    for (const d of dicts) if (d.has(key)) return d.get(key);
    return undefined;
  };
  const core = get("_ax");
  if (core instanceof PyObject) return coreAxis(core, v.name, get);
  return standInAxis(v.name, cls, get);
}

/** The numpy stand-in for hist used to write shared/data/rabbit. */
function standInAxis(kind: string, cls: string, get: (k: string) => PyValue | undefined): AxisInfo {
  const name = str(get("name"));
  if (name === undefined) throw new PickleError(`${cls} has no name`);
  const axis: AxisInfo = { name };
  const label = str(get("label"));
  if (label !== undefined && label !== "") axis.label = label;
  const edges = numbersOf(get("edges"));
  const categories = categoriesOf(get("categories") ?? get("_categories"));
  if (kind === "Boolean") {
    axis.categories = [0, 1];
  } else if (edges !== null && (kind === "Regular" || kind === "Variable" || kind === "Integer")) {
    if (edges.length < 2) throw new PickleError(`${cls} has fewer than two edges`);
    axis.edges = edges;
  } else if (categories !== null && (kind === "IntCategory" || kind === "StrCategory")) {
    axis.categories = categories;
  } else {
    throw new PickleError(`${cls}: neither edges nor categories in its state`);
  }
  const under = get("_underflow") ?? get("underflow");
  const over = get("_overflow") ?? get("overflow");
  axis.underflow = axis.edges !== undefined && under !== false;
  axis.overflow = kind !== "Boolean" && over !== false;
  return axis;
}

/**
 * boost-histogram's C++ axis (module boost_histogram._core.axis, e.g. regular_uoflow). Its pickled
 * state is the tuple its tuple_oarchive builds (bh_python/make_pickle.hpp): boost::histogram's
 * serialize() fields in order, a class version before every non-primitive (the axis itself, a
 * transform), std::vector of numbers as one numpy array, other vectors as (size, items...), the
 * metadata dict as is. The fields are read from the end, so the leading versions do not matter:
 *   regular:  (..., size, meta, min, delta)   regular_numpy: (..., size, meta, min, delta, stop)
 *   integer:  (..., size, meta, min)          variable / category_int: (..., array, meta)
 *   category_str: (..., n, s_1 ... s_n, meta) boolean: (..., meta)
 * The class name carries the flow options (bh_python/axis.hpp): uoflow / uflow / oflow / none,
 * growth, circular (regular and variable: with overflow), category: overflow unless growth.
 */
function coreAxis(core: PyObject, kind: string, outer: (k: string) => PyValue | undefined): AxisInfo {
  const cls = `${core.module}.${core.name}`;
  const state = core.state instanceof PyTuple ? core.state.items : core.args.length === 1 && core.args[0] instanceof PyTuple ? core.args[0].items : null;
  if (state === null) throw new PickleError(`${cls}: no state tuple`);
  const at = (fromEnd: number): PyValue | undefined => state[state.length - fromEnd];
  const t = core.name;
  let metaPos: number;
  let axis: AxisInfo;
  const finite = (x: PyValue | undefined): x is number => typeof x === "number" && Number.isFinite(x);
  const regular = /^regular_(uoflow|uflow|oflow|none|circular|uoflow_growth)$/.test(t);
  if (regular || t === "regular_numpy") {
    const shift = t === "regular_numpy" ? 1 : 0;
    const size = at(4 + shift);
    const min = at(2 + shift);
    const delta = at(1 + shift);
    if (!finite(size) || !Number.isInteger(size) || size < 1 || !finite(min) || !finite(delta)) throw new PickleError(`${cls}: state is not (size, meta, min, delta)`);
    // boost::histogram's regular::value(i) for the identity transform
    axis = { name: "", edges: Array.from({ length: size + 1 }, (_, i) => (i === size ? min + delta : min + (delta * i) / size)) };
    metaPos = 3 + shift;
  } else if (/^integer_(uoflow|uflow|oflow|none|growth|circular)$/.test(t)) {
    const size = at(3);
    const min = at(1);
    if (!finite(size) || !Number.isInteger(size) || !finite(min)) throw new PickleError(`${cls}: state is not (size, meta, min)`);
    axis = { name: "", edges: Array.from({ length: size + 1 }, (_, i) => min + i) };
    metaPos = 2;
  } else if (/^variable_(uoflow|uflow|oflow|none|circular|uoflow_growth)$/.test(t)) {
    const edges = numbersOf(at(2));
    if (edges === null || edges.length < 2) throw new PickleError(`${cls}: state is not (edges, meta)`);
    axis = { name: "", edges };
    metaPos = 1;
  } else if (t === "category_int" || t === "category_int_growth") {
    const categories = categoriesOf(at(2));
    if (categories === null) throw new PickleError(`${cls}: state is not (values, meta)`);
    axis = { name: "", categories };
    metaPos = 1;
  } else if (t === "category_str" || t === "category_str_growth") {
    axis = { name: "", categories: stringSequence(state.slice(0, -1), cls) };
    metaPos = 1;
  } else if (t === "boolean") {
    axis = { name: "", categories: [0, 1] };
    metaPos = 1;
  } else {
    throw new PickleError(`${cls} (axis ${kind}) is not supported (transformed and other axes cannot be mapped to edges here)`);
  }
  const meta = at(metaPos);
  const fromMeta = (k: string): PyValue | undefined => (meta instanceof Map ? meta.get(k) : undefined);
  const name = str(outer("name")) ?? str(fromMeta("name"));
  if (name === undefined) throw new PickleError(`${cls} has no name (neither in the axis' __dict__ nor in its metadata)`);
  axis.name = name;
  const label = str(outer("label")) ?? str(fromMeta("label"));
  if (label !== undefined && label !== "") axis.label = label;
  if (t === "boolean") {
    axis.underflow = false;
    axis.overflow = false;
  } else if (t.startsWith("category_")) {
    axis.underflow = false;
    axis.overflow = !t.endsWith("_growth");
  } else {
    axis.underflow = /uoflow|uflow|numpy/.test(t);
    // integer_circular is option::circular alone; regular/variable circular include overflow
    axis.overflow = /uoflow|oflow|numpy/.test(t) || (t.endsWith("_circular") && !t.startsWith("integer"));
  }
  return axis;
}

/** (..., n, s_1, ..., s_n) at the end of `items`: a std::vector<std::string> in the tuple archive. */
function stringSequence(items: PyValue[], cls: string): string[] {
  for (let n = 0; n < items.length; n++) {
    const sizeAt = items.length - 1 - n;
    const tail = items.slice(sizeAt + 1);
    if (items[sizeAt] === n && tail.every((x): x is string => typeof x === "string")) return tail;
    if (typeof items[items.length - 1 - n] !== "string") break;
  }
  throw new PickleError(`${cls}: state is not (n, strings..., meta)`);
}

/** A decoded value as JSON-safe data (for meta_info and other keys we keep but do not interpret). */
export function toJson(v: PyValue, seen: Set<object> = new Set()): unknown {
  if (v === null || typeof v === "boolean" || typeof v === "string") return v;
  if (typeof v === "number") return Number.isFinite(v) ? v : String(v);
  if (typeof v === "bigint") return v.toString();
  if (v instanceof Uint8Array) {
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(v);
    } catch {
      return Buffer.from(v).toString("hex");
    }
  }
  if (seen.has(v)) return "<recursive>";
  seen.add(v);
  try {
    if (Array.isArray(v)) return v.map((x) => toJson(x, seen));
    if (v instanceof PyTuple || v instanceof PySet) return v.items.map((x) => toJson(x, seen));
    if (v instanceof Map) {
      const o: Record<string, unknown> = {};
      for (const [k, x] of v) o[typeof k === "string" ? k : JSON.stringify(toJson(k, seen))] = toJson(x, seen);
      return o;
    }
    if (v instanceof NdArray) return v.values instanceof Float64Array ? Array.from(v.values) : (v.values as PyValue[]).map((x) => toJson(x, seen));
    if (v instanceof PyDtype) return v.str;
    if (v instanceof PyGlobal) return `${v.module}.${v.name}`;
    if (v instanceof PyPersistent) return { persistent_id: toJson(v.id, seen) };
    return { object: `${v.module}.${v.name}`, args: v.args.map((x) => toJson(x, seen)), state: v.state === undefined ? null : toJson(v.state, seen) };
  } finally {
    seen.delete(v);
  }
}
