/**
 * Synthetic fit models with the structure of ../shared/reference/tensor_model.py: smooth falling
 * process templates, a mix of local, normalisation and smooth shape systematics, optional asymmetry,
 * near-degenerate pairs and MC statistics, and Poisson pseudo-data around a shifted truth.
 * Seeded with our own generator, so the numbers differ from numpy's but the kinds of things do not.
 */
import { UserError } from "../errors.js";
import { SeededRandom } from "./seededRandom.js";
import { TensorBuilder } from "./TensorBuilder.js";
import type { TensorModel } from "./types.js";

export interface GeneratorOptions {
  /** number of bins (one channel) */
  bins: number;
  /** number of processes, the first `signals` of them signals */
  procs: number;
  signals: number;
  /** number of nuisance parameters */
  systs: number;
  /** mean total expected events per bin */
  events: number;
  seed: number;
  /** how a writer should store it */
  sparse: boolean;
  /** give every systematic an asymmetric half-difference */
  asym: boolean;
  /** MC statistical uncertainties (sumw2) for Barlow–Beeston */
  bbb: boolean;
  /** MC events per expected event, for sumw2 = norm / mcstat */
  mcstat: number;
  /** odd systematics nearly copy the preceding one (near-degenerate pairs) */
  pairs: boolean;
  /** fraction of systematics that act on a few neighbouring bins only */
  local: number;
}

export const DEFAULT_GENERATOR_OPTIONS: Readonly<GeneratorOptions> = {
  bins: 200,
  procs: 4,
  signals: 1,
  systs: 50,
  events: 1e4,
  seed: 1,
  sparse: false,
  asym: false,
  bbb: false,
  mcstat: 4,
  pairs: false,
  local: 0.3,
};

/** The truth the pseudo-data were drawn around. */
export interface GeneratedTruth {
  /** signal strengths, one per signal (in the model's signal order) */
  mu: number[];
  /** nuisance values by systematic name */
  theta: Map<string, number>;
}

export interface GeneratedModel {
  model: TensorModel;
  truth: GeneratedTruth;
}

/** Asymmetric smooth step α(θ) of the likelihood spec. */
export function asymmetryStep(theta: number): number {
  if (Math.abs(theta) >= 0.5) return Math.sign(theta);
  const t = 2 * theta;
  return (t * (3 * t ** 4 - 10 * t ** 2 + 15)) / 8;
}

function checkOptions(o: GeneratorOptions): void {
  const intAtLeast = (name: keyof GeneratorOptions, min: number): void => {
    const v = o[name] as number;
    if (!Number.isInteger(v) || v < min) throw new UserError(`option --${name}: expected an integer ≥ ${min}, got ${v}`);
  };
  intAtLeast("bins", 1);
  intAtLeast("procs", 1);
  intAtLeast("signals", 0);
  intAtLeast("systs", 0);
  intAtLeast("seed", 0);
  if (o.signals > o.procs) throw new UserError(`option --signals: ${o.signals} signals but only ${o.procs} processes`);
  if (!(o.events > 0) || !Number.isFinite(o.events)) throw new UserError(`option --events: expected a positive number, got ${o.events}`);
  if (!(o.mcstat > 0) || !Number.isFinite(o.mcstat)) throw new UserError(`option --mcstat: expected a positive number, got ${o.mcstat}`);
  if (!(o.local >= 0 && o.local <= 1)) throw new UserError(`option --local: expected a fraction in [0, 1], got ${o.local}`);
}

/** One systematic's effect before booking: per affected process, values at `bins`. */
interface SystEffect {
  bins: Int32Array;
  perProc: Map<number, Float64Array>;
  /** halfdiff = avg · asymScale (asym only) */
  asymScale: number;
}

function fullRange(n: number): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => i);
}

