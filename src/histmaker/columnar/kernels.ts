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
  /** out[k] = x[index[k]] */
  gather: perType<(x: NumericArray, index: Int32Array, out: NumericArray) => void>(
    "x,ix,out",
    "for (let k = 0, n = ix.length; k < n; k++) out[k] = x[ix[k]];",
  ),
};

// ---- deferred masks: comparisons with a number, evaluated inside their consumer -------------------

/** The comparisons `gt(30)` … that can stay unevaluated until a count, a selection or a fill needs them. */
export const COMPARE_OPS = { gt: ">", ge: ">=", lt: "<", le: "<=", eq: "===", ne: "!==" } as const;
export type CompareOp = keyof typeof COMPARE_OPS;

/** One comparison of every object's value with a number: x[j] op s. */
export interface CompareTerm {
  readonly op: CompareOp;
  readonly x: NumericArray;
  readonly s: number;
}

const termKernels = new Map<string, (...args: unknown[]) => number | void>();

/**
 * One loop per (kind, operators, value types), with the conjunction of the terms written inline as
 * 0/1 integer arithmetic (no branch per object: a cut passing 70 % of objects mispredicts a branch).
 * The loop for "count" is the hand-written `for (…) c += pt[j] > 30` that it replaces.
 */
function termKernel(kind: "values" | "count" | "select", terms: readonly CompareTerm[]): (...args: unknown[]) => number | void {
  let key = kind;
  for (const t of terms) key += `|${t.op}:${(t.x as object).constructor.name}`;
  let f = termKernels.get(key);
  if (f === undefined) {
    const hoist = terms.map((_, k) => `const x${k} = xs[${k}], s${k} = +ss[${k}];`).join(" ");
    const pred = terms.map((t, k) => `((x${k}[j] ${COMPARE_OPS[t.op]} s${k}) | 0)`).join(" & ");
    let body: string;
    if (kind === "values") body = `${hoist} for (let j = 0, n = out.length; j < n; j++) out[j] = ${pred};`;
    else if (kind === "count")
      body = `${hoist} let j = o[0]; for (let e = 0, n = out.length; e < n; e++) { let c = 0; for (const end = o[e + 1]; j < end; j++) c += ${pred}; out[e] = c; }`;
    // select: the kept objects' positions into `index` (sized for all objects), per-event offsets into `out`
    else
      body = `${hoist} let k = 0, j = o[0]; for (let e = 0, n = out.length - 1; e < n; e++) { for (const end = o[e + 1]; j < end; j++) { index[k] = j; k += ${pred}; } out[e + 1] = k; } return k;`;
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    f = new Function("o", "xs", "ss", "out", "index", body) as (...args: unknown[]) => number | void;
    termKernels.set(key, f);
  }
  return f;
}

const termArgs = (terms: readonly CompareTerm[]): [NumericArray[], number[]] => [terms.map((t) => t.x), terms.map((t) => t.s)];

/** out[j] = 1 where every term holds (0/1 values, as the eager comparisons give). */
export function termValues(terms: readonly CompareTerm[], out: Uint8Array): void {
  const [xs, ss] = termArgs(terms);
  termKernel("values", terms)(null, xs, ss, out);
}

/** out[e] = number of objects of event e where every term holds. */
export function termCount(offsets: Int32Array, terms: readonly CompareTerm[], out: Int32Array): void {
  const [xs, ss] = termArgs(terms);
  termKernel("count", terms)(offsets, xs, ss, out);
}

/**
 * The objects where every term holds, in one pass: outOffsets (events + 1, zeroed) gets the result's
 * offsets, index (one slot per object) the kept objects' positions; returns how many were kept.
 */
export function termSelect(offsets: Int32Array, terms: readonly CompareTerm[], outOffsets: Int32Array, index: Int32Array): number {
  const [xs, ss] = termArgs(terms);
  return termKernel("select", terms)(offsets, xs, ss, outOffsets, index) as number;
}

const pickKernels = new Map<string, (o: Int32Array, x: NumericArray, fill: number, outs: Float64Array[]) => void>();

/**
 * outs[k][e] = value of object `first + k` of event e, or fill: one pass for the leading and the
 * subleading object, with their positions written into the loop as constants.
 *
 * With the default NaN fill the loop has no data-dependent branch: it reads the value at the
 * position clamped to the array (always a valid read) and multiplies it by 1 where the event has
 * the object, by NaN where it has not (x · 1 is x bit for bit, -0 and NaN included). A hand loop's
 * `len > k ? x[lo + k] : NaN` branches on the object count, which varies from event to event and is
 * mispredicted often enough to cost about a third of the loop's time.
 */
export function pickKernel(first: number, n: number, x: NumericArray, nanFill: boolean) {
  const key = `${first}|${n}|${(x as object).constructor.name}|${nanFill}`;
  let f = pickKernels.get(key);
  if (f === undefined) {
    const outs = Array.from({ length: n }, (_, k) => `const out${k} = outs[${k}];`).join(" ");
    let body: string;
    if (nanFill) {
      // scale[1] = 1 keeps the value, scale[0] = NaN replaces it
      const stores = Array.from({ length: n }, (_, k) => {
        const p = first + k;
        return `{ const i = lo + ${p}; out${k}[e] = x[i < last ? i : last] * scale[(len > ${p}) | 0]; }`;
      }).join(" ");
      body =
        `${outs} const last = x.length - 1; ` +
        // no objects at all: nothing to read, every event gets NaN
        `if (last < 0) { for (const out of outs) out.fill(NaN); return; } ` +
        `const scale = new Float64Array(2); scale[0] = NaN; scale[1] = 1; ` +
        `let lo = o[0]; for (let e = 0, n = o.length - 1; e < n; e++) { const hi = o[e + 1]; const len = hi - lo; ${stores} lo = hi; }`;
    } else {
      const stores = Array.from({ length: n }, (_, k) => `out${k}[e] = ${first + k} < len ? x[lo + ${first + k}] : f;`).join(" ");
      body = `const f = +fill; ${outs} let lo = o[0]; for (let e = 0, n = o.length - 1; e < n; e++) { const hi = o[e + 1]; const len = hi - lo; ${stores} lo = hi; }`;
    }
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    f = new Function("o", "x", "fill", "outs", body) as (o: Int32Array, x: NumericArray, fill: number, outs: Float64Array[]) => void;
    pickKernels.set(key, f);
  }
  return f;
}
