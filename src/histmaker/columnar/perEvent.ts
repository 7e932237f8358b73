/**
 * Small per-event (flat array) helpers that selections need next to the jagged operations: combining
 * masks, choosing between two columns, and one computed value per chunk shared by several columns.
 */
import { AnalysisError } from "../analysis.js";
import type { ColumnSet } from "../analysis.js";
import type { NumericArray } from "../events.js";

function checkLengths(what: string, arrays: ArrayLike<unknown>[]): number {
  if (arrays.length === 0) throw new AnalysisError(`${what}: needs at least one array`);
  const n = arrays[0].length;
  for (const a of arrays) if (a.length !== n) throw new AnalysisError(`${what}: arrays of different lengths (${n}, ${a.length})`);
  return n;
}

/** 1 where every mask is non-zero (NaN counts as false). */
export function allOf(...masks: NumericArray[]): Uint8Array {
  const n = checkLengths("allOf", masks);
  const out = new Uint8Array(n).fill(1);
  for (const m of masks) for (let i = 0; i < n; i++) if (!m[i]) out[i] = 0;
  return out;
}

/** 1 where any mask is non-zero (NaN counts as false). */
export function anyOf(...masks: NumericArray[]): Uint8Array {
  const n = checkLengths("anyOf", masks);
  const out = new Uint8Array(n);
  for (const m of masks) for (let i = 0; i < n; i++) if (m[i]) out[i] = 1;
  return out;
}

/** cond ? a : b per event (a and b arrays or numbers). */
export function where(cond: NumericArray, a: NumericArray | number, b: NumericArray | number): Float64Array {
  const n = cond.length;
  for (const x of [a, b])
    if (typeof x !== "number" && x.length !== n) throw new AnalysisError(`where: ${x.length} values for ${n} events`);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Number(cond[i] ? (typeof a === "number" ? a : a[i]) : typeof b === "number" ? b : b[i]);
  return out;
}

/**
 * A value computed once per chunk and shared by several column functions, e.g. the cleaned jet
 * collection used by four histogram columns: `const goodJets = perChunk((c) => deltaRClean(...))`,
 * then `goodJets(c)` in each. The runner hands every chunk a fresh columns object, which is the key.
 */
export function perChunk<T>(f: (columns: ColumnSet) => T): (columns: ColumnSet) => T {
  const cache = new WeakMap<object, T>();
  return (columns) => {
    if (cache.has(columns)) return cache.get(columns) as T;
    const v = f(columns);
    cache.set(columns, v);
    return v;
  };
}
