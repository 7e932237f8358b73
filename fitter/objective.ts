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
}
