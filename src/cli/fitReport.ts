/**
 * `fit-report FITDIR`: rebuilds the HTML report (report.html, report.log) of a fit output folder
 * from its fitresults.json/.hdf5, without refitting; optionally beside a reference fit.
 */
import { dirname, join, resolve } from "node:path";
import { Command } from "commander";
import { runCli } from "../errors.js";
import { checkOutputs } from "../outputPath.js";
import { packageVersion } from "../packageInfo.js";
import { buildReport } from "../report/buildReport.js";

interface FitReportOptions {
  reference?: string;
  output?: string;
}

async function runReport(fitDir: string, o: FitReportOptions, argv: string[]): Promise<void> {
  // before any work: the report and its log must not land on an input, under a file or on /proc
  const inputs = [join(fitDir, "fitresults.json"), join(fitDir, "fitresults.hdf5")];
  if (o.reference !== undefined) inputs.push(join(o.reference, "fitresults.json"), join(o.reference, "fitresults.hdf5"));
  if (o.output !== undefined) {
    const out = resolve(o.output);
    const log = join(dirname(out), "report.log");
    checkOutputs([
      { path: o.output, kind: "file", label: "-o" },
      { path: log, kind: "file", label: "report log" },
    ], inputs);
  } else {
    checkOutputs([{ path: fitDir, kind: "folder", label: "FITDIR", files: ["report.html", "report.log"] }], inputs);
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
      .version(packageVersion(), "-V, --version", "print the version")
      .exitOverride()
      .action(async (fitDir: string, o: FitReportOptions) => runReport(fitDir, o, argv));
    await program.parseAsync(argv);
  });
}
