/**
 * What a minimiser needs from a likelihood: value, gradient and Hessian-vector products at a
 * point. Implemented by the TensorFlow.js autodiff likelihood (float32, any backend) and by the
 * native Float64Evaluator. Methods may be synchronous or return promises (GPU backends).
 */
export interface ValueAndGradient {
  value: number;
  gradient: Float64Array;
}

export interface Objective {
  readonly nparams: number;
  valueAndGradient(x: Float64Array): ValueAndGradient | Promise<ValueAndGradient>;
  hessianVectorProduct(x: Float64Array, v: Float64Array): Float64Array | Promise<Float64Array>;
  /**
   * Optional: K products H(x)·v_j at one point, vs and the result row-major [K, nparams], each equal
   * to hessianVectorProduct(x, v_j) (engines that read the model once for all K: native, CUDA).
   * Callers go through hessianVectorProducts() below, which falls back to one product per vector.
   */
  hessianVectorProducts?(x: Float64Array, vs: Float64Array, k: number): Float64Array | Promise<Float64Array>;
}

/** a RangeError unless k is a positive integer (the number of vectors of a batched product) */
export function checkBatchSize(who: string, k: number): void {
  if (!(Number.isInteger(k) && k > 0)) throw new RangeError(`${who}: K must be a positive integer, got ${k}`);
}

/**
 * K Hessian-vector products at one point: vs and the result row-major [K, nparams]. The objective's
 * own batch when it has one, else one hessianVectorProduct per vector (same numbers either way).
 */
export async function hessianVectorProducts(
  obj: Pick<Objective, "nparams" | "hessianVectorProduct" | "hessianVectorProducts">,
  x: Float64Array,
  vs: Float64Array,
  k: number,
): Promise<Float64Array> {
  checkBatchSize("hessianVectorProducts", k);
  const n = obj.nparams;
  if (vs.length !== k * n) throw new RangeError(`hessianVectorProducts: vs has length ${vs.length}, expected ${k * n}`);
  if (obj.hessianVectorProducts) return await obj.hessianVectorProducts(x, vs, k);
  const out = new Float64Array(k * n);
  for (let j = 0; j < k; j++) out.set(await obj.hessianVectorProduct(x, vs.subarray(j * n, (j + 1) * n)), j * n);
  return out;
}
