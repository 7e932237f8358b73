/**
 * `fit-gen`: writes a synthetic fit tensor (the structure of ../shared/reference/tensor_model.py, or
 * with --preset wmass one of the size of the CMS W-mass fit) and prints its size and timings.
 */
import { statSync } from "node:fs";
import { Command, InvalidArgumentError, Option } from "commander";
import { runCli, UserError } from "../errors.js";
import { checkOutputs } from "../outputPath.js";
import { packageVersion } from "../packageInfo.js";
import { DEFAULT_GENERATOR_OPTIONS, generateModelWithTruth, type GeneratorOptions } from "../tensor/modelGenerator.js";
import { writeTensor } from "../tensor/TensorWriter.js";
import type { TensorModel } from "../tensor/types.js";
import { DEFAULT_WMASS_OPTIONS, generateWmassModel, type WmassOptions } from "../tensor/wmassPreset.js";

export type Compression = "gzip" | "blosc2" | "none";

export interface FitGenArgs {
  output: string;
  preset: "wmass" | null;
  generator: GeneratorOptions;
  wmass: WmassOptions;
  storage: "dense" | "sparse";
  /** null: the writer's default */
  compression: Compression | null;
  /** norm and log κ stored as float32 (rabbit's dtype float32) instead of float64 */
  float32: boolean;
  /** the command line, recorded in the file's meta_info */
  command: string;
}

export interface FitGenSummary {
  output: string;
  nbins: number;
  nbinsFull: number;
  nprocs: number;
  nsignals: number;
  nsysts: number;
  nnoi: number;
  logkNonZeros: number;
  symmetric: boolean;
  storage: "dense" | "sparse";
  float32: boolean;
  fileBytes: number;
  generateSeconds: number;
  writeSeconds: number;
}

function intArg(name: string, min: number): (value: string) => number {
  return (value) => {
    const v = Number(value);
    if (!/^[+-]?\d+$/.test(value.trim()) || !Number.isSafeInteger(v) || v < min) {
      throw new InvalidArgumentError(`--${name} needs an integer ≥ ${min}.`);
    }
    return v;
  };
}

function positiveArg(name: string): (value: string) => number {
  return (value) => {
    const v = Number(value);
    if (value.trim() === "" || !Number.isFinite(v) || v <= 0) throw new InvalidArgumentError(`--${name} needs a positive number.`);
    return v;
  };
}

function fractionArg(name: string): (value: string) => number {
  return (value) => {
    const v = Number(value);
    if (value.trim() === "" || !(v >= 0 && v <= 1)) throw new InvalidArgumentError(`--${name} needs a fraction in [0, 1].`);
    return v;
  };
}

/** Options of the generic generator that have no meaning for --preset wmass. */
const GENERIC_ONLY = ["bins", "procs", "signals", "systs", "asym", "bbb", "pairs", "local", "mcstat"] as const;

function makeProgram(): Command {
  const d = DEFAULT_GENERATOR_OPTIONS;
  return new Command("fit-gen")
    .description("Write a synthetic fit tensor (rabbit HDF5 layout) and print its size and timings.")
    .version(packageVersion(), "-V, --version", "print the version")
    .exitOverride()
    .allowExcessArguments(false)
    .requiredOption("-o, --output <file>", "output HDF5 file")
    .addOption(new Option("--preset <name>", "a preset model instead of the generic one").choices(["wmass"]))
    .option("--bins <n>", `number of bins (default ${d.bins})`, intArg("bins", 1))
    .option("--procs <n>", `number of processes (default ${d.procs})`, intArg("procs", 1))
    .option("--signals <n>", `number of signal processes (default ${d.signals})`, intArg("signals", 0))
    .option("--systs <n>", `number of nuisance parameters (default ${d.systs})`, intArg("systs", 0))
    .option("--events <x>", `mean expected events per bin (default ${d.events}; wmass ${DEFAULT_WMASS_OPTIONS.events})`, positiveArg("events"))
    .option("--seed <k>", `random seed (default ${d.seed})`, intArg("seed", 0))
    .option("--asym", "asymmetric systematics (log κ half-differences)")
    .option("--bbb", "MC statistical uncertainties (sumw2) for Barlow-Beeston")
    .option("--mcstat <x>", `MC events per expected event with --bbb (default ${d.mcstat})`, positiveArg("mcstat"))
    .option("--pairs", "near-degenerate pairs of systematics")
    .option("--local <f>", `fraction of local systematics (default ${d.local})`, fractionArg("local"))
    .option("--sparse", "store norm and log κ sparse (default for --preset wmass)")
    .option("--dense", "store norm and log κ dense (default for the generic model)")
    .addOption(new Option("--compression <c>", "dataset compression").choices(["gzip", "blosc2", "none"]))
    .option("--float32", "store norm and log κ as float32 (as rabbit's TensorWriter with dtype float32)");
}

