/**
 * W-mass example analysis for `histmaker run`: one isolated muon with large transverse mass,
 * histograms of (η, pT, charge) for every dataset, plus the 100 PDF weights and the W-mass ±100 MeV
 * Breit–Wigner reweighting as tensor axes for the fit's systematics. Columnar throughout, with the
 * toolkit of "hepfit/histmaker" (collections of jagged muon branches, transverse mass).
 *
 * The events come from generate.mjs; their directory is $WMASS_EVENTS (default ./events next to
 * this file), whose samples.json lists the files and cross-sections.
 *
 * @typedef {import("../../src/histmaker/analysis.js").AnalysisDefinition} AnalysisDefinition
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { collection, perChunk, transverseMass } from "hepfit/histmaker";

const here = path.dirname(fileURLToPath(import.meta.url));
const eventsDir = process.env.WMASS_EVENTS ?? path.join(here, "events");
const manifest = JSON.parse(readFileSync(path.join(eventsDir, "samples.json"), "utf8"));

const M_W = 80.379;
const GAMMA_W = 2.085;

/** muons with pT > 15 GeV and |η| < 2.4 (the event is kept only with exactly one of them) */
const goodMuons = perChunk((c) => {
  const mu = collection(c, "Muon", ["pt", "eta", "phi", "charge", "pfRelIso04_all"]);
  return mu.mask(mu.pt.gt(15).and(mu.eta.abs().lt(2.4)));
});

/** BW(m; shifted) / BW(m; M_W): the Breit–Wigner reweighting of one event's generated W mass */
function bwRatio(mass, shifted) {
  const s = mass * mass;
  const d0 = (s - M_W * M_W) ** 2 + M_W * M_W * GAMMA_W * GAMMA_W;
  const d1 = (s - shifted * shifted) ** 2 + shifted * shifted * GAMMA_W * GAMMA_W;
  return (shifted / M_W) * (d0 / d1);
}

/** (up, down) = M ± 100 MeV for each event: an n×2 row-major array, as a tensor axis wants */
const massWeights = (c) => Float64Array.from({ length: 2 * c.genMassW.length }, (_, k) => bwRatio(c.genMassW[k >> 1], k % 2 ? M_W - 0.1 : M_W + 0.1));

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
    nMuon: (c) => goodMuons(c).counts(),
    // the single good muon's values (the first good muon's; NaN without one): used after "oneMuon"
    muonPt: (c) => goodMuons(c).pt.leading(0),
    muonEta: (c) => goodMuons(c).eta.leading(0),
    muonPhi: (c) => goodMuons(c).phi.leading(0),
    muonCharge: (c) => goodMuons(c).charge.leading(0),
    muonIso: (c) => goodMuons(c).pfRelIso04_all.leading(0),
    mT: (c) => transverseMass(c.muonPt, c.muonPhi, c.MET_pt, c.MET_phi),
  },
  selections: [
    { name: "oneMuon", cut: (cols) => cols.nMuon.map((n) => (n === 1 ? 1 : 0)) },
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
