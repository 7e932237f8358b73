/**
 * Jagged arrays for analysis modules: a variable number of objects per event (muons, jets, …) as one
 * flat typed array of values plus Int32 offsets (event e owns values[offsets[e] .. offsets[e+1])),
 * the runner's own representation of a jagged branch. Every operation works on whole arrays, so an
 * analysis module writes `mu.pt.gt(25)` or `jets.pt.leading(0)` where it used to write a per-event
 * loop: the loops live here, over the flat arrays.
 */
import { AnalysisError } from "../analysis.js";
import type { Column, JaggedColumn, NumericArray } from "../events.js";
import {
  binaryKernels,
  COMPARE_OPS,
  eventKernels,
  pickKernel,
  termCount,
  termSelect,
  termValues,
  unaryKernels,
  type BinaryOp,
  type CompareOp,
  type CompareTerm,
  type UnaryOp,
} from "./kernels.js";

/** The typed arrays a Jagged holds (64-bit integer branches are converted to Float64Array). */
export type Values = Float64Array | Float32Array | Int32Array | Uint32Array | Int16Array | Uint16Array | Int8Array | Uint8Array;
export type ValuesConstructor<V extends Values = Values> = { new (n: number): V; new (buf: ArrayLike<number>): V };

/**
 * The other operand of an elementwise operation: a number; a jagged array of the same structure
 * (same number of objects in every event); or a flat per-event array (one value per event, applied
 * to every object of that event, as awkward broadcasts).
 */
export type Operand = number | JaggedColumn | NumericArray;

/** Converts 64-bit integer arrays to float64 (exact below 2^53, which covers every count and id). */
export function toValues(a: NumericArray): Values {
  if (a instanceof BigInt64Array || a instanceof BigUint64Array) {
    const out = new Float64Array(a.length);
    for (let i = 0; i < a.length; i++) out[i] = Number(a[i]);
    return out;
  }
  return a;
}

function ctorOf<V extends Values>(v: V): ValuesConstructor<V> {
  return v.constructor as ValuesConstructor<V>;
}

/** Same number of objects in every event (offsets compared up to their base). */
export function sameCounts(a: Int32Array, b: Int32Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  const a0 = a[0];
  const b0 = b[0];
  for (let i = 1; i < a.length; i++) if (a[i] - a0 !== b[i] - b0) return false;
  return true;
}

/** Result structure plus, per result object, its position in the source's flat values. */
export interface Selection {
  offsets: Int32Array;
  index: Int32Array;
}

export class Jagged<V extends Values = Values> implements JaggedColumn {
  readonly offsets: Int32Array;
  private store: V | undefined;
  /**
   * A mask not yet evaluated: `pt.gt(30)` is the conjunction of comparisons with numbers, which
   * `count()`, `mask()`, `and()` … evaluate inside their own loop instead of through a 0/1 array.
   */
  private readonly terms: readonly CompareTerm[] | undefined;
  private parentsCache: Int32Array | undefined;

  /** offsets: Int32Array of length (events + 1) starting at 0 and ending at values.length. */
  constructor(offsets: Int32Array, values: V);
  /** @internal a deferred mask (see `terms`) over objects with these offsets */
  constructor(offsets: Int32Array, values: undefined, terms: readonly CompareTerm[]);
  constructor(offsets: Int32Array, values: V | undefined, terms?: readonly CompareTerm[]) {
    const n = offsets.length - 1;
    if (n < 0) throw new AnalysisError("jagged array: offsets need at least one entry (events + 1)");
    const size = values === undefined ? (terms as readonly CompareTerm[])[0].x.length : values.length;
    if (offsets[0] !== 0 || offsets[n] !== size)
      throw new AnalysisError(`jagged array: offsets run from ${offsets[0]} to ${offsets[n]} but there are ${size} values`);
    this.offsets = offsets;
    this.store = values;
    this.terms = terms;
  }

  /** The flat values (a deferred mask is evaluated on first use). */
  get values(): V {
    const v = this.store;
    return v !== undefined ? v : this.evaluate();
  }

  private evaluate(): V {
    const out = new Uint8Array(this.size);
    termValues(this.terms as readonly CompareTerm[], out);
    this.store = out as unknown as V;
    return this.store;
  }

