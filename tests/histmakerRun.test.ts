/**
 * The analysis runner on small synthetic columnar files: histogram contents, cutflows, tensor weights,
 * certification and luminosity, Σ generator weights and scaling, shards + merge, failures and retries,
 * --max-files, and the output file round trip. Expected numbers are computed here directly from the
 * generated arrays, independently of the runner.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { AnalysisDefinition, ColumnSet } from "../src/histmaker/analysis.js";
import { validateAnalysis } from "../src/histmaker/analysis.js";
import type { JaggedColumn } from "../src/histmaker/events.js";
import { openEventSource, writeColumnarEvents, writeColumnarTrees } from "../src/histmaker/eventSources.js";
import { planFiles, runAnalysis } from "../src/histmaker/runner.js";
import { mergeRunOutputs, readRunOutput, toRunInfo, writeRunOutput } from "../src/histmaker/runOutput.js";
import { loadUserModule } from "../src/histmaker/loadModule.js";
import { Progress } from "../src/histmaker/progress.js";

interface SimFile {
  x: Float64Array;
  genWeight: Float32Array;
  vals: JaggedColumn;
  w3: JaggedColumn;
}
interface DataFile {
  x: Float64Array;
  run: Uint32Array;
  lumi: Uint32Array;
}

let dir: string;
const sim: SimFile[] = [];
const data: DataFile[] = [];
const simPaths: string[] = [];
const dataPaths: string[] = [];
const golden = { "1": [[1, 3]], "2": [[2, 2]] };
// recorded /ub per block: run 1 blocks 1..4, run 2 blocks 1..3
const lumiUb: Record<string, number> = { "1:1": 100, "1:2": 110, "1:3": 120, "1:4": 130, "2:1": 200, "2:2": 210, "2:3": 220 };

function rand(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "hmrun-"));
  const r = rand(7);
  for (let f = 0; f < 3; f++) {
    const n = 500 + 37 * f;
    const x = Float64Array.from({ length: n }, () => r());
    const genWeight = Float32Array.from({ length: n }, () => (r() < 0.1 ? -1 : 2));
    const offsets = new Int32Array(n + 1);
    const vv: number[] = [];
    for (let i = 0; i < n; i++) {
      const k = Math.floor(r() * 3);
      for (let j = 0; j < k; j++) vv.push(r());
      offsets[i + 1] = vv.length;
    }
    const w3o = Int32Array.from({ length: n + 1 }, (_, i) => 3 * i);
    const w3v = Float32Array.from({ length: 3 * n }, () => 0.5 + r());
    const file: SimFile = { x, genWeight, vals: { offsets, values: Float64Array.from(vv) }, w3: { offsets: w3o, values: w3v } };
    sim.push(file);
    const p = path.join(dir, `sim_${f}.hdf5`);
    await writeColumnarEvents(p, { x, genWeight, vals: file.vals, w3: file.w3 });
    simPaths.push(p);
  }
  for (let f = 0; f < 2; f++) {
    const n = 300;
    const x = Float64Array.from({ length: n }, () => r());
    const run = Uint32Array.from({ length: n }, (_, i) => (i < n / 2 ? 1 : 2) + 0 * f);
    const lumi = Uint32Array.from({ length: n }, () => 1 + Math.floor(r() * (f === 0 ? 4 : 3)));
    data.push({ x, run, lumi });
    const p = path.join(dir, `data_${f}.h5`);
    await writeColumnarEvents(p, { x, run, luminosityBlock: lumi });
    dataPaths.push(p);
  }
  writeFileSync(path.join(dir, "golden.json"), JSON.stringify(golden));
  const lines = ["#run:fill,ls,time,beamstatus,E(GeV),delivered(/ub),recorded(/ub),avgpu,source"];
  for (const [k, v] of Object.entries(lumiUb)) {
    const [run, ls] = k.split(":");
    lines.push(`${run}:10,${ls}:${ls},01/01/26 00:00:00,STABLE BEAMS,6800,${v * 1.1},${v},20,HFOC`);
  }
  writeFileSync(path.join(dir, "lumi.csv"), lines.join("\n") + "\n");
});

function nvals(cols: ColumnSet): Int32Array {
  const v = cols.vals as JaggedColumn;
  return Int32Array.from({ length: v.offsets.length - 1 }, (_, i) => v.offsets[i + 1] - v.offsets[i]);
}

function analysis(extra: Partial<AnalysisDefinition> = {}, simFiles = simPaths): AnalysisDefinition {
  return validateAnalysis(
    {
      name: "synthetic",
      datasets: [
        { name: "sim", kind: "mc", files: simFiles, xsec: 50 },
        { name: "data", kind: "data", files: dataPaths, certification: path.join(dir, "golden.json"), lumiCsv: path.join(dir, "lumi.csv") },
      ],
      columns: {
        y: (cols) => (cols.x as Float64Array).map((v) => 2 * v),
        nv: (cols) => nvals(cols),
      },
      selections: [
        { name: "pos", cut: (cols) => (cols.x as Float64Array).map((v) => (v > 0.3 ? 1 : 0)) },
        { name: "hasVals", cut: "nv", only: "mc" },
      ],
      histograms: [
        { name: "y", axes: [{ type: "regular", name: "y", bins: 10, lo: 0, hi: 2, flow: false }], columns: ["y"] },
        { name: "early", axes: [{ type: "regular", name: "y", bins: 4, lo: 0, hi: 2, flow: false }], columns: ["y"], after: "pos" },
        {
          name: "t",
          axes: [{ type: "regular", name: "y", bins: 5, lo: 0, hi: 2, flow: false }],
          columns: ["y"],
          datasets: "mc",
          tensor: { name: "var", size: 3, weights: "w3" },
        },
      ],
      chunkEntries: 128,
      ...extra,
    },
    "synthetic",
  );
}

/** Direct expectation for simulation: per-bin Σw over the files of the y histogram after all cuts. */
function expectSim(files: SimFile[], bins: number, needVals: boolean, k?: number): { sumw: number[]; raw: number[]; sumGen: number } {
  const sumw = new Array(bins).fill(0);
  const raw = [0, 0, 0];
  let sumGen = 0;
  for (const f of files)
    for (let i = 0; i < f.x.length; i++) {
      const w = f.genWeight[i];
      sumGen += w;
      raw[0]++;
      if (!(f.x[i] > 0.3)) continue;
      raw[1]++;
      const n = f.vals.offsets[i + 1] - f.vals.offsets[i];
      if (needVals && n < 1) continue;
      raw[2]++;
      const b = Math.floor((2 * f.x[i] * bins) / 2);
      sumw[b] += k === undefined ? w : w * f.w3.values[3 * i + k];
    }
  return { sumw, raw, sumGen };
}

