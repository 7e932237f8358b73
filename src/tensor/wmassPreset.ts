/**
 * A synthetic model of the size and structure of the CMS W-mass fit (after
 * ../shared/reference/wmass_model.py): one channel η(48) × pT(30) × charge(2) = 2880 bins,
 * 10 processes, 4859 nuisances in the analysis' proportions, the nuisance of interest
 * massShiftW100MeV (injected at 0.5), MC statistics, Poisson pseudo-data.
 *
 * Nuisances: 3534 muon efficiency (2784 statistical, local in η × charge and smooth in pT;
 * 343 systematic and 407 veto, per η slice), 387 nonprompt (per η × charge), 353 angular
 * coefficients, 176 QCD scales, 338 muon momentum scale (per η slice), 60 PDF, 9 process
 * normalisations, the W width and the mass shift. log κ is booked as sparse blocks straight into
 * the builder, so no bins × procs × systs array is ever made.
 */
import { UserError } from "../errors.js";
import type { GeneratedModel } from "./modelGenerator.js";
import { SeededRandom } from "./seededRandom.js";
import { TensorBuilder } from "./TensorBuilder.js";

export interface WmassOptions {
  seed: number;
  /** mean total expected events per bin */
  events: number;
  /** how a writer should store it (the dense log κ is 1.1 GB) */
  dense: boolean;
}

export const DEFAULT_WMASS_OPTIONS: Readonly<WmassOptions> = { seed: 1, events: 1e5, dense: false };

export const WMASS_NETA = 48;
export const WMASS_NPT = 30;
export const WMASS_NCHARGE = 2;
export const WMASS_NBINS = WMASS_NETA * WMASS_NPT * WMASS_NCHARGE;
export const WMASS_NSYSTS = 4859;
export const WMASS_NOI = "massShiftW100MeV";

export const WMASS_PROCS = [
  "Wmunu", "Wtaunu", "Zmumu", "Ztautau", "Top", "SingleTop", "Diboson", "Nonprompt", "PhotonInduced", "DYlowMass",
] as const;
const FRACTIONS = [0.8, 0.03, 0.05, 0.005, 0.02, 0.01, 0.005, 0.07, 0.005, 0.005];

