/**
 * `histmaker inspect FILE.root`: the trees of a ROOT file with their entries, and each tree's
 * branches with the type the reader delivers (a quick TTree::Print). `--json` for scripts.
 */
import type { Command } from "commander";
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
    .description("list the TTrees of a ROOT file: entries, branches and their types")
    .argument("<file>", "ROOT file")
    .option("--tree <name>", "only this tree")
    .option("--json", "print JSON instead of a table")
    .action(async (path: string, opts: InspectOptions) => {
      const trees = await inspectRootFile(path, opts.tree);
      process.stdout.write(opts.json ? `${JSON.stringify({ file: path, trees }, null, 2)}\n` : formatListing(path, trees));
    });
}