describe("columnar event files", () => {
  it("read back in chunks, jagged columns included", async () => {
    const src = await openEventSource(simPaths[1]);
    expect(src.entries).toBe(sim[1].x.length);
    expect(src.branchNames.sort()).toEqual(["genWeight", "vals", "w3", "x"]);
    const xs: number[] = [];
    const counts: number[] = [];
    const values: number[] = [];
    for await (const chunk of src.iterate({ chunkEntries: 100, branches: ["x", "vals"] })) {
      xs.push(...(chunk.columns.x as Float64Array));
      const v = chunk.columns.vals as JaggedColumn;
      expect(v.offsets[0]).toBe(0);
      for (let i = 0; i < chunk.length; i++) counts.push(v.offsets[i + 1] - v.offsets[i]);
      values.push(...v.values);
    }
    src.close();
    expect(xs).toEqual(Array.from(sim[1].x));
    const o = sim[1].vals.offsets;
    expect(counts).toEqual(Array.from({ length: o.length - 1 }, (_, i) => o[i + 1] - o[i]));
    expect(values).toEqual(Array.from(sim[1].vals.values));
  });

  it("refuses unknown extensions and missing branches", async () => {
    await expect(openEventSource(path.join(dir, "x.txt"))).rejects.toThrow(/unknown event file type/);
    const src = await openEventSource(simPaths[0]);
    const it = src.iterate({ branches: ["nope"] });
    await expect(it.next()).rejects.toThrow(/no branch "nope"/);
    src.close();
  });
});

