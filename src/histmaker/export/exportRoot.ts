/**
 * `histmaker export --root`: a run output's histograms as ROOT TH1D/TH2D/TH3D, laid out for Combine
 * shape datacards (`shapes * <channel> file.root <histogram>/$PROCESS <histogram>/$PROCESS_$SYSTEMATIC`):
 *
 *   <histogram>/<dataset>                        a histogram without a tensor axis
 *   <histogram>__<region>/<dataset>              a per-region histogram (`name::region` in the run
 *                                                output: ':' separates file and path in ROOT paths)
 *   <histogram>/<dataset>_<tensor><i>            tensor entry i (default, "each")
 *   <histogram>/<dataset>_<tensor><i>Up / Down   entries 2i / 2i+1 (histograms named in `pairs`);
 *                                                a tensor of size 2 gives <dataset>_<tensor>Up / Down
 *
 * Every ROOT axis has under/overflow bins: a hist axis without them gets zeros there. Category axes
 * become labelled bins 1..n (fLabels, the category names; integer categories as their decimal text)
 * on [0, n], their "other" bin the overflow. fSumw2 holds the stored variances (the Poisson values
 * for unweighted storage), times scale². Statistics: fTsumw, fTsumw2, fTsumwx... over the in-range
 * bins at bin centres (what ROOT's TH1::GetStats recomputes from contents); fEntries is the effective
 * number of entries (Σw)²/Σw² over all bins, which is the fill count for unit weights and does not
 * change with the σ×L scale. With `unroll`, every histogram becomes a TH1D over its in-range bins
 * (Combine fits 1-D shapes), row-major: last axis fastest, as numpy's flatten.
 */
import { UserError } from "../../errors.js";
import { type Axis, axisBins, axisEdges, axisExtent, regular } from "../axes.js";
import { Hist } from "../Hist.js";
import type { RunOutput } from "../runOutput.js";
import { REGION_SEPARATOR } from "../runner.js";
import { type RootAxis, type THObject, streamStreamerInfoList, streamTH, streamerClasses, thClassName } from "./th.js";
import { type RootObjectEntry, writeRootFile } from "./rootFileWriter.js";

export interface ExportOptions {
  /** multiply by the σ·L/Σw scale of each dataset (default true) */
  scaled?: boolean;
  datasets?: string[];
  histograms?: string[];
  /** histogram → axes to project onto before export (the tensor axis is kept) */
  project?: Record<string, string[]>;
  /** histograms whose tensor axis holds up/down pairs (2i, 2i+1); "*" for all */
  pairs?: string[];
  /** zlib level, 0 = uncompressed (default 1) */
  compression?: number;
  /** write every histogram as a TH1D over its in-range bins, row-major (last axis fastest) */
  unroll?: boolean;
}

export interface ExportedHistogram {
  path: string;
  className: string;
  dataset: string;
  histogram: string;
  scale: number;
}

function rootAxis(ax: Axis): RootAxis {
  const title = ax.label && ax.label.length > 0 ? ax.label : ax.name;
  const n = axisBins(ax);
  switch (ax.type) {
    case "category_int":
      return { title, nbins: n, xmin: 0, xmax: n, edges: null, labels: ax.categories.map(String) };
    case "category_str":
      return { title, nbins: n, xmin: 0, xmax: n, edges: null, labels: [...ax.categories] };
    case "variable":
      return { title, nbins: n, xmin: ax.edges[0], xmax: ax.edges[n], edges: [...ax.edges], labels: null };
    default: {
      const e = axisEdges(ax);
      return { title, nbins: n, xmin: e[0], xmax: e[n], edges: null, labels: null };
    }
  }
}

/** For each ROOT bin index 0..n+1 of an axis, the hist's index along that axis (-1: no such bin). */
function binMap(ax: Axis): Int32Array {
  const n = axisBins(ax);
  const m = new Int32Array(n + 2).fill(-1);
  const off = ax.underflow ? 1 : 0;
  if (ax.underflow) m[0] = 0;
  for (let i = 1; i <= n; i++) m[i] = i - 1 + off;
  if (ax.overflow) m[n + 1] = axisExtent(ax) - 1;
  return m;
}

function centres(ax: RootAxis): Float64Array {
  const c = new Float64Array(ax.nbins + 2);
  for (let i = 1; i <= ax.nbins; i++) {
    c[i] = ax.edges ? 0.5 * (ax.edges[i - 1] + ax.edges[i]) : ax.xmin + ((i - 0.5) * (ax.xmax - ax.xmin)) / ax.nbins;
  }
  return c;
}

