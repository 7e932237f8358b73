/**
 * `histmaker run` regions and the fixes of issue 11: a preselection then named regions (one histogram
 * per region or a region axis, per-region cutflows), histograms at "all" and "certified", string
 * category axes from string columns, per-object fills of jagged columns, count storage in simulation,
 * and merge identity by (dataset, file, range). Expected numbers are computed here from the arrays.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import type { AnalysisDefinition, ColumnSet } from "../src/histmaker/analysis.js";
import { AnalysisError, validateAnalysis } from "../src/histmaker/analysis.js";
import type { JaggedColumn } from "../src/histmaker/events.js";
import { writeColumnarEvents } from "../src/histmaker/eventSources.js";
import { Hist } from "../src/histmaker/Hist.js";
import * as axes from "../src/histmaker/axes.js";
import { histInstances, loadCertifications, newHist, newHists, processWithRetries, runAnalysis } from "../src/histmaker/runner.js";
import { mergeRunOutputs, readRunOutput, toRunInfo, writeRunOutput } from "../src/histmaker/runOutput.js";
import { RootFile } from "../src/histmaker/root/RootFile.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const zmumu = path.resolve(here, "../../shared/data/root/uproot-Zmumu.root");

let dir: string;
interface Ev {
  x: Float64Array;
  y: Float64Array;
  genWeight: Float64Array;
  pt: JaggedColumn;
  eta: JaggedColumn;
  other: JaggedColumn;
  run: Uint32Array;
  lumi: Uint32Array;
}
const files: Ev[] = [];
const paths: string[] = [];

function rand(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "hmregions-"));
  const r = rand(11);
  for (let f = 0; f < 2; f++) {
    const n = 400 + 50 * f;
    const x = Float64Array.from({ length: n }, () => r());
    const y = Float64Array.from({ length: n }, () => r());
    const genWeight = Float64Array.from({ length: n }, () => (r() < 0.2 ? -0.5 : 1.5));
    const off = new Int32Array(n + 1);
    const offOther = new Int32Array(n + 1);
    const pv: number[] = [];
    const ev: number[] = [];
    const ov: number[] = [];
    for (let i = 0; i < n; i++) {
      const k = Math.floor(r() * 4);
      for (let j = 0; j < k; j++) (pv.push(100 * r()), ev.push(4 * r() - 2));
      off[i + 1] = pv.length;
      // a column of other objects: one more than the muons in every event
      for (let j = 0; j <= k; j++) ov.push(r());
      offOther[i + 1] = ov.length;
    }
    const run = Uint32Array.from({ length: n }, () => 1);
    const lumi = Uint32Array.from({ length: n }, () => 1 + Math.floor(r() * 4));
    const e: Ev = {
      x,
      y,
      genWeight,
      pt: { offsets: off, values: Float64Array.from(pv) },
      eta: { offsets: off.slice(), values: Float64Array.from(ev) },
      other: { offsets: offOther, values: Float64Array.from(ov) },
      run,
      lumi,
    };
    files.push(e);
    const p = path.join(dir, `ev_${f}.hdf5`);
    await writeColumnarEvents(p, { x, y, genWeight, Muon_pt: e.pt, Muon_eta: e.eta, Other: e.other, run, luminosityBlock: lumi });
    paths.push(p);
  }
  writeFileSync(path.join(dir, "golden.json"), JSON.stringify({ "1": [[1, 2]] }));
});

const xAxis = { type: "regular" as const, name: "x", bins: 5, lo: 0, hi: 1, flow: false };
const sel = (f: (c: ColumnSet, i: number) => boolean) => (c: ColumnSet) => Uint8Array.from(c.x as Float64Array, (_, i) => (f(c, i) ? 1 : 0));
const X = (c: ColumnSet) => c.x as Float64Array;
const Y = (c: ColumnSet) => c.y as Float64Array;

function regionAnalysis(extra: Partial<AnalysisDefinition> = {}): AnalysisDefinition {
  return validateAnalysis(
    {
      name: "regions",
      datasets: [
        { name: "sim", kind: "mc", files: paths, xsec: 10 },
        { name: "data", kind: "data", files: paths, certification: path.join(dir, "golden.json") },
      ],
      luminosity: 2,
      selections: [{ name: "presel", cut: sel((c, i) => X(c)[i] > 0.2) }],
      regions: {
        SR: [{ name: "yHigh", cut: sel((c, i) => Y(c)[i] > 0.6) }],
        CR: [
          { name: "yLow", cut: sel((c, i) => Y(c)[i] <= 0.6) },
          { name: "xHigh", cut: sel((c, i) => X(c)[i] > 0.5) },
        ],
      },
      histograms: [
        { name: "x_all", axes: [xAxis], columns: ["x"], after: "all" },
        { name: "x_cert", axes: [xAxis], columns: ["x"], after: "certified" },
        { name: "x_pre", axes: [xAxis], columns: ["x"] },
        { name: "x", axes: [xAxis], columns: ["x"], regions: ["SR", "CR"] },
        { name: "xr", axes: [xAxis], columns: ["x"], regions: ["SR", "CR"], regionAxis: true },
        { name: "xn", axes: [xAxis], columns: ["x"], regions: ["SR", "CR"], storage: "count" },
      ],
      chunkEntries: 97,
      ...extra,
    },
    "regions",
  );
}

/** Σw per x bin (5 bins on [0,1)) and raw count of the events passing `keep`, over both files. */
function direct(keep: (e: Ev, i: number) => boolean, weighted: boolean): { sumw: number[]; raw: number; w: number } {
  const sumw = [0, 0, 0, 0, 0];
  let raw = 0;
  let w = 0;
  for (const e of files)
    for (let i = 0; i < e.x.length; i++) {
      if (!keep(e, i)) continue;
      const wi = weighted ? e.genWeight[i] : 1;
      sumw[Math.floor(e.x[i] * 5)] += wi;
      raw++;
      w += wi;
    }
  return { sumw, raw, w };
}

