/**
 * Reads a fit tensor in the rabbit HDF5 layout (../shared/spec/tensor-format.md) into a TensorModel.
 *
 * Dense log κ is streamed in slabs and compressed to CSR on the way, so a GB-sized dense tensor never
 * sits in wasm memory (2 GB heap) at once. Sparse log κ is streamed too, straight into CSR: row
 * pointers counted on the way (the int64 row list is never kept), column indices narrowed to 16 bits
 * when ncols ≤ 65536 (else 32), values kept float32 when the file stores float32 (logkCsr.ts).
 */
import { UserError } from "../errors.js";
import {
  absPath,
  H5,
  h5ErrorLine,
  h5Ready,
  isDataset,
  isGroup,
  shapeSize,
  type Dataset,
  type Group,
  type H5File,
} from "./h5.js";
import type {
  AxisInfo,
  ChannelInfo,
  ExternalTerm,
  LogKCsr,
  PseudoData,
  SparseMatrix,
  SystGroup,
  SystematicType,
  TensorModel,
} from "./types.js";
import {
  channelBins,
  checkFinite,
  checkHdf5File,
  checkIndexRange,
  checkNotEmpty,
  checkShape,
  datasetError,
  missingDataset,
  SparsePairCollector,
} from "./validate.js";
import { isNumericArray } from "../numericArray.js";
import { decodeRabbitMeta } from "./pickle/rabbitMeta.js";
import { PickleError } from "./pickle/unpickle.js";
import { allocValues, CsrBuilder, LogkCsrCollector, rowPointersFromCounts, type LogkCols, type LogkValues } from "./logkCsr.js";

export interface ReadOptions {
  /** elements per slab when streaming log κ and the sparse datasets (default 4M = 32 MB of float64) */
  chunkElements?: number;
  /** where a warning about partly readable metadata goes (default: one line on stderr) */
  onWarning?: (line: string) => void;
}

/** Where the file's metadata came from, and what could not be used. */
interface MetaRead {
  meta: Record<string, unknown> | null;
  source: "meta_json" | "meta/pickle_data" | null;
  /** the dataset to name in messages about the metadata */
  dataset: string;
  warning: string | null;
}

const DEFAULT_CHUNK_ELEMENTS = 1 << 22;


export class TensorReader {
  private closed = false;

  private constructor(
    private readonly file: H5File,
    /** the path as the user gave it, for messages */
    readonly path: string,
  ) {}

  /** Opens a tensor file; a missing or non-HDF5 file is a UserError. */
  static async open(path: string): Promise<TensorReader> {
    await h5Ready();
    checkHdf5File(path);
    let file: H5File;
    try {
      file = new H5.File(absPath(path), "r");
    } catch (err) {
      throw new UserError(`${path}: cannot be opened as HDF5 (${h5ErrorLine(err)})`);
    }
    return new TensorReader(file, path);
  }

  close(): void {
    if (!this.closed) {
      this.file.close();
      this.closed = true;
    }
  }

