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

/** CSV rows `dataset,step,raw,weighted,scaled,efficiency` (efficiency relative to the previous step, raw). */
export function cutflowCsv(flows: Record<string, Cutflow>, scales: Record<string, number> = {}): string {
  const lines = ["dataset,step,raw,weighted,scaled,efficiency"];
  for (const [ds, c] of Object.entries(flows)) {
    const scale = scales[ds] ?? 1;
    c.steps.forEach((s, i) => {
      const eff = i === 0 ? 1 : c.raw[i - 1] > 0 ? c.raw[i] / c.raw[i - 1] : 0;
      lines.push(`${csvField(ds)},${csvField(s)},${c.raw[i]},${fmt(c.weighted[i])},${fmt(c.weighted[i] * scale)},${eff.toFixed(6)}`);
    });
  }
  return lines.join("\n") + "\n";
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
      i === 0 ? "" : c.raw[i - 1] > 0 ? `${((100 * c.raw[i]) / c.raw[i - 1]).toFixed(2)}%` : "-",
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
