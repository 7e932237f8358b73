/**
 * Four-vectors over whole arrays (the `vector` package's role): built from (pt, eta, phi, mass) or
 * (px, py, pz, E), one per event (`Vec4`, flat Float64Arrays) or per object (`JaggedVec4`, flat
 * arrays plus the collection's offsets). Stored as float64 (px, py, pz, E); every derived quantity is
 * computed in float64 from them.
 */
import { AnalysisError } from "../analysis.js";
import type { JaggedColumn, NumericArray } from "../events.js";
import { Collection, PICKED } from "./Collection.js";
import { Jagged, sameCounts, toValues, type Selection } from "./Jagged.js";
import { evaluateVec4, leafCount, type Components, type Vec4Output, type Vec4Source } from "./vec4Kernels.js";

const TWO_PI = 2 * Math.PI;

/** φ1 − φ2 wrapped to [−π, π). */
export function wrapPhi(d: number): number {
  return d - TWO_PI * Math.floor((d + Math.PI) / TWO_PI);
}

/** Mass from m² with ROOT's TLorentzVector::M convention: −√(−m²) for space-like vectors. */
function massOf(m2: number): number {
  return m2 < 0 ? -Math.sqrt(-m2) : Math.sqrt(m2);
}

function fromPtEtaPhiM(pt: NumericArray, eta: NumericArray, phi: NumericArray, mass: NumericArray | number): Components {
  const n = pt.length;
  const [P, H, F] = [pt, eta, phi].map(toValues);
  const M = typeof mass === "number" ? null : toValues(mass);
  if (H.length !== n || F.length !== n || (M !== null && M.length !== n))
    throw new AnalysisError(`vec4: pt, eta, phi, mass have different lengths (${n}, ${H.length}, ${F.length}, ${M?.length ?? n})`);
  const px = new Float64Array(n);
  const py = new Float64Array(n);
  const pz = new Float64Array(n);
  const e = new Float64Array(n);
  const m0 = typeof mass === "number" ? mass : 0;
  for (let i = 0; i < n; i++) {
    const p = P[i];
    if (p !== p) {
      // an absent object (NaN pT from `leading`): skip the trigonometry
      px[i] = py[i] = pz[i] = e[i] = Number.NaN;
      continue;
    }
    const m = M === null ? m0 : M[i];
    const x = p * Math.cos(F[i]);
    const y = p * Math.sin(F[i]);
    const z = p * Math.sinh(H[i]);
    px[i] = x;
    py[i] = y;
    pz[i] = z;
    e[i] = Math.sqrt(x * x + y * y + z * z + m * m);
  }
  return { px, py, pz, e };
}

function float64(a: NumericArray): Float64Array {
  const v = toValues(a);
  return v instanceof Float64Array ? v : Float64Array.from(v);
}

function checkComponents(c: Components): void {
  const n = c.px.length;
  if (c.py.length !== n || c.pz.length !== n || c.e.length !== n) throw new AnalysisError("vec4: components have different lengths");
}

/** Derived quantities of the vectors stored in c, into Float64Arrays. */
abstract class FourVectorArrays {
  /** The stored components (computed on first use where they are deferred). */
  protected abstract components(): Components;

  get px(): Float64Array {
    return this.components().px;
  }
  get py(): Float64Array {
    return this.components().py;
  }
  get pz(): Float64Array {
    return this.components().pz;
  }
  /** energy */
  get e(): Float64Array {
    return this.components().e;
  }

  protected compute(f: (x: number, y: number, z: number, t: number) => number): Float64Array {
    const { px, py, pz, e } = this;
    const out = new Float64Array(px.length);
    for (let i = 0; i < out.length; i++) out[i] = f(px[i], py[i], pz[i], e[i]);
    return out;
  }

  protected ptArray(): Float64Array {
    const { px, py } = this;
    const out = new Float64Array(px.length);
    for (let i = 0; i < out.length; i++) out[i] = Math.hypot(px[i], py[i]);
    return out;
  }

  protected massArray(): Float64Array {
    const { px, py, pz, e } = this;
    const out = new Float64Array(px.length);
    for (let i = 0; i < out.length; i++) out[i] = massOf(e[i] * e[i] - px[i] * px[i] - py[i] * py[i] - pz[i] * pz[i]);
    return out;
  }

