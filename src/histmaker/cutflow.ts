/**
 * Cutflow: raw event counts and weighted sums after each named selection step, per dataset.
 * Steps are fixed when the cutflow is made ("all", optionally "certified", then the selections).
 */
import { UserError } from "../errors.js";
import type { NumericArray } from "./events.js";

export interface CutflowJson {
  steps: string[];
  raw: number[];
  weighted: number[];
}

export class Cutflow {
  readonly steps: string[];
  readonly raw: Float64Array;
  readonly weighted: Float64Array;

  constructor(steps: string[]) {
    this.steps = [...steps];
    this.raw = new Float64Array(steps.length);
    this.weighted = new Float64Array(steps.length);
  }

  /** Counts the events where mask ≠ 0 (all events when mask is null) with their weights (1 when null). */
  record(step: number, mask: Uint8Array | null, weights: NumericArray | null, length: number): void {
    let raw = 0;
    let sum = 0;
    if (mask === null) {
      raw = length;
      if (weights === null) sum = length;
      else for (let i = 0; i < length; i++) sum += Number(weights[i]);
    } else if (weights === null) {
      for (let i = 0; i < length; i++) if (mask[i] !== 0) raw++;
      sum = raw;
    } else {
      for (let i = 0; i < length; i++)
        if (mask[i] !== 0) {
          raw++;
          sum += Number(weights[i]);
        }
    }
    this.raw[step] += raw;
    this.weighted[step] += sum;
  }

  add(other: Cutflow, what = "cutflow"): void {
    if (other.steps.length !== this.steps.length || other.steps.some((s, i) => s !== this.steps[i]))
      throw new UserError(`${what}: steps differ (${this.steps.join(",")} vs ${other.steps.join(",")})`);
    for (let i = 0; i < this.steps.length; i++) {
      this.raw[i] += other.raw[i];
      this.weighted[i] += other.weighted[i];
    }
  }

  toJSON(): CutflowJson {
    return { steps: [...this.steps], raw: Array.from(this.raw), weighted: Array.from(this.weighted) };
  }

  static fromJSON(j: CutflowJson): Cutflow {
    const c = new Cutflow(j.steps);
    c.raw.set(j.raw);
    c.weighted.set(j.weighted);
    return c;
  }
}

/** Per dataset, per region: the region's cutflow ("preselection", then the region's cuts). */
export type RegionCutflows = Record<string, Record<string, Cutflow>>;

/** The name of the common chain in per-region tables and CSV rows. */
export const PRESELECTION = "preselection";

/** Steps of a region's cutflow: the events after the whole preselection, then each region cut. */
export function regionCutflowSteps(cuts: { name: string }[]): string[] {
  return [PRESELECTION, ...cuts.map((c) => c.name)];
}

/**
 * CSV rows `dataset,step,raw,weighted,scaled,efficiency` (efficiency relative to the previous step,
 * raw). With region cutflows the rows get a region column, `dataset,region,step,...`: region
 * "preselection" for the common chain, then every region's chain.
 */
export function cutflowCsv(flows: Record<string, Cutflow>, scales: Record<string, number> = {}, regions: RegionCutflows = {}): string {
  const withRegions = Object.values(regions).some((r) => Object.keys(r).length > 0);
  const lines = [withRegions ? "dataset,region,step,raw,weighted,scaled,efficiency" : "dataset,step,raw,weighted,scaled,efficiency"];
  const rows = (ds: string, region: string | null, c: Cutflow) => {
    const scale = scales[ds] ?? 1;
    c.steps.forEach((s, i) => {
      const eff = i === 0 ? 1 : c.raw[i - 1] > 0 ? c.raw[i] / c.raw[i - 1] : 0;
      const lead = region === null ? csvField(ds) : `${csvField(ds)},${csvField(region)}`;
      lines.push(`${lead},${csvField(s)},${c.raw[i]},${fmt(c.weighted[i])},${fmt(c.weighted[i] * scale)},${eff.toFixed(6)}`);
    });
  };
  for (const [ds, c] of Object.entries(flows)) {
    rows(ds, withRegions ? PRESELECTION : null, c);
    if (withRegions) for (const [r, rc] of Object.entries(regions[ds] ?? {})) rows(ds, r, rc);
  }
  return lines.join("\n") + "\n";
}

/** One samples × steps table: for each chain (the preselection, then each region) rows of datasets. */
export interface CutflowMatrix {
  chain: string;
  steps: string[];
  rows: { dataset: string; raw: number[]; weighted: number[]; scaled: number[] }[];
}

