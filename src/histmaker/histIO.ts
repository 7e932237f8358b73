/**
 * Histograms in HDF5 (via h5wasm), readable with plain h5py:
 *
 *   /<hist name>/values      float64, shape = flow shape (every axis with its flow bins, tensor last)
 *   /<hist name>/variances   float64, same shape (weighted storage only)
 *   /<hist name> attribute meta_json: a JSON string, see HistMeta below
 *
 * Python:  h = f["name"]; meta = json.loads(h.attrs["meta_json"]); v = h["values"][...]
 * Files are written to `<path>.tmp-<pid>` and renamed, so a crash leaves no half-written file.
 */
import { existsSync, renameSync, rmSync } from "node:fs";
import path from "node:path";
import h5wasm from "h5wasm/node";
import { UserError } from "../errors.js";
import { type Axis, axisEdges, axisFromJSON } from "./axes.js";
import { Hist, type StorageType, type TensorAxis } from "./Hist.js";

export const HIST_SCHEMA = "hepfit.hist";
export const HIST_SCHEMA_VERSION = 1;

/** Contents of the meta_json attribute. Axes carry `edges` too (continuous axes) for convenience. */
export interface HistMeta {
  schema: typeof HIST_SCHEMA;
  version: number;
  storage: StorageType;
  axes: (Axis & { edges?: number[] })[];
  tensor: TensorAxis | null;
  /** shape of `values` / `variances` */
  shape: number[];
  layout: string;
}

const LAYOUT =
  "row-major; one dimension per axis in order, each with its enabled flow bins (underflow at index 0, overflow last), then the tensor axis when present";

let ready: Promise<unknown> | null = null;
async function h5(): Promise<void> {
  if (ready === null) {
    ready = h5wasm.ready.then((m) => {
      m.activate_throwing_error_handler();
      return m;
    });
  }
  await ready;
}

function metaOf(h: Hist): HistMeta {
  const schema = h.toJSON();
  return {
    schema: HIST_SCHEMA,
    version: HIST_SCHEMA_VERSION,
    storage: schema.storage,
    axes: schema.axes.map((a) => (a.type === "category_int" || a.type === "category_str" ? a : { ...a, edges: axisEdges(a) })),
    tensor: schema.tensor,
    shape: h.flowShape,
    layout: LAYOUT,
  };
}

export interface SaveOptions {
  /** gzip (deflate) level 1-9 for values/variances, stored in ~1 MiB chunks; default: uncompressed */
  gzip?: number;
}

/** Chunk shape of at most ~1 MiB of float64: the leading dimensions are cut first. */
function chunkShape(shape: readonly number[]): number[] {
  const limit = 1 << 17; // elements
  const chunk = shape.map((d) => Math.max(1, d));
  for (let i = 0; i < chunk.length; i++) {
    const total = chunk.reduce((a, b) => a * b, 1);
    if (total <= limit) break;
    const rest = total / chunk[i];
    chunk[i] = Math.max(1, Math.floor(limit / rest));
  }
  return chunk;
}

/** Writes every histogram as one group; replaces `file` atomically. */
export async function saveHists(file: string, hists: Record<string, Hist>, opts: SaveOptions = {}): Promise<void> {
  await h5();
  const gzip = opts.gzip;
  if (gzip !== undefined && !(Number.isInteger(gzip) && gzip >= 1 && gzip <= 9)) throw new UserError(`${file}: gzip level must be an integer 1-9, got ${gzip}`);
  const target = path.resolve(file);
  const tmp = `${target}.tmp-${process.pid}`;
  for (const name of Object.keys(hists)) {
    if (name.length === 0 || name.includes("/") || name === ".") throw new UserError(`${file}: histogram name "${name}" cannot be an HDF5 group name`);
  }
  let out: InstanceType<typeof h5wasm.File> | null = null;
  try {
    out = new h5wasm.File(tmp, "w");
    for (const [name, h] of Object.entries(hists)) {
      const g = out.create_group(name);
      const shape = h.flowShape;
      const packing = gzip !== undefined && shape.every((d) => d > 0) ? { chunks: chunkShape(shape), compression: gzip } : {};
      g.create_dataset({ name: "values", data: h.values({ flow: true }), shape, dtype: "<d", ...packing });
      if (h.storage === "weighted") g.create_dataset({ name: "variances", data: h.variances({ flow: true }), shape, dtype: "<d", ...packing });
      g.create_attribute("meta_json", JSON.stringify(metaOf(h)));
    }
    const written = out;
    out = null;
    written.close();
    renameSync(tmp, target);
  } catch (e) {
    try {
      out?.close();
    } catch {
      // already failing; the original error matters
    }
    rmSync(tmp, { force: true });
    throw new UserError(`${file}: cannot write histograms (${e instanceof Error ? e.message.split("\n")[0] : String(e)})`);
  }
}

function readFloat64(g: { get(name: string): unknown }, name: string, where: string, expected: number): Float64Array {
  const ds = g.get(name);
  if (!(ds instanceof h5wasm.Dataset)) throw new UserError(`${where}: dataset "${name}" is missing`);
  const v = ds.value;
  const arr = v instanceof Float64Array ? v : ArrayBuffer.isView(v) ? Float64Array.from(v as unknown as ArrayLike<number>) : null;
  if (!arr) throw new UserError(`${where}/${name}: not a numeric dataset`);
  if (arr.length !== expected) throw new UserError(`${where}/${name}: has ${arr.length} entries, meta_json binning needs ${expected}`);
  return arr;
}

/** Reads every group carrying a meta_json attribute back into a Hist. */
export async function loadHists(file: string): Promise<Record<string, Hist>> {
  await h5();
  const target = path.resolve(file);
  if (!existsSync(target)) throw new UserError(`${file}: no such file`);
  let f: InstanceType<typeof h5wasm.File>;
  try {
    f = new h5wasm.File(target, "r");
  } catch (e) {
    throw new UserError(`${file}: cannot open as HDF5 (${e instanceof Error ? e.message.split("\n")[0] : String(e)})`);
  }
  try {
    const result: Record<string, Hist> = {};
    for (const name of f.keys()) {
      const g = f.get(name);
      if (!(g instanceof h5wasm.Group) || !("meta_json" in g.attrs)) continue;
      const where = `${file}:/${name}`;
      let meta: HistMeta;
      try {
        meta = JSON.parse(String(g.attrs["meta_json"].value)) as HistMeta;
      } catch {
        throw new UserError(`${where}: meta_json is not valid JSON`);
      }
      if (meta.schema !== HIST_SCHEMA) throw new UserError(`${where}: meta_json schema is "${String(meta.schema)}", expected "${HIST_SCHEMA}"`);
      const axes = (meta.axes ?? []).map((a, i) => axisFromJSON(a, `${where} axis ${i}`));
      const opts = { storage: meta.storage, ...(meta.tensor ? { tensor: meta.tensor } : {}) };
      const empty = new Hist(axes, opts);
      const cells = empty.flowShape.reduce((a, b) => a * b, 1);
      const values = readFloat64(g, "values", where, cells);
      const variances = meta.storage === "weighted" ? readFloat64(g, "variances", where, cells) : undefined;
      result[name] = Hist.fromArrays(axes, opts, values, variances);
    }
    return result;
  } finally {
    f.close();
  }
}
