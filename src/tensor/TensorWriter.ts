/**
 * Writes a TensorModel in the rabbit HDF5 layout (../shared/spec/tensor-format.md), as
 * rabbit/tensor_model.py does: numeric datasets flat with an int64 `original_shape` attribute,
 * variable-length UTF-8 string lists, vlen int32 groups, sparse groups with `dense_shape`.
 * The file is written under a temporary name and renamed, so no half-written file is left.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { UserError } from "../errors.js";
import { absPath, BLOSC2_FILTER_ID, BLOSC2_LZ4_OPTS, H5, h5ErrorLine, h5Ready, type Group, type H5File } from "./h5.js";
import { patchVlenInt32, vlenInt32Placeholders } from "./h5VlenPatch.js";
import type { ChannelInfo, LogKCsr, TensorModel } from "./types.js";
import { channelBins } from "./validate.js";

export type Compression = "gzip" | "blosc2" | "none";

export interface WriteOptions {
  /** default: the model's own storage */
  storage?: "dense" | "sparse";
  /** default gzip */
  compression?: Compression;
  /** the command line that made the file, stored in meta_json.meta_info */
  command?: string;
  /** extra top-level meta_json entries */
  extraMeta?: Record<string, unknown>;
  /**
   * Metadata as rabbit writes it, instead of meta_json (for tests of the reader): a Uint8Array is
   * stored as the group `meta` with dataset `pickle_data` (uint8, uncompressed); null writes no
   * metadata at all (a file as combinetf wrote them).
   */
  rabbitMetaPickle?: Uint8Array | null;
  /**
   * Store norm and log κ as float32 (rabbit's TensorWriter with dtype float32): half the file and,
   * since the reader keeps float32 log κ as float32, half its memory. Values are rounded to the
   * nearest float32; entries that round to zero are dropped from sparse storage.
   */
  float32?: boolean;
}

/** Elements per HDF5 chunk of a compressed dataset: 1 MiB of float64, as h5py picks at most. */
const CHUNK_ELEMENTS = 1 << 17;
/** Elements handed to HDF5 per write call, so big tensors never sit whole in the 2 GB wasm heap. */
const PIECE_ELEMENTS = 1 << 22;

type WritableArray = Float64Array | Float32Array | Int32Array | BigInt64Array;

/** h5wasm copies `array.buffer` whole, so views must own their buffer exactly. */
function ownBuffer<T extends WritableArray | Uint8Array>(array: T): T {
  return array.byteOffset === 0 && array.byteLength === array.buffer.byteLength ? array : (array.slice() as T);
}

function dtypeOf(array: WritableArray): string {
  if (array instanceof Float64Array) return "<d";
  if (array instanceof Float32Array) return "<f";
  if (array instanceof Int32Array) return "<i";
  return "<q";
}

/** int64 copy of non-negative int32 values, built from 32-bit halves (no BigInt per element). */
function toInt64(values: Int32Array): BigInt64Array {
  const out = new BigInt64Array(values.length);
  const words = new Int32Array(out.buffer);
  for (let i = 0; i < values.length; i++) words[2 * i] = values[i];
  return out;
}

export class TensorWriter {
  private readonly storage: "dense" | "sparse";
  private readonly compression: Compression;

  constructor(
    private readonly model: TensorModel,
    private readonly opts: WriteOptions = {},
  ) {
    this.storage = opts.storage ?? model.storage;
    this.compression = opts.compression ?? "gzip";
    checkModel(model);
  }

  async write(file: string): Promise<void> {
    await h5Ready();
    const target = absPath(file);
    const tmp = `${target}.tmp-${process.pid}`;
    const dir = path.dirname(target);
    try {
      fs.accessSync(dir, fs.constants.W_OK);
    } catch {
      throw new UserError(`${file}: cannot write the output: folder ${dir} is missing or not writable`);
    }
    let h5: H5File;
    try {
      h5 = new H5.File(tmp, "w");
    } catch (err) {
      fs.rmSync(tmp, { force: true });
      throw new UserError(`${file}: cannot create the output (${h5ErrorLine(err)})`);
    }
    let open = true;
    try {
      this.writeAll(h5);
      open = false;
      h5.close();
      const groups = this.model.systGroups.map((g) => g.indices);
      patchVlenInt32(tmp, "hsystgroupidxs", groups);
      verifyGroups(tmp, groups);
      fs.renameSync(tmp, target);
    } catch (err) {
      if (open) {
        try {
          h5.close();
        } catch {
          // already failing; the original error is the one to report
        }
      }
      fs.rmSync(tmp, { force: true });
      throw err;
    }
  }

