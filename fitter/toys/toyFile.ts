/**
 * toys.hdf5 (the per-toy results), the resume checkpoint, and merging toy files of one toy set.
 *
 * toys.hdf5:
 *   config_json        string: ToySetIdentity (everything that defines the toy set) as JSON
 *   parameters         names of the kept parameters [nstored]
 *   toy_index          int32 [ntoys], ascending
 *   status             int8  [ntoys] (0 converged, 1 failed)
 *   nll chi2 edm iterations hvps    float64 [ntoys]
 *   values errors generated         float64 [ntoys, nstored] (reported units, POIs as μ)
 * A file holds any subset of the toys of its set (a --toy-range); files of the same set merge into
 * exactly the file one run over their union writes.
 */
import { existsSync, readFileSync, renameSync, rmSync } from "node:fs";
import { UserError } from "../../src/errors.js";
import { H5, absPath, h5ErrorLine, h5Ready } from "../../src/tensor/h5.js";
import { writeFileAtomic } from "../writeResults.js";
import { HEADER_LENGTH, RECORD_HEADER } from "./toyTask.js";

export const TOYS_HDF5 = "toys.hdf5";
export const TOYS_CHECKPOINT = "toys.checkpoint.json";
const FORMAT = "hepfit-toys-1";

/** What makes two toy files parts of the same toy set. */
export interface ToySetIdentity {
  format: string;
  input_sha256: string;
  seed: number;
  syst: string;
  data: string;
  from: string;
  poi_mode: string;
  bbb: boolean;
  expect_signal: number;
  freeze: string | null;
  /** data the nominal fit used ("observed", "asimov", "pseudodata:NAME") */
  data_source: string;
  parameters: string[];
  dense_errors: boolean;
  /** generation centre (minimiser coordinates) as exact hex of its float64 bytes */
  centre_hex: string;
  /** χ² of the fit to the data (for the goodness-of-fit p-value) */
  observed_chi2: number;
  /**
   * sha256 of the fit to the data (point and covariance: the toys' preconditioner). Its last bits
   * depend on the evaluator's thread count: run every part of a set with the same --threads.
   */
  nominal_sha256: string;
}

export function makeIdentity(fields: Omit<ToySetIdentity, "format" | "centre_hex"> & { centre: Float64Array }): ToySetIdentity {
  const { centre, ...rest } = fields;
  return { format: FORMAT, ...rest, centre_hex: Buffer.from(centre.buffer, centre.byteOffset, centre.byteLength).toString("hex") };
}

/** Per-toy results of a set, rows in ascending toy index. */
export interface ToyTable {
  identity: ToySetIdentity;
  index: Int32Array;
  /** one record (toyTask.ts layout) per row */
  records: Float64Array[];
}

function sameIdentity(a: ToySetIdentity, b: ToySetIdentity): string | null {
  for (const key of Object.keys(a) as (keyof ToySetIdentity)[]) {
    if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) return key;
  }
  for (const key of Object.keys(b)) if (!(key in a)) return key;
  return null;
}

export function nstoredOf(identity: ToySetIdentity): number {
  return identity.parameters.length;
}

