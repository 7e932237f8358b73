/** Relative differences for the float64 agreement tests. */
import { generateModel } from "../../src/tensor/modelGenerator.js";
import type { TensorModel } from "../../src/tensor/types.js";

export const rel = (a: number, b: number): number => Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);

/** largest relative difference of a from b over the entries where |b| exceeds floor */
export function maxRel(a: ArrayLike<number>, b: ArrayLike<number>, floor = 0): number {
  let w = 0;
  for (let i = 0; i < b.length; i++) if (Math.abs(b[i]) > floor) w = Math.max(w, rel(a[i], b[i]));
  return w;
}

/** A generated model with systematic 4 turned into an unconstrained NOI. */
export function modelWithNoi(opts: Parameters<typeof generateModel>[0]): TensorModel {
  const m = generateModel(opts);
  m.noiIndices = [4];
  m.constraintWeights[4] = 0;
  return m;
}
