/**
 * Analysis modules written with the columnar toolkit, run by the runner on real ROOT files, against
 * the same analysis written as plain per-event loops over the file's values:
 * - uproot's H → ZZ → 4ℓ sample (2421 events): electrons ++ muons from (px, py, pz, E), the
 *   opposite-charge same-flavour pair closest to m_Z, m_4ℓ, jets cleaned against leptons, m_T;
 * - the H → WW-style example module (inputs/hww-example/analysis.mjs) on the CMS open-data NanoAOD
 *   file, loaded as a user module through `import … from "hepfit/histmaker"` (needs the compiled dist/).
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { validateAnalysis, type ColumnSet } from "../src/histmaker/analysis.js";
import {
  allOf,
  collection,
  combinations,
  concat,
  deltaRClean,
  jagged,
  JaggedVec4,
  perChunk,
  transverseMass,
  vec4,
} from "../src/histmaker/columnar/index.js";
import type { JaggedColumn } from "../src/histmaker/events.js";
import { RootFile } from "../src/histmaker/root/RootFile.js";
import { runAnalysis } from "../src/histmaker/runner.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "..");
const shared = path.resolve(repo, "../shared");
const hzz = path.join(shared, "data/root/uproot-HZZ.root");
const nano = path.join(shared, "data/root/nanoAOD_2015_CMS_Open_Data_ttbar.root");
const M_Z = 91.1876;

/** Every event of a tree as plain per-event arrays of the named jagged branches and flat values. */
async function readEvents(file: string, tree: string, branches: string[]): Promise<Record<string, number[][] | number[]>> {
  const f = await RootFile.open(file);
  const out: Record<string, (number[] | number)[]> = Object.fromEntries(branches.map((b) => [b, []]));
  for await (const c of f.tree(tree).iterate({ branches })) {
    for (const b of branches) {
      const col = c.columns[b];
      if ((col as JaggedColumn).offsets !== undefined) {
        const j = col as JaggedColumn;
        for (let e = 0; e < c.length; e++) out[b].push(Array.from(j.values.subarray(j.offsets[e], j.offsets[e + 1]), Number));
      } else out[b].push(...Array.from(col as ArrayLike<number>, Number));
    }
  }
  f.close();
  return out as Record<string, number[][] | number[]>;
}

/** A histogram as the reference fills it: regular bins plus under/overflow (NaN → overflow). */
function refHist(bins: number, lo: number, hi: number) {
  const v = new Float64Array(bins + 2);
  return {
    fill(x: number, w = 1) {
      const i = Number.isNaN(x) || x >= hi ? bins + 1 : x < lo ? 0 : 1 + Math.floor(((x - lo) / (hi - lo)) * bins);
      v[i] += w;
    },
    inner: () => Array.from(v.subarray(1, bins + 1)),
    total: () => v.reduce((a, b) => a + b, 0),
  };
}

interface P4 {
  px: number;
  py: number;
  pz: number;
  e: number;
}
const ptOf = (p: P4) => Math.hypot(p.px, p.py);
const etaOf = (p: P4) => Math.asinh(p.pz / ptOf(p));
const phiOf = (p: P4) => Math.atan2(p.py, p.px);
const massOf = (p: P4) => Math.sqrt(Math.max(0, p.e * p.e - p.px * p.px - p.py * p.py - p.pz * p.pz));
const plus = (a: P4, b: P4): P4 => ({ px: a.px + b.px, py: a.py + b.py, pz: a.pz + b.pz, e: a.e + b.e });
const dR = (e1: number, p1: number, e2: number, p2: number) => {
  let d = Math.abs(p1 - p2);
  if (d > Math.PI) d = 2 * Math.PI - d;
  return Math.hypot(e1 - e2, d);
};