const pre = (e: Ev, i: number) => e.x[i] > 0.2;
const sr = (e: Ev, i: number) => pre(e, i) && e.y[i] > 0.6;
const crLow = (e: Ev, i: number) => pre(e, i) && e.y[i] <= 0.6;
const cr = (e: Ev, i: number) => crLow(e, i) && e.x[i] > 0.5;
const certified = (e: Ev, i: number) => e.lumi[i] <= 2;

function expectClose(got: Float64Array, want: number[]): void {
  expect(got.length).toBe(want.length);
  want.forEach((v, i) => expect(got[i]).toBeCloseTo(v, 9));
}

describe("regions", () => {
  it("fills one histogram per region, a region axis, and histograms at all / certified / the preselection", async () => {
    const res = await runAnalysis(regionAnalysis(), { log: () => undefined });
    expect(res.failures).toEqual([]);
    expect(Object.keys(res.hists.sim).sort()).toEqual(["x::CR", "x::SR", "x_all", "x_cert", "x_pre", "xn::CR", "xn::SR", "xr"]);
    expectClose(res.hists.sim.x_all.values(), direct(() => true, true).sumw);
    // simulation has no certification: "certified" is the same as "all"
    expectClose(res.hists.sim.x_cert.values(), direct(() => true, true).sumw);
    expectClose(res.hists.sim.x_pre.values(), direct(pre, true).sumw);
    expectClose(res.hists.sim["x::SR"].values(), direct(sr, true).sumw);
    expectClose(res.hists.sim["x::CR"].values(), direct(cr, true).sumw);
    expectClose(res.hists.data.x_all.values(), direct(() => true, false).sumw);
    expectClose(res.hists.data.x_cert.values(), direct(certified, false).sumw);
    expectClose(res.hists.data["x::SR"].values(), direct((e, i) => certified(e, i) && sr(e, i), false).sumw);
    // the region axis comes first, categories in the order given, no overflow
    const xr = res.hists.sim.xr;
    expect(xr.axes[0]).toMatchObject({ type: "category_str", name: "region", categories: ["SR", "CR"], overflow: false });
    const v = xr.values();
    expectClose(v.slice(0, 5), direct(sr, true).sumw);
    expectClose(v.slice(5, 10), direct(cr, true).sumw);
    // count storage: raw entries in simulation, the weights ignored
    expectClose(res.hists.sim["xn::SR"].values(), direct(sr, false).sumw);
  });

  it("keeps a cutflow per region: preselection, then the region's cuts, raw and weighted", async () => {
    const res = await runAnalysis(regionAnalysis(), { log: () => undefined });
    const cf = res.regionCutflows.sim;
    expect(Object.keys(cf)).toEqual(["SR", "CR"]);
    expect(cf.CR.steps).toEqual(["preselection", "yLow", "xHigh"]);
    expect(Array.from(cf.CR.raw)).toEqual([direct(pre, false).raw, direct(crLow, false).raw, direct(cr, false).raw]);
    expect(cf.CR.weighted[2]).toBeCloseTo(direct(cr, true).w, 9);
    expect(Array.from(cf.SR.raw)).toEqual([direct(pre, false).raw, direct(sr, false).raw]);
    // the preselection cutflow is unchanged; data's regions start after certification
    expect(res.cutflows.sim.steps).toEqual(["all", "presel"]);
    expect(res.regionCutflows.data.SR.raw[0]).toBe(direct((e, i) => certified(e, i) && pre(e, i), false).raw);
    // written and read back, and added by merge
    const file = path.join(dir, "regions.hdf5");
    await writeRunOutput(file, { info: toRunInfo(res, { command: "t", time: "t" }), hists: res.hists });
    const back = await readRunOutput(file);
    expect(back.info.regionCutflows?.sim.CR.raw).toEqual(Array.from(cf.CR.raw));
    expect(Array.from(back.hists.sim["x::SR"].values())).toEqual(Array.from(res.hists.sim["x::SR"].values()));
  });

  it("refuses malformed regions with one clear line", () => {
    const bad = (extra: Partial<AnalysisDefinition>) => () => regionAnalysis(extra);
    expect(bad({ histograms: [{ name: "h", axes: [xAxis], columns: ["x"], regions: ["VR"] }] })).toThrow(/regions: histogram "h": unknown region "VR"/);
    expect(bad({ histograms: [{ name: "h", axes: [xAxis], columns: ["x"], regions: ["SR"], after: "all" }] })).toThrow(/either after .* or regions/);
    expect(bad({ histograms: [{ name: "h", axes: [xAxis], columns: ["x"], regionAxis: true }] })).toThrow(/regionAxis needs regions/);
    expect(bad({ regions: { preselection: [] } })).toThrow(/not "preselection"/);
    expect(bad({ regions: { "A::B": [] } })).toThrow(/region name "A::B"/);
    expect(bad({ regions: { SR: [{ name: "a", cut: "x" }, { name: "a", cut: "y" }] }, histograms: [{ name: "h", axes: [xAxis], columns: ["x"] }] })).toThrow(
      /selection "a" in region "SR" is declared twice/,
    );
    expect(bad({ histograms: [{ name: "h", axes: [xAxis], columns: ["x"], after: "nope" }] })).toThrow(/after "nope" is not a step of the preselection/);
    expect(bad({ histograms: [{ name: "a::b", axes: [xAxis], columns: ["x"] }] })).toThrow(/without "\/" or "::"/);
  });

  it("histograms at `all` work (regression: `after \"all\" is not a selection`)", async () => {
    const def = validateAnalysis(
      {
        name: "noSelections",
        datasets: [{ name: "sim", kind: "mc", files: [paths[0]], xsec: 1 }],
        histograms: [{ name: "h", axes: [xAxis], columns: ["x"], after: "all" }],
      },
      "m",
    );
    const res = await runAnalysis(def, { log: () => undefined });
    expect(res.hists.sim.h.sum()).toBeCloseTo(Array.from(files[0].genWeight).reduce((a, b) => a + b, 0), 9);
  });

  it("histInstances / newHist / newHists name and shape the stored histograms", () => {
    const def = regionAnalysis();
    const h = def.histograms.find((x) => x.name === "x")!;
    expect(histInstances(h).map((i) => [i.key, i.region])).toEqual([
      ["x::SR", "SR"],
      ["x::CR", "CR"],
    ]);
    const hr = def.histograms.find((x) => x.name === "xr")!;
    expect(histInstances(hr).map((i) => i.key)).toEqual(["xr"]);
    expect(newHist(hr).axes.map((a) => a.name)).toEqual(["region", "x"]);
    expect(newHist(def.histograms.find((x) => x.name === "xn")!).storage).toBe("count");
    expect(Object.keys(newHists(def, def.datasets[0])).length).toBe(8);
  });
});

