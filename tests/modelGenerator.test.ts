import { describe, expect, it } from "vitest";
import { UserError } from "../src/errors.js";
import { asymmetryStep, generateModel, generateModelWithTruth } from "../src/tensor/modelGenerator.js";
import { logGamma, SeededRandom } from "../src/tensor/seededRandom.js";
import type { TensorModel } from "../src/tensor/types.js";
import { generateWmassModel, WMASS_NBINS, WMASS_NOI, WMASS_NSYSTS } from "../src/tensor/wmassPreset.js";

/** entries of one log κ column: row → value */
function column(m: TensorModel, col: number): Map<number, number> {
  const out = new Map<number, number>();
  const { rowPtr, cols, values, nrows } = m.logk;
  for (let r = 0; r < nrows; r++) for (let k = rowPtr[r]; k < rowPtr[r + 1]; k++) if (cols[k] === col) out.set(r, values[k]);
  return out;
}

function mean(xs: number[]): number {
  return xs.reduce((s, v) => s + v, 0) / xs.length;
}
function variance(xs: number[]): number {
  const m = mean(xs);
  return xs.reduce((s, v) => s + (v - m) ** 2, 0) / (xs.length - 1);
}

describe("SeededRandom", () => {
  it("is deterministic by seed and differs between seeds", () => {
    const a = new SeededRandom(7);
    const b = new SeededRandom(7);
    const c = new SeededRandom(8);
    const xa = Array.from({ length: 5 }, () => a.random());
    expect(Array.from({ length: 5 }, () => b.random())).toEqual(xa);
    expect(Array.from({ length: 5 }, () => c.random())).not.toEqual(xa);
    for (const x of xa) expect(x >= 0 && x < 1).toBe(true);
  });

  it("draws with the right moments (uniform, normal, gamma, Dirichlet, Poisson)", () => {
    const r = new SeededRandom(3);
    const n = 40000;
    const u = Array.from({ length: n }, () => r.random());
    expect(Math.abs(mean(u) - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / n));
    const z = Array.from({ length: n }, () => r.normal(2, 3));
    expect(Math.abs(mean(z) - 2)).toBeLessThan(5 * 3 / Math.sqrt(n));
    expect(Math.abs(variance(z) / 9 - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
    for (const shape of [0.5, 2, 7.5]) {
      const g = Array.from({ length: n }, () => r.gamma(shape));
      expect(Math.abs(mean(g) - shape)).toBeLessThan(5 * Math.sqrt(shape / n));
      expect(Math.abs(variance(g) / shape - 1)).toBeLessThan(0.1);
    }
    const d = r.dirichlet([2, 2, 2, 2]);
    expect(d.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 14);
    for (const lam of [0.7, 3, 25, 1000, 2.5e5]) {
      const k = Array.from({ length: n }, () => r.poisson(lam));
      for (const v of k.slice(0, 100)) expect(Number.isInteger(v) && v >= 0).toBe(true);
      expect(Math.abs(mean(k) - lam)).toBeLessThan(5 * Math.sqrt(lam / n));
      expect(Math.abs(variance(k) / lam - 1)).toBeLessThan(5 * Math.sqrt(2 / n) + 0.01);
    }
    expect(r.poisson(0)).toBe(0);
    expect(() => r.poisson(-1)).toThrow(RangeError);
  });

  it("logGamma matches known values", () => {
    expect(logGamma(5)).toBeCloseTo(Math.log(24), 12);
    expect(logGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 12);
    expect(logGamma(101)).toBeCloseTo(363.73937555556347, 9); // log(100!)
  });
});

describe("asymmetryStep", () => {
  it("is the smooth step of the likelihood spec", () => {
    expect(asymmetryStep(0)).toBe(0);
    expect(asymmetryStep(0.5)).toBe(1);
    expect(asymmetryStep(-2)).toBe(-1);
    const t = 0.5; // θ = 0.25
    expect(asymmetryStep(0.25)).toBeCloseTo((t * (3 * t ** 4 - 10 * t ** 2 + 15)) / 8, 15);
  });
});

describe("generateModel", () => {
  it("has the requested sizes and the generator's structure", () => {
    const m = generateModel({ bins: 96, procs: 3, signals: 1, systs: 30, seed: 4, local: 0.2 });
    expect(m.nbins).toBe(96);
    expect(m.nbinsFull).toBe(96);
    expect(m.procs).toEqual(["sig0", "bkg0", "bkg1"]);
    expect(m.signals).toEqual(["sig0"]);
    expect(m.systs).toEqual(Array.from({ length: 30 }, (_, i) => `syst${String(i).padStart(4, "0")}`));
    expect(m.systGroups.map((g) => [g.name, g.indices.length])).toEqual([["even", 15], ["odd", 15]]);
    expect(m.symmetric).toBe(true);
    expect(m.storage).toBe("dense");
    expect(m.channels[0].axes[0].edges?.length).toBe(97);
    expect(Array.from(m.constraintWeights).every((w) => w === 1)).toBe(true);
    // 6 local systematics: ≤ 2 neighbouring bins (96 / 48), all processes, one common value
    for (let s = 0; s < 6; s++) {
      const c = column(m, s);
      const bins = new Set([...c.keys()].map((r) => Math.floor(r / 3)));
      expect(c.size).toBe(bins.size * 3);
      expect(bins.size).toBeLessThanOrEqual(2);
      expect(new Set(c.values()).size).toBe(1);
    }
    // s % 3 == 0 beyond the local ones: a positive normalisation of one process in every bin
    for (const s of [6, 9, 12]) {
      const c = column(m, s);
      expect(c.size).toBe(96);
      expect(new Set([...c.keys()].map((r) => r % 3)).size).toBe(1);
      const v = [...c.values()][0];
      expect(v).toBeGreaterThan(0);
      expect([...c.values()].every((x) => x === v)).toBe(true);
    }
    // expected events per bin average to --events
    let total = 0;
    for (const v of m.norm) total += v;
    expect(total / 96).toBeCloseTo(1e4, 6);
    expect(Array.from(m.sumw2 as Float64Array).every((v) => v === 0)).toBe(true);
  });

  it("is deterministic by seed", () => {
    const a = generateModel({ seed: 11, systs: 20, bins: 50, asym: true });
    const b = generateModel({ seed: 11, systs: 20, bins: 50, asym: true });
    const c = generateModel({ seed: 12, systs: 20, bins: 50, asym: true });
    expect(Array.from(b.dataObs)).toEqual(Array.from(a.dataObs));
    expect(Array.from(b.norm)).toEqual(Array.from(a.norm));
    expect(Array.from(b.logk.values)).toEqual(Array.from(a.logk.values));
    expect(Array.from(b.logk.cols)).toEqual(Array.from(a.logk.cols));
    expect(Array.from(c.dataObs)).not.toEqual(Array.from(a.dataObs));
  });

  it("draws Poisson data around the shifted truth", () => {
    const { model: m, truth } = generateModelWithTruth({ bins: 400, systs: 40, procs: 4, signals: 2, seed: 5, asym: true });
    expect(truth.mu.length).toBe(2);
    const nproc = m.procs.length;
    const nsyst = m.systs.length;
    const theta = m.systs.map((s) => truth.theta.get(s) as number);
    let chi2 = 0;
    for (let b = 0; b < m.nbins; b++) {
      let nu = 0;
      for (let p = 0; p < nproc; p++) {
        const r = b * nproc + p;
        let e = 0;
        for (let k = m.logk.rowPtr[r]; k < m.logk.rowPtr[r + 1]; k++) {
          const c = m.logk.cols[k];
          const s = c % nsyst;
          e += c < nsyst ? theta[s] * m.logk.values[k] : theta[s] * asymmetryStep(theta[s]) * m.logk.values[k];
        }
        nu += (p < 2 ? truth.mu[p] : 1) * m.norm[r] * Math.exp(e);
      }
      chi2 += (m.dataObs[b] - nu) ** 2 / nu;
      expect(Number.isInteger(m.dataObs[b])).toBe(true);
    }
    // a wrong truth (say without the θ shift) would give chi2 ≫ nbins at 1e4 events per bin
    expect(Math.abs(chi2 - 400)).toBeLessThan(5 * Math.sqrt(800));
  });

  it("asym adds half-differences proportional to the average", () => {
    const m = generateModel({ bins: 48, systs: 9, asym: true, seed: 2 });
    expect(m.symmetric).toBe(false);
    expect(m.logk.ncols).toBe(18);
    for (let s = 0; s < 9; s++) {
      const avg = column(m, s);
      const half = column(m, 9 + s);
      const ratios = [...half.entries()].map(([r, v]) => v / (avg.get(r) as number));
      expect(ratios.length).toBe(avg.size);
      for (const q of ratios) {
        expect(Math.abs(q)).toBeLessThanOrEqual(0.3);
        expect(q).toBeCloseTo(ratios[0], 12);
      }
    }
  });

  it("pairs make odd systematics near-copies of the previous one", () => {
    const nb = 60;
    const m = generateModel({ bins: nb, systs: 8, pairs: true, seed: 9, local: 0.25 });
    for (let s = 1; s < 8; s += 2) {
      const prev = column(m, s - 1);
      const cur = column(m, s);
      expect(cur.size).toBe(prev.size);
      for (const [r, v] of prev) {
        const x = (Math.floor(r / 4) + 0.5) / nb;
        expect(cur.get(r) as number).toBeCloseTo(v * (1 + 0.01 * Math.sin(3 * Math.PI * x)), 14);
      }
    }
  });

  it("bbb fills sumw2 = norm / mcstat; sparse sets the storage", () => {
    const m = generateModel({ bins: 20, systs: 3, bbb: true, mcstat: 8, sparse: true });
    expect(m.storage).toBe("sparse");
    const w2 = m.sumw2 as Float64Array;
    for (let i = 0; i < m.norm.length; i++) expect(w2[i]).toBeCloseTo(m.norm[i] / 8, 10);
  });

  it("rejects bad options with UserError", () => {
    expect(() => generateModel({ bins: 0 })).toThrow(UserError);
    expect(() => generateModel({ procs: 2, signals: 3 })).toThrow(/--signals/);
    expect(() => generateModel({ local: 1.5 })).toThrow(/--local/);
    expect(() => generateModel({ events: -1 })).toThrow(/--events/);
    expect(() => generateModel({ systs: 2.5 })).toThrow(/--systs/);
  });
});

describe("generateWmassModel", () => {
  const { model: m, truth } = generateWmassModel({ seed: 1 });

  it("has the size of the W-mass fit", () => {
    expect(m.nbins).toBe(2880);
    expect(WMASS_NBINS).toBe(2880);
    expect(m.systs.length).toBe(4859);
    expect(WMASS_NSYSTS).toBe(4859);
    expect(m.procs.length).toBe(10);
    expect(m.signals).toEqual(["Wmunu"]);
    expect(m.procs[0]).toBe("Wmunu");
    expect(m.storage).toBe("sparse");
    expect(m.noiIndices).toEqual([m.systs.indexOf(WMASS_NOI)]);
    expect(truth.theta.get(WMASS_NOI)).toBe(0.5);
    const axes = m.channels[0].axes;
    expect(axes.map((a) => a.name)).toEqual(["eta", "pt", "charge"]);
    expect(axes[0].edges?.length).toBe(49);
    expect(axes[1].edges?.length).toBe(31);
    expect(axes[2].categories).toEqual([-1, 1]);
    // the analysis' proportions
    const count = (prefix: string): number => m.systs.filter((s) => s.startsWith(prefix)).length;
    expect(count("eff")).toBe(3534);
    expect(count("nonprompt_")).toBe(387);
    expect(count("angCoeff_")).toBe(353);
    expect(count("scaleW_")).toBe(176);
    expect(count("muonScale_")).toBe(338);
    expect(count("pdf_")).toBe(60);
    expect(count("norm_")).toBe(9);
    // ~5M non-zeros (counted from the booking pattern: bins × processes per nuisance)
    const expected = 2784 * 30 * 9 + 343 * 60 * 9 + 407 * 60 * 2 + 387 * 30 + 353 * 2880 * 2 + 176 * 2880 * 2 +
      338 * 60 * 9 + 60 * 2880 * 4 + 9 * 2880 + 2880 * 2 + 2880;
    expect(m.logk.values.length).toBe(expected);
    const g = new Map(m.systGroups.map((x) => [x.name, x.indices.length]));
    expect(g.get("muonEff")).toBe(3534);
    expect(g.get("massShift")).toBe(1);
  });

  it("keeps efficiency statistics local in η × charge", () => {
    const col = m.systs.indexOf("effStat_eta3_q1_7");
    const rows = [...column(m, col).keys()];
    expect(rows.length).toBe(30 * 9);
    for (const r of rows) {
      const bin = Math.floor(r / 10);
      expect(Math.floor(bin / 60)).toBe(3); // η index
      expect(bin % 2).toBe(1); // charge index
      expect(m.procs[r % 10]).not.toBe("Nonprompt");
    }
  });

  it("is deterministic by seed", () => {
    const again = generateWmassModel({ seed: 1, dense: true }).model;
    expect(again.storage).toBe("dense");
    expect(Array.from(again.dataObs)).toEqual(Array.from(m.dataObs));
    expect(again.logk.values.length).toBe(m.logk.values.length);
    expect(again.logk.values[12345]).toBe(m.logk.values[12345]);
    const other = generateWmassModel({ seed: 2 }).model;
    expect(Array.from(other.dataObs)).not.toEqual(Array.from(m.dataObs));
  });
});
