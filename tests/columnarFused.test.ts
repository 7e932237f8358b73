/**
 * The fused evaluations behind the columnar operators (deferred comparison masks, one-pass picks of
 * leading objects, four-vector expressions of picked objects, one-pass ΔR cleaning) give exactly
 * what the hand-written per-event loops (and the step-by-step evaluation) give, on seeded random
 * float32 data with empty events, NaN values and φ outside [−π, π].
 */
import { describe, expect, it } from "vitest";
import { collection, deltaRClean, deltaRCleanMask, Jagged, Vec4, vec4 } from "../src/histmaker/columnar/index.js";
import { rng } from "./helpers/random.js";

const N = 3000;
const r = rng(11);

/** float32 fields, 0..6 objects per event (a seventh of events empty) */
function randomCollection(withNaN: boolean) {
  const offsets = new Int32Array(N + 1);
  for (let e = 0; e < N; e++) offsets[e + 1] = offsets[e] + Math.floor(r() * 7);
  const n = offsets[N];
  const f = (g: () => number) => Float32Array.from({ length: n }, g);
  const pt = f(() => (withNaN && r() < 0.02 ? NaN : 5 + 80 * r()));
  const eta = f(() => -2.5 + 5 * r());
  // a few φ beyond ±π (the general wrap of |Δφ|)
  const phi = f(() => (r() < 0.05 ? 7 * (r() - 0.5) * 2 : -Math.PI + 2 * Math.PI * r()));
  const mass = f(() => 0.1 * r());
  return { offsets, pt, eta, phi, mass };
}

const raw = randomCollection(true);
const rawJets = randomCollection(false);
const col = (x: ReturnType<typeof randomCollection>) =>
  collection({
    pt: { offsets: x.offsets, values: x.pt },
    eta: { offsets: x.offsets, values: x.eta },
    phi: { offsets: x.offsets, values: x.phi },
    mass: { offsets: x.offsets, values: x.mass },
  });
const mu = col(raw);
const jets = col(rawJets);
const o = raw.offsets;

/** same numbers, NaN where NaN (Object.is also tells 0 from −0) */
function expectSame(got: ArrayLike<number>, want: ArrayLike<number>): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) expect([i, got[i]]).toEqual([i, want[i]]);
}

describe("deferred comparison masks", () => {
  it("count of pt > 30 equals the hand loop; the materialised mask equals the eager comparison", () => {
    const want = new Int32Array(N);
    for (let e = 0; e < N; e++) for (let j = o[e]; j < o[e + 1]; j++) if (raw.pt[j] > 30) want[e]++;
    expectSame(mu.pt.gt(30).count(), want);
    const m = mu.pt.gt(30);
    const eager = new Uint8Array(raw.pt.length).map((_, j) => (raw.pt[j] > 30 ? 1 : 0));
    expectSame(m.values, eager);
    expectSame(m.count(), want); // after materialising: the plain count
    for (const [op, f] of [
      ["ge", (x: number) => x >= 40],
      ["lt", (x: number) => x < 40],
      ["le", (x: number) => x <= 40],
      ["eq", (x: number) => x === raw.pt[5]],
      ["ne", (x: number) => x !== raw.pt[5]],
    ] as const) {
      const s = op === "eq" || op === "ne" ? raw.pt[5] : 40;
      const w = new Int32Array(N);
      for (let e = 0; e < N; e++) for (let j = o[e]; j < o[e + 1]; j++) if (f(raw.pt[j])) w[e]++;
      expectSame((mu.pt as Jagged)[op](s).count(), w);
    }
  });

  it("a conjunction (pt > 20 and |η| < 2.1) selects, counts, any/all exactly as the hand loop", () => {
    const pass = (j: number) => raw.pt[j] > 20 && Math.abs(raw.eta[j]) < 2.1;
    const m = () => mu.pt.gt(20).and(mu.eta.abs().lt(2.1));
    const wantCount = new Int32Array(N);
    const wantOff = new Int32Array(N + 1);
    const wantPt: number[] = [];
    for (let e = 0; e < N; e++) {
      for (let j = o[e]; j < o[e + 1]; j++)
        if (pass(j)) {
          wantCount[e]++;
          wantPt.push(raw.pt[j]);
        }
      wantOff[e + 1] = wantOff[e] + wantCount[e];
    }
    expectSame(m().count(), wantCount);
    const sel = mu.mask(m());
    expectSame(sel.offsets, wantOff);
    expectSame(sel.pt.values, Float32Array.from(wantPt));
    expect(sel.pt.values).toBeInstanceOf(Float32Array);
    expectSame(mu.pt.mask(m()).values, Float32Array.from(wantPt));
    expectSame(m().any(), Uint8Array.from(wantCount, (c) => (c > 0 ? 1 : 0)));
    expectSame(m().all(), Uint8Array.from(wantCount, (c, e) => (c === o[e + 1] - o[e] ? 1 : 0)));
    // between: lo < v < hi as one deferred conjunction
    const w = new Int32Array(N);
    for (let e = 0; e < N; e++) for (let j = o[e]; j < o[e + 1]; j++) if (raw.pt[j] > 25 && raw.pt[j] < 50) w[e]++;
    expectSame(mu.pt.between(25, 50).count(), w);
  });

  it("a deferred mask mixes with eager masks and arithmetic (it is evaluated when its values are read)", () => {
    const eager = mu.pt.gt(mu.eta); // jagged operand: eager
    const both = mu.pt.gt(30).and(eager);
    const want = new Int32Array(N);
    for (let e = 0; e < N; e++) for (let j = o[e]; j < o[e + 1]; j++) if (raw.pt[j] > 30 && raw.pt[j] > raw.eta[j]) want[e]++;
    expectSame(both.count(), want);
    expectSame(mu.pt.gt(30).add(1).values, Float64Array.from(raw.pt, (x) => (x > 30 ? 2 : 1)));
    expectSame(mu.pt.gt(30).not().sum(), Float64Array.from(want, (_, e) => {
      let c = 0;
      for (let j = o[e]; j < o[e + 1]; j++) if (!(raw.pt[j] > 30)) c++;
      return c;
    }));
    expect(mu.pt.gt(30).size).toBe(raw.pt.length);
    expect(() => mu.pt.gt(30).and(jets.pt.gt(30)).count()).toThrow(/different numbers of objects/);
  });
});

