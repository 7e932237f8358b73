/**
 * The sparse-direct variant of the no-dense-matrix errors: the exact Hessian at the best fit as a
 * sparse matrix (SparseHessianSource, probed by HVPs), restricted to the free parameters, ordered
 * (RCM, dense rows last) and factored by the envelope Cholesky (fitter/sparseCholesky/) when its
 * envelope fits the memory limit. The factor then serves as
 *  - the preconditioner of the same PCG solves on exact HVPs that the CG path does (it is H⁻¹ up to
 *    rounding, so CG stops after 1–2 iterations at the requested tolerance: as exact as the CG path);
 *  - exact diag(H⁻¹) by selected inversion (every parameter's error, no solves);
 *  - factors of the restricted systems PHP + (I − P) of the grouped and stat impacts (keep masks).
 * Anything that does not fit or is not positive definite is a note and the CG path's answer.
 */
import { performance } from "node:perf_hooks";
import { envelopeBytes, envelopeOrder, type EnvelopeOrder } from "../sparseCholesky/envelopeOrder.js";
import { factorEnvelope, type EnvelopeFactor } from "../sparseCholesky/envelopeCholesky.js";
import type { SparseHessianSource, SymmetricCsr, SymmetricPattern } from "../sparseHessian/symmetricCsr.js";
import { pcg, type HessianProduct, type Preconditioner } from "./pcg.js";
import type { LinearSolver } from "./schurSolver.js";

/** the rows and columns of `pattern` at `free` (ascending full indices), renumbered 0..m−1 */
export function restrictPattern(pattern: SymmetricPattern, free: Int32Array): SymmetricPattern {
  const red = reducedIndex(pattern.n, free);
  const m = free.length;
  const rowPtr = new Float64Array(m + 1);
  let nnz = 0;
  for (let k = 0; k < m; k++) {
    const i = free[k];
    for (let p = pattern.rowPtr[i]; p < pattern.rowPtr[i + 1]; p++) if (red[pattern.cols[p]] >= 0) nnz++;
    rowPtr[k + 1] = nnz;
  }
  const cols = new Int32Array(nnz);
  let q = 0;
  for (let k = 0; k < m; k++) {
    const i = free[k];
    for (let p = pattern.rowPtr[i]; p < pattern.rowPtr[i + 1]; p++) {
      const c = red[pattern.cols[p]];
      if (c >= 0) cols[q++] = c; // red is increasing in the full index: columns stay sorted
    }
  }
  return { n: m, rowPtr, cols };
}

/** `csr` at `free`; `restricted` (restrictPattern of csr's own pattern) is reused when given */
export function restrictCsr(csr: SymmetricCsr, free: Int32Array, restricted?: SymmetricPattern): SymmetricCsr {
  const pattern = restricted ?? restrictPattern(csr, free);
  const red = reducedIndex(csr.n, free);
  const values = new Float64Array(pattern.cols.length);
  let q = 0;
  for (let k = 0; k < free.length; k++) {
    const i = free[k];
    for (let p = csr.rowPtr[i]; p < csr.rowPtr[i + 1]; p++) if (red[csr.cols[p]] >= 0) values[q++] = csr.values[p];
  }
  if (q !== values.length) throw new RangeError("restrictCsr: the matrix does not have the given pattern");
  return { ...pattern, values };
}

function reducedIndex(n: number, free: Int32Array): Int32Array {
  const red = new Int32Array(n).fill(-1);
  free.forEach((i, k) => (red[i] = k));
  return red;
}

export function factorPreconditioner(factor: EnvelopeFactor, name = "sparse-cholesky"): Preconditioner {
  return { name, apply: (r) => factor.solve(r) };
}

/** The direct solve refined by PCG on exact HVPs with the factor as preconditioner, to `tolerance`. */
export function sparseCholeskySolver(hvp: HessianProduct, factor: EnvelopeFactor, maxIterations?: number): LinearSolver {
  const preconditioner = factorPreconditioner(factor);
  return { name: "sparse-cholesky", solve: (b, tolerance) => pcg(hvp, b, { tolerance, preconditioner, maxIterations }) };
}

export interface RestrictedFactor {
  preconditioner: Preconditioner;
  dispose(): void;
}

export interface SparseDirect {
  factor: EnvelopeFactor;
  order: EnvelopeOrder;
  preconditioner: Preconditioner;
  /** exact diag(H⁻¹) over the free parameters, or null (did not fit in memory, or not asked) */
  inverseDiagonal: Float64Array | null;
  /** whether the factor holds H⁻¹ on the envelope (factor.quadraticForms: exact yield variances) */
  selectedInverse: boolean;
  /** factor of P H P + (I − P) for a mask over the free parameters; null when it does not fit next to the main one */
  restricted(kept: Uint8Array): RestrictedFactor | null;
  /** HVPs spent on probing the Hessian */
  hvps: number;
  notes: string[];
  dispose(): void;
}

