/**
 * Elementwise loops behind the jagged-array operators. Each operator gets its own loop with the
 * expression written inline (built once, at module load, from the fixed table below — never from
 * user input), so that `a.gt(30)` runs as fast as the hand-written loop it replaces instead of
 * calling a function per element through a megamorphic call site.
 */
import type { NumericArray } from "../events.js";

/** out[j] = f(x[j], s) */
export type ScalarKernel = (x: NumericArray, s: number, out: NumericArray) => void;
/** out[j] = f(x[j], y[j]) */
export type ArrayKernel = (x: NumericArray, y: NumericArray, out: NumericArray) => void;
/** out[j] = f(x[j], y[e]) for every object j of event e (a per-event value broadcast to its objects) */
export type BroadcastKernel = (x: NumericArray, offsets: Int32Array, y: NumericArray, out: NumericArray) => void;
/** the same with the per-event operand on the left: out[j] = f(y[e], x[j]) */
export type Kernels = { scalar: ScalarKernel; scalarLeft: ScalarKernel; array: ArrayKernel; broadcast: BroadcastKernel; broadcastLeft: BroadcastKernel };

/** Binary operators: the expression of x (left) and y (right). Comparisons and logic give 0/1. */
export const BINARY_OPS = {
  add: "x + y",
  sub: "x - y",
  mul: "x * y",
  div: "x / y",
  pow: "Math.pow(x, y)",
  min: "(x < y || y !== y ? x : y)",
  max: "(x > y || y !== y ? x : y)",
  gt: "(x > y ? 1 : 0)",
  ge: "(x >= y ? 1 : 0)",
  lt: "(x < y ? 1 : 0)",
  le: "(x <= y ? 1 : 0)",
  eq: "(x === y ? 1 : 0)",
  ne: "(x !== y ? 1 : 0)",
  and: "(x !== 0 && y !== 0 ? 1 : 0)",
  or: "(x !== 0 || y !== 0 ? 1 : 0)",
  bitand: "(x & y)",
} as const;
export type BinaryOp = keyof typeof BINARY_OPS;

export const UNARY_OPS = {
  neg: "-x",
  abs: "Math.abs(x)",
  not: "(x === 0 ? 1 : 0)",
  sqrt: "Math.sqrt(x)",
  exp: "Math.exp(x)",
  log: "Math.log(x)",
  cos: "Math.cos(x)",
  sin: "Math.sin(x)",
  isnan: "(x !== x ? 1 : 0)",
} as const;
export type UnaryOp = keyof typeof UNARY_OPS;

function build(expr: string): Kernels {
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const mk = (params: string, body: string) => new Function(...params.split(","), body) as never;
  const left = expr;
  const right = expr.replace(/\bx\b/g, "__t").replace(/\by\b/g, "x").replace(/__t/g, "y");
  return {
    scalar: mk("xs,y,out", `for (let j = 0, n = xs.length; j < n; j++) { const x = xs[j]; out[j] = ${left}; }`),
    scalarLeft: mk("xs,y,out", `for (let j = 0, n = xs.length; j < n; j++) { const x = xs[j]; out[j] = ${right}; }`),
    array: mk("xs,ys,out", `for (let j = 0, n = xs.length; j < n; j++) { const x = xs[j], y = ys[j]; out[j] = ${left}; }`),
    broadcast: mk(
      "xs,off,ys,out",
      `for (let e = 0, n = off.length - 1; e < n; e++) { const y = ys[e]; for (let j = off[e], end = off[e + 1]; j < end; j++) { const x = xs[j]; out[j] = ${left}; } }`,
    ),
    broadcastLeft: mk(
      "xs,off,ys,out",
      `for (let e = 0, n = off.length - 1; e < n; e++) { const y = ys[e]; for (let j = off[e], end = off[e + 1]; j < end; j++) { const x = xs[j]; out[j] = ${right}; } }`,
    ),
  };
}

export const binaryKernels = Object.fromEntries(
  Object.entries(BINARY_OPS).map(([k, expr]) => [k, build(expr)]),
) as Record<BinaryOp, Kernels>;

export const unaryKernels = Object.fromEntries(
  Object.entries(UNARY_OPS).map(([k, expr]) => [
    k,
    new Function("xs", "out", `for (let j = 0, n = xs.length; j < n; j++) { const x = xs[j]; out[j] = ${expr}; }`),
  ]),
) as Record<UnaryOp, (x: NumericArray, out: NumericArray) => void>;

/** Ops whose result is a 0/1 mask (stored as Uint8Array). */
export const MASK_OPS: ReadonlySet<string> = new Set(["gt", "ge", "lt", "le", "eq", "ne", "and", "or", "not", "isnan"]);
