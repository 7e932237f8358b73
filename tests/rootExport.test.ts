/**
 * `histmaker export --root`: a run output made here is exported and read back with our own ROOT
 * reader (src/histmaker/root/histograms.ts): every cell with its flow bins, fSumw2, edges, labels,
 * names, the statistics, tensor variations (each and Up/Down pairs), scaled vs unscaled, the
 * output-path errors and the >3D refusal.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { tmpdir } from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { main } from "../src/cli/histmaker.js";
import { categoryStr, integer, regular, variable, type Axis } from "../src/histmaker/axes.js";
import { compressRecord } from "../src/histmaker/export/rootFileWriter.js";
import { exportRunToRoot, rootDirectoryName } from "../src/histmaker/export/exportRoot.js";
import { Hist } from "../src/histmaker/Hist.js";
import { listHistograms, readHistogram, type THRead } from "../src/histmaker/root/histograms.js";
import { RootFile } from "../src/histmaker/root/RootFile.js";
import { writeRunOutput, type RunInfo } from "../src/histmaker/runOutput.js";
import { runCommand } from "./helpers/cli.js";
import { rng } from "./helpers/random.js";

const dir = mkdtempSync(path.join(tmpdir(), "rootexport-"));
const runFile = path.join(dir, "run.hdf5");
const SCALES: Record<string, number> = { Wmunu: 0.37, SingleMuon: 1 };

/** A histogram with random contents; variances differ from the values (weighted storage). */
function randomHist(axes: Axis[], seed: number, tensor?: { name: string; size: number }): Hist {
  const empty = new Hist(axes, { storage: "weighted", ...(tensor ? { tensor } : {}) });
  const n = empty.flowShape.reduce((a, b) => a * b, 1);
  const rnd = rng(seed);
  const v = new Float64Array(n).map(() => Math.round(rnd() * 1000) / 8 - 20);
  const w = new Float64Array(n).map(() => rnd() * 50);
  return Hist.fromArrays(axes, { storage: "weighted", ...(tensor ? { tensor } : {}) }, v, w);
}

const hists = {
  pt: () => randomHist([regular(5, 26, 56, { name: "pt", label: "p_{T} [GeV]" })], 1),
  etaPt: () =>
    randomHist([variable([-2.4, -1, 0, 0.5, 2.4], { name: "eta" }), regular(3, 0, 3, { name: "pt", underflow: false, overflow: true })], 2),
  cube: () =>
    randomHist([categoryStr(["plus", "minus"], { name: "charge" }), integer(0, 3, { name: "iso", overflow: false }), variable([0, 1, 4], { name: "mt" })], 3),
  pdf: () => randomHist([regular(4, 0, 4, { name: "x" })], 4, { name: "pdfVar", size: 4 }),
  big: () =>
    randomHist([regular(2, 0, 2, { name: "a" }), regular(2, 0, 2, { name: "b" }), regular(2, 0, 2, { name: "c" }), regular(2, 0, 2, { name: "d" })], 5),
};
type HistName = keyof typeof hists;
const made: Record<string, Record<string, Hist>> = { Wmunu: {}, SingleMuon: {} };

beforeAll(async () => {
  let seed = 10;
  for (const ds of Object.keys(made))
    for (const [n, f] of Object.entries(hists)) {
      const h = f();
      // distinct contents per dataset
      made[ds][n] = Hist.fromArrays([...h.axes], { storage: "weighted", ...(h.tensor ? { tensor: h.tensor } : {}) }, h.values({ flow: true }).map((x) => x + seed), h.variances({ flow: true }));
      seed += 1;
    }
  const info = {
    schema: "hepfit.histmaker-run",
    version: 1,
    analysis: "test",
    datasets: {},
    cutflows: {},
    failures: [],
    luminosityPb: 1234.5,
    luminositySource: "analysis",
    analysisLuminosityPb: 1234.5,
    scales: SCALES,
    shards: [null],
    histograms: Object.fromEntries(Object.keys(made).map((d) => [d, Object.keys(hists)])),
    meta: { command: "test", time: "now" },
  } as unknown as RunInfo;
  for (const d of Object.keys(made)) (info.datasets as Record<string, unknown>)[d] = { name: d };
  await writeRunOutput(runFile, { info, hists: made });
});