  read(opts: ReadOptions = {}): TensorModel {
    const chunkElements = Math.max(1, Math.floor(opts.chunkElements ?? DEFAULT_CHUNK_ELEMENTS));
    const file = this.path;

    const procs = this.readStrings("hprocs", true);
    const signals = this.readStrings("hsignals", true);
    const systs = this.readStrings("hsysts", true);
    const systsNoConstraint = this.readStrings("hsystsnoconstraint", false);
    const nproc = procs.length;
    const nsyst = systs.length;

    signals.forEach((s, i) => {
      if (procs[i] !== s) {
        throw datasetError(file, "hsignals", `signal '${s}' is not process ${i} of hprocs (signals must come first)`);
      }
    });
    const systIndex = new Map(systs.map((s, i) => [s, i]));
    for (const s of systsNoConstraint) {
      if (!systIndex.has(s)) throw datasetError(file, "hsystsnoconstraint", `'${s}' is not in hsysts`);
    }

    const dataObs = this.readFloat64("hdata_obs", true);
    const nbins = dataObs.values.length;
    checkShape(file, "hdata_obs", dataObs.shape, [nbins], "a 1-D list of bin counts");
    checkNotEmpty(file, nproc, nbins);

    const dense = this.exists("hnorm");
    const sparse = this.exists("hnorm_sparse");
    if (!dense && !sparse) throw missingDataset(file, "hnorm", "required dataset is missing (nor is there hnorm_sparse)");

    let norm: Float64Array;
    let logk: LogKCsr;
    let nbinsFull: number;
    let symmetric: boolean;
    if (dense) {
      const normDs = this.readFloat64("hnorm", true);
      if (normDs.shape.length !== 2 || normDs.shape[1] !== nproc) {
        checkShape(file, "hnorm", normDs.shape, [normDs.shape[0] ?? 0, nproc], "[nbinsfull, nproc] with nproc from hprocs");
      }
      nbinsFull = normDs.shape[0];
      norm = normDs.values;
      const res = this.readDenseLogk(nbinsFull, nproc, nsyst, chunkElements);
      logk = res.logk;
      symmetric = res.symmetric;
    } else {
      const res = this.readSparse(nproc, nsyst, chunkElements);
      nbinsFull = res.nbinsFull;
      norm = res.norm;
      logk = res.logk;
      symmetric = res.symmetric;
    }
    if (nbinsFull < nbins) {
      throw datasetError(
        file,
        dense ? "hnorm" : "hnorm_sparse",
        `has ${nbinsFull} bins, fewer than the ${nbins} of hdata_obs`,
      );
    }
    // Negative per-process yields are allowed (interference terms, rabbit's allow_negative_expectation):
    // only the bin total must stay positive where data are observed, which the likelihood checks.

    const constraintWeights = this.readConstraintWeights(systs, systsNoConstraint);
    const systGroups = this.readGroups(nsyst);
    const noiIndices = this.readNoi(nsyst);

    const dataVar = this.readOptionalFloat64("hdata_var", [nbins], "[nbins] with nbins from hdata_obs");
    const dataCovInv = this.readOptionalFloat64("hdata_cov_inv", [nbins, nbins], "[nbins, nbins] with nbins from hdata_obs");
    const sumw = this.readOptionalFloat64("hsumw", [nbinsFull, nproc], "[nbinsfull, nproc]");
    const sumw2 = this.readOptionalFloat64("hsumw2", [nbinsFull, nproc], "[nbinsfull, nproc]");
    const pseudodata = this.readPseudodata(nbins);
    const externalTerms = this.readExternalTerms(new Set([...signals, ...systs]));

    const metaRead = this.readMeta();
    const metaJson = metaRead.meta;
    let metaWarning = metaRead.warning;
    const tensorName = dense ? "hlogk" : "hlogk_sparse";
    const symmetricMeta = metaJson?.["symmetric_tensor"];
    if (symmetricMeta !== undefined && symmetricMeta !== null && typeof symmetricMeta !== "boolean") {
      throw datasetError(file, metaRead.dataset, `symmetric_tensor ${JSON.stringify(symmetricMeta)} is not true or false`);
    }
    if (nsyst === 0 && !dense) {
      // Without systematics a sparse tensor's shape cannot tell; the metadata says what the writer meant.
      if (symmetricMeta === false) symmetric = false;
    } else if (typeof symmetricMeta === "boolean" && symmetricMeta !== symmetric) {
      throw datasetError(
        file,
        tensorName,
        `holds a ${symmetric ? "symmetric" : "asymmetric"} log κ tensor, but ${metaRead.dataset} says symmetric_tensor = ${symmetricMeta ? "True" : "False"}`,
      );
    }
    let channels: ChannelInfo[];
    if (metaJson === null || metaJson["channel_info"] === undefined) {
      channels = fallbackChannels(nbins, nbinsFull);
    } else if (metaRead.source === "meta_json") {
      channels = this.channelsFromMeta(metaJson, "meta_json", nbins, nbinsFull);
    } else {
      // A rabbit pickle whose axes we mapped but whose bins do not tile the tensor: our reading of the
      // axes is wrong, not the file; the layout does not change the likelihood, so fall back and say so.
      try {
        channels = this.channelsFromMeta(metaJson, metaRead.dataset, nbins, nbinsFull);
      } catch (err) {
        if (!(err instanceof UserError)) throw err;
        channels = fallbackChannels(nbins, nbinsFull);
        metaWarning = `${err.message}; channels fall back to ch0/ch1_masked`;
      }
    }
    if (metaWarning !== null) (opts.onWarning ?? ((line: string) => process.stderr.write(`warning: ${line}\n`)))(metaWarning);
    const systematicType = parseSystematicType(file, metaRead);

    return {
      procs,
      signals,
      systs,
      systsNoConstraint,
      systGroups,
      noiIndices,
      constraintWeights,
      nbins,
      nbinsFull,
      dataObs: dataObs.values,
      dataVar,
      dataCovInv,
      pseudodata,
      sumw,
      sumw2,
      norm,
      logk,
      symmetric,
      systematicType,
      storage: dense ? "dense" : "sparse",
      channels,
      externalTerms,
      metaJson,
      metaSource: metaRead.source,
      metaWarning,
    };
  }

  // ---- dataset access ----

  private exists(name: string): boolean {
    return this.file.get(name) !== null;
  }

  private dataset(name: string): Dataset {
    const entity = this.file.get(name);
    if (entity === null) throw missingDataset(this.path, name);
    if (!isDataset(entity)) throw datasetError(this.path, name, "is not a dataset");
    return entity;
  }

  private group(name: string): Group {
    const entity = this.file.get(name);
    if (entity === null) throw missingDataset(this.path, name, "required group is missing");
    if (!isGroup(entity)) throw datasetError(this.path, name, "is not a group");
    return entity;
  }

