#!/usr/bin/env node
/**
 * Toy W-mass event generator: W→μν (muon pT spectrum from the W mass, Breit–Wigner line shape,
 * W pT and rapidity, detector smearing), Z→μμ where one muon is lost (outside acceptance or
 * inefficient), a nonprompt-muon background, 100 PDF-like weights per W/Z event, and a data
 * sample mixing the three at a chosen (possibly shifted) W mass, spread over runs and luminosity
 * blocks, with a certification JSON and a brilcalc-style luminosity CSV.
 *
 * Usage (after `npm run build`):
 *   node inputs/wmass-example/generate.mjs OUTDIR [--lumi PB] [--mass-shift-mev 100] [--mc-factor 2]
 *        [--files N] [--seed S] [--pdf-weights K]
 * Writes OUTDIR/{wmunu,zmumu,nonprompt,data}_<i>.hdf5, golden.json, lumi.csv, samples.json.
 * From code: `generateWmassEvents({ outDir, write })` with `write` = writeColumnarEvents.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const M_W = 80.379;
export const GAMMA_W = 2.085;
export const M_Z = 91.1876;
export const GAMMA_Z = 2.4952;
/** cross-sections of the toy (pb, before any selection) */
export const XSEC = { wmunu: 20000, zmumu: 1900, nonprompt: 6000 };
export const N_PDF = 100;

