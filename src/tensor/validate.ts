/**
 * Input checks for fit tensors. Each failure is a UserError with one line naming the file, the
 * dataset and what is wrong, so a broken input is reported instead of producing a wrong fit.
 */
import fs from "node:fs";
import { UserError } from "../errors.js";
import type { AxisInfo } from "./types.js";

const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

/** Error for one dataset of one file. */
export function datasetError(file: string, dataset: string, what: string): UserError {
  return new UserError(`${file}: dataset '${dataset}': ${what}`);
}

/** The file exists, is a regular file and carries the HDF5 signature (at 0, 512, 1024, ...). */
export function checkHdf5File(file: string): void {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    throw new UserError(`${file}: no such file`);
  }
  if (!stat.isFile()) throw new UserError(`${file}: not a regular file`);
  const fd = fs.openSync(file, "r");
  try {
    const head = Buffer.alloc(8);
    // HDF5 allows a user block before the superblock: the signature sits at 0 or a power of two >= 512.
    for (let offset = 0; offset + 8 <= stat.size; offset = offset === 0 ? 512 : offset * 2) {
      fs.readSync(fd, head, 0, 8, offset);
      if (HDF5_SIGNATURE.every((b, i) => head[i] === b)) return;
    }
  } finally {
    fs.closeSync(fd);
  }
  throw new UserError(`${file}: not an HDF5 file (no HDF5 signature)`);
}

export function missingDataset(file: string, dataset: string, why = "required dataset is missing"): UserError {
  return datasetError(file, dataset, why);
}

/** No NaN or ±Infinity; `offset` is the flat index of values[0] in the whole dataset. */
export function checkFinite(file: string, dataset: string, values: ArrayLike<number>, offset = 0): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) {
      throw datasetError(file, dataset, `non-finite value ${v} at flat index ${offset + i}`);
    }
  }
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/** The (logical) shape equals the expected one; `why` says where the expectation comes from. */
export function checkShape(
  file: string,
  dataset: string,
  actual: readonly number[],
  expected: readonly number[],
  why: string,
): void {
  const same = actual.length === expected.length && actual.every((d, i) => d === expected[i]);
  if (!same) {
    throw datasetError(file, dataset, `shape ${shapeText(actual)} does not match ${shapeText(expected)} (${why})`);
  }
}

/** A model needs at least one process and one bin. */
export function checkNotEmpty(file: string, nproc: number, nbins: number): void {
  if (nproc === 0) throw datasetError(file, "hprocs", "the model has no processes");
  if (nbins === 0) throw datasetError(file, "hdata_obs", "the model has no bins");
}

/** Every index lies in [0, limit). */
export function checkIndexRange(file: string, dataset: string, indices: ArrayLike<number>, limit: number, what: string): void {
  for (let i = 0; i < indices.length; i++) {
    const v = indices[i];
    if (!Number.isInteger(v) || v < 0 || v >= limit) {
      throw datasetError(file, dataset, `index ${v} at position ${i} is out of range [0, ${limit}) of ${what}`);
    }
  }
}

export interface SparsePairs {
  rows: Int32Array;
  cols: Int32Array;
}

/**
 * Scans [nnz, 2] (row, col) index pairs, fed in flat order in pieces of any size (a piece may end
 * between a row and its column), and hands each checked pair to `store`. Checks that every index lies
 * inside dense_shape and that the pairs are in canonical order (row-major, strictly increasing).
 * int64 values are read as their two 32-bit halves: a valid index has a zero high word and a
 * non-negative low word, which avoids a BigInt per element.
 */
export abstract class CanonicalPairScanner {
  private count = 0;
  private pendingRow = -2;
  private prevKey = -1;
  private prevRow = -1;
  private prevCol = -1;
  protected readonly nrows: number;
  protected readonly ncols: number;

  constructor(
    protected readonly file: string,
    protected readonly dataset: string,
    protected readonly nnz: number,
    denseShape: readonly [number, number],
  ) {
    [this.nrows, this.ncols] = denseShape;
  }

  /** Keeps pair k (already checked). */
  protected abstract store(k: number, row: number, col: number): void;