describe.skipIf(!existsSync(hzz))("columnar analysis on uproot-HZZ.root", () => {
  it("fills the same histograms as the per-event loops", async () => {
    // ---- the module, columnar ------------------------------------------------------------------
    const lepton = (c: ColumnSet, prefix: "Muon" | "Electron", pdg: number) => {
      const g = (f: string) => c[`${prefix}_${f}`] as JaggedColumn;
      const p4 = JaggedVec4.fromPxPyPzE(g("Px"), g("Py"), g("Pz"), g("E"));
      const charge = jagged(g("Charge"));
      return collection({ pt: p4.pt, eta: p4.eta, phi: p4.phi, mass: p4.mass, charge, flavour: charge.mul(0).add(pdg) });
    };
    const leptons = perChunk((c) => {
      const all = concat([lepton(c, "Electron", 11), lepton(c, "Muon", 13)]);
      return all.mask(all.pt.gt(5).and(all.eta.abs().lt(2.5))).sortBy("pt");
    });
    const zCandidates = perChunk((c) => {
      const [a, b] = combinations(leptons(c), 2);
      const ossf = a.charge.mul(b.charge).lt(0).and(a.flavour.eq(b.flavour));
      return vec4(a.mask(ossf)).add(vec4(b.mask(ossf))).mass;
    });
    const jets = perChunk((c) => {
      const g = (f: string) => c[`Jet_${f}`] as JaggedColumn;
      const p4 = JaggedVec4.fromPxPyPzE(g("Px"), g("Py"), g("Pz"), g("E"));
      const j = collection({ pt: p4.pt, eta: p4.eta, phi: p4.phi, mass: p4.mass });
      return deltaRClean(j.mask(j.pt.gt(30)), leptons(c), 0.4);
    });
    const met = (c: ColumnSet) => {
      const x = c.MET_px as Float32Array;
      const y = c.MET_py as Float32Array;
      return { pt: Float64Array.from(x, (v, i) => Math.hypot(v, y[i])), phi: Float64Array.from(x, (v, i) => Math.atan2(y[i], v)) };
    };
    const axes = {
      mZ1: { type: "regular" as const, name: "m", bins: 30, lo: 40, hi: 130 },
      m4l: { type: "regular" as const, name: "m", bins: 25, lo: 80, hi: 330 },
      mt: { type: "regular" as const, name: "mt", bins: 20, lo: 0, hi: 200 },
      nJet: { type: "integer" as const, name: "n", lo: 0, hi: 6 },
      mjj: { type: "regular" as const, name: "m", bins: 20, lo: 0, hi: 1000 },
    };
    const def = validateAnalysis(
      {
        name: "hzz",
        datasets: [{ name: "H", kind: "mc", files: [hzz], xsec: 1, tree: "events" }],
        branches: ["Px", "Py", "Pz", "E", "Charge"]
          .flatMap((f) => [`Muon_${f}`, `Electron_${f}`])
          .concat(["Jet_Px", "Jet_Py", "Jet_Pz", "Jet_E", "MET_px", "MET_py"]),
        columns: {
          nLep: (c) => leptons(c).counts(),
          mZ1: (c) => {
            const m = zCandidates(c);
            return m.at(m.sub(M_Z).abs().argmin());
          },
          m4l: (c) => vec4(leptons(c).firstN(4)).sum().mass,
          mt: (c) => {
            const l = leptons(c);
            const mt = met(c);
            return transverseMass(l.pt.leading(0), l.phi.leading(0), mt.pt, mt.phi);
          },
          nJet: (c) => jets(c).counts(),
          mjj: (c) => {
            const p = vec4(jets(c));
            return p.leading(0).add(p.leading(1)).mass;
          },
        },
        selections: [
          { name: "zCandidate", cut: (c) => (c.mZ1 as Float64Array).map((m) => (Number.isNaN(m) ? 0 : 1)) },
          { name: "fourLeptons", cut: (c) => allOf((c.nLep as Int32Array).map((n) => (n >= 4 ? 1 : 0))) },
        ],
        histograms: [
          { name: "mZ1", after: "zCandidate", axes: [axes.mZ1], columns: ["mZ1"] },
          { name: "mt", after: "zCandidate", axes: [axes.mt], columns: ["mt"] },
          { name: "nJet", after: "zCandidate", axes: [axes.nJet], columns: ["nJet"] },
          { name: "mjj", after: "zCandidate", axes: [axes.mjj], columns: ["mjj"] },
          { name: "m4l", after: "fourLeptons", axes: [axes.m4l], columns: ["m4l"] },
        ],
        luminosity: 1,
        chunkEntries: 1000, // several chunks, so perChunk's caching is exercised across them
      },
      "hzz",
    );
    const res = await runAnalysis(def, { log: () => undefined });
    expect(res.failures).toEqual([]);

    // ---- the same analysis as per-event loops -----------------------------------------------------
    const names = ["Px", "Py", "Pz", "E", "Charge"].flatMap((f) => [`Muon_${f}`, `Electron_${f}`]);
    const ev = await readEvents(hzz, "events", [...names, "Jet_Px", "Jet_Py", "Jet_Pz", "Jet_E", "MET_px", "MET_py"]);
    const n = (ev.MET_px as number[]).length;
    expect(n).toBe(2421);
    const ref = { mZ1: refHist(30, 40, 130), mt: refHist(20, 0, 200), nJet: refHist(6, 0, 6), mjj: refHist(20, 0, 1000), m4l: refHist(25, 80, 330) };
    const passed = [0, 0];
    for (let e = 0; e < n; e++) {
      type Lep = P4 & { pt: number; eta: number; phi: number; q: number; f: number };
      const leps: Lep[] = [];
      for (const [prefix, f] of [["Electron", 11], ["Muon", 13]] as const) {
        const g = (x: string) => (ev[`${prefix}_${x}`] as number[][])[e];
        g("Px").forEach((_, k) => {
          const p = { px: g("Px")[k], py: g("Py")[k], pz: g("Pz")[k], e: g("E")[k] };
          leps.push({ ...p, pt: ptOf(p), eta: etaOf(p), phi: phiOf(p), q: g("Charge")[k], f });
        });
      }
      const good = leps.filter((l) => l.pt > 5 && Math.abs(l.eta) < 2.5).sort((a, b) => b.pt - a.pt);
      let best = NaN;
      for (let i = 0; i < good.length; i++)
        for (let j = i + 1; j < good.length; j++)
          if (good[i].q * good[j].q < 0 && good[i].f === good[j].f) {
            const m = massOf(plus(good[i], good[j]));
            if (Number.isNaN(best) || Math.abs(m - M_Z) < Math.abs(best - M_Z)) best = m;
          }
      if (Number.isNaN(best)) continue;
      passed[0]++;
      const jets: (P4 & { pt: number })[] = [];
      (ev.Jet_Px as number[][])[e].forEach((_, k) => {
        const p = { px: (ev.Jet_Px as number[][])[e][k], py: (ev.Jet_Py as number[][])[e][k], pz: (ev.Jet_Pz as number[][])[e][k], e: (ev.Jet_E as number[][])[e][k] };
        if (ptOf(p) > 30 && good.every((l) => dR(etaOf(p), phiOf(p), l.eta, l.phi) > 0.4)) jets.push({ ...p, pt: ptOf(p) });
      });
      const mx = (ev.MET_px as number[])[e];
      const my = (ev.MET_py as number[])[e];
      ref.mZ1.fill(best);
      ref.mt.fill(Math.sqrt(2 * good[0].pt * Math.hypot(mx, my) * (1 - Math.cos(good[0].phi - Math.atan2(my, mx)))));
      ref.nJet.fill(jets.length);
      ref.mjj.fill(jets.length >= 2 ? massOf(plus(jets[0], jets[1])) : NaN);
      if (good.length >= 4) {
        passed[1]++;
        ref.m4l.fill(massOf(good.slice(0, 4).reduce(plus)));
      }
    }
    // the comparison means something only with a real selection
    expect(passed[0]).toBeGreaterThan(500);
    expect(passed[0]).toBeLessThan(n);
    expect(passed[1]).toBeGreaterThan(20);
    expect(Array.from(res.cutflows.H.raw)).toEqual([n, passed[0], passed[1]]);
    const h = res.hists.H;
    for (const k of ["mZ1", "mt", "mjj", "m4l"] as const) {
      expect(h[k].values(), k).toEqual(Float64Array.from(ref[k].inner()));
      expect(h[k].sum({ flow: true }), k).toBe(ref[k].total());
    }
    expect(Array.from(h.nJet.values())).toEqual(ref.nJet.inner());
  });
});