/**
 * One TH object per tensor entry `k` of `h` (k = 0 without a tensor), scaled by `scale`.
 * `h` must have 1 to 3 axes.
 */
export function toTH(h: Hist, k: number, scale: number, name: string, title: string): THObject {
  const axes = h.axes;
  const dim = axes.length as 1 | 2 | 3;
  const raxes = axes.map(rootAxis);
  const maps = axes.map(binMap);
  const ext = axes.map(axisExtent);
  const K = h.tensorSize;
  const values = h.values({ flow: true });
  const variances = h.variances({ flow: true });
  const n = [0, 1, 2].map((a) => (a < dim ? raxes[a].nbins + 2 : 1));
  const cells = n[0] * n[1] * n[2];
  const contents = new Float64Array(cells);
  const sumw2 = new Float64Array(cells);
  const cx = raxes.map(centres);
  // variances × s², as runOutput.scaled computes them
  const scale2 = scale * scale;
  let sw = 0;
  let sw2All = 0;
  let tsumw = 0;
  let tsumw2 = 0;
  const m = { tsumwx: 0, tsumwx2: 0, tsumwy: 0, tsumwy2: 0, tsumwxy: 0, tsumwz: 0, tsumwz2: 0, tsumwxz: 0, tsumwyz: 0 };
  for (let iz = 0; iz < n[2]; iz++) {
    for (let iy = 0; iy < n[1]; iy++) {
      for (let ix = 0; ix < n[0]; ix++) {
        const rootIdx = ix + n[0] * (iy + n[1] * iz);
        const idx = [ix, iy, iz];
        let flat = 0;
        let present = true;
        for (let a = 0; a < dim; a++) {
          const j = maps[a][idx[a]];
          if (j < 0) {
            present = false;
            break;
          }
          flat = flat * ext[a] + j;
        }
        if (!present) continue;
        const v = values[flat * K + k];
        const w2 = variances[flat * K + k];
        contents[rootIdx] = v * scale;
        sumw2[rootIdx] = w2 * scale2;
        sw += v;
        sw2All += w2;
        let inRange = true;
        for (let a = 0; a < dim; a++) if (idx[a] === 0 || idx[a] === raxes[a].nbins + 1) inRange = false;
        if (!inRange) continue;
        const w = v * scale;
        const x = cx[0][ix];
        tsumw += w;
        tsumw2 += w2 * scale2;
        m.tsumwx += w * x;
        m.tsumwx2 += w * x * x;
        if (dim >= 2) {
          const y = cx[1][iy];
          m.tsumwy += w * y;
          m.tsumwy2 += w * y * y;
          m.tsumwxy += w * x * y;
          if (dim === 3) {
            const z = cx[2][iz];
            m.tsumwz += w * z;
            m.tsumwz2 += w * z * z;
            m.tsumwxz += w * x * z;
            m.tsumwyz += w * y * z;
          }
        }
      }
    }
  }
  const entries = sw2All > 0 ? (sw * sw) / sw2All : 0;
  return { dim, name, title, axes: raxes, contents, sumw2, stats: { entries, tsumw, tsumw2, moments: m } };
}

/**
 * Combine fits 1-D shapes: the in-range bins of all axes laid out as one axis 0..N, in the hist's
 * row-major order (last axis fastest, numpy's `h.values().flatten()`); flow bins are dropped.
 * The tensor axis is kept.
 */
export function unrolled(h: Hist): Hist {
  const axes = h.axes;
  const n = axes.reduce((p, a) => p * axisBins(a), 1);
  const label = `${axes.map((a) => a.name).join(" x ")} (unrolled, last axis fastest)`;
  const axis = regular(n, 0, n, { name: "unrolled", label, underflow: false, overflow: false });
  return Hist.fromArrays([axis], { storage: "weighted", ...(h.tensor ? { tensor: h.tensor } : {}) }, h.values(), h.variances());
}

/** Names of the TH objects for one dataset × histogram, with the tensor entry each takes. */
export function variationNames(dataset: string, h: Hist, histName: string, pairs: boolean): { name: string; k: number }[] {
  if (!h.tensor) return [{ name: dataset, k: 0 }];
  const t = h.tensor;
  if (!pairs) return Array.from({ length: t.size }, (_, k) => ({ name: `${dataset}_${t.name}${k}`, k }));
  if (t.size % 2 !== 0) throw new UserError(`export: histogram "${histName}" tensor axis "${t.name}" has ${t.size} entries, pairs (up, down) need an even number`);
  const out: { name: string; k: number }[] = [];
  // one pair is one systematic named after the tensor axis (Combine's $PROCESS_$SYSTEMATICUp/Down)
  const tag = (i: number): string => (t.size === 2 ? t.name : `${t.name}${i}`);
  for (let i = 0; i < t.size / 2; i++) out.push({ name: `${dataset}_${tag(i)}Up`, k: 2 * i }, { name: `${dataset}_${tag(i)}Down`, k: 2 * i + 1 });
  return out;
}