  /** Shape after undoing rabbit's flattening (attribute original_shape), else the stored shape. */
  private logicalShape(ds: Dataset, name: string): number[] {
    const stored = ds.shape ?? [];
    if (!("original_shape" in ds.attrs)) return stored;
    const attr = ds.attrs["original_shape"].value;
    const shape = isNumericArray(attr) ? Array.from(attr, Number) : typeof attr === "number" || typeof attr === "bigint" ? [Number(attr)] : null;
    if (shape === null || shape.some((d) => !Number.isInteger(d) || d < 0)) {
      throw datasetError(this.path, name, "attribute original_shape is not a list of non-negative integers");
    }
    if (shapeSize(shape) !== shapeSize(stored)) {
      throw datasetError(this.path, name, `original_shape [${shape.join(", ")}] does not fit its ${shapeSize(stored)} stored values`);
    }
    return shape;
  }

  private readValue(ds: Dataset, name: string): unknown {
    try {
      return ds.value;
    } catch (err) {
      throw datasetError(this.path, name, `cannot be read (${h5ErrorLine(err)})`);
    }
  }

  private readFloat64(name: string, required: true): { values: Float64Array; shape: number[] };
  private readFloat64(name: string, required: false): { values: Float64Array; shape: number[] } | null;
  private readFloat64(name: string, required: boolean): { values: Float64Array; shape: number[] } | null {
    if (!required && !this.exists(name)) return null;
    const ds = this.dataset(name);
    const shape = this.logicalShape(ds, name);
    const values = toFloat64(this.path, name, shapeSize(shape) === 0 ? new Float64Array(0) : this.readValue(ds, name));
    checkFinite(this.path, name, values);
    return { values, shape };
  }

  private readOptionalFloat64(name: string, expected: number[], why: string): Float64Array | null {
    const res = this.readFloat64(name, false);
    if (res === null) return null;
    checkShape(this.path, name, res.shape, expected, why);
    return res.values;
  }

  private readIntegers(name: string): number[] {
    const ds = this.dataset(name);
    const shape = this.logicalShape(ds, name);
    if (shapeSize(shape) === 0) return [];
    const value = this.readValue(ds, name);
    if (isNumericArray(value)) return Array.from(value as ArrayLike<number | bigint>, Number);
    if (typeof value === "number" || typeof value === "bigint") return [Number(value)];
    throw datasetError(this.path, name, "is not a numeric dataset");
  }

  private readStrings(name: string, required: boolean): string[] {
    if (!required && !this.exists(name)) return [];
    const ds = this.dataset(name);
    if ((ds.shape ?? []).length > 0 && shapeSize(ds.shape ?? []) === 0) return [];
    const value = this.readValue(ds, name);
    const list = typeof value === "string" ? [value] : value;
    if (!Array.isArray(list) || !list.every((s): s is string => typeof s === "string")) {
      throw datasetError(this.path, name, "is not a list of strings");
    }
    return list;
  }

  // ---- log κ and norm ----

  private readDenseLogk(
    nbinsFull: number,
    nproc: number,
    nsyst: number,
    chunkElements: number,
  ): { logk: LogKCsr; symmetric: boolean } {
    const name = "hlogk";
    const ds = this.dataset(name);
    const shape = this.logicalShape(ds, name);
    let symmetric: boolean;
    if (shape.length === 3) {
      checkShape(this.path, name, shape, [nbinsFull, nproc, nsyst], "[nbinsfull, nproc, nsyst] from hnorm and hsysts");
      symmetric = true;
    } else if (shape.length === 4) {
      checkShape(this.path, name, shape, [nbinsFull, nproc, 2, nsyst], "[nbinsfull, nproc, 2, nsyst] from hnorm and hsysts");
      symmetric = false;
    } else {
      throw datasetError(this.path, name, `shape [${shape.join(", ")}] is neither [nbinsfull, nproc, nsyst] nor [nbinsfull, nproc, 2, nsyst]`);
    }
    const nrows = nbinsFull * nproc;
    const ncols = symmetric ? nsyst : 2 * nsyst;
    const rowCounts = new Float64Array(nrows + 1);
    const builder = new CsrBuilder(ncols, isFloat32(ds), Math.min(nrows * ncols, 1 << 20));
    // The flat tensor is a row-major [nrows, ncols] matrix: flat index = row * ncols + col for both
    // layouts (the asymmetric halfdiff part lands in columns nsyst..2nsyst-1).
    let row = 0;
    let col = 0;
    this.forEachNumericSlab(ds, name, chunkElements, (slab, offset) => {
      checkFiniteSlab(this.path, name, slab, offset);
      for (let i = 0; i < slab.length; i++) {
        const v = slab[i];
        if (v !== 0) {
          builder.push(col, v);
          rowCounts[row + 1]++;
        }
        if (++col === ncols) {
          col = 0;
          row++;
        }
      }
    });
    const rowPtr = rowPointersFromCounts(rowCounts);
    const { cols, values } = builder.finish();
    return { logk: { nrows, ncols, rowPtr, cols, values }, symmetric };
  }