  /** The next values of the flat index list. */
  add(piece: ArrayLike<number | bigint>): void {
    if (piece instanceof BigInt64Array) {
      const words = new Int32Array(piece.buffer, piece.byteOffset, piece.length * 2);
      for (let i = 0; i < piece.length; i++) {
        const lo = words[2 * i];
        this.take(words[2 * i + 1] === 0 && lo >= 0 ? lo : -1);
      }
    } else {
      for (let i = 0; i < piece.length; i++) {
        const v = Number(piece[i]);
        this.take(Number.isInteger(v) && v >= 0 && v <= 0x7fffffff ? v : -1);
      }
    }
  }

  /** One index; -1 stands for any value that cannot be an index. */
  private take(v: number): void {
    if (this.pendingRow === -2) {
      this.pendingRow = v;
      return;
    }
    const k = this.count;
    const r = this.pendingRow;
    this.pendingRow = -2;
    if (k >= this.nnz) throw datasetError(this.file, this.dataset, `holds more than ${this.nnz} (row, col) pairs`);
    if (r < 0 || v < 0 || r >= this.nrows || v >= this.ncols) {
      throw datasetError(this.file, this.dataset, `entry ${k} lies outside dense_shape [${this.nrows}, ${this.ncols}]`);
    }
    // key = row * ncols + col is exact in float64 for any realistic size (< 2^53): one comparison
    // per entry checks both sorting and duplicates.
    const key = r * this.ncols + v;
    if (key <= this.prevKey) {
      throw datasetError(
        this.file,
        this.dataset,
        `indices are not in canonical order (sorted, no duplicates): entry ${k} (${r}, ${v}) follows (${this.prevRow}, ${this.prevCol})`,
      );
    }
    this.store(k, r, v);
    this.prevKey = key;
    this.prevRow = r;
    this.prevCol = v;
    this.count = k + 1;
  }

  /** Throws unless exactly nnz complete pairs were seen. */
  protected checkComplete(): void {
    if (this.count !== this.nnz || this.pendingRow !== -2) {
      throw datasetError(this.file, this.dataset, `holds ${this.count} complete (row, col) pairs, expected ${this.nnz}`);
    }
  }
}

/** CanonicalPairScanner that keeps the pairs as two Int32Arrays. */
export class SparsePairCollector extends CanonicalPairScanner {
  readonly rows: Int32Array;
  readonly cols: Int32Array;

  constructor(file: string, dataset: string, nnz: number, denseShape: readonly [number, number]) {
    super(file, dataset, nnz, denseShape);
    this.rows = new Int32Array(nnz);
    this.cols = new Int32Array(nnz);
  }

  protected store(k: number, row: number, col: number): void {
    this.rows[k] = row;
    this.cols[k] = col;
  }

  finish(): SparsePairs {
    this.checkComplete();
    return { rows: this.rows, cols: this.cols };
  }
}

/** All [nnz, 2] pairs at once; see SparsePairCollector. */
export function checkedSparsePairs(
  file: string,
  dataset: string,
  raw: BigInt64Array | Int32Array | Float64Array,
  denseShape: readonly [number, number],
): SparsePairs {
  if (raw.length % 2 !== 0) throw datasetError(file, dataset, `has ${raw.length} values, not (row, col) pairs`);
  const collector = new SparsePairCollector(file, dataset, raw.length / 2, denseShape);
  collector.add(raw);
  return collector.finish();
}

/**
 * Bins of one axis; with flow, its under- and overflow bins as the axis has them (absent flags: a
 * continuous axis has both, a categorical one an overflow bin only).
 */
export function axisBins(axis: AxisInfo, flow: boolean): number {
  if (axis.edges !== undefined) {
    return axis.edges.length - 1 + (flow ? Number(axis.underflow ?? true) + Number(axis.overflow ?? true) : 0);
  }
  return (axis.categories?.length ?? 0) + (flow ? Number(axis.overflow ?? true) + Number(axis.underflow ?? false) : 0);
}

/** Bins of a channel: the product of its axes' bins (row-major). */
export function channelBins(axes: readonly AxisInfo[], flow: boolean): number {
  return axes.reduce((n, axis) => n * axisBins(axis, flow), 1);
}
