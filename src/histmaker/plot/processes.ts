/**
 * Which datasets `histmaker plot` stacks together: by default one process per simulated dataset;
 * `--processes CONFIG.json` (a `histmaker tensor` config, or a bare process map) or `--group
 * name=ds1,ds2` groups them. A simulated dataset no group names becomes its own process (never
 * dropped); a data dataset in a group, an unknown dataset or one named twice is an error.
 */
import { readFileSync } from "node:fs";
import { UserError } from "../../errors.js";

export interface PlotProcess {
  name: string;
  datasets: string[];
  /** CSS colour */
  color: string;
}

export interface Grouping {
  /** top of the stack first (also the legend order) */
  processes: PlotProcess[];
  /** data datasets summed into the data points */
  data: string[];
  /** simulated datasets no group named (each became its own process) */
  ungrouped: string[];
}

/** Colour-blind-friendly (Tableau 10) first, then more. */
export const PALETTE = [
  "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
  "#86bcb6", "#d37295", "#a0cbe8", "#ffbe7d", "#8cd17d", "#b6992d", "#499894", "#f1ce63", "#d4a6c8", "#79706e",
];

/** A group as the user wrote it, before checking it against the run. */
export interface GroupSpec {
  name: string;
  datasets: string[];
  color?: string;
}

const COLOR = /^(#[0-9a-fA-F]{3,8}|[a-zA-Z]+|rgba?\([0-9.,\s%]+\))$/;

/** `name=ds1,ds2` (one --group option). */
export function parseGroupOption(text: string): GroupSpec {
  const at = text.indexOf("=");
  if (at <= 0) throw new UserError(`--group "${text}": expected name=dataset1,dataset2`);
  const datasets = text
    .slice(at + 1)
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (datasets.length === 0) throw new UserError(`--group "${text}": no datasets after "="`);
  return { name: text.slice(0, at).trim(), datasets };
}

/**
 * Reads a grouping file: `{"processes": {name: {"datasets": [...], "color": "#hex"}}, "data": [...]}`
 * (a `histmaker tensor` config works as it is), or the bare process map; a process may also be just
 * the list of its datasets.
 */
export function readProcessesFile(file: string): { groups: GroupSpec[]; data: string[] | null } {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new UserError(`${file}: cannot read JSON (${(err as Error).message.split("\n")[0]})`);
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new UserError(`${file}: expected a JSON object of processes`);
  const obj = raw as Record<string, unknown>;
  const map = "processes" in obj ? obj.processes : obj;
  if (map === null || typeof map !== "object" || Array.isArray(map)) throw new UserError(`${file}: "processes" must be an object name → {datasets}`);
  const groups: GroupSpec[] = [];
  for (const [name, p] of Object.entries(map as Record<string, unknown>)) {
    const where = `${file}: process "${name}"`;
    let datasets: unknown;
    let color: unknown;
    if (Array.isArray(p)) datasets = p;
    else if (p !== null && typeof p === "object") ({ datasets, color } = p as { datasets?: unknown; color?: unknown });
    else throw new UserError(`${where}: expected {"datasets": [...]} or a list of datasets`);
    if (!Array.isArray(datasets) || datasets.length === 0 || !datasets.every((d) => typeof d === "string"))
      throw new UserError(`${where}: "datasets" must be a non-empty list of dataset names`);
    if (color !== undefined && (typeof color !== "string" || !COLOR.test(color))) throw new UserError(`${where}: "color" must be a CSS colour such as "#1f77b4"`);
    groups.push({ name, datasets: datasets as string[], ...(color !== undefined ? { color: color as string } : {}) });
  }
  let data: string[] | null = null;
  if ("processes" in obj && obj.data !== undefined) {
    if (!Array.isArray(obj.data) || !obj.data.every((d) => typeof d === "string")) throw new UserError(`${file}: "data" must be a list of dataset names`);
    data = obj.data as string[];
  }
  return { groups, data };
}

/** Checks groups against the run's datasets (in run order) and fills in defaults. */
export function resolveGrouping(
  datasets: { name: string; kind: "mc" | "data" }[],
  groups: GroupSpec[] | null,
  data: string[] | null,
  where: string,
): Grouping {
  const kind = new Map(datasets.map((d) => [d.name, d.kind]));
  const mc = datasets.filter((d) => d.kind === "mc").map((d) => d.name);
  const specs: GroupSpec[] = groups ?? mc.map((d) => ({ name: d, datasets: [d] }));
  const owner = new Map<string, string>();
  const names = new Set<string>();
  for (const g of specs) {
    if (g.name === "") throw new UserError(`${where}: a process needs a name`);
    if (names.has(g.name)) throw new UserError(`${where}: process "${g.name}" is given twice`);
    names.add(g.name);
    for (const d of g.datasets) {
      const k = kind.get(d);
      if (k === undefined) throw new UserError(`${where}: process "${g.name}": dataset "${d}" is not in the run (it has ${[...kind.keys()].join(", ")})`);
      if (k === "data") throw new UserError(`${where}: process "${g.name}": dataset "${d}" is data, not simulation`);
      const prev = owner.get(d);
      if (prev !== undefined) throw new UserError(`${where}: dataset "${d}" is in both "${prev}" and "${g.name}"`);
      owner.set(d, g.name);
    }
  }
  const ungrouped = mc.filter((d) => !owner.has(d));
  const all: GroupSpec[] = [...specs];
  for (const d of ungrouped) {
    if (names.has(d)) throw new UserError(`${where}: dataset "${d}" is in no process, and a process of that name exists; add it to a process`);
    all.push({ name: d, datasets: [d] });
  }
  const processes = all.map((g, i) => ({ name: g.name, datasets: [...g.datasets], color: g.color ?? PALETTE[i % PALETTE.length] }));
  let dataSets: string[];
  if (data === null) dataSets = datasets.filter((d) => d.kind === "data").map((d) => d.name);
  else {
    for (const d of data) {
      const k = kind.get(d);
      if (k === undefined) throw new UserError(`${where}: data dataset "${d}" is not in the run`);
      if (k !== "data") throw new UserError(`${where}: "${d}" is listed as data but is simulation`);
    }
    dataSets = [...data];
  }
  return { processes, data: dataSets, ungrouped };
}