  private writeAll(f: H5File): void {
    const m = this.model;
    const nproc = m.procs.length;
    const nsyst = m.systs.length;
    this.strings(f, "hprocs", m.procs);
    this.strings(f, "hsignals", m.signals);
    this.strings(f, "hsysts", m.systs);
    this.strings(f, "hsystsnoconstraint", m.systsNoConstraint);
    this.strings(f, "hsystgroups", m.systGroups.map((g) => g.name));
    f.create_dataset({ name: "hsystgroupidxs", data: vlenInt32Placeholders(m.systGroups.map((g) => g.indices)), dtype: "S" });
    this.flat(f, "hnoiidxs", Int32Array.from(m.noiIndices), [m.noiIndices.length]);
    this.flat(f, "hconstraintweights", m.constraintWeights, [nsyst]);
    this.flat(f, "hdata_obs", m.dataObs, [m.nbins]);
    if (m.dataVar !== null) this.flat(f, "hdata_var", m.dataVar, [m.nbins]);
    if (m.dataCovInv !== null) this.flat(f, "hdata_cov_inv", m.dataCovInv, [m.nbins, m.nbins]);
    if (m.pseudodata !== null) {
      this.flat(f, "hpseudodata", m.pseudodata.values, [m.nbins, m.pseudodata.names.length]);
      this.strings(f, "hpseudodatanames", m.pseudodata.names);
    }
    if (m.sumw !== null) this.flat(f, "hsumw", m.sumw, [m.nbinsFull, nproc]);
    if (m.sumw2 !== null) this.flat(f, "hsumw2", m.sumw2, [m.nbinsFull, nproc]);
    if (this.storage === "dense") this.writeDense(f);
    else this.writeSparse(f);
    if (m.externalTerms.length > 0) {
      // creation order kept, so the terms read back in the model's order (not sorted by name)
      const root = f.create_group("external_terms", true);
      for (const term of m.externalTerms) {
        const g = root.create_group(term.name);
        this.strings(g, "params", term.params);
        const k = term.params.length;
        if (term.gradValues !== null) this.flat(g, "grad_values", term.gradValues, [k]);
        if (term.hessDense !== null) this.flat(g, "hess_dense", term.hessDense, [k, k]);
        const sp = term.hessSparse ?? null;
        if (sp !== null) {
          // rabbit's layout: a group with indices [nnz, 2] (row, col), values [nnz], attribute dense_shape
          const gs = g.create_group("hess_sparse");
          const pairs = new Int32Array(2 * sp.values.length);
          sp.values.forEach((_, e) => {
            pairs[2 * e] = sp.rows[e];
            pairs[2 * e + 1] = sp.cols[e];
          });
          this.flat(gs, "indices", toInt64(pairs), [sp.values.length, 2]);
          this.flat(gs, "values", sp.values, [sp.values.length]);
          gs.create_attribute("dense_shape", new BigInt64Array([BigInt(k), BigInt(k)]), [2], "<q");
        }
      }
    }
    const pickle = this.opts.rabbitMetaPickle;
    if (pickle === undefined) {
      this.strings(f, "meta_json", [JSON.stringify(this.metaJson())]);
    } else if (pickle !== null) {
      const g = f.create_group("meta");
      g.create_dataset({ name: "pickle_data", data: ownBuffer(pickle), shape: [pickle.length], dtype: "<B" });
    }
  }

  private writeDense(f: H5File): void {
    const m = this.model;
    const nproc = m.procs.length;
    const nsyst = m.systs.length;
    const f32 = this.opts.float32 === true;
    this.flat(f, "hnorm", f32 ? Float32Array.from(m.norm) : m.norm, [m.nbinsFull, nproc]);
    const { logk } = m;
    const shape = m.symmetric ? [m.nbinsFull, nproc, nsyst] : [m.nbinsFull, nproc, 2, nsyst];
    const ncols = logk.ncols;
    const total = logk.nrows * ncols;
    // Row-major [nrows, ncols] is exactly the flat layout of both shapes (halfdiff in columns nsyst..).
    const rowsPerPiece = Math.max(1, Math.floor(PIECE_ELEMENTS / Math.max(1, ncols)));
    this.flatStreamed(f, "hlogk", total, shape, f32 ? "<f" : "<d", rowsPerPiece * ncols, (start, end) => {
      // Pieces follow HDF5 chunk boundaries, so they may start and end inside a row.
      const piece = f32 ? new Float32Array(end - start) : new Float64Array(end - start);
      const firstRow = Math.floor(start / ncols);
      const lastRow = Math.ceil(end / ncols);
      for (let r = firstRow; r < lastRow; r++) {
        const base = r * ncols - start;
        for (let k = logk.rowPtr[r]; k < logk.rowPtr[r + 1]; k++) {
          const at = base + logk.cols[k];
          if (at >= 0 && at < piece.length) piece[at] += logk.values[k];
        }
      }
      return piece;
    });
  }