describe("one-pass picks", () => {
  it("leadingN(3) equals leading(0..2) and the hand loop, with NaN and with a fill", () => {
    const got = mu.pt.leadingN(3);
    for (let k = 0; k < 3; k++) {
      const want = new Float64Array(N);
      for (let e = 0; e < N; e++) want[e] = o[e + 1] - o[e] > k ? raw.pt[o[e] + k] : NaN;
      expectSame(got[k], want);
      expectSame(mu.pt.leading(k), want);
    }
    const filled = mu.pt.leadingN(2, -1, 1);
    const want = new Float64Array(N);
    for (let e = 0; e < N; e++) want[e] = o[e + 1] - o[e] > 2 ? raw.pt[o[e] + 2] : -1;
    expectSame(filled[1], want);
    expect(mu.pt.leadingN(0)).toEqual([]);
    expect(() => mu.pt.leadingN(1.5)).toThrow(/non-negative integers/);
  });

  it("the branch-free NaN-fill picks keep −0, ±Infinity and NaN values and handle trailing empty events and no objects", () => {
    // last events empty (the clamped read position is the array's end), integer values, from > 0
    const rows = [[-0, Infinity], [NaN], [], [-Infinity, 3, -0], [7], [], []];
    const j = Jagged.fromArrays(rows);
    const want = (k: number) => Float64Array.from(rows, (r) => (r.length > k ? r[k] : NaN));
    const [a, b, c] = j.leadingN(3);
    expectSame(a, want(0));
    expectSame(b, want(1));
    expectSame(c, want(2));
    expectSame(j.leadingN(1, NaN, 2)[0], want(2));
    const ints = Jagged.fromArrays([[5, -2], [], [1]], Int32Array);
    expectSame(ints.leadingN(2)[1], Float64Array.of(-2, NaN, NaN));
    const none = Jagged.fromArrays([[], [], []]);
    expectSame(none.leadingN(2)[1], Float64Array.of(NaN, NaN, NaN));
    expectSame(Jagged.fromArrays([]).leadingN(1)[0], new Float64Array(0));
  });
});