async function exportCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runCommand(main, "histmaker", ["export", runFile, ...args]);
}

/** Expected ROOT cells (x fastest, flow at 0 and n+1, zero where the hist has no flow bin) of tensor entry k. */
function expectedCells(h: Hist, k: number, plane: "values" | "variances", scale: number): Float64Array {
  const axes = h.axes;
  const data = plane === "values" ? h.values({ flow: true }) : h.variances({ flow: true });
  const K = h.tensorSize;
  const nb = axes.map((a) => (a.type === "regular" ? a.bins : a.type === "variable" ? a.edges.length - 1 : a.type === "integer" ? a.upper - a.lower : a.type === "category_str" ? a.categories.length : 2));
  const ext = axes.map((a, i) => nb[i] + (a.underflow ? 1 : 0) + (a.overflow ? 1 : 0));
  const rootN = [0, 1, 2].map((i) => (i < axes.length ? nb[i] + 2 : 1));
  const out = new Float64Array(rootN[0] * rootN[1] * rootN[2]);
  const f = plane === "values" ? scale : scale * scale;
  for (let iz = 0; iz < rootN[2]; iz++)
    for (let iy = 0; iy < rootN[1]; iy++)
      for (let ix = 0; ix < rootN[0]; ix++) {
        const r = [ix, iy, iz];
        let flat = 0;
        let ok = true;
        for (let a = 0; a < axes.length; a++) {
          const ax = axes[a];
          let j: number;
          if (r[a] === 0) j = ax.underflow ? 0 : -1;
          else if (r[a] === nb[a] + 1) j = ax.overflow ? ext[a] - 1 : -1;
          else j = r[a] - 1 + (ax.underflow ? 1 : 0);
          if (j < 0) ok = false;
          flat = flat * ext[a] + j;
        }
        out[ix + rootN[0] * (iy + rootN[1] * iz)] = ok ? data[flat * K + k] * f : 0;
      }
  return out;
}

async function readAll(file: string): Promise<Map<string, THRead>> {
  const f = await RootFile.open(file);
  try {
    const out = new Map<string, THRead>();
    for (const o of listHistograms(f)) out.set(o.name, await readHistogram(f, o.name));
    return out;
  } finally {
    f.close();
  }
}

function checkHist(got: THRead | undefined, h: Hist, k: number, scale: number): void {
  expect(got).toBeDefined();
  const th = got!;
  expect(Array.from(th.contents)).toEqual(Array.from(expectedCells(h, k, "values", scale)));
  expect(Array.from(th.sumw2)).toEqual(Array.from(expectedCells(h, k, "variances", scale)));
}

