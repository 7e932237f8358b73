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

/**
 * One compiled copy of a loop per combination of typed-array classes it sees, so that each copy's
 * element loads stay monomorphic (a shared loop that meets Float32Array, Float64Array, Int32Array and
 * Uint8Array runs several times slower than the same loop written for one of them).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function perType<F extends (...args: any[]) => unknown>(params: string, body: string): F {
  const cache = new Map<string, F>();
  const names = params.split(",");
  return ((...args: Parameters<F>) => {
    let key = "";
    for (const a of args) key += a !== null && typeof a === "object" ? (a as object).constructor.name : typeof a;
    let f = cache.get(key);
    if (f === undefined) {
      // eslint-disable-next-line @typescript-eslint/no-implied-eval
      f = new Function(...names, body) as F;
      cache.set(key, f);
    }
    return f(...args);
  }) as F;
}

function build(expr: string): Kernels {
  const left = expr;
  const right = expr.replace(/\bx\b/g, "__t").replace(/\by\b/g, "x").replace(/__t/g, "y");
  return {
    scalar: perType<ScalarKernel>("xs,y,out", `for (let j = 0, n = xs.length; j < n; j++) { const x = xs[j]; out[j] = ${left}; }`),
    scalarLeft: perType<ScalarKernel>("xs,y,out", `for (let j = 0, n = xs.length; j < n; j++) { const x = xs[j]; out[j] = ${right}; }`),
    array: perType<ArrayKernel>("xs,ys,out", `for (let j = 0, n = xs.length; j < n; j++) { const x = xs[j], y = ys[j]; out[j] = ${left}; }`),
    broadcast: perType<BroadcastKernel>(
      "xs,off,ys,out",
      `for (let e = 0, n = off.length - 1; e < n; e++) { const y = ys[e]; for (let j = off[e], end = off[e + 1]; j < end; j++) { const x = xs[j]; out[j] = ${left}; } }`,
    ),
    broadcastLeft: perType<BroadcastKernel>(
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
    perType<(x: NumericArray, out: NumericArray) => void>("xs,out", `for (let j = 0, n = xs.length; j < n; j++) { const x = xs[j]; out[j] = ${expr}; }`),
  ]),
) as Record<UnaryOp, (x: NumericArray, out: NumericArray) => void>;

/** Per-event loops of the reductions and pickers, one compiled copy per value type. */
export const eventKernels = {
  /** out[e] = Σ x over event e */
  sum: perType<(o: Int32Array, x: NumericArray, out: Float64Array) => void>(
    "o,x,out",
    "for (let e = 0, n = o.length - 1; e < n; e++) { let s = 0; for (let j = o[e], end = o[e + 1]; j < end; j++) s += x[j]; out[e] = s; }",
  ),
  /** out[e] = number of non-zero x in event e */
  count: perType<(o: Int32Array, x: NumericArray, out: Int32Array) => void>(
    "o,x,out",
    "for (let e = 0, n = o.length - 1; e < n; e++) { let c = 0; for (let j = o[e], end = o[e + 1]; j < end; j++) if (x[j] !== 0) c++; out[e] = c; }",
  ),
  /** out[e] = x[o[e] + i] or fill */
  leading: perType<(o: Int32Array, x: NumericArray, i: number, fill: number, out: Float64Array) => void>(
    "o,x,i,fill,out",
    "for (let e = 0, n = o.length - 1; e < n; e++) { const at = o[e] + i; out[e] = at < o[e + 1] ? x[at] : fill; }",
  ),
  /** out[k] = x[index[k]] */
  gather: perType<(x: NumericArray, index: Int32Array, out: NumericArray) => void>(
    "x,ix,out",
    "for (let k = 0, n = ix.length; k < n; k++) out[k] = x[ix[k]];",
  ),
};