  /**
   * Calls `visit` with consecutive pieces of a dataset in flat (row-major) order, as h5wasm returns
   * them (typed arrays). A 1-D dataset is cut into whole HDF5 chunks (each compressed chunk is then
   * decompressed once); an N-D one along axis 0. Only one piece sits in wasm memory at a time.
   */
  private forEachRawSlab(
    ds: Dataset,
    name: string,
    chunkElements: number,
    visit: (slab: unknown, flatOffset: number) => void,
  ): void {
    const stored = ds.shape ?? [];
    const total = shapeSize(stored);
    if (total === 0) return;
    const read = (ranges: [number, number][]): unknown => {
      try {
        return ds.slice(ranges);
      } catch (err) {
        throw datasetError(this.path, name, `cannot be read (${h5ErrorLine(err)})`);
      }
    };
    if (stored.length <= 1) {
      const chunk = ds.metadata.chunks?.[0] ?? 1;
      const step = Math.max(chunk, Math.floor(chunkElements / chunk) * chunk);
      for (let start = 0; start < total; start += step) {
        const end = Math.min(total, start + step);
        visit(read([[start, end]]), start);
      }
    } else {
      const perIndex = total / stored[0];
      const step = Math.max(1, Math.floor(chunkElements / perIndex));
      for (let start = 0; start < stored[0]; start += step) {
        const end = Math.min(stored[0], start + step);
        visit(read([[start, end]]), start * perIndex);
      }
    }
  }

  /**
   * forEachRawSlab with the pieces as float32 when the dataset stores float32 (isFloat32), else as
   * float64: float32 values are never widened just to be stored again.
   */
  private forEachNumericSlab(
    ds: Dataset,
    name: string,
    chunkElements: number,
    visit: (slab: Float64Array | Float32Array, flatOffset: number) => void,
  ): void {
    const f32 = isFloat32(ds);
    this.forEachRawSlab(ds, name, chunkElements, (raw, offset) =>
      visit(f32 && raw instanceof Float32Array ? raw : toFloat64(this.path, name, raw), offset),
    );
  }

  /** A numeric dataset read piece by piece into one Float32Array (float32 datasets) or Float64Array. */
  private readValuesStreamed(name: string, chunkElements: number): LogkValues {
    const ds = this.dataset(name);
    const values = allocValues(isFloat32(ds), shapeSize(this.logicalShape(ds, name)));
    this.forEachNumericSlab(ds, name, chunkElements, (slab, offset) => {
      checkFiniteSlab(this.path, name, slab, offset);
      if (offset + slab.length > values.length) throw datasetError(this.path, name, "holds more values than its shape");
      values.set(slab, offset);
    });
    return values;
  }

  /** forEachRawSlab with the pieces as float64. */
  private forEachSlab(
    ds: Dataset,
    name: string,
    chunkElements: number,
    visit: (slab: Float64Array, flatOffset: number) => void,
  ): void {
    this.forEachRawSlab(ds, name, chunkElements, (raw, offset) => visit(toFloat64(this.path, name, raw), offset));
  }

  /** A float64 dataset read piece by piece into one array (finite values checked on the way). */
  private readFloat64Streamed(name: string, chunkElements: number): { values: Float64Array; shape: number[] } {
    const ds = this.dataset(name);
    const shape = this.logicalShape(ds, name);
    const values = new Float64Array(shapeSize(shape));
    this.forEachSlab(ds, name, chunkElements, (slab, offset) => {
      checkFiniteSlab(this.path, name, slab, offset);
      values.set(slab, offset);
    });
    return { values, shape };
  }

