/**
 * correctionlib in an analysis run: a module's `corrections` are loaded once and reach columns and the
 * event weight as ctx.corrections; histogram sums are checked against the scale factors computed here
 * from the fixture's table, and a wrong input during the run stops it as a user error.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { AnalysisDefinition } from "../src/histmaker/analysis.js";
import { asFloat64, validateAnalysis } from "../src/histmaker/analysis.js";
import { writeColumnarEvents } from "../src/histmaker/eventSources.js";
import { runAnalysis } from "../src/histmaker/runner.js";
import { UserError } from "../src/errors.js";

const fixtures = path.join(import.meta.dirname, "fixtures", "correctionlib");
const table = JSON.parse(readFileSync(path.join(fixtures, "muon_Z.expected.json"), "utf8")) as {
  nom: number[];
  err: number[];
  abseta: number[];
  pt: number[];
};

function clampBin(edges: number[], v: number): number {
  let b = 0;
  while (b < edges.length - 2 && v >= edges[b + 1]) b++;
  return b;
}
function sfOf(abseta: number, pt: number, sign: number): number {
  const i = clampBin(table.abseta, abseta) * (table.pt.length - 1) + clampBin(table.pt, pt);
  return Math.round((table.nom[i] + sign * table.err[i]) * 1e6) / 1e6;
}

let dir: string;
let eta: Float32Array;
let pt: Float32Array;
let genWeight: Float32Array;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "corrlib-run-"));
  const n = 400;
  let s = 11;
  const r = () => ((s = (s * 1664525 + 1013904223) >>> 0), s / 4294967296);
  eta = Float32Array.from({ length: n }, () => 4.8 * r() - 2.4);
  pt = Float32Array.from({ length: n }, () => 10 + 150 * r());
  genWeight = Float32Array.from({ length: n }, () => (r() < 0.2 ? -1 : 1));
  await writeColumnarEvents(path.join(dir, "dy.h5"), { Muon_eta: eta, Muon_pt: pt, genWeight });
});

function analysis(extra: Partial<AnalysisDefinition> = {}): AnalysisDefinition {
  return validateAnalysis(
    {
      name: "sf",
      datasets: [{ name: "dy", kind: "mc", files: ["dy.h5"], xsec: 1 }],
      // relative to the module directory (baseDir below)
      corrections: { muonSF: path.relative(dir, path.join(fixtures, "muon_Z.json.gz")) },
      columns: {
        absEta: (c) => asFloat64(c.Muon_eta).map(Math.abs),
        sfUp: (c, ctx) => ctx.corrections.muonSF["NUM_TightID_DEN_TrackerMuons"].evaluate(c.absEta as Float64Array, c.Muon_pt as Float32Array, "systup"),
      },
      eventWeight: (c, ctx) => ctx.corrections.muonSF["NUM_TightID_DEN_TrackerMuons"].evaluate(c.absEta as Float64Array, c.Muon_pt as Float32Array, "nominal"),
      histograms: [
        { name: "pt", axes: [{ type: "regular", name: "pt", bins: 3, lo: 10, hi: 160, flow: false }], columns: ["Muon_pt"] },
        { name: "ptUp", axes: [{ type: "regular", name: "pt", bins: 3, lo: 10, hi: 160, flow: false }], columns: ["Muon_pt"], weight: "sfUp" },
      ],
      luminosity: 1,
      chunkEntries: 128,
      ...extra,
    },
    "sf-analysis",
  );
}

describe("analysis modules with corrections", () => {
  it("event weights and columns use ctx.corrections", async () => {
    const res = await runAnalysis(analysis(), { baseDir: dir, log: () => {} });
    expect(res.failures).toEqual([]);
    const nominal = [0, 0, 0];
    const up = [0, 0, 0];
    const unweighted = [0, 0, 0];
    for (let i = 0; i < eta.length; i++) {
      const b = Math.floor((pt[i] - 10) / 50);
      if (b < 0 || b > 2) continue;
      const ae = Math.abs(eta[i]);
      const w = genWeight[i] * sfOf(ae, pt[i], 0);
      nominal[b] += w;
      unweighted[b] += genWeight[i];
      up[b] += w * sfOf(ae, pt[i], 1);
    }
    const got = Array.from(res.hists.dy.pt.values());
    const gotUp = Array.from(res.hists.dy.ptUp.values());
    for (let b = 0; b < 3; b++) {
      expect(got[b]).toBeCloseTo(nominal[b], 10);
      expect(gotUp[b]).toBeCloseTo(up[b], 10);
    }
    // the scale factors (0.95–1.0) really applied: each bin is below its generator-weight sum
    for (let b = 0; b < 3; b++) expect(Math.abs(got[b] - unweighted[b])).toBeGreaterThan(0.01 * Math.abs(unweighted[b]));
  });

  it("a wrong input during the run is a user error, not a failed file", async () => {
    const def = analysis({
      eventWeight: (c, ctx) => ctx.corrections.muonSF["NUM_TightID_DEN_TrackerMuons"].evaluate(c.absEta as Float64Array, c.Muon_pt as Float32Array, "bogus"),
    });
    const run = runAnalysis(def, { baseDir: dir, log: () => {} });
    await expect(run).rejects.toBeInstanceOf(UserError);
    await expect(runAnalysis(def, { baseDir: dir, log: () => {} })).rejects.toThrow(/input "scale_factors" value "bogus" is not a category/);
  });

  it("a missing correction file stops the run before any event is read", async () => {
    const def = analysis({ corrections: { muonSF: "nowhere.json.gz" } });
    await expect(runAnalysis(def, { baseDir: dir, log: () => {} })).rejects.toThrow(/^analysis corrections\.muonSF: .*nowhere\.json\.gz: cannot read the correction file \(no such file\)/);
  });

  it("validateAnalysis refuses corrections that are not file paths", () => {
    expect(() => analysis({ corrections: { muonSF: 3 as unknown as string } })).toThrow(/sf-analysis: corrections\.muonSF must map names to CorrectionSet file paths/);
  });
});
