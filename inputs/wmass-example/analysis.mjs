/**
 * W-mass example analysis for `histmaker run`: one isolated muon with large transverse mass,
 * histograms of (η, pT, charge) for every dataset, plus the 100 PDF weights and the W-mass ±100 MeV
 * Breit–Wigner reweighting as tensor axes for the fit's systematics.
 *
 * The events come from generate.mjs; their directory is $WMASS_EVENTS (default ./events next to
 * this file), whose samples.json lists the files and cross-sections.
 *
 * @typedef {import("../../src/histmaker/analysis.js").AnalysisDefinition} AnalysisDefinition
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const eventsDir = process.env.WMASS_EVENTS ?? path.join(here, "events");
const manifest = JSON.parse(readFileSync(path.join(eventsDir, "samples.json"), "utf8"));

const M_W = 80.379;
const GAMMA_W = 2.085;

/** Index of the event's single muon with pT > 15 GeV and |η| < 2.4, or -1 (none, or more than one). */
function singleMuon(cols) {
  const pt = cols.Muon_pt;
  const eta = cols.Muon_eta;
  const n = pt.offsets.length - 1;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let found = -1;
    let count = 0;
    for (let j = pt.offsets[i]; j < pt.offsets[i + 1]; j++)
      if (pt.values[j] > 15 && Math.abs(eta.values[j]) < 2.4) {
        count++;
        found = j;
      }
    out[i] = count === 1 ? found : -1;
  }
  return out;
}

/** The selected muon's value of a jagged muon column (NaN without one). */
function muonValue(cols, name) {
  const idx = cols.muonIndex;
  const v = cols[name].values;
  const out = new Float64Array(idx.length);
  for (let i = 0; i < idx.length; i++) out[i] = idx[i] >= 0 ? v[idx[i]] : Number.NaN;
  return out;
}

/** BW(m; M ± 100 MeV) / BW(m; M) for each event: columns (up, down) of an n×2 array. */
function massWeights(cols) {
  const m = cols.genMassW;
  const out = new Float64Array(m.length * 2);
  const ratio = (mass, shifted) => {
    const s = mass * mass;
    const d0 = (s - M_W * M_W) ** 2 + M_W * M_W * GAMMA_W * GAMMA_W;
    const d1 = (s - shifted * shifted) ** 2 + shifted * shifted * GAMMA_W * GAMMA_W;
    return (shifted / M_W) * (d0 / d1);
  };
  for (let i = 0; i < m.length; i++) {
    out[2 * i] = ratio(m[i], M_W + 0.1);
    out[2 * i + 1] = ratio(m[i], M_W - 0.1);
  }
  return out;
}

const axes = [
  { type: "regular", name: "eta", bins: 8, lo: -2.4, hi: 2.4, flow: false, label: "muon η" },
  { type: "regular", name: "pt", bins: 24, lo: 26, hi: 50, flow: false, label: "muon p_T [GeV]" },
  { type: "categoryInt", name: "charge", categories: [-1, 1], label: "muon charge" },
];
const axisColumns = ["muonEta", "muonPt", "muonCharge"];

/** @type {AnalysisDefinition} */
export default {
  name: "wmass-example",
  datasets: [
    { name: "Wmunu", kind: "mc", files: manifest.samples.wmunu.files, xsec: manifest.samples.wmunu.xsec },
    { name: "Zmumu", kind: "mc", files: manifest.samples.zmumu.files, xsec: manifest.samples.zmumu.xsec },
    { name: "Nonprompt", kind: "mc", files: manifest.samples.nonprompt.files, xsec: manifest.samples.nonprompt.xsec },
    {
      name: "SingleMuon",
      kind: "data",
      files: manifest.samples.data.files,
      certification: manifest.golden,
      lumiCsv: manifest.lumiCsv,
    },
  ],
  columns: {
    muonIndex: (cols) => singleMuon(cols),
    muonPt: (cols) => muonValue(cols, "Muon_pt"),
    muonEta: (cols) => muonValue(cols, "Muon_eta"),
    muonPhi: (cols) => muonValue(cols, "Muon_phi"),
    muonCharge: (cols) => muonValue(cols, "Muon_charge"),
    muonIso: (cols) => muonValue(cols, "Muon_pfRelIso04_all"),
    mT: (cols) => {
      const pt = cols.muonPt;
      const phi = cols.muonPhi;
      const met = cols.MET_pt;
      const metPhi = cols.MET_phi;
      const out = new Float64Array(pt.length);
      for (let i = 0; i < pt.length; i++) out[i] = Math.sqrt(2 * pt[i] * met[i] * (1 - Math.cos(phi[i] - metPhi[i])));
      return out;
    },
  },
  selections: [
    { name: "oneMuon", cut: (cols) => cols.muonIndex.map((j) => (j >= 0 ? 1 : 0)) },
    { name: "muonPt", cut: (cols) => cols.muonPt.map((pt) => (pt > 26 && pt < 50 ? 1 : 0)) },
    { name: "isolated", cut: (cols) => cols.muonIso.map((iso) => (iso < 0.15 ? 1 : 0)) },
    { name: "mT", cut: (cols) => cols.mT.map((mt) => (mt > 40 ? 1 : 0)) },
  ],
  histograms: [
    { name: "nominal", axes, columns: axisColumns },
    {
      name: "pdf",
      axes,
      columns: axisColumns,
      datasets: ["Wmunu", "Zmumu"],
      tensor: { name: "pdfVar", size: manifest.nPdf ?? 100, weights: "LHEPdfWeight" },
    },
    {
      name: "massWeight",
      axes,
      columns: axisColumns,
      datasets: ["Wmunu"],
      tensor: { name: "massShift", size: 2, labels: ["up", "down"], weights: massWeights },
    },
  ],
  chunkEntries: 50000,
};
