/**
 * Reads a fit's output folder (fitresults.json and fitresults.hdf5, results.md and
 * fitter/writeResults.ts) for the report. Only these files are read, never the fitter's modules.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../errors.js";
import { H5, absPath, h5ErrorLine, h5Ready, isDataset, isGroup, type Dataset, type Group, type H5File } from "../tensor/h5.js";
import type { AxisJson, ChannelPayload, FitPayload, GroupedImpacts, ImpactColumns, StageYields } from "./types.js";

export const RESULTS_JSON = "fitresults.json";
export const RESULTS_HDF5 = "fitresults.hdf5";

export interface JsonParameter {
  name: string;
  kind: string;
  value: number | null;
  error: number | null;
  prefit: number | null;
  prefitError: number | null;
  frozen?: boolean;
  minos?: { lower: number | null; upper: number | null };
}

/** fitresults.json as far as the report reads it; other keys are kept as they are. */
export interface FitResultsJson {
  status?: string;
  parameters: JsonParameter[];
  impacts?: Record<string, Record<string, number | null>>;
  global_impacts?: Record<string, Record<string, number | null>>;
  refit_impacts?: Record<string, Record<string, { down: number | null; up: number | null }>>;
  meta?: Record<string, unknown>;
  [key: string]: unknown;
}

/** Impacts as stored in the HDF5 `impacts` group (names separate nuisances from groups). */
export interface Hdf5Impacts {
  targets: string[];
  nuisances: string[];
  groups: string[];
  /** 1 where a nuisance has a global impact (a constrained one) */
  constrained: Float64Array | null;
  traditional: Float64Array | null;
  global: Float64Array | null;
  grouped: Float64Array | null;
  globalGrouped: Float64Array | null;
  stat: Float64Array | null;
  dataStat: Float64Array | null;
}

export interface FitResultsHdf5 {
  names: string[];
  procs: string[];
  channels: ChannelPayload[];
  impacts: Hdf5Impacts | null;
  /** rows [start, stop) of the covariance, row-major */
  covarianceRows: ((start: number, stop: number) => Float64Array) | null;
  /** Krylov-mode fits (no dense covariance): the POI/NOI covariance block */
  poiCovariance: { names: string[]; matrix: Float64Array } | null;
  close(): void;
}

function userErr(file: string, what: string): UserError {
  return new UserError(`${file}: ${what}`);
}