  /** The deferred comparisons of a mask operand (of the same structure), if it is one. */
  private static termsOf(m: unknown, offsets: Int32Array): readonly CompareTerm[] | undefined {
    if (!(m instanceof Jagged) || m.terms === undefined || m.store !== undefined) return undefined;
    return sameCounts(offsets, m.offsets) ? m.terms : undefined;
  }

  /**
   * The bridge from the runner's columns: a jagged branch ({offsets, values}) as a Jagged, sharing
   * its arrays (64-bit integers are converted to float64; offsets not starting at 0 are rebased).
   */
  static from(column: Column, name = "column"): Jagged {
    if (column instanceof Jagged) return column;
    const col = column as JaggedColumn;
    if (col === undefined || col === null || !(col.offsets instanceof Int32Array))
      throw new AnalysisError(`${name} is not a jagged column (expected {offsets, values})`);
    let { offsets } = col;
    let values = toValues(col.values);
    const n = offsets.length - 1;
    if (n >= 0 && (offsets[0] !== 0 || offsets[n] !== values.length)) {
      const base = offsets[0];
      if (base < 0 || offsets[n] > values.length || offsets[n] < base)
        throw new AnalysisError(`${name}: offsets ${base}..${offsets[n]} do not fit ${values.length} values`);
      values = values.subarray(base, offsets[n]);
      offsets = base === 0 ? offsets : offsets.map((o) => o - base);
    }
    return new Jagged(offsets, values);
  }

  /** From per-event lists, e.g. `Jagged.fromArrays([[1, 2], [], [3]])` (tests, small inputs). */
  static fromArrays<W extends Values = Float64Array>(
    rows: ArrayLike<number>[],
    ctor: ValuesConstructor<W> = Float64Array as unknown as ValuesConstructor<W>,
  ): Jagged<W> {
    const offsets = new Int32Array(rows.length + 1);
    for (let i = 0; i < rows.length; i++) offsets[i + 1] = offsets[i] + rows[i].length;
    const values = new ctor(offsets[rows.length]);
    for (let i = 0; i < rows.length; i++) values.set(rows[i], offsets[i]);
    return new Jagged(offsets, values);
  }

  /** From per-event counts (e.g. NanoAOD's nMuon) and the flat values. */
  static fromCounts<W extends Values>(counts: ArrayLike<number | bigint>, values: W): Jagged<W> {
    const offsets = new Int32Array(counts.length + 1);
    for (let i = 0; i < counts.length; i++) offsets[i + 1] = offsets[i] + Number(counts[i]);
    return new Jagged(offsets, values);
  }

  /** Number of events. */
  get length(): number {
    return this.offsets.length - 1;
  }

  /** Total number of objects over all events. */
  get size(): number {
    return this.offsets[this.offsets.length - 1];
  }

  /** Objects per event. */
  counts(): Int32Array {
    const o = this.offsets;
    const n = o.length - 1;
    const out = new Int32Array(n);
    for (let e = 0; e < n; e++) out[e] = o[e + 1] - o[e];
    return out;
  }

  /** The event index of every object (awkward's parents / local-to-global map), computed once. */
  parents(): Int32Array {
    if (this.parentsCache === undefined) {
      const o = this.offsets;
      const out = new Int32Array(this.size);
      for (let e = 0, n = o.length - 1; e < n; e++) out.fill(e, o[e], o[e + 1]);
      this.parentsCache = out;
    }
    return this.parentsCache;
  }

  /** Position of every object within its event (0, 1, … per event). */
  localIndex(): Jagged<Int32Array> {
    const o = this.offsets;
    const out = new Int32Array(this.size);
    for (let e = 0, n = o.length - 1; e < n; e++) for (let j = o[e]; j < o[e + 1]; j++) out[j] = j - o[e];
    return new Jagged(o, out);
  }

  /** Per-event plain arrays (for tests and printing). */
  toArrays(): number[][] {
    const o = this.offsets;
    const out: number[][] = [];
    for (let e = 0; e < o.length - 1; e++) out.push(Array.from(this.values.subarray(o[e], o[e + 1])));
    return out;
  }

  /** The same structure with other values (one per object). */
  withValues<W extends Values>(values: W): Jagged<W> {
    if (values.length !== this.size)
      throw new AnalysisError(`jagged array: ${values.length} values for ${this.size} objects`);
    return new Jagged(this.offsets, values);
  }