/** Generates the W-mass-like model and its truth (μ = 1, θ ~ N(0, 0.3), mass shift 0.5). */
export function generateWmassModel(options: Partial<WmassOptions> = {}): GeneratedModel {
  const o: WmassOptions = { ...DEFAULT_WMASS_OPTIONS, ...options };
  if (!Number.isInteger(o.seed) || o.seed < 0) throw new UserError(`option --seed: expected an integer ≥ 0, got ${o.seed}`);
  if (!(o.events > 0) || !Number.isFinite(o.events)) throw new UserError(`option --events: expected a positive number, got ${o.events}`);
  const rng = new SeededRandom(o.seed);
  const rngTruth = new SeededRandom(o.seed + 1);
  const nb = WMASS_NBINS;
  const npr = WMASS_PROCS.length;
  // bin index = (eta · npt + pt) · ncharge + charge, row-major over the axes
  const eta = new Int32Array(nb);
  const ptx = new Float64Array(nb);
  const charge = new Int32Array(nb);
  for (let b = 0; b < nb; b++) {
    charge[b] = b % WMASS_NCHARGE;
    const ipt = Math.floor(b / WMASS_NCHARGE) % WMASS_NPT;
    eta[b] = Math.floor(b / (WMASS_NCHARGE * WMASS_NPT));
    ptx[b] = (ipt + 0.5) / WMASS_NPT;
  }

  const norm: Float64Array[] = [];
  for (let p = 0; p < npr; p++) {
    const slope = rng.uniform(0.5, 2.5);
    const shape = Float64Array.from({ length: nb }, (_, b) => {
      const etax = (eta[b] + 0.5) / WMASS_NETA;
      const peak = p === 0 ? 1 + 0.4 * Math.exp(-(((ptx[b] - 0.6) / 0.15) ** 2)) : 1;
      return Math.exp(-slope * ptx[b]) * peak * (1 + 0.2 * Math.cos(Math.PI * etax));
    });
    const mean = shape.reduce((s, v) => s + v, 0) / nb;
    norm.push(shape.map((v) => (o.events * FRACTIONS[p] * v) / mean));
  }

  const builder = new TensorBuilder({ systematicType: "log_normal" });
  builder.addChannel("ch0", [
    { name: "eta", label: "muon #eta", edges: linspace(-2.4, 2.4, WMASS_NETA + 1) },
    { name: "pt", label: "muon p_{T} [GeV]", edges: linspace(26, 56, WMASS_NPT + 1) },
    { name: "charge", label: "muon charge", categories: [-1, 1] },
  ]);
  for (let p = 0; p < npr; p++) {
    builder.addProcess("ch0", WMASS_PROCS[p], norm[p], { signal: p === 0, sumw2: norm[p].map((v) => v / 4) });
  }

  const expo = new Float64Array(nb * npr);
  const thetaTrue = new Map<string, number>();
  const all = Int32Array.from({ length: nb }, (_, b) => b);
  const slice = (pred: (b: number) => boolean): Int32Array => all.filter(pred);
  const etaSlices = Array.from({ length: WMASS_NETA }, (_, e) => slice((b) => eta[b] === e));
  const etaChargeSlices = Array.from({ length: WMASS_NETA * WMASS_NCHARGE }, (_, i) =>
    slice((b) => eta[b] === Math.floor(i / WMASS_NCHARGE) && charge[b] === i % WMASS_NCHARGE),
  );
  const mc = [0, 1, 2, 3, 4, 5, 6, 8, 9];
  const W = [0, 1];
  const Z = [2, 3];
  const V = [0, 1, 2, 3];
  let nsyst = 0;

  /** books one nuisance acting on `procs` at `bins` with log κ value(b, p) */
  const add = (
    name: string,
    bins: Int32Array,
    procs: readonly number[],
    value: (b: number, p: number) => number,
    groups: string[],
    extra: { noi?: boolean; theta?: number } = {},
  ): void => {
    const th = extra.theta ?? rngTruth.normal(0, 0.3);
    thetaTrue.set(name, th);
    builder.addSystematicName(name, { groups, noi: extra.noi });
    for (const p of procs) {
      const vals = new Float64Array(bins.length);
      for (let k = 0; k < bins.length; k++) {
        vals[k] = value(bins[k], p);
        expo[bins[k] * npr + p] += th * vals[k];
      }
      builder.addLogK(name, WMASS_PROCS[p], "ch0", { bins, avg: vals }, { groups, noi: extra.noi });
    }
    nsyst++;
  };
  const smooth = (a: number): ((b: number, p: number) => number) => {
    const f = rng.uniform(0.5, 3);
    const ph = rng.uniform(0, 6);
    return (b, p) => a * Math.sin(Math.PI * f * ptx[b] + ph) * (1 + 0.1 * p);
  };

  for (let e = 0; e < WMASS_NETA; e++) {
    for (let c = 0; c < WMASS_NCHARGE; c++) {
      for (let k = 0; k < 29; k++) {
        const a = 0.002 * rng.normal();
        add(`effStat_eta${e}_q${c}_${k}`, etaChargeSlices[e * WMASS_NCHARGE + c], mc,
          (b) => a * Math.cos(Math.PI * (k + 1) * ptx[b]), ["muonEff", "muonEffStat"]);
      }
    }
  }
  for (let i = 0; i < 343; i++) add(`effSyst_${i}`, etaSlices[i % WMASS_NETA], mc, smooth(0.003 * rng.normal()), ["muonEff"]);
  for (let i = 0; i < 407; i++) add(`effVeto_${i}`, etaSlices[i % WMASS_NETA], Z, smooth(0.01 * rng.normal()), ["muonEff"]);
  for (let i = 0; i < 387; i++) {
    const e = i % WMASS_NETA;
    const c = Math.floor(i / WMASS_NETA) % WMASS_NCHARGE;
    add(`nonprompt_${i}`, etaChargeSlices[e * WMASS_NCHARGE + c], [7], smooth(0.05 * rng.normal()), ["nonprompt"]);
  }
  for (let i = 0; i < 353; i++) add(`angCoeff_${i}`, all, W, smooth(0.003 * rng.normal()), ["angularCoeffs", "theory"]);
  for (let i = 0; i < 176; i++) add(`scaleW_${i}`, all, W, smooth(0.004 * rng.normal()), ["QCDscales", "theory"]);
  for (let i = 0; i < 338; i++) {
    add(`muonScale_${i}`, etaSlices[i % WMASS_NETA], mc, smooth(0.004 * rng.normal()), ["muonCalibration"]);
  }
  for (let i = 0; i < 60; i++) add(`pdf_${i}`, all, V, smooth(0.003 * rng.normal()), ["pdf", "theory"]);
  for (let p = 1; p < npr; p++) {
    const lk = Math.log1p(rng.uniform(0.02, 0.1));
    add(`norm_${WMASS_PROCS[p]}`, all, [p], () => lk, ["normalisation"]);
  }
  add("widthW", all, W, smooth(0.0005), ["theory"]);
  add(WMASS_NOI, all, [0], (b) => 0.004 * Math.exp(-(((ptx[b] - 0.6) / 0.1) ** 2)) * Math.sign(ptx[b] - 0.6),
    ["massShift"], { noi: true, theta: 0.5 });
  if (nsyst !== WMASS_NSYSTS) throw new Error(`wmass preset booked ${nsyst} nuisances, expected ${WMASS_NSYSTS}`);

  const data = new Float64Array(nb);
  for (let b = 0; b < nb; b++) {
    let nu = 0;
    for (let p = 0; p < npr; p++) nu += norm[p][b] * Math.exp(expo[b * npr + p]);
    data[b] = rngTruth.poisson(nu);
  }
  builder.addData("ch0", data);
  const model = builder.build({ storage: o.dense ? "dense" : "sparse" });
  model.metaJson = { ...(model.metaJson ?? {}), generator: { name: "fit-gen --preset wmass", options: { ...o } } };
  return { model, truth: { mu: [1], theta: thetaTrue } };
}

function linspace(lo: number, hi: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1));
}
