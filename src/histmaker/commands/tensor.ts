import { readFileSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { UserError } from "../../errors.js";
import { checkOutputs } from "../../outputPath.js";
import { describeBin, shortNumber } from "../../tensor/binLabels.js";
import { writeTensor } from "../../tensor/TensorWriter.js";
import type { TensorModel } from "../../tensor/types.js";
import { loadUserModule } from "../loadModule.js";
import { readRunOutput } from "../runOutput.js";
import { buildTensor, histSource, validateTensorConfig, type TensorConfig } from "../tensorConfig.js";

/** Reads a tensor config: .json, or a module (.ts/.mjs/.js) whose default export is the config. */
export async function loadTensorConfig(file: string): Promise<TensorConfig> {
  let raw: unknown;
  if (file.toLowerCase().endsWith(".json")) {
    try {
      raw = JSON.parse(readFileSync(file, "utf8"));
    } catch (err) {
      throw new UserError(`${file}: cannot read JSON config (${(err as Error).message})`);
    }
  } else raw = await loadUserModule(file);
  const config = validateTensorConfig(raw, file);
  const base = path.dirname(path.resolve(file));
  return { ...config, inputs: config.inputs.map((p) => (path.isAbsolute(p) ? p : path.resolve(base, p))) };
}

/** Real bins with observed data > 0 and a total nominal prediction Σ_p norm_bp of 0. */
export function binsWithDataButNoPrediction(model: TensorModel): number[] {
  const nproc = model.procs.length;
  const out: number[] = [];
  for (let b = 0; b < model.nbins; b++) {
    if (!(model.dataObs[b] > 0)) continue;
    let total = 0;
    for (let p = 0; p < nproc; p++) total += model.norm[b * nproc + p];
    if (total === 0) out.push(b);
  }
  return out;
}

/** "N bins have observed data but no prediction: channel … (n = …); …" listing the first few. */
export function describeUnpredictedBins(model: TensorModel, bins: readonly number[], maxListed = 10): string {
  const listed = bins
    .slice(0, maxListed)
    .map((b) => `${describeBin(model.channels, b)} (n = ${shortNumber(model.dataObs[b])})`)
    .join("; ");
  const more = bins.length > maxListed ? `; and ${bins.length - maxListed} more` : "";
  return `${bins.length} bin${bins.length === 1 ? " has" : "s have"} observed data but a total prediction of 0: ${listed}${more}`;
}

export function registerTensor(program: Command): void {
  program
    .command("tensor")
    .description("turn histmaker run outputs into a fit tensor (processes, data, normalisation and tensor-axis systematics)")
    .argument("<config>", "tensor config (.json, or a .ts/.mjs/.js module exporting it)")
    .requiredOption("-o, --output <file>", "output tensor HDF5 file")
    .option("-i, --input <files...>", "run outputs to use instead of the config's inputs")
    .option("--allow-failures", "use run outputs that recorded failed files")
    .option("--storage <kind>", "dense or sparse (default: the config's, else sparse)")
    .option("--compression <kind>", "gzip, blosc2 or none", "gzip")
    .option("--allow-empty-prediction", "write the tensor even when bins have data but no prediction (a fit fails there)")
    .action(async (configPath: string, o: { output: string; input?: string[]; allowFailures?: boolean; storage?: string; compression: string; allowEmptyPrediction?: boolean }) => {
      const loaded = await loadTensorConfig(configPath);
      const config = o.input ? { ...loaded, inputs: o.input } : loaded;
      if (o.storage !== undefined && o.storage !== "dense" && o.storage !== "sparse") throw new UserError(`--storage: expected dense or sparse, got "${o.storage}"`);
      if (!["gzip", "blosc2", "none"].includes(o.compression)) throw new UserError(`--compression: expected gzip, blosc2 or none, got "${o.compression}"`);
      checkOutputs([{ path: o.output, kind: "file", label: "-o" }], [configPath, ...config.inputs]);
      const outputs = [];
      for (const file of config.inputs) outputs.push({ file, output: await readRunOutput(file) });
      const src = histSource(outputs, o.allowFailures ?? config.allowFailures ?? false);
      const model = buildTensor({ ...config, ...(o.storage ? { storage: o.storage as "dense" | "sparse" } : {}) }, src);
      // the likelihood is zero in such a bin for every parameter value: every fit of the tensor would fail
      const unpredicted = binsWithDataButNoPrediction(model);
      if (unpredicted.length > 0) {
        const what = describeUnpredictedBins(model, unpredicted);
        if (!o.allowEmptyPrediction) throw new UserError(`${configPath}: ${what}; no tensor written (--allow-empty-prediction writes it anyway)`);
        process.stderr.write(`warning: ${what}\n`);
      }
      await writeTensor(o.output, model, {
        compression: o.compression as "gzip" | "blosc2" | "none",
        command: ["histmaker", "tensor", ...process.argv.slice(3)].join(" "),
      });
      process.stdout.write(
        `wrote ${o.output}: ${model.nbins} bins (${model.nbinsFull} with masked), ${model.procs.length} processes (${model.signals.join(", ") || "no signals"}), ${model.systs.length} systematics\n`,
      );
    });
}