  private readSparse(
    nproc: number,
    nsyst: number,
    chunkElements: number,
  ): { nbinsFull: number; norm: Float64Array; logk: LogKCsr; symmetric: boolean } {
    const file = this.path;
    const normGroup = this.group("hnorm_sparse");
    const normShape = this.denseShape(normGroup, "hnorm_sparse");
    const [nbinsFull, nprocStored] = normShape;
    if (nprocStored !== nproc) {
      throw datasetError(file, "hnorm_sparse", `dense_shape [${normShape.join(", ")}] has ${nprocStored} processes, hprocs has ${nproc}`);
    }
    const normIdx = this.readSparseIndices("hnorm_sparse/indices", normShape, chunkElements);
    const normVals = this.readFloat64Streamed("hnorm_sparse/values", chunkElements).values;
    const nnz = normIdx.rows.length;
    if (normVals.length !== nnz) {
      throw datasetError(file, "hnorm_sparse/values", `has ${normVals.length} values for ${nnz} indices`);
    }
    const nrows = nbinsFull * nproc;
    const norm = new Float64Array(nrows);
    const rowOfEntry = new Int32Array(nnz);
    for (let k = 0; k < nnz; k++) {
      const r = normIdx.rows[k] * nproc + normIdx.cols[k];
      rowOfEntry[k] = r;
      norm[r] = normVals[k];
    }

    const logkGroup = this.group("hlogk_sparse");
    const logkShape = this.denseShape(logkGroup, "hlogk_sparse");
    const [logkRows, ncols] = logkShape;
    let symmetric: boolean;
    if (ncols === nsyst) symmetric = true;
    else if (ncols === 2 * nsyst) symmetric = false;
    else {
      throw datasetError(file, "hlogk_sparse", `dense_shape [${logkShape.join(", ")}] has ${ncols} columns, expected nsyst = ${nsyst} or 2·nsyst`);
    }
    // Rows index the hnorm_sparse values (the spec); some writers index bin*nproc+proc instead,
    // recognisable by dense_shape[0] = nbinsfull*nproc. Both are mapped to CSR rows bin*nproc+proc.
    let rowMap: Int32Array | null;
    if (logkRows === nnz) rowMap = rowOfEntry;
    else if (logkRows === nrows) rowMap = null;
    else {
      throw datasetError(
        file,
        "hlogk_sparse",
        `dense_shape [${logkShape.join(", ")}]: ${logkRows} rows match neither the ${nnz} hnorm_sparse entries nor nbinsfull*nproc = ${nrows}`,
      );
    }
    // Canonical order of both index lists and the monotonic entry -> row map keep the entries in CSR order.
    const { rowPtr, cols, nnz: nnzk } = this.readLogkIndices("hlogk_sparse/indices", logkShape, nrows, rowMap, chunkElements);
    const values = this.readValuesStreamed("hlogk_sparse/values", chunkElements);
    if (values.length !== nnzk) {
      throw datasetError(file, "hlogk_sparse/values", `has ${values.length} values for ${nnzk} indices`);
    }
    return { nbinsFull, norm, logk: { nrows, ncols, rowPtr, cols, values }, symmetric };
  }

  private denseShape(group: Group, name: string): [number, number] {
    if (!("dense_shape" in group.attrs)) throw datasetError(this.path, name, "attribute dense_shape is missing");
    const raw = group.attrs["dense_shape"].value;
    const shape = isNumericArray(raw) ? Array.from(raw as ArrayLike<number | bigint>, Number) : [];
    if (shape.length !== 2 || shape.some((d) => !Number.isInteger(d) || d < 0)) {
      throw datasetError(this.path, name, "attribute dense_shape is not two non-negative integers");
    }
    return [shape[0], shape[1]];
  }

  /** hlogk_sparse/indices streamed straight into CSR row pointers and narrow column indices. */
  private readLogkIndices(
    name: string,
    denseShape: [number, number],
    csrRows: number,
    rowMap: Int32Array | null,
    chunkElements: number,
  ): { rowPtr: Int32Array | Float64Array; cols: LogkCols; nnz: number } {
    const ds = this.dataset(name);
    const shape = this.logicalShape(ds, name);
    const n = shapeSize(shape);
    if (!(shape.length === 2 && shape[1] === 2) && !(shape.length === 1 && n === 0)) {
      throw datasetError(this.path, name, `shape [${shape.join(", ")}] is not [nnz, 2]`);
    }
    const collector = new LogkCsrCollector(this.path, name, n / 2, denseShape, csrRows, rowMap);
    this.forEachRawSlab(ds, name, chunkElements, (raw) => {
      if (!isNumericArray(raw)) throw datasetError(this.path, name, "is not an integer dataset");
      collector.add(raw as ArrayLike<number | bigint>);
    });
    return { ...collector.finish(), nnz: n / 2 };
  }

  private readSparseIndices(
    name: string,
    denseShape: [number, number],
    chunkElements: number,
  ): { rows: Int32Array; cols: Int32Array } {
    const ds = this.dataset(name);
    const shape = this.logicalShape(ds, name);
    const n = shapeSize(shape);
    if (!(shape.length === 2 && shape[1] === 2) && !(shape.length === 1 && n === 0)) {
      throw datasetError(this.path, name, `shape [${shape.join(", ")}] is not [nnz, 2]`);
    }
    const collector = new SparsePairCollector(this.path, name, n / 2, denseShape);
    this.forEachRawSlab(ds, name, chunkElements, (raw) => {
      if (!isNumericArray(raw)) throw datasetError(this.path, name, "is not an integer dataset");
      collector.add(raw as ArrayLike<number | bigint>);
    });
    return collector.finish();
  }

  // ---- the small datasets ----

  private readConstraintWeights(systs: string[], noConstraint: string[]): Float64Array {
    if (this.exists("hconstraintweights")) {
      const res = this.readFloat64("hconstraintweights", true);
      checkShape(this.path, "hconstraintweights", res.shape, [systs.length], "[nsyst] from hsysts");
      return res.values;
    }
    const free = new Set(noConstraint);
    return Float64Array.from(systs, (s) => (free.has(s) ? 0 : 1));
  }