describe("histmaker export --root", () => {
  let full: Map<string, THRead>;
  const out = path.join(dir, "shapes.root");

  beforeAll(async () => {
    const r = await exportCli(["--root", out, "--project", "big=a,c", "--pairs", "pdf"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/wrote 16 histograms to .*shapes\.root \(scaled to 1234\.50 \/pb\)/);
    full = await readAll(out);
  });

  it("lays histograms out as <histogram>/<dataset> with TH1D/TH2D/TH3D by dimension", async () => {
    const f = await RootFile.open(out);
    const listed = listHistograms(f).map((o) => `${o.name}:${o.className}`);
    f.close();
    expect(listed.sort()).toEqual(
      [
        "pt/Wmunu:TH1D", "pt/SingleMuon:TH1D", "etaPt/Wmunu:TH2D", "etaPt/SingleMuon:TH2D", "cube/Wmunu:TH3D", "cube/SingleMuon:TH3D",
        "big/Wmunu:TH2D", "big/SingleMuon:TH2D",
        "pdf/Wmunu_pdfVar0Up:TH1D", "pdf/Wmunu_pdfVar0Down:TH1D", "pdf/Wmunu_pdfVar1Up:TH1D", "pdf/Wmunu_pdfVar1Down:TH1D",
        "pdf/SingleMuon_pdfVar0Up:TH1D", "pdf/SingleMuon_pdfVar0Down:TH1D", "pdf/SingleMuon_pdfVar1Up:TH1D", "pdf/SingleMuon_pdfVar1Down:TH1D",
      ].sort(),
    );
    expect(full.get("pt/Wmunu")!.name).toBe("Wmunu");
  });

  it("reads every cell, flow bin and sumw2 back exactly, scaled by σ×L/Σw", () => {
    for (const ds of ["Wmunu", "SingleMuon"]) {
      for (const n of ["pt", "etaPt", "cube"] as HistName[]) checkHist(full.get(`${n}/${ds}`), made[ds][n], 0, SCALES[ds]);
      checkHist(full.get(`big/${ds}`), made[ds].big.project("a", "c"), 0, SCALES[ds]);
      for (let i = 0; i < 2; i++) {
        checkHist(full.get(`pdf/${ds}_pdfVar${i}Up`), made[ds].pdf, 2 * i, SCALES[ds]);
        checkHist(full.get(`pdf/${ds}_pdfVar${i}Down`), made[ds].pdf, 2 * i + 1, SCALES[ds]);
      }
    }
  });

  it("writes regular axes as (n, min, max), variable ones with fXbins, titles from labels, categories as labelled bins", () => {
    const pt = full.get("pt/Wmunu")!;
    expect(pt.axes[0]).toMatchObject({ name: "xaxis", title: "p_{T} [GeV]", nbins: 5, xmin: 26, xmax: 56, edges: [], labels: null });
    const etaPt = full.get("etaPt/Wmunu")!;
    expect(etaPt.axes[0]).toMatchObject({ title: "eta", nbins: 4, xmin: -2.4, xmax: 2.4, edges: [-2.4, -1, 0, 0.5, 2.4] });
    expect(etaPt.axes[1]).toMatchObject({ name: "yaxis", title: "pt", nbins: 3, xmin: 0, xmax: 3, edges: [] });
    const cube = full.get("cube/SingleMuon")!;
    expect(cube.axes[0]).toMatchObject({ title: "charge", nbins: 2, xmin: 0, xmax: 2 });
    expect([...cube.axes[0].labels!.entries()]).toEqual([
      [1, "plus"],
      [2, "minus"],
    ]);
    expect(cube.axes[1]).toMatchObject({ title: "iso", nbins: 3, xmin: 0, xmax: 3, labels: null });
    expect(cube.axes[2]).toMatchObject({ name: "zaxis", title: "mt", edges: [0, 1, 4] });
  });

  it("fills the statistics from the in-range bins at bin centres", () => {
    const th = full.get("etaPt/Wmunu")!;
    const [ax, ay] = th.axes;
    const nx = ax.nbins + 2;
    let sw = 0, sw2 = 0, swx = 0, swx2 = 0, swy = 0, swxy = 0;
    for (let iy = 1; iy <= ay.nbins; iy++)
      for (let ix = 1; ix <= ax.nbins; ix++) {
        const w = th.contents[ix + nx * iy];
        const x = 0.5 * (ax.edges[ix - 1] + ax.edges[ix]);
        const y = ay.xmin + (iy - 0.5) * ((ay.xmax - ay.xmin) / ay.nbins);
        sw += w;
        sw2 += th.sumw2[ix + nx * iy];
        swx += w * x;
        swx2 += w * x * x;
        swy += w * y;
        swxy += w * x * y;
      }
    expect(th.tsumw).toBeCloseTo(sw, 9);
    expect(th.tsumw2).toBeCloseTo(sw2, 9);
    expect(th.tsumwx).toBeCloseTo(swx, 9);
    expect(th.tsumwx2).toBeCloseTo(swx2, 9);
    expect(th.more.tsumwy).toBeCloseTo(swy, 9);
    expect(th.more.tsumwxy).toBeCloseTo(swxy, 9);
    // effective entries (Σw)²/Σw² over all stored bins: independent of the scale
    const h = made.Wmunu.etaPt;
    const total = h.values({ flow: true }).reduce((a, b) => a + b, 0);
    const total2 = h.variances({ flow: true }).reduce((a, b) => a + b, 0);
    expect(th.entries).toBeCloseTo((total * total) / total2, 9);
  });

  it("--unscaled writes the stored sums; each tensor entry as <dataset>_<tensor><i> without --pairs; --datasets/--histograms select", async () => {
    const file = path.join(dir, "unscaled.root");
    const r = await exportCli(["--root", file, "--unscaled", "--datasets", "Wmunu", "--histograms", "pt,pdf", "--compression", "0"]);
    expect(r.code).toBe(0);
    const got = await readAll(file);
    expect([...got.keys()].sort()).toEqual(["pdf/Wmunu_pdfVar0", "pdf/Wmunu_pdfVar1", "pdf/Wmunu_pdfVar2", "pdf/Wmunu_pdfVar3", "pt/Wmunu"]);
    checkHist(got.get("pt/Wmunu"), made.Wmunu.pt, 0, 1);
    for (let k = 0; k < 4; k++) checkHist(got.get(`pdf/Wmunu_pdfVar${k}`), made.Wmunu.pdf, k, 1);
    // uncompressed: the stored doubles are visible in the file (big-endian)
    const bytes = readFileSync(file);
    const probe = Buffer.alloc(8);
    probe.writeDoubleBE(made.Wmunu.pt.values({ flow: true })[3]);
    expect(bytes.includes(probe)).toBe(true);
  });

  it("--unroll writes every histogram as a TH1D over its in-range bins, last axis fastest", async () => {
    const file = path.join(dir, "unrolled.root");
    const r = await exportCli(["--root", file, "--unroll", "--datasets", "Wmunu", "--histograms", "cube,big,pdf"]);
    expect(r.code, r.stderr).toBe(0);
    const got = await readAll(file);
    expect([...got.keys()].sort()).toEqual(["big/Wmunu", "cube/Wmunu", ...[0, 1, 2, 3].map((k) => `pdf/Wmunu_pdfVar${k}`)].sort());
    const s = SCALES.Wmunu;
    for (const [key, h, k] of [
      ["cube/Wmunu", made.Wmunu.cube, 0],
      ["big/Wmunu", made.Wmunu.big, 0],
      ["pdf/Wmunu_pdfVar2", made.Wmunu.pdf, 2],
    ] as [string, Hist, number][]) {
      const th = got.get(key)!;
      const K = h.tensorSize;
      const inRange = Array.from(h.values()).filter((_, i) => i % K === k);
      const inRangeVar = Array.from(h.variances()).filter((_, i) => i % K === k);
      expect(th.dim).toBe(1);
      expect(th.axes[0]).toMatchObject({ nbins: inRange.length, xmin: 0, xmax: inRange.length });
      expect(Array.from(th.contents)).toEqual([0, ...inRange.map((v) => v * s), 0]);
      expect(Array.from(th.sumw2)).toEqual([0, ...inRangeVar.map((v) => v * (s * s)), 0]);
    }
    expect(got.get("cube/Wmunu")!.axes[0].title).toBe("charge x iso x mt (unrolled, last axis fastest)");
  });

  it("refuses a histogram of more than 3 axes, naming it", async () => {
    const file = path.join(dir, "big.root");
    const r = await exportCli(["--root", file]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/histogram "big" has 4 axes \(a, b, c, d\).*--project big=/);
    expect(existsSync(file)).toBe(false);
  });

  it("rejects bad options and output paths with one line and exit 2", async () => {
    const cases: [string[], RegExp][] = [
      [[], /give the output with --root/],
      [["--root", runFile], /--root/],
      [["--root", path.join(dir, "no", "such", "dir", "x.root")], /--root/],
      [["--root", path.join(dir, "x.root"), "--datasets", "Nope"], /no dataset "Nope"/],
      [["--root", path.join(dir, "x.root"), "--histograms", "nope"], /no histogram "nope"/],
      [["--root", path.join(dir, "x.root"), "--project", "big"], /--project "big"/],
      [["--root", path.join(dir, "x.root"), "--project", "big=a,zz"], /no axis "zz"/],
      [["--root", path.join(dir, "x.root"), "--scaled", "--unscaled"], /exclude each other/],
      [["--root", path.join(dir, "x.root"), "--compression", "12"], /--compression/],
    ];
    for (const [args, re] of cases) {
      const r = await exportCli(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(re);
      expect(r.stderr.trim().split("\n"), args.join(" ")).toHaveLength(1);
    }
    expect(existsSync(path.join(dir, "x.root"))).toBe(false);
    expect(readFileSync(runFile).subarray(0, 4).toString("latin1")).toBe("\x89HDF");
  });

  it("refuses an odd tensor size in pairs mode", async () => {
    const odd = path.join(dir, "odd.hdf5");
    const h = randomHist([regular(2, 0, 1, { name: "x" })], 9, { name: "w", size: 3 });
    const info = { schema: "hepfit.histmaker-run", version: 1, datasets: { A: {} }, scales: {}, luminosityPb: null } as unknown as RunInfo;
    await writeRunOutput(odd, { info, hists: { A: { h } } });
    const r = await runCommand(main, "histmaker", ["export", odd, "--root", path.join(dir, "odd.root"), "--pairs", "h"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/"h" tensor axis "w" has 3 entries/);
    expect(existsSync(path.join(dir, "odd.root"))).toBe(false);
  });

  it("refuses an axis without bins (an empty growing category axis)", async () => {
    const f = path.join(dir, "empty.hdf5");
    const h = new Hist([categoryStr([], { name: "era", growth: true })], { storage: "weighted" });
    const info = { schema: "hepfit.histmaker-run", version: 1, datasets: { A: {} }, scales: {}, luminosityPb: null } as unknown as RunInfo;
    await writeRunOutput(f, { info, hists: { A: { byEra: h } } });
    const r = await runCommand(main, "histmaker", ["export", f, "--root", path.join(dir, "empty.root")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/histogram "byEra" of A: axis "era" has no bins/);
  });

  it("writes per-region histograms (name::region) to ROOT-friendly directories name__region, read back exactly", async () => {
    const h = made.Wmunu.pt;
    const run = { info: { scales: { Wmunu: 1 } }, hists: { Wmunu: { "pt::SR": h, "pt::CR_1": made.Wmunu.etaPt } } } as unknown as Parameters<typeof exportRunToRoot>[0];
    const out = path.join(dir, "regions.root");
    const written = exportRunToRoot(run, "regions.hdf5", out);
    expect(written.map((w) => w.path).sort()).toEqual(["pt__CR_1/Wmunu", "pt__SR/Wmunu"]);
    expect(rootDirectoryName("mll::SR")).toBe("mll__SR");
    const got = await readAll(out);
    expect(Array.from(got.get("pt__SR/Wmunu")!.contents)).toEqual(Array.from(expectedCells(h, 0, "values", 1)));
    expect(Array.from(got.get("pt__SR/Wmunu")!.sumw2)).toEqual(Array.from(expectedCells(h, 0, "variances", 1)));
    // a histogram already called pt__SR would share the directory: refused before anything is written
    const clash = { info: { scales: {} }, hists: { Wmunu: { "pt::SR": h, pt__SR: h } } } as unknown as Parameters<typeof exportRunToRoot>[0];
    const out2 = path.join(dir, "clash.root");
    expect(() => exportRunToRoot(clash, "clash.hdf5", out2)).toThrow(/"pt::SR" and "pt__SR" would both be written to the ROOT directory "pt__SR"/);
    expect(existsSync(out2)).toBe(false);
  });

  it("names a single up/down pair after the tensor axis: <dataset>_<tensor>Up/Down", async () => {
    const one = path.join(dir, "onepair.hdf5");
    const h = randomHist([regular(2, 0, 1, { name: "x" })], 11, { name: "massShift", size: 2 });
    const info = { schema: "hepfit.histmaker-run", version: 1, datasets: { W: {} }, scales: { W: 2 }, luminosityPb: 10 } as unknown as RunInfo;
    await writeRunOutput(one, { info, hists: { W: { mass: h } } });
    const file = path.join(dir, "onepair.root");
    const r = await runCommand(main, "histmaker", ["export", one, "--root", file, "--pairs", "*"]);
    expect(r.code).toBe(0);
    const got = await readAll(file);
    expect([...got.keys()].sort()).toEqual(["mass/W_massShiftDown", "mass/W_massShiftUp"]);
    checkHist(got.get("mass/W_massShiftUp"), h, 0, 2);
    checkHist(got.get("mass/W_massShiftDown"), h, 1, 2);
  });

  // An independent reader: jsroot, installed outside the project (npm install --ignore-scripts jsroot)
  // at JSROOT_DIR (default /tmp/jsroot-eval/node_modules/jsroot, as bench/rootread uses).
  const jsrootDir = process.env.JSROOT_DIR ?? "/tmp/jsroot-eval/node_modules/jsroot";
  const haveJsroot = existsSync(path.join(jsrootDir, "modules/io.mjs"));
  if (!haveJsroot) console.log(`rootExport: jsroot cross-check skipped (no jsroot at ${jsrootDir}; set JSROOT_DIR)`);
  it.skipIf(!haveJsroot)("jsroot reads the same names, axes, cells, sumw2, labels and statistics", async () => {
    const io = (await import(pathToFileURL(path.join(jsrootDir, "modules/io.mjs")).href)) as {
      openFile(p: string): Promise<{ readObject(n: string): Promise<Record<string, unknown>> }>;
    };
    // jsroot reports byte-count mismatches (a member streamed wrongly) on console.log and carries on
    const logged: string[] = [];
    const spy = vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => void logged.push(a.join(" ")));
    const f = await io.openFile(out);
    type JsAxis = { fName: string; fTitle: string; fNbins: number; fXmin: number; fXmax: number; fXbins: ArrayLike<number>; fLabels: { arr: { fUniqueID: number; fString: string }[] } | null };
    for (const [p, ours] of full) {
      const h = await f.readObject(p);
      expect(h._typename).toBe(`TH${ours.dim}D`);
      expect([h.fName, h.fTitle]).toEqual([ours.name, ours.title]);
      expect(Array.from(h.fArray as ArrayLike<number>)).toEqual(Array.from(ours.contents));
      expect(Array.from(h.fSumw2 as ArrayLike<number>)).toEqual(Array.from(ours.sumw2));
      expect([h.fEntries, h.fTsumw, h.fTsumw2, h.fTsumwx, h.fTsumwx2]).toEqual([ours.entries, ours.tsumw, ours.tsumw2, ours.tsumwx, ours.tsumwx2]);
      if (ours.dim > 1) expect([h.fTsumwy, h.fTsumwy2, h.fTsumwxy]).toEqual([ours.more.tsumwy, ours.more.tsumwy2, ours.more.tsumwxy]);
      if (ours.dim > 2) expect([h.fTsumwz, h.fTsumwz2, h.fTsumwxz, h.fTsumwyz]).toEqual([ours.more.tsumwz, ours.more.tsumwz2, ours.more.tsumwxz, ours.more.tsumwyz]);
      const axes = [h.fXaxis, h.fYaxis, h.fZaxis] as JsAxis[];
      ours.axes.forEach((a, i) => {
        const j = axes[i];
        expect([j.fName, j.fTitle, j.fNbins, j.fXmin, j.fXmax, Array.from(j.fXbins)]).toEqual([a.name, a.title, a.nbins, a.xmin, a.xmax, a.edges]);
        expect(j.fLabels ? j.fLabels.arr.map((l) => [l.fUniqueID, l.fString]) : null).toEqual(a.labels ? [...a.labels.entries()] : null);
      });
    }
    spy.mockRestore();
    expect(logged).toEqual([]);
  });

  it("histmaker inspect lists the exported histograms (text and --json)", async () => {
    const t = await runCommand(main, "histmaker", ["inspect", out]);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toContain("(no TTrees)");
    expect(t.stdout).toContain("16 histograms");
    expect(t.stdout).toMatch(/^\s+cube\/Wmunu\s+TH3D\s+2×3×2\s/m);
    const j = await runCommand(main, "histmaker", ["inspect", out, "--json"]);
    const listed = (JSON.parse(j.stdout) as { histograms: { name: string; bins: number[]; sum: number }[] }).histograms;
    const pt = listed.find((h) => h.name === "pt/SingleMuon")!;
    expect(pt.bins).toEqual([5]);
    expect(pt.sum).toBeCloseTo(made.SingleMuon.pt.sum({ flow: true }) * SCALES.SingleMuon, 9);
  });

  it("writes a consistent small-file header: fEND = size, free segments at the end, fSeekInfo at the StreamerInfo key", () => {
    const b = readFileSync(out);
    expect(b.subarray(0, 4).toString("latin1")).toBe("root");
    const [version, begin, end, seekFree, nbytesFree, nfree] = [4, 8, 12, 16, 20, 24].map((o) => b.readInt32BE(o));
    expect(version).toBe(62206);
    expect(begin).toBe(100);
    expect(end).toBe(b.length);
    expect(seekFree + nbytesFree).toBe(end);
    expect(nfree).toBe(1);
    // fUnits (1 byte) at 32, fCompress at 33, fSeekInfo at 37, fNbytesInfo at 41
    expect(b[32]).toBe(4);
    expect(b.readInt32BE(33)).toBe(101);
    const seekInfo = b.readInt32BE(37);
    expect(b.readInt32BE(seekInfo)).toBe(b.readInt32BE(41)); // the key's Nbytes
    expect(b.subarray(seekInfo, seekInfo + 80).toString("latin1")).toContain("StreamerInfo");
    // the free segment starts at fEND
    const keylen = b.readInt16BE(seekFree + 14);
    expect(b.readInt32BE(seekFree + keylen + 2)).toBe(end);
  });

  it("compresses records in ROOT's ZL blocks only when smaller", () => {
    const zeros = new Uint8Array(5000);
    const z = compressRecord(zeros, 1)!;
    expect(String.fromCharCode(z[0], z[1], z[2])).toBe("ZL\x08");
    expect(z[6] | (z[7] << 8) | (z[8] << 16)).toBe(5000);
    // incompressible bytes and tiny records are stored raw
    expect(compressRecord(new Uint8Array(randomBytes(5000)), 1)).toBeNull();
    expect(compressRecord(new Uint8Array(10), 1)).toBeNull();
  });
});

describe("reading ROOT-written histograms (tests/fixtures/root/uproot-histograms.root, ROOT 6, TH1 v7)", () => {
  const fixture = path.join(path.dirname(new URL(import.meta.url).pathname), "fixtures/root/uproot-histograms.root");

  it("reads the three TH1F: names, titles, binning, and contents that add up to the fill count", async () => {
    const got = await readAll(fixture);
    expect([...got.keys()]).toEqual(["one", "two", "three"]);
    expect([...got.values()].map((h) => [h.className, h.title, h.axes[0].nbins, h.contents.length])).toEqual([
      ["TH1F", "numero uno", 10, 12],
      ["TH1F", "numero dos", 10, 12],
      ["TH1F", "numero tres", 10, 12],
    ]);
    // unit-weight fills: the cells (flow included) add up to fEntries
    for (const h of got.values()) expect(h.contents.reduce((a, b) => a + b, 0)).toBe(h.entries);
  });

  const jsrootDir = process.env.JSROOT_DIR ?? "/tmp/jsroot-eval/node_modules/jsroot";
  it.skipIf(!existsSync(path.join(jsrootDir, "modules/io.mjs")))("matches jsroot cell by cell", async () => {
    const io = (await import(pathToFileURL(path.join(jsrootDir, "modules/io.mjs")).href)) as {
      openFile(p: string): Promise<{ readObject(n: string): Promise<Record<string, unknown>> }>;
    };
    const f = await io.openFile(fixture);
    for (const [name, ours] of await readAll(fixture)) {
      const h = await f.readObject(name);
      expect(Array.from(h.fArray as ArrayLike<number>)).toEqual(Array.from(ours.contents));
      const ax = h.fXaxis as { fXmin: number; fXmax: number };
      expect([ax.fXmin, ax.fXmax, h.fEntries, h.fTsumw, h.fTsumwx]).toEqual([ours.axes[0].xmin, ours.axes[0].xmax, ours.entries, ours.tsumw, ours.tsumwx]);
    }
  });
});
