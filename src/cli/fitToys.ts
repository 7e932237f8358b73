/**
 * The `fit` options for toys and refit impacts (fitter/toys/toys.ts, fitter/refitImpacts.ts): their
 * definitions, their checks (before anything is read or fitted) and the stage that runs them after
 * the fit to the data, adding "toys" / "refit_impacts" to the results.
 */
import { availableParallelism } from "node:os";
import type { Command } from "commander";
import { UserError } from "../errors.js";
import type { TensorModel } from "../tensor/types.js";
import { runRefitImpacts } from "../../fitter/refitImpacts.js";
import type { FitResult } from "../../fitter/results.js";
import type { RefitEngineOptions } from "../../fitter/toys/refitEngine.js";
import { TOY_DATA, TOY_FROM, TOY_SYST, type ToyDataMode, type ToyFrom, type ToySyst } from "../../fitter/toys/toyGeneration.js";
import { runToys } from "../../fitter/toys/toys.js";
import { writeSubmitFiles, type SubmitSystem } from "./toySubmit.js";

export interface ToyCliOptions {
  toys?: string;
  seed?: string;
  toysSyst?: string;
  toysData?: string;
  toysFrom?: string;
  toysAllParams?: boolean;
  toyRange?: string;
  workers?: string;
  toyThreads?: string;
  resume?: boolean;
  refitImpacts?: boolean | string;
  submit?: string;
  toysPerJob?: string;
}

export interface ToyPlan {
  toys: {
    n: number;
    seed: number;
    syst: ToySyst;
    data: ToyDataMode;
    from: ToyFrom;
    first: number;
    end: number;
    allParams: boolean;
    resume: boolean;
  } | null;
  refitImpacts: { selector: string | undefined } | null;
  workers: number;
  toyThreads: number;
  submit: { system: SubmitSystem; perJob: number } | null;
}

/** Combine's default toy seed */
const DEFAULT_SEED = 123456;

export function addToyOptions(program: Command): Command {
  return program
    .option("--toys <n>", "fit N pseudo-experiments (toys.hdf5, fitresults.json \"toys\")")
    .option("--seed <s>", `seed of the toys (default ${DEFAULT_SEED}); toy i always draws from the stream (seed, i)`)
    .option("--toys-syst <mode>", "frequentist (randomise the global observables θ0, default), bayesian (draw θ from its prior) or none")
    .option("--toys-data <mode>", "poisson (default) or asimov (the expected yields of the generation point)")
    .option("--toys-from <point>", "generate at the prefit point (default) or at the best fit to the data (postfit)")
    .option("--toys-all-params", "keep every parameter per toy (errors from the dense covariance), not only POIs and NOIs")
    .option("--toy-range <A:B>", "fit toys A..B-1 of the set (split a set over jobs; merge with fit-toys-merge)")
    .option("--workers <n>", "parallel toy/refit workers (default: all cores; each with --toy-threads evaluator threads)")
    .option("--toy-threads <n>", "evaluator threads per toy/refit worker (default 1; results are bitwise the same for any --workers)")
    .option("--resume", "continue an interrupted toy run from its checkpoint in the output folder")
    .option("--refit-impacts [regex]", "refit impacts: hold each nuisance (matching regex, default all) at θ̂ ∓ σ̂ and refit (fitresults.json \"refit_impacts\")")
    .option("--submit <system>", "write HTCondor (condor) or Slurm (slurm) array-job files for --toys over --toys-per-job ranges, and stop")
    .option("--toys-per-job <k>", "toys per array job with --submit (default 100)");
}

function intOption(name: string, text: string | undefined, min: number): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (!/^\s*-?\d+\s*$/.test(text) || !Number.isSafeInteger(v) || v < min) {
    throw new UserError(`${name}: must be an integer >= ${min}, got "${text}"`);
  }
  return v;
}

function choice<T extends string>(name: string, text: string | undefined, allowed: readonly T[], dflt: T): T {
  if (text === undefined) return dflt;
  if (!(allowed as readonly string[]).includes(text)) throw new UserError(`${name}: must be one of ${allowed.join(", ")}, got "${text}"`);
  return text as T;
}

