/**
 * `histmaker inspect` and `histmaker hist` on the real ROOT files (skipped when ../shared is absent):
 * the table and JSON listings, histograms checked bin by bin against a plain loop over the columns
 * (read with the reader that tests/rootReader.test.ts checks against jsroot), the HDF5 layout read
 * back with h5wasm directly, and user errors (one line, exit 2, no output file).
 */
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import h5wasm from "h5wasm/node";
import { main } from "../src/cli/histmaker.js";
import { isJagged, type Column, type NumericArray } from "../src/histmaker/events.js";
import { RootFile } from "../src/histmaker/root/RootFile.js";
import { parseRange } from "../src/histmaker/commands/hist.js";
import { runCommand } from "./helpers/cli.js";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "..");
const dataDir = resolve(here, "../../shared/data/root");
const haveData = existsSync(join(dataDir, "uproot-Zmumu.root"));
if (!haveData) console.log(`skipping histmaker inspect/hist tests on ROOT files: ${dataDir} not found`);
const file = (name: string): string => join(dataDir, name);
const work = mkdtempSync(join(tmpdir(), "histcli-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());
const runMain = (args: string[]) => runCommand(main, "histmaker", args);


async function column(path: string, tree: string, branch: string): Promise<Column> {
  const rf = await RootFile.open(path);
  try {
    let out: Column | undefined;
    for await (const ch of rf.tree(tree).iterate({ branches: [branch], chunkEntries: 1e9 })) out = ch.columns[branch];
    if (!out) throw new Error("no chunk");
    return out;
  } finally {
    rf.close();
  }
}

/** Expected [underflow, bins..., overflow] sums of w and w² by a plain loop. */
function expected(values: number[], weights: number[] | null, bins: number, lo: number, hi: number): { sumw: number[]; sumw2: number[] } {
  const sumw = new Array<number>(bins + 2).fill(0);
  const sumw2 = new Array<number>(bins + 2).fill(0);
  values.forEach((x, i) => {
    const w = weights ? weights[i] : 1;
    const b = x < lo ? 0 : x >= hi ? bins + 1 : 1 + Math.floor(((x - lo) / (hi - lo)) * bins);
    sumw[b] += w;
    sumw2[b] += w * w;
  });
  return { sumw, sumw2 };
}

async function readH5(path: string, name: string): Promise<{ values: number[]; variances: number[] | null; meta: Record<string, unknown> }> {
  await h5wasm.ready;
  const f = new h5wasm.File(path, "r");
  try {
    const g = f.get(name) as InstanceType<typeof h5wasm.Group>;
    const values = Array.from((g.get("values") as InstanceType<typeof h5wasm.Dataset>).value as Float64Array);
    const vds = g.get("variances");
    const variances = vds ? Array.from((vds as InstanceType<typeof h5wasm.Dataset>).value as Float64Array) : null;
    const meta = JSON.parse(String(g.attrs["meta_json"].value)) as Record<string, unknown>;
    return { values, variances, meta };
  } finally {
    f.close();
  }
}

const nums = (a: NumericArray): number[] => Array.from(a as ArrayLike<number | bigint>, Number);

describe.skipIf(!haveData)("histmaker inspect", () => {
  it("prints trees, entries and a branch table", async () => {
    const r = await runMain(["inspect", file("uproot-HZZ.root")]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("TTree events: 2421 entries, 51 branches");
    expect(r.stdout).toMatch(/^\s+branch\s+type\s+count\s+title$/m);
    expect(r.stdout).toMatch(/^\s+Muon_Px\s+float\[\]\s+NMuon\s+Muon_Px\[NMuon\]\/F$/m);
    expect(r.stdout).toMatch(/^\s+NMuon\s+int32\s+NMuon\/I$/m);
    expect(r.stdout).toMatch(/^\s+triggerIsoMu24\s+bool\s+/m);
    const z = await runMain(["inspect", file("uproot-Zmumu-lzma.root")]);
    expect(z.stdout).toContain("TTree events: 2304 entries, 20 branches, baskets lzma");
    expect(z.stdout).toMatch(/^\s+Type\s+string\s+Type\/C$/m);
    expect(z.stdout).toMatch(/^\s+M\s+double\s+M\/D$/m);
  });

  it("--json lists every NanoAOD branch with its type and count branch", async () => {
    const r = await runMain(["inspect", file("nanoAOD_2015_CMS_Open_Data_ttbar.root"), "--json", "--tree", "Events"]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { trees: { name: string; entries: number; branches: { name: string; type: string; countBranch?: string }[] }[] };
    expect(j.trees).toHaveLength(1);
    // most NanoAOD baskets sit inside the tree record; the few stored on their own are zlib
    expect(j.trees[0]).toMatchObject({ name: "Events", entries: 200, compression: "zlib" });
    expect(j.trees[0].branches).toHaveLength(947);
    const byName = Object.fromEntries(j.trees[0].branches.map((b) => [b.name, b]));
    expect(byName.Muon_pt).toMatchObject({ type: "float[]", countBranch: "nMuon" });
    expect(byName.nMuon.type).toBe("uint32");
  });

  it("user errors: one line, exit 2", async () => {
    for (const [args, re] of [
      [["inspect", join(work, "none.root")], /none\.root: cannot open/],
      [["inspect", file("uproot-HZZ.root"), "--tree", "Events"], /no TTree named 'Events'/],
      [["inspect", join(repo, "package.json")], /package\.json: not a ROOT file/],
    ] as [string[], RegExp][]) {
      const r = await runMain(args);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(re);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
    }
  });

  it.skipIf(!existsSync(join(repo, "dist/src/cli/histmaker.js")))("runs as bin/histmaker.js", () => {
    const p = spawnSync(process.execPath, [join(repo, "bin/histmaker.js"), "inspect", file("uproot-Zmumu-zstd.root")], { encoding: "utf8" });
    expect(p.status, p.stderr).toBe(0);
    expect(p.stdout).toContain("TTree events: 2304 entries, 20 branches");
  });
});

describe.skipIf(!haveData)("histmaker hist", () => {
  it("histograms a flat branch bin by bin like a plain loop (unweighted)", async () => {
    const out = join(work, "m.hdf5");
    const r = await runMain(["hist", file("uproot-Zmumu-lz4.root"), "--tree", "events", "--var", "M", "--bins", "30", "--range", "60,120", "-o", out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/2304 events, 2304 values/);
    const m = nums((await column(file("uproot-Zmumu-lz4.root"), "events", "M")) as NumericArray);
    const exp = expected(m, null, 30, 60, 120);
    const h = await readH5(out, "M");
    expect(h.values).toEqual(exp.sumw);
    expect(h.values.reduce((a, b) => a + b, 0)).toBe(2304);
    expect(h.meta).toMatchObject({ storage: "double", shape: [32] });
    const axis = (h.meta.axes as { type: string; bins: number; lower: number; upper: number; name: string }[])[0];
    expect(axis).toMatchObject({ type: "regular", bins: 30, lower: 60, upper: 120, name: "M" });
    expect(readdirSync(work).filter((f) => f.includes(".tmp-"))).toEqual([]);
  });

  it("fills every element of a jagged branch, repeating a per-event weight", async () => {
    const out = join(work, "px.hdf5");
    const r = await runMain(["hist", file("uproot-HZZ-zstd.root"), "--var", "Muon_Px", "--bins", "20", "--range=-100,100", "--weight", "MET_px", "--name", "muon_px", "--chunk", "300", "-o", out]);
    expect(r.code, r.stderr).toBe(0);
    const px = await column(file("uproot-HZZ-zstd.root"), "events", "Muon_Px");
    const met = nums((await column(file("uproot-HZZ-zstd.root"), "events", "MET_px")) as NumericArray);
    if (!isJagged(px)) throw new Error("Muon_Px should be jagged");
    const vals: number[] = [];
    const ws: number[] = [];
    for (let i = 0; i + 1 < px.offsets.length; i++) {
      for (let k = px.offsets[i]; k < px.offsets[i + 1]; k++) {
        vals.push(Number(px.values[k]));
        ws.push(met[i]);
      }
    }
    expect(vals).toHaveLength(3825);
    const exp = expected(vals, ws, 20, -100, 100);
    const h = await readH5(out, "muon_px");
    expect(h.meta).toMatchObject({ storage: "weighted" });
    h.values.forEach((v, i) => expect(v).toBeCloseTo(exp.sumw[i], 6));
    h.variances!.forEach((v, i) => expect(v).toBeCloseTo(exp.sumw2[i], 4));
  });

  it("reads NanoAOD muons from embedded baskets", async () => {
    const out = join(work, "nano.hdf5");
    const r = await runMain(["hist", file("nanoAOD_2015_CMS_Open_Data_ttbar.root"), "--var", "Muon_pt", "--bins", "10", "--range", "0,100", "-o", out]);
    expect(r.code, r.stderr).toBe(0);
    const h = await readH5(out, "Muon_pt");
    expect(h.values.reduce((a, b) => a + b, 0)).toBe(41); // jsroot: 41 muons in 200 events
    expect(h.values[11]).toBe(0); // the largest muon pt is 92.3 (jsroot)
  });

  it("user errors: one line, exit 2, no output written", async () => {
    const out = join(work, "never.hdf5");
    const base = [file("uproot-Zmumu.root"), "-o", out];
    const cases: [string[], RegExp][] = [
      [["hist", ...base, "--var", "M", "--bins", "0", "--range", "0,1"], /--bins: expected an integer >= 1/],
      [["hist", ...base, "--var", "M", "--bins", "10", "--range", "5,1"], /--range: expected LO,HI/],
      [["hist", ...base, "--var", "M", "--bins", "10", "--range", "a,b"], /--range/],
      [["hist", ...base, "--var", "Mass", "--bins", "10", "--range", "0,1"], /no branch 'Mass'/],
      [["hist", ...base, "--var", "Type", "--bins", "10", "--range", "0,1"], /branch 'Type' is of type string/],
      [["hist", ...base, "--var", "M", "--bins", "10", "--range", "0,1", "--tree", "T"], /no TTree named 'T'/],
      [["hist", ...base, "--var", "M", "--bins", "10", "--range", "0,1", "--weight", "W"], /no branch 'W'/],
      [["hist", ...base, "--var", "M", "--bins", "10"], /range/],
      [["hist", join(work, "none.root"), "-o", out, "--var", "M", "--bins", "10", "--range", "0,1"], /none\.root: cannot open/],
    ];
    for (const [args, re] of cases) {
      const r = await runMain(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr, args.join(" ")).toMatch(re);
      expect(r.stderr.trim().split("\n"), args.join(" ")).toHaveLength(1);
    }
    const jagW = await runMain(["hist", file("uproot-HZZ.root"), "-o", out, "--var", "MET_px", "--bins", "5", "--range", "0,1", "--weight", "Muon_E"]);
    expect(jagW.code).toBe(2);
    expect(jagW.stderr).toMatch(/--weight Muon_E is jagged/);
    expect(existsSync(out)).toBe(false);
  });

  it("parseRange accepts LO,HI and refuses everything else", () => {
    expect(parseRange("-5,5")).toEqual([-5, 5]);
    expect(parseRange(" 0 , 1e3 ")).toEqual([0, 1000]);
    for (const bad of ["1", "1,2,3", "2,1", "1,1", ",1", "0,inf", "x,1"]) expect(() => parseRange(bad)).toThrow(/--range/);
  });
});
