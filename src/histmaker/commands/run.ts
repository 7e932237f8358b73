import { renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { UserError } from "../../errors.js";
import { checkOutputs } from "../../outputPath.js";
import { AnalysisError, validateAnalysis } from "../analysis.js";
import { cutflowCsv, cutflowHtml, cutflowMatrices, cutflowMatrixTable, cutflowTable } from "../cutflow.js";
import { loadUserModule } from "../loadModule.js";
import { planFiles, runAnalysis, type Shard } from "../runner.js";
import { toRunInfo, writeRunOutput } from "../runOutput.js";

interface RunCliOptions {
  output: string;
  threads: string;
  maxFiles?: string;
  shard?: string;
  retries: string;
  allowFailures?: boolean;
  progress: boolean;
  cutflow?: string;
  jobs: string;
}

/** Parses `i/N` (0 ≤ i < N). */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : Number.NaN;
  const count = m ? Number(m[2]) : Number.NaN;
  if (!m || !(count >= 1) || !(index < count)) throw new UserError(`--shard: expected i/N with 0 <= i < N, got "${text}"`);
  return { index, count };
}

function positiveInt(text: string, option: string, min = 1): number {
  const v = Number(text);
  if (!Number.isInteger(v) || v < min) throw new UserError(`${option}: expected an integer >= ${min}, got "${text}"`);
  return v;
}

/** `<out without .hdf5/.h5>.cutflow.csv` */
export function cutflowPathFor(output: string): string {
  const ext = path.extname(output);
  return (ext === ".hdf5" || ext === ".h5" ? output.slice(0, -ext.length) : output) + ".cutflow.csv";
}

/** The HTML cutflow beside the CSV: `<csv without .csv>.html`. */
export function cutflowHtmlPathFor(csvPath: string): string {
  return (csvPath.endsWith(".csv") ? csvPath.slice(0, -4) : csvPath) + ".html";
}