describe("per-object fills of jagged columns", () => {
  const ptAxis = { type: "regular" as const, name: "pt", bins: 4, lo: 0, hi: 100, flow: false };
  const etaAxis = { type: "regular" as const, name: "eta", bins: 2, lo: -2, hi: 2, flow: false };
  function jaggedDef(hists: AnalysisDefinition["histograms"]): AnalysisDefinition {
    return validateAnalysis({ name: "jag", datasets: [{ name: "sim", kind: "mc", files: paths, xsec: 1 }], histograms: hists, chunkEntries: 61 }, "jag");
  }

  it("fills one entry per object with the event weight broadcast (also beside a flat column and a per-object weight)", async () => {
    const def = jaggedDef([
      { name: "pt", axes: [ptAxis], columns: ["Muon_pt"] },
      { name: "pt_eta", axes: [ptAxis, etaAxis], columns: ["Muon_pt", "Muon_eta"] },
      { name: "pt_x", axes: [ptAxis, xAxis], columns: ["Muon_pt", "x"] },
      { name: "pt_w", axes: [ptAxis], columns: ["Muon_pt"], weight: "Muon_eta" },
    ]);
    const res = await runAnalysis(def, { log: () => undefined });
    expect(res.failures).toEqual([]);
    const pt = [0, 0, 0, 0];
    const ptEta = new Array(8).fill(0);
    const ptX = new Array(20).fill(0);
    const ptW = [0, 0, 0, 0];
    for (const e of files)
      for (let i = 0; i < e.x.length; i++)
        for (let k = e.pt.offsets[i]; k < e.pt.offsets[i + 1]; k++) {
          const b = Math.floor(Number(e.pt.values[k]) / 25);
          const w = e.genWeight[i];
          pt[b] += w;
          ptEta[b * 2 + Math.floor((Number(e.eta.values[k]) + 2) / 2)] += w;
          ptX[b * 5 + Math.floor(e.x[i] * 5)] += w;
          ptW[b] += w * Number(e.eta.values[k]);
        }
    expectClose(res.hists.sim.pt.values(), pt);
    expectClose(res.hists.sim.pt_eta.values(), ptEta);
    expectClose(res.hists.sim.pt_x.values(), ptX);
    expectClose(res.hists.sim.pt_w.values(), ptW);
    // there really are events with 0 and with several muons
    expect(res.hists.sim.pt.sum()).not.toBeCloseTo(res.cutflows.sim.weighted[0], 3);
  });

  it("indexes each jagged column by its own offsets (a column whose offsets do not start at 0)", async () => {
    const def = validateAnalysis(
      {
        name: "jag",
        datasets: [{ name: "sim", kind: "mc", files: paths, xsec: 1 }],
        columns: {
          // the same objects as Muon_eta, stored after two padding values
          etaShifted: (c) => {
            const j = c.Muon_eta as JaggedColumn;
            return { offsets: j.offsets.map((o) => o + 2), values: Float64Array.from([99, 99, ...Array.from(j.values as Float64Array)]) };
          },
        },
        histograms: [
          { name: "a", axes: [ptAxis, etaAxis], columns: ["Muon_pt", "Muon_eta"] },
          { name: "b", axes: [ptAxis, etaAxis], columns: ["Muon_pt", "etaShifted"] },
        ],
        chunkEntries: 61,
      },
      "jag",
    );
    const res = await runAnalysis(def, { log: () => undefined });
    expect(res.failures).toEqual([]);
    expect(res.hists.sim.a.sum()).toBeGreaterThan(0);
    expect(Array.from(res.hists.sim.b.values({ flow: true }))).toEqual(Array.from(res.hists.sim.a.values({ flow: true })));
  });

  it("refuses a per-object weight of other objects", async () => {
    const def = jaggedDef([{ name: "w", axes: [ptAxis], columns: ["Muon_pt"], weight: "Other" }]);
    await expect(runAnalysis(def, { log: () => undefined })).rejects.toThrow(/histogram "w": jagged columns "Muon_pt" and "weight" differ in their objects/);
    const flatCols = jaggedDef([{ name: "w", axes: [xAxis], columns: ["x"], weight: "Other" }]);
    await expect(runAnalysis(flatCols, { log: () => undefined })).rejects.toThrow(/histogram "w": weight is jagged but the histogram's columns are one value per event/);
  });

  it("refuses jagged columns of different objects, naming them (before: `column \"Muon_pt\" is jagged`)", async () => {
    const def = jaggedDef([{ name: "bad", axes: [ptAxis, xAxis], columns: ["Muon_pt", "Other"] }]);
    await expect(runAnalysis(def, { log: () => undefined })).rejects.toThrow(
      /histogram "bad": jagged columns "Muon_pt" and "Other" differ in their objects \(event 0 of .*ev_0\.hdf5: \d+ vs \d+ entries\)/,
    );
  });
});

describe("string category axes", () => {
  it("fill from a derived column of strings (regression: `axis \"s\" takes an array of strings`)", async () => {
    const def = validateAnalysis(
      {
        name: "str",
        datasets: [{ name: "sim", kind: "mc", files: paths, xsec: 1 }],
        columns: { s: (c) => Array.from(c.x as Float64Array, (v) => (v < 0.5 ? "low" : "high")) },
        histograms: [{ name: "s", axes: [{ type: "categoryStr", name: "s", categories: ["low", "high"] }], columns: ["s"], storage: "count" }],
      },
      "str",
    );
    const res = await runAnalysis(def, { log: () => undefined });
    expect(res.failures).toEqual([]);
    const low = files.reduce((a, e) => a + e.x.filter((v) => v < 0.5).length, 0);
    const all = files.reduce((a, e) => a + e.x.length, 0);
    expect(Array.from(res.hists.sim.s.values({ flow: true }))).toEqual([low, all - low, 0]);
  });

  it("refuses numbers on a string axis with a clear message", async () => {
    const def = validateAnalysis(
      {
        name: "str",
        datasets: [{ name: "sim", kind: "mc", files: [paths[0]], xsec: 1 }],
        histograms: [{ name: "s", axes: [{ type: "categoryStr", name: "s", categories: ["a"] }], columns: ["x"] }],
      },
      "str",
    );
    await expect(runAnalysis(def, { log: () => undefined })).rejects.toThrow(/histogram "s": axis "s" is a string category axis but column "x" holds numbers/);
  });

  it.skipIf(!existsSync(zmumu))("fill from a ROOT string branch (uproot's Z→μμ `Type`)", async () => {
    // the expected counts, from the reader directly
    const f = await RootFile.open(zmumu);
    const want = new Map<string, number>();
    for await (const c of f.tree("events").iterate({ branches: ["Type"] })) {
      const t = c.columns.Type as JaggedColumn;
      for (let i = 0; i < c.length; i++) {
        const s = Buffer.from((t.values as Uint8Array).subarray(t.offsets[i], t.offsets[i + 1])).toString("utf8");
        want.set(s, (want.get(s) ?? 0) + 1);
      }
    }
    f.close();
    const cats = [...want.keys()].sort();
    expect(cats.length).toBeGreaterThan(1);
    const def = validateAnalysis(
      {
        name: "zType",
        datasets: [{ name: "Z", kind: "data", files: [zmumu], tree: "events" }],
        branches: ["Type", "M"],
        histograms: [{ name: "type", axes: [{ type: "categoryStr", name: "type", categories: cats }], columns: ["Type"] }],
        chunkEntries: 500,
      },
      "zType",
    );
    const res = await runAnalysis(def, { log: () => undefined });
    expect(res.failures).toEqual([]);
    expect(Array.from(res.hists.Z.type.values())).toEqual(cats.map((c) => want.get(c)));
  });
});

describe("count storage in simulation", () => {
  it("counts raw entries with weights ignored (regression: `count storage takes no weights`)", async () => {
    const def = validateAnalysis(
      {
        name: "count",
        datasets: [{ name: "sim", kind: "mc", files: paths, xsec: 1 }],
        histograms: [
          { name: "n", axes: [xAxis], columns: ["x"], storage: "count", weight: "y" },
          { name: "w", axes: [xAxis], columns: ["x"] },
        ],
      },
      "count",
    );
    const res = await runAnalysis(def, { log: () => undefined });
    expect(res.failures).toEqual([]);
    expect(Array.from(res.hists.sim.n.values())).toEqual(direct(() => true, false).sumw);
    expectClose(res.hists.sim.w.values(), direct(() => true, true).sumw);
    expect(() => validateAnalysis({ ...def, histograms: [{ name: "t", axes: [xAxis], columns: ["x"], storage: "count", tensor: { name: "k", size: 2, weights: "x" } }] }, "m")).toThrow(
      /count storage takes no tensor axis/,
    );
  });
});

describe("merge identity: (dataset, file, entry range)", () => {
  it("merges two datasets reading the same file; refuses the same piece twice (regression: `processed already … overlapping shards`)", async () => {
    const def = validateAnalysis(
      {
        name: "same",
        datasets: [
          { name: "a", kind: "mc", files: [paths[0]], xsec: 1 },
          { name: "b", kind: "mc", files: [paths[0]], xsec: 2 },
        ],
        luminosity: 1,
        histograms: [{ name: "x", axes: [xAxis], columns: ["x"] }],
      },
      "same",
    );
    const outs = [];
    for (const i of [0, 1]) {
      const r = await runAnalysis(def, { shard: { index: i, count: 2 }, log: () => undefined });
      outs.push({ file: `shard${i}.hdf5`, output: { info: toRunInfo(r, { command: "t", time: "t" }), hists: r.hists } });
    }
    expect(outs[0].output.info.datasets.a.files).toEqual([paths[0]]);
    expect(outs[1].output.info.datasets.b.files).toEqual([paths[0]]);
    expect(outs[0].output.info.datasets.a.entryRanges).toEqual([[0, files[0].x.length]]);
    const merged = mergeRunOutputs(outs, { command: "m", time: "t" });
    expect(merged.info.datasets.a.events).toBe(files[0].x.length);
    expect(merged.info.datasets.b.events).toBe(files[0].x.length);
    expect(merged.info.datasets.b.entryRanges).toEqual([[0, files[0].x.length]]);
    expect(merged.hists.b.x.sum()).toBeCloseTo(direct((e) => e === files[0], true).w, 9);
    expect(() => mergeRunOutputs([outs[0], outs[0]], { command: "m", time: "t" })).toThrow(
      /shard0\.hdf5: a: .*ev_0\.hdf5 \(entries 0\.\.\d+\) was processed already in shard0\.hdf5 \(overlapping shards\)/,
    );
    // outputs of older versions without entry ranges: whole files, still refused twice
    const old = structuredClone(outs[0].output.info);
    delete old.datasets.a.entryRanges;
    expect(() => mergeRunOutputs([outs[0], { file: "old.hdf5", output: { info: old, hists: outs[0].output.hists } }], { command: "m", time: "t" })).toThrow(/processed already/);
  });

  it("refuses outputs with different regions", async () => {
    const a = await runAnalysis(regionAnalysis(), { shard: { index: 0, count: 2 }, log: () => undefined });
    const b = await runAnalysis(regionAnalysis(), { shard: { index: 1, count: 2 }, log: () => undefined });
    const infoB = toRunInfo(b, { command: "t", time: "t" });
    delete infoB.regionCutflows!.sim.CR;
    expect(() =>
      mergeRunOutputs(
        [
          { file: "a.hdf5", output: { info: toRunInfo(a, { command: "t", time: "t" }), hists: a.hists } },
          { file: "b.hdf5", output: { info: infoB, hists: b.hists } },
        ],
        { command: "m", time: "t" },
      ),
    ).toThrow(/b\.hdf5: regions of sim \(SR\) differ from a\.hdf5 \(CR,SR\)/);
  });
});

describe("processWithRetries / loadCertifications", () => {
  it("retries a failing file, takes its events back from the progress, and reports the failure", async () => {
    const broken = path.join(dir, "broken.hdf5");
    writeFileSync(broken, "not hdf5");
    const def = regionAnalysis();
    const fp = { def, certs: loadCertifications(def), threads: 1, retries: 2, corrections: {} };
    expect([...fp.certs.keys()]).toEqual(["data"]);
    const said: string[] = [];
    let events = 0;
    const hooks = { onChunk: (n: number) => (events += n), discard: (n: number) => (events -= n), say: (m: string) => said.push(m) };
    const bad = await processWithRetries(fp, { dataset: def.datasets[0], file: broken }, hooks);
    expect(bad.part).toBeNull();
    expect(bad.failure).toMatchObject({ dataset: "sim", file: broken, attempts: 3 });
    expect(said).toHaveLength(3);
    expect(said[2]).toMatch(/sim: .*broken\.hdf5 failed \(attempt 3\/3\)/);
    const ok = await processWithRetries(fp, { dataset: def.datasets[0], file: paths[0] }, hooks);
    expect(ok.failure).toBeNull();
    expect(ok.part!.events).toBe(files[0].x.length);
    expect(events).toBe(files[0].x.length);
    // an error in the analysis itself is not retried
    const wrong = { ...fp, def: { ...def, columns: { bad: () => new Float64Array(1) }, selections: [{ name: "b", cut: "bad" }] } };
    await expect(processWithRetries(wrong, { dataset: def.datasets[0], file: paths[0] }, hooks)).rejects.toBeInstanceOf(AnalysisError);
  });
});

describe("Hist sanity for the region axis", () => {
  it("a category_str axis without overflow drops unknown regions", async () => {
    const h = new Hist([axes.categoryStr(["SR", "CR"], { name: "region", overflow: false })], { storage: "double" });
    await h.fill([["SR", "CR", "VR"]]);
    expect(Array.from(h.values({ flow: true }))).toEqual([1, 1]);
  });
});
