/**
 * Scans, 2D scans, contours and MINOS against an independent float64 profile: brute-force scipy
 * refits of ref_fit.py's likelihood (tests/python/postfit_ref.py), on dense, sparse + asymmetric +
 * Barlow–Beeston and two-POI square-mode models. Bars: 2ΔNLL within 1e-4, MINOS crossings within
 * 1e-5 σ. And on a model whose profile is exactly quadratic, MINOS equals the Hessian error.
 */
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { readTensor } from "../src/tensor/TensorReader.js";
import { fit } from "../fitter/fit.js";
import type { PoiMode } from "../fitter/likelihoodSpec.js";
import { chi2TwoDofLevel } from "../fitter/postfit/normal.js";
import { fixture, smallModel } from "./fixtures/tensorFiles.js";
import { postfitRef, pythonSkip } from "./helpers/postfitRef.js";

interface RefProfile {
  best_nll: number;
  twice_dnll: number[];
  minos: Record<string, [number, number]>;
}

const cases = [
  { label: "dense symmetric", file: "ref_dense.hdf5", ref: "ref_dense.expected.json", scan: ["sig0", "syst0003"], pair: ["sig0", "syst0001"] },
  { label: "sparse asymmetric with BB-lite", file: "ref_sparse_asym_bbb.hdf5", ref: "ref_sparse_asym_bbb.expected.json", scan: ["sig0", "syst0002"], pair: ["sig0", "syst0000"] },
  { label: "two POIs, square mode", file: "ref_square2.hdf5", ref: "ref_square2.expected.json", scan: ["sig1", "syst0001"], pair: ["sig0", "sig1"] },
];

