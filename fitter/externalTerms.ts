/**
 * The external NLL terms of a tensor file (`external_terms/<name>`): g·x_T + ½ x_Tᵀ H x_T over the
 * named parameters T (likelihood.md, "+ external terms"). g and H are each optional; H is dense or
 * sparse (rabbit's hess_sparse: every stored (i, j) entry counts, as in rabbit's ½ xᵀHx with a
 * tf.SparseTensor). They are quadratic, so they are added in float64 around any likelihood
 * objective: value, gradient, Hessian-vector products and the dense Hessian. Parameters are
 * addressed in the minimiser's coordinates (square mode: x, not μ).
 */
import { UserError } from "../src/errors.js";
import type { ExternalTerm, SparseMatrix } from "../src/tensor/types.js";
import { hessianVectorProducts, type Objective, type ValueAndGradient } from "./objective.js";

/** One term with its parameters resolved to indices of the full parameter vector. */
export interface ResolvedExternalTerm {
  name: string;
  indices: Int32Array;
  /** g, or null (no linear part) */
  grad: Float64Array | null;
  /** row-major k × k, or null */
  hess: Float64Array | null;
  /** H as entries over the term's parameters (local indices 0..k-1), or null */
  hessSparse: SparseMatrix | null;
}

/** Resolves each term's parameter names against `names` (POIs then systematics); unknown names are user errors. */
export function resolveExternalTerms(terms: readonly ExternalTerm[], names: readonly string[]): ResolvedExternalTerm[] {
  const index = new Map(names.map((n, i) => [n, i]));
  return terms.map((t) => {
    const indices = Int32Array.from(t.params, (p) => {
      const i = index.get(p);
      if (i === undefined) throw new UserError(`external_terms/${t.name}: parameter ${p} is not a POI or systematic of the model`);
      return i;
    });
    const k = indices.length;
    if (t.gradValues && t.gradValues.length !== k) throw new UserError(`external_terms/${t.name}: grad_values has ${t.gradValues.length} values for ${k} parameters`);
    if (t.hessDense && t.hessDense.length !== k * k) throw new UserError(`external_terms/${t.name}: hess_dense has ${t.hessDense.length} values for ${k}×${k} parameters`);
    const sp = t.hessSparse ?? null;
    if (sp !== null) {
      if (t.hessDense) throw new UserError(`external_terms/${t.name}: has both hess_dense and hess_sparse`);
      const n = sp.values.length;
      if (sp.rows.length !== n || sp.cols.length !== n) throw new UserError(`external_terms/${t.name}: hess_sparse has ${sp.rows.length} rows, ${sp.cols.length} columns for ${n} values`);
      for (let e = 0; e < n; e++) {
        if (!(sp.rows[e] >= 0 && sp.rows[e] < k && sp.cols[e] >= 0 && sp.cols[e] < k)) {
          throw new UserError(`external_terms/${t.name}: hess_sparse entry ${e} (${sp.rows[e]}, ${sp.cols[e]}) lies outside ${k}×${k}`);
        }
      }
    }
    return { name: t.name, indices, grad: t.gradValues ?? null, hess: t.hessDense, hessSparse: sp };
  });
}

/** out[a] += (H v_T)_a over the term's local indices; `v` is a full-length vector. */
function addLocalHv(t: ResolvedExternalTerm, v: Float64Array, out: Float64Array): void {
  const k = t.indices.length;
  if (t.hess) {
    for (let a = 0; a < k; a++) {
      let hv = 0;
      for (let b = 0; b < k; b++) hv += t.hess[a * k + b] * v[t.indices[b]];
      out[a] += hv;
    }
  }
  const sp = t.hessSparse;
  if (sp) for (let e = 0; e < sp.values.length; e++) out[sp.rows[e]] += sp.values[e] * v[t.indices[sp.cols[e]]];
}

