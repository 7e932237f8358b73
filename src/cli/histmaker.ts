/**
 * `histmaker`: quick looks at event files (inspect, hist) and analysis runs (run, merge, tensor).
 * Each subcommand lives in its own module under src/histmaker/commands/.
 */
import { Command } from "commander";
import { runCli } from "../errors.js";
import { packageVersion } from "../packageInfo.js";
import { registerInspect } from "../histmaker/commands/inspect.js";
import { registerHist } from "../histmaker/commands/hist.js";
import { registerRun } from "../histmaker/commands/run.js";
import { registerMerge } from "../histmaker/commands/merge.js";
import { registerTensor } from "../histmaker/commands/tensor.js";
// rootexport branch: `histmaker export --root`
import { registerExport } from "../histmaker/commands/export.js";
// plot (issue 11 item 5)
import { registerPlot } from "../histmaker/commands/plot.js";

export async function main(argv: string[]): Promise<void> {
  await runCli(async () => {
    const program = new Command("histmaker")
      .description("fill histograms from event files and turn them into fit tensors")
      .version(packageVersion(), "-V, --version", "print the version")
      .exitOverride();
    registerInspect(program);
    registerHist(program);
    registerRun(program);
    registerMerge(program);
    registerTensor(program);
    registerExport(program); // rootexport branch
    registerPlot(program);
    await program.parseAsync(argv);
  });
}
