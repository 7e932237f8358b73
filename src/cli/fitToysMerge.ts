/**
 * `fit-toys-merge -o DIR TOYFILE...`: joins the toys.hdf5 files of one toy set (runs of
 * `fit --toys N --seed S --toy-range A:B`, e.g. array jobs) into DIR/toys.hdf5, the file one run
 * over all their toys writes (rows by toy index, bitwise the same records), and DIR/toys.json with
 * the summary fitresults.json would hold under "toys". A folder stands for its toys.hdf5.
 */
import { existsSync, mkdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { Command } from "commander";
import { UserError, runCli } from "../errors.js";
import { checkOutputs } from "../outputPath.js";
import { packageVersion } from "../packageInfo.js";
import { TOYS_HDF5, mergeToyTables, readToyFile, writeToyFile } from "../../fitter/toys/toyFile.js";
import { summarizeToys } from "../../fitter/toys/toys.js";
import { writeFileAtomic } from "../../fitter/writeResults.js";

export const TOYS_SUMMARY_JSON = "toys.json";

async function runMerge(files: string[], o: { output?: string }): Promise<void> {
  if (!o.output) throw new UserError("-o: the output folder is required");
  const outDir = resolve(o.output);
  const paths = files.map((f) => (existsSync(f) && statSync(f).isDirectory() ? join(f, TOYS_HDF5) : f));
  const target = join(outDir, TOYS_HDF5);
  for (const p of paths) {
    if (resolve(p) === target) throw new UserError(`${p}: is the output file; merge into another folder (inputs are never overwritten)`);
  }
  // before reading anything: the folder and both files must be writable and none of them an input
  checkOutputs([{ path: o.output, kind: "folder", label: "-o", files: [TOYS_HDF5, TOYS_SUMMARY_JSON] }], paths);
  const tables = [];
  for (const p of paths) tables.push({ table: await readToyFile(p), name: p });
  const merged = mergeToyTables(tables);
  mkdirSync(outDir, { recursive: true });
  await writeToyFile(target, merged);
  const summary = summarizeToys(merged, TOYS_HDF5);
  const json = join(outDir, TOYS_SUMMARY_JSON);
  writeFileAtomic(json, `${JSON.stringify({ toys: summary, merged_from: paths.map((p) => resolve(p)) }, null, 1)}\n`);
  process.stdout.write(`merged ${merged.records.length} toys (${summary.failed} failed) from ${paths.length} files\nwrote ${target}\n      ${json}\n`);
}

export async function main(argv: string[]): Promise<void> {
  await runCli(async () => {
    const program = new Command("fit-toys-merge")
      .description("merge toys.hdf5 files of one toy set (fit --toys N --seed S --toy-range A:B) into what one run writes")
      .argument("<files...>", "toys.hdf5 files (or folders holding one)")
      .option("-o, --output <dir>", "output folder for the merged toys.hdf5 and toys.json")
      .version(packageVersion(), "-V, --version", "print the version")
      .exitOverride()
      .action(async (files: string[], o: { output?: string }) => runMerge(files, o));
    await program.parseAsync(argv);
  });
}