/** Generates the model and returns it with its truth. */
export function generateModelWithTruth(options: Partial<GeneratorOptions> = {}): GeneratedModel {
  const o: GeneratorOptions = { ...DEFAULT_GENERATOR_OPTIONS, ...options };
  checkOptions(o);
  const rng = new SeededRandom(o.seed);
  const nb = o.bins;
  const npr = o.procs;
  const ns = o.systs;
  const x = Float64Array.from({ length: nb }, (_, b) => (b + 0.5) / nb);

  // process templates: smooth falling shapes, `events` per bin on average in total
  const fracs = rng.dirichlet(new Float64Array(npr).fill(2));
  const norm: Float64Array[] = [];
  for (let p = 0; p < npr; p++) {
    const slope = rng.uniform(0, 3);
    const freq = rng.uniform(0.5, 3);
    const phase = rng.uniform(0, 6);
    const shape = Float64Array.from(x, (xb) => Math.exp(-slope * xb) * (1 + 0.3 * Math.sin(2 * Math.PI * freq * xb + phase)));
    const mean = shape.reduce((s, v) => s + v, 0) / nb;
    norm.push(shape.map((v) => (o.events * fracs[p] * v) / mean));
  }

  // systematics: local (a few bins, all processes), normalisation (one process), smooth shape (all processes)
  const nlocal = Math.round(ns * o.local);
  const all = fullRange(nb);
  const effects: SystEffect[] = [];
  for (let s = 0; s < ns; s++) {
    const perProc = new Map<number, Float64Array>();
    let bins: Int32Array;
    if (s < nlocal) {
      const lo = rng.integer(0, nb);
      const width = Math.max(1, Math.floor(nb / 48));
      bins = fullRange(Math.min(nb, lo + width) - lo).map((i) => lo + i);
      const value = rng.normal(0, 0.02);
      for (let p = 0; p < npr; p++) perProc.set(p, new Float64Array(bins.length).fill(value));
    } else if (s % 3 === 0) {
      bins = all;
      const p = rng.integer(0, npr);
      perProc.set(p, new Float64Array(nb).fill(Math.log(1 + Math.abs(rng.normal(0, 0.05)))));
    } else {
      bins = all;
      const a = rng.normal(0, 0.01);
      const f0 = rng.uniform(0.2, 4);
      const ph = rng.uniform(0, 6);
      const prof = Float64Array.from(x, (xb) => a * Math.sin(2 * Math.PI * f0 * xb + ph));
      for (let p = 0; p < npr; p++) {
        const scale = rng.uniform(0.5, 1.5);
        perProc.set(p, prof.map((v) => v * scale));
      }
    }
    const asymScale = o.asym ? rng.uniform(-0.3, 0.3) : 0;
    effects.push({ bins, perProc, asymScale });
  }
  if (o.pairs) {
    // near-degenerate partners: odd systematics copy the previous one's effect with a tiny distortion
    for (let s = 1; s < ns; s += 2) {
      const prev = effects[s - 1];
      const perProc = new Map<number, Float64Array>();
      for (const [p, vals] of prev.perProc) {
        perProc.set(p, vals.map((v, k) => v * (1 + 0.01 * Math.sin(3 * Math.PI * x[prev.bins[k]]))));
      }
      effects[s] = { bins: prev.bins, perProc, asymScale: effects[s].asymScale };
    }
  }

  // pseudo-data: Poisson around a shifted truth
  const thetaTrue = Float64Array.from({ length: ns }, () => rng.normal(0, 0.5));
  const muTrue = Array.from({ length: o.signals }, () => 1 + rng.normal(0, 0.05));
  const expo = norm.map(() => new Float64Array(nb));
  effects.forEach((eff, s) => {
    const th = thetaTrue[s];
    const factor = th * (1 + asymmetryStep(th) * eff.asymScale);
    for (const [p, vals] of eff.perProc) {
      const e = expo[p];
      for (let k = 0; k < eff.bins.length; k++) e[eff.bins[k]] += factor * vals[k];
    }
  });
  const data = new Float64Array(nb);
  for (let b = 0; b < nb; b++) {
    let nu = 0;
    for (let p = 0; p < npr; p++) nu += (p < o.signals ? muTrue[p] : 1) * norm[p][b] * Math.exp(expo[p][b]);
    data[b] = rng.poisson(nu);
  }

  const procNames = Array.from({ length: npr }, (_, p) => (p < o.signals ? `sig${p}` : `bkg${p - o.signals}`));
  const systNames = Array.from({ length: ns }, (_, s) => `syst${String(s).padStart(4, "0")}`);
  const builder = new TensorBuilder({ systematicType: "log_normal" });
  const edges = Array.from({ length: nb + 1 }, (_, i) => i / nb);
  builder.addChannel("ch0", [{ name: "x", label: "x", edges }]);
  for (let p = 0; p < npr; p++) {
    const sumw2 = o.bbb ? norm[p].map((v) => v / o.mcstat) : new Float64Array(nb);
    builder.addProcess("ch0", procNames[p], norm[p], { signal: p < o.signals, sumw2 });
  }
  builder.addData("ch0", data);
  effects.forEach((eff, s) => {
    const groups = [s % 2 === 0 ? "even" : "odd"];
    builder.addSystematicName(systNames[s], { groups });
    for (const [p, vals] of eff.perProc) {
      const halfDiff = o.asym ? vals.map((v) => v * eff.asymScale) : undefined;
      builder.addLogK(systNames[s], procNames[p], "ch0", { bins: eff.bins, avg: vals, halfDiff }, { groups });
    }
  });
  const model = builder.build({ storage: o.sparse ? "sparse" : "dense" });
  const signalOrder = model.signals.map((name) => procNames.indexOf(name));
  model.metaJson = {
    ...(model.metaJson ?? {}),
    generator: { name: "fit-gen", options: { ...o }, truth_mu: signalOrder.map((p) => muTrue[p]) },
  };
  return {
    model,
    truth: { mu: signalOrder.map((p) => muTrue[p]), theta: new Map(systNames.map((n, s) => [n, thetaTrue[s]])) },
  };
}

/** A synthetic model (see generateModelWithTruth). */
export function generateModel(options: Partial<GeneratorOptions> = {}): TensorModel {
  return generateModelWithTruth(options).model;
}