  /** Does `other` have the same number of objects in every event? */
  sameStructure(other: JaggedColumn): boolean {
    return sameCounts(this.offsets, other.offsets);
  }

  /** f applied to every object's value (an escape hatch; the named operators are faster). */
  map(f: (v: number) => number): Jagged<Float64Array> {
    const v = this.values;
    const out = new Float64Array(v.length);
    for (let j = 0; j < v.length; j++) out[j] = f(v[j]);
    return new Jagged(this.offsets, out);
  }

  /** Values as float64 (shared when they already are). */
  asFloat64(): Jagged<Float64Array> {
    return this.values instanceof Float64Array
      ? (this as unknown as Jagged<Float64Array>)
      : new Jagged(this.offsets, Float64Array.from(this.values));
  }

  // ---- elementwise ------------------------------------------------------------------------------

  private binary<W extends Values>(op: BinaryOp, other: Operand, out: W, left = false): Jagged<W> {
    const k = binaryKernels[op];
    const x = this.values;
    if (typeof other === "number") {
      (left ? k.scalarLeft : k.scalar)(x, other, out);
    } else if ((other as JaggedColumn).offsets !== undefined) {
      const o = other as JaggedColumn;
      if (!sameCounts(this.offsets, o.offsets))
        throw new AnalysisError(`jagged ${op}: the two jagged arrays have different numbers of objects per event`);
      const y = toValues(o.values).subarray(o.offsets[0], o.offsets[o.offsets.length - 1]);
      if (left) k.array(y, x, out);
      else k.array(x, y, out);
    } else {
      const y = toValues(other as NumericArray);
      if (y.length !== this.length)
        throw new AnalysisError(`jagged ${op}: per-event array has ${y.length} values for ${this.length} events`);
      (left ? k.broadcastLeft : k.broadcast)(x, this.offsets, y, out);
    }
    return new Jagged(this.offsets, out);
  }

  private arith(op: BinaryOp, o: Operand): Jagged<Float64Array> {
    return this.binary(op, o, new Float64Array(this.size));
  }

  private compare(op: BinaryOp, o: Operand): Jagged<Uint8Array> {
    // against a number: deferred, so that `jets.pt.gt(30).count()` runs as one loop
    if (typeof o === "number" && op in COMPARE_OPS)
      return new Jagged<Uint8Array>(this.offsets, undefined, [{ op: op as CompareOp, x: this.values, s: o }]);
    return this.binary(op, o, new Uint8Array(this.size));
  }

  add(o: Operand): Jagged<Float64Array> {
    return this.arith("add", o);
  }
  sub(o: Operand): Jagged<Float64Array> {
    return this.arith("sub", o);
  }
  /** o − this (for scalar or per-event left operands) */
  rsub(o: Operand): Jagged<Float64Array> {
    return this.binary("sub", o, new Float64Array(this.size), true);
  }
  mul(o: Operand): Jagged<Float64Array> {
    return this.arith("mul", o);
  }
  div(o: Operand): Jagged<Float64Array> {
    return this.arith("div", o);
  }
  /** o / this */
  rdiv(o: Operand): Jagged<Float64Array> {
    return this.binary("div", o, new Float64Array(this.size), true);
  }
  pow(o: Operand): Jagged<Float64Array> {
    return this.arith("pow", o);
  }
  /** elementwise minimum / maximum with o (NaN in o is ignored) */
  minimum(o: Operand): Jagged<Float64Array> {
    return this.arith("min", o);
  }
  maximum(o: Operand): Jagged<Float64Array> {
    return this.arith("max", o);
  }
  gt(o: Operand): Jagged<Uint8Array> {
    return this.compare("gt", o);
  }
  ge(o: Operand): Jagged<Uint8Array> {
    return this.compare("ge", o);
  }
  lt(o: Operand): Jagged<Uint8Array> {
    return this.compare("lt", o);
  }
  le(o: Operand): Jagged<Uint8Array> {
    return this.compare("le", o);
  }
  eq(o: Operand): Jagged<Uint8Array> {
    return this.compare("eq", o);
  }
  ne(o: Operand): Jagged<Uint8Array> {
    return this.compare("ne", o);
  }
  /** logical and / or of non-zero values (masks) */
  and(o: Operand): Jagged<Uint8Array> {
    const mine = Jagged.termsOf(this, this.offsets);
    const theirs = mine === undefined ? undefined : Jagged.termsOf(o, this.offsets);
    // two deferred masks stay one deferred conjunction: `pt.gt(20).and(eta.abs().lt(2.4))`
    if (mine !== undefined && theirs !== undefined) return new Jagged<Uint8Array>(this.offsets, undefined, [...mine, ...theirs]);
    return this.compare("and", o);
  }
  or(o: Operand): Jagged<Uint8Array> {
    return this.compare("or", o);
  }
  /** bitwise and on integers (ID bitmaps: `Electron_vidNestedWPBitmap.bitand(mask).ne(0)`) */
  bitand(o: Operand): Jagged<Int32Array> {
    return this.binary("bitand", o, new Int32Array(this.size));
  }
  /** lo < v < hi — shorthand for the usual acceptance windows, e.g. `eta.abs().lt(2.4)` */
  between(lo: number, hi: number): Jagged<Uint8Array> {
    return this.gt(lo).and(this.lt(hi));
  }

