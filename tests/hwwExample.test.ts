/**
 * The H → WW example (inputs/hww-example) end to end on the CMS open-data NanoAOD file, through
 * bin/histmaker.js as a physicist runs it: `run` (preselection, regions, cutflows, correctionlib
 * lepton scale factors as event weight and as an up/down tensor axis), `plot` (the page is written
 * and lists the regions' cutflows) and `export --root` (every histogram read back exactly with our
 * ROOT reader). The scale factors and the cutflow are checked against a per-event loop written here
 * from the raw branches and the correctionlib JSON's own tables.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import type { Hist } from "../src/histmaker/Hist.js";
import type { JaggedColumn } from "../src/histmaker/events.js";
import { listHistograms, readHistogram, type THRead } from "../src/histmaker/root/histograms.js";
import { RootFile } from "../src/histmaker/root/RootFile.js";
import { readRunOutput, type RunOutput } from "../src/histmaker/runOutput.js";
import { rootDirectoryName } from "../src/histmaker/export/exportRoot.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "..");
const shared = path.resolve(here, "../../shared");
const nano = path.join(shared, "data/root/nanoAOD_2015_CMS_Open_Data_ttbar.root");
const example = path.join(repo, "inputs/hww-example");
const artifacts = path.resolve("test-artifacts");
const built = existsSync(path.join(repo, "dist/src/cli/histmaker.js")) && existsSync(path.join(repo, "dist/src/histmaker/api.js"));

const skip = !existsSync(nano) ? `${nano} not found (shared data absent)` : !built ? "dist/ not built: run `npx tsc -p tsconfig.json` first" : null;
if (skip) console.log(`skipping the H → WW example test: ${skip}`);

function histmaker(args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [path.join(repo, "bin/histmaker.js"), ...args], { cwd: example, encoding: "utf8", env: { ...process.env, HWW_FILES: nano } });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** Every event's values of the named branches (jagged → per-event arrays). */
async function readEvents(branches: string[]): Promise<Record<string, (number[] | number)[]>> {
  const f = await RootFile.open(nano);
  const out: Record<string, (number[] | number)[]> = Object.fromEntries(branches.map((b) => [b, []]));
  for await (const c of f.tree("Events").iterate({ branches })) {
    for (const b of branches) {
      const col = c.columns[b];
      if ((col as JaggedColumn).offsets !== undefined) {
        const j = col as JaggedColumn;
        for (let e = 0; e < c.length; e++) out[b].push(Array.from(j.values.subarray(j.offsets[e], j.offsets[e + 1]), Number));
      } else out[b].push(...Array.from(col as ArrayLike<number>, Number));
    }
  }
  f.close();
  return out;
}

interface Table {
  edges: [number[], number[]];
  content: number[];
}
/** The scale factor of one lepton from the JSON's tables (clamped to the edges, as its flow says). */
function sfLookup(): (syst: string, pdg: number, abseta: number, pt: number) => number {
  const doc = JSON.parse(readFileSync(path.join(example, "lepton_sf.json"), "utf8"));
  const corr = doc.corrections.find((c: { name: string }) => c.name === "lepton_id_iso");
  const bin = (edges: number[], v: number) => {
    let b = 0;
    while (b < edges.length - 2 && v >= edges[b + 1]) b++;
    return b;
  };
  return (syst, pdg, abseta, pt) => {
    const bySyst = corr.data.content.find((c: { key: string }) => c.key === syst).value;
    const t: Table = bySyst.content.find((c: { key: number }) => c.key === pdg).value;
    return t.content[bin(t.edges[0], abseta) * (t.edges[1].length - 1) + bin(t.edges[1], pt)];
  };
}