export interface SparseDirectOptions {
  limitBytes: number;
  inverseDiagonal: boolean;
  /** hold H⁻¹ on the envelope after the selected inversion (for yield variances; one more envelope) */
  keepSelectedInverse?: boolean;
  threads?: number;
  log?: ((line: string) => void) | null;
}

const gib = (b: number): string => `${(b / 2 ** 30).toFixed(3)} GiB`;

/** Factors the free-parameter Hessian at x; a string says why not (the caller falls back to CG). */
export async function prepareSparseDirect(source: SparseHessianSource, x: Float64Array, free: Int32Array, opts: SparseDirectOptions): Promise<SparseDirect | string> {
  const log = opts.log ?? null;
  const m = free.length;
  const red = reducedIndex(source.pattern.n, free);
  const denseRed = Int32Array.from(Array.from(source.denseRows, (i) => red[i]).filter((k) => k >= 0));
  // order and size from the pattern alone, before any probing
  let t = performance.now();
  // nothing held (the usual case): the source's own arrays, no copies (at 50k parameters they are GBs)
  const allFree = free.length === source.pattern.n;
  const patternRed = allFree ? source.pattern : restrictPattern(source.pattern, free);
  const order = envelopeOrder(patternRed, denseRed);
  const bytes = envelopeBytes(patternRed, order);
  log?.(`sparse cholesky: ${m} free parameters (${denseRed.length} dense rows), envelope ${gib(bytes)} (limit ${gib(opts.limitBytes)}), ordered in ${((performance.now() - t) / 1000).toFixed(2)} s`);
  // the probed values (and their restriction when parameters are held) are allocated next to the factor
  const valueBytes = 8 * source.pattern.cols.length + (allFree ? 0 : 8 * patternRed.cols.length);
  if (bytes + valueBytes > opts.limitBytes) {
    return `sparse Cholesky not used: the envelope (${gib(bytes)}) and the probed values (${gib(valueBytes)}) need more than the ${gib(opts.limitBytes)} available`;
  }
  t = performance.now();
  const full = await source.evaluate(x);
  // the probed matrix normally shares the source's pattern arrays: then its restriction shares ours
  const samePattern = full.rowPtr === source.pattern.rowPtr && full.cols === source.pattern.cols;
  const matrix = allFree ? full : restrictCsr(full, free, samePattern ? patternRed : undefined);
  log?.(`sparse cholesky: Hessian probed with ${source.probes} HVPs in ${((performance.now() - t) / 1000).toFixed(2)} s`);
  t = performance.now();
  const r = factorEnvelope(matrix, order, { threads: opts.threads });
  if (!r.positiveDefinite) return `sparse Cholesky not used: the probed Hessian is not positive definite (pivot at free parameter ${r.row})`;
  const factor = r.factor;
  log?.(`sparse cholesky: factored in ${((performance.now() - t) / 1000).toFixed(2)} s (${gib(factor.bytes)})`);
  const notes: string[] = [`sparse Cholesky of the probed Hessian (${source.probes} HVPs, envelope ${gib(factor.bytes)}) preconditions every solve`];
  let inverseDiagonal: Float64Array | null = null;
  if (opts.inverseDiagonal) {
    if (2 * bytes + valueBytes <= opts.limitBytes) {
      t = performance.now();
      inverseDiagonal = factor.inverseDiagonal({ keepSelectedInverse: opts.keepSelectedInverse === true });
      log?.(`sparse cholesky: exact diag(H⁻¹) by selected inversion in ${((performance.now() - t) / 1000).toFixed(2)} s`);
      notes.push("every parameter's variance exact: diag(H⁻¹) by selected inversion of the sparse Cholesky factor");
    } else {
      notes.push(`selected inversion skipped: it needs a second ${gib(bytes)} beyond the limit`);
    }
  }
  return {
    factor,
    order,
    preconditioner: factorPreconditioner(factor),
    inverseDiagonal,
    selectedInverse: inverseDiagonal !== null && opts.keepSelectedInverse === true,
    restricted: (kept) => {
      if ((inverseDiagonal !== null && opts.keepSelectedInverse === true ? 2 : 1) * bytes + valueBytes + envelopeBytes(patternRed, order, kept) > opts.limitBytes) return null;
      const rr = factorEnvelope(matrix, order, { keep: kept, threads: opts.threads });
      if (!rr.positiveDefinite) return null;
      const f = rr.factor;
      return { preconditioner: factorPreconditioner(f, "sparse-cholesky(restricted)"), dispose: () => f.dispose() };
    },
    hvps: source.probes,
    notes,
    dispose: () => factor.dispose(),
  };
}