  private unary<W extends Values>(op: UnaryOp, out: W): Jagged<W> {
    unaryKernels[op](this.values, out);
    return new Jagged(this.offsets, out);
  }
  neg(): Jagged<Float64Array> {
    return this.unary("neg", new Float64Array(this.size));
  }
  abs(): Jagged<Float64Array> {
    return this.unary("abs", new Float64Array(this.size));
  }
  sqrt(): Jagged<Float64Array> {
    return this.unary("sqrt", new Float64Array(this.size));
  }
  exp(): Jagged<Float64Array> {
    return this.unary("exp", new Float64Array(this.size));
  }
  log(): Jagged<Float64Array> {
    return this.unary("log", new Float64Array(this.size));
  }
  cos(): Jagged<Float64Array> {
    return this.unary("cos", new Float64Array(this.size));
  }
  sin(): Jagged<Float64Array> {
    return this.unary("sin", new Float64Array(this.size));
  }
  /** logical not of a mask */
  not(): Jagged<Uint8Array> {
    return this.unary("not", new Uint8Array(this.size));
  }
  isnan(): Jagged<Uint8Array> {
    return this.unary("isnan", new Uint8Array(this.size));
  }

  // ---- selecting and reordering objects ---------------------------------------------------------

  /**
   * Keeps the objects where `m` is non-zero (awkward's `a[mask]`): m is a jagged mask of the same
   * structure, or a per-event flat array that keeps or drops whole events' objects.
   */
  mask(m: JaggedColumn | NumericArray): Jagged<V> {
    if (Jagged.termsOf(m, this.offsets) !== undefined) return this.gather(this.maskSelection(m));
    const o = this.offsets;
    const n = this.length;
    const x = this.values;
    const outOff = new Int32Array(n + 1);
    if ((m as JaggedColumn).offsets !== undefined) {
      const mj = m as JaggedColumn;
      if (!sameCounts(o, mj.offsets))
        throw new AnalysisError("jagged mask: the mask has different numbers of objects per event than the array");
      const mv = toValues(mj.values);
      const base = mj.offsets[0];
      let kept = 0;
      for (let j = 0; j < x.length; j++) if (mv[j + base] !== 0) kept++;
      const out = new (ctorOf(x))(kept);
      let k = 0;
      for (let e = 0; e < n; e++) {
        for (let j = o[e]; j < o[e + 1]; j++) if (mv[j + base] !== 0) out[k++] = x[j];
        outOff[e + 1] = k;
      }
      return new Jagged(outOff, out);
    }
    const mv = toValues(m as NumericArray);
    if (mv.length !== n) throw new AnalysisError(`jagged mask: per-event mask has ${mv.length} values for ${n} events`);
    let kept = 0;
    for (let e = 0; e < n; e++) if (mv[e] !== 0) kept += o[e + 1] - o[e];
    const out = new (ctorOf(x))(kept);
    let k = 0;
    for (let e = 0; e < n; e++) {
      if (mv[e] !== 0) {
        out.set(x.subarray(o[e], o[e + 1]), k);
        k += o[e + 1] - o[e];
      }
      outOff[e + 1] = k;
    }
    return new Jagged(outOff, out);
  }