/** ROOT's cells of a 1-D histogram (flow at 0 and n+1, zero where the axis has none) for tensor entry k. */
function expectedCells(h: Hist, k: number, plane: "values" | "variances", scale: number): number[] {
  const a = h.axes[0];
  const n = a.type === "regular" ? a.bins : a.type === "variable" ? a.edges.length - 1 : a.type === "integer" ? a.upper - a.lower : a.type === "category_str" || a.type === "category_int" ? a.categories.length : 2;
  const data = plane === "values" ? h.values({ flow: true }) : h.variances({ flow: true });
  const K = h.tensorSize;
  const f = plane === "values" ? scale : scale * scale;
  const out = new Array<number>(n + 2).fill(0);
  const off = a.underflow ? 1 : 0;
  if (a.underflow) out[0] = data[k] * f;
  for (let i = 0; i < n; i++) out[i + 1] = data[(i + off) * K + k] * f;
  if (a.overflow) out[n + 1] = data[(n + off) * K + k] * f;
  return out;
}

describe.skipIf(skip !== null)("the H → WW example on NanoAOD", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "hww-example-"));
  const runFile = path.join(dir, "hww.hdf5");
  let run: RunOutput;
  let runLog = "";

  beforeAll(async () => {
    const r = histmaker(["run", "analysis.mjs", "-o", runFile, "--no-progress"]);
    expect(r.err + r.out, "histmaker run").toMatch(/wrote .*hww\.hdf5/);
    expect(r.code).toBe(0);
    runLog = r.out + r.err;
    run = await readRunOutput(runFile);
  }, 120_000);

  it("cutflows: the preselection and each region's, consistent step to step", () => {
    const steps = ["all", "oneLepton", "twoLeptons", "mll12"];
    for (const ds of ["ttbar", "data"]) {
      const cf = run.info.cutflows[ds];
      expect(cf.steps).toEqual(steps);
      expect(cf.raw[0]).toBe(200);
      for (let i = 1; i < cf.raw.length; i++) expect(cf.raw[i]).toBeLessThanOrEqual(cf.raw[i - 1]);
      const regions = run.info.regionCutflows![ds];
      expect(Object.keys(regions).sort()).toEqual(["CR_DY", "CR_SS", "CR_fake", "CR_top", "SR"]);
      expect(regions.SR.steps).toEqual(["preselection", "twoTight", "emu", "oppositeCharge", "zeroJet", "mll60", "dphill1.8", "mth60to125"]);
      expect(regions.CR_top.steps).toEqual(["preselection", "twoTight", "emu", "oppositeCharge", "oneJetPlus", "mll50"]);
      expect(regions.CR_SS.steps).toEqual(["preselection", "sameCharge"]);
      expect(regions.CR_fake.steps).toEqual(["preselection", "oneTight", "oppositeCharge"]);
      for (const r of Object.values(regions)) {
        expect(r.raw[0]).toBe(cf.raw[cf.raw.length - 1]);
        expect(r.weighted[0]).toBe(cf.weighted[cf.weighted.length - 1]);
      }
    }
    // pseudo-data: each event counts once; simulation is σ × L / Σw with L from the module
    expect(run.info.cutflows.data.weighted[0]).toBe(200);
    expect(run.info.luminosityPb).toBe(0.24045);
    expect(runLog).toContain("cutflow SR");
  });

  it("per-region histograms, histograms at all, the scale-factor tensor only for simulation", () => {
    const names = Object.keys(run.hists.ttbar);
    for (const h of ["mll", "ptll", "dphill", "mth", "mjjRegion", "jetBin", "flavour", "mllLepSF"])
      for (const r of ["SR", "CR_top", "CR_DY", "CR_SS", "CR_fake"]) expect(names).toContain(`${h}::${r}`);
    for (const h of ["lepPt", "jetPt", "nJetAll", "mtl1", "mtl1LepSF"]) expect(names).toContain(h);
    expect(Object.keys(run.hists.data)).not.toContain("mtl1LepSF");
    expect(run.hists.ttbar["mtl1LepSF"].tensorSize).toBe(2);
    // each region's histograms hold exactly its last cutflow step (all events inside the flow bins)
    for (const r of ["SR", "CR_top", "CR_DY", "CR_SS", "CR_fake"])
      for (const ds of ["ttbar", "data"]) {
        const cf = run.info.regionCutflows![ds][r];
        expect(run.hists[ds][`mll::${r}`].sum({ flow: true })).toBeCloseTo(cf.weighted[cf.weighted.length - 1], 6);
      }
    // the string category axis of the jet bins
    expect(run.hists.ttbar["jetBin::SR"].axes[0]).toMatchObject({ type: "category_str", categories: ["0j", "1j", "2j+"] });
  });

  it("lepton scale factors (nominal weight, up/down tensor) and the cutflow agree with a per-event loop", async () => {
    const b = (p: string, fs: string[]) => fs.map((f) => `${p}_${f}`);
    const ev = await readEvents([
      ...b("Electron", ["pt", "eta", "phi", "mass", "charge", "pdgId", "cutBased"]),
      ...b("Muon", ["pt", "eta", "phi", "mass", "charge", "pdgId", "isGlobal", "isPFcand", "pfRelIso04_all"]),
      "genWeight",
    ]);
    const J = (br: string, e: number) => ev[br][e] as number[];
    const sf = sfLookup();
    const sums = { all: 0, oneLepton: 0, up: 0, down: 0, genAll: 0 };
    const raw = { oneLepton: 0, twoLeptons: 0, mll12: 0 };
    // the regions where this file has events: same-sign pairs, and opposite-sign with one loose-not-tight lepton
    const regions = { CR_SS: { raw: 0, weighted: 0, flavours: [] as string[] }, CR_fake: { raw: 0, weighted: 0, flavours: [] as string[] } };
    for (let e = 0; e < 200; e++) {
      const w = ev.genWeight[e] as number;
      type Lep = { pt: number; eta: number; phi: number; mass: number; q: number; pdg: number; tight: boolean };
      const leps: Lep[] = [];
      const lep = (p: string, k: number, tight: boolean): Lep => ({
        pt: J(`${p}_pt`, e)[k],
        eta: J(`${p}_eta`, e)[k],
        phi: J(`${p}_phi`, e)[k],
        mass: J(`${p}_mass`, e)[k],
        q: J(`${p}_charge`, e)[k],
        pdg: Math.abs(J(`${p}_pdgId`, e)[k]),
        tight,
      });
      J("Electron_pt", e).forEach((pt, k) => {
        if (pt > 10 && Math.abs(J("Electron_eta", e)[k]) < 2.5) leps.push(lep("Electron", k, J("Electron_cutBased", e)[k] >= 1));
      });
      J("Muon_pt", e).forEach((pt, k) => {
        if (pt > 10 && Math.abs(J("Muon_eta", e)[k]) < 2.4 && J("Muon_isPFcand", e)[k])
          leps.push(lep("Muon", k, J("Muon_isGlobal", e)[k] === 1 && J("Muon_pfRelIso04_all", e)[k] < 0.25));
      });
      const tight = leps.filter((l) => l.tight);
      const prod = (syst: string) => tight.reduce((p, l) => p * sf(syst, l.pdg, Math.abs(l.eta), l.pt), 1);
      const nom = prod("nominal");
      sums.all += w * nom;
      sums.genAll += w;
      if (!tight.some((l) => l.pt > 25)) continue;
      raw.oneLepton++;
      sums.oneLepton += w * nom;
      sums.up += w * prod("up");
      sums.down += w * prod("down");
      if (leps.length !== 2) continue;
      raw.twoLeptons++;
      const p4 = (l: Lep) => {
        const x = l.pt * Math.cos(l.phi);
        const y = l.pt * Math.sin(l.phi);
        const z = l.pt * Math.sinh(l.eta);
        return [x, y, z, Math.sqrt(x * x + y * y + z * z + l.mass * l.mass)];
      };
      const [a, c] = leps.map(p4);
      const m2 = (a[3] + c[3]) ** 2 - (a[0] + c[0]) ** 2 - (a[1] + c[1]) ** 2 - (a[2] + c[2]) ** 2;
      if (!(Math.sqrt(m2) > 12)) continue;
      raw.mll12++;
      const flavour = { 22: "ee", 24: "emu", 26: "mumu" }[leps[0].pdg + leps[1].pdg] as string;
      const r = leps[0].q * leps[1].q > 0 ? regions.CR_SS : tight.length === 1 ? regions.CR_fake : null;
      if (r) {
        r.raw++;
        r.weighted += w * nom;
        r.flavours.push(flavour);
      }
    }
    const cf = run.info.cutflows.ttbar;
    expect(cf.raw.slice(1)).toEqual([raw.oneLepton, raw.twoLeptons, raw.mll12]);
    // the example's point on this file: its control regions are not empty, and match the loop
    expect(regions.CR_SS.raw + regions.CR_fake.raw).toBeGreaterThan(0);
    for (const [name, want] of Object.entries(regions)) {
      const rc = run.info.regionCutflows!.ttbar[name];
      expect(rc.raw[rc.raw.length - 1], name).toBe(want.raw);
      expect(rc.weighted[rc.weighted.length - 1]).toBeCloseTo(want.weighted, 3);
      const data = run.hists.data[`flavour::${name}`];
      const fl = data.values({ flow: false });
      expect(Array.from(fl), name).toEqual(["ee", "emu", "mumu"].map((f) => want.flavours.filter((x) => x === f).length));
      expect(run.hists.data[`mll::${name}`].sum({ flow: true })).toBe(want.raw);
    }
    expect(regions.CR_fake.raw).toBeGreaterThan(0);
    expect(run.hists.ttbar["mll::CR_fake"].sum({ flow: true })).not.toBe(0);
    expect(cf.weighted[0] / sums.all).toBeCloseTo(1, 9);
    expect(cf.weighted[1] / sums.oneLepton).toBeCloseTo(1, 9);
    // the scale factors move the yield (they are < 1): the weight is really applied
    expect(Math.abs(sums.all / sums.genAll - 1)).toBeGreaterThan(1e-3);
    const t = run.hists.ttbar["mtl1LepSF"];
    const v = t.values({ flow: true });
    let up = 0;
    let down = 0;
    for (let i = 0; i < v.length; i += 2) {
      up += v[i];
      down += v[i + 1];
    }
    expect(up / sums.up).toBeCloseTo(1, 9);
    expect(down / sums.down).toBeCloseTo(1, 9);
    expect(up).toBeGreaterThan(cf.weighted[1]);
    expect(down).toBeLessThan(cf.weighted[1]);
    // σ × L / Σw, Σw over the file's generator weights
    expect(run.info.scales.ttbar / ((831.76 * 0.24045) / sums.genAll)).toBeCloseTo(1, 9);
  }, 60_000);

  it("histmaker tensor: the scale-factor pairs become one systematic of the fit tensor", () => {
    const r = histmaker(["tensor", "tensor.json", "-i", runFile, "-o", path.join(dir, "tensor.hdf5")]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/wrote .*tensor\.hdf5: 5 bins .*1 processes \(ttbar\), 2 systematics/);
  }, 60_000);

  it("histmaker plot writes the page with the regions' cutflows", () => {
    const html = path.join(dir, "hww.html");
    const r = histmaker(["plot", runFile, "-o", html]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/wrote .*hww\.html: \d+ histograms, 1 processes, data: data/);
    const text = readFileSync(html, "utf8");
    for (const s of ["hww-emu", "CR_top", "mth60to125", "mll::SR"]) expect(text).toContain(s);
  }, 60_000);

  it("the plot page in Chromium: TLatex labels as sub/superscripts, filled control regions, n/a for empty steps", async (ctx) => {
    const chromiumPath = "/usr/bin/chromium";
    let pw: typeof import("playwright-core") | null = null;
    try {
      pw = await import("playwright-core");
    } catch {
      pw = null;
    }
    const why = !existsSync(chromiumPath) ? `${chromiumPath} is missing` : pw === null ? "playwright-core is not installed" : null;
    if (why !== null) {
      console.log(`skipping the H → WW page in Chromium: ${why}`);
      ctx.skip();
      return;
    }
    const html = path.join(dir, "hww-browser.html");
    expect(histmaker(["plot", runFile, "-o", html]).code).toBe(0);
    const browser = await pw!.chromium.launch({ executablePath: chromiumPath, args: ["--headless", "--no-sandbox", "--disable-gpu"] });
    try {
      const page = await browser.newPage({ viewport: { width: 1500, height: 1100 } });
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      page.on("console", (m) => {
        if (m.type() === "error") errors.push(m.text());
      });
      await page.goto(`file://${html}`);
      await page.waitForSelector("body[data-ready]", { timeout: 60_000 });
      const plots = await page.$$eval(".js-plotly-plot", (els) =>
        els.map((e) => {
          const gd = e as unknown as { data: { type: string; y: (number | null)[] }[]; layout: { xaxis: { title: { text: string } } } };
          const bars = gd.data.filter((t) => t.type === "bar");
          return { name: e.getAttribute("data-histogram"), x: gd.layout.xaxis.title.text, mc: bars.flatMap((b) => b.y.map((v) => Math.abs(v ?? 0))).reduce((a, b) => a + b, 0) };
        }),
      );
      const byName = new Map(plots.map((p) => [p.name, p]));
      expect(byName.get("lepPt")!.x).toBe("lepton p<sub>T</sub> [GeV]");
      expect(byName.get("mll::CR_fake")!.x).toBe("m<sub>ℓℓ</sub> [GeV]");
      // the rendered axis title has the subscript (plotly draws <sub> as a shifted tspan)
      const title = await page.$eval('.js-plotly-plot[data-histogram="lepPt"] .g-xtitle', (e) => e.innerHTML);
      expect(title).toMatch(/<tspan[^>]*baseline-shift|dy=/);
      expect(byName.get("mll::CR_fake")!.mc).toBeGreaterThan(0);
      expect(byName.get("mll::CR_SS")!.mc).toBeGreaterThan(0);
      const cells = await page.$$eval("#cutflows td", (els) => els.map((e) => e.textContent));
      expect(cells).toContain("n/a");
      mkdirSync(artifacts, { recursive: true });
      await page.screenshot({ path: path.join(artifacts, "hww-page.png"), fullPage: false });
      for (const h of ["mll::CR_fake", "mll::CR_SS"]) {
        const card = await page.$(`.js-plotly-plot[data-histogram="${h}"]`);
        await card!.screenshot({ path: path.join(artifacts, `hww-${h.replace("::", "_")}.png`) });
      }
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 120_000);

  it("histmaker export --root: every histogram and the up/down pairs read back exactly", async () => {
    const out = path.join(dir, "hww.root");
    const r = histmaker(["export", runFile, "--root", out, "--pairs", "*"]);
    expect(r.code, r.err).toBe(0);
    const f = await RootFile.open(out);
    const got = new Map<string, THRead>();
    try {
      for (const o of listHistograms(f)) got.set(o.name, await readHistogram(f, o.name));
    } finally {
      f.close();
    }
    let expected = 0;
    for (const [ds, hs] of Object.entries(run.hists))
      for (const [name, h] of Object.entries(hs)) {
        const scale = run.info.scales[ds] ?? 1;
        const dir = rootDirectoryName(name);
        expect(dir).not.toContain(":");
        const entries = h.tensorSize === 1 ? [{ key: `${dir}/${ds}`, k: 0 }] : [{ key: `${dir}/${ds}_lepSFUp`, k: 0 }, { key: `${dir}/${ds}_lepSFDown`, k: 1 }];
        for (const { key, k } of entries) {
          const th = got.get(key);
          expect(th, key).toBeDefined();
          expect(Array.from(th!.contents), key).toEqual(expectedCells(h, k, "values", scale));
          expect(Array.from(th!.sumw2), key).toEqual(expectedCells(h, k, "variances", scale));
          expected++;
        }
      }
    expect(got.size).toBe(expected);
    expect(got.has("mll__CR_fake/ttbar")).toBe(true);
    expect(got.get("jetBin__SR/data")!.axes[0].labels).toEqual(new Map([[1, "0j"], [2, "1j"], [3, "2j+"]]));
  }, 60_000);
});