export function registerRun(program: Command): void {
  program
    .command("run")
    .description("run an analysis module (.ts/.mjs/.js) over its datasets and write histograms, cutflows and luminosity")
    .argument("<analysis>", "analysis module whose default export is an analysis definition")
    .requiredOption("-o, --output <file>", "output HDF5 file")
    .option("--threads <n>", "threads per histogram fill", "1")
    .option("--jobs <n>", "files processed in parallel: the main thread and N-1 worker threads (output identical to --jobs 1)", "1")
    .option("--max-files <k>", "process at most k files per dataset")
    .option("--shard <i/N>", "process only files whose index mod N is i (for array jobs; combine with `histmaker merge`)")
    .option("--retries <n>", "extra attempts for a failing file", "1")
    .option("--allow-failures", "write the output even if files failed, recording the failures in it")
    .option("--no-progress", "no progress bar")
    .option("--cutflow <file>", "cutflow CSV path (default: OUTPUT with .cutflow.csv)")
    .action(async (analysisPath: string, o: RunCliOptions) => {
      const threads = positiveInt(o.threads, "--threads");
      const jobs = positiveInt(o.jobs, "--jobs");
      const retries = positiveInt(o.retries, "--retries", 0);
      const maxFiles = o.maxFiles !== undefined ? positiveInt(o.maxFiles, "--max-files") : undefined;
      const shard = o.shard !== undefined ? parseShard(o.shard) : undefined;
      const def = validateOrUserError(await loadUserModule(analysisPath), analysisPath);
      const baseDir = path.dirname(path.resolve(analysisPath));
      const csvPath = o.cutflow ?? cutflowPathFor(o.output);
      const htmlPath = cutflowHtmlPathFor(csvPath);
      // before any event is read: the outputs can be written and replace none of the inputs
      checkOutputs(
        [
          { path: o.output, kind: "file", label: "-o" },
          { path: csvPath, kind: "file", label: o.cutflow !== undefined ? "--cutflow" : "cutflow file" },
          { path: htmlPath, kind: "file", label: "cutflow HTML" },
        ],
        [analysisPath, ...analysisInputs(def, baseDir)],
      );
      const t0 = Date.now();
      let result;
      try {
        result = await runAnalysis(def, {
          baseDir,
          threads,
          maxFiles,
          shard,
          retries,
          progress: o.progress,
          jobs,
          modulePath: path.resolve(analysisPath),
        });
      } catch (err) {
        if (err instanceof AnalysisError) throw new UserError(err.message);
        throw err;
      }
      const nfiles = Object.values(result.datasets).reduce((a, d) => a + d.files.length, 0) + result.failures.length;
      if (result.failures.length > 0) {
        for (const f of result.failures) process.stderr.write(`FAILED ${f.dataset}: ${f.file} (${f.attempts} attempts): ${f.error}\n`);
        if (!o.allowFailures)
          throw new UserError(
            `${result.failures.length} of ${nfiles} files failed; no output written (fix or rerun them, or pass --allow-failures to write the rest and record the failures)`,
          );
        process.stderr.write(`warning: ${result.failures.length} of ${nfiles} files failed; recorded in ${o.output} under "failures"\n`);
      }
      const meta = {
        command: ["histmaker", "run", ...process.argv.slice(3)].join(" "),
        time: new Date().toISOString(),
        threads,
        jobs,
        elapsed_s: (Date.now() - t0) / 1000,
      };
      // the CSV and HTML are staged first and renamed only once the HDF5 is in place: a failure leaves
      // neither a half file nor a run output with another run's cutflow beside it
      const matrices = cutflowMatrices(result.cutflows, result.scales, result.regionCutflows);
      const csvTmp = `${path.resolve(csvPath)}.tmp-${process.pid}`;
      const htmlTmp = `${path.resolve(htmlPath)}.tmp-${process.pid}`;
      try {
        writeFileSync(csvTmp, cutflowCsv(result.cutflows, result.scales, result.regionCutflows));
        writeFileSync(htmlTmp, cutflowHtml(matrices, `cutflow of ${def.name}`));
        await writeRunOutput(o.output, { info: toRunInfo(result, meta), hists: result.hists });
        renameSync(csvTmp, csvPath);
        renameSync(htmlTmp, htmlPath);
      } catch (err) {
        rmSync(csvTmp, { force: true });
        rmSync(htmlTmp, { force: true });
        throw err;
      }

      const elapsed = (Date.now() - t0) / 1000;
      const totalEvents = Object.values(result.datasets).reduce((a, d) => a + d.events, 0);
      const lines = [cutflowTable(result.cutflows, result.scales), cutflowMatrixTable(matrices)];
      for (const d of Object.values(result.datasets)) {
        if (d.kind === "data")
          lines.push(
            `${d.name}: ${d.files.length} files, ${d.events} events, ${d.lumiBlocks.length} certified lumi blocks` +
              (d.lumiPb !== null ? `, ${d.lumiPb.toPrecision(6)} /pb recorded` : "") +
              (d.lumiPerPeriodPb
                ? ` (${Object.entries(d.lumiPerPeriodPb)
                    .map(([p, l]) => `${p} ${l.toPrecision(6)}`)
                    .join(", ")})`
                : ""),
          );
        else
          lines.push(
            `${d.name}: ${d.files.length} files, ${d.events} events, Σ gen weights ${d.sumGenWeights} (${d.sumGenWeightsSource}), scale ${result.scales[d.name].toPrecision(6)}`,
          );
      }
      lines.push(
        result.luminosityPb !== null
          ? `simulation scaled to ${result.luminosityPb.toPrecision(6)} /pb (${result.luminositySource === "data" ? "certified data processed" : "analysis luminosity"})` +
              (shard ? "; for a shard this is provisional: `histmaker merge` recomputes it" : "")
          : "simulation unscaled: no luminosity (no lumi CSV processed and no analysis `luminosity`)",
        `wrote ${o.output}, ${csvPath} and ${htmlPath}: ${totalEvents} events in ${elapsed.toFixed(1)} s (${Math.round(totalEvents / Math.max(elapsed, 1e-3))} events/s)`,
      );
      process.stdout.write(lines.join("\n") + "\n");
    });
}

/** Every file the analysis reads (event files, certification JSONs, lumi CSVs), resolved as the runner does. */
function analysisInputs(def: ReturnType<typeof validateAnalysis>, baseDir: string): string[] {
  const files = planFiles(def, { baseDir }).map((w) => w.file);
  for (const ds of def.datasets) {
    for (const extra of [ds.certification, ds.lumiCsv]) {
      if (extra !== undefined) files.push(path.isAbsolute(extra) ? extra : path.resolve(baseDir, extra));
    }
  }
  return files;
}

function validateOrUserError(mod: unknown, file: string) {
  try {
    return validateAnalysis(mod, file);
  } catch (err) {
    if (err instanceof AnalysisError) throw new UserError(err.message);
    throw err;
  }
}
