/**
 * The fit parameters: their names and kinds, the prefit point, and freezing (holding chosen
 * parameters at their prefit values while the rest are minimised).
 *
 * Parameter vector x = (one POI per signal process, then the systematics in file order), as in
 * likelihoodSpec.ts.
 */
import { UserError } from "../src/errors.js";
import type { TensorModel } from "../src/tensor/types.js";
import type { PoiMode } from "./likelihoodSpec.js";
import { hessianVectorProducts, type Objective, type ValueAndGradient } from "./objective.js";

export type ParameterKind = "poi" | "noi" | "nuisance" | "free";

export interface ParameterInfo {
  name: string;
  kind: ParameterKind;
  /** prefit value in reported units (POIs: the signal strength μ) */
  prefit: number;
  /** width of the Gaussian constraint, 1/√cw; null for POIs and unconstrained parameters */
  prefitError: number | null;
}

/** Names and kinds of every parameter, POIs first, then systematics in file order. */
export function describeParameters(model: TensorModel, expectSignal = 1): ParameterInfo[] {
  const noi = new Set(model.noiIndices);
  const params: ParameterInfo[] = model.signals.map((name) => ({
    name,
    kind: "poi" as const,
    prefit: expectSignal,
    prefitError: null,
  }));
  model.systs.forEach((name, s) => {
    const cw = model.constraintWeights[s];
    const kind: ParameterKind = noi.has(s) ? "noi" : cw > 0 ? "nuisance" : "free";
    params.push({ name, kind, prefit: 0, prefitError: cw > 0 ? 1 / Math.sqrt(cw) : null });
  });
  return params;
}

/**
 * The prefit point in the minimiser's coordinates: POIs at the expected signal strength (its square
 * root in square mode, where r = x²), systematics at 0.
 */
export function prefitPoint(model: TensorModel, poiMode: PoiMode, expectSignal = 1): Float64Array {
  if (poiMode === "square" && expectSignal < 0) {
    throw new UserError(`--expect-signal ${expectSignal}: must be >= 0 in POI mode square (μ = x²)`);
  }
  const x = new Float64Array(model.signals.length + model.systs.length);
  const poi = poiMode === "square" ? Math.sqrt(expectSignal) : expectSignal;
  for (let i = 0; i < model.signals.length; i++) x[i] = poi;
  return x;
}

/**
 * Which parameters to freeze, from a comma-separated list of names or, when that list names an
 * unknown parameter and parses as a regular expression matching at least one name, that regular
 * expression (matched against the whole name). Throws UserError when neither works.
 */
export function selectFrozen(names: string[], selector: string): number[] {
  const trimmed = selector.trim();
  if (trimmed === "") return [];
  const index = new Map(names.map((n, i) => [n, i]));
  const listed = trimmed.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (listed.every((n) => index.has(n))) return [...new Set(listed.map((n) => index.get(n) as number))].sort((a, b) => a - b);
  let re: RegExp | null = null;
  try {
    re = new RegExp(`^(?:${trimmed})$`);
  } catch {
    re = null;
  }
  const matched = re ? names.flatMap((n, i) => ((re as RegExp).test(n) ? [i] : [])) : [];
  if (matched.length > 0) return matched;
  const unknown = listed.filter((n) => !index.has(n));
  throw new UserError(`--freeze ${selector}: no parameter named ${unknown.join(", ")} and no parameter matches it as a regular expression`);
}

/**
 * An Objective over the free parameters only: the frozen ones stay at their values in `base`.
 * Gradients and Hessian-vector products are the corresponding blocks of the full ones.
 */
export class FrozenObjective implements Objective {
  readonly nparams: number;
  /** indices (in the full vector) of the free parameters, ascending */
  readonly freeIndices: Int32Array;
  private readonly base: Float64Array;

  constructor(
    private readonly inner: Objective,
    base: Float64Array,
    frozen: readonly number[],
  ) {
    const isFrozen = new Uint8Array(inner.nparams);
    for (const i of frozen) isFrozen[i] = 1;
    const free: number[] = [];
    for (let i = 0; i < inner.nparams; i++) if (!isFrozen[i]) free.push(i);
    this.freeIndices = Int32Array.from(free);
    this.nparams = free.length;
    this.base = Float64Array.from(base);
  }

  /** the full parameter vector for a point of the free parameters */
  expand(xFree: Float64Array): Float64Array {
    const x = Float64Array.from(this.base);
    for (let k = 0; k < this.freeIndices.length; k++) x[this.freeIndices[k]] = xFree[k];
    return x;
  }

  /** the free parameters' part of a full vector */
  reduce(full: Float64Array): Float64Array {
    const out = new Float64Array(this.nparams);
    for (let k = 0; k < this.freeIndices.length; k++) out[k] = full[this.freeIndices[k]];
    return out;
  }

  /** the free × free block of a full row-major n × n matrix */
  reduceMatrix(full: Float64Array): Float64Array {
    const n = this.inner.nparams;
    const m = this.nparams;
    const out = new Float64Array(m * m);
    for (let a = 0; a < m; a++) {
      const row = this.freeIndices[a] * n;
      for (let b = 0; b < m; b++) out[a * m + b] = full[row + this.freeIndices[b]];
    }
    return out;
  }

  /** a full n × n matrix holding `reduced` in the free block and zeros elsewhere */
  expandMatrix(reduced: Float64Array): Float64Array {
    const n = this.inner.nparams;
    const m = this.nparams;
    const out = new Float64Array(n * n);
    for (let a = 0; a < m; a++) {
      const row = this.freeIndices[a] * n;
      for (let b = 0; b < m; b++) out[row + this.freeIndices[b]] = reduced[a * m + b];
    }
    return out;
  }

  valueAndGradient(xFree: Float64Array): ValueAndGradient | Promise<ValueAndGradient> {
    const r = this.inner.valueAndGradient(this.expand(xFree));
    const finish = (vg: ValueAndGradient): ValueAndGradient => ({ value: vg.value, gradient: this.reduce(vg.gradient) });
    return r instanceof Promise ? r.then(finish) : finish(r);
  }

  hessianVectorProduct(xFree: Float64Array, vFree: Float64Array): Float64Array | Promise<Float64Array> {
    const v = new Float64Array(this.inner.nparams);
    for (let k = 0; k < this.freeIndices.length; k++) v[this.freeIndices[k]] = vFree[k];
    const r = this.inner.hessianVectorProduct(this.expand(xFree), v);
    return r instanceof Promise ? r.then((hv) => this.reduce(hv)) : this.reduce(r);
  }

  /** the inner objective's batch on the expanded vectors, reduced per vector */
  async hessianVectorProducts(xFree: Float64Array, vsFree: Float64Array, k: number): Promise<Float64Array> {
    const m = this.nparams;
    const n = this.inner.nparams;
    if (vsFree.length !== k * m) throw new RangeError(`FrozenObjective: vs has length ${vsFree.length}, expected ${k * m}`);
    const vs = new Float64Array(k * n);
    for (let j = 0; j < k; j++) for (let a = 0; a < m; a++) vs[j * n + this.freeIndices[a]] = vsFree[j * m + a];
    const hv = await hessianVectorProducts(this.inner, this.expand(xFree), vs, k);
    const out = new Float64Array(k * m);
    for (let j = 0; j < k; j++) for (let a = 0; a < m; a++) out[j * m + a] = hv[j * n + this.freeIndices[a]];
    return out;
  }
}
