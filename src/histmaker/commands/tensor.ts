import { readFileSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { UserError } from "../../errors.js";
import { checkOutputs } from "../../outputPath.js";
import { writeTensor } from "../../tensor/TensorWriter.js";
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
    .action(async (configPath: string, o: { output: string; input?: string[]; allowFailures?: boolean; storage?: string; compression: string }) => {
      const loaded = await loadTensorConfig(configPath);
      const config = o.input ? { ...loaded, inputs: o.input } : loaded;
      if (o.storage !== undefined && o.storage !== "dense" && o.storage !== "sparse") throw new UserError(`--storage: expected dense or sparse, got "${o.storage}"`);
      if (!["gzip", "blosc2", "none"].includes(o.compression)) throw new UserError(`--compression: expected gzip, blosc2 or none, got "${o.compression}"`);
      checkOutputs([{ path: o.output, kind: "file", label: "-o" }], [configPath, ...config.inputs]);
      const outputs = [];
      for (const file of config.inputs) outputs.push({ file, output: await readRunOutput(file) });
      const src = histSource(outputs, o.allowFailures ?? config.allowFailures ?? false);
      const model = buildTensor({ ...config, ...(o.storage ? { storage: o.storage as "dense" | "sparse" } : {}) }, src);
      await writeTensor(o.output, model, {
        compression: o.compression as "gzip" | "blosc2" | "none",
        command: ["histmaker", "tensor", ...process.argv.slice(3)].join(" "),
      });
      process.stdout.write(
        `wrote ${o.output}: ${model.nbins} bins (${model.nbinsFull} with masked), ${model.procs.length} processes (${model.signals.join(", ") || "no signals"}), ${model.systs.length} systematics\n`,
      );
    });
}
