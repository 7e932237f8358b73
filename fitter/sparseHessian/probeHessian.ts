/**
 * The exact sparse Hessian from Hessian-vector products (issue 12): one product per dense row (e_d)
 * and one per colour of the remaining columns (probeColouring.ts), assembled into the pattern of
 * hessianPattern.ts. Every stored entry is read from exactly one product and mirrored, so the result
 * is exactly symmetric:
 *  - (r, q) with r dense: (H e_r)_q (when both are dense, the larger index's product),
 *  - (r, q) with r sparse, q dense: (H e_q)_r,
 *  - both sparse: (H v_c)_min(r,q) with c the colour of max(r, q) (that row is sparse, so the colour
 *    isolates that column in it).
 * Entries outside the pattern are exactly zero (hessianPattern.ts), so no product leaks into another
 * entry: the values are those of the exact float64 products.
 */
import type { LikelihoodSpec } from "../likelihoodSpec.js";
import { checkBatchSize, hessianVectorProducts, type Objective } from "../objective.js";
import { WithExternalTerms, type ResolvedExternalTerm } from "../externalTerms.js";
import { chooseDenseRows, hessianPattern, type HessianPattern } from "./hessianPattern.js";
import { colourProbes, type ProbeColouring } from "./probeColouring.js";
import type { SparseHessianSource, SymmetricCsr, SymmetricPattern } from "./symmetricCsr.js";

export interface SparseHessianOptions {
  /** the external terms the objective adds (session.externalTerms); required when it adds any */
  externalTerms?: readonly ResolvedExternalTerm[];
  /** rows with more entries than this are probed one by one; default: chooseDenseRows' estimate */
  denseThreshold?: number;
  /** colouring order; default: the pattern's binOrder (parameters by first bin), else natural */
  order?: "natural" | "largest-first" | "bins";
  /** a pattern already built for this spec and these external terms */
  pattern?: SymmetricPattern | HessianPattern;
  /**
   * probes per batched product (objective.hessianVectorProducts; one by one without it); the values
   * do not depend on it. Default DEFAULT_PROBE_BATCH
   */
  batchSize?: number;
}

/** probes per batched product: measured in bench/sparseHessian.bench.mjs (per-HVP time by K) */
export const DEFAULT_PROBE_BATCH = 8;

export interface ProbedSparseHessianSource extends SparseHessianSource {
  readonly colouring: ProbeColouring;
}

/**
 * A SparseHessianSource for `objective` (the evaluator, or the session's objective with its external
 * terms — then pass them in opts.externalTerms) over the full parameter vector of `spec`.
 */