  private readGroups(nsyst: number): SystGroup[] {
    const names = this.readStrings("hsystgroups", false);
    if (names.length === 0) return [];
    if (!this.exists("hsystgroupidxs")) throw missingDataset(this.path, "hsystgroupidxs", "missing although hsystgroups lists groups");
    const ds = this.dataset("hsystgroupidxs");
    const raw = this.readValue(ds, "hsystgroupidxs");
    const lists = Array.isArray(raw) ? raw : [];
    if (lists.length !== names.length) {
      throw datasetError(this.path, "hsystgroupidxs", `has ${lists.length} index lists for ${names.length} groups in hsystgroups`);
    }
    return names.map((name, g) => {
      const list = lists[g];
      const indices = isNumericArray(list) ? Array.from(list as ArrayLike<number | bigint>, Number) : [];
      if (!isNumericArray(list)) throw datasetError(this.path, "hsystgroupidxs", `entry ${g} is not a list of integers`);
      checkIndexRange(this.path, "hsystgroupidxs", indices, nsyst, "hsysts");
      return { name, indices };
    });
  }

  private readNoi(nsyst: number): number[] {
    if (!this.exists("hnoiidxs")) return [];
    const idx = this.readIntegers("hnoiidxs");
    checkIndexRange(this.path, "hnoiidxs", idx, nsyst, "hsysts");
    return idx;
  }

  private readPseudodata(nbins: number): PseudoData | null {
    if (!this.exists("hpseudodata")) return null;
    const res = this.readFloat64("hpseudodata", true);
    const names = this.readStrings("hpseudodatanames", false);
    checkShape(this.path, "hpseudodata", res.shape, [nbins, names.length], "[nbins, npseudo] from hdata_obs and hpseudodatanames");
    return { names, values: res.values };
  }

  private readExternalTerms(known: Set<string>): ExternalTerm[] {
    if (!this.exists("external_terms")) return [];
    const root = this.group("external_terms");
    return root.keys().map((name) => {
      const base = `external_terms/${name}`;
      const params = this.readStrings(`${base}/params`, true);
      const k = params.length;
      params.forEach((p) => {
        if (!known.has(p)) throw datasetError(this.path, `${base}/params`, `parameter '${p}' is not a signal (hsignals) or systematic (hsysts) of the model`);
      });
      if (new Set(params).size !== k) throw datasetError(this.path, `${base}/params`, "lists a parameter twice");
      const grad = this.readFloat64(`${base}/grad_values`, false);
      if (grad !== null) checkShape(this.path, `${base}/grad_values`, grad.shape, [k], "[nparams] from params");
      const hess = this.readFloat64(`${base}/hess_dense`, false);
      if (hess !== null) checkShape(this.path, `${base}/hess_dense`, hess.shape, [k, k], "[nparams, nparams] from params");
      let hessSparse: SparseMatrix | null = null;
      if (this.exists(`${base}/hess_sparse`)) {
        if (hess !== null) throw datasetError(this.path, `${base}/hess_sparse`, "the term also has hess_dense: which Hessian is meant is ambiguous");
        hessSparse = this.readSparseHessian(`${base}/hess_sparse`, k);
      }
      for (const child of this.childNames(base)) {
        if (!["params", "grad_values", "hess_dense", "hess_sparse"].includes(child)) {
          throw datasetError(this.path, `${base}/${child}`, "is not part of an external term (params, grad_values, hess_dense, hess_sparse)");
        }
      }
      return { name, params, gradValues: grad?.values ?? null, hessDense: hess?.values ?? null, hessSparse };
    });
  }

  private childNames(name: string): string[] {
    const g = this.file.get(name);
    return g !== null && isGroup(g) ? g.keys() : [];
  }

  /** rabbit's hess_sparse: indices [nnz, 2] (row, col), values [nnz], dense_shape [k, k]; any order. */
  private readSparseHessian(name: string, k: number): SparseMatrix {
    const g = this.group(name);
    const shape = this.denseShape(g, name);
    if (shape[0] !== k || shape[1] !== k) {
      throw datasetError(this.path, name, `dense_shape [${shape.join(", ")}] does not match [${k}, ${k}] (nparams from params)`);
    }
    const idxDs = this.dataset(`${name}/indices`);
    const idxShape = this.logicalShape(idxDs, `${name}/indices`);
    const n = shapeSize(idxShape);
    if (!(idxShape.length === 2 && idxShape[1] === 2) && n !== 0) {
      throw datasetError(this.path, `${name}/indices`, `shape [${idxShape.join(", ")}] is not [nnz, 2]`);
    }
    const raw = n === 0 ? [] : this.readValue(idxDs, `${name}/indices`);
    if (!isNumericArray(raw) && n !== 0) throw datasetError(this.path, `${name}/indices`, "is not an integer dataset");
    const flat = Array.from(raw as ArrayLike<number | bigint>, Number);
    checkIndexRange(this.path, `${name}/indices`, flat, k, "the term's parameters");
    const values = this.readFloat64(`${name}/values`, true).values;
    if (values.length !== n / 2) throw datasetError(this.path, `${name}/values`, `has ${values.length} values for ${n / 2} indices`);
    const rows = new Int32Array(n / 2);
    const cols = new Int32Array(n / 2);
    for (let e = 0; e < n / 2; e++) {
      rows[e] = flat[2 * e];
      cols[e] = flat[2 * e + 1];
    }
    return { rows, cols, values };
  }

