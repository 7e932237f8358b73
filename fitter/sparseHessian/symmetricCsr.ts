/**
 * A symmetric sparse matrix in compressed-sparse-row form, both triangles stored (row i lists every
 * j with a possibly non-zero H_ij, sorted ascending, diagonal always present). The common currency
 * between the Hessian's sparsity pattern and probing (fitter/sparseHessian/) and the sparse
 * factorisation that solves with it (fitter/sparseCholesky/): neither needs the other's internals.
 */
export interface SymmetricPattern {
  readonly n: number;
  /** length n + 1; Float64Array so that more than 2^31 stored entries can be addressed */
  readonly rowPtr: Float64Array;
  /** column indices, rows sorted ascending */
  readonly cols: Int32Array;
}

export interface SymmetricCsr extends SymmetricPattern {
  /** values aligned with cols; values[k] for (i, cols[k]) equals the entry (cols[k], i) */
  readonly values: Float64Array;
}

/** Checks the structural invariants (lengths, sorted columns, diagonal present); throws RangeError. */
export function checkSymmetricPattern(p: SymmetricPattern): void {
  if (p.rowPtr.length !== p.n + 1) throw new RangeError(`symmetric pattern: rowPtr has length ${p.rowPtr.length}, expected ${p.n + 1}`);
  if (p.rowPtr[0] !== 0 || p.rowPtr[p.n] !== p.cols.length) throw new RangeError("symmetric pattern: rowPtr does not span cols");
  for (let i = 0; i < p.n; i++) {
    let hasDiagonal = false;
    for (let k = p.rowPtr[i]; k < p.rowPtr[i + 1]; k++) {
      const j = p.cols[k];
      if (j < 0 || j >= p.n) throw new RangeError(`symmetric pattern: row ${i} has column ${j} outside [0, ${p.n})`);
      if (k > p.rowPtr[i] && p.cols[k - 1] >= j) throw new RangeError(`symmetric pattern: row ${i} columns not strictly ascending`);
      if (j === i) hasDiagonal = true;
    }
    if (!hasDiagonal) throw new RangeError(`symmetric pattern: row ${i} has no diagonal entry`);
  }
}

/**
 * Where the no-dense-matrix errors get an exact sparse Hessian from: a fixed structural pattern
 * (a superset of the likelihood Hessian's non-zeros over the full parameter vector, as the
 * evaluator orders it) and its values at a point (fitter/sparseHessian/ probes them with HVPs).
 */
export interface SparseHessianSource {
  readonly pattern: SymmetricPattern;
  /** rows treated as dense (POIs, normalisations, systematics acting on most bins), ascending */
  readonly denseRows: Int32Array;
  /** number of Hessian-vector products one evaluate() costs */
  readonly probes: number;
  evaluate(x: Float64Array): Promise<SymmetricCsr>;
}
