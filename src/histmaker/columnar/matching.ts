/**
 * ΔR matching between two collections of the same events: the nearest partner of every object, and
 * overlap removal (jets farther than ΔR from every selected lepton), as coffea's `nearest` and the
 * usual cleaning one-liners in awkward.
 */
import { AnalysisError } from "../analysis.js";
import type { JaggedColumn, NumericArray } from "../events.js";
import { Collection, type CollectionOf } from "./Collection.js";
import { Jagged, type Selection } from "./Jagged.js";
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

/**
 * The objects of a farther than `dr` (strictly) from every object of b, as a selection (result
 * offsets and positions in a): one pass writing the kept positions, which the mask and the cleaned
 * collection both use.
 */
function cleanSelection(a: EtaPhi, b: EtaPhi, dr: number): Selection {
  const A = etaPhi(a, "deltaRClean: first collection");
  const B = etaPhi(b, "deltaRClean: second collection");
  const oa = A.eta.offsets;
  const ob = B.eta.offsets;
  if (oa.length !== ob.length) throw new AnalysisError(`deltaRClean: ${oa.length - 1} and ${ob.length - 1} events`);
  const n = oa.length - 1;
  const outOff = new Int32Array(n + 1);
  const index = new Int32Array(A.eta.size);
  const kept = cleanKernel(A.eta.values, A.phi.values, B.eta.values, B.phi.values)(
    oa,
    A.eta.values,
    A.phi.values,
    ob,
    B.eta.values,
    B.phi.values,
    dr * dr,
    outOff,
    index,
  );
  return { offsets: outOff, index: index.subarray(0, kept) };
}

type CleanKernel = (
  oa: Int32Array,
  ea: NumericArray,
  pa: NumericArray,
  ob: Int32Array,
  eb: NumericArray,
  pb: NumericArray,
  dr2: number,
  outOff: Int32Array,
  index: Int32Array,
) => number;
const cleanKernels = new Map<string, CleanKernel>();

/**
 * The cleaning loop, one compiled copy per combination of η/φ array types (float32 NanoAOD
 * branches, float64 computed ones) so that its loads stay monomorphic. Distances are compared in
 * squares; a NaN coordinate never removes an object (as in minDeltaR); |Δφ| as absDeltaPhi.
 */
function cleanKernel(...arrays: NumericArray[]): CleanKernel {
  const key = arrays.map((x) => (x as object).constructor.name).join(",");
  let f = cleanKernels.get(key);
  if (f === undefined) {
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    f = new Function(
      "oa,ea,pa,ob,eb,pb,dr2,outOff,index",
      `const PI = Math.PI, TWO_PI = 2 * Math.PI; let k = 0;
      for (let e = 0, n = oa.length - 1; e < n; e++) {
        const b0 = ob[e], b1 = ob[e + 1];
        for (let i = oa[e], end = oa[e + 1]; i < end; i++) {
          const ei = ea[i], pi = pa[i];
          let ok = 1;
          for (let j = b0; j < b1; j++) {
            const de = ei - eb[j];
            let dp = Math.abs(pi - pb[j]);
            if (dp > PI) {
              const d = pi - pb[j];
              dp = dp <= TWO_PI ? TWO_PI - dp : Math.abs(d - TWO_PI * Math.floor((d + PI) / TWO_PI));
            }
            if (de * de + dp * dp <= dr2) { ok = 0; break; }
          }
          index[k] = i;
          k += ok;
        }
        outOff[e + 1] = k;
      }
      return k;`,
    ) as CleanKernel;
    cleanKernels.set(key, f);
  }
  return f;
}

/** Mask over a: 1 where the object is farther than `dr` (strictly) from every object of b. */
export function deltaRCleanMask(a: EtaPhi, b: EtaPhi, dr = 0.4): Jagged<Uint8Array> {
  const sel = cleanSelection(a, b, dr);
  const { eta } = etaPhi(a, "deltaRClean: first collection");
  const keep = new Uint8Array(eta.size);
  for (let k = 0; k < sel.index.length; k++) keep[sel.index[k]] = 1;
  return new Jagged(eta.offsets, keep);
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
  const sel = cleanSelection(a, b, dr);
  if (a instanceof Collection) return a.gather(sel);
  const A = etaPhi(a, "deltaRClean");
  return { eta: A.eta.gather(sel), phi: A.phi.gather(sel) };
}