describe.each(cases)("post-fit profiles vs scipy refits: $label", ({ file, ref, scan, pair }) => {
  it.skipIf(pythonSkip !== null)("scans, 2D scan, contour points and MINOS", async () => {
    const want = JSON.parse(readFileSync(fixture(ref), "utf8")) as { bbb: boolean; poi_mode: PoiMode };
    const model = await readTensor(fixture(file));
    const result = await fit(model, {
      poiMode: want.poi_mode,
      bbb: want.bbb,
      threads: 2,
      skipYields: true,
      postfit: {
        scan,
        scanPoints: 9,
        scan2d: [pair.join(",")],
        contour: [pair.join(",")],
        contourPoints: 8,
        minos: [...scan, ...pair],
      },
    });
    expect(result.status, result.message).toBe("converged");
    const pf = result.postfit!;
    expect(pf.message).toBe("");
    const names = result.parameters.map((p) => p.name);
    const idx = (n: string): number => names.indexOf(n);
    // every point we computed, with what we got for it
    const points: Array<Record<string, number>> = [];
    const ours: number[] = [];
    for (const nm of scan) {
      const s = pf.scans![nm];
      expect(s.values).toHaveLength(9);
      expect(s.converged.every(Boolean)).toBe(true);
      s.values.forEach((v, k) => {
        points.push({ [idx(nm)]: v });
        ours.push(s.twiceDnll[k]);
      });
    }
    const s2 = pf.scans2d![pair.join(",")];
    s2.x.forEach((x, i) =>
      s2.y.forEach((y, j) => {
        points.push({ [idx(pair[0])]: x, [idx(pair[1])]: y });
        ours.push(s2.twiceDnll[i][j]);
      }),
    );
    const c = pf.contours![pair.join(",")];
    expect(c.levels).toEqual([1, 2]);
    c.points.forEach((pts, l) =>
      pts.forEach(([x, y], k) => {
        expect(c.converged[l][k]).toBe(true);
        points.push({ [idx(pair[0])]: x, [idx(pair[1])]: y });
        ours.push(chi2TwoDofLevel(c.levels[l]));
      }),
    );
    const minosIdx = [...scan, ...pair].map(idx);
    const r = postfitRef<RefProfile>({ cmd: "profile", file: fixture(file), bbb: want.bbb, poi_mode: want.poi_mode, points, minos: minosIdx });
    expect(Math.abs(r.best_nll - result.nll)).toBeLessThan(1e-8);
    let worst = 0;
    ours.forEach((v, k) => (worst = Math.max(worst, Math.abs(v - r.twice_dnll[k]))));
    console.log(`${file}: ${ours.length} points, worst 2ΔNLL deviation ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-4);
    for (const i of minosIdx) {
      const p = result.parameters[i];
      const [lo, up] = r.minos[String(i)];
      expect(Math.abs(p.minos!.lower! - lo) / p.error, `${p.name} lower`).toBeLessThan(1e-5);
      expect(Math.abs(p.minos!.upper! - up) / p.error, `${p.name} upper`).toBeLessThan(1e-5);
    }
    // the scan passes through the minimum: 2ΔNLL = 0 at x̂ (odd number of points, symmetric grid)
    for (const nm of scan) expect(Math.abs(pf.scans![nm].twiceDnll[4])).toBeLessThan(1e-9);
  });
});

describe("MINOS on an exactly quadratic profile", () => {
  it("equals the Hessian error (two correlated Gaussian parameters outside the Poisson part)", async () => {
    // two systematics with no log κ entries: only their unit constraints and an external term
    // g·x + ½xᵀHx act on them, so the profile of either is exactly quadratic
    const model = smallModel({ nbins: 10, nsyst: 3, seed: 3 });
    model.systs.push("quad_a", "quad_b");
    model.constraintWeights = Float64Array.of(...model.constraintWeights, 1, 1);
    model.logk = { ...model.logk, ncols: model.logk.ncols + 2 };
    model.externalTerms = [{ name: "gauss", params: ["quad_a", "quad_b"], gradValues: Float64Array.of(0.3, -0.2), hessDense: Float64Array.of(1.5, 0.6, 0.6, 0.8) }];
    const result = await fit(model, { threads: 1, skipYields: true, postfit: { minos: ["quad_a", "quad_b"], scan: ["quad_a"], scanPoints: 5, scanRange: 2 } });
    expect(result.status, result.message).toBe("converged");
    // H = I + [[1.5, .6], [.6, .8]]: C_aa = 1.8/4.14, C_bb = 2.5/4.14
    const sa = Math.sqrt(1.8 / 4.14);
    const sb = Math.sqrt(2.5 / 4.14);
    const a = result.parameters.find((p) => p.name === "quad_a")!;
    const b = result.parameters.find((p) => p.name === "quad_b")!;
    expect(a.error).toBeCloseTo(sa, 12);
    expect(b.error).toBeCloseTo(sb, 12);
    expect(a.minos!.lower! / a.error).toBeCloseTo(-1, 6);
    expect(a.minos!.upper! / a.error).toBeCloseTo(1, 6);
    expect(b.minos!.lower! / b.error).toBeCloseTo(-1, 6);
    expect(b.minos!.upper! / b.error).toBeCloseTo(1, 6);
    // and the scan is the parabola ((x − x̂)/σ)² at x̂ ± 2σ, ± σ, 0
    const s = result.postfit!.scans!.quad_a;
    s.values.forEach((v, k) => expect(s.twiceDnll[k]).toBeCloseTo(((v - a.value) / sa) ** 2, 8));
  });
});

describe("post-fit options", () => {
  it("unknown names and bad pairs are user errors before any fit", async () => {
    const model = smallModel({ nbins: 8, nsyst: 2 });
    await expect(fit(model, { postfit: { scan: ["nope"] } })).rejects.toThrow(/--scan: no parameter named "nope"/);
    await expect(fit(model, { postfit: { contour: ["sig"] } })).rejects.toThrow(/--contour sig: expected two parameter names/);
    await expect(fit(model, { postfit: { scan2d: ["sig,sig"] } })).rejects.toThrow(/two different parameters/);
    await expect(fit(model, { freeze: "sig", postfit: { minos: ["sig"] } })).rejects.toThrow(/--minos: sig is frozen/);
    await expect(fit(model, { postfit: { cl: 1.5, limits: true } })).rejects.toThrow(/--cl/);
  });

  it("2ΔNLL contour levels are the χ² quantiles for 2 dof", () => {
    expect(chi2TwoDofLevel(1)).toBeCloseTo(2.2957489, 6);
    expect(chi2TwoDofLevel(2)).toBeCloseTo(6.1800743, 6);
    expect(chi2TwoDofLevel(3)).toBeCloseTo(11.829158, 5);
  });
});

