/**
 * Event sources: opens an event file by its extension — ROOT TTrees (.root) through the ROOT
 * reader, our columnar HDF5 files (.h5/.hdf5) here — and yields EventChunks either way.
 *
 * Columnar layout (written by writeColumnarEvents): group `/<tree>` with attributes
 * `format = "histmaker-events"`, `version = 1`, `entries`; a flat branch is a 1-D dataset of
 * length `entries`; a jagged branch is a group with `offsets` (int32, entries + 1, starting at 0)
 * and `values`.
 */
import { renameSync, rmSync } from "node:fs";
import type h5wasm from "h5wasm/node";
import { UserError } from "../errors.js";
import type { Column, EventChunk, JaggedColumn, NumericArray } from "./events.js";
import { isJagged } from "./events.js";
import { RootFile } from "./root/RootFile.js";

export interface IterateOptions {
  /** branches to read (default: all) */
  branches?: string[];
  chunkEntries?: number;
  start?: number;
  stop?: number;
}

export interface EventSource {
  path: string;
  entries: number;
  branchNames: string[];
  iterate(opts: IterateOptions): AsyncGenerator<EventChunk>;
  close(): void;
}

export const COLUMNAR_EXTENSIONS = [".h5", ".hdf5"];

export async function openEventSource(path: string, tree = "Events"): Promise<EventSource> {
  const lower = path.toLowerCase();
  if (lower.endsWith(".root")) return openRootSource(path, tree);
  if (COLUMNAR_EXTENSIONS.some((e) => lower.endsWith(e))) return openColumnarSource(path, tree);
  throw new UserError(`${path}: unknown event file type (expected .root, .h5 or .hdf5)`);
}

// ---- ROOT -------------------------------------------------------------------------------------

async function openRootSource(path: string, tree: string): Promise<EventSource> {
  const file = await RootFile.open(path);
  try {
    const t = file.tree(tree);
    // branches the reader cannot decode (strings, unsupported classes) are not offered by default
    const readable = t.branches().filter((b) => !b.type.includes("unsupported") && b.type !== "string").map((b) => b.name);
    return {
      path,
      entries: t.entries,
      branchNames: readable,
      iterate: (opts) => t.iterate({ ...opts, branches: opts.branches ?? readable }),
      close: () => file.close(),
    };
  } catch (err) {
    file.close();
    throw err;
  }
}

// ---- columnar HDF5 ----------------------------------------------------------------------------

// loaded on first use: its WebAssembly start-up (~0.7 s) is not paid by runs (and --jobs workers)
// that read only ROOT files
let h5Lib: Promise<typeof h5wasm> | null = null;
export async function h5(): Promise<typeof h5wasm> {
  h5Lib ??= import("h5wasm/node").then(async (m) => {
    const lib = (m as { default?: typeof h5wasm }).default ?? (m as unknown as typeof h5wasm);
    await lib.ready;
    return lib;
  });
  return h5Lib;
}

type H5File = InstanceType<typeof h5wasm.File>;
type H5Group = InstanceType<typeof h5wasm.Group>;
type H5Dataset = InstanceType<typeof h5wasm.Dataset>;

async function openColumnarSource(path: string, tree: string): Promise<EventSource> {
  const lib = await h5();
  let file: H5File;
  try {
    file = new lib.File(path, "r");
  } catch (err) {
    throw new UserError(`${path}: cannot open as HDF5 (${(err as Error).message})`);
  }
  const group = file.get(tree);
  if (!(group instanceof lib.Group)) {
    file.close();
    throw new UserError(`${path}: no event group "${tree}"`);
  }
  const entries = Number(group.attrs["entries"]?.value ?? Number.NaN);
  if (!Number.isFinite(entries)) {
    file.close();
    throw new UserError(`${path}: group "${tree}" has no "entries" attribute (not a histmaker event file)`);
  }
  const branchNames = group.keys();
  const source: EventSource = {
    path,
    entries,
    branchNames,
    async *iterate(opts: IterateOptions): AsyncGenerator<EventChunk> {
      const wanted = opts.branches ?? branchNames;
      for (const b of wanted)
        if (!branchNames.includes(b)) throw new UserError(`${path}: no branch "${b}" in "${tree}"`);
      const chunk = Math.max(1, opts.chunkEntries ?? 100_000);
      const start = Math.max(0, opts.start ?? 0);
      const stop = Math.min(entries, opts.stop ?? entries);
      for (let s = start; s < stop; s += chunk) {
        const e = Math.min(stop, s + chunk);
        const columns: Record<string, Column> = {};
        for (const b of wanted) columns[b] = readBranch(lib, group, b, s, e, path);
        yield { file: path, start: s, length: e - s, columns };
      }
    },
    close: () => {
      file.close();
    },
  };
  return source;
}