/** The folder's fitresults.json, parsed and checked for the keys the report needs. */
export function readResultsJson(dir: string): FitResultsJson {
  const path = join(dir, RESULTS_JSON);
  if (!existsSync(dir)) throw new UserError(`${dir}: no such folder`);
  if (!statSync(dir).isDirectory()) throw new UserError(`${dir}: not a folder (give the fit's output folder)`);
  if (!existsSync(path)) throw userErr(path, "no such file (is this a fit output folder?)");
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw userErr(path, `not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (typeof parsed !== "object" || parsed === null || !Array.isArray((parsed as { parameters?: unknown }).parameters)) {
    throw userErr(path, `key "parameters" is missing or not a list`);
  }
  const json = parsed as FitResultsJson;
  json.parameters.forEach((p, i) => {
    if (typeof p !== "object" || p === null || typeof p.name !== "string" || typeof p.kind !== "string") {
      throw userErr(path, `parameters[${i}]: needs a string "name" and "kind"`);
    }
  });
  return json;
}

function strings(ds: Dataset): string[] {
  const v = ds.value as unknown;
  if (Array.isArray(v)) return v.map(String);
  if (typeof v === "string") return [v];
  throw new Error(`dataset ${ds.path} does not hold strings`);
}

function floats(ds: Dataset): Float64Array {
  const v = ds.value as unknown;
  if (v instanceof Float64Array) return v;
  if (ArrayBuffer.isView(v) || Array.isArray(v)) return Float64Array.from(v as ArrayLike<number>);
  if (typeof v === "number") return Float64Array.of(v);
  throw new Error(`dataset ${ds.path} does not hold numbers`);
}

function get(group: Group | H5File, name: string): Dataset | null {
  const e = group.get(name);
  return isDataset(e) ? e : null;
}

function attr(group: Group, name: string): unknown {
  return name in group.attrs ? group.attrs[name].value : undefined;
}

function axisBins(axis: AxisJson, flow: boolean): number {
  if (axis.edges !== undefined) return axis.edges.length - 1 + (flow ? 2 : 0);
  return (axis.categories?.length ?? 0) + (flow ? 1 : 0);
}

/** The stage's yields as [bin][proc] rows, totals and total σ. */
function readStage(group: Group, size: number, nproc: number): StageYields | null {
  const y = get(group, "yields");
  const t = get(group, "total");
  const te = get(group, "total_err");
  if (y === null || t === null || te === null) return null;
  const flat = floats(y);
  if (flat.length !== size * nproc) throw new Error(`${y.path}: ${flat.length} values, expected ${size} bins × ${nproc} processes`);
  const yields: number[][] = [];
  for (let b = 0; b < size; b++) yields.push(Array.from(flat.subarray(b * nproc, (b + 1) * nproc)));
  return { yields, total: Array.from(floats(t)), totalErr: Array.from(floats(te)) };
}

function readChannel(file: string, g: Group, name: string, nproc: number): ChannelPayload {
  const axesText = attr(g, "axes_json");
  let axes: AxisJson[];
  try {
    axes = JSON.parse(String(axesText)) as AxisJson[];
    if (!Array.isArray(axes)) throw new Error("not a list");
  } catch (err) {
    throw userErr(file, `channels/${name}: attribute axes_json is not a JSON list of axes (${err instanceof Error ? err.message : String(err)})`);
  }
  const size = Number(attr(g, "size"));
  const masked = Number(attr(g, "masked") ?? 0) === 1;
  // the flow flag is not stored: the bin count tells (under/overflow add bins per axis)
  const plain = axes.reduce((n, a) => n * axisBins(a, false), 1);
  const withFlow = axes.reduce((n, a) => n * axisBins(a, true), 1);
  let flow = false;
  if (size === withFlow && size !== plain) flow = true;
  else if (size !== plain) throw userErr(file, `channels/${name}: ${size} bins, but its axes give ${plain} (or ${withFlow} with under/overflow)`);
  const data = get(g, "data");
  const pre = g.get("prefit");
  const post = g.get("postfit");
  return {
    name,
    axes,
    flow,
    masked,
    size,
    data: data === null ? null : Array.from(floats(data)),
    prefit: isGroup(pre) ? readStage(pre, size, nproc) : null,
    postfit: isGroup(post) ? readStage(post, size, nproc) : null,
  };
}

function readImpacts(g: Group): Hdf5Impacts | null {
  const targets = get(g, "targets");
  if (targets === null) return null;
  const opt = (name: string): Float64Array | null => {
    const d = get(g, name);
    return d === null ? null : floats(d);
  };
  const names = (name: string): string[] => {
    const d = get(g, name);
    return d === null ? [] : strings(d);
  };
  return {
    targets: strings(targets),
    nuisances: names("nuisances"),
    groups: names("groups"),
    constrained: opt("constrained"),
    traditional: opt("traditional"),
    global: opt("global"),
    grouped: opt("grouped"),
    globalGrouped: opt("global_grouped"),
    stat: opt("stat"),
    dataStat: opt("data_stat"),
  };
}

/** Opens the folder's fitresults.hdf5 and reads what the report draws (the covariance lazily). */
export async function readResultsHdf5(dir: string): Promise<FitResultsHdf5> {
  const path = join(dir, RESULTS_HDF5);
  if (!existsSync(path)) throw userErr(path, "no such file (is this a fit output folder?)");
  await h5Ready();
  let f: H5File;
  try {
    f = new H5.File(absPath(path), "r");
  } catch (err) {
    throw userErr(path, `cannot open as HDF5 (${h5ErrorLine(err)})`);
  }
  try {
    const namesDs = get(f, "parameters/names");
    if (namesDs === null) throw userErr(path, "dataset parameters/names is missing");
    const names = strings(namesDs);
    const procsDs = get(f, "procs");
    const procs = procsDs === null ? [] : strings(procsDs);
    const channels: ChannelPayload[] = [];
    const chg = f.get("channels");
    if (isGroup(chg)) {
      for (const key of chg.keys()) {
        const g = chg.get(key);
        if (isGroup(g)) channels.push(readChannel(path, g, key, procs.length));
      }
      // file order is alphabetical in HDF5; the fit's order is by first bin
      channels.sort((a, b) => Number(attr(chg.get(a.name) as Group, "start")) - Number(attr(chg.get(b.name) as Group, "start")));
    }
    const ig = f.get("impacts");
    const impacts = isGroup(ig) ? readImpacts(ig) : null;
    const cov = get(f, "covariance");
    const n = names.length;
    let covarianceRows: FitResultsHdf5["covarianceRows"] = null;
    if (cov !== null) {
      const shape = cov.shape ?? [];
      if (shape.length !== 2 || shape[0] !== n || shape[1] !== n) throw userErr(path, `covariance: shape [${shape.join(", ")}], expected [${n}, ${n}]`);
      covarianceRows = (start, stop) => {
        const rows = cov.slice([[start, stop], [0, n]]) as unknown;
        return rows instanceof Float64Array ? rows : Float64Array.from(rows as ArrayLike<number>);
      };
    }
    let poiCovariance: FitResultsHdf5["poiCovariance"] = null;
    const pc = get(f, "poi_covariance");
    const pcNames = get(f, "poi_covariance_names");
    if (pc !== null && pcNames !== null) {
      const pn = strings(pcNames);
      const shape = pc.shape ?? [];
      if (shape.length !== 2 || shape[0] !== pn.length || shape[1] !== pn.length) throw userErr(path, `poi_covariance: shape [${shape.join(", ")}], expected [${pn.length}, ${pn.length}]`);
      poiCovariance = { names: pn, matrix: Float64Array.from(pc.value as ArrayLike<number>) };
    }
    return { names, procs, channels, impacts, covarianceRows, poiCovariance, close: () => f.close() };
  } catch (err) {
    f.close();
    if (err instanceof UserError) throw err;
    throw userErr(path, err instanceof Error ? err.message : String(err));
  }
}

const finite = (v: number | null | undefined): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

/** ±1σ columns of a symmetric (Hessian or global) impact: up = +I, down = −I. */
function symmetric(values: (number | null)[]): ImpactColumns {
  return { up: values, down: values.map((v) => (v === null ? null : -v)) };
}

/**
 * The fit's parameters and impacts, aligned with its parameter list. Impacts come from the HDF5
 * impacts group when given (it names nuisances and groups apart), else from the JSON keys.
 */
export function fitPayload(label: string, json: FitResultsJson, h5impacts: Hdf5Impacts | null): FitPayload {
  const params = json.parameters;
  const names = params.map((p) => p.name);
  const index = new Map(names.map((n, i) => [n, i]));
  const n = names.length;
  const impacts: FitPayload["impacts"] = {};
  let grouped: GroupedImpacts | null = null;
  const targetSet = new Set<string>();

  if (h5impacts !== null && h5impacts.targets.length > 0) {
    const { targets, nuisances, groups } = h5impacts;
    const nn = nuisances.length;
    const ng = groups.length;
    const column = (table: Float64Array | null, k: number, onlyConstrained = false): (number | null)[] | null => {
      if (table === null) return null;
      const col: (number | null)[] = new Array<number | null>(n).fill(null);
      nuisances.forEach((name, c) => {
        const i = index.get(name);
        // global impacts exist for constrained nuisances only (fitresults.json leaves the others out)
        if (onlyConstrained && h5impacts.constrained !== null && !(h5impacts.constrained[c] > 0)) return;
        if (i !== undefined) col[i] = finite(table[k * nn + c]);
      });
      return col;
    };
    grouped = { names: [...groups, "stat"], hessian: {}, global: {} };
    targets.forEach((t, k) => {
      targetSet.add(t);
      const trad = column(h5impacts.traditional, k);
      if (trad) (impacts.hessian ??= {})[t] = symmetric(trad);
      const glob = column(h5impacts.global, k, true);
      if (glob) (impacts.global ??= {})[t] = symmetric(glob);
      const row = (table: Float64Array | null, stat: Float64Array | null): (number | null)[] => [
        ...groups.map((_, g) => (table === null ? null : finite(table[k * ng + g]))),
        stat === null ? null : finite(stat[k]),
      ];
      grouped!.hessian[t] = row(h5impacts.grouped, h5impacts.stat);
      grouped!.global[t] = row(h5impacts.globalGrouped, h5impacts.dataStat);
    });
  } else if (json.impacts) {
    // JSON only: keys that are parameters are nuisances, the others groups (and "stat")
    const groupNames: string[] = [];
    for (const [t, row] of Object.entries(json.impacts)) {
      targetSet.add(t);
      for (const key of Object.keys(row)) if (!index.has(key) && !groupNames.includes(key)) groupNames.push(key);
    }
    const statLast = groupNames.filter((g) => g !== "stat").concat(groupNames.includes("stat") ? ["stat"] : []);
    grouped = { names: statLast, hessian: {}, global: {} };
    const fill = (src: Record<string, Record<string, number | null>> | undefined, type: "hessian" | "global"): void => {
      if (!src) return;
      for (const [t, row] of Object.entries(src)) {
        const col: (number | null)[] = new Array<number | null>(n).fill(null);
        for (const [key, v] of Object.entries(row)) {
          const i = index.get(key);
          if (i !== undefined) col[i] = finite(v);
        }
        (impacts[type] ??= {})[t] = symmetric(col);
        grouped![type][t] = statLast.map((g) => finite(row[g]));
      }
    };
    fill(json.impacts, "hessian");
    fill(json.global_impacts, "global");
  }
  if (json.refit_impacts) {
    for (const [t, row] of Object.entries(json.refit_impacts)) {
      targetSet.add(t);
      const up: (number | null)[] = new Array<number | null>(n).fill(null);
      const down: (number | null)[] = new Array<number | null>(n).fill(null);
      for (const [key, v] of Object.entries(row)) {
        const i = index.get(key);
        if (i === undefined || v === null || typeof v !== "object") continue;
        up[i] = finite(v.up);
        down[i] = finite(v.down);
      }
      (impacts.refit ??= {})[t] = { up, down };
    }
  }
  // targets in parameter order (POIs, then NOIs)
  const targets = names.filter((nm) => targetSet.has(nm)).concat([...targetSet].filter((t) => !index.has(t)));
  return {
    label,
    names,
    kinds: params.map((p) => p.kind),
    value: params.map((p) => finite(p.value)),
    error: params.map((p) => finite(p.error)),
    prefit: params.map((p) => finite(p.prefit)),
    prefitError: params.map((p) => finite(p.prefitError)),
    frozen: params.map((p) => p.frozen === true),
    minos: params.map((p) => (p.minos ? { lower: finite(p.minos.lower), upper: finite(p.minos.upper) } : null)),
    targets,
    impacts,
    grouped,
  };
}
