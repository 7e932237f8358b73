/**
 * Builds report.html and report.log for a fit output folder from its fitresults.{json,hdf5}
 * (optionally beside a reference fit). Both files are written atomically.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { UserError } from "../errors.js";
import { correlationBlock } from "./correlation.js";
import { writeFileAtomic } from "../atomicWrite.js";
import { clientAsset, clientScript, plotlySource, reportHtml } from "./htmlPage.js";
import { fitPayload, readResultsHdf5, readResultsJson } from "./loadFitResults.js";
import { reportLog, type Provenance } from "./reportLog.js";
import type { ReportPayload } from "./types.js";

export const REPORT_HTML = "report.html";
export const REPORT_LOG = "report.log";

/** Keys of results.md's post-fit section that the page draws when present. */
export const POST_KEYS = ["scans", "scans2d", "contours", "limits", "significance", "toys"] as const;

/** Keys that are not shown as they are in the overview (they have their own sections). */
const OWN_SECTION = new Set<string>(["parameters", "impacts", "global_impacts", "refit_impacts", ...POST_KEYS]);

export interface BuildReportOptions {
  /** a second fit folder drawn beside this one */
  reference?: string;
  /** report file (default FITDIR/report.html); the log goes beside it as report.log */
  output?: string;
  /** the command line recorded in report.log */
  command?: string;
  /** how many nuisances beside the POIs the correlation heatmap shows */
  correlationTop?: number;
}

export interface BuiltReport {
  html: string;
  log: string;
  bytes: number;
}

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "package.json")) && existsSync(join(dir, "src", "report", "client"))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error("report client assets not found (src/report/client)");
    dir = up;
  }
}

function git(root: string): { hash: string; state: string } {
  try {
    const hash = execFileSync("git", ["rev-parse", "HEAD"], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    const changed = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })
      .split("\n")
      .filter((l) => l.trim() !== "").length;
    return { hash, state: changed === 0 ? "clean" : `dirty (${changed} tracked files changed)` };
  } catch {
    return { hash: "unknown", state: "unknown (not a git checkout)" };
  }
}


/** Krylov-mode fits store only the POI/NOI covariance: their correlation block is that of the POIs/NOIs. */
function poiCorrelation(pc: { names: string[]; matrix: Float64Array } | null): ReturnType<typeof correlationBlock> {
  if (!pc || pc.names.length === 0) return null;
  const k = pc.names.length;
  const block = correlationBlock({ names: pc.names, kinds: pc.names.map(() => "poi"), rows: (a, b) => pc.matrix.subarray(a * k, b * k), top: 0 });
  return block && { ...block, note: "POIs/NOIs only (Krylov errors: no dense covariance)" };
}

/** Everything the page shows, read from the fit folder (and the reference folder). */
export async function buildPayload(fitDir: string, opts: BuildReportOptions = {}): Promise<ReportPayload> {
  const json = readResultsJson(fitDir);
  const refJson = opts.reference !== undefined ? readResultsJson(opts.reference) : null;
  const h5 = await readResultsHdf5(fitDir);
  try {
    const jsonNames = json.parameters.map((p) => p.name);
    if (h5.names.length !== jsonNames.length || h5.names.some((n, i) => n !== jsonNames[i])) {
      throw new UserError(
        `${join(fitDir, "fitresults.hdf5")}: parameters/names do not match the parameters of fitresults.json (files from different fits?)`,
      );
    }
    let refImpacts = null;
    if (opts.reference !== undefined && existsSync(join(opts.reference, "fitresults.hdf5"))) {
      const rh = await readResultsHdf5(opts.reference);
      refImpacts = rh.impacts;
      rh.close();
    }
    const summary: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(json)) if (!OWN_SECTION.has(k)) summary[k] = v;
    const post: Record<string, unknown> = {};
    for (const k of POST_KEYS) if (json[k] !== undefined && json[k] !== null) post[k] = json[k];
    const kinds = json.parameters.map((p) => p.kind);
    const correlation = h5.covarianceRows
      ? correlationBlock({ names: h5.names, kinds, rows: h5.covarianceRows, top: opts.correlationTop ?? 30 })
      : poiCorrelation(h5.poiCovariance);
    return {
      title: `hepfit report: ${basename(resolve(fitDir))}`,
      generated: new Date().toISOString(),
      summary,
      fit: fitPayload(basename(resolve(fitDir)), json, h5.impacts),
      reference: refJson ? fitPayload(`reference: ${basename(resolve(opts.reference!))}`, refJson, refImpacts) : null,
      procs: h5.procs,
      channels: h5.channels,
      correlation,
      post,
    };
  } finally {
    h5.close();
  }
}

/** Writes report.html and report.log (FITDIR or beside opts.output). */
export async function buildReport(fitDir: string, opts: BuildReportOptions = {}): Promise<BuiltReport> {
  const payload = await buildPayload(fitDir, opts);
  const root = packageRoot();
  const html = resolve(opts.output ?? join(fitDir, REPORT_HTML));
  const log = join(dirname(html), REPORT_LOG);
  const page = reportHtml(payload, {
    plotly: plotlySource(),
    script: clientScript(root),
    css: clientAsset(root, "report.css"),
  });
  const g = git(root);
  const prov: Provenance = {
    command: opts.command ?? `fit-report ${fitDir}${opts.reference ? ` --reference ${opts.reference}` : ""}`,
    gitHash: g.hash,
    gitState: g.state,
    time: payload.generated,
    fitDir: resolve(fitDir),
    referenceDir: opts.reference ? resolve(opts.reference) : null,
  };
  writeFileAtomic(html, page);
  writeFileAtomic(log, `${reportLog(payload, prov)}\n`);
  return { html, log, bytes: Buffer.byteLength(page) };
}
