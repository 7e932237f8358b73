/**
 * ΔR matching between two collections of the same events: the nearest partner of every object, and
 * overlap removal (jets farther than ΔR from every selected lepton), as coffea's `nearest` and the
 * usual cleaning one-liners in awkward.
 */
import { AnalysisError } from "../analysis.js";
import type { JaggedColumn } from "../events.js";
import { Collection, type CollectionOf } from "./Collection.js";
import { Jagged } from "./Jagged.js";
import { wrapPhi } from "./lorentz.js";

/** Anything with per-object η and φ: a collection with eta/phi fields, or the two jagged arrays. */
export type EtaPhi = Collection | { eta: JaggedColumn; phi: JaggedColumn };

function etaPhi(x: EtaPhi, what: string): { eta: Jagged; phi: Jagged } {
  const eta = x instanceof Collection ? x.get("eta") : Jagged.from(x.eta, `${what}.eta`);
  const phi = x instanceof Collection ? x.get("phi") : Jagged.from(x.phi, `${what}.phi`);
  if (!eta.sameStructure(phi)) throw new AnalysisError(`${what}: eta and phi have different numbers of objects per event`);
  return { eta, phi };
}

/**
 * For every object of a: the ΔR to the nearest object of b in the same event (Infinity when the event
 * has none) and that object's position in b (−1 then).
 */
export function nearest(a: EtaPhi, b: EtaPhi): { deltaR: Jagged<Float64Array>; index: Jagged<Int32Array> } {
  const A = etaPhi(a, "nearest: first collection");
  const B = etaPhi(b, "nearest: second collection");
  const oa = A.eta.offsets;
  const ob = B.eta.offsets;
  if (oa.length !== ob.length) throw new AnalysisError(`nearest: ${oa.length - 1} and ${ob.length - 1} events`);
  const [ea, pa, eb, pb] = [A.eta.values, A.phi.values, B.eta.values, B.phi.values];
  const dr = new Float64Array(ea.length);
  const idx = new Int32Array(ea.length);
  for (let e = 0, n = oa.length - 1; e < n; e++) {
    const b0 = ob[e];
    const b1 = ob[e + 1];
    for (let i = oa[e]; i < oa[e + 1]; i++) {
      let best = Number.POSITIVE_INFINITY;
      let bi = -1;
      for (let j = b0; j < b1; j++) {
        const de = ea[i] - eb[j];
        const dp = absDeltaPhi(pa[i], pb[j]);
        const d2 = de * de + dp * dp;
        if (d2 < best) {
          best = d2;
          bi = j - b0;
        }
      }
      dr[i] = Math.sqrt(best);
      idx[i] = bi;
    }
  }
  return { deltaR: new Jagged(oa, dr), index: new Jagged(oa, idx) };
}

/** ΔR from every object of a to the nearest object of b (Infinity where b is empty). */
export function minDeltaR(a: EtaPhi, b: EtaPhi): Jagged<Float64Array> {
  return nearest(a, b).deltaR;
}

/** |φ1 − φ2| wrapped to [0, π]: the cheap branch for φ in [−π, π], the general wrap otherwise. */
function absDeltaPhi(p1: number, p2: number): number {
  const d = Math.abs(p1 - p2);
  if (d <= Math.PI) return d;
  if (d <= 2 * Math.PI) return 2 * Math.PI - d;
  return Math.abs(wrapPhi(p1 - p2));
}

/** Mask over a: 1 where the object is farther than `dr` (strictly) from every object of b. */
export function deltaRCleanMask(a: EtaPhi, b: EtaPhi, dr = 0.4): Jagged<Uint8Array> {
  const A = etaPhi(a, "deltaRClean: first collection");
  const B = etaPhi(b, "deltaRClean: second collection");
  const oa = A.eta.offsets;
  const ob = B.eta.offsets;
  if (oa.length !== ob.length) throw new AnalysisError(`deltaRClean: ${oa.length - 1} and ${ob.length - 1} events`);
  const [ea, pa, eb, pb] = [A.eta.values, A.phi.values, B.eta.values, B.phi.values];
  const dr2 = dr * dr;
  const keep = new Uint8Array(ea.length);
  for (let e = 0, n = oa.length - 1; e < n; e++) {
    const b0 = ob[e];
    const b1 = ob[e + 1];
    for (let i = oa[e]; i < oa[e + 1]; i++) {
      let ok = 1;
      for (let j = b0; j < b1; j++) {
        const de = ea[i] - eb[j];
        const dp = absDeltaPhi(pa[i], pb[j]);
        // compared in squares (no sqrt); a NaN coordinate never removes an object, as in minDeltaR
        if (de * de + dp * dp <= dr2) {
          ok = 0;
          break;
        }
      }
      keep[i] = ok;
    }
  }
  return new Jagged(oa, keep);
}

/**
 * Overlap removal: the objects of `a` farther than `dr` (strictly) from every object of `b`, e.g.
 * `deltaRClean(jets, leptons, 0.4)`. A collection comes back as a collection (all fields masked).
 */
export function deltaRClean<F extends string>(a: Collection<F>, b: EtaPhi, dr?: number): CollectionOf<F>;
export function deltaRClean(a: { eta: JaggedColumn; phi: JaggedColumn }, b: EtaPhi, dr?: number): { eta: Jagged; phi: Jagged };
export function deltaRClean<F extends string>(
  a: Collection<F> | { eta: JaggedColumn; phi: JaggedColumn },
  b: EtaPhi,
  dr = 0.4,
): CollectionOf<F> | { eta: Jagged; phi: Jagged } {
  const m = deltaRCleanMask(a, b, dr);
  if (a instanceof Collection) return a.mask(m);
  const A = etaPhi(a, "deltaRClean");
  return { eta: A.eta.mask(m), phi: A.phi.mask(m) };
}