  /**
   * Where `mask(m)` would take its objects from: the result's offsets and, per kept object, its
   * position in this array's values. Collections compute it once and `gather` every field with it.
   */
  maskSelection(m: JaggedColumn | NumericArray): Selection {
    const o = this.offsets;
    const n = this.length;
    const outOff = new Int32Array(n + 1);
    const terms = Jagged.termsOf(m, o);
    if (terms !== undefined) {
      // one pass over the comparisons, into an index sized for every object (a view of it is kept)
      const index = new Int32Array(this.size);
      const kept = termSelect(o, terms, outOff, index);
      return { offsets: outOff, index: index.subarray(0, kept) };
    }
    if ((m as JaggedColumn).offsets !== undefined) {
      const mj = m as JaggedColumn;
      if (!sameCounts(o, mj.offsets))
        throw new AnalysisError("jagged mask: the mask has different numbers of objects per event than the array");
      const mv = toValues(mj.values);
      const base = mj.offsets[0];
      let kept = 0;
      for (let j = 0, size = this.size; j < size; j++) if (mv[j + base] !== 0) kept++;
      const index = new Int32Array(kept);
      let k = 0;
      for (let e = 0; e < n; e++) {
        for (let j = o[e]; j < o[e + 1]; j++) if (mv[j + base] !== 0) index[k++] = j;
        outOff[e + 1] = k;
      }
      return { offsets: outOff, index };
    }
    const mv = toValues(m as NumericArray);
    if (mv.length !== n) throw new AnalysisError(`jagged mask: per-event mask has ${mv.length} values for ${n} events`);
    for (let e = 0; e < n; e++) outOff[e + 1] = outOff[e] + (mv[e] !== 0 ? o[e + 1] - o[e] : 0);
    const index = new Int32Array(outOff[n]);
    for (let e = 0; e < n; e++) if (mv[e] !== 0) for (let j = o[e], k = outOff[e]; j < o[e + 1]; j++) index[k++] = j;
    return { offsets: outOff, index };
  }

  /** Where `take(idx)` would take its objects from (see maskSelection). */
  takeSelection(idx: JaggedColumn): Selection {
    const ii = Jagged.from(idx, "take index");
    if (ii.length !== this.length)
      throw new AnalysisError(`jagged take: index has ${ii.length} events, the array ${this.length}`);
    const o = this.offsets;
    const io = ii.offsets;
    const iv = ii.values;
    const index = new Int32Array(iv.length);
    for (let e = 0, n = o.length - 1; e < n; e++) {
      const lo = o[e];
      const len = o[e + 1] - lo;
      for (let k = io[e]; k < io[e + 1]; k++) {
        const p = iv[k];
        if (!(p >= 0 && p < len))
          throw new AnalysisError(`jagged take: position ${p} in event ${e}, which has ${len} objects`);
        index[k] = lo + p;
      }
    }
    return { offsets: io, index };
  }

  /** The objects at a selection's positions, with its structure. */
  gather(sel: Selection): Jagged<V> {
    const x = this.values;
    const ix = sel.index;
    const out = new (ctorOf(x))(ix.length);
    eventKernels.gather(x, ix, out);
    return new Jagged(sel.offsets, out);
  }

  /**
   * Per-event positions that sort each event's objects by value (stable; NaN last). The result
   * indexes within events, for `take` on this array or any other field of the same collection.
   */
  argsort(descending = false): Jagged<Int32Array> {
    const o = this.offsets;
    const x = this.values;
    const out = new Int32Array(x.length);
    for (let e = 0, n = o.length - 1; e < n; e++) {
      const lo = o[e];
      const len = o[e + 1] - lo;
      if (len <= 16) {
        // insertion sort: the usual handful of objects per event
        for (let i = 0; i < len; i++) {
          const v = x[lo + i];
          let p = i;
          while (p > 0 && before(v, x[lo + out[lo + p - 1]], descending)) {
            out[lo + p] = out[lo + p - 1];
            p--;
          }
          out[lo + p] = i;
        }
      } else {
        const idx = Array.from({ length: len }, (_, i) => i);
        idx.sort((a, b) => (before(x[lo + a], x[lo + b], descending) ? -1 : before(x[lo + b], x[lo + a], descending) ? 1 : 0));
        out.set(idx, lo);
      }
    }
    return new Jagged(o, out);
  }

  /** This array sorted within each event (stable; NaN last). */
  sort(descending = false): Jagged<V> {
    return this.take(this.argsort(descending));
  }