  protected phiArray(): Float64Array {
    const { px, py } = this;
    const out = new Float64Array(px.length);
    for (let i = 0; i < out.length; i++) out[i] = Math.atan2(py[i], px[i]);
    return out;
  }

  protected etaArray(): Float64Array {
    // asinh(pz/pt): ±Infinity along the beam, NaN for a null vector
    return this.compute((x, y, z) => Math.asinh(z / Math.hypot(x, y)));
  }

  protected sumComponents(o: FourVectorArrays, sign: 1 | -1): Components {
    const n = this.px.length;
    if (o.px.length !== n) throw new AnalysisError(`vec4: adding ${n} and ${o.px.length} vectors`);
    const add = (a: Float64Array, b: Float64Array) => {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = a[i] + sign * b[i];
      return out;
    };
    return { px: add(this.px, o.px), py: add(this.py, o.py), pz: add(this.pz, o.pz), e: add(this.e, o.e) };
  }

  protected deltaPhiArray(o: FourVectorArrays): Float64Array {
    const a = this.phiArray();
    const b = o.phiArray();
    for (let i = 0; i < a.length; i++) a[i] = wrapPhi(a[i] - b[i]);
    return a;
  }

  protected deltaRArray(o: FourVectorArrays): Float64Array {
    const dphi = this.deltaPhiArray(o);
    const a = this.etaArray();
    const b = o.etaArray();
    for (let i = 0; i < a.length; i++) a[i] = Math.hypot(a[i] - b[i], dphi[i]);
    return a;
  }
}

/**
 * One four-vector per event (NaN components where an event has none, e.g. a missing 2nd lepton).
 * Vectors picked from collections (`vec4(mu.leading(0))`) and their sums are kept as an expression
 * until a quantity is read, which is then computed in one loop (see vec4Kernels.ts).
 */
export class Vec4 extends FourVectorArrays {
  private c: Components | undefined;
  private readonly source: Vec4Source;
  private readonly events: number;

  constructor(c: Components);
  /** @internal a deferred expression over `events` events */
  constructor(c: undefined, source: Vec4Source, events: number);
  constructor(c: Components | undefined, source?: Vec4Source, events?: number) {
    super();
    if (c !== undefined) {
      checkComponents(c);
      this.c = c;
      this.source = { kind: "components", c };
      this.events = c.px.length;
    } else {
      this.source = source as Vec4Source;
      this.events = events as number;
    }
  }

  protected components(): Components {
    if (this.c === undefined) {
      const [px, py, pz, e] = evaluateVec4(this.source, "components", this.events);
      this.c = { px, py, pz, e };
    }
    return this.c;
  }

  /** A derived quantity: from the stored components, or in one loop over the deferred expression. */
  private derived(q: Exclude<Vec4Output, "components">, stored: () => Float64Array): Float64Array {
    return this.c !== undefined ? stored() : evaluateVec4(this.source, q, this.events)[0];
  }

  /** This vector as a leaf of a larger expression (its components once they exist). */
  private asSource(): Vec4Source {
    return this.c !== undefined ? { kind: "components", c: this.c } : this.source;
  }

  private combine(o: Vec4, sign: 1 | -1): Vec4 {
    if (o.length !== this.length) throw new AnalysisError(`vec4: adding ${this.length} and ${o.length} vectors`);
    const a = this.asSource();
    const b = o.asSource();
    // a generated loop per expression shape: beyond a few terms, evaluate the parts first
    if (leafCount(a) + leafCount(b) > 8) return new Vec4(this.sumComponents(o, sign));
    return new Vec4(undefined, { kind: "sum", a, b, sign }, this.events);
  }

  static fromPtEtaPhiM(pt: NumericArray, eta: NumericArray, phi: NumericArray, mass: NumericArray | number = 0): Vec4 {
    return new Vec4(fromPtEtaPhiM(pt, eta, phi, mass));
  }

  static fromPxPyPzE(px: NumericArray, py: NumericArray, pz: NumericArray, e: NumericArray): Vec4 {
    return new Vec4({ px: float64(px), py: float64(py), pz: float64(pz), e: float64(e) });
  }