export function sparseHessianSource(
  objective: Pick<Objective, "nparams" | "hessianVectorProduct" | "hessianVectorProducts">,
  spec: LikelihoodSpec,
  opts: SparseHessianOptions = {},
): ProbedSparseHessianSource {
  const n = spec.nsig + spec.nsyst;
  if (objective.nparams !== n) throw new RangeError(`sparseHessianSource: the objective has ${objective.nparams} parameters, the spec ${n}`);
  if (objective instanceof WithExternalTerms && !(opts.externalTerms && opts.externalTerms.length > 0)) {
    throw new RangeError("sparseHessianSource: the objective adds external terms; pass them as opts.externalTerms so the pattern includes their couplings");
  }
  const batch = opts.batchSize ?? DEFAULT_PROBE_BATCH;
  checkBatchSize("sparseHessianSource: batchSize", batch);
  const pattern = opts.pattern ?? hessianPattern(spec, { externalTerms: opts.externalTerms });
  if (pattern.n !== n) throw new RangeError(`sparseHessianSource: the pattern has ${pattern.n} rows, expected ${n}`);
  const denseRows = chooseDenseRows(pattern, { threshold: opts.denseThreshold });
  const binOrder: Int32Array | null = (pattern as Partial<HessianPattern>).binOrder ?? null;
  const want = opts.order ?? "bins";
  const order: "natural" | "largest-first" | Int32Array = want === "bins" ? (binOrder ?? "natural") : want;
  const colouring = colourProbes(pattern, denseRows, { order });
  const { rowPtr, cols } = pattern;
  const isDense = new Uint8Array(n);
  for (const d of denseRows) isDense[d] = 1;

  const evaluate = async (x: Float64Array): Promise<SymmetricCsr> => {
    if (x.length !== n) throw new RangeError(`sparseHessianSource: x has length ${x.length}, expected ${n}`);
    const values = new Float64Array(cols.length);
    const nd = denseRows.length;
    const nprobes = nd + colouring.ncolours;
    // probe p < nd: e_{denseRows[p]}; probe nd + c: the indicator of colour c
    const setProbe = (v: Float64Array, p: number, value: number): void => {
      if (p < nd) v[denseRows[p]] = value;
      else for (let a = colouring.start[p - nd]; a < colouring.start[p - nd + 1]; a++) v[colouring.columns[a]] = value;
    };
    const readProbe = (p: number, hv: Float64Array): void => {
      if (p < nd) {
        // dense rows: the whole row from its own product
        const d = denseRows[p];
        for (let k = rowPtr[d]; k < rowPtr[d + 1]; k++) values[k] = hv[cols[k]];
        return;
      }
      // colours: for a sparse column r of colour c, its lower-triangle sparse entries (r, q ≤ r) = (H v_c)_q
      const c = p - nd;
      for (let a = colouring.start[c]; a < colouring.start[c + 1]; a++) {
        const r = colouring.columns[a];
        for (let k = rowPtr[r]; k < rowPtr[r + 1]; k++) {
          const q = cols[k];
          if (q > r) break;
          if (!isDense[q]) values[k] = hv[q];
        }
      }
    };
    // K probes per call: an engine with a batched product (native, CUDA) reads the model once for K
    const vs = new Float64Array(batch * n);
    for (let p0 = 0; p0 < nprobes; p0 += batch) {
      const k = Math.min(batch, nprobes - p0);
      const block = vs.subarray(0, k * n);
      for (let j = 0; j < k; j++) setProbe(block.subarray(j * n, (j + 1) * n), p0 + j, 1);
      const hvs = k === 1 ? await objective.hessianVectorProduct(x, block) : await hessianVectorProducts(objective, x, block, k);
      for (let j = 0; j < k; j++) {
        setProbe(block.subarray(j * n, (j + 1) * n), p0 + j, 0);
        readProbe(p0 + j, hvs.subarray(j * n, (j + 1) * n));
      }
    }
    // mirror: upper (i, j > i) ↔ lower (j, i). Sources: dense row i with sparse j → upper; else lower.
    const cursor = Float64Array.from(rowPtr.subarray(0, n));
    for (let i = 0; i < n; i++) {
      for (let k = rowPtr[i]; k < rowPtr[i + 1]; k++) {
        const j = cols[k];
        if (j <= i) continue;
        // lower entries of row j come in ascending column order as i ascends
        while (cols[cursor[j]] < i) cursor[j]++;
        const m = cursor[j];
        if (cols[m] !== i) throw new Error(`sparseHessianSource: pattern is not symmetric at (${i}, ${j})`);
        if (isDense[i] && !isDense[j]) values[m] = values[k];
        else values[k] = values[m];
        cursor[j]++;
      }
    }
    return { n, rowPtr, cols, values };
  };

  return { pattern, denseRows, probes: denseRows.length + colouring.ncolours, colouring, evaluate };
}

/** The stored entries of a symmetric CSR as a dense row-major n × n matrix (tests, small models). */
export function symmetricCsrToDense(h: SymmetricCsr): Float64Array {
  const out = new Float64Array(h.n * h.n);
  for (let i = 0; i < h.n; i++) for (let k = h.rowPtr[i]; k < h.rowPtr[i + 1]; k++) out[i * h.n + h.cols[k]] = h.values[k];
  return out;
}