/** Writes a table to `path` atomically. */
export async function writeToyFile(path: string, table: ToyTable): Promise<void> {
  await h5Ready();
  const ns = nstoredOf(table.identity);
  const n = table.records.length;
  const col = (j: number): Float64Array => Float64Array.from(table.records, (r) => r[j]);
  const block = (offset: number): Float64Array => {
    const out = new Float64Array(n * ns);
    table.records.forEach((r, t) => out.set(r.subarray(offset, offset + ns), t * ns));
    return out;
  };
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    const f = new H5.File(absPath(tmp), "w");
    try {
      f.create_dataset({ name: "config_json", data: [JSON.stringify(table.identity)] });
      f.create_dataset({ name: "parameters", data: table.identity.parameters.length > 0 ? table.identity.parameters : [""] });
      f.create_dataset({ name: "toy_index", data: Int32Array.from(table.index), shape: [n], dtype: "<i" });
      f.create_dataset({ name: "status", data: Int8Array.from(table.records, (r) => r[0]), shape: [n], dtype: "<b" });
      RECORD_HEADER.forEach((name, j) => {
        if (j > 0) f.create_dataset({ name, data: col(j), shape: [n] });
      });
      f.create_dataset({ name: "values", data: block(HEADER_LENGTH), shape: [n, ns] });
      f.create_dataset({ name: "errors", data: block(HEADER_LENGTH + ns), shape: [n, ns] });
      f.create_dataset({ name: "generated", data: block(HEADER_LENGTH + 2 * ns), shape: [n, ns] });
    } finally {
      f.close();
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

function readNumbers(f: { get(name: string): unknown }, file: string, name: string): Float64Array {
  const ds = f.get(name) as { value: unknown } | null;
  if (!ds) throw new UserError(`${file}: dataset ${name} missing (not a toys file of hepfit)`);
  return Float64Array.from(ds.value as ArrayLike<number>);
}

export async function readToyFile(path: string): Promise<ToyTable> {
  if (!existsSync(path)) throw new UserError(`${path}: no such file`);
  await h5Ready();
  let f: InstanceType<typeof H5.File>;
  try {
    f = new H5.File(absPath(path), "r");
  } catch (err) {
    throw new UserError(`${path}: cannot read as HDF5 (${h5ErrorLine(err)})`);
  }
  try {
    const cfg = f.get("config_json") as { value: unknown } | null;
    if (!cfg) throw new UserError(`${path}: dataset config_json missing (not a toys file of hepfit)`);
    const raw = cfg.value;
    const identity = JSON.parse(String(Array.isArray(raw) ? raw[0] : raw)) as ToySetIdentity;
    if (identity.format !== FORMAT) throw new UserError(`${path}: config_json format "${identity.format}", expected "${FORMAT}"`);
    const ns = nstoredOf(identity);
    const index = Int32Array.from(readNumbers(f, path, "toy_index"));
    const n = index.length;
    const status = readNumbers(f, path, "status");
    const cols = RECORD_HEADER.map((name, j) => (j === 0 ? status : readNumbers(f, path, name)));
    const blocks = ["values", "errors", "generated"].map((name) => readNumbers(f, path, name));
    for (const [j, c] of cols.entries()) if (c.length !== n) throw new UserError(`${path}: ${RECORD_HEADER[j]} has ${c.length} entries, toy_index ${n}`);
    for (const b of blocks) if (b.length !== n * ns) throw new UserError(`${path}: values/errors/generated are not [${n}, ${ns}]`);
    const records = Array.from({ length: n }, (_, t) => {
      const r = new Float64Array(HEADER_LENGTH + 3 * ns);
      cols.forEach((c, j) => (r[j] = c[t]));
      blocks.forEach((b, k) => r.set(b.subarray(t * ns, (t + 1) * ns), HEADER_LENGTH + k * ns));
      return r;
    });
    return { identity, index, records };
  } finally {
    f.close();
  }
}

/** Merges toy tables of one set (same identity, disjoint toys) into one, rows by toy index. */
export function mergeToyTables(tables: readonly { table: ToyTable; name: string }[]): ToyTable {
  if (tables.length === 0) throw new UserError("fit-toys-merge: no toy files given");
  const first = tables[0];
  const owner = new Map<number, string>();
  const rows: { index: number; record: Float64Array }[] = [];
  for (const { table, name } of tables) {
    const diff = sameIdentity(first.table.identity, table.identity);
    if (diff !== null) {
      const hint = diff === "nominal_sha256" ? "; the fits to the data differ in their last bits: run every part with the same --threads" : "";
      throw new UserError(`${name}: not the same toy set as ${first.name} (${diff} differs${hint})`);
    }
    table.index.forEach((idx, t) => {
      const prev = owner.get(idx);
      if (prev !== undefined) throw new UserError(`${name}: toy ${idx} is also in ${prev} (overlapping toy ranges)`);
      owner.set(idx, name);
      rows.push({ index: idx, record: table.records[t] });
    });
  }
  rows.sort((a, b) => a.index - b.index);
  return { identity: first.table.identity, index: Int32Array.from(rows, (r) => r.index), records: rows.map((r) => r.record) };
}

// ---------------------------------------------------------------------------------------------
// Checkpoint: the finished toys of an interrupted run, exact (float64 bytes as base64)

interface CheckpointJson {
  identity: ToySetIdentity;
  records: Record<string, string>;
}

export function writeCheckpoint(path: string, identity: ToySetIdentity, done: ReadonlyMap<number, Float64Array>): void {
  const records: Record<string, string> = {};
  for (const [idx, rec] of done) records[String(idx)] = Buffer.from(rec.buffer, rec.byteOffset, rec.byteLength).toString("base64");
  writeFileAtomic(path, JSON.stringify({ identity, records } satisfies CheckpointJson));
}

/** The finished toys of a checkpoint made for `identity`; an empty map when there is none. */
export function readCheckpoint(path: string, identity: ToySetIdentity): Map<number, Float64Array> {
  const out = new Map<number, Float64Array>();
  if (!existsSync(path)) return out;
  let cp: CheckpointJson;
  try {
    cp = JSON.parse(readFileSync(path, "utf8")) as CheckpointJson;
  } catch {
    throw new UserError(`${path}: unreadable checkpoint (remove it to start over)`);
  }
  const diff = sameIdentity(identity, cp.identity);
  if (diff !== null) throw new UserError(`${path}: made for other toys (${diff} differs); remove it or repeat the original options`);
  for (const [k, b64] of Object.entries(cp.records)) {
    const buf = Buffer.from(b64, "base64");
    out.set(Number(k), new Float64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength)));
  }
  return out;
}