  /** Number of events. */
  get length(): number {
    return this.events;
  }
  get pt(): Float64Array {
    return this.derived("pt", () => this.ptArray());
  }
  get eta(): Float64Array {
    return this.derived("eta", () => this.etaArray());
  }
  get phi(): Float64Array {
    return this.derived("phi", () => this.phiArray());
  }
  /** invariant mass (−√(−m²) when space-like, as ROOT) */
  get mass(): Float64Array {
    return this.derived("mass", () => this.massArray());
  }
  get mass2(): Float64Array {
    return this.derived("mass2", () => this.compute((x, y, z, t) => t * t - x * x - y * y - z * z));
  }
  get rapidity(): Float64Array {
    return this.compute((_x, _y, z, t) => 0.5 * Math.log((t + z) / (t - z)));
  }
  /** |p| */
  get p(): Float64Array {
    return this.compute((x, y, z) => Math.hypot(x, y, z));
  }
  /** transverse energy E·pT/|p| */
  get et(): Float64Array {
    return this.compute((x, y, z, t) => (t * Math.hypot(x, y)) / Math.hypot(x, y, z));
  }

  add(o: Vec4): Vec4 {
    return this.combine(o, 1);
  }
  sub(o: Vec4): Vec4 {
    return this.combine(o, -1);
  }
  /** φ(this) − φ(o) wrapped to [−π, π) */
  deltaPhi(o: Vec4): Float64Array {
    return this.deltaPhiArray(o);
  }
  deltaR(o: Vec4): Float64Array {
    return this.deltaRArray(o);
  }
  /** m_T = √(2 pT pT' (1 − cos Δφ)), e.g. lepton and missing pT: `lep.mt(met)` with met = vec4 of (MET_pt, 0, MET_phi, 0) */
  mt(o: Vec4): Float64Array {
    return transverseMass(this.pt, this.phi, o.pt, o.phi);
  }
}

/** Four-vectors per object: flat components plus the collection's offsets. */
export class JaggedVec4 extends FourVectorArrays {
  readonly offsets: Int32Array;
  private readonly c: Components;

  constructor(offsets: Int32Array, c: Components) {
    super();
    checkComponents(c);
    if (offsets[0] !== 0 || offsets[offsets.length - 1] !== c.px.length)
      throw new AnalysisError(`vec4: offsets end at ${offsets[offsets.length - 1]} for ${c.px.length} vectors`);
    this.offsets = offsets;
    this.c = c;
  }

  protected components(): Components {
    return this.c;
  }

  static fromPtEtaPhiM(pt: JaggedColumn, eta: JaggedColumn, phi: JaggedColumn, mass?: JaggedColumn | number): JaggedVec4 {
    const P = Jagged.from(pt, "pt");
    const parts = [Jagged.from(eta, "eta"), Jagged.from(phi, "phi")];
    if (mass !== undefined && typeof mass !== "number") parts.push(Jagged.from(mass, "mass"));
    for (const j of parts)
      if (!P.sameStructure(j)) throw new AnalysisError("vec4: pt, eta, phi, mass have different numbers of objects per event");
    const m = mass === undefined ? 0 : typeof mass === "number" ? mass : parts[2].values;
    return new JaggedVec4(P.offsets, fromPtEtaPhiM(P.values, parts[0].values, parts[1].values, m));
  }

  static fromPxPyPzE(px: JaggedColumn, py: JaggedColumn, pz: JaggedColumn, e: JaggedColumn): JaggedVec4 {
    const X = Jagged.from(px, "px");
    const rest = [py, pz, e].map((c, i) => Jagged.from(c, ["py", "pz", "E"][i]));
    for (const j of rest)
      if (!X.sameStructure(j)) throw new AnalysisError("vec4: px, py, pz, E have different numbers of objects per event");
    return new JaggedVec4(X.offsets, { px: float64(X.values), py: float64(rest[0].values), pz: float64(rest[1].values), e: float64(rest[2].values) });
  }

  /** Number of events. */
  get length(): number {
    return this.offsets.length - 1;
  }
  private wrap(v: Float64Array): Jagged<Float64Array> {
    return new Jagged(this.offsets, v);
  }
  get pt(): Jagged<Float64Array> {
    return this.wrap(this.ptArray());
  }
  get eta(): Jagged<Float64Array> {
    return this.wrap(this.etaArray());
  }
  get phi(): Jagged<Float64Array> {
    return this.wrap(this.phiArray());
  }
  get mass(): Jagged<Float64Array> {
    return this.wrap(this.massArray());
  }
  counts(): Int32Array {
    return this.wrap(this.px).counts();
  }

