/**
 * `histmaker hist FILE.root --var BRANCH --bins N --range LO,HI -o OUT.hdf5`: a one-variable
 * histogram of a branch, like a quick TTree::Draw. Jagged branches fill every element; --weight
 * takes a per-event branch (repeated for each element) or a jagged one matching --var element by
 * element. Written with saveHists (the histmaker HDF5 layout, atomically).
 */
import type { Command } from "commander";
import { UserError } from "../../errors.js";
import { checkOutputs } from "../../outputPath.js";
import { regular } from "../axes.js";
import { isJagged, type Column, type NumericArray } from "../events.js";
import { Hist } from "../Hist.js";
import { saveHists } from "../histIO.js";
import { RootFile } from "../root/RootFile.js";

interface HistCliOptions {
  tree?: string;
  var: string;
  bins: string;
  range: string;
  output: string;
  weight?: string;
  name?: string;
  chunk: string;
}

export interface QuickHistSpec {
  file: string;
  tree?: string;
  variable: string;
  bins: number;
  lower: number;
  upper: number;
  weight?: string;
  chunkEntries?: number;
}

/** `LO,HI` with finite LO < HI. */
export function parseRange(text: string): [number, number] {
  const parts = text.split(",").map((s) => s.trim());
  const nums = parts.map((s) => (s === "" ? Number.NaN : Number(s)));
  if (parts.length !== 2 || !nums.every(Number.isFinite) || !(nums[1] > nums[0])) {
    throw new UserError(`--range: expected LO,HI with finite numbers LO < HI, got "${text}"`);
  }
  return [nums[0], nums[1]];
}

function positiveInt(text: string, option: string): number {
  const v = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isInteger(v) || v < 1) throw new UserError(`${option}: expected an integer >= 1, got "${text}"`);
  return v;
}

function toFloat64(a: NumericArray): Float64Array {
  if (a instanceof Float64Array) return a;
  return Float64Array.from(a as ArrayLike<number | bigint>, Number);
}

/** The values to fill and their weights (or null) for one chunk. */
function fillArrays(v: Column, w: Column | undefined, variable: string, weight: string | undefined, file: string): { values: NumericArray; weights: Float64Array | null } {
  if (!isJagged(v)) {
    if (w !== undefined && isJagged(w)) throw new UserError(`${file}: --weight ${weight} is jagged but --var ${variable} has one value per event`);
    return { values: v, weights: w === undefined ? null : toFloat64(w) };
  }
  const values = v.values.subarray(v.offsets[0], v.offsets[v.offsets.length - 1]) as NumericArray;
  if (w === undefined) return { values, weights: null };
  const weights = new Float64Array(values.length);
  if (isJagged(w)) {
    for (let i = 0; i + 1 < v.offsets.length; i++) {
      if (w.offsets[i + 1] - w.offsets[i] !== v.offsets[i + 1] - v.offsets[i]) {
        throw new UserError(`${file}: --weight ${weight} and --var ${variable} have different numbers of elements in an event`);
      }
    }
    const ws = w.values;
    for (let k = 0; k < weights.length; k++) weights[k] = Number(ws[w.offsets[0] + k]);
    return { values, weights };
  }
  // one weight per event, repeated for each of its elements
  for (let i = 0; i + 1 < v.offsets.length; i++) {
    const wi = Number(w[i]);
    for (let k = v.offsets[i]; k < v.offsets[i + 1]; k++) weights[k - v.offsets[0]] = wi;
  }
  return { values, weights };
}

/** Fills the histogram of one branch; returns it with the number of entries (events) read. */
export async function quickHist(spec: QuickHistSpec): Promise<{ hist: Hist; tree: string; events: number; fills: number }> {
  const file = await RootFile.open(spec.file);
  try {
    const trees = file.trees();
    let treeName = spec.tree;
    if (treeName === undefined) {
      if (trees.length !== 1) {
        throw new UserError(`${spec.file}: has ${trees.length} trees (${trees.map((t) => t.name).join(", ") || "none"}); choose one with --tree`);
      }
      treeName = trees[0].name;
    }
    const tree = file.tree(treeName);
    const branches = [spec.variable, ...(spec.weight !== undefined && spec.weight !== spec.variable ? [spec.weight] : [])];
    const known = new Map(tree.branches().map((b) => [b.name, b]));
    for (const b of branches) {
      const info = known.get(b);
      if (!info) throw new UserError(`${spec.file}: tree '${treeName}' has no branch '${b}'`);
      if (info.type === "string" || info.type.endsWith("(unsupported)")) throw new UserError(`${spec.file}: branch '${b}' is of type ${info.type}, not numbers`);
    }
    const axis = regular(spec.bins, spec.lower, spec.upper, { name: spec.variable, label: known.get(spec.variable)?.title ?? spec.variable });
    const hist = new Hist([axis], { storage: spec.weight !== undefined ? "weighted" : "double" });
    let events = 0;
    let fills = 0;
    for await (const chunk of tree.iterate({ branches, chunkEntries: spec.chunkEntries })) {
      const { values, weights } = fillArrays(chunk.columns[spec.variable], spec.weight !== undefined ? chunk.columns[spec.weight] : undefined, spec.variable, spec.weight, spec.file);
      if (values.length > 0) await hist.fill({ [spec.variable]: values }, weights ? { weight: weights } : {});
      events += chunk.length;
      fills += values.length;
    }
    return { hist, tree: treeName, events, fills };
  } finally {
    file.close();
  }
}

export function registerHist(program: Command): void {
  program
    .command("hist")
    .description("histogram one branch of a TTree into HDF5 (a quick TTree::Draw)")
    .argument("<file>", "ROOT file")
    .requiredOption("--var <branch>", "branch to histogram (jagged branches fill every element)")
    .requiredOption("--bins <n>", "number of equal bins")
    .requiredOption("--range <lo,hi>", "axis range, e.g. 0,100 (use --range=-5,5 for a negative low edge)")
    .requiredOption("-o, --output <file>", "output HDF5 file")
    .option("--tree <name>", "tree to read (default: the file's only tree)")
    .option("--weight <branch>", "weight branch (per event, or jagged like --var)")
    .option("--name <name>", "histogram name in the output (default: the branch name)")
    .option("--chunk <entries>", "entries read per chunk", "100000")
    .action(async (path: string, opts: HistCliOptions) => {
      const bins = positiveInt(opts.bins, "--bins");
      const [lower, upper] = parseRange(opts.range);
      const chunkEntries = positiveInt(opts.chunk, "--chunk");
      const name = opts.name ?? opts.var;
      checkOutputs([{ path: opts.output, kind: "file", label: "-o" }], [path]);
      const { hist, tree, events, fills } = await quickHist({ file: path, tree: opts.tree, variable: opts.var, bins, lower, upper, weight: opts.weight, chunkEntries });
      await saveHists(opts.output, { [name]: hist });
      const flow = hist.values({ flow: true });
      const inRange = hist.sum();
      process.stdout.write(
        `${opts.output}: histogram '${name}' of ${tree}/${opts.var}, ${bins} bins in [${lower}, ${upper}); ` +
          `${events} events, ${fills} values; sum in range ${inRange}, underflow ${flow[0]}, overflow ${flow[flow.length - 1]}\n`,
      );
    });
}
