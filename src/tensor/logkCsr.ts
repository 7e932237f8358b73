/**
 * Building log κ CSR (types.ts LogKCsr) at the narrowest exact types while a file is streamed:
 * 16-bit column indices when ncols ≤ 65536, float32 values when the file stores float32, row pointers
 * counted directly (the row list of a sparse file is never kept) and 64-bit-safe beyond 2³¹ entries.
 * A 130M-entry tensor then costs 6 bytes per entry in memory instead of 16 or more.
 */
import type { LogKCsr } from "./types.js";
import { CanonicalPairScanner } from "./validate.js";

export type LogkCols = Int32Array | Uint16Array;
export type LogkValues = Float64Array | Float32Array;

/** Uint16Array when every index below ncols fits in 16 bits, else Int32Array. */
export function allocCols(ncols: number, n: number): LogkCols {
  return ncols <= 65536 ? new Uint16Array(n) : new Int32Array(n);
}

export function allocValues(float32: boolean, n: number): LogkValues {
  return float32 ? new Float32Array(n) : new Float64Array(n);
}

/**
 * Prefix sums of per-row counts (counts[r + 1] = entries of row r) in place, as row pointers:
 * Int32Array while nnz < 2³¹, else the Float64Array itself (exact integers up to 2⁵³).
 */
export function rowPointersFromCounts(counts: Float64Array): Int32Array | Float64Array {
  for (let r = 1; r < counts.length; r++) counts[r] += counts[r - 1];
  const nnz = counts.length > 0 ? counts[counts.length - 1] : 0;
  return nnz <= 0x7fffffff ? Int32Array.from(counts) : counts;
}

/**
 * The (row, col) pairs of hlogk_sparse/indices, checked as CanonicalPairScanner does, turned into CSR
 * row pointers (rows mapped through rowMap when the file's rows index the hnorm_sparse entries) and
 * narrow column indices; the row list itself is not kept.
 */
export class LogkCsrCollector extends CanonicalPairScanner {
  private readonly counts: Float64Array;
  readonly cols: LogkCols;

  constructor(
    file: string,
    dataset: string,
    nnz: number,
    denseShape: readonly [number, number],
    /** CSR rows (bin * nproc + proc) */
    csrRows: number,
    /** file row -> CSR row (monotonic), or null when the file's rows are CSR rows already */
    private readonly rowMap: Int32Array | null,
  ) {
    super(file, dataset, nnz, denseShape);
    this.counts = new Float64Array(csrRows + 1);
    this.cols = allocCols(denseShape[1], nnz);
  }

  protected store(k: number, row: number, col: number): void {
    this.cols[k] = col;
    this.counts[(this.rowMap === null ? row : this.rowMap[row]) + 1]++;
  }

  finish(): { rowPtr: Int32Array | Float64Array; cols: LogkCols } {
    this.checkComplete();
    return { rowPtr: rowPointersFromCounts(this.counts), cols: this.cols };
  }
}

/** Growable (col, value) buffers for building CSR without knowing nnz in advance (dense files). */
export class CsrBuilder {
  private cols: LogkCols;
  private values: LogkValues;
  nnz = 0;

  constructor(
    private readonly ncols: number,
    private readonly float32: boolean,
    initialCapacity: number,
  ) {
    const cap = Math.max(16, initialCapacity);
    this.cols = allocCols(ncols, cap);
    this.values = allocValues(float32, cap);
  }

  push(col: number, value: number): void {
    if (this.nnz === this.cols.length) this.grow();
    this.cols[this.nnz] = col;
    this.values[this.nnz] = value;
    this.nnz++;
  }

  private grow(): void {
    // 1.5× keeps the transient peak (old + new buffers) at 2.5× the entries rather than 3×
    const cap = Math.ceil(this.cols.length * 1.5);
    const cols = allocCols(this.ncols, cap);
    cols.set(this.cols);
    const values = allocValues(this.float32, cap);
    values.set(this.values);
    this.cols = cols;
    this.values = values;
  }

  finish(): { cols: LogkCols; values: LogkValues } {
    // Copy out to exact length so the spare capacity is released.
    return { cols: this.cols.slice(0, this.nnz), values: this.values.slice(0, this.nnz) };
  }
}

/** Bytes per stored entry of a CSR (columns + values), for reports. */
export function bytesPerEntry(logk: LogKCsr): number {
  return logk.cols.BYTES_PER_ELEMENT + logk.values.BYTES_PER_ELEMENT;
}
