/**
 * `histmaker inspect FILE.root`: the trees of a ROOT file with their entries, and each tree's
 * branches with the type the reader delivers (a quick TTree::Print), then the file's histograms
 * (TH1/TH2/TH3: bins, entries, sum). `--json` for scripts.
 */
import type { Command } from "commander";
import { listHistograms, readHistogram } from "../root/histograms.js";
import { RootFile } from "../root/RootFile.js";
import type { BranchInfo } from "../root/TTreeReader.js";

interface InspectOptions {
  tree?: string;
  json?: boolean;
}

export interface TreeListing {
  name: string;
  entries: number;
  /** compression of the first stored basket: "zlib", "lz4", "lzma", "zstd", "none", or "embedded" (all data in the tree record) */
  compression: string;
  branches: BranchInfo[];
}

/** Trees (all, or just `only`) with their branches. */
export async function inspectRootFile(path: string, only?: string): Promise<TreeListing[]> {
  const file = await RootFile.open(path);
  try {
    const names = only !== undefined ? [only] : file.trees().map((t) => t.name);
    const out: TreeListing[] = [];
    for (const name of names) {
      const t = file.tree(name);
      const branches = t.branches();
      let compression = "embedded";
      for (const b of t.readableBranchNames()) {
        const c = await t.compression(b);
        if (c !== "embedded") {
          compression = c === "none" ? c : [...new Set(c)].join("+");
          break;
        }
      }
      out.push({ name, entries: t.entries, compression, branches });
    }
    return out;
  } finally {
    file.close();
  }
}

export interface HistogramListing {
  /** "dir/name" */
  name: string;
  className: string;
  title: string;
  /** bins per axis, flow excluded */
  bins: number[];
  entries: number;
  /** sum of all cells, flow bins included */
  sum: number;
}

/** The TH1/TH2/TH3 histograms of a ROOT file (histmaker export writes them). */
export async function inspectHistograms(path: string): Promise<HistogramListing[]> {
  const file = await RootFile.open(path);
  try {
    const out: HistogramListing[] = [];
    for (const o of listHistograms(file)) {
      const h = await readHistogram(file, o.name);
      out.push({ name: o.name, className: o.className, title: h.title, bins: h.axes.map((a) => a.nbins), entries: h.entries, sum: h.contents.reduce((a, b) => a + b, 0) });
    }
    return out;
  } finally {
    file.close();
  }
}

/** Aligned text table of histograms. */
export function formatHistograms(hists: HistogramListing[]): string {
  if (hists.length === 0) return "";
  const rows = hists.map((h) => [h.name, h.className, h.bins.join("×"), h.entries.toPrecision(6), h.sum.toPrecision(6), clip(h.title, 50)]);
  const head = ["histogram", "class", "bins", "entries", "sum (flow incl.)", "title"];
  const width = head.map((c, i) => Math.min(48, Math.max(c.length, ...rows.map((r) => r[i].length))));
  const fmt = (r: string[]): string => `  ${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(width[i]))).join("  ").trimEnd()}`;
  return `\n${hists.length} histograms\n${[fmt(head), ...rows.map(fmt)].join("\n")}\n`;
}

function clip(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

/** Aligned text table: one block per tree. */
export function formatListing(path: string, trees: TreeListing[]): string {
  const lines: string[] = [path];
  if (trees.length === 0) lines.push("  (no TTrees)");
  for (const t of trees) {
    lines.push("", `TTree ${t.name}: ${t.entries} entries, ${t.branches.length} branches, baskets ${t.compression}`);
    const rows = t.branches.map((b) => [b.name, b.type, b.countBranch ?? "", clip(b.title ?? "", 70)]);
    const head = ["branch", "type", "count", "title"];
    // a few very long names (NanoAOD trigger bits) overflow their cell instead of widening every row
    const width = head.map((h, i) => Math.min(40, Math.max(h.length, ...rows.map((r) => r[i].length))));
    const fmt = (r: string[]): string =>
      `  ${r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(width[i])))
        .join("  ")
        .trimEnd()}`;
    lines.push(fmt(head));
    for (const r of rows) lines.push(fmt(r));
  }
  return `${lines.join("\n")}\n`;
}

export function registerInspect(program: Command): void {
  program
    .command("inspect")
    .description("list the TTrees of a ROOT file (entries, branches and their types) and its TH1/TH2/TH3 histograms")
    .argument("<file>", "ROOT file")
    .option("--tree <name>", "only this tree")
    .option("--json", "print JSON instead of a table")
    .action(async (path: string, opts: InspectOptions) => {
      const trees = await inspectRootFile(path, opts.tree);
      // histograms (e.g. from `histmaker export --root`) are listed unless one tree was asked for
      const histograms = opts.tree === undefined ? await inspectHistograms(path) : [];
      process.stdout.write(
        opts.json
          ? `${JSON.stringify({ file: path, trees, ...(opts.tree === undefined ? { histograms } : {}) }, null, 2)}\n`
          : formatListing(path, trees) + formatHistograms(histograms),
      );
    });
}