  /** Same-structure sum (e.g. the pairs from `combinations`: `p4.take(i).add(p4.take(j)).mass`). */
  add(o: JaggedVec4): JaggedVec4 {
    this.check(o);
    return new JaggedVec4(this.offsets, this.sumComponents(o, 1));
  }
  sub(o: JaggedVec4): JaggedVec4 {
    this.check(o);
    return new JaggedVec4(this.offsets, this.sumComponents(o, -1));
  }
  deltaPhi(o: JaggedVec4): Jagged<Float64Array> {
    this.check(o);
    return this.wrap(this.deltaPhiArray(o));
  }
  deltaR(o: JaggedVec4): Jagged<Float64Array> {
    this.check(o);
    return this.wrap(this.deltaRArray(o));
  }

  private check(o: JaggedVec4): void {
    if (!sameCounts(this.offsets, o.offsets))
      throw new AnalysisError("vec4: the two jagged vector arrays have different numbers of objects per event");
  }

  private gather(sel: Selection): JaggedVec4 {
    const g = (v: Float64Array) => this.wrap(v).gather(sel).values;
    return new JaggedVec4(sel.offsets, { px: g(this.px), py: g(this.py), pz: g(this.pz), e: g(this.e) });
  }

  /** Objects where m is non-zero. */
  mask(m: JaggedColumn | NumericArray): JaggedVec4 {
    return this.gather(this.wrap(this.px).maskSelection(m));
  }

  /** Objects by per-event positions (result has idx's structure). */
  take(idx: JaggedColumn): JaggedVec4 {
    return this.gather(this.wrap(this.px).takeSelection(idx));
  }

  /** The vector at position i of each event (NaN components where the event has fewer). */
  leading(i = 0): Vec4 {
    const w = (v: Float64Array) => this.wrap(v).leading(i);
    return new Vec4({ px: w(this.px), py: w(this.py), pz: w(this.pz), e: w(this.e) });
  }

  /** The sum of each event's vectors (zero vector for an empty event), e.g. H_T-like systems or m of all jets. */
  sum(): Vec4 {
    const w = (v: Float64Array) => this.wrap(v).sum();
    return new Vec4({ px: w(this.px), py: w(this.py), pz: w(this.pz), e: w(this.e) });
  }
}

/** Per-event kinematics, e.g. what `collection.leading(0)` returns. */
export interface PtEtaPhiMArrays {
  pt: NumericArray;
  eta: NumericArray;
  phi: NumericArray;
  mass?: NumericArray;
}

/**
 * `vec4(pt, eta, phi, mass)` per event (flat arrays) or per object (jagged columns);
 * `vec4(collection)` from its pt, eta, phi and mass fields (mass 0 when the collection has none);
 * `vec4(collection.leading(0))` for the leading object of each event (NaN where there is none),
 * which converts only that object.
 */
