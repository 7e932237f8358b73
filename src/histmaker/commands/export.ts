/**
 * `histmaker export RUN.hdf5 --root OUT.root`: a run output's histograms as ROOT TH1D/TH2D/TH3D in
 * one directory per histogram (Combine shape-datacard layout, see export/exportRoot.ts), scaled by
 * σ×L/Σw unless --unscaled.
 */
import type { Command } from "commander";
import { UserError } from "../../errors.js";
import { checkOutputs } from "../../outputPath.js";
import { exportRunToRoot } from "../export/exportRoot.js";
import { readRunOutput } from "../runOutput.js";

interface ExportCliOptions {
  root?: string;
  scaled?: boolean;
  datasets?: string;
  histograms?: string;
  project: string[];
  pairs?: string;
  compression: string;
}

const list = (s: string | undefined): string[] | undefined =>
  s === undefined
    ? undefined
    : s
        .split(",")
        .map((x) => x.trim())
        .filter((x) => x.length > 0);

function parseProject(specs: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const s of specs) {
    const at = s.indexOf("=");
    const axes = list(s.slice(at + 1)) ?? [];
    if (at <= 0 || axes.length === 0) throw new UserError(`--project "${s}": expected HISTOGRAM=axis1[,axis2[,axis3]]`);
    out[s.slice(0, at)] = axes;
  }
  return out;
}

export function registerExport(program: Command): void {
  program
    .command("export")
    .description("write the histograms of a `histmaker run` output as ROOT TH1D/TH2D/TH3D (Combine shape layout)")
    .argument("<run>", "run output (HDF5) of histmaker run or merge")
    .option("--root <file>", "output ROOT file: <histogram>/<dataset>, variations <dataset>_<tensor><i>[Up|Down]")
    .option("--scaled", "multiply by each dataset's σ×L/Σw scale (default)")
    .option("--unscaled", "write the stored (unscaled) sums of weights")
    .option("--datasets <names>", "comma-separated datasets (default: all)")
    .option("--histograms <names>", "comma-separated histograms (default: all)")
    .option("--project <hist=axes>", "project a histogram onto up to 3 axes first, e.g. pdf=eta,pt (repeatable)", (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option("--pairs <names>", "histograms whose tensor entries (2i, 2i+1) are up/down pairs: written as <dataset>_<tensor><i>Up/Down ('*' = all)")
    .option("--compression <level>", "zlib level 1-9, 0 = uncompressed", "1")
    .action(async (input: string, o: ExportCliOptions & { unscaled?: boolean }) => {
      if (!o.root) throw new UserError("export: give the output with --root OUT.root");
      if (o.scaled && o.unscaled) throw new UserError("export: --scaled and --unscaled exclude each other");
      const level = Number(o.compression);
      if (!Number.isInteger(level) || level < 0 || level > 9) throw new UserError(`--compression: expected an integer 0-9, got "${o.compression}"`);
      const project = parseProject(o.project);
      checkOutputs([{ path: o.root, kind: "file", label: "--root" }], [input]);
      const run = await readRunOutput(input);
      const written = exportRunToRoot(run, input, o.root, {
        scaled: !o.unscaled,
        datasets: list(o.datasets),
        histograms: list(o.histograms),
        project,
        pairs: list(o.pairs),
        compression: level,
      });
      const lumi = run.info.luminosityPb;
      process.stdout.write(
        `wrote ${written.length} histograms to ${o.root} (${o.unscaled ? "unscaled" : lumi !== null ? `scaled to ${lumi.toPrecision(6)} /pb` : "scaled by the run's scales"})\n`,
      );
    });
}