/** Small seeded generator (mulberry32) with normal, exponential and gamma draws. */
export class Rng {
  constructor(seed) {
    this.state = seed >>> 0 || 1;
    this.spare = null;
  }
  uniform() {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  normal() {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    const a = 2 * Math.PI * this.uniform();
    this.spare = r * Math.sin(a);
    return r * Math.cos(a);
  }
  exponential(mean) {
    return -mean * Math.log(1 - this.uniform());
  }
  /** gamma with integer shape k */
  gamma(k, theta) {
    let s = 0;
    for (let i = 0; i < k; i++) s += this.exponential(theta);
    return s;
  }
  poisson(mean) {
    if (mean > 50) return Math.max(0, Math.round(mean + Math.sqrt(mean) * this.normal()));
    const l = Math.exp(-mean);
    let k = 0;
    let p = 1;
    do {
      k++;
      p *= this.uniform();
    } while (p > l);
    return k - 1;
  }
}

/** Relativistic Breit–Wigner in s = m², sampled inside [lo, hi] GeV. */
export function sampleBreitWigner(rng, mass, width, lo, hi) {
  const a = Math.atan((lo * lo - mass * mass) / (mass * width));
  const b = Math.atan((hi * hi - mass * mass) / (mass * width));
  const s = mass * mass + mass * width * Math.tan(a + (b - a) * rng.uniform());
  return Math.sqrt(s);
}

/** Density ratio BW(m; mass') / BW(m; mass), both normalised over all s (the reweighting to a shifted mass). */
export function breitWignerRatio(m, mass, shiftedMass, width) {
  const s = m * m;
  const d0 = (s - mass * mass) ** 2 + mass * mass * width * width;
  const d1 = (s - shiftedMass * shiftedMass) ** 2 + shiftedMass * shiftedMass * width * width;
  return ((shiftedMass * width) / (mass * width)) * (d0 / d1);
}

/** Two-body decay of a boson (m, pT, y, φ) into massless leptons; returns both lab momenta. */
function decay(rng, m, pt, y, phi) {
  let c;
  do c = 2 * rng.uniform() - 1;
  while (rng.uniform() * 2 > 1 + c * c);
  const sn = Math.sqrt(1 - c * c);
  const ph = 2 * Math.PI * rng.uniform();
  const p = m / 2;
  const mt = Math.sqrt(m * m + pt * pt);
  const E = mt * Math.cosh(y);
  const bx = (pt * Math.cos(phi)) / E;
  const by = (pt * Math.sin(phi)) / E;
  const bz = (mt * Math.sinh(y)) / E;
  const b2 = bx * bx + by * by + bz * bz;
  const g = E / m;
  const g2 = b2 > 0 ? (g - 1) / b2 : 0;
  const boost = (px, py, pz) => {
    const bp = bx * px + by * py + bz * pz;
    const k = g2 * bp + g * p;
    return [px + k * bx, py + k * by, pz + k * bz];
  };
  const a = boost(p * sn * Math.cos(ph), p * sn * Math.sin(ph), p * c);
  const b = boost(-p * sn * Math.cos(ph), -p * sn * Math.sin(ph), -p * c);
  return [a, b];
}

function kin(v) {
  const pt = Math.hypot(v[0], v[1]);
  return { pt, eta: Math.asinh(v[2] / pt), phi: Math.atan2(v[1], v[0]) };
}

/** Detector response: reconstructed or lost (acceptance |η| < 2.4, pT > 10, 95 % efficiency), pT smeared. */
function reconstruct(rng, mu) {
  if (Math.abs(mu.eta) > 2.4 || rng.uniform() > 0.95) return null;
  const pt = mu.pt * (1 + (0.01 + 0.005 * Math.abs(mu.eta)) * rng.normal());
  if (pt < 10) return null;
  return { pt, eta: mu.eta, phi: mu.phi };
}

/** Fixed PDF-like variation coefficients, the same for every sample (seeded independently). */
function pdfCoefficients() {
  const r = new Rng(20260101);
  const c = new Float64Array(N_PDF * 3);
  for (let i = 0; i < c.length; i++) c[i] = 0.3 * r.normal();
  return c;
}
const PDF_COEF = pdfCoefficients();

/** nPdf (≤ N_PDF) PDF-like weights relative to the nominal, smooth in the boson rapidity and pT. */
function pdfWeights(out, at, nPdf, y, pt) {
  const ty = y / 2.4;
  const ty2 = (y * y) / 3 - 1;
  const tp = (pt - 6) / 6;
  for (let k = 0; k < nPdf; k++)
    out[at + k] = 1 + 0.01 * PDF_COEF[3 * k] * ty + 0.01 * PDF_COEF[3 * k + 1] * ty2 + 0.005 * PDF_COEF[3 * k + 2] * tp;
}

/** Events of one sample, filled column by column (no per-event objects). */
class Sample {
  constructor({ truth, pdf, mass, nPdf, capacity }) {
    this.truth = truth;
    this.withPdf = pdf;
    this.withMass = mass;
    this.nPdf = nPdf;
    this.n = 0;
    this.metPt = [];
    this.metPhi = [];
    this.genWeight = [];
    this.genMass = [];
    this.run = [];
    this.lumi = [];
    this.offsets = [0];
    this.pt = [];
    this.eta = [];
    this.phi = [];
    this.charge = [];
    this.iso = [];
    this.pdf = pdf ? new Float32Array(capacity * nPdf) : null;
  }
  addMuon(m, charge, iso) {
    this.pt.push(m.pt);
    this.eta.push(m.eta);
    this.phi.push(m.phi);
    this.charge.push(charge);
    this.iso.push(iso);
  }
  /** closes the event: MET from the invisible (vx, vy) plus resolution */
  endEvent(rng, vx, vy) {
    const x = vx + 6 * rng.normal();
    const y = vy + 6 * rng.normal();
    this.metPt.push(Math.hypot(x, y));
    this.metPhi.push(Math.atan2(y, x));
    this.offsets.push(this.pt.length);
    return this.n++;
  }
  /** columns of events [a, b) */
  columns(a, b) {
    const m0 = this.offsets[a];
    const m1 = this.offsets[b];
    const offsets = Int32Array.from(this.offsets.slice(a, b + 1), (o) => o - m0);
    const jag = (arr, T) => ({ offsets, values: T.from(arr.slice(m0, m1)) });
    const cols = {
      Muon_pt: jag(this.pt, Float32Array),
      Muon_eta: jag(this.eta, Float32Array),
      Muon_phi: jag(this.phi, Float32Array),
      Muon_charge: jag(this.charge, Int32Array),
      Muon_pfRelIso04_all: jag(this.iso, Float32Array),
      MET_pt: Float32Array.from(this.metPt.slice(a, b)),
      MET_phi: Float32Array.from(this.metPhi.slice(a, b)),
    };
    if (!this.truth) {
      cols.run = Uint32Array.from(this.run.slice(a, b));
      cols.luminosityBlock = Uint32Array.from(this.lumi.slice(a, b));
      return cols;
    }
    cols.genWeight = Float32Array.from(this.genWeight.slice(a, b));
    if (this.withMass) cols.genMassW = Float32Array.from(this.genMass.slice(a, b));
    if (this.withPdf) {
      const k = this.nPdf;
      cols.LHEPdfWeight = { offsets: Int32Array.from({ length: b - a + 1 }, (_, i) => i * k), values: this.pdf.slice(a * k, b * k) };
    }
    return cols;
  }
}

function genWeightOf(rng) {
  return rng.uniform() < 0.03 ? -1 : 1;
}

/** W pT: gamma(2, 3 GeV) */
function bosonPt(rng) {
  return rng.gamma(2, 3);
}

function wEvent(rng, massW, out) {
  const m = sampleBreitWigner(rng, massW, GAMMA_W, 60, 100);
  const pt = bosonPt(rng);
  const y = 1.8 * rng.normal();
  const phi = 2 * Math.PI * rng.uniform() - Math.PI;
  const charge = rng.uniform() < 0.57 ? 1 : -1;
  const [mu, nu] = decay(rng, m, pt, y, phi);
  const rec = reconstruct(rng, kin(mu));
  if (rec) out.addMuon(rec, charge, rng.exponential(0.03));
  const i = out.endEvent(rng, nu[0], nu[1]);
  if (out.truth) {
    out.genWeight.push(genWeightOf(rng));
    out.genMass.push(m);
    pdfWeights(out.pdf, i * out.nPdf, out.nPdf, y, pt);
  }
}

function zEvent(rng, out) {
  const m = sampleBreitWigner(rng, M_Z, GAMMA_Z, 70, 110);
  const pt = bosonPt(rng);
  const y = 1.8 * rng.normal();
  const phi = 2 * Math.PI * rng.uniform() - Math.PI;
  const [a, b] = decay(rng, m, pt, y, phi);
  let lostX = 0;
  let lostY = 0;
  for (const [v, charge] of [
    [a, 1],
    [b, -1],
  ]) {
    const rec = reconstruct(rng, kin(v));
    if (rec) out.addMuon(rec, charge, rng.exponential(0.03));
    else {
      lostX += v[0];
      lostY += v[1];
    }
  }
  const i = out.endEvent(rng, lostX, lostY);
  if (out.truth) {
    out.genWeight.push(genWeightOf(rng));
    pdfWeights(out.pdf, i * out.nPdf, out.nPdf, y, pt);
  }
}

function nonpromptEvent(rng, out) {
  const eta = 5 * rng.uniform() - 2.5;
  const phi = 2 * Math.PI * rng.uniform() - Math.PI;
  const rec = reconstruct(rng, { pt: 20 + rng.exponential(8), eta, phi });
  const charge = rng.uniform() < 0.5 ? 1 : -1;
  if (rec) out.addMuon(rec, charge, rng.exponential(0.4));
  const met = rng.exponential(25);
  const mphi = 2 * Math.PI * rng.uniform() - Math.PI;
  out.endEvent(rng, met * Math.cos(mphi), met * Math.sin(mphi));
  if (out.truth) out.genWeight.push(1);
}

/** Runs × blocks with recorded luminosity, and which of them are certified. */
function makeLumiBlocks(rng, lumiPb, runs, blocksPerRun) {
  const blocks = [];
  let total = 0;
  for (let r = 0; r < runs; r++)
    for (let l = 1; l <= blocksPerRun; l++) {
      const w = 0.7 + 0.6 * rng.uniform();
      blocks.push({ run: 355100 + r, lumi: l, w });
      total += w;
    }
  for (const b of blocks) b.recordedPb = (lumiPb * b.w) / total;
  // certification: run index 2 is bad entirely; blocks 10-14 of every other run are bad
  const golden = {};
  for (let r = 0; r < runs; r++) {
    if (r === 2) continue;
    golden[String(355100 + r)] = [
      [1, 9],
      [15, blocksPerRun],
    ];
  }
  for (const b of blocks) b.certified = golden[String(b.run)] !== undefined && (b.lumi < 10 || b.lumi > 14);
  return { blocks, golden };
}

function lumiCsv(blocks) {
  const lines = ["#Data tag : toy , Norm tag: None", "#run:fill,ls,time,beamstatus,E(GeV),delivered(/ub),recorded(/ub),avgpu,source"];
  for (const b of blocks) {
    const rec = b.recordedPb * 1e6;
    lines.push(`${b.run}:8000,${b.lumi}:${b.lumi},06/01/26 00:00:00,STABLE BEAMS,6800,${(rec * 1.03).toFixed(6)},${rec.toFixed(6)},32.0,HFOC`);
  }
  let tot = 0;
  for (const b of blocks) tot += b.recordedPb * 1e6;
  lines.push("#Summary:", "#nfill,nrun,nls,ncms,totdelivered(/ub),totrecorded(/ub)", `#1,${new Set(blocks.map((b) => b.run)).size},${blocks.length},${blocks.length},${(tot * 1.03).toFixed(3)},${tot.toFixed(3)}`);
  return lines.join("\n") + "\n";
}

async function writeSplit(sample, files, prefix, outDir, write) {
  const paths = [];
  const per = Math.ceil(sample.n / files);
  for (let f = 0; f < files; f++) {
    const p = path.join(outDir, `${prefix}_${f}.hdf5`);
    await write(p, sample.columns(Math.min(sample.n, f * per), Math.min(sample.n, (f + 1) * per)));
    paths.push(p);
  }
  return paths;
}

/**
 * Generates the samples. Options: outDir, write (async (path, columns) => void), lumiPb (recorded,
 * all blocks; default 4), massShiftMeV (data W mass − nominal; default 100), mcFactor (simulated events
 * per expected data event; default 2), files (per sample; default 2), seed (default 1), nPdf (PDF
 * weights per W/Z event; default 100),
 * runs / blocksPerRun (default 5 / 40).
 */
export async function generateWmassEvents(opts) {
  const { outDir, write } = opts;
  const lumiPb = opts.lumiPb ?? 4;
  const shift = (opts.massShiftMeV ?? 100) / 1000;
  const mcFactor = opts.mcFactor ?? 2;
  const files = opts.files ?? 2;
  const seed = opts.seed ?? 1;
  mkdirSync(outDir, { recursive: true });
  const rng = new Rng(seed);
  const { blocks, golden } = makeLumiBlocks(rng, lumiPb, opts.runs ?? 5, opts.blocksPerRun ?? 40);

  const nPdf = opts.nPdf ?? N_PDF;
  const samples = {};
  const mcMakers = { wmunu: (r, o) => wEvent(r, M_W, o), zmumu: zEvent, nonprompt: nonpromptEvent };
  let k = 1;
  for (const [name, make] of Object.entries(mcMakers)) {
    const r = new Rng(seed * 1000 + k++);
    const n = Math.round(mcFactor * XSEC[name] * lumiPb);
    const sample = new Sample({ truth: true, pdf: name !== "nonprompt", mass: name === "wmunu", nPdf, capacity: n });
    for (let i = 0; i < n; i++) make(r, sample);
    let sumw = 0;
    for (const w of sample.genWeight) sumw += w;
    samples[name] = { files: await writeSplit(sample, files, name, outDir, write), xsec: XSEC[name], events: n, sumGenWeights: sumw };
  }

  // data: each process Poisson in each block at its recorded luminosity, W at the shifted mass
  const r = new Rng(seed * 1000 + 99);
  const data = new Sample({ truth: false, pdf: false, mass: false, nPdf: 0, capacity: 0 });
  let certifiedLumiPb = 0;
  for (const b of blocks) {
    if (b.certified) certifiedLumiPb += b.recordedPb;
    for (const [name, xsec] of Object.entries(XSEC)) {
      const n = r.poisson(xsec * b.recordedPb);
      for (let i = 0; i < n; i++) {
        if (name === "wmunu") wEvent(r, M_W + shift, data);
        else if (name === "zmumu") zEvent(r, data);
        else nonpromptEvent(r, data);
        data.run.push(b.run);
        data.lumi.push(b.lumi);
      }
    }
  }
  samples.data = { files: await writeSplit(data, files, "data", outDir, write), events: data.n };

  writeFileSync(path.join(outDir, "golden.json"), JSON.stringify(golden, null, 1));
  writeFileSync(path.join(outDir, "lumi.csv"), lumiCsv(blocks));
  const manifest = {
    lumiPb,
    certifiedLumiPb,
    massShiftMeV: shift * 1000,
    nPdf,
    massW: M_W,
    samples,
    golden: path.join(outDir, "golden.json"),
    lumiCsv: path.join(outDir, "lumi.csv"),
  };
  writeFileSync(path.join(outDir, "samples.json"), JSON.stringify(manifest, null, 1));
  return manifest;
}

function parseArgs(argv) {
  const opts = { outDir: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => Number(argv[++i]);
    if (a === "--lumi") opts.lumiPb = next();
    else if (a === "--mass-shift-mev") opts.massShiftMeV = next();
    else if (a === "--mc-factor") opts.mcFactor = next();
    else if (a === "--files") opts.files = next();
    else if (a === "--seed") opts.seed = next();
    else if (a === "--pdf-weights") opts.nPdf = next();
    else if (!a.startsWith("-") && opts.outDir === null) opts.outDir = a;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!opts.outDir) throw new Error("usage: generate.mjs OUTDIR [--lumi PB] [--mass-shift-mev M] [--mc-factor F] [--files N] [--seed S]");
  return opts;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const writer = path.resolve(here, "../../dist/src/histmaker/eventSources.js");
  const { writeColumnarEvents } = await import(pathToFileURL(writer).href);
  const opts = parseArgs(process.argv.slice(2));
  const t0 = Date.now();
  const m = await generateWmassEvents({ ...opts, write: writeColumnarEvents });
  const counts = Object.entries(m.samples).map(([k, v]) => `${k} ${v.events}`).join(", ");
  process.stdout.write(`wrote ${opts.outDir}: ${counts} events; certified luminosity ${m.certifiedLumiPb.toFixed(4)} /pb (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
}