export function vec4(c: Collection): JaggedVec4;
export function vec4(c: PtEtaPhiMArrays): Vec4;
export function vec4(pt: JaggedColumn, eta: JaggedColumn, phi: JaggedColumn, mass?: JaggedColumn | number): JaggedVec4;
export function vec4(pt: NumericArray, eta: NumericArray, phi: NumericArray, mass?: NumericArray | number): Vec4;
export function vec4(
  pt: Collection | PtEtaPhiMArrays | JaggedColumn | NumericArray,
  eta?: JaggedColumn | NumericArray,
  phi?: JaggedColumn | NumericArray,
  mass?: JaggedColumn | NumericArray | number,
): Vec4 | JaggedVec4 {
  if (pt instanceof Collection) {
    const names = pt.names;
    for (const f of ["pt", "eta", "phi"]) if (!names.includes(f)) throw new AnalysisError(`vec4: the collection has no "${f}" field`);
    return JaggedVec4.fromPtEtaPhiM(pt.get("pt"), pt.get("eta"), pt.get("phi"), names.includes("mass") ? pt.get("mass") : 0);
  }
  if (!ArrayBuffer.isView(pt) && (pt as JaggedColumn).offsets === undefined) {
    const picked = (pt as { [PICKED]?: { from: Collection; i: number; fill: number } })[PICKED];
    if (picked !== undefined && Number.isNaN(picked.fill)) {
      // `vec4(mu.leading(0))`: deferred, so that the pick, the conversion and what is read of the
      // vector (or of a sum of such vectors) run as one loop
      const c = picked.from;
      const names = c.names;
      if (["pt", "eta", "phi"].every((f) => names.includes(f))) {
        const v = (f: string) => c.get(f).values;
        const src: Vec4Source = {
          kind: "pick",
          offsets: c.offsets,
          pt: v("pt"),
          eta: v("eta"),
          phi: v("phi"),
          mass: names.includes("mass") ? v("mass") : 0,
          i: picked.i,
        };
        return new Vec4(undefined, src, c.length);
      }
    }
    const r = pt as PtEtaPhiMArrays;
    for (const f of ["pt", "eta", "phi"] as const)
      if (!ArrayBuffer.isView(r[f])) throw new AnalysisError(`vec4: the record has no per-event "${f}" array`);
    return Vec4.fromPtEtaPhiM(r.pt, r.eta, r.phi, r.mass ?? 0);
  }
  if (eta === undefined || phi === undefined) throw new AnalysisError("vec4: needs pt, eta and phi (and optionally mass)");
  if ((pt as JaggedColumn).offsets !== undefined)
    return JaggedVec4.fromPtEtaPhiM(pt as JaggedColumn, eta as JaggedColumn, phi as JaggedColumn, mass as JaggedColumn | number | undefined);
  return Vec4.fromPtEtaPhiM(pt as NumericArray, eta as NumericArray, phi as NumericArray, (mass ?? 0) as NumericArray | number);
}

type Scalarish = NumericArray | number;

function at(a: Scalarish, i: number): number {
  return typeof a === "number" ? a : Number(a[i]);
}

function lengthOf(what: string, ...xs: Scalarish[]): number {
  let n = -1;
  for (const x of xs)
    if (typeof x !== "number") {
      if (n >= 0 && x.length !== n) throw new AnalysisError(`${what}: arrays of different lengths (${n}, ${x.length})`);
      n = x.length;
    }
  return Math.max(n, 1);
}

/**
 * φ1 − φ2 wrapped to [−π, π), per element: arrays or numbers, or a jagged φ1 with a number, a
 * jagged array of the same structure or a per-event array (e.g. every jet's Δφ to the MET).
 */
export function deltaPhi(phi1: JaggedColumn, phi2: JaggedColumn | Scalarish): Jagged<Float64Array>;
export function deltaPhi(phi1: Scalarish, phi2: Scalarish): Float64Array;
export function deltaPhi(phi1: JaggedColumn | Scalarish, phi2: JaggedColumn | Scalarish): Float64Array | Jagged<Float64Array> {
  if (typeof phi1 !== "number" && (phi1 as JaggedColumn).offsets !== undefined) {
    const d = Jagged.from(phi1 as JaggedColumn, "phi").sub(phi2 as JaggedColumn | NumericArray | number);
    const v = d.values;
    for (let i = 0; i < v.length; i++) v[i] = wrapPhi(v[i]);
    return d;
  }
  if (typeof phi2 !== "number" && (phi2 as JaggedColumn).offsets !== undefined)
    throw new AnalysisError("deltaPhi: put the jagged array first");
  phi1 = phi1 as Scalarish;
  phi2 = phi2 as Scalarish;
  const n = lengthOf("deltaPhi", phi1, phi2);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = wrapPhi(at(phi1, i) - at(phi2, i));
  return out;
}

/** ΔR = √(Δη² + Δφ²), per element. */
export function deltaR(eta1: Scalarish, phi1: Scalarish, eta2: Scalarish, phi2: Scalarish): Float64Array {
  const n = lengthOf("deltaR", eta1, phi1, eta2, phi2);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.hypot(at(eta1, i) - at(eta2, i), wrapPhi(at(phi1, i) - at(phi2, i)));
  return out;
}

/** m_T = √(2 pT1 pT2 (1 − cos Δφ)), e.g. of a lepton and the missing pT. */
export function transverseMass(pt1: Scalarish, phi1: Scalarish, pt2: Scalarish, phi2: Scalarish): Float64Array {
  const n = lengthOf("transverseMass", pt1, phi1, pt2, phi2);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(Math.max(0, 2 * at(pt1, i) * at(pt2, i) * (1 - Math.cos(at(phi1, i) - at(phi2, i)))));
  return out;
}