  private writeSparse(f: H5File): void {
    const m = this.model;
    const nproc = m.procs.length;
    const nrows = m.nbinsFull * nproc;
    const f32 = this.opts.float32 === true;
    const stored = (v: number): number => (f32 ? Math.fround(v) : v);
    // Only non-zero yields are stored; log κ rows then refer to positions among them.
    const position = new Int32Array(nrows).fill(-1);
    let nnz = 0;
    for (let r = 0; r < nrows; r++) if (stored(m.norm[r]) !== 0) position[r] = nnz++;
    const normPairs = new Int32Array(2 * nnz);
    const normValues = f32 ? new Float32Array(nnz) : new Float64Array(nnz);
    for (let r = 0; r < nrows; r++) {
      const k = position[r];
      if (k < 0) continue;
      normPairs[2 * k] = Math.floor(r / nproc);
      normPairs[2 * k + 1] = r % nproc;
      normValues[k] = m.norm[r];
    }
    const gn = f.create_group("hnorm_sparse");
    this.flat(gn, "indices", toInt64(normPairs), [nnz, 2]);
    this.flat(gn, "values", normValues, [nnz]);
    gn.create_attribute("dense_shape", new BigInt64Array([BigInt(m.nbinsFull), BigInt(nproc)]), [2], "<q");

    const { pairs, values } = canonicalLogk(m.logk, position, f32);
    const gk = f.create_group("hlogk_sparse");
    // int64 pieces made as they are written: a whole int64 copy would cost 16 bytes per entry
    this.flatStreamed(gk, "indices", pairs.length, [values.length, 2], "<q", PIECE_ELEMENTS, (s, e) => toInt64(pairs.subarray(s, e)));
    this.flat(gk, "values", values, [values.length]);
    gk.create_attribute("dense_shape", new BigInt64Array([BigInt(nnz), BigInt(m.logk.ncols)]), [2], "<q");
  }

  private metaJson(): Record<string, unknown> {
    const m = this.model;
    const standard = new Set(["channel_info", "symmetric_tensor", "systematic_type", "meta_info"]);
    const kept = Object.fromEntries(Object.entries(m.metaJson ?? {}).filter(([k]) => !standard.has(k)));
    const meta: Record<string, unknown> = { ...kept, ...(this.opts.extraMeta ?? {}) };
    if (m.channels.length > 0) meta["channel_info"] = channelInfo(m.channels);
    meta["symmetric_tensor"] = m.symmetric;
    meta["systematic_type"] = m.systematicType;
    meta["meta_info"] = {
      command: this.opts.command ?? process.argv.join(" "),
      version: packageVersion(),
      git_hash: gitHash(),
      time: new Date().toISOString(),
    };
    return meta;
  }

  // ---- dataset helpers ----

  private strings(g: Group, name: string, values: string[]): void {
    g.create_dataset({ name, data: values, shape: [values.length], dtype: "S" });
  }

  /** A numeric dataset stored flat with original_shape; compressed when non-empty. */
  private flat(g: Group, name: string, values: WritableArray, shape: number[]): void {
    const n = values.length;
    if (shape.reduce((a, b) => a * b, 1) !== n) {
      throw new Error(`TensorWriter: ${name} has ${n} values, its shape [${shape.join(", ")}] needs another count`);
    }
    this.flatStreamed(g, name, n, shape, dtypeOf(values), PIECE_ELEMENTS, (s, e) => values.slice(s, e));
  }

  /**
   * Writes a flat dataset of `total` elements piece by piece: the first piece creates it (resizable,
   * chunked), the others are written as hyperslabs.
   */
  private flatStreamed(
    g: Group,
    name: string,
    total: number,
    shape: number[],
    dtype: string,
    pieceElements: number,
    piece: (start: number, end: number) => WritableArray,
  ): void {
    const filter = total > 0 ? this.compression : "none";
    const chunk = Math.max(1, Math.min(total, CHUNK_ELEMENTS));
    const step = Math.max(chunk, Math.floor(pieceElements / chunk) * chunk);
    const first = ownBuffer(piece(0, Math.min(total, step)));
    const streamed = total > first.length;
    const compression: { compression?: number | "gzip"; compression_opts?: number | number[] } =
      filter === "gzip"
        ? { compression: "gzip", compression_opts: 4 }
        : filter === "blosc2"
          ? { compression: BLOSC2_FILTER_ID, compression_opts: BLOSC2_LZ4_OPTS }
          : {};
    const chunked = filter !== "none" || streamed;
    const ds = g.create_dataset({
      name,
      data: first,
      shape: [first.length],
      dtype,
      maxshape: streamed ? [total] : null,
      chunks: chunked ? [chunk] : null,
      ...compression,
    });
    if (streamed) {
      ds.resize([total]);
      for (let start = first.length; start < total; start += step) {
        const end = Math.min(total, start + step);
        ds.write_slice([[start, end]], ownBuffer(piece(start, end)));
      }
    }
    ds.create_attribute("original_shape", BigInt64Array.from(shape, (d) => BigInt(d)), [shape.length], "<q");
  }
}

