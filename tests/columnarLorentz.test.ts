/**
 * Four-vectors against hand-computed values (massless pair mass from m² = 2 pT1 pT2 (cosh Δη − cos Δφ),
 * back-to-back Z → μμ, m_T with known angles) and, per object, against per-element loops.
 */
import { describe, expect, it } from "vitest";
import {
  collection,
  combinations,
  deltaPhi,
  deltaR,
  Jagged,
  JaggedVec4,
  transverseMass,
  Vec4,
  vec4,
  wrapPhi,
} from "../src/histmaker/columnar/index.js";
import { rng } from "./helpers/random.js";

const MU = 0.1056583755;

describe("per-event four-vectors", () => {
  it("Z → μμ at rest: back-to-back muons of 45 GeV", () => {
    const mu1 = vec4(Float64Array.of(45), Float64Array.of(0), Float64Array.of(0), Float64Array.of(MU));
    const mu2 = vec4(Float64Array.of(45), Float64Array.of(0), Float64Array.of(Math.PI), Float64Array.of(MU));
    const z = mu1.add(mu2);
    expect(z.mass[0]).toBeCloseTo(2 * Math.sqrt(45 * 45 + MU * MU), 12);
    expect(z.pt[0]).toBeCloseTo(0, 12);
    expect(mu1.deltaPhi(mu2)[0]).toBeCloseTo(-Math.PI, 12);
  });

  it("pair mass, pT, Δφ, ΔR of two massless leptons from the closed-form formulas", () => {
    const [pt1, eta1, phi1, pt2, eta2, phi2] = [40, 0.5, 0.3, 35, -1.2, 2.9];
    const a = vec4(Float64Array.of(pt1), Float64Array.of(eta1), Float64Array.of(phi1));
    const b = vec4(Float64Array.of(pt2), Float64Array.of(eta2), Float64Array.of(phi2));
    const ll = a.add(b);
    const m = Math.sqrt(2 * pt1 * pt2 * (Math.cosh(eta1 - eta2) - Math.cos(phi1 - phi2)));
    expect(ll.mass[0]).toBeCloseTo(m, 10);
    // by hand: 2·40·35·(cosh 1.7 − cos 2.6) = 2800 · (2.828315 + 0.856889) = 10318.57 → m = 101.5804
    expect(ll.mass[0]).toBeCloseTo(101.5804, 3);
    const ptll = Math.hypot(pt1 * Math.cos(phi1) + pt2 * Math.cos(phi2), pt1 * Math.sin(phi1) + pt2 * Math.sin(phi2));
    expect(ll.pt[0]).toBeCloseTo(ptll, 10);
    expect(a.deltaPhi(b)[0]).toBeCloseTo(phi1 - phi2, 12);
    expect(a.deltaR(b)[0]).toBeCloseTo(Math.hypot(1.7, 2.6), 12);
    expect(a.eta[0]).toBeCloseTo(eta1, 12);
    expect(a.phi[0]).toBeCloseTo(phi1, 12);
    expect(a.p[0]).toBeCloseTo(pt1 * Math.cosh(eta1), 10);
    expect(a.sub(a).mass[0]).toBe(0);
    expect(a.rapidity[0]).toBeCloseTo(eta1, 12); // massless: y = η
  });

  it("Δφ wraps to [−π, π); m_T from its definition", () => {
    expect(wrapPhi(6)).toBeCloseTo(6 - 2 * Math.PI, 14);
    expect(wrapPhi(-6)).toBeCloseTo(2 * Math.PI - 6, 14);
    expect(Array.from(deltaPhi(Float64Array.of(3, -3, 1), Float64Array.of(-3, 3, 1)))).toEqual([
      6 - 2 * Math.PI,
      2 * Math.PI - 6,
      0,
    ]);
    expect(deltaR(0.5, 3, -0.5, -3)[0]).toBeCloseTo(Math.hypot(1, 2 * Math.PI - 6), 14);
    // lepton (40 GeV, φ = 0) against MET (30 GeV, φ = π): m_T = √(2·40·30·2)
    expect(transverseMass(40, 0, 30, Math.PI)[0]).toBeCloseTo(Math.sqrt(4800), 12);
    expect(transverseMass(Float64Array.of(40, 40), 0, 30, Float64Array.of(0, Math.PI / 2))[1]).toBeCloseTo(Math.sqrt(2400), 12);
    const lep = vec4(Float64Array.of(40), Float64Array.of(1.1), Float64Array.of(0));
    const met = vec4(Float64Array.of(30), Float64Array.of(0), Float64Array.of(Math.PI));
    expect(lep.mt(met)[0]).toBeCloseTo(Math.sqrt(4800), 10);
  });

  it("spacelike differences give a negative mass as ROOT's M(); NaN propagates for missing objects", () => {
    const v = Vec4.fromPxPyPzE(Float64Array.of(3, NaN), Float64Array.of(0, 0), Float64Array.of(0, 0), Float64Array.of(0, 1));
    expect(v.mass[0]).toBeCloseTo(-3, 14);
    expect(v.mass[1]).toBeNaN();
  });

  it("refuses arrays of different lengths", () => {
    expect(() => vec4(new Float64Array(2), new Float64Array(3), new Float64Array(2))).toThrow(/different lengths/);
    expect(() => deltaPhi(new Float64Array(2), new Float64Array(3))).toThrow(/different lengths/);
  });
});