function readBranch(lib: typeof h5wasm, group: H5Group, name: string, s: number, e: number, path: string): Column {
  const obj = group.get(name);
  if (obj instanceof lib.Dataset) return asNumeric(obj.slice([[s, e]]), path, name);
  if (obj instanceof lib.Group) {
    const offDs = obj.get("offsets");
    const valDs = obj.get("values");
    if (!(offDs instanceof lib.Dataset) || !(valDs instanceof lib.Dataset))
      throw new UserError(`${path}: jagged branch "${name}" needs "offsets" and "values"`);
    const raw = asNumeric(offDs.slice([[s, e + 1]]), path, `${name}/offsets`);
    const base = Number(raw[0]);
    const offsets = new Int32Array(raw.length);
    for (let i = 0; i < raw.length; i++) offsets[i] = Number(raw[i]) - base;
    const values = e > s ? asNumeric(valDs.slice([[base, base + offsets[offsets.length - 1]]]), path, name) : new Float64Array(0);
    return { offsets, values };
  }
  throw new UserError(`${path}: branch "${name}" is neither a dataset nor a jagged group`);
}

function asNumeric(v: unknown, path: string, name: string): NumericArray {
  if (ArrayBuffer.isView(v) && !(v instanceof DataView) && !(v instanceof Uint8ClampedArray)) return v as NumericArray;
  throw new UserError(`${path}: branch "${name}" is not numeric`);
}

export interface WriteEventsOptions {
  tree?: string;
  /** gzip level 1-9 (default: no compression, fastest) */
  gzip?: number;
}

/** Writes columns (all of the same event count) as a columnar event file, atomically. */
export async function writeColumnarEvents(path: string, columns: Record<string, Column>, opts: WriteEventsOptions = {}): Promise<void> {
  await writeColumnarTrees(path, { [opts.tree ?? "Events"]: columns }, opts);
}

/** Writes several trees (e.g. "Events" and a per-run "Runs" summary) into one columnar file, atomically. */
export async function writeColumnarTrees(path: string, trees: Record<string, Record<string, Column>>, opts: { gzip?: number } = {}): Promise<void> {
  const lib = await h5();
  const tmp = `${path}.tmp-${process.pid}`;
  const file = new lib.File(tmp, "w");
  try {
    for (const [tree, columns] of Object.entries(trees)) {
      let entries = -1;
      for (const [name, col] of Object.entries(columns)) {
        const n = isJagged(col) ? col.offsets.length - 1 : col.length;
        if (entries >= 0 && n !== entries) throw new UserError(`${path}: column "${tree}/${name}" has ${n} entries, others ${entries}`);
        entries = n;
      }
      if (entries < 0) throw new UserError(`${path}: tree "${tree}" has no columns to write`);
      const group = file.create_group(tree);
      group.create_attribute("format", "histmaker-events");
      group.create_attribute("version", 1);
      group.create_attribute("entries", entries);
      for (const [name, col] of Object.entries(columns)) {
        if (isJagged(col)) {
          const g = group.create_group(name);
          writeArray(g, "offsets", col.offsets, opts.gzip);
          writeArray(g, "values", col.values, opts.gzip);
        } else writeArray(group, name, col, opts.gzip);
      }
    }
  } catch (err) {
    file.close();
    rmSync(tmp, { force: true });
    throw err;
  }
  file.close();
  renameSync(tmp, path);
}

/** Σ of a flat branch over a whole tree (e.g. genEventSumw in NanoAOD's "Runs" tree). */
export async function sumBranch(path: string, tree: string, branch: string): Promise<number> {
  const src = await openEventSource(path, tree);
  try {
    let s = 0;
    for await (const chunk of src.iterate({ branches: [branch] })) {
      const c = chunk.columns[branch];
      if (isJagged(c)) throw new UserError(`${path}: ${tree}/${branch} is jagged; expected one value per entry`);
      for (let i = 0; i < c.length; i++) s += Number(c[i]);
    }
    return s;
  } finally {
    src.close();
  }
}

function writeArray(g: H5Group, name: string, data: NumericArray, gzip?: number): H5Dataset {
  const n = data.length;
  const chunked = gzip !== undefined && n > 0;
  return g.create_dataset({
    name,
    data,
    shape: [n],
    ...(chunked ? { chunks: [Math.min(n, 65536)], compression: "gzip" as const, compression_opts: gzip } : {}),
  });
}

/** Events in the file (opens and closes it). */
export async function countEntries(path: string, tree = "Events"): Promise<number> {
  const src = await openEventSource(path, tree);
  try {
    return src.entries;
  } finally {
    src.close();
  }
}

export type { JaggedColumn };