describe("runAnalysis", () => {
  it("fills histograms, cutflows and tensor weights as a direct computation does", async () => {
    const res = await runAnalysis(analysis(), { threads: 2 });
    expect(res.failures).toEqual([]);
    const exp = expectSim(sim, 10, true);
    const y = res.hists.sim.y.values();
    exp.sumw.forEach((v, i) => expect(y[i]).toBeCloseTo(v, 9));
    expect(Array.from(res.cutflows.sim.raw)).toEqual(exp.raw);
    expect(res.datasets.sim.sumGenWeights).toBeCloseTo(exp.sumGen, 9);
    expect(res.cutflows.sim.weighted[0]).toBeCloseTo(exp.sumGen, 9);
    // tensor axis: K planes of Σ w·w3[k]
    const t = res.hists.sim.t.values();
    for (let k = 0; k < 3; k++) {
      const ek = expectSim(sim, 5, true, k);
      for (let b = 0; b < 5; b++) expect(t[b * 3 + k]).toBeCloseTo(ek.sumw[b], 8);
    }
    // a histogram filled after the first selection does not see the second one
    const early = res.hists.sim.early.values();
    const eEarly = expectSim(sim, 4, false);
    eEarly.sumw.forEach((v, i) => expect(early[i]).toBeCloseTo(v, 9));
    // data: histograms without a tensor, and the mc-only selection left out
    expect(res.hists.data.t).toBeUndefined();
    expect(res.cutflows.data.steps).toEqual(["all", "certified", "pos", "hasVals"]);
  });

  it("certifies data, counts it in the cutflow and reports the luminosity of exactly the processed certified blocks", async () => {
    const res = await runAnalysis(analysis(), {});
    let certified = 0;
    let passing = 0;
    const blocks = new Set<string>();
    for (const f of data)
      for (let i = 0; i < f.x.length; i++) {
        const ranges = (golden as Record<string, number[][]>)[String(f.run[i])] ?? [];
        if (!ranges.some(([lo, hi]) => f.lumi[i] >= lo && f.lumi[i] <= hi)) continue;
        certified++;
        blocks.add(`${f.run[i]}:${f.lumi[i]}`);
        if (f.x[i] > 0.3) passing++;
      }
    const cf = res.cutflows.data;
    expect(cf.raw[0]).toBe(600);
    expect(cf.raw[1]).toBe(certified);
    expect(cf.raw[2]).toBe(passing);
    expect(cf.raw[3]).toBe(passing);
    let lumi = 0;
    for (const b of blocks) lumi += lumiUb[b] * 1e-6;
    expect(res.datasets.data.lumiPb).toBeCloseTo(lumi, 15);
    expect(res.datasets.data.lumiBlocks.length).toBe(blocks.size);
    expect(res.luminositySource).toBe("data");
    expect(res.scales.sim).toBeCloseTo((50 * lumi) / expectSim(sim, 10, true).sumGen, 12);
    expect(res.hists.data.y.sum()).toBe(passing);
  });

  it("run periods: only runs inside them are kept, luminosity reported per period", async () => {
    const def = analysis();
    def.datasets[1] = { ...def.datasets[1], runPeriods: { A: [1, 1], C: [3, 9] } };
    const res = await runAnalysis(def, {});
    let lumiA = 0;
    const blocks = new Set<string>();
    let kept = 0;
    for (const f of data)
      for (let i = 0; i < f.x.length; i++)
        if (f.run[i] === 1 && f.lumi[i] <= 3) {
          kept++;
          blocks.add(`1:${f.lumi[i]}`);
        }
    for (const b of blocks) lumiA += lumiUb[b] * 1e-6;
    expect(res.cutflows.data.raw[1]).toBe(kept);
    expect(res.datasets.data.lumiPb).toBeCloseTo(lumiA, 15);
    expect(res.datasets.data.lumiPerPeriodPb).toEqual({ A: expect.closeTo(lumiA, 15), C: 0 });
    // periods without a certification JSON still filter (and make the "certified" step)
    const def2 = analysis();
    def2.datasets[1] = { name: "data", kind: "data", files: dataPaths, runPeriods: { B: [2, 2] } };
    const res2 = await runAnalysis(def2, {});
    let run2 = 0;
    for (const f of data) for (const r of f.run) if (r === 2) run2++;
    expect(res2.cutflows.data.steps[1]).toBe("certified");
    expect(res2.cutflows.data.raw[1]).toBe(run2);
  });

  it("warns about certified blocks missing from the lumi CSV and counts them as 0", async () => {
    const partial = path.join(dir, "lumi-partial.csv");
    const lines = ["#run:fill,ls,time,beamstatus,E(GeV),delivered(/ub),recorded(/ub),avgpu,source"];
    for (const [k, v] of Object.entries(lumiUb)) if (k !== "2:2") lines.push(`${k.replace(":", ":10,")}:${k.split(":")[1]},t,STABLE BEAMS,6800,${v},${v},20,HFOC`);
    writeFileSync(partial, lines.join("\n") + "\n");
    const def = analysis();
    def.datasets[1] = { ...def.datasets[1], lumiCsv: partial };
    const logs: string[] = [];
    const res = await runAnalysis(def, { log: (m) => logs.push(m) });
    const full = await runAnalysis(analysis(), {});
    expect(res.datasets.data.missingLumiBlocks).toBe(1);
    expect(logs.join("\n")).toMatch(/1 certified blocks are not in .*lumi-partial.csv \(first: run 2 block 2\)/);
    expect(res.datasets.data.lumiPb!).toBeCloseTo(full.datasets.data.lumiPb! - 210e-6, 15);
  });

  it("gives the same result whatever the chunk size", async () => {
    const a = await runAnalysis(analysis({ chunkEntries: 7 }), {});
    const b = await runAnalysis(analysis({ chunkEntries: 100000 }), {});
    const ta = a.hists.sim.t.values();
    const tb = b.hists.sim.t.values();
    expect(ta.length).toBe(15);
    tb.forEach((v, i) => expect(ta[i]).toBeCloseTo(v, 9));
    expect(Array.from(a.cutflows.data.raw)).toEqual(Array.from(b.cutflows.data.raw));
  });

  it("shards by file index mod N, and merged shards equal the full run", async () => {
    const def = analysis();
    const full = await runAnalysis(def, {});
    const s0 = planFiles(def, { shard: { index: 0, count: 2 } }).map((w) => w.file);
    const s1 = planFiles(def, { shard: { index: 1, count: 2 } }).map((w) => w.file);
    expect(s0).toEqual([simPaths[0], simPaths[2], dataPaths[1]]);
    expect(s1).toEqual([simPaths[1], dataPaths[0]]);
    const outs = [];
    for (let i = 0; i < 2; i++) {
      const r = await runAnalysis(def, { shard: { index: i, count: 2 } });
      const file = path.join(dir, `shard${i}.hdf5`);
      await writeRunOutput(file, { info: toRunInfo(r, { command: "test", time: "now" }), hists: r.hists });
      outs.push({ file, output: await readRunOutput(file) });
    }
    const merged = mergeRunOutputs(outs, { command: "merge", time: "now" });
    for (const ds of ["sim", "data"])
      for (const [name, h] of Object.entries(full.hists[ds])) {
        const m = merged.hists[ds][name].values();
        h.values().forEach((v, i) => expect(m[i]).toBeCloseTo(v, 9));
      }
    expect(merged.info.cutflows.data.raw).toEqual(Array.from(full.cutflows.data.raw));
    expect(merged.info.datasets.data.lumiPb).toBeCloseTo(full.datasets.data.lumiPb!, 15);
    expect(merged.info.datasets.sim.sumGenWeights).toBeCloseTo(full.datasets.sim.sumGenWeights, 9);
    expect(merged.info.scales.sim).toBeCloseTo(full.scales.sim, 12);
    // the same shard twice is refused
    expect(() => mergeRunOutputs([outs[0], outs[0]], { command: "merge", time: "now" })).toThrow(/processed already/);
  });

  it("refuses to merge outputs whose binning differs", async () => {
    const a = await runAnalysis(analysis(), { maxFiles: 1 });
    const def2 = analysis();
    def2.histograms[0] = { ...def2.histograms[0], axes: [{ type: "regular", name: "y", bins: 20, lo: 0, hi: 2, flow: false }] };
    const b = await runAnalysis(def2, { shard: { index: 1, count: 2 } });
    const fa = path.join(dir, "a.hdf5");
    const fb = path.join(dir, "b.hdf5");
    await writeRunOutput(fa, { info: toRunInfo(a, { command: "t", time: "t" }), hists: a.hists });
    await writeRunOutput(fb, { info: toRunInfo(b, { command: "t", time: "t" }), hists: b.hists });
    const inputs = [
      { file: fa, output: await readRunOutput(fa) },
      { file: fb, output: await readRunOutput(fb) },
    ];
    expect(() => mergeRunOutputs(inputs, { command: "m", time: "t" })).toThrow(/b\.hdf5: histogram sim\/y does not match .*binning differs/);
  });

  it("--max-files takes the first files of each dataset", async () => {
    const res = await runAnalysis(analysis(), { maxFiles: 1 });
    expect(res.datasets.sim.files).toEqual([simPaths[0]]);
    expect(res.datasets.data.files).toEqual([dataPaths[0]]);
    const exp = expectSim([sim[0]], 10, true);
    expect(res.datasets.sim.sumGenWeights).toBeCloseTo(exp.sumGen, 9);
  });

  it("uses a given Σ generator weights, except when --max-files cuts the sample", async () => {
    const def = analysis();
    def.datasets[0] = { ...def.datasets[0], sumGenWeights: 12345 };
    const full = await runAnalysis(def, {});
    expect(full.datasets.sim.sumGenWeights).toBe(12345);
    expect(full.datasets.sim.sumGenWeightsSource).toBe("given");
    expect(full.scales.sim).toBeCloseTo((50 * full.luminosityPb!) / 12345, 12);
    const part = await runAnalysis(def, { maxFiles: 1, log: () => undefined });
    expect(part.datasets.sim.sumGenWeightsSource).toBe("files");
    expect(part.datasets.sim.sumGenWeights).toBeCloseTo(expectSim([sim[0]], 10, true).sumGen, 9);
  });

  it("takes Σ generator weights from a per-run tree when told (skimmed files)", async () => {
    const skim = path.join(dir, "skim.hdf5");
    await writeColumnarTrees(skim, {
      Events: { x: sim[0].x, genWeight: sim[0].genWeight, vals: sim[0].vals, w3: sim[0].w3 },
      Runs: { run: Uint32Array.from([1, 2]), genEventSumw: Float64Array.from([1000.5, 2000.25]) },
    });
    const def = analysis({}, [skim]);
    def.datasets[0] = { ...def.datasets[0], sumGenWeightsFrom: { tree: "Runs", branch: "genEventSumw" } };
    const res = await runAnalysis(def, {});
    expect(res.datasets.sim.sumGenWeights).toBe(3000.75);
    // the events' own weights still make the histograms and the cutflow
    expect(res.cutflows.sim.weighted[0]).toBeCloseTo(expectSim([sim[0]], 10, true).sumGen, 9);
  });

  it("retries a failing file, records it, and keeps nothing of it", async () => {
    const broken = path.join(dir, "broken.hdf5");
    writeFileSync(broken, "not an hdf5 file");
    const logs: string[] = [];
    const res = await runAnalysis(analysis({}, [simPaths[0], broken]), { retries: 2, log: (m) => logs.push(m) });
    expect(res.failures).toHaveLength(1);
    expect(res.failures[0]).toMatchObject({ dataset: "sim", file: broken, attempts: 3 });
    expect(logs.filter((l) => l.includes("broken.hdf5 failed"))).toHaveLength(3);
    expect(res.datasets.sim.files).toEqual([simPaths[0]]);
    const exp = expectSim([sim[0]], 10, true);
    res.hists.sim.y.values().forEach((v, i) => expect(v).toBeCloseTo(exp.sumw[i], 9));
  });

  it("a file failing half-way through counts nothing of what it filled", async () => {
    let calls = 0;
    const def = analysis({
      columns: {
        y: (cols, ctx) => {
          if (ctx.file === simPaths[1] && ctx.start >= 256) throw new Error("read error in the middle");
          calls++;
          return (cols.x as Float64Array).map((v) => 2 * v);
        },
        nv: (cols) => nvals(cols),
      },
    });
    const res = await runAnalysis(def, { retries: 0, log: () => undefined });
    expect(calls).toBeGreaterThan(0);
    expect(res.failures.map((f) => f.file)).toEqual([simPaths[1]]);
    const exp = expectSim([sim[0], sim[2]], 10, true);
    res.hists.sim.y.values().forEach((v, i) => expect(v).toBeCloseTo(exp.sumw[i], 9));
    expect(Array.from(res.cutflows.sim.raw)).toEqual(exp.raw);
  });

  it("scales simulation to the analysis luminosity when no lumi CSV is processed", async () => {
    const def = analysis({ luminosity: 2.5 });
    def.datasets[1] = { ...def.datasets[1], lumiCsv: undefined };
    const res = await runAnalysis(def, {});
    expect(res.luminositySource).toBe("analysis");
    expect(res.scales.sim).toBeCloseTo((50 * 2.5) / res.datasets.sim.sumGenWeights, 12);
  });

  it("names the analysis mistake", () => {
    expect(() => validateAnalysis({ name: "a", datasets: [{ name: "d", kind: "mc", files: [] }], histograms: [] }, "mod.mjs")).toThrow(
      /mod.mjs: analysis declares no histograms/,
    );
    expect(() =>
      validateAnalysis(
        { name: "a", datasets: [{ name: "d", kind: "mc", files: [], xsec: 1 }], histograms: [{ name: "h", axes: [], columns: ["x"] }] },
        "mod.mjs",
      ),
    ).toThrow(/one column per axis/);
  });
});