/** Value and gradient of the terms at x (gradient added into `gradient`); returns the value. */
function addTerms(terms: readonly ResolvedExternalTerm[], x: Float64Array, gradient: Float64Array): number {
  let value = 0;
  for (const t of terms) {
    const k = t.indices.length;
    const hx = new Float64Array(k);
    addLocalHv(t, x, hx);
    for (let a = 0; a < k; a++) {
      const i = t.indices[a];
      const g = t.grad ? t.grad[a] : 0;
      value += g * x[i] + 0.5 * x[i] * hx[a];
      // ∂/∂x of ½xᵀHx is ½(H + Hᵀ)x; rabbit's stored H is symmetric, but a one-sided one counts as written.
      gradient[i] += g;
    }
    addSymmetricHv(t, x, gradient);
  }
  return value;
}

/** out[indices] += ½(H + Hᵀ) v_T: the gradient of ½xᵀHx and the Hessian's action, for any stored H. */
function addSymmetricHv(t: ResolvedExternalTerm, v: Float64Array, out: Float64Array): void {
  const k = t.indices.length;
  if (t.hess) {
    for (let a = 0; a < k; a++) {
      let hv = 0;
      for (let b = 0; b < k; b++) hv += 0.5 * (t.hess[a * k + b] + t.hess[b * k + a]) * v[t.indices[b]];
      out[t.indices[a]] += hv;
    }
  }
  const sp = t.hessSparse;
  if (sp) {
    for (let e = 0; e < sp.values.length; e++) {
      const h = 0.5 * sp.values[e];
      const r = t.indices[sp.rows[e]];
      const c = t.indices[sp.cols[e]];
      out[r] += h * v[c];
      out[c] += h * v[r];
    }
  }
}

/** Adds the terms' H·v into `out`. */
function addTermsHvp(terms: readonly ResolvedExternalTerm[], v: Float64Array, out: Float64Array): void {
  for (const t of terms) addSymmetricHv(t, v, out);
}

/** Adds the terms' Hessian ½(H + Hᵀ) into a dense row-major n × n matrix. */
export function addExternalHessian(terms: readonly ResolvedExternalTerm[], hessian: Float64Array, n: number): void {
  for (const t of terms) {
    const k = t.indices.length;
    if (t.hess) {
      for (let a = 0; a < k; a++) {
        for (let b = 0; b < k; b++) hessian[t.indices[a] * n + t.indices[b]] += 0.5 * (t.hess[a * k + b] + t.hess[b * k + a]);
      }
    }
    const sp = t.hessSparse;
    if (sp) {
      for (let e = 0; e < sp.values.length; e++) {
        const r = t.indices[sp.rows[e]];
        const c = t.indices[sp.cols[e]];
        hessian[r * n + c] += 0.5 * sp.values[e];
        hessian[c * n + r] += 0.5 * sp.values[e];
      }
    }
  }
}

/** `inner` plus the external terms. */
export class WithExternalTerms implements Objective {
  readonly nparams: number;

  constructor(
    private readonly inner: Objective,
    private readonly terms: readonly ResolvedExternalTerm[],
  ) {
    this.nparams = inner.nparams;
  }

  valueAndGradient(x: Float64Array): ValueAndGradient | Promise<ValueAndGradient> {
    const finish = (vg: ValueAndGradient): ValueAndGradient => {
      const gradient = Float64Array.from(vg.gradient);
      const value = vg.value + addTerms(this.terms, x, gradient);
      return { value, gradient };
    };
    const r = this.inner.valueAndGradient(x);
    return r instanceof Promise ? r.then(finish) : finish(r);
  }

  hessianVectorProduct(x: Float64Array, v: Float64Array): Float64Array | Promise<Float64Array> {
    const finish = (hv: Float64Array): Float64Array => {
      const out = Float64Array.from(hv);
      addTermsHvp(this.terms, v, out);
      return out;
    };
    const r = this.inner.hessianVectorProduct(x, v);
    return r instanceof Promise ? r.then(finish) : finish(r);
  }

  /** the inner objective's batch (one pass of the engine when it has one) plus the terms per vector */
  async hessianVectorProducts(x: Float64Array, vs: Float64Array, k: number): Promise<Float64Array> {
    const n = this.nparams;
    const out = Float64Array.from(await hessianVectorProducts(this.inner, x, vs, k));
    for (let j = 0; j < k; j++) addTermsHvp(this.terms, vs.subarray(j * n, (j + 1) * n), out.subarray(j * n, (j + 1) * n));
    return out;
  }
}