/** The cutflows as samples × steps matrices: the preselection chain, then one per region. */
export function cutflowMatrices(flows: Record<string, Cutflow>, scales: Record<string, number> = {}, regions: RegionCutflows = {}): CutflowMatrix[] {
  const chains = new Map<string, Map<string, Cutflow>>([[PRESELECTION, new Map(Object.entries(flows))]]);
  for (const [ds, byRegion] of Object.entries(regions))
    for (const [r, c] of Object.entries(byRegion)) {
      if (!chains.has(r)) chains.set(r, new Map());
      chains.get(r)!.set(ds, c);
    }
  const out: CutflowMatrix[] = [];
  for (const [chain, byDs] of chains) {
    // datasets of one chain differ in steps only by "certified" (data): the longest list has them all
    const steps: string[] = [];
    const lists = [...byDs.values()].map((c) => c.steps).sort((a, b) => b.length - a.length);
    for (const l of lists) for (const s of l) if (!steps.includes(s)) steps.push(s);
    const rows = [...byDs.entries()].map(([ds, c]) => {
      const scale = scales[ds] ?? 1;
      const at = (arr: Float64Array, s: string, prev: number) => {
        const i = c.steps.indexOf(s);
        return i >= 0 ? arr[i] : prev;
      };
      const raw: number[] = [];
      const weighted: number[] = [];
      steps.forEach((s, j) => {
        // a step the dataset lacks (simulation has no "certified") keeps the previous count
        raw.push(at(c.raw, s, j > 0 ? raw[j - 1] : Number.NaN));
        weighted.push(at(c.weighted, s, j > 0 ? weighted[j - 1] : Number.NaN));
      });
      return { dataset: ds, raw, weighted, scaled: weighted.map((w) => w * scale) };
    });
    out.push({ chain, steps, rows });
  }
  return out;
}

/**
 * Terminal tables, samples × steps: per chain (preselection, then each region) one row per dataset,
 * each cell the scaled yield with the raw event count in parentheses.
 */
export function cutflowMatrixTable(matrices: CutflowMatrix[]): string {
  const out: string[] = [];
  for (const m of matrices) {
    const header = ["dataset", ...m.steps];
    const rows = m.rows.map((r) => [r.dataset, ...m.steps.map((_, j) => `${fmt(r.scaled[j])} (${fmt(r.raw[j])})`)]);
    const widths = header.map((h, j) => Math.max(h.length, ...rows.map((r) => r[j].length)));
    const line = (r: string[]) => r.map((v, j) => (j === 0 ? v.padEnd(widths[j]) : v.padStart(widths[j]))).join("  ");
    out.push(`cutflow ${m.chain}: scaled yield (raw events)`, line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line), "");
  }
  return out.join("\n");
}

/** A small standalone HTML page with the samples × steps tables; every name is HTML-escaped. */
export function cutflowHtml(matrices: CutflowMatrix[], title = "cutflow"): string {
  const parts = [
    "<!DOCTYPE html>",
    '<html><head><meta charset="utf-8"><title>' + escapeHtml(title) + "</title>",
    "<style>body{font-family:sans-serif}table{border-collapse:collapse;margin-bottom:1.5em}" +
      "td,th{border:1px solid #bbb;padding:2px 8px;text-align:right}th:first-child,td:first-child{text-align:left}" +
      ".raw{color:#666;font-size:85%}</style></head><body>",
    `<h1>${escapeHtml(title)}</h1>`,
  ];
  for (const m of matrices) {
    parts.push(`<h2>${escapeHtml(m.chain)}</h2>`, "<table>", "<tr><th>dataset</th>" + m.steps.map((s) => `<th>${escapeHtml(s)}</th>`).join("") + "</tr>");
    for (const r of m.rows)
      parts.push(
        `<tr><td>${escapeHtml(r.dataset)}</td>` +
          m.steps.map((_, j) => `<td>${escapeHtml(fmt(r.scaled[j]))} <span class="raw">(${escapeHtml(fmt(r.raw[j]))})</span></td>`).join("") +
          "</tr>",
      );
    parts.push("</table>");
  }
  parts.push("<p>cells: scaled yield (raw events)</p></body></html>");
  return parts.join("\n") + "\n";
}

/** Text safe to place between HTML tags or in a quoted attribute. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string);
}

/** A terminal table per dataset: step, raw count, weighted sum, scaled yield, step efficiency. */
export function cutflowTable(flows: Record<string, Cutflow>, scales: Record<string, number> = {}): string {
  const out: string[] = [];
  for (const [ds, c] of Object.entries(flows)) {
    const scale = scales[ds] ?? 1;
    const rows = c.steps.map((s, i) => [
      s,
      String(c.raw[i]),
      fmt(c.weighted[i]),
      fmt(c.weighted[i] * scale),
      i === 0 ? "" : c.raw[i - 1] > 0 ? `${((100 * c.raw[i]) / c.raw[i - 1]).toFixed(2)}%` : "n/a",
    ]);
    const header = ["step", "raw", "weighted", "scaled", "eff"];
    const widths = header.map((h, j) => Math.max(h.length, ...rows.map((r) => r[j].length)));
    const line = (r: string[]) => r.map((v, j) => (j === 0 ? v.padEnd(widths[j]) : v.padStart(widths[j]))).join("  ");
    out.push(`cutflow ${ds}`, line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line), "");
  }
  return out.join("\n");
}

function fmt(x: number): string {
  // 10 significant digits without trailing zeros
  return Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(10)));
}

function csvField(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
