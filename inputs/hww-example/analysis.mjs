/**
 * H → WW → eμνν-style analysis on NanoAOD, written with the columnar toolkit (`hepfit/histmaker`):
 * no per-event loops, every step is a whole-chunk one-liner. It follows the CMS open-data H → WW
 * workflow: loose and tight electrons and muons, exactly two loose leptons, jets cleaned against
 * the leptons (ΔR > 0.4) and counted in 0/1/≥2-jet categories, m_ll, pT_ll, Δφ_ll, m_T(ℓℓ, MET)
 * and m_jj; a preselection, then a signal region (tight eμ, opposite charge), top and DY control
 * regions, and the non-prompt-lepton control regions (same-sign; one loose-not-tight lepton), each
 * with its histograms and cutflow; lepton scale factors from a correctionlib file (lepton_sf.json,
 * made-up numbers) as event weight, and their up/down variations as a tensor axis (a systematic).
 *
 * Input: $HWW_FILES (comma-separated NanoAOD files), by default the CMS open-data tt̄ NanoAOD test
 * file of scikit-hep-testdata (200 events) found in a `shared/data/root/` folder above this one.
 *
 * Loose choices, forced by that file (say so when you show its numbers):
 * - its Muon_tightId / looseId / mediumId flags are all 0: loose muons are PF muons, tight ones
 *   global with pfRelIso04 < 0.25 instead of a cut-based ID;
 * - loose electrons have no ID, tight ones the cut-based veto working point (cutBased ≥ 1);
 *   pT > 10 GeV for both (the CMS analysis uses tight IDs and pT > 25/13 GeV);
 * - its b-tag discriminators hold defaults (DeepCSV −1, CSVv2 unset): the top control region asks
 *   for ≥ 1 jet instead of ≥ 1 b-tagged jet;
 * - it has no prompt dilepton pair: only the non-prompt regions (CR_SS, CR_fake) have events;
 * - the file is simulation of tt̄ (σ = 831.76 pb, NNLO at 13 TeV). There is no certified data, so the
 *   same file is also declared as pseudo-data, with the luminosity L = 200 events / σ = 0.24045 /pb,
 *   so that σ × L equals its 200 events: data and prediction agree by construction (a closure plot),
 *   up to the negative generator weights (13 % of its events).
 *
 *   node bin/histmaker.js run inputs/hww-example/analysis.mjs -o hww.hdf5
 *   node bin/histmaker.js plot hww.hdf5 -o hww.html
 *   node bin/histmaker.js export hww.hdf5 --root hww.root --pairs '*'
 *   node bin/histmaker.js tensor inputs/hww-example/tensor.json -i hww.hdf5 -o tensor.hdf5   # lepSF → a nuisance
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { collection, concat, deltaRClean, perChunk, transverseMass, vec4 } from "hepfit/histmaker";

function defaultFiles() {
  const name = "shared/data/root/nanoAOD_2015_CMS_Open_Data_ttbar.root";
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, name))) return [path.join(dir, name)];
    if (path.dirname(dir) === dir) return [name]; // not found: the run reports the missing file
  }
}
const files = process.env.HWW_FILES ? process.env.HWW_FILES.split(",") : defaultFiles();

const XSEC_TTBAR = 831.76; // pb
const LUMI = 0.24045; // /pb: 200 events / σ, see above

// ---- objects (computed once per chunk, shared by the columns below) ------------------------------
// Two lepton levels, as the CMS H → WW analysis's fake-lepton method has them: loose ("fakeable")
// leptons make the dilepton pair; tight ones are the analysis leptons. The signal and top/DY control
// regions ask for two tight leptons; the same-sign and loose-not-tight regions hold the non-prompt
// leptons (from b decays in semileptonic tt̄, the fake background of H → WW) that fill them here.

const electrons = perChunk((c) => {
  const el = collection(c, "Electron", ["pt", "eta", "phi", "mass", "charge", "pdgId", "cutBased"]);
  const loose = el.mask(el.pt.gt(10).and(el.eta.abs().lt(2.5)));
  return loose.with("tight", loose.cutBased.ge(1)); // cut-based veto ID (or better)
});

const muons = perChunk((c) => {
  const mu = collection(c, "Muon", ["pt", "eta", "phi", "mass", "charge", "pdgId", "isGlobal", "isPFcand", "pfRelIso04_all"]);
  // (the open-data NanoAOD conversion has no muon ID flags filled: PF muons loose, global + isolated tight)
  const loose = mu.mask(mu.pt.gt(10).and(mu.eta.abs().lt(2.4)).and(mu.isPFcand));
  return loose.with("tight", loose.isGlobal.and(loose.pfRelIso04_all.lt(0.25)));
});

/** loose electrons ++ loose muons (the fields both have, and `tight`), leading lepton first */
export const leptons = perChunk((c) => concat([electrons(c), muons(c)]).sortBy("pt"));

/** the tight (analysis) leptons, leading first */
const tightLeptons = perChunk((c) => leptons(c).mask(leptons(c).tight));

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