function pick(all: string[], wanted: string[] | undefined, what: string, file: string): string[] {
  if (!wanted) return all;
  for (const w of wanted) if (!all.includes(w)) throw new UserError(`${file}: no ${what} "${w}" (${what}s: ${all.join(", ") || "none"})`);
  return all.filter((a) => wanted.includes(a));
}

/** The ROOT directory of a histogram: `mll::SR` (one histogram per region) → `mll__SR`. */
export function rootDirectoryName(histogram: string): string {
  return histogram.split(REGION_SEPARATOR).join("__");
}

/** Converts and writes; returns what was written. Checks everything before writing anything. */
export function exportRunToRoot(run: RunOutput, input: string, output: string, opts: ExportOptions = {}): ExportedHistogram[] {
  const scaled = opts.scaled ?? true;
  const datasets = pick(Object.keys(run.hists), opts.datasets, "dataset", input);
  const allHistNames = [...new Set(Object.values(run.hists).flatMap((hs) => Object.keys(hs)))];
  const histograms = pick(allHistNames, opts.histograms, "histogram", input);
  const pairsAll = opts.pairs?.includes("*") ?? false;
  for (const p of opts.pairs ?? []) if (p !== "*" && !allHistNames.includes(p)) throw new UserError(`${input}: --pairs names no histogram "${p}" (histograms: ${allHistNames.join(", ")})`);
  for (const p of Object.keys(opts.project ?? {})) if (!allHistNames.includes(p)) throw new UserError(`${input}: --project names no histogram "${p}" (histograms: ${allHistNames.join(", ")})`);

  const dirs = new Map<string, string>();
  for (const hn of histograms) {
    const d = rootDirectoryName(hn);
    const other = dirs.get(d);
    if (other !== undefined) throw new UserError(`${input}: histograms "${other}" and "${hn}" would both be written to the ROOT directory "${d}"; export one of them (--histograms)`);
    dirs.set(d, hn);
  }

  const objects: RootObjectEntry[] = [];
  const written: ExportedHistogram[] = [];
  const dims = new Set<1 | 2 | 3>();
  for (const hn of histograms) {
    const dir = rootDirectoryName(hn);
    for (const ds of datasets) {
      let h = run.hists[ds]?.[hn];
      if (!h) continue;
      const proj = opts.project?.[hn];
      if (proj) {
        for (const a of proj) if (!h.axes.some((x) => x.name === a)) throw new UserError(`${input}: --project ${hn}: no axis "${a}" (axes: ${h.axes.map((x) => x.name).join(", ")})`);
        h = h.project(...proj);
      }
      if (opts.unroll && h.axes.length > 0) h = unrolled(h);
      const nd = h.axes.length;
      if (nd === 0 || nd > 3)
        throw new UserError(
          `${input}: histogram "${hn}" has ${nd} axes (${h.axes.map((x) => x.name).join(", ")}); ROOT histograms have 1 to 3 — pick axes with --project ${hn}=a,b or write it as 1-D with --unroll`,
        );
      const empty = h.axes.find((a) => axisBins(a) === 0);
      if (empty) throw new UserError(`${input}: histogram "${hn}" of ${ds}: axis "${empty.name}" has no bins (a growing category axis that saw no values); a ROOT axis needs at least one`);
      const scale = scaled ? (run.info.scales[ds] ?? 1) : 1;
      const pairs = pairsAll || (opts.pairs?.includes(hn) ?? false);
      for (const { name, k } of variationNames(ds, h, hn, pairs)) {
        const th = toTH(h, k, scale, name, `${hn} ${name}`);
        dims.add(th.dim);
        const className = thClassName(th.dim);
        objects.push({ dir, name, title: th.title, className, payload: streamTH(th) });
        written.push({ path: `${dir}/${name}`, className, dataset: ds, histogram: hn, scale });
      }
    }
  }
  if (objects.length === 0) throw new UserError(`${input}: nothing to export (no histogram of the selected datasets)`);
  writeRootFile(output, streamStreamerInfoList(streamerClasses(dims)), objects, { compression: opts.compression ?? 1, title: `histmaker export of ${input}` });
  return written;
}