describe("analysis modules", () => {
  it("loads .mjs directly and .ts through transpileModule", async () => {
    const mjs = path.join(dir, "a.mjs");
    writeFileSync(mjs, "export default { name: 'm', datasets: [], histograms: [] };\n");
    expect((await loadUserModule(mjs)) as { name: string }).toMatchObject({ name: "m" });
    const ts = path.join(dir, "b.ts");
    writeFileSync(ts, "interface X { name: string }\nconst a: X = { name: 't' };\nexport default a;\n");
    expect((await loadUserModule(ts)) as { name: string }).toMatchObject({ name: "t" });
    await expect(loadUserModule(path.join(dir, "none.mjs"))).rejects.toThrow(/no such file/);
  });
});

describe("Progress", () => {
  it("reports files, events, rate and ETA from the fraction done", () => {
    let now = 0;
    const out: string[] = [];
    const p = new Progress({ totalFiles: 4, enabled: true, now: () => now, stream: { write: (s: string) => out.push(s) } as never });
    now = 10_000;
    p.addEvents(5000, 0.5);
    p.fileDone(true);
    p.addEvents(5000, 1);
    p.fileDone(false);
    const line = p.line();
    // 2 of 4 files in 10 s: 10 s to go; 10000 events in 10 s
    expect(line).toContain("files 2/4 (1 failed)");
    expect(line).toContain("events 10.0k");
    expect(line).toContain("1.0k ev/s");
    expect(line).toContain("ETA 0:10");
  });
});