describe.skipIf(!existsSync(nano))("the H → WW example module on NanoAOD", () => {
  const built = existsSync(path.join(repo, "dist/src/histmaker/api.js"));
  it.skipIf(!built)("loads through `hepfit/histmaker` and agrees with per-event loops", async () => {
    // the module imports the compiled package entry; load the compiled loader too, as the CLI does
    const { loadUserModule } = (await import(path.join(repo, "dist/src/histmaker/loadModule.js"))) as typeof import("../src/histmaker/loadModule.js");
    const mod = await loadUserModule(path.join(repo, "inputs/hww-example/analysis.mjs"));
    const def = validateAnalysis(mod, "hww");
    def.datasets[0].files = [nano];
    // the object selection against per-event loops: simulation only, without the lepton scale factors
    // (tests/hwwExample.test.ts checks those against the correctionlib file's tables)
    def.datasets = [def.datasets[0]];
    def.eventWeight = undefined;
    def.corrections = undefined;
    def.histograms = def.histograms.filter((h) => h.tensor === undefined);
    const res = await runAnalysis(def, { log: () => undefined });
    expect(res.failures).toEqual([]);

    const br = (p: string, fs: string[]) => fs.map((f) => `${p}_${f}`);
    const ev = await readEvents(nano, "Events", [
      ...br("Electron", ["pt", "eta", "phi", "mass", "charge", "cutBased"]),
      ...br("Muon", ["pt", "eta", "phi", "mass", "charge", "isGlobal", "isPFcand", "pfRelIso04_all"]),
      ...br("Jet", ["pt", "eta", "phi", "mass", "jetId", "btagCSVV2"]),
      "MET_pt",
      "MET_phi",
      "genWeight",
    ]);
    const n = (ev.MET_pt as number[]).length;
    const J = (b: string, e: number) => (ev[b] as number[][])[e];
    const fromPtEtaPhiM = (pt: number, eta: number, phi: number, m: number): P4 => {
      const px = pt * Math.cos(phi);
      const py = pt * Math.sin(phi);
      const pz = pt * Math.sinh(eta);
      return { px, py, pz, e: Math.sqrt(px * px + py * py + pz * pz + m * m) };
    };
    const ref = { mtl1: refHist(5, 0, 200), nJet: refHist(8, 0, 8), nBJet: refHist(5, 0, 5), mjj: refHist(20, 0, 1000) };
    const raw = [n, 0, 0, 0]; // all, oneLepton, twoLeptons, mll12
    for (let e = 0; e < n; e++) {
      const w = (ev.genWeight as number[])[e];
      // loose leptons make the pair; `tight` marks the analysis leptons (the example's two levels)
      const leps: { pt: number; eta: number; phi: number; m: number; q: number; ele: boolean; tight: boolean }[] = [];
      J("Electron_pt", e).forEach((pt, k) => {
        const eta = J("Electron_eta", e)[k];
        if (pt > 10 && Math.abs(eta) < 2.5)
          leps.push({ pt, eta, phi: J("Electron_phi", e)[k], m: J("Electron_mass", e)[k], q: J("Electron_charge", e)[k], ele: true, tight: J("Electron_cutBased", e)[k] >= 1 });
      });
      J("Muon_pt", e).forEach((pt, k) => {
        const eta = J("Muon_eta", e)[k];
        if (pt > 10 && Math.abs(eta) < 2.4 && J("Muon_isPFcand", e)[k])
          leps.push({ pt, eta, phi: J("Muon_phi", e)[k], m: J("Muon_mass", e)[k], q: J("Muon_charge", e)[k], ele: false, tight: Boolean(J("Muon_isGlobal", e)[k]) && J("Muon_pfRelIso04_all", e)[k] < 0.25 });
      });
      leps.sort((a, b) => b.pt - a.pt);
      const tight = leps.filter((l) => l.tight);
      if (!(tight.length > 0 && tight[0].pt > 25)) continue;
      raw[1]++;
      const jets: { p: P4; btag: number }[] = [];
      J("Jet_pt", e).forEach((pt, k) => {
        const [eta, phi] = [J("Jet_eta", e)[k], J("Jet_phi", e)[k]];
        if (pt > 30 && Math.abs(eta) < 4.7 && J("Jet_jetId", e)[k] >= 2 && leps.every((l) => dR(eta, phi, l.eta, l.phi) > 0.4))
          jets.push({ p: fromPtEtaPhiM(pt, eta, phi, J("Jet_mass", e)[k]), btag: J("Jet_btagCSVV2", e)[k] });
      });
      const l1 = fromPtEtaPhiM(tight[0].pt, tight[0].eta, tight[0].phi, tight[0].m);
      const met = fromPtEtaPhiM((ev.MET_pt as number[])[e], 0, (ev.MET_phi as number[])[e], 0);
      ref.mtl1.fill(Math.sqrt(2 * ptOf(l1) * ptOf(met) * (1 - Math.cos(phiOf(l1) - phiOf(met)))), w);
      ref.nJet.fill(jets.length, w);
      ref.nBJet.fill(jets.filter((j) => j.btag > 0.8484).length, w);
      ref.mjj.fill(jets.length >= 2 ? massOf(plus(jets[0].p, jets[1].p)) : NaN, w);
      if (leps.length !== 2) continue;
      raw[2]++;
      const [a, b] = leps.map((l) => fromPtEtaPhiM(l.pt, l.eta, l.phi, l.m));
      if (massOf(plus(a, b)) > 12) raw[3]++;
    }
    expect(raw[1]).toBeGreaterThan(20);
    expect(Array.from(res.cutflows.ttbar.raw)).toEqual(raw);
    const h = res.hists.ttbar;
    for (const k of ["mtl1", "nJet", "nBJet", "mjj"] as const) {
      const got = Array.from(h[k].values());
      ref[k].inner().forEach((v, i) => expect(got[i], `${k} bin ${i}`).toBeCloseTo(v, 6));
    }
    // each region starts from the preselection's last step, and its histograms hold its last step
    for (const [r, cf] of Object.entries(res.regionCutflows.ttbar)) {
      expect(cf.raw[0], r).toBe(res.cutflows.ttbar.raw[res.cutflows.ttbar.raw.length - 1]);
      expect(h[`mll::${r}`].sum({ flow: true }), r).toBeCloseTo(cf.weighted[cf.weighted.length - 1], 6);
    }
  });
  if (!built) console.log("skipping the hww example module test: run `npx tsc -p tsconfig.json` first (dist/src/histmaker/api.js missing)");
});