  /**
   * Picks objects by per-event positions (awkward's `a[idx]`): the result has idx's structure and
   * result[e][k] = this[e][idx[e][k]]. Positions must lie inside the event (no negative indexing).
   */
  take(idx: JaggedColumn): Jagged<V> {
    const ii = Jagged.from(idx, "take index");
    if (ii.length !== this.length)
      throw new AnalysisError(`jagged take: index has ${ii.length} events, the array ${this.length}`);
    const o = this.offsets;
    const io = ii.offsets;
    const iv = ii.values;
    const x = this.values;
    const out = new (ctorOf(x))(iv.length);
    for (let e = 0, n = o.length - 1; e < n; e++) {
      const lo = o[e];
      const len = o[e + 1] - lo;
      for (let k = io[e]; k < io[e + 1]; k++) {
        const p = iv[k];
        if (!(p >= 0 && p < len))
          throw new AnalysisError(`jagged take: position ${p} in event ${e}, which has ${len} objects`);
        out[k] = x[lo + p];
      }
    }
    return new Jagged(io, out);
  }

  /** At most the first n objects of each event. */
  firstN(n: number): Jagged<V> {
    const o = this.offsets;
    const ne = this.length;
    const outOff = new Int32Array(ne + 1);
    for (let e = 0; e < ne; e++) outOff[e + 1] = outOff[e] + Math.min(n, o[e + 1] - o[e]);
    const x = this.values;
    const out = new (ctorOf(x))(outOff[ne]);
    for (let e = 0; e < ne; e++) out.set(x.subarray(o[e], o[e] + (outOff[e + 1] - outOff[e])), outOff[e]);
    return new Jagged(outOff, out);
  }

  /** The object at position i of each event (0 = leading), or `fill` where the event has fewer. */
  leading(i = 0, fill = Number.NaN): Float64Array {
    return this.leadingN(1, fill, i)[0];
  }

  /**
   * The first n objects' values as n per-event arrays, in one pass: `const [pt1, pt2] = mu.pt.leadingN(2)`
   * (NaN or `fill` where an event has fewer); `from` skips the first objects.
   */
  leadingN(n: number, fill = Number.NaN, from = 0): Float64Array[] {
    if (!Number.isInteger(n) || n < 0 || !Number.isInteger(from) || from < 0)
      throw new AnalysisError(`jagged leading: positions must be non-negative integers, got ${from} and count ${n}`);
    const outs = Array.from({ length: n }, () => new Float64Array(this.length));
    if (n > 0) pickKernel(from, n, this.values, Number.isNaN(fill))(this.offsets, this.values, fill, outs);
    return outs;
  }

  /**
   * The object at a per-event position, e.g. the best Z candidate: `mZ.at(mZ.sub(91.19).abs().argmin())`
   * (awkward's `a[ak.argmin(..., keepdims=True)]`). Positions outside the event (−1 from argmin of an
   * empty event) give `fill`.
   */
  at(index: number | ArrayLike<number>, fill = Number.NaN): Float64Array {
    if (typeof index === "number") return this.leading(index, fill);
    const o = this.offsets;
    const x = this.values;
    const n = this.length;
    if (index.length !== n) throw new AnalysisError(`jagged at: ${index.length} positions for ${n} events`);
    const out = new Float64Array(n);
    for (let e = 0; e < n; e++) {
      const p = index[e];
      out[e] = p >= 0 && p < o[e + 1] - o[e] ? x[o[e] + p] : fill;
    }
    return out;
  }

  /** Regular events × n (row-major) array: the first n objects, `fill` where there are fewer. */
  pad(n: number, fill = Number.NaN): Float64Array {
    const o = this.offsets;
    const x = this.values;
    const ne = this.length;
    const out = new Float64Array(ne * n).fill(fill);
    for (let e = 0; e < ne; e++) {
      const len = Math.min(n, o[e + 1] - o[e]);
      for (let k = 0; k < len; k++) out[e * n + k] = x[o[e] + k];
    }
    return out;
  }

  // ---- per-event reductions ---------------------------------------------------------------------

  /** Σ of each event's values (0 for an empty event). */
  sum(): Float64Array {
    const out = new Float64Array(this.length);
    eventKernels.sum(this.offsets, this.values, out);
    return out;
  }

