/**
 * report.log: provenance of every plot in the report (command, code version, time, the fit's input
 * checksum) and the yields the postfit plots show, so a number on a plot can be traced back.
 */
import type { ChannelPayload, ReportPayload, StageYields } from "./types.js";

export interface Provenance {
  command: string;
  gitHash: string;
  /** "clean", "dirty (N files changed)" or "unknown" */
  gitState: string;
  time: string;
  fitDir: string;
  referenceDir: string | null;
}

const fmt = (v: number | null | undefined): string => (typeof v === "number" && Number.isFinite(v) ? v.toPrecision(8) : "n/a");

function stageLines(ch: ChannelPayload, stageName: string, stage: StageYields, procs: string[]): string[] {
  const lines = [`  ${stageName}: yields per process (sum over the channel's ${ch.size} bins)`];
  procs.forEach((p, k) => {
    let s = 0;
    for (const row of stage.yields) s += row[k];
    lines.push(`    ${JSON.stringify(p)}: ${fmt(s)}`);
  });
  lines.push(`  ${stageName}: bin, total prediction, σ(total)${ch.data ? ", data" : ""}`);
  stage.total.forEach((t, b) => {
    lines.push(`    ${b} ${fmt(t)} ${fmt(stage.totalErr[b])}${ch.data ? ` ${fmt(ch.data[b])}` : ""}`);
  });
  return lines;
}

/** The plots the page draws, each with where its numbers come from. */
export function reportLog(payload: ReportPayload, prov: Provenance): string {
  const meta = (payload.summary.meta ?? {}) as Record<string, unknown>;
  const head = [
    `# hepfit report.log`,
    `command:        ${prov.command}`,
    `report code:    git ${prov.gitHash} (${prov.gitState})`,
    `time:           ${prov.time}`,
    `fit folder:     ${prov.fitDir}`,
    `reference:      ${prov.referenceDir ?? "none"}`,
    `fit command:    ${String(meta.command ?? "unknown")}`,
    `fit code:       git ${String(meta.git_hash ?? "unknown")}, version ${String(meta.version ?? "unknown")}`,
    `fit time:       ${String(meta.time ?? "unknown")}`,
    `fit input:      ${String(meta.input ?? "unknown")}`,
    `input sha256:   ${String(meta.input_sha256 ?? "unknown")}`,
    "",
  ];
  const plots: string[] = [];
  // every plot block repeats its provenance, so one block cut out of the log still says where it came from
  const stamp = `   made by: ${prov.command} | git ${prov.gitHash} (${prov.gitState}) | ${prov.time} | input sha256 ${String(meta.input_sha256 ?? "unknown")}`;
  const plot = (name: string, source: string, extra: string[] = []): void => {
    plots.push(`## plot: ${name}`, stamp, `   source: ${source}`, ...extra, "");
  };
  const fit = payload.fit;
  plot("fit overview table", "fitresults.json (status, nll, chi2, ndf, pvalue, edm, timing, engine, parameters of kind poi/noi)");
  if (payload.correlation) plot("correlation heatmap", `fitresults.hdf5 covariance (${payload.correlation.note}); ${payload.correlation.names.length} parameters`);
  plot("pulls and impacts table", `fitresults.json parameters (${fit.names.length}); impacts: ${Object.keys(fit.impacts).join(", ") || "none"}${payload.reference ? `; reference ${payload.reference.label}` : ""}`);
  plot("pull histogram", "fitresults.json parameters with a prefit constraint, (θ̂ − θ0)/σ_prefit against N(0,1)");
  if (fit.grouped) plot("grouped impacts", "fitresults.hdf5 impacts/grouped, global_grouped, stat, data_stat (or fitresults.json impacts)");
  for (const key of ["scans", "scans2d", "contours", "limits", "significance", "toys"]) {
    const v = payload.post[key];
    if (v && typeof v === "object") plot(`${key}`, `fitresults.json "${key}": ${Object.keys(v).join(", ")}`);
  }
  for (const ch of payload.channels) {
    const extra: string[] = [`   axes: ${ch.axes.map((a) => a.name).join(" × ")}${ch.flow ? " (with under/overflow)" : ""}; ${ch.masked ? "masked (no data)" : "with data"}`];
    if (ch.prefit) extra.push(...stageLines(ch, "prefit", ch.prefit, payload.procs));
    if (ch.postfit) extra.push(...stageLines(ch, "postfit", ch.postfit, payload.procs));
    plot(`channel ${JSON.stringify(ch.name)} prefit/postfit stacks`, `fitresults.hdf5 channels/${ch.name}/{prefit,postfit}/{yields,total,total_err}, data`, extra);
  }
  return [...head, ...plots].join("\n");
}