  /**
   * Protocol-5 out-of-band buffers of a narf/wums pickle: older writers appended them to pickle_data
   * (attribute buf_offsets) or stored them as meta/pickle_buffers/pickle_buffer_<i>; current wums
   * keeps every buffer in the stream.
   */
  private pickleBuffers(ds: Dataset, raw: Uint8Array): { pickle: Uint8Array; buffers: Uint8Array[] } {
    const buffers: Uint8Array[] = [];
    let pickle = raw;
    if ("buf_offsets" in ds.attrs) {
      const v = ds.attrs["buf_offsets"].value;
      const offsets = isNumericArray(v) ? Array.from(v as ArrayLike<number | bigint>, Number) : typeof v === "number" || typeof v === "bigint" ? [Number(v)] : [];
      const ends = [...offsets.slice(1), raw.length];
      if (offsets.some((o, i) => !(Number.isInteger(o) && o >= 0 && o <= ends[i] && ends[i] <= raw.length))) {
        throw datasetError(this.path, "meta/pickle_data", "attribute buf_offsets does not fit the data");
      }
      if (offsets.length > 0) pickle = raw.subarray(0, offsets[0]);
      offsets.forEach((o, i) => buffers.push(raw.subarray(o, ends[i])));
    }
    const group = "meta/pickle_buffers";
    if (this.exists(group)) {
      const names = this.childNames(group);
      for (let i = 0; i < names.length; i++) {
        const name = `${group}/pickle_buffer_${i}`;
        if (!this.exists(name)) throw datasetError(this.path, group, `has ${names.length} members but no pickle_buffer_${i}`);
        const b = this.readValue(this.dataset(name), name);
        if (!(b instanceof Uint8Array)) throw datasetError(this.path, name, "is not a uint8 byte array");
        buffers.push(b);
      }
    }
    return { pickle, buffers };
  }

  /** meta_json (our writer) first; else rabbit's pickled `meta` group; else nothing. */
  private readMeta(): MetaRead {
    if (this.exists("meta_json")) return { meta: this.readMetaJson(), source: "meta_json", dataset: "meta_json", warning: null };
    if (!this.exists("meta")) return { meta: null, source: null, dataset: "meta_json", warning: null };
    const name = "meta/pickle_data";
    if (!this.exists(name)) throw missingDataset(this.path, name, "the meta group has no pickle_data");
    const ds = this.dataset(name);
    const raw = this.readValue(ds, name);
    if (!(raw instanceof Uint8Array)) throw datasetError(this.path, name, "is not a uint8 byte array");
    const { pickle, buffers } = this.pickleBuffers(ds, raw);
    let decoded;
    try {
      decoded = decodeRabbitMeta(pickle, buffers);
    } catch (err) {
      if (!(err instanceof PickleError)) throw err;
      // Without the metadata the systematic type (log-normal or additive) is unknown: no guessing.
      throw datasetError(this.path, name, `the pickled metadata cannot be decoded (${err.message}), so the systematic type is unknown`);
    }
    const warning = decoded.channelWarning === null ? null : `${this.path}: dataset '${name}': channel_info cannot be mapped (${decoded.channelWarning}); channels fall back to ch0/ch1_masked`;
    return { meta: decoded.meta, source: "meta/pickle_data", dataset: name, warning };
  }

  private readMetaJson(): Record<string, unknown> | null {
    if (!this.exists("meta_json")) return null;
    const text = this.readStrings("meta_json", true);
    if (text.length !== 1) throw datasetError(this.path, "meta_json", `holds ${text.length} strings, expected 1`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text[0]);
    } catch (err) {
      throw datasetError(this.path, "meta_json", `is not valid JSON (${(err as Error).message})`);
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw datasetError(this.path, "meta_json", "is not a JSON object");
    }
    return parsed as Record<string, unknown>;
  }

  private channelsFromMeta(meta: Record<string, unknown>, dataset: string, nbins: number, nbinsFull: number): ChannelInfo[] {
    const info = meta["channel_info"];
    if (info === undefined) return fallbackChannels(nbins, nbinsFull);
    const fail = (what: string): UserError => datasetError(this.path, dataset, `channel_info: ${what}`);
    if (typeof info !== "object" || info === null || Array.isArray(info)) throw fail("is not an object");
    const channels: ChannelInfo[] = [];
    let realStart = 0;
    let maskedStart = nbins;
    for (const [name, rawChannel] of Object.entries(info as Record<string, unknown>)) {
      if (typeof rawChannel !== "object" || rawChannel === null) throw fail(`channel '${name}' is not an object`);
      const ch = rawChannel as Record<string, unknown>;
      const masked = ch["masked"] === true;
      const flow = ch["flow"] === true;
      const axesRaw = ch["axes"];
      if (!Array.isArray(axesRaw)) throw fail(`channel '${name}' has no axes list`);
      const axes: AxisInfo[] = axesRaw.map((a, i) => parseAxis(a, (what) => fail(`channel '${name}' axis ${i}: ${what}`)));
      const size = channelBins(axes, flow);
      const start = masked ? maskedStart : realStart;
      if (masked) maskedStart += size;
      else realStart += size;
      channels.push({ name, axes, masked, flow, start, size });
    }
    if (realStart !== nbins) {
      throw fail(`the non-masked channels have ${realStart} bins, hdata_obs has ${nbins}`);
    }
    if (maskedStart !== nbinsFull) {
      throw fail(`the masked channels have ${maskedStart - nbins} bins, the tensor has ${nbinsFull - nbins}`);
    }
    return channels;
  }
}