  /** Π of each event's values (1 for an empty event), e.g. per-object scale factors. */
  prod(): Float64Array {
    const o = this.offsets;
    const x = this.values;
    const n = this.length;
    const out = new Float64Array(n);
    for (let e = 0; e < n; e++) {
      let s = 1;
      for (let j = o[e]; j < o[e + 1]; j++) s *= x[j];
      out[e] = s;
    }
    return out;
  }

  /** Mean of each event's values (`fill` for an empty event). */
  mean(fill = Number.NaN): Float64Array {
    const s = this.sum();
    const o = this.offsets;
    for (let e = 0; e < s.length; e++) {
      const c = o[e + 1] - o[e];
      s[e] = c > 0 ? s[e] / c : fill;
    }
    return s;
  }

  /** Largest value per event (`fill` for an empty event; NaN values are skipped). */
  max(fill = Number.NaN): Float64Array {
    return this.extreme(true, fill);
  }

  /** Smallest value per event (`fill` for an empty event; NaN values are skipped). */
  min(fill = Number.NaN): Float64Array {
    return this.extreme(false, fill);
  }

  private extreme(largest: boolean, fill: number): Float64Array {
    const o = this.offsets;
    const x = this.values;
    const n = this.length;
    const out = new Float64Array(n);
    for (let e = 0; e < n; e++) {
      let best = Number.NaN;
      for (let j = o[e]; j < o[e + 1]; j++) {
        const v = x[j];
        if (best !== best || (largest ? v > best : v < best)) best = v;
      }
      out[e] = best !== best ? fill : best;
    }
    return out;
  }

  /** Position within the event of the largest value (−1 for an empty event; NaN never wins). */
  argmax(): Int32Array {
    return this.argExtreme(true);
  }

  /** Position within the event of the smallest value (−1 for an empty event; NaN never wins). */
  argmin(): Int32Array {
    return this.argExtreme(false);
  }

  private argExtreme(largest: boolean): Int32Array {
    const o = this.offsets;
    const x = this.values;
    const n = this.length;
    const out = new Int32Array(n).fill(-1);
    for (let e = 0; e < n; e++) {
      let best = Number.NaN;
      for (let j = o[e]; j < o[e + 1]; j++) {
        const v = x[j];
        if (v === v && (best !== best || (largest ? v > best : v < best))) {
          best = v;
          out[e] = j - o[e];
        }
      }
    }
    return out;
  }

  /** 1 where any value of the event is non-zero (0 for an empty event). */
  any(): Uint8Array {
    const o = this.offsets;
    const x = this.values;
    const n = this.length;
    const out = new Uint8Array(n);
    for (let e = 0; e < n; e++)
      for (let j = o[e]; j < o[e + 1]; j++)
        if (x[j] !== 0) {
          out[e] = 1;
          break;
        }
    return out;
  }

  /** 1 where every value of the event is non-zero (1 for an empty event). */
  all(): Uint8Array {
    const o = this.offsets;
    const x = this.values;
    const n = this.length;
    const out = new Uint8Array(n).fill(1);
    for (let e = 0; e < n; e++)
      for (let j = o[e]; j < o[e + 1]; j++)
        if (x[j] === 0) {
          out[e] = 0;
          break;
        }
    return out;
  }

  /** Number of non-zero values per event (e.g. `jets.btag.gt(0.8).count()` = number of b tags). */
  count(): Int32Array {
    const out = new Int32Array(this.length);
    const terms = Jagged.termsOf(this, this.offsets);
    if (terms !== undefined) termCount(this.offsets, terms, out);
    else eventKernels.count(this.offsets, this.values, out);
    return out;
  }
}

/** a before b in an ascending/descending order with NaN last */
function before(a: number, b: number, descending: boolean): boolean {
  if (a !== a) return false;
  if (b !== b) return true;
  return descending ? a > b : a < b;
}

/** `jagged(c.Muon_pt)`: a runner column (or any {offsets, values}) as a Jagged. */
export function jagged(col: Column | undefined, name = "column"): Jagged {
  if (col === undefined) throw new AnalysisError(`${name}: no such column (not read, not derived)`);
  return Jagged.from(col, name);
}

/**
 * Per-event concatenation (awkward's `ak.concatenate([a, b], axis=1)`): each event's objects of
 * a, then of b, … The values keep their type when all arrays share it, float64 otherwise.
 */
