import path from "node:path";
import type { Command } from "commander";
import { UserError } from "../../errors.js";
import { checkOutputs } from "../../outputPath.js";
import { renderPlotPage, writeAtomic } from "../plot/page.js";
import { buildPlotPayload } from "../plot/payload.js";
import { parseGroupOption, readProcessesFile, resolveGrouping, type GroupSpec } from "../plot/processes.js";
import { readRunOutput } from "../runOutput.js";

export interface PlotOptions {
  output?: string;
  histograms?: string;
  processes?: string;
  group?: string[];
  log?: boolean;
  unscaled?: boolean;
}

/** RUN.hdf5 → RUN.html beside it. */
export function defaultPlotOutput(run: string): string {
  const ext = path.extname(run);
  return `${ext ? run.slice(0, -ext.length) : run}.html`;
}

export function parseHistogramRegex(text: string): RegExp {
  try {
    return new RegExp(text);
  } catch (err) {
    throw new UserError(`--histograms "${text}": not a regular expression (${(err as Error).message})`);
  }
}

export function registerPlot(program: Command): void {
  program
    .command("plot")
    .description("one self-contained HTML page of a run: stacked MC by process, data, MC stat. band, data/MC ratio, cutflows")
    .argument("<run>", "output of `histmaker run` or `histmaker merge`")
    .option("-o, --output <file>", "HTML page to write (default: RUN with .html)")
    .option("--histograms <regex>", "only histograms whose name matches")
    .option("--processes <config>", "group datasets into processes: a JSON file {processes: {name: {datasets, color}}, data?} (a `histmaker tensor` config works)")
    .option("--group <name=ds1,ds2>", "a process made of datasets (repeatable; instead of --processes)", (v: string, acc: string[] = []) => [...acc, v])
    .option("--log", "open with a logarithmic y axis (the page has a toggle)")
    .option("--unscaled", "plot the stored weighted sums, without the σ × L / Σw scale of simulation")
    .action(async (run: string, o: PlotOptions) => {
      if (o.processes !== undefined && o.group !== undefined) throw new UserError("--processes and --group: give one of them");
      const output = o.output ?? defaultPlotOutput(run);
      const regex = o.histograms !== undefined ? parseHistogramRegex(o.histograms) : undefined;
      checkOutputs([{ path: output, kind: "file", label: "-o" }], o.processes !== undefined ? [run, o.processes] : [run]);
      let groups: GroupSpec[] | null = null;
      let data: string[] | null = null;
      let where = "--group";
      if (o.processes !== undefined) {
        ({ groups, data } = readProcessesFile(o.processes));
        where = o.processes;
      } else if (o.group !== undefined) groups = o.group.map(parseGroupOption);
      const out = await readRunOutput(run);
      const grouping = resolveGrouping(Object.values(out.info.datasets), groups, data, where);
      if (groups !== null && grouping.ungrouped.length > 0)
        process.stderr.write(`note: ${grouping.ungrouped.join(", ")} in no process of ${where}: each plotted as its own process\n`);
      const unplotted = Object.values(out.info.datasets).filter((d) => d.kind === "data" && !grouping.data.includes(d.name));
      if (unplotted.length > 0) process.stderr.write(`note: data ${unplotted.map((d) => d.name).join(", ")} not in the "data" list of ${where}: not plotted\n`);
      const payload = buildPlotPayload(out, {
        input: path.basename(run),
        command: ["histmaker", "plot", ...process.argv.slice(3)].join(" "),
        grouping,
        ...(regex ? { histograms: regex } : {}),
        unscaled: o.unscaled ?? false,
        log: o.log ?? false,
      });
      if (payload.skipped.length > 0) process.stderr.write(`note: ${payload.skipped.join(", ")} only in data datasets that are not plotted: left out\n`);
      if (payload.histograms.length === 0) throw new UserError(`${run}: none of the matching histograms is in a plotted dataset`);
      const page = renderPlotPage(payload);
      writeAtomic(path.resolve(output), page);
      const cut = payload.histograms.filter((h) => h.tensor !== null && h.variations === 1 && h.tensor.size > 1).map((h) => h.name);
      if (cut.length > 0) process.stdout.write(`variations of ${cut.join(", ")} left out (too large for one page): nominal index 0 shown\n`);
      process.stdout.write(
        `wrote ${output}: ${payload.histograms.length} histograms, ${payload.processes.length} processes, data: ${payload.data.join(", ") || "none"}, ${(Buffer.byteLength(page) / 1e6).toFixed(1)} MB\n`,
      );
    });
}