/** Parses `fit-gen` arguments (argv as process.argv: node, script, args...). */
export function parseFitGenArgs(argv: string[]): FitGenArgs {
  const program = makeProgram();
  program.parse(argv, { from: "node" });
  const opts = program.opts<Record<string, unknown>>();
  const given = (name: string): boolean => program.getOptionValueSource(name) === "cli";
  if (opts.sparse && opts.dense) throw new UserError("options --sparse and --dense exclude each other");
  const preset = (opts.preset as "wmass" | undefined) ?? null;
  if (preset === "wmass") {
    const bad = GENERIC_ONLY.filter(given);
    if (bad.length > 0) throw new UserError(`option --${bad[0]} does not apply to --preset wmass`);
  }
  const pick = <T>(name: string, fallback: T): T => (given(name) ? (opts[name] as T) : fallback);
  const generator: GeneratorOptions = {
    bins: pick("bins", DEFAULT_GENERATOR_OPTIONS.bins),
    procs: pick("procs", DEFAULT_GENERATOR_OPTIONS.procs),
    signals: pick("signals", DEFAULT_GENERATOR_OPTIONS.signals),
    systs: pick("systs", DEFAULT_GENERATOR_OPTIONS.systs),
    events: pick("events", DEFAULT_GENERATOR_OPTIONS.events),
    seed: pick("seed", DEFAULT_GENERATOR_OPTIONS.seed),
    sparse: Boolean(opts.sparse),
    asym: Boolean(opts.asym),
    bbb: Boolean(opts.bbb),
    mcstat: pick("mcstat", DEFAULT_GENERATOR_OPTIONS.mcstat),
    pairs: Boolean(opts.pairs),
    local: pick("local", DEFAULT_GENERATOR_OPTIONS.local),
  };
  if (preset === null && generator.signals > generator.procs) {
    throw new UserError(`option --signals: ${generator.signals} signals but only ${generator.procs} processes`);
  }
  const wmass: WmassOptions = {
    seed: pick("seed", DEFAULT_WMASS_OPTIONS.seed),
    events: pick("events", DEFAULT_WMASS_OPTIONS.events),
    dense: Boolean(opts.dense),
  };
  const storage = preset === "wmass" ? (opts.dense ? "dense" : "sparse") : opts.sparse ? "sparse" : "dense";
  return {
    output: opts.output as string,
    preset,
    generator,
    wmass,
    storage,
    compression: (opts.compression as Compression | undefined) ?? null,
    float32: Boolean(opts.float32),
    command: ["fit-gen", ...argv.slice(2)].join(" "),
  };
}

/** Generates and writes the model; returns what was written. */
export async function runFitGen(args: FitGenArgs): Promise<FitGenSummary> {
  // before generating anything: a bad -o costs nothing
  checkOutputs([{ path: args.output, kind: "file", label: "-o" }]);
  const t0 = performance.now();
  const model: TensorModel =
    args.preset === "wmass" ? generateWmassModel(args.wmass).model : generateModelWithTruth(args.generator).model;
  model.storage = args.storage;
  const t1 = performance.now();
  await writeTensor(args.output, model, {
    storage: args.storage,
    ...(args.compression ? { compression: args.compression } : {}),
    ...(args.float32 ? { float32: true } : {}),
    command: args.command,
  });
  const t2 = performance.now();
  return {
    output: args.output,
    nbins: model.nbins,
    nbinsFull: model.nbinsFull,
    nprocs: model.procs.length,
    nsignals: model.signals.length,
    nsysts: model.systs.length,
    nnoi: model.noiIndices.length,
    logkNonZeros: model.logk.values.length,
    symmetric: model.symmetric,
    storage: args.storage,
    float32: args.float32,
    fileBytes: statSync(args.output).size,
    generateSeconds: (t1 - t0) / 1000,
    writeSeconds: (t2 - t1) / 1000,
  };
}

/** One readable block describing what fit-gen wrote. */
export function formatSummary(s: FitGenSummary, compression: Compression | null): string {
  const mb = (s.fileBytes / 1e6).toFixed(s.fileBytes < 1e7 ? 2 : 1);
  return [
    `fit-gen: wrote ${s.output}`,
    `  bins ${s.nbins}${s.nbinsFull > s.nbins ? ` (+${s.nbinsFull - s.nbins} masked)` : ""}, ` +
      `procs ${s.nprocs} (${s.nsignals} signal), systs ${s.nsysts}${s.nnoi ? ` (${s.nnoi} NOI)` : ""}`,
    `  log κ non-zeros ${s.logkNonZeros} (${s.symmetric ? "symmetric" : "asymmetric"}), storage ${s.storage}` +
      (s.float32 ? " float32" : "") +
      (compression ? `, compression ${compression}` : ""),
    `  file size ${mb} MB; generate ${s.generateSeconds.toFixed(2)} s, write ${s.writeSeconds.toFixed(2)} s, ` +
      `total ${(s.generateSeconds + s.writeSeconds).toFixed(2)} s`,
  ].join("\n");
}

export async function main(argv: string[]): Promise<void> {
  await runCli(async () => {
    const args = parseFitGenArgs(argv);
    const summary = await runFitGen(args);
    process.stdout.write(formatSummary(summary, args.compression) + "\n");
  });
}
