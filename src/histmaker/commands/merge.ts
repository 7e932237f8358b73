import type { Command } from "commander";
import { UserError } from "../../errors.js";
import { checkOutputs } from "../../outputPath.js";
import { cutflowMatrices, cutflowMatrixTable, cutflowTable } from "../cutflow.js";
import { Cutflow } from "../cutflow.js";
import { mergeRunOutputs, readRunOutput, writeRunOutput } from "../runOutput.js";

export function registerMerge(program: Command): void {
  program
    .command("merge")
    .description("add the outputs of `histmaker run` shards (histograms, cutflows, luminosity) into one file")
    .argument("<inputs...>", "run outputs to add")
    .requiredOption("-o, --output <file>", "merged output HDF5 file")
    .action(async (inputs: string[], o: { output: string }) => {
      if (inputs.length === 0) throw new UserError("merge: give at least one input file");
      checkOutputs([{ path: o.output, kind: "file", label: "-o" }], inputs);
      const loaded = [];
      for (const file of inputs) loaded.push({ file, output: await readRunOutput(file) });
      const merged = mergeRunOutputs(loaded, {
        command: ["histmaker", "merge", ...process.argv.slice(3)].join(" "),
        time: new Date().toISOString(),
        mergedFrom: inputs,
      });
      await writeRunOutput(o.output, merged);
      const info = merged.info;
      const flows = Object.fromEntries(Object.entries(info.cutflows).map(([k, c]) => [k, Cutflow.fromJSON(c)]));
      const regionFlows = Object.fromEntries(
        Object.entries(info.regionCutflows ?? {}).map(([ds, rs]) => [ds, Object.fromEntries(Object.entries(rs).map(([r, c]) => [r, Cutflow.fromJSON(c)]))]),
      );
      process.stdout.write(cutflowTable(flows, info.scales));
      process.stdout.write(cutflowMatrixTable(cutflowMatrices(flows, info.scales, regionFlows)));
      if (info.failures.length > 0) process.stdout.write(`${info.failures.length} failed files recorded in the inputs are kept in ${o.output}\n`);
      process.stdout.write(
        (info.luminosityPb !== null ? `simulation scaled to ${info.luminosityPb.toPrecision(6)} /pb\n` : "simulation unscaled: no luminosity\n") +
          `merged ${inputs.length} files into ${o.output}\n`,
      );
    });
}