describe.skipIf(!existsSync(hzz))("a module outside the package importing hepfit/histmaker", () => {
  const built = existsSync(path.join(repo, "dist/src/cli/histmaker.js"));
  if (!built) console.log("skipping the bin/histmaker.js outside-module test: run `npx tsc -p tsconfig.json` first");
  it.skipIf(!built)("runs through bin/histmaker.js (the resolve hook maps the specifier to this hepfit)", async () => {
    const { mkdtempSync, writeFileSync, readFileSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { spawnSync } = await import("node:child_process");
    const dir = mkdtempSync(path.join(tmpdir(), "hepfit-outside-"));
    const mod = path.join(dir, "analysis.mjs");
    writeFileSync(
      mod,
      `import { collection } from "hepfit/histmaker";
export default {
  name: "outside",
  datasets: [{ name: "H", kind: "mc", files: [${JSON.stringify(hzz)}], xsec: 1, tree: "events" }],
  branches: ["Muon_Px", "Muon_Py"],
  columns: { nMu: (c) => collection({ px: c.Muon_Px, py: c.Muon_Py }).counts() },
  selections: [{ name: "twoMuons", cut: (c) => c.nMu.map((n) => (n >= 2 ? 1 : 0)) }],
  histograms: [{ name: "nMu", axes: [{ type: "integer", name: "n", lo: 0, hi: 6 }], columns: ["nMu"] }],
  luminosity: 1,
};
`,
    );
    const out = path.join(dir, "out.hdf5");
    const p = spawnSync(process.execPath, [path.join(repo, "bin/histmaker.js"), "run", mod, "-o", out, "--no-progress"], { encoding: "utf8" });
    expect(p.status, p.stderr).toBe(0);
    const ev = await readEvents(hzz, "events", ["Muon_Px"]);
    const two = (ev.Muon_Px as number[][]).filter((r) => r.length >= 2).length;
    expect(two).toBeGreaterThan(0);
    const csv = readFileSync(path.join(dir, "out.cutflow.csv"), "utf8");
    expect(csv).toMatch(new RegExp(`^H,twoMuons,${two},`, "m"));
  });
});