/** Opens, reads and closes a tensor file. */
export async function readTensor(path: string, opts?: ReadOptions): Promise<TensorModel> {
  const reader = await TensorReader.open(path);
  try {
    return reader.read(opts);
  } finally {
    reader.close();
  }
}

function toFloat64(file: string, name: string, value: unknown): Float64Array {
  if (value instanceof Float64Array) return value;
  if (isNumericArray(value)) return Float64Array.from(value as ArrayLike<number | bigint>, Number);
  if (typeof value === "number") return Float64Array.of(value);
  throw datasetError(file, name, "is not a numeric dataset");
}

/** Whether a dataset stores IEEE float32 (HDF5 class H5T_FLOAT = 1, 4 bytes). */
function isFloat32(ds: Dataset): boolean {
  const m = ds.metadata;
  return m.type === 1 && m.size === 4;
}

function checkFiniteSlab(file: string, name: string, slab: Float64Array | Float32Array, offset: number): void {
  // x - x is 0 for finite x and NaN for NaN/±Infinity: one cheap test per element.
  let acc = 0;
  for (let i = 0; i < slab.length; i++) acc += slab[i] - slab[i];
  if (acc !== 0) checkFinite(file, name, slab, offset);
}

function parseAxis(raw: unknown, fail: (what: string) => UserError): AxisInfo {
  if (typeof raw !== "object" || raw === null) throw fail("is not an object");
  const a = raw as Record<string, unknown>;
  if (typeof a["name"] !== "string") throw fail("has no name");
  const axis: AxisInfo = { name: a["name"] };
  if (typeof a["label"] === "string") axis.label = a["label"];
  const edges = a["edges"];
  const categories = a["categories"];
  if (Array.isArray(edges)) {
    if (edges.length < 2 || !edges.every((e) => typeof e === "number")) throw fail("edges must be at least two numbers");
    axis.edges = edges as number[];
  } else if (Array.isArray(categories)) {
    if (!categories.every((c) => typeof c === "number" || typeof c === "string")) throw fail("categories must be numbers or strings");
    axis.categories = categories as (number | string)[];
  } else {
    throw fail("has neither edges nor categories");
  }
  for (const key of ["underflow", "overflow"] as const) {
    const v = a[key];
    if (v === undefined) continue;
    if (typeof v !== "boolean") throw fail(`${key} must be true or false`);
    axis[key] = v;
  }
  return axis;
}

/** Without usable channel_info (tensor-format.md): one channel ch0 over an integer axis obs, ch1_masked for the masked bins. */
function fallbackChannels(nbins: number, nbinsFull: number): ChannelInfo[] {
  const integerAxis = (n: number): AxisInfo => ({ name: "obs", edges: Array.from({ length: n + 1 }, (_, i) => i) });
  const channels: ChannelInfo[] = [{ name: "ch0", axes: [integerAxis(nbins)], masked: false, flow: false, start: 0, size: nbins }];
  if (nbinsFull > nbins) {
    channels.push({
      name: "ch1_masked",
      axes: [integerAxis(nbinsFull - nbins)],
      masked: true,
      flow: false,
      start: nbins,
      size: nbinsFull - nbins,
    });
  }
  return channels;
}

/**
 * The systematic type from the metadata. A file with no metadata at all (neither meta_json nor rabbit's
 * meta group) predates both writers' metadata: combinetf and early rabbit wrote log-normal tensors only.
 * A file with metadata that does not name the type is refused: "normal" would otherwise be fitted wrong.
 */
function parseSystematicType(file: string, read: MetaRead): SystematicType {
  if (read.meta === null) return "log_normal";
  const t = read.meta["systematic_type"];
  if (t === "log_normal" || t === "normal") return t;
  if ((t === undefined || t === null) && read.source === "meta_json") return "log_normal";
  if (t === undefined || t === null) throw datasetError(file, read.dataset, "has no systematic_type, so the likelihood (log_normal or normal) is unknown");
  throw datasetError(file, read.dataset, `systematic_type '${String(t)}' is neither log_normal nor normal`);
}
