/**
 * Impacts (fitter/impacts.ts, `fit --impacts`): traditional and grouped impacts against
 * ../shared/reference/ref_fit.py --impacts (expected JSONs committed, commands in
 * tests/fixtures/README-ref.md), stat and global impacts against ml-matrix inverses of the relevant
 * blocks of a small synthetic Hessian, frozen parameters, JSON keys, and the CLI switch.
 */
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import h5wasm from "h5wasm/node";
import { Matrix, inverse } from "ml-matrix";
import { main } from "../src/cli/fit.js";
import { readTensor } from "../src/tensor/TensorReader.js";
import { fit } from "../fitter/fit.js";
import { Float64Evaluator } from "../fitter/Float64Evaluator.js";
import { buildLikelihoodSpec } from "../fitter/likelihoodSpec.js";
import { computeImpacts, impactKeys, impactsJson, type ImpactOptions } from "../fitter/impacts.js";
import { rng } from "./helpers/random.js";

const fixtures = join(dirname(fileURLToPath(import.meta.url)), "fixtures");
const work = mkdtempSync(join(tmpdir(), "fitimpacts-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function toMatrix(a: Float64Array, n: number): Matrix {
  return new Matrix(Array.from({ length: n }, (_, i) => Array.from(a.subarray(i * n, (i + 1) * n))));
}

function flat(m: Matrix): Float64Array {
  return Float64Array.from(m.to1DArray());
}

function block(m: Matrix, idx: number[]): Matrix {
  return m.selection(idx, idx);
}

/**
 * A synthetic fit: H = JᵀJ + W (data part plus Gaussian constraints), parameters
 * 0,1 POIs; 2 a free systematic; 3..8 constrained (8 a constrained NOI, cw 4 on 5); 9 frozen.
 */
function syntheticFit() {
  const n = 10;
  const frozen = 9;
  const cw = Float64Array.from([0, 0, 0, 1, 1, 4, 1, 1, 1, 1]);
  const r = rng(7);
  const nb = 14;
  const J = Matrix.zeros(nb, n);
  for (let b = 0; b < nb; b++) for (let j = 0; j < n; j++) J.set(b, j, r() - 0.3);
  const hData = J.transpose().mmul(J);
  const H = hData.clone();
  for (let i = 0; i < n; i++) H.set(i, i, H.get(i, i) + cw[i]);
  // the frozen parameter takes no part: C is the inverse of the other block, zero row/column for it
  const live = Array.from({ length: n }, (_, i) => i).filter((i) => i !== frozen);
  const cLive = inverse(block(H, live));
  const C = Matrix.zeros(n, n);
  live.forEach((a, ia) => live.forEach((b, ib) => C.set(a, b, cLive.get(ia, ib))));
  const names = Array.from({ length: n }, (_, i) => (i < 2 ? `mu${i}` : `th${i}`));
  const opts: ImpactOptions = {
    targets: [0, 1, 8],
    sources: Array.from({ length: n - 2 }, (_, k) => 2 + k),
    names,
    groups: [
      { name: "A", indices: [3, 4, 9] },
      { name: "all", indices: [2, 3, 4, 5, 6, 7, 8, 9] },
      { name: "th4", indices: [4, 5] },
    ],
    constraintWeights: cw,
    hessian: flat(H),
    threads: 2,
  };
  return { n, frozen, cw, H, hData, C, live, opts };
}

describe("computeImpacts on a synthetic Hessian", () => {
  const s = syntheticFit();
  const table = computeImpacts(flat(s.C), s.n, s.opts);
  const nn = table.nuisances.length;
  const ng = table.groups.length;

  it("drops frozen parameters from the sources and the groups", () => {
    expect(table.targets).toEqual(["mu0", "mu1", "th8"]);
    expect(table.nuisanceIndices).toEqual([2, 3, 4, 5, 6, 7, 8]);
    expect(table.constrained).toEqual([false, true, true, true, true, true, true]);
    // group A = {3, 4, frozen 9} is the group {3, 4}
    const only34 = computeImpacts(flat(s.C), s.n, { ...s.opts, groups: [{ name: "B", indices: [3, 4] }] });
    for (let k = 0; k < 3; k++) expect(table.grouped[k * ng]).toBe(only34.grouped[k]);
  });

  it("traditional impacts are C_ij/√C_jj and grouped impacts match an ml-matrix inverse of C_GG", () => {
    table.targetIndices.forEach((t, k) => {
      table.nuisanceIndices.forEach((j, c) => {
        expect(table.traditional[k * nn + c]).toBeCloseTo(s.C.get(t, j) / Math.sqrt(s.C.get(j, j)), 14);
      });
      s.opts.groups.forEach((g, gi) => {
        const members = g.indices.filter((j) => j !== s.frozen);
        const v = Matrix.rowVector(members.map((j) => s.C.get(t, j)));
        const want = Math.sqrt(v.mmul(inverse(block(s.C, members))).mmul(v.transpose()).get(0, 0));
        expect(Math.abs(table.grouped[k * ng + gi] / want - 1)).toBeLessThan(1e-10);
      });
    });
  });

  it("stat impact: ml-matrix inverse of the POI + unconstrained block (plus the target if constrained)", () => {
    table.targetIndices.forEach((t, k) => {
      const S = [0, 1, 2];
      if (!S.includes(t)) S.push(t);
      const want = Math.sqrt(inverse(block(s.H, S)).get(S.indexOf(t), S.indexOf(t)));
      expect(Math.abs(table.stat[k] / want - 1)).toBeLessThan(1e-10);
    });
  });

  it("a group of every systematic and stat add up to the total variance (Schur complement)", () => {
    // "all" holds every live systematic, so its complement is the POIs P: C_ii − v C_GG⁻¹ vᵀ = (H_PP⁻¹)_ii
    for (const k of [0, 1]) {
      const t = table.targetIndices[k];
      const total = s.C.get(t, t);
      const grouped = table.grouped[k * ng + 1];
      expect(grouped * grouped).toBeLessThanOrEqual(total * (1 + 1e-12));
      const statPoisOnly = inverse(block(s.H, [0, 1])).get(t, t);
      expect(Math.abs((grouped * grouped + statPoisOnly) / total - 1)).toBeLessThan(1e-10);
    }
  });

  it("global impacts √cw_j C_ij; data stat² = (C (H − W) C)_ii, the data Hessian's share", () => {
    const cHdC = s.C.mmul(s.hData).mmul(s.C);
    table.targetIndices.forEach((t, k) => {
      table.nuisanceIndices.forEach((j, c) => {
        const want = s.cw[j] > 0 ? Math.sqrt(s.cw[j]) * s.C.get(t, j) : 0;
        expect(table.global[k * nn + c]).toBeCloseTo(want, 14);
      });
      expect(Math.abs(table.dataStat[k] / Math.sqrt(cHdC.get(t, t)) - 1)).toBeLessThan(1e-9);
      // groups add their members' global impacts in quadrature (group "th4" = {4, 5})
      const g45 = Math.hypot(Math.sqrt(s.cw[4]) * s.C.get(t, 4), Math.sqrt(s.cw[5]) * s.C.get(t, 5));
      expect(table.globalGrouped[k * ng + 2]).toBeCloseTo(g45, 14);
    });
  });

  it("scale multiplies each target's row (square-mode POIs), stat included", () => {
    const scale = Float64Array.from({ length: s.n }, (_, i) => (i === 0 ? -3 : 1));
    const scaled = computeImpacts(flat(s.C), s.n, { ...s.opts, scale });
    for (let c = 0; c < nn; c++) {
      expect(scaled.traditional[c]).toBeCloseTo(-3 * table.traditional[c], 14);
      expect(scaled.global[c]).toBeCloseTo(-3 * table.global[c], 14);
      expect(scaled.traditional[nn + c]).toBe(table.traditional[nn + c]);
    }
    expect(scaled.grouped[0]).toBeCloseTo(3 * table.grouped[0], 13);
    expect(scaled.stat[0]).toBeCloseTo(3 * table.stat[0], 13);
    expect(scaled.dataStat[0]).toBeCloseTo(3 * table.dataStat[0], 13);
  });

  it("JSON: group keys plain unless they clash with a nuisance name; stat without a Hessian is null", () => {
    expect(impactKeys(table)).toEqual({ groups: ["A", "all", "group:th4"], stat: "stat" });
    const j = impactsJson(computeImpacts(flat(s.C), s.n, { ...s.opts, hessian: undefined }));
    expect(Object.keys(j.impacts)).toEqual(["mu0", "mu1", "th8"]);
    expect(j.impacts.mu0.th3).toBe(table.traditional[1]);
    expect(j.impacts.mu0["group:th4"]).toBe(table.grouped[2]);
    expect(j.impacts.mu0.stat).toBeNull();
    // global impacts list only constrained nuisances; "stat" there is the data-statistics part
    expect(Object.keys(j.global_impacts.mu0)).not.toContain("th2");
    expect(j.global_impacts.mu0.stat).toBe(table.dataStat[0]);
  });
});

interface RefImpacts {
  poi_mode: "linear" | "square";
  names: string[];
  errors: number[];
  impacts: Record<string, Record<string, number>>;
}

describe.each([
  { label: "dense symmetric", file: "ref_dense.hdf5", ref: "ref_dense.impacts.expected.json" },
  { label: "two signals in square mode", file: "ref_square2.hdf5", ref: "ref_square2.impacts.expected.json" },
])("fit impacts vs ref_fit.py --impacts: $label", ({ file, ref }) => {
  it("traditional and grouped impacts within 1e-6 relative", async () => {
    const want = JSON.parse(readFileSync(join(fixtures, ref), "utf8")) as RefImpacts;
    const model = await readTensor(join(fixtures, file));
    const result = await fit(model, { poiMode: want.poi_mode, impacts: true, threads: 2, skipYields: true });
    expect(result.status).toBe("converged");
    expect(result.timing.impacts_s).toBeGreaterThanOrEqual(0);
    const got = impactsJson(result.impacts!).impacts;
    expect(Object.keys(got)).toEqual(Object.keys(want.impacts));
    let compared = 0;
    for (const [poi, row] of Object.entries(want.impacts)) {
      // structural zeros (a systematic that does not touch this signal) are ~1e-16 in both: floor
      const floor = 1e-9 * want.errors[want.names.indexOf(poi)];
      for (const [key, value] of Object.entries(row)) {
        const ours = got[poi][key.startsWith("group:") ? key.slice("group:".length) : key];
        expect(Math.abs((ours as number) - value), `${poi} ${key}`).toBeLessThanOrEqual(1e-6 * Math.abs(value) + floor);
        compared++;
      }
    }
    // every systematic and both groups on every POI
    expect(compared).toBe(Object.keys(want.impacts).length * (model.systs.length + model.systGroups.length));
  });
});

describe("fit --impacts on a fit with frozen parameters", () => {
  it("excludes them; stat = 1/√H_μμ from an independent Hessian; data stat² + Σ global² = C_ii", async () => {
    const model = await readTensor(join(fixtures, "ref_dense.hdf5"));
    const result = await fit(model, { impacts: true, freeze: "syst000[0-2]", threads: 2, skipYields: true });
    expect(result.status).toBe("converged");
    const t = result.impacts!;
    const n = result.parameters.length;
    expect(t.nuisances).not.toContain("syst0000");
    expect(t.nuisances).toHaveLength(model.systs.length - 3);
    // grouped "even" = the even systematics minus the frozen 0 and 2
    const C = toMatrix(result.covariance, n);
    const members = model.systGroups[0].indices.map((s) => 1 + s).filter((j) => j > 3);
    const v = Matrix.rowVector(members.map((j) => C.get(0, j)));
    const want = Math.sqrt(v.mmul(inverse(block(C, members))).mmul(v.transpose()).get(0, 0));
    expect(Math.abs(t.grouped[0] / want - 1)).toBeLessThan(1e-9);
    // every systematic is constrained: stat is the POI's own curvature
    const evaluator = new Float64Evaluator(buildLikelihoodSpec(model, { poiMode: "linear", bbb: result.bbb, data: model.dataObs }), { threads: 2 });
    try {
      const h = evaluator.hessian(result.x);
      expect(Math.abs(t.stat[0] * Math.sqrt(h[0]) - 1)).toBeLessThan(1e-6);
    } finally {
      evaluator.dispose();
    }
    let sq = 0;
    for (let c = 0; c < t.nuisances.length; c++) sq += t.global[c] ** 2;
    expect(Math.abs((sq + t.dataStat[0] ** 2) / C.get(0, 0) - 1)).toBeLessThan(1e-12);
    expect(t.dataStat[0]).toBeGreaterThan(t.stat[0]);
  });
});

describe("fit CLI --impacts", () => {
  afterEach(() => vi.restoreAllMocks());

  async function runFitCli(args: string[]): Promise<void> {
    vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const saved = process.exitCode;
    try {
      await main(["node", "fit", ...args]);
      expect(process.exitCode ?? 0).toBe(0);
    } finally {
      process.exitCode = saved;
      vi.restoreAllMocks();
    }
  }

  it("adds impacts and global_impacts to fitresults.json and an impacts group to fitresults.hdf5; absent without it", async () => {
    const fixture = join(fixtures, "ref_dense.hdf5");
    const withOut = join(work, "with");
    const withoutOut = join(work, "without");
    await runFitCli([fixture, "-o", withOut, "--impacts"]);
    await runFitCli([fixture, "-o", withoutOut]);
    const j = JSON.parse(readFileSync(join(withOut, "fitresults.json"), "utf8")) as Record<string, Record<string, Record<string, number>>>;
    expect(Object.keys(j.impacts)).toEqual(["sig0"]);
    expect(Object.keys(j.impacts.sig0)).toEqual(expect.arrayContaining(["syst0000", "syst0019", "even", "odd", "stat"]));
    expect(j.global_impacts.sig0.stat).toBeGreaterThan(0);
    expect(j.timing).toHaveProperty("impacts_s");
    const plain = JSON.parse(readFileSync(join(withoutOut, "fitresults.json"), "utf8")) as Record<string, Record<string, unknown>>;
    expect(plain).not.toHaveProperty("impacts");
    expect(plain).not.toHaveProperty("global_impacts");
    expect(plain.timing).not.toHaveProperty("impacts_s");

    await h5wasm.ready;
    const f = new h5wasm.File(join(withOut, "fitresults.hdf5"), "r");
    try {
      expect(f.keys()).toContain("impacts");
      const nuis = f.get("impacts/nuisances") as InstanceType<typeof h5wasm.Dataset>;
      const trad = f.get("impacts/traditional") as InstanceType<typeof h5wasm.Dataset>;
      expect(trad.shape).toEqual([1, 20]);
      const names = nuis.value as string[];
      const values = trad.value as Float64Array;
      expect(values[names.indexOf("syst0003")]).toBe(j.impacts.sig0.syst0003);
      expect(Array.from((f.get("impacts/grouped") as InstanceType<typeof h5wasm.Dataset>).value as Float64Array)).toEqual([j.impacts.sig0.even, j.impacts.sig0.odd]);
    } finally {
      f.close();
    }
    const g = new h5wasm.File(join(withoutOut, "fitresults.hdf5"), "r");
    try {
      expect(g.keys()).not.toContain("impacts");
    } finally {
      g.close();
    }
  });
});
