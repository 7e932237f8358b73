/**
 * The fit tensor in memory: what TensorReader yields and TensorWriter takes.
 * Layout follows ../shared/spec/tensor-format.md; every number is float64 except log κ, which keeps
 * the file's float32 and narrow column indices (see LogKCsr).
 */

export type SystematicType = "log_normal" | "normal";

/** One histogram axis of a channel, as in meta_json's channel_info. */
export interface AxisInfo {
  name: string;
  label?: string;
  /** bin edges for a continuous axis (nbins + 1 values) */
  edges?: number[];
  /** category values for a categorical axis */
  categories?: (number | string)[];
  /**
   * Whether the axis has an underflow / overflow bin (counted in a channel with flow = true).
   * Absent: a continuous axis has both, a categorical one an overflow bin only.
   */
  underflow?: boolean;
  overflow?: boolean;
}

/** A channel: a block of consecutive bins. Real channels come first, masked ones after nbins. */
export interface ChannelInfo {
  name: string;
  axes: AxisInfo[];
  masked: boolean;
  flow: boolean;
  /** index of the channel's first bin in the full bin list */
  start: number;
  /** number of bins of the channel */
  size: number;
}

/**
 * log κ as compressed sparse rows. Row r = bin * nproc + proc over the full bin list (masked bins
 * included); column c = systematic index, or nsyst + systematic index for the asymmetric
 * half-difference part. Columns are sorted within each row. A dense file is converted on reading
 * (zeros dropped), so the fitter never multiplies zeros.
 */
export interface LogKCsr {
  nrows: number;
  /** nsyst (symmetric) or 2 * nsyst (asymmetric: logkavg columns, then logkhalfdiff columns) */
  ncols: number;
  /**
   * length nrows + 1; Float64Array (exact integers) only when nnz exceeds 2³¹ − 1, which Int32Array
   * cannot address
   */
  rowPtr: Int32Array | Float64Array;
  /** Uint16Array when every column index fits in 16 bits (ncols ≤ 65536; the reader narrows), else Int32Array */
  cols: Int32Array | Uint16Array;
  /**
   * Float32Array when the file stores log κ as float32 (kept so in memory: half the bytes; every
   * engine converts each value to float64 exactly before any arithmetic), else Float64Array
   */
  values: Float64Array | Float32Array;
}

export interface SystGroup {
  name: string;
  /** indices into systs */
  indices: number[];
}

export interface ExternalTerm {
  name: string;
  /** parameter names the term acts on */
  params: string[];
  /** g in g·x + ½ xᵀHx, length params.length, or null when the term has no linear part */
  gradValues: Float64Array | null;
  /** H, row-major params.length × params.length, or null when absent */
  hessDense: Float64Array | null;
  /**
   * H as (row, col, value) entries over params (rabbit's hess_sparse: every stored entry counts, so a
   * symmetric H lists both (i, j) and (j, i)), or null when absent. At most one of hessDense/hessSparse.
   */
  hessSparse?: SparseMatrix | null;
}

export interface SparseMatrix {
  rows: Int32Array;
  cols: Int32Array;
  values: Float64Array;
}

export interface PseudoData {
  names: string[];
  /** row-major [nbins, npseudo] */
  values: Float64Array;
}

export interface TensorModel {
  /** process names: signals (sorted) then backgrounds */
  procs: string[];
  /** the first signals.length processes; each gets a POI */
  signals: string[];
  /** systematic names: unconstrained first, then constrained */
  systs: string[];
  systsNoConstraint: string[];
  systGroups: SystGroup[];
  /** indices into systs of nuisances of interest */
  noiIndices: number[];
  /** 1 = Gaussian-constrained, 0 = free; length nsyst */
  constraintWeights: Float64Array;
  /** bins of the real (non-masked) channels */
  nbins: number;
  /** all bins, masked channels included */
  nbinsFull: number;
  /** observed counts, length nbins */
  dataObs: Float64Array;
  dataVar: Float64Array | null;
  /** row-major nbins × nbins */
  dataCovInv: Float64Array | null;
  pseudodata: PseudoData | null;
  /** row-major [nbinsFull, nproc], or null when absent */
  sumw: Float64Array | null;
  sumw2: Float64Array | null;
  /** nominal yields, row-major [nbinsFull, nproc] (a sparse file is expanded) */
  norm: Float64Array;
  logk: LogKCsr;
  /** true when the file stores only logkavg (no half-difference) */
  symmetric: boolean;
  systematicType: SystematicType;
  /** how the file stored norm and log κ */
  storage: "dense" | "sparse";
  channels: ChannelInfo[];
  externalTerms: ExternalTerm[];
  /**
   * The file's metadata in meta_json's shape: parsed meta_json, or rabbit's pickled `meta` decoded
   * (channel_info's axes as plain objects); null when the file has neither.
   */
  metaJson: Record<string, unknown> | null;
  /** where metaJson came from (absent: built in memory) */
  metaSource?: "meta_json" | "meta/pickle_data" | null;
  /**
   * Set when the metadata could be read only in part (e.g. channel_info of rabbit's pickle not
   * mappable, so the channels fell back to ch0 / ch1_masked): one line for fitresults and the log.
   */
  metaWarning?: string | null;
}
