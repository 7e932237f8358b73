/**
 * Record-like collections: several jagged fields with one structure (NanoAOD's Muon_pt, Muon_eta, …
 * as `mu.pt`, `mu.eta`, …), so that a mask, a sort or a pick applies to every field at once, like
 * an awkward record array or a coffea NanoEvents collection.
 */
import { AnalysisError } from "../analysis.js";
import type { ColumnSet } from "../analysis.js";
import type { Column, JaggedColumn, NumericArray } from "../events.js";
import { isJagged } from "../events.js";
import { argcartesian, argcombinations, concatJagged, Jagged, type Selection } from "./Jagged.js";

/** Marks what `leading` returns, so that `vec4(mu.leading(0))` can read the collection directly. */
export const PICKED: unique symbol = Symbol("picked from a collection");

/** A collection whose fields can also be read as properties: `mu.pt` is `mu.get("pt")`. */
export type CollectionOf<F extends string> = Collection<F> & { readonly [K in F]: Jagged };

export class Collection<F extends string = string> {
  /** shared by every field: event e owns objects offsets[e] .. offsets[e+1] */
  readonly offsets: Int32Array;
  readonly fields: Readonly<Record<F, Jagged>>;

  /**
   * Groups jagged fields with the same number of objects per event (checked). Prefer `collection()`,
   * which also gives field properties.
   */
  constructor(fields: Record<F, Column>, what = "collection") {
    const names = Object.keys(fields) as F[];
    if (names.length === 0) throw new AnalysisError(`${what}: a collection needs at least one field`);
    const first = Jagged.from(fields[names[0]], `${what}.${names[0]}`);
    const offsets = first.offsets;
    const out = {} as Record<F, Jagged>;
    for (const name of names) {
      const j = Jagged.from(fields[name], `${what}.${name}`);
      if (!first.sameStructure(j))
        throw new AnalysisError(`${what}: field "${name}" has different numbers of objects per event than "${names[0]}"`);
      // one shared offsets array: results of mask/take on any field line up by construction
      out[name] = j.offsets === offsets ? j : new Jagged(offsets, j.values);
    }
    this.offsets = offsets;
    this.fields = out;
    for (const name of names)
      if (!(name in this)) Object.defineProperty(this, name, { get: () => this.fields[name], enumerable: true });
  }

  /** Number of events. */
  get length(): number {
    return this.offsets.length - 1;
  }

  /** Field names. */
  get names(): F[] {
    return Object.keys(this.fields) as F[];
  }

  /** Objects per event. */
  counts(): Int32Array {
    return this.fields[this.names[0]].counts();
  }

  /** One field as a Jagged (an error naming the collection's fields when it has no such field). */
  get(name: F): Jagged {
    const f = this.fields[name];
    if (f === undefined)
      throw new AnalysisError(`collection has no field "${name}" (fields: ${this.names.join(", ")})`);
    return f;
  }

  /** A new collection with one more (or a replaced) field of the same structure. */
  with<G extends string>(name: G, values: Column): CollectionOf<F | G> {
    return collectionOf({ ...this.fields, [name]: values } as Record<F | G, Column>);
  }

  /** Only the named fields. */
  select<G extends F>(...names: G[]): CollectionOf<G> {
    const out = {} as Record<G, Jagged>;
    for (const n of names) out[n] = this.get(n);
    return collectionOf(out);
  }

  private apply(f: (j: Jagged) => Jagged): CollectionOf<F> {
    const out = {} as Record<F, Jagged>;
    for (const n of this.names) out[n] = f(this.fields[n]);
    return collectionOf(out);
  }

  /** Keeps the objects where m is non-zero (a jagged mask, or a per-event array for whole events). */
  mask(m: JaggedColumn | NumericArray): CollectionOf<F> {
    return this.gather(this.fields[this.names[0]].maskSelection(m));
  }

  /** Every field's objects at a selection's positions (see Jagged.maskSelection). */
  gather(sel: Selection): CollectionOf<F> {
    return this.apply((j) => j.gather(sel));
  }

  /** Picks objects by per-event positions (see Jagged.take): `mu.take(mu.pt.argsort(true))`. */
  take(idx: JaggedColumn): CollectionOf<F> {
    const sel = this.fields[this.names[0]].takeSelection(idx);
    return this.apply((j) => j.gather(sel));
  }

  /** Sorted within each event by a field or a jagged key (descending by default: leading first). */
  sortBy(key: F | JaggedColumn, descending = true): CollectionOf<F> {
    const k = typeof key === "string" ? this.get(key) : Jagged.from(key, "sort key");
    return this.take(k.argsort(descending));
  }

  /** At most the first n objects of each event. */
  firstN(n: number): CollectionOf<F> {
    return this.apply((j) => j.firstN(n));
  }

  /**
   * Every field of the object at position i of each event (NaN or `fill` where absent). Each field is
   * computed when first read, so `vec4(mu.leading(0))` touches only pt, eta, phi and mass.
   */
  leading(i = 0, fill = Number.NaN): Record<F, Float64Array> {
    if (!Number.isInteger(i) || i < 0) throw new AnalysisError(`collection leading: position must be a non-negative integer, got ${i}`);
    const out = {} as Record<F, Float64Array>;
    Object.defineProperty(out, PICKED, { value: { from: this, i, fill }, enumerable: false });
    for (const n of this.names) {
      let v: Float64Array | undefined;
      Object.defineProperty(out, n, { enumerable: true, get: () => (v ??= this.fields[n].leading(i, fill)) });
    }
    return out;
  }
}