/** Π over the tight leptons of the scale factor for `syst` (1 without leptons) */
const leptonSF = (c, ctx, syst) => {
  const t = tightLeptons(c);
  return t.pt.withValues(ctx.corrections.lepton.lepton_id_iso.evaluate(t.pdgId.abs().values, t.eta.abs().values, t.pt.values, syst)).prod();
};

/** per event (up, down) / nominal, row-major n × 2, as a tensor axis wants */
const lepSFVariations = (c, ctx) => {
  const [up, down] = [leptonSF(c, ctx, "up"), leptonSF(c, ctx, "down")];
  return Float64Array.from({ length: 2 * up.length }, (_, k) => (k % 2 ? down : up)[k >> 1] / c.lepSF[k >> 1]);
};

const pass = (col, f) => col.map((v) => (f(v) ? 1 : 0));

/** the pair's flavour from Σ|pdgId| of the two leptons: 22 ee, 24 eμ, 26 μμ */
const FLAVOUR = { 22: "ee", 24: "emu", 26: "mumu" };

const regions = ["SR", "CR_top", "CR_DY", "CR_SS", "CR_fake"];
const perRegion = (name, axis, column) => ({ name, axes: [axis], columns: [column], regions });
/** the analysis leptons: two tight, one electron and one muon, opposite charge */
const tightEmuOS = [
  { name: "twoTight", cut: (c) => pass(c.nTight, (n) => n === 2) },
  { name: "emu", cut: (c) => pass(c.flavour, (f) => f === "emu") },
  { name: "oppositeCharge", cut: (c) => pass(c.chargeProduct, (q) => q < 0) },
];