/** Writes `model` to `file` (atomically). */
export async function writeTensor(file: string, model: TensorModel, opts?: WriteOptions): Promise<void> {
  await new TensorWriter(model, opts).write(file);
}

/** Consistency of the in-memory model; a mismatch is a bug in whoever built it. */
function checkModel(m: TensorModel): void {
  const nproc = m.procs.length;
  const nsyst = m.systs.length;
  const fail = (what: string): never => {
    throw new Error(`TensorWriter: inconsistent model: ${what}`);
  };
  if (m.dataObs.length !== m.nbins) fail(`dataObs has ${m.dataObs.length} bins, nbins is ${m.nbins}`);
  if (m.nbinsFull < m.nbins) fail(`nbinsFull ${m.nbinsFull} < nbins ${m.nbins}`);
  if (m.norm.length !== m.nbinsFull * nproc) fail(`norm has ${m.norm.length} values, expected nbinsFull*nproc`);
  if (m.constraintWeights.length !== nsyst) fail(`constraintWeights has ${m.constraintWeights.length} values for ${nsyst} systs`);
  const { logk } = m;
  if (logk.nrows !== m.nbinsFull * nproc) fail(`logk has ${logk.nrows} rows, expected nbinsFull*nproc`);
  if (logk.ncols !== (m.symmetric ? nsyst : 2 * nsyst)) fail(`logk has ${logk.ncols} columns for ${nsyst} systs (symmetric=${m.symmetric})`);
  if (logk.rowPtr.length !== logk.nrows + 1) fail("logk.rowPtr length is not nrows + 1");
  const nnz = logk.rowPtr[logk.nrows];
  if (logk.cols.length < nnz || logk.values.length < nnz) fail("logk cols/values shorter than rowPtr says");
  for (let k = 0; k < nnz; k++) {
    if (logk.cols[k] < 0 || logk.cols[k] >= logk.ncols) fail(`logk column ${logk.cols[k]} out of range`);
  }
  // channels must tile the bins as the reader will rebuild them from the axes
  if (m.channels.length > 0) {
    let real = 0;
    let masked = 0;
    for (const ch of m.channels) {
      const bins = channelBins(ch.axes, ch.flow);
      if (bins !== ch.size) fail(`channel ${ch.name} has size ${ch.size} but its axes give ${bins} bins`);
      if (ch.masked) masked += bins;
      else real += bins;
    }
    if (real !== m.nbins) fail(`the non-masked channels have ${real} bins, nbins is ${m.nbins}`);
    if (masked !== m.nbinsFull - m.nbins) fail(`the masked channels have ${masked} bins, nbinsFull - nbins is ${m.nbinsFull - m.nbins}`);
  }
  for (const t of m.externalTerms) {
    const k = t.params.length;
    if (t.gradValues !== null && t.gradValues.length !== k) fail(`external term ${t.name}: grad_values has ${t.gradValues.length} values for ${k} params`);
    if (t.hessDense !== null && t.hessDense.length !== k * k) fail(`external term ${t.name}: hess_dense has ${t.hessDense.length} values for ${k}×${k}`);
    const sp = t.hessSparse ?? null;
    if (sp !== null) {
      if (t.hessDense !== null) fail(`external term ${t.name} has both a dense and a sparse Hessian`);
      if (sp.rows.length !== sp.values.length || sp.cols.length !== sp.values.length) fail(`external term ${t.name}: hess_sparse rows/cols/values differ in length`);
      for (let e = 0; e < sp.values.length; e++) {
        if (sp.rows[e] < 0 || sp.rows[e] >= k || sp.cols[e] < 0 || sp.cols[e] >= k) fail(`external term ${t.name}: hess_sparse entry ${e} out of range`);
      }
    }
  }
  for (const g of m.systGroups) {
    if (g.indices.some((i) => !Number.isInteger(i) || i < 0 || i >= nsyst)) fail(`group ${g.name} has an index out of range`);
  }
}