export function concatJagged(arrays: JaggedColumn[]): Jagged {
  if (arrays.length === 0) throw new AnalysisError("concat: nothing to concatenate");
  const js = arrays.map((a, i) => Jagged.from(a, `concat argument ${i}`));
  const n = js[0].length;
  for (const j of js) if (j.length !== n) throw new AnalysisError(`concat: arrays have ${n} and ${j.length} events`);
  const outOff = new Int32Array(n + 1);
  for (let e = 0; e < n; e++) {
    let c = 0;
    for (const j of js) c += j.offsets[e + 1] - j.offsets[e];
    outOff[e + 1] = outOff[e] + c;
  }
  const ctor0 = ctorOf(js[0].values);
  const ctor = js.every((j) => j.values.constructor === ctor0) ? ctor0 : (Float64Array as ValuesConstructor);
  const out = new ctor(outOff[n]);
  for (let e = 0; e < n; e++) {
    let k = outOff[e];
    for (const j of js) {
      const o = j.offsets;
      const x = j.values;
      for (let i = o[e]; i < o[e + 1]; i++) out[k++] = x[i];
    }
  }
  return new Jagged(outOff, out);
}

/** Offsets of a source given as a Jagged-like column or an offsets array. */
function offsetsOf(src: JaggedColumn | { offsets: Int32Array }): Int32Array {
  return src.offsets;
}

/**
 * All k-subsets of each event's objects, in lexicographic order (awkward's
 * `ak.argcombinations(a, k)`): k jagged index arrays sharing one structure, slot s holding the
 * position within the event of the s-th member. `const [i, j] = argcombinations(mu, 2)`.
 */
export function argcombinations(src: { offsets: Int32Array }, k = 2): Jagged<Int32Array>[] {
  if (!Number.isInteger(k) || k < 1) throw new AnalysisError(`combinations: k must be a positive integer, got ${k}`);
  const o = offsetsOf(src);
  const n = o.length - 1;
  const outOff = new Int32Array(n + 1);
  for (let e = 0; e < n; e++) outOff[e + 1] = outOff[e] + binomial(o[e + 1] - o[e], k);
  const total = outOff[n];
  const slots = Array.from({ length: k }, () => new Int32Array(total));
  const cur = new Int32Array(k);
  for (let e = 0; e < n; e++) {
    const len = o[e + 1] - o[e];
    if (len < k) continue;
    for (let s = 0; s < k; s++) cur[s] = s;
    let w = outOff[e];
    for (;;) {
      for (let s = 0; s < k; s++) slots[s][w] = cur[s];
      w++;
      // next combination: the rightmost slot that can still move
      let s = k - 1;
      while (s >= 0 && cur[s] === len - k + s) s--;
      if (s < 0) break;
      cur[s]++;
      for (let t = s + 1; t < k; t++) cur[t] = cur[t - 1] + 1;
    }
  }
  return slots.map((v) => new Jagged(outOff, v));
}

/**
 * Every (a, b) pair of each event (awkward's `ak.argcartesian([a, b])`), a-major: two jagged index
 * arrays sharing one structure, into a and into b.
 */
export function argcartesian(a: { offsets: Int32Array }, b: { offsets: Int32Array }): [Jagged<Int32Array>, Jagged<Int32Array>] {
  const oa = offsetsOf(a);
  const ob = offsetsOf(b);
  if (oa.length !== ob.length) throw new AnalysisError(`cartesian: ${oa.length - 1} and ${ob.length - 1} events`);
  const n = oa.length - 1;
  const outOff = new Int32Array(n + 1);
  for (let e = 0; e < n; e++) outOff[e + 1] = outOff[e] + (oa[e + 1] - oa[e]) * (ob[e + 1] - ob[e]);
  const ia = new Int32Array(outOff[n]);
  const ib = new Int32Array(outOff[n]);
  for (let e = 0; e < n; e++) {
    const na = oa[e + 1] - oa[e];
    const nb = ob[e + 1] - ob[e];
    let w = outOff[e];
    for (let i = 0; i < na; i++)
      for (let j = 0; j < nb; j++) {
        ia[w] = i;
        ib[w] = j;
        w++;
      }
  }
  return [new Jagged(outOff, ia), new Jagged(outOff, ib)];
}

function binomial(n: number, k: number): number {
  if (k > n) return 0;
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return Math.round(r);
}