function collectionOf<F extends string>(fields: Record<F, Column>, what?: string): CollectionOf<F> {
  return new Collection(fields, what) as CollectionOf<F>;
}

/**
 * A collection from explicit fields, `collection({ pt: c.Muon_pt, eta: c.Muon_eta })`, or from a
 * chunk's columns by prefix, `collection(c, "Muon")` (every jagged `Muon_*` column, as `pt`, `eta`,
 * …), optionally only some fields: `collection(c, "Muon", ["pt", "eta", "phi", "mass"])`.
 */
export function collection<F extends string>(fields: Record<F, Column>): CollectionOf<F>;
export function collection<F extends string = string>(columns: ColumnSet, prefix: string, fields?: readonly F[]): CollectionOf<F>;
export function collection<F extends string>(
  src: Record<F, Column> | ColumnSet,
  prefix?: string,
  fields?: readonly F[],
): CollectionOf<F> {
  if (prefix === undefined) return collectionOf(src as Record<F, Column>);
  const cols = src as ColumnSet;
  const lead = `${prefix}_`;
  const names = fields ?? (Object.keys(cols).filter((k) => k.startsWith(lead)).map((k) => k.slice(lead.length)) as F[]);
  const out = {} as Record<F, JaggedColumn>;
  for (const f of names) {
    const c = cols[`${lead}${f}`];
    if (c === undefined) {
      if (fields !== undefined)
        throw new AnalysisError(`collection "${prefix}": no column "${lead}${f}" (add it to the analysis's branches)`);
      continue;
    }
    // a string column (regions' category columns) is never a field: only its numeric kin can be jagged
    if (Array.isArray(c) || !isJagged(c as Column)) {
      if (fields !== undefined) throw new AnalysisError(`collection "${prefix}": column "${lead}${f}" is not jagged`);
      continue; // a flat column that shares the prefix (e.g. MET_pt beside a MET_ collection) is not a field
    }
    out[f] = c as JaggedColumn;
  }
  if (Object.keys(out).length === 0)
    throw new AnalysisError(`collection "${prefix}": no jagged "${lead}*" columns (add them to the analysis's branches)`);
  return collectionOf(out, `collection "${prefix}"`);
}

type FieldsOf<T> = T extends Collection<infer F> ? F : never;
/** The field names every collection of a tuple has (what `concat` keeps). */
export type CommonFields<C extends readonly unknown[]> = C extends readonly [infer H, ...infer R]
  ? R extends readonly []
    ? FieldsOf<H>
    : FieldsOf<H> & CommonFields<R>
  : FieldsOf<C[number]>;

/**
 * Per-event concatenation of collections (electrons ++ muons): the fields they have in common (or
 * the named ones), each event's objects of a, then of b, …
 */
export function concat(parts: JaggedColumn[]): Jagged;
export function concat<C extends object[]>(parts: [...C], fields?: readonly CommonFields<C>[]): CollectionOf<CommonFields<C>>;
export function concat<F extends string>(parts: (Collection<F> | JaggedColumn)[], fields?: readonly F[]): CollectionOf<F> | Jagged {
  if (parts.length === 0) throw new AnalysisError("concat: nothing to concatenate");
  if (!parts.every((p) => p instanceof Collection)) {
    if (parts.some((p) => p instanceof Collection)) throw new AnalysisError("concat: mixes collections and jagged arrays");
    return concatJagged(parts as JaggedColumn[]);
  }
  const cs = parts as Collection<F>[];
  const names = fields ?? cs[0].names.filter((n) => cs.every((c) => n in c.fields));
  if (names.length === 0) throw new AnalysisError("concat: the collections have no field in common");
  const out = {} as Record<F, Jagged>;
  for (const n of names) out[n] = concatJagged(cs.map((c) => c.get(n)));
  return collectionOf(out);
}

/** What combinations/cartesian can pick members from: a collection or a jagged four-vector array. */
export interface Takeable<T> {
  readonly offsets: Int32Array;
  take(idx: JaggedColumn): T;
}

/**
 * All k-subsets of each event's objects, as k collections (or k jagged four-vector arrays) of one
 * structure: `const [l1, l2] = combinations(leptons, 2)`, pair p of event e is (l1[e][p], l2[e][p]).
 * For pair masses, `combinations(vec4(leptons), 2)` converts each lepton to a four-vector only once.
 */
export function combinations<T>(c: Takeable<T>, k = 2): T[] {
  return argcombinations(c, k).map((idx) => c.take(idx));
}

/** Every (a, b) pair of each event as two collections (or four-vector arrays) of equal structure. */
export function cartesian<A, B>(a: Takeable<A>, b: Takeable<B>): [A, B] {
  const [ia, ib] = argcartesian(a, b);
  return [a.take(ia), b.take(ib)];
}
