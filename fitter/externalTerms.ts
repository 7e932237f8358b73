/**
 * The external NLL terms of a tensor file (`external_terms/<name>`): g·x_T + ½ x_Tᵀ H x_T over the
 * named parameters T (likelihood.md, "+ external terms"). They are quadratic, so they are added in
 * float64 around any likelihood objective: value, gradient, Hessian-vector products and the dense
 * Hessian. Parameters are addressed in the minimiser's coordinates (square mode: x, not μ).
 */
import { UserError } from "../src/errors.js";
import type { ExternalTerm } from "../src/tensor/types.js";
import type { Objective, ValueAndGradient } from "./objective.js";

/** One term with its parameters resolved to indices of the full parameter vector. */
export interface ResolvedExternalTerm {
  name: string;
  indices: Int32Array;
  grad: Float64Array;
  /** row-major k × k, or null (linear term only) */
  hess: Float64Array | null;
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
    if (t.gradValues.length !== k) throw new UserError(`external_terms/${t.name}: grad_values has ${t.gradValues.length} values for ${k} parameters`);
    if (t.hessDense && t.hessDense.length !== k * k) throw new UserError(`external_terms/${t.name}: hess_dense has ${t.hessDense.length} values for ${k}×${k} parameters`);
    return { name: t.name, indices, grad: t.gradValues, hess: t.hessDense };
  });
}

/** Value and gradient of the terms at x (gradient added into `gradient`); returns the value. */
function addTerms(terms: readonly ResolvedExternalTerm[], x: Float64Array, gradient: Float64Array): number {
  let value = 0;
  for (const t of terms) {
    const k = t.indices.length;
    for (let a = 0; a < k; a++) {
      const xa = x[t.indices[a]];
      let hx = 0;
      if (t.hess) for (let b = 0; b < k; b++) hx += t.hess[a * k + b] * x[t.indices[b]];
      value += t.grad[a] * xa + 0.5 * xa * hx;
      gradient[t.indices[a]] += t.grad[a] + hx;
    }
  }
  return value;
}

/** Adds the terms' H·v into `out`. */
function addTermsHvp(terms: readonly ResolvedExternalTerm[], v: Float64Array, out: Float64Array): void {
  for (const t of terms) {
    if (!t.hess) continue;
    const k = t.indices.length;
    for (let a = 0; a < k; a++) {
      let hv = 0;
      for (let b = 0; b < k; b++) hv += t.hess[a * k + b] * v[t.indices[b]];
      out[t.indices[a]] += hv;
    }
  }
}

/** Adds the terms' Hessian into a dense row-major n × n matrix. */
export function addExternalHessian(terms: readonly ResolvedExternalTerm[], hessian: Float64Array, n: number): void {
  for (const t of terms) {
    if (!t.hess) continue;
    const k = t.indices.length;
    for (let a = 0; a < k; a++) for (let b = 0; b < k; b++) hessian[t.indices[a] * n + t.indices[b]] += t.hess[a * k + b];
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
}