describe("four-vector expressions of picked objects", () => {
  /** the step-by-step evaluation: picked arrays first (a plain record), then vec4, add, quantity */
  const stepwise = (i: number) => {
    const l = mu.leading(i);
    return vec4({ pt: l.pt, eta: l.eta, phi: l.phi, mass: l.mass });
  };

  it("m, pT, η, φ, m² of the two leading muons equal the step-by-step evaluation bit for bit", () => {
    const fused = () => vec4(mu.leading(0)).add(vec4(mu.leading(1)));
    const ref = stepwise(0).add(stepwise(1));
    for (const q of ["mass", "pt", "eta", "phi", "mass2"] as const) expectSame(fused()[q], ref[q]);
    const f = fused();
    expectSame(f.px, ref.px);
    expectSame(f.e, ref.e);
    expectSame(f.mass, ref.mass); // after its components exist
    expectSame(vec4(mu.leading(0)).sub(vec4(mu.leading(2))).mass, stepwise(0).sub(stepwise(2)).mass);
  });

  it("m_ll equals the hand loop; m_T and sums of three and of a computed vector work through it", () => {
    const want = new Float64Array(N);
    for (let e = 0; e < N; e++) {
      if (o[e + 1] - o[e] < 2) {
        want[e] = NaN;
        continue;
      }
      const p = [o[e], o[e] + 1].map((j) => {
        const x = raw.pt[j] * Math.cos(raw.phi[j]);
        const y = raw.pt[j] * Math.sin(raw.phi[j]);
        const z = raw.pt[j] * Math.sinh(raw.eta[j]);
        return [x, y, z, Math.sqrt(x * x + y * y + z * z + raw.mass[j] * raw.mass[j])];
      });
      const [E, X, Y, Z] = [3, 0, 1, 2].map((c) => p[0][c] + p[1][c]);
      const m2 = E * E - X * X - Y * Y - Z * Z;
      want[e] = m2 < 0 ? -Math.sqrt(-m2) : Math.sqrt(m2);
    }
    expectSame(vec4(mu.leading(0)).add(vec4(mu.leading(1))).mass, want);
    const three = vec4(mu.leading(0)).add(vec4(mu.leading(1))).add(vec4(jets.leading(0)));
    expectSame(three.mass, stepwise(0).add(stepwise(1)).add(vec4(jets.leading(0).pt, jets.leading(0).eta, jets.leading(0).phi, jets.leading(0).mass)).mass);
    const met = Vec4.fromPtEtaPhiM(Float64Array.from({ length: N }, () => 40), new Float64Array(N), Float64Array.from({ length: N }, (_, e) => e / N));
    expectSame(vec4(mu.leading(0)).add(met).pt, stepwise(0).add(met).pt);
    expectSame(vec4(mu.leading(0)).mt(met), stepwise(0).mt(met));
    // a long chain is evaluated in parts, same numbers
    let chain = vec4(mu.leading(0));
    let ref = stepwise(0);
    for (let k = 0; k < 10; k++) {
      chain = chain.add(vec4(mu.leading(k % 3)));
      ref = ref.add(stepwise(k % 3));
    }
    expectSame(chain.mass, ref.mass);
    expect(() => vec4(mu.leading(0)).add(Vec4.fromPtEtaPhiM(Float64Array.of(1), Float64Array.of(0), Float64Array.of(0)))).toThrow(/adding/);
    // a fill other than NaN: the plain path (fill values as the vector's pT)
    const filled = vec4(mu.leading(1, 0)).pt;
    mu.pt.leading(1, 0).forEach((x, e) => (Number.isNaN(x) ? expect(filled[e]).toBeNaN() : expect(filled[e]).toBeCloseTo(x, 9)));
  });
});

describe("one-pass ΔR cleaning", () => {
  it("the cleaned jets and the mask equal the hand loop (|Δφ| wrapped for φ beyond ±π)", () => {
    const jo = rawJets.offsets;
    const keep = new Uint8Array(rawJets.pt.length);
    for (let e = 0; e < N; e++)
      for (let j = jo[e]; j < jo[e + 1]; j++) {
        let ok = 1;
        for (let k = o[e]; k < o[e + 1]; k++) {
          const d = rawJets.phi[j] - raw.phi[k];
          const dphi = Math.abs(d - 2 * Math.PI * Math.floor((d + Math.PI) / (2 * Math.PI)));
          const deta = rawJets.eta[j] - raw.eta[k];
          if (deta * deta + dphi * dphi <= 0.4 * 0.4) ok = 0;
        }
        keep[j] = ok;
      }
    expectSame(deltaRCleanMask(jets, mu, 0.4).values, keep);
    const clean = deltaRClean(jets, mu, 0.4);
    expectSame(clean.pt.values, rawJets.pt.filter((_, j) => keep[j] === 1));
    expectSame(clean.counts(), Int32Array.from({ length: N }, (_, e) => keep.subarray(jo[e], jo[e + 1]).reduce((a, b) => a + b, 0)));
    const plain = deltaRClean({ eta: jets.eta, phi: jets.phi }, mu, 0.4);
    expectSame(plain.phi.values, clean.phi.values);
  });
});