/** Checks the toy options; null when none of them asks for anything. */
export function planToys(o: ToyCliOptions): ToyPlan | null {
  const n = intOption("--toys", o.toys, 1);
  const toyOnly: [string, unknown][] = [
    ["--seed", o.seed],
    ["--toys-syst", o.toysSyst],
    ["--toys-data", o.toysData],
    ["--toys-from", o.toysFrom],
    ["--toys-all-params", o.toysAllParams],
    ["--toy-range", o.toyRange],
    ["--resume", o.resume],
    ["--submit", o.submit],
    ["--toys-per-job", o.toysPerJob],
  ];
  if (n === undefined) {
    const stray = toyOnly.find(([, v]) => v !== undefined && v !== false);
    if (stray) throw new UserError(`${stray[0]}: needs --toys N`);
  }
  const seed = intOption("--seed", o.seed, 0) ?? DEFAULT_SEED;
  if (seed > 0xffffffff) throw new UserError(`--seed: must be below 2^32, got ${seed}`);
  const workers = intOption("--workers", o.workers, 1) ?? availableParallelism();
  const toyThreads = intOption("--toy-threads", o.toyThreads, 1) ?? 1;
  let first = 0;
  let end = n ?? 0;
  if (o.toyRange !== undefined && n !== undefined) {
    const m = /^\s*(\d+)\s*:\s*(\d+)\s*$/.exec(o.toyRange);
    if (!m) throw new UserError(`--toy-range: expected A:B, got "${o.toyRange}"`);
    first = Number(m[1]);
    end = Number(m[2]);
    if (!(first < end && end <= n)) throw new UserError(`--toy-range ${o.toyRange}: need 0 <= A < B <= --toys (${n})`);
  }
  const submitSystem = o.submit === undefined ? undefined : choice<SubmitSystem>("--submit", o.submit, ["condor", "slurm"], "condor");
  const perJob = intOption("--toys-per-job", o.toysPerJob, 1);
  if (perJob !== undefined && submitSystem === undefined) throw new UserError("--toys-per-job: needs --submit");
  const toys =
    n === undefined
      ? null
      : {
          n,
          seed,
          syst: choice("--toys-syst", o.toysSyst, TOY_SYST, "frequentist"),
          data: choice("--toys-data", o.toysData, TOY_DATA, "poisson"),
          from: choice("--toys-from", o.toysFrom, TOY_FROM, "prefit"),
          first,
          end,
          allParams: o.toysAllParams === true,
          resume: o.resume === true,
        };
  const refitImpacts = o.refitImpacts === undefined || o.refitImpacts === false ? null : { selector: o.refitImpacts === true ? undefined : o.refitImpacts };
  if (refitImpacts?.selector !== undefined) {
    try {
      new RegExp(refitImpacts.selector);
    } catch (err) {
      throw new UserError(`--refit-impacts ${refitImpacts.selector}: not a regular expression (${err instanceof Error ? err.message : String(err)})`);
    }
  }
  if (!toys && !refitImpacts) {
    if (o.workers !== undefined) throw new UserError("--workers: needs --toys or --refit-impacts");
    if (o.toyThreads !== undefined) throw new UserError("--toy-threads: needs --toys or --refit-impacts");
    return null;
  }
  return {
    toys,
    refitImpacts,
    workers,
    toyThreads,
    submit: submitSystem ? { system: submitSystem, perJob: perJob ?? 100 } : null,
  };
}

/** --submit: writes the array-job files and returns their paths (no fit is run). */
export function writeToySubmit(plan: ToyPlan, outDir: string, argv: string[]): string[] {
  if (!plan.submit || !plan.toys) return [];
  return writeSubmitFiles({
    system: plan.submit.system,
    outDir,
    ntoys: plan.toys.n,
    perJob: plan.submit.perJob,
    argv: argv.slice(2),
    cwd: process.cwd(),
  });
}

export interface ToyStageInput {
  plan: ToyPlan;
  input: string;
  model: TensorModel;
  inputSha256: string;
  result: FitResult;
  engine: Omit<RefitEngineOptions, "data" | "threads">;
  freeze?: string;
  expectSignal: number;
  outDir: string;
  log: (line: string) => void;
  signal?: AbortSignal;
  /** the fit's --threads: the one dense Hessian of the toys' preconditioner */
  threads?: number;
}

/**
 * Runs refit impacts and toys after the fit to the data and puts their results into `result`.
 * Returns false when the toys were interrupted (the checkpoint is kept, nothing else written).
 */
export async function runToyStages(s: ToyStageInput): Promise<boolean> {
  const engine = { ...s.engine, threads: s.plan.toyThreads };
  if (s.plan.refitImpacts) {
    s.result.refitImpacts = await runRefitImpacts({
      input: s.input,
      model: s.model,
      nominal: s.result,
      engine,
      selector: s.plan.refitImpacts.selector,
      workers: s.plan.workers,
      log: s.log,
    });
    s.result.timing.refit_impacts_s = s.result.refitImpacts.seconds;
  }
  const t = s.plan.toys;
  if (t) {
    const run = await runToys({
      input: s.input,
      model: s.model,
      inputSha256: s.inputSha256,
      nominal: s.result,
      engine,
      freeze: s.freeze,
      expectSignal: s.expectSignal,
      seed: t.seed,
      syst: t.syst,
      data: t.data,
      from: t.from,
      first: t.first,
      end: t.end,
      allParams: t.allParams,
      workers: s.plan.workers,
      outDir: s.outDir,
      resume: t.resume,
      signal: s.signal,
      log: s.log,
      hessianThreads: s.threads,
    });
    if (!run.complete) return false;
    s.result.toys = run.summary;
    s.result.timing.toys_s = run.seconds;
  }
  return true;
}
