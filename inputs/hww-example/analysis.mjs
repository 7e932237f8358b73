/**
 * H → WW → 2ℓ2ν-style dilepton selection on NanoAOD, written with the columnar toolkit
 * (`hepfit/histmaker`): no per-event loops. Leptons = good electrons ++ good muons, sorted by pT;
 * jets cleaned against them (ΔR > 0.4). After one lepton of pT > 25 GeV: m_T(ℓ1, MET), jet and b-jet
 * multiplicities, m_jj; after two leptons of opposite charge: m_ll, pT_ll, Δφ_ll, m_T(ℓℓ, MET).
 *
 * Input: $HWW_FILES (comma-separated NanoAOD files), by default the CMS open-data tt̄ NanoAOD test
 * file of scikit-hep-testdata found in a `shared/data/root/` folder above this one.
 *
 *   node bin/histmaker.js run inputs/hww-example/analysis.mjs -o hww.hdf5
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { allOf, collection, concat, deltaRClean, perChunk, transverseMass, vec4 } from "hepfit/histmaker";

function defaultFiles() {
  const name = "shared/data/root/nanoAOD_2015_CMS_Open_Data_ttbar.root";
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, name))) return [path.join(dir, name)];
    if (path.dirname(dir) === dir) return [name]; // not found: the run reports the missing file
  }
}
const files = process.env.HWW_FILES ? process.env.HWW_FILES.split(",") : defaultFiles();

// ---- objects (computed once per chunk, shared by the columns below) ------------------------------

export const leptons = perChunk((c) => {
  const el = collection(c, "Electron", ["pt", "eta", "phi", "mass", "charge", "pdgId", "cutBased"]);
  const mu = collection(c, "Muon", ["pt", "eta", "phi", "mass", "charge", "pdgId", "isGlobal", "isPFcand", "pfRelIso04_all"]);
  const goodEl = el.mask(el.pt.gt(10).and(el.eta.abs().lt(2.5)).and(el.cutBased.ge(1)));
  // (the open-data NanoAOD conversion has no muon ID flags filled: global PF muons, isolated)
  const goodMu = mu.mask(mu.pt.gt(10).and(mu.eta.abs().lt(2.4)).and(mu.isGlobal).and(mu.isPFcand).and(mu.pfRelIso04_all.lt(0.25)));
  // the fields both have (pt, eta, phi, mass, charge, pdgId), leading lepton first
  return concat([goodEl, goodMu]).sortBy("pt");
});

export const jets = perChunk((c) => {
  const j = collection(c, "Jet", ["pt", "eta", "phi", "mass", "jetId", "btagCSVV2"]);
  const good = j.mask(j.pt.gt(30).and(j.eta.abs().lt(4.7)).and(j.jetId.ge(2)));
  return deltaRClean(good, leptons(c), 0.4);
});

/** the two leading leptons and their sum (NaN where an event has fewer) */
const dilepton = perChunk((c) => {
  const l1 = vec4(leptons(c).leading(0));
  const l2 = vec4(leptons(c).leading(1));
  return { l1, l2, ll: l1.add(l2) };
});

const dijet = perChunk((c) => vec4(jets(c).leading(0)).add(vec4(jets(c).leading(1))));

export default {
  name: "hww-2l",
  datasets: [{ name: "ttbar", kind: "mc", files, xsec: 831.76 }],
  branches: [
    ...["pt", "eta", "phi", "mass", "charge", "pdgId", "cutBased"].map((f) => `Electron_${f}`),
    ...["pt", "eta", "phi", "mass", "charge", "pdgId", "isGlobal", "isPFcand", "pfRelIso04_all"].map((f) => `Muon_${f}`),
    ...["pt", "eta", "phi", "mass", "jetId", "btagCSVV2"].map((f) => `Jet_${f}`),
    "MET_pt",
    "MET_phi",
    "genWeight",
  ],
  columns: {
    nLep: (c) => leptons(c).counts(),
    // Π of the two leading leptons' charges: −1 for an opposite-charge pair
    chargeProduct: (c) => leptons(c).charge.firstN(2).prod(),
    leadPt: (c) => leptons(c).pt.leading(0),
    mtl1: (c) => dilepton(c).l1.mt(vec4(c.MET_pt, new Float64Array(c.MET_pt.length), c.MET_phi)),
    mll: (c) => dilepton(c).ll.mass,
    ptll: (c) => dilepton(c).ll.pt,
    dphill: (c) => dilepton(c).l1.deltaPhi(dilepton(c).l2).map(Math.abs),
    mth: (c) => transverseMass(dilepton(c).ll.pt, dilepton(c).ll.phi, c.MET_pt, c.MET_phi),
    nJet: (c) => jets(c).counts(),
    nBJet: (c) => jets(c).btagCSVV2.gt(0.8484).count(),
    mjj: (c) => dijet(c).mass,
  },
  selections: [
    { name: "oneLepton", cut: (c) => c.leadPt.map((pt) => (pt > 25 ? 1 : 0)) },
    { name: "twoLeptonsOS", cut: (c) => allOf(c.nLep.map((n) => n >= 2), c.chargeProduct.map((q) => q < 0)) },
  ],
  histograms: [
    // ≥ 1 lepton with pT > 25 GeV (a W-like tt̄ selection)
    { name: "mtl1", after: "oneLepton", axes: [{ type: "regular", name: "mt", bins: 20, lo: 0, hi: 200 }], columns: ["mtl1"] },
    { name: "nJet", after: "oneLepton", axes: [{ type: "integer", name: "nJet", lo: 0, hi: 8 }], columns: ["nJet"] },
    { name: "nBJet", after: "oneLepton", axes: [{ type: "integer", name: "nBJet", lo: 0, hi: 5 }], columns: ["nBJet"] },
    // NaN (fewer than two jets) goes to the overflow bin
    { name: "mjj", after: "oneLepton", axes: [{ type: "regular", name: "mjj", bins: 20, lo: 0, hi: 1000 }], columns: ["mjj"] },
    // two opposite-charge leptons (H → WW → 2ℓ2ν-like)
    { name: "mll", after: "twoLeptonsOS", axes: [{ type: "regular", name: "mll", bins: 20, lo: 0, hi: 300 }], columns: ["mll"] },
    { name: "ptll", after: "twoLeptonsOS", axes: [{ type: "regular", name: "ptll", bins: 20, lo: 0, hi: 300 }], columns: ["ptll"] },
    { name: "dphill", after: "twoLeptonsOS", axes: [{ type: "regular", name: "dphill", bins: 16, lo: 0, hi: Math.PI }], columns: ["dphill"] },
    { name: "mth", after: "twoLeptonsOS", axes: [{ type: "regular", name: "mth", bins: 20, lo: 0, hi: 400 }], columns: ["mth"] },
  ],
  luminosity: 1000,
};