describe("per-object four-vectors (jagged)", () => {
  const r = rng(21);
  const rows = Array.from({ length: 400 }, () => Array.from({ length: Math.floor(r() * 5) }, () => r()));
  const pt = Jagged.fromArrays(rows.map((x) => x.map((u) => 5 + 100 * u)), Float32Array);
  const eta = Jagged.fromArrays(rows.map((x) => x.map(() => -2.5 + 5 * r())), Float32Array);
  const phi = Jagged.fromArrays(rows.map((x) => x.map(() => -Math.PI + 2 * Math.PI * r())), Float32Array);
  const mass = Jagged.fromArrays(rows.map((x) => x.map(() => 10 * r())), Float32Array);
  const jets = collection({ pt, eta, phi, mass });
  const p4 = vec4(jets);

  it("round-trips pt, eta, phi, mass per object, with the collection's structure", () => {
    expect(p4).toBeInstanceOf(JaggedVec4);
    expect(p4.offsets).toBe(jets.offsets);
    const close = (a: Jagged, b: Jagged, digits: number) =>
      a.values.forEach((v, i) => expect(v).toBeCloseTo(b.values[i], digits));
    close(p4.pt, pt, 9);
    close(p4.eta, eta, 9);
    close(p4.phi, phi, 9);
    close(p4.mass, mass, 6);
  });

  it("pair masses via combinations equal m² = m1² + m2² + 2(E1E2 − p1·p2) per pair", () => {
    const [j1, j2] = combinations(jets, 2);
    const mjj = vec4(j1).add(vec4(j2)).mass;
    let n = 0;
    for (let e = 0; e < rows.length; e++) {
      const o = jets.offsets[e];
      const c = jets.offsets[e + 1] - o;
      let w = mjj.offsets[e];
      for (let a = 0; a < c; a++)
        for (let b = a + 1; b < c; b++) {
          const P = [o + a, o + b].map((i) => {
            const [t, h, f, m] = [pt.values[i], eta.values[i], phi.values[i], mass.values[i]];
            const v = [t * Math.cos(f), t * Math.sin(f), t * Math.sinh(h)];
            return { v, E: Math.sqrt(v[0] ** 2 + v[1] ** 2 + v[2] ** 2 + m * m), m };
          });
          const m2 = P[0].m ** 2 + P[1].m ** 2 + 2 * (P[0].E * P[1].E - P[0].v.reduce((s, x, k) => s + x * P[1].v[k], 0));
          expect(mjj.values[w++]).toBeCloseTo(Math.sqrt(m2), 6);
          n++;
        }
    }
    expect(n).toBeGreaterThan(300);
    // the same pairs from the four-vectors directly
    const [v1, v2] = combinations(p4, 2);
    expect(v1).toBeInstanceOf(JaggedVec4);
    v1.add(v2).mass.values.forEach((m, i) => expect(m).toBeCloseTo(mjj.values[i], 9));
  });

  it("vec4 of a collection's leading objects: a per-event Vec4, NaN where absent", () => {
    const sorted = jets.sortBy("pt");
    const lead = vec4(sorted.leading(0));
    const sub = vec4(sorted.leading(1));
    expect(lead).toBeInstanceOf(Vec4);
    const ref = vec4(sorted);
    const mjj = lead.add(sub).mass;
    const want = ref.leading(0).add(ref.leading(1)).mass;
    mjj.forEach((m, e) => (Number.isNaN(want[e]) ? expect(m).toBeNaN() : expect(m).toBeCloseTo(want[e], 9)));
    expect(mjj.some((m) => Number.isNaN(m))).toBe(true);
    expect(() => vec4({ pt: new Float64Array(1) } as never)).toThrow(/no per-event "eta" array/);
  });

  it("leading, sum, mask, take, ΔR/Δφ between same-structure arrays; Δφ to a per-event φ", () => {
    const sorted = p4.take(p4.pt.argsort(true));
    const lead = sorted.leading(0);
    const sub = sorted.leading(1);
    const mjj = lead.add(sub).mass;
    const sum = p4.sum();
    for (let e = 0; e < rows.length; e++) {
      const c = rows[e].length;
      if (c < 2) expect(mjj[e]).toBeNaN();
      else expect(lead.pt[e]).toBeGreaterThanOrEqual(sub.pt[e]);
      if (c === 0) expect(sum.mass[e]).toBe(0);
      if (c === 2) expect(sum.mass[e]).toBeCloseTo(mjj[e], 9);
    }
    const masked = p4.mask(p4.pt.gt(50));
    expect(masked.pt.toArrays()).toEqual(p4.pt.toArrays().map((x) => x.filter((v) => v > 50)));
    const dphi = p4.deltaPhi(sorted);
    const want = p4.phi.sub(sorted.phi).values.map(wrapPhi);
    dphi.values.forEach((v, i) => expect(v).toBeCloseTo(want[i], 12));
    const dr = p4.deltaR(p4);
    expect(dr.values.every((v) => v === 0)).toBe(true);
    const metPhi = Float64Array.from(rows, (_, e) => (e % 7) - 3);
    const toMet = deltaPhi(phi, metPhi);
    expect(toMet.offsets).toBe(phi.offsets);
    toMet.values.forEach((v, i) => expect(v).toBeCloseTo(wrapPhi(phi.values[i] - metPhi[phi.parents()[i]]), 12));
    expect(() => p4.add(vec4(jets.firstN(1)))).toThrow(/different numbers of objects/);
  });

  it("from px, py, pz, E and from explicit jagged arrays", () => {
    const again = JaggedVec4.fromPxPyPzE(
      new Jagged(p4.offsets, p4.px),
      new Jagged(p4.offsets, p4.py),
      new Jagged(p4.offsets, p4.pz),
      new Jagged(p4.offsets, p4.e),
    );
    expect(Array.from(again.mass.values)).toEqual(Array.from(p4.mass.values));
    const massless = vec4(pt, eta, phi);
    massless.mass.values.forEach((m) => expect(Math.abs(m)).toBeLessThan(1e-5));
    expect(() => vec4(collection({ pt, eta }))).toThrow(/no "phi" field/);
  });
});