export default {
  name: "hww-emu",
  datasets: [
    { name: "ttbar", kind: "mc", files, xsec: XSEC_TTBAR },
    // pseudo-data: the same simulated events, counted once each (see the header)
    { name: "data", kind: "data", files },
  ],
  luminosity: LUMI,
  corrections: { lepton: "lepton_sf.json" },
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
    nTight: (c) => leptons(c).tight.count(),
    nEle: (c) => electrons(c).counts(),
    nMu: (c) => muons(c).counts(),
    chargeProduct: (c) => leptons(c).charge.prod(), // of the two leptons once there are exactly two
    flavour: (c) => Array.from(leptons(c).pdgId.abs().sum(), (s) => FLAVOUR[s] ?? "other"),
    leadTightPt: (c) => tightLeptons(c).pt.leading(0),
    leadPt: (c) => leptons(c).pt.leading(0),
    lepPt: (c) => leptons(c).pt, // per-object fill: every loose lepton
    jetPt: (c) => jets(c).pt,
    mtl1: (c) => vec4(tightLeptons(c).leading(0)).mt(vec4(c.MET_pt, new Float64Array(c.MET_pt.length), c.MET_phi)),
    mll: (c) => dilepton(c).ll.mass,
    ptll: (c) => dilepton(c).ll.pt,
    dphill: (c) => dilepton(c).l1.deltaPhi(dilepton(c).l2).map(Math.abs),
    mth: (c) => transverseMass(dilepton(c).ll.pt, dilepton(c).ll.phi, c.MET_pt, c.MET_phi),
    nJet: (c) => jets(c).counts(),
    nBJet: (c) => jets(c).btagCSVV2.gt(0.8484).count(),
    jetBin: (c) => Array.from(c.nJet, (n) => (n === 0 ? "0j" : n === 1 ? "1j" : "2j+")),
    mjj: (c) => dijet(c).mass, // NaN with fewer than two jets: dropped by the flow-less axis
    lepSF: (c, ctx) => leptonSF(c, ctx, "nominal"),
  },
  eventWeight: (c) => c.lepSF, // simulation only
  selections: [
    // the trigger-like lepton: a tight lepton above 25 GeV
    { name: "oneLepton", cut: (c) => pass(c.leadTightPt, (pt) => pt > 25) },
    { name: "twoLeptons", cut: (c) => pass(c.nLep, (n) => n === 2) },
    { name: "mll12", cut: (c) => pass(c.mll, (m) => m > 12) },
  ],
  regions: {
    // signal region: tight eμ, opposite charge, 0-jet, low m_ll, leptons close in φ, m_T in the Higgs window
    SR: [
      ...tightEmuOS,
      { name: "zeroJet", cut: (c) => pass(c.nJet, (n) => n === 0) },
      { name: "mll60", cut: (c) => pass(c.mll, (m) => m < 60) },
      { name: "dphill1.8", cut: (c) => pass(c.dphill, (d) => d < 1.8) },
      { name: "mth60to125", cut: (c) => pass(c.mth, (m) => m > 60 && m < 125) },
    ],
    // top: ≥ 1 jet (the file's b-tag values are defaults, so no b-tag), away from the signal m_ll
    CR_top: [...tightEmuOS, { name: "oneJetPlus", cut: (c) => pass(c.nJet, (n) => n >= 1) }, { name: "mll50", cut: (c) => pass(c.mll, (m) => m > 50) }],
    // DY → ττ → eμ: 0-jet, low m_T
    CR_DY: [
      ...tightEmuOS,
      { name: "zeroJet", cut: (c) => pass(c.nJet, (n) => n === 0) },
      { name: "mll80", cut: (c) => pass(c.mll, (m) => m < 80) },
      { name: "mth60", cut: (c) => pass(c.mth, (m) => m < 60) },
    ],
    // non-prompt leptons, same-sign pairs of any flavour (validates the fake-lepton estimate)
    CR_SS: [{ name: "sameCharge", cut: (c) => pass(c.chargeProduct, (q) => q > 0) }],
    // the fake method's application region: the second lepton loose but not tight, opposite charge
    CR_fake: [
      { name: "oneTight", cut: (c) => pass(c.nTight, (n) => n === 1) },
      { name: "oppositeCharge", cut: (c) => pass(c.chargeProduct, (q) => q < 0) },
    ],
  },
  histograms: [
    // before any cut ("all"): per-object fills of the selected leptons and jets, jet multiplicity
    { name: "lepPt", after: "all", axes: [{ type: "regular", name: "pt", bins: 20, lo: 0, hi: 200, label: "lepton p_{T} [GeV]" }], columns: ["lepPt"] },
    { name: "jetPt", after: "all", axes: [{ type: "regular", name: "pt", bins: 20, lo: 30, hi: 330, label: "jet p_{T} [GeV]" }], columns: ["jetPt"] },
    { name: "nJetAll", after: "all", axes: [{ type: "integer", name: "nJet", lo: 0, hi: 8, label: "jets" }], columns: ["nJet"] },
    // ≥ 1 lepton with pT > 25 GeV (a W-like tt̄ selection, well populated in this file)
    { name: "mtl1", after: "oneLepton", axes: [{ type: "regular", name: "mt", bins: 5, lo: 0, hi: 200, label: "m_{T}(#ell_{1}, MET) [GeV]" }], columns: ["mtl1"] },
    { name: "nJet", after: "oneLepton", axes: [{ type: "integer", name: "nJet", lo: 0, hi: 8, label: "jets" }], columns: ["nJet"] },
    { name: "nBJet", after: "oneLepton", axes: [{ type: "integer", name: "nBJet", lo: 0, hi: 5, label: "b jets" }], columns: ["nBJet"] },
    // the lepton scale-factor variations where this file has events
    {
      name: "mtl1LepSF",
      after: "oneLepton",
      datasets: "mc",
      axes: [{ type: "regular", name: "mt", bins: 5, lo: 0, hi: 200, label: "m_{T}(#ell_{1}, MET) [GeV]" }],
      columns: ["mtl1"],
      tensor: { name: "lepSF", size: 2, labels: ["up", "down"], weights: lepSFVariations },
    },
    { name: "mjj", after: "oneLepton", axes: [{ type: "regular", name: "mjj", bins: 20, lo: 0, hi: 1000, flow: false, label: "m_{jj} [GeV]" }], columns: ["mjj"] },
    // per region (stored as <histogram>::<region>)
    perRegion("mll", { type: "regular", name: "mll", bins: 12, lo: 0, hi: 240, label: "m_{#ell#ell} [GeV]" }, "mll"),
    perRegion("ptll", { type: "regular", name: "ptll", bins: 12, lo: 0, hi: 240, label: "p_{T}^{#ell#ell} [GeV]" }, "ptll"),
    perRegion("dphill", { type: "regular", name: "dphill", bins: 8, lo: 0, hi: Math.PI, label: "#Delta#phi_{#ell#ell}" }, "dphill"),
    perRegion("mth", { type: "regular", name: "mth", bins: 12, lo: 0, hi: 240, label: "m_{T}(#ell#ell, MET) [GeV]" }, "mth"),
    perRegion("mjjRegion", { type: "regular", name: "mjj", bins: 10, lo: 0, hi: 1000, flow: false, label: "m_{jj} [GeV] (≥ 2 jets)" }, "mjj"),
    perRegion("jetBin", { type: "categoryStr", name: "jets", categories: ["0j", "1j", "2j+"], label: "jet category" }, "jetBin"),
    perRegion("flavour", { type: "categoryStr", name: "flavour", categories: ["ee", "emu", "mumu"], label: "lepton flavours" }, "flavour"),
    // lepton scale-factor variations (up, down) as a tensor axis: a systematic for `histmaker tensor`
    {
      ...perRegion("mllLepSF", { type: "regular", name: "mll", bins: 12, lo: 0, hi: 240, label: "m_{#ell#ell} [GeV]" }, "mll"),
      datasets: "mc",
      // up/down of the scale factors relative to the nominal one (already in the event weight): n × 2
      tensor: { name: "lepSF", size: 2, labels: ["up", "down"], weights: lepSFVariations },
    },
  ],
};
