/**
 * `fit-report FITDIR`: rebuilds the HTML report (report.html, report.log) of a fit output folder
 * from its fitresults.json/.hdf5, without refitting; optionally beside a reference fit.
 */
import { existsSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { Command } from "commander";
import { UserError, runCli } from "../errors.js";
import { buildReport } from "../report/buildReport.js";

interface FitReportOptions {
  reference?: string;
  output?: string;
}

async function runReport(fitDir: string, o: FitReportOptions, argv: string[]): Promise<void> {
  if (o.output !== undefined) {
    const out = resolve(o.output);
    if (existsSync(out) && statSync(out).isDirectory()) throw new UserError(`-o ${o.output}: is a folder (give the report's file name)`);
    if (!existsSync(dirname(out))) throw new UserError(`-o ${o.output}: folder ${dirname(out)} does not exist`);
  }
  const built = await buildReport(fitDir, {
    reference: o.reference,
    output: o.output,
    command: ["fit-report", ...argv.slice(2)].join(" "),
  });
  process.stdout.write(`wrote ${built.html} (${(built.bytes / 1e6).toFixed(1)} MB)\n      ${built.log}\n`);
}

export async function main(argv: string[]): Promise<void> {
  await runCli(async () => {
    const program = new Command("fit-report")
      .description("build the interactive HTML report of a fit output folder (fitresults.json/.hdf5) without refitting")
      .argument("<fitdir>", "fit output folder")
      .option("--reference <fitdir>", "a second fit output folder drawn beside this one (pulls, impacts)")
      .option("-o, --output <file>", "report file (default FITDIR/report.html); report.log is written beside it")
      .exitOverride()
      .action(async (fitDir: string, o: FitReportOptions) => runReport(fitDir, o, argv));
    await program.parseAsync(argv);
  });
}