/**
 * Sparse log κ in canonical order: entries of rows with non-zero yield, rows by position, columns
 * sorted within a row, zeros dropped. Returns (position, col) pairs and values.
 */
function canonicalLogk(
  logk: LogKCsr,
  position: Int32Array,
  float32: boolean,
): { pairs: Int32Array; values: Float64Array | Float32Array } {
  const stored = (v: number): number => (float32 ? Math.fround(v) : v);
  let count = 0;
  for (let r = 0; r < logk.nrows; r++) {
    if (position[r] < 0) continue;
    for (let k = logk.rowPtr[r]; k < logk.rowPtr[r + 1]; k++) if (stored(logk.values[k]) !== 0) count++;
  }
  const pairs = new Int32Array(2 * count);
  const values = float32 ? new Float32Array(count) : new Float64Array(count);
  let out = 0;
  for (let r = 0; r < logk.nrows; r++) {
    const pos = position[r];
    if (pos < 0) continue;
    const begin = logk.rowPtr[r];
    const end = logk.rowPtr[r + 1];
    let sorted = true;
    for (let k = begin + 1; k < end; k++) if (logk.cols[k] <= logk.cols[k - 1]) sorted = false;
    let order: number[] | null = null;
    if (!sorted) {
      order = [];
      for (let k = begin; k < end; k++) order.push(k);
      order.sort((a, b) => logk.cols[a] - logk.cols[b]);
      for (let i = 1; i < order.length; i++) {
        if (logk.cols[order[i]] === logk.cols[order[i - 1]]) {
          throw new Error(`TensorWriter: logk row ${r} has column ${logk.cols[order[i]]} twice`);
        }
      }
    }
    for (let i = 0; i < end - begin; i++) {
      const k = order === null ? begin + i : order[i];
      const v = stored(logk.values[k]);
      if (v === 0) continue;
      pairs[2 * out] = pos;
      pairs[2 * out + 1] = logk.cols[k];
      values[out] = v;
      out++;
    }
  }
  return { pairs, values };
}

function channelInfo(channels: ChannelInfo[]): Record<string, unknown> {
  const info: Record<string, unknown> = {};
  for (const ch of channels) {
    info[ch.name] = {
      axes: ch.axes.map((a) => ({
        name: a.name,
        ...(a.label !== undefined ? { label: a.label } : {}),
        ...(a.edges !== undefined ? { edges: a.edges } : {}),
        ...(a.categories !== undefined ? { categories: a.categories } : {}),
        ...(a.underflow !== undefined ? { underflow: a.underflow } : {}),
        ...(a.overflow !== undefined ? { overflow: a.overflow } : {}),
      })),
      masked: ch.masked,
      flow: ch.flow,
    };
  }
  return info;
}

/** Reads the patched groups back through HDF5, so a patch that went wrong fails here, not in a fit. */
function verifyGroups(file: string, groups: number[][]): void {
  const f = new H5.File(file, "r");
  try {
    const value = (f.get("hsystgroupidxs") as InstanceType<typeof H5.Dataset>).value;
    const lists = Array.isArray(value) ? value : [];
    const same =
      lists.length === groups.length &&
      groups.every((g, i) => {
        const got = lists[i];
        return got instanceof Int32Array && got.length === g.length && g.every((v, j) => got[j] === v);
      });
    if (!same) throw new Error(`TensorWriter: ${file}: hsystgroupidxs did not read back as written`);
  } finally {
    f.close();
  }
}

let cachedRoot: string | null | undefined;

/** The package root (folder of our package.json), found upwards from this module. */
function packageRoot(): string | null {
  if (cachedRoot !== undefined) return cachedRoot;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  cachedRoot = null;
  for (;;) {
    if (fs.existsSync(path.join(dir, "package.json"))) {
      cachedRoot = dir;
      break;
    }
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return cachedRoot;
}

function packageVersion(): string {
  const root = packageRoot();
  if (root === null) return "unknown";
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { version?: unknown };
    return typeof pkg.version === "string" ? pkg.version : "unknown";
  } catch {
    return "unknown";
  }
}

/** Commit of the checkout the code runs from (asked each time: commits may happen while we run). */
function gitHash(): string {
  const root = packageRoot();
  try {
    return execFileSync("git", ["rev-parse", "HEAD"], { cwd: root ?? undefined, stdio: ["ignore", "pipe", "ignore"] })
      .toString()
      .trim();
  } catch {
    return "unknown";
  }
}
