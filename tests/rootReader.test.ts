/**
 * The ROOT TTree reader on the real files in ../shared/data/root (skipped when absent).
 * Expected numbers marked "jsroot" were read independently with the ROOT project's own JavaScript
 * reader (jsroot 7.11.2, treeProcess/TSelector, installed in a scratch directory, not a dependency
 * of this project). The rest are internal consistency (all compressions give the same bytes, count
 * branches agree with jagged offsets, chunked reads equal whole reads) and physics sanity.
 */
import { afterAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { deflateSync } from "node:zlib";
import { UserError } from "../src/errors.js";
import { isJagged, type Column, type JaggedColumn, type NumericArray } from "../src/histmaker/events.js";
import { RootFile } from "../src/histmaker/root/RootFile.js";
import { decompressRoot } from "../src/histmaker/root/decompress.js";
import { decodeInto } from "../src/histmaker/root/leafTypes.js";

const here = dirname(fileURLToPath(import.meta.url));
const dataDir = resolve(here, "../../shared/data/root");
const haveData = existsSync(join(dataDir, "uproot-Zmumu.root"));
if (!haveData) console.log(`skipping ROOT file tests: ${dataDir} not found`);
const file = (name: string): string => join(dataDir, name);
const work = mkdtempSync(join(tmpdir(), "rootreader-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Reads whole branches by concatenating every chunk (offsets re-based). */
async function readAll(path: string, tree: string, branches: string[], opts: { chunkEntries?: number; start?: number; stop?: number } = {}): Promise<Record<string, Column>> {
  const rf = await RootFile.open(path);
  try {
    const parts: Record<string, Column[]> = {};
    for await (const chunk of rf.tree(tree).iterate({ branches, ...opts })) {
      for (const b of branches) (parts[b] ??= []).push(chunk.columns[b]);
    }
    const out: Record<string, Column> = {};
    for (const b of branches) out[b] = concat(parts[b] ?? []);
    return out;
  } finally {
    rf.close();
  }
}

function concatValues(arrs: NumericArray[]): NumericArray {
  const total = arrs.reduce((a, x) => a + x.length, 0);
  const Ctor = arrs[0].constructor as new (n: number) => NumericArray;
  const out = new Ctor(total);
  let at = 0;
  for (const a of arrs) {
    (out as unknown as { set(a: NumericArray, at: number): void }).set(a, at);
    at += a.length;
  }
  return out;
}

function concat(cols: Column[]): Column {
  if (!isJagged(cols[0])) return concatValues(cols as NumericArray[]);
  const js = cols as JaggedColumn[];
  const n = js.reduce((a, c) => a + c.offsets.length - 1, 0);
  const offsets = new Int32Array(n + 1);
  let e = 0;
  let base = 0;
  for (const c of js) {
    for (let i = 1; i < c.offsets.length; i++) offsets[++e] = base + c.offsets[i];
    base += c.offsets[c.offsets.length - 1];
  }
  return { offsets, values: concatValues(js.map((c) => c.values)) };
}

const num = (a: NumericArray): number[] => Array.from(a as ArrayLike<number | bigint>, Number);
const sum = (a: NumericArray): number => num(a).reduce((s, x) => s + x, 0);
const flat = (c: Column): NumericArray => {
  if (isJagged(c)) throw new Error("expected a flat column");
  return c;
};
const jag = (c: Column): JaggedColumn => {
  if (!isJagged(c)) throw new Error("expected a jagged column");
  return c;
};
const entry = (c: JaggedColumn, i: number): number[] => num(c.values.subarray(c.offsets[i], c.offsets[i + 1]) as NumericArray);
const text = (c: JaggedColumn, i: number): string => Buffer.from(c.values.subarray(c.offsets[i], c.offsets[i + 1]) as Uint8Array).toString("latin1");

function expectSameColumn(a: Column, b: Column, what: string): void {
  if (isJagged(a)) {
    expect(isJagged(b), what).toBe(true);
    expect(Array.from(a.offsets), what).toEqual(Array.from((b as JaggedColumn).offsets));
    expect(num(a.values), what).toEqual(num((b as JaggedColumn).values));
  } else {
    expect(a.constructor, what).toBe(b.constructor);
    expect(num(a), what).toEqual(num(b as NumericArray));
  }
}

const ZMUMU = ["uproot-Zmumu.root", "uproot-Zmumu-lz4.root", "uproot-Zmumu-lzma.root", "uproot-Zmumu-zstd.root", "uproot-Zmumu-uncompressed.root"];
const ZMUMU_ALGO: Record<string, string> = {
  "uproot-Zmumu.root": "zlib",
  "uproot-Zmumu-lz4.root": "lz4",
  "uproot-Zmumu-lzma.root": "lzma",
  "uproot-Zmumu-zstd.root": "zstd",
  "uproot-Zmumu-uncompressed.root": "none",
};

describe.skipIf(!haveData)("Zmumu (flat branches) in every compression", () => {
  it("lists the tree, its entries and branch types", async () => {
    const rf = await RootFile.open(file("uproot-Zmumu.root"));
    expect(rf.trees()).toEqual([{ name: "events", entries: 2304 }]);
    const t = rf.tree("events");
    expect(t.entries).toBe(2304);
    const types = Object.fromEntries(t.branches().map((b) => [b.name, b.type]));
    expect(Object.keys(types)).toHaveLength(20);
    // leaf titles (jsroot): Type/C, Run/I, Q1/I, E1/D, pt1/D, M/D
    expect(types).toMatchObject({ Type: "string", Run: "int32", Q1: "int32", E1: "double", pt1: "double", M: "double" });
    rf.close();
  });

  it("each file really uses its compression algorithm", async () => {
    for (const f of ZMUMU) {
      const rf = await RootFile.open(file(f));
      const c = await rf.tree("events").compression("pt1");
      rf.close();
      const algos = c === "none" || c === "embedded" ? c : [...new Set(c)].join(",");
      expect(algos, f).toBe(ZMUMU_ALGO[f]);
    }
  });

  it("gives byte-identical columns for all 20 branches in all 5 files", async () => {
    const rf = await RootFile.open(file("uproot-Zmumu-uncompressed.root"));
    const names = rf.tree("events").branches().map((b) => b.name);
    rf.close();
    const ref = await readAll(file("uproot-Zmumu-uncompressed.root"), "events", names);
    for (const f of ZMUMU.slice(0, 4)) {
      const got = await readAll(file(f), "events", names, { chunkEntries: 1000 });
      for (const n of names) expectSameColumn(got[n], ref[n], `${f} ${n}`);
    }
  });

  it("matches values read independently by jsroot", async () => {
    for (const f of ZMUMU) {
      const c = await readAll(file(f), "events", ["pt1", "M", "Run", "Event", "Q1", "E1", "px1", "Type"]);
      const pt1 = flat(c.pt1);
      expect(pt1).toBeInstanceOf(Float64Array);
      expect(pt1.length).toBe(2304);
      expect(sum(pt1)).toBeCloseTo(85373.34397200008, 6); // jsroot
      expect(sum(flat(c.M))).toBeCloseTo(184794.47122814792, 6); // jsroot
      expect(num(pt1).slice(0, 3)).toEqual([44.7322, 38.8311, 38.8311]); // jsroot
      expect(num(flat(c.M)).slice(0, 3)).toEqual([82.4626915551, 83.6262040052, 83.3084646667]); // jsroot
      expect(flat(c.M)[2303]).toBe(96.6567276544); // jsroot, last entry
      expect(flat(c.Run)).toBeInstanceOf(Int32Array);
      expect(sum(flat(c.Run))).toBe(341061976); // jsroot
      expect(sum(flat(c.Event))).toBe(663353166678); // jsroot
      expect(sum(flat(c.Q1))).toBe(60); // jsroot
      expect(sum(flat(c.E1))).toBeCloseTo(134886.24160576644, 6); // jsroot
      expect(sum(flat(c.px1))).toBeCloseTo(-151.26487857544265, 8); // jsroot
      const type = jag(c.Type);
      expect([0, 1, 2].map((i) => text(type, i))).toEqual(["GT", "TT", "GT"]); // jsroot
      expect(text(type, 2303)).toBe("GG"); // jsroot
    }
  });

  it("is physically consistent: pt = hypot(px, py) for tracker muons, M = invariant mass of the pair", async () => {
    const c = await readAll(file("uproot-Zmumu-zstd.root"), "events", ["Type", "E1", "px1", "py1", "pz1", "pt1", "E2", "px2", "py2", "pz2", "M"]);
    const v = Object.fromEntries(Object.entries(c).filter(([k]) => k !== "Type").map(([k, col]) => [k, flat(col)])) as Record<string, Float64Array>;
    const type = jag(c.Type);
    let worstTrackerPt = 0;
    let consistentPt = 0;
    let worstM = 0;
    for (let i = 0; i < 2304; i++) {
      const dpt = Math.abs(Math.hypot(v.px1[i], v.py1[i]) - v.pt1[i]);
      // Type's first letter is muon 1's kind: for global muons ("G") pt can come from another fit
      if (text(type, i)[0] === "T") worstTrackerPt = Math.max(worstTrackerPt, dpt);
      if (dpt < 1e-6) consistentPt++;
      const E = v.E1[i] + v.E2[i];
      const px = v.px1[i] + v.px2[i];
      const py = v.py1[i] + v.py2[i];
      const pz = v.pz1[i] + v.pz2[i];
      const m = Math.sqrt(Math.max(0, E * E - px * px - py * py - pz * pz));
      worstM = Math.max(worstM, Math.abs(m - v.M[i]) / v.M[i]);
    }
    expect(worstTrackerPt).toBeLessThan(1e-6);
    expect(consistentPt / 2304).toBeGreaterThan(0.75);
    expect(worstM).toBeLessThan(1e-6);
  });
});

describe.skipIf(!haveData)("HZZ (jagged branches), zlib and zstd", () => {
  const branches = ["NMuon", "Muon_Px", "Muon_E", "Muon_Charge", "NJet", "Jet_Px", "Jet_ID", "MET_px", "triggerIsoMu24"];

  it("describes jagged branches with their count branch", async () => {
    const rf = await RootFile.open(file("uproot-HZZ.root"));
    const t = rf.tree("events");
    const info = Object.fromEntries(t.branches().map((b) => [b.name, b]));
    expect(t.branches()).toHaveLength(51);
    expect(info.Muon_Px).toMatchObject({ type: "float[]", jagged: true, countBranch: "NMuon" });
    expect(info.Jet_ID).toMatchObject({ type: "bool[]", jagged: true, countBranch: "NJet" });
    expect(info.Muon_Charge).toMatchObject({ type: "int32[]", countBranch: "NMuon" });
    expect(info.NMuon).toMatchObject({ type: "int32", jagged: false });
    expect(info.triggerIsoMu24).toMatchObject({ type: "bool", jagged: false });
    rf.close();
  });

  it("offsets agree with the count branches, values with jsroot, zstd with zlib", async () => {
    const z = await readAll(file("uproot-HZZ.root"), "events", branches, { chunkEntries: 500 });
    const s = await readAll(file("uproot-HZZ-zstd.root"), "events", branches);
    for (const b of branches) expectSameColumn(s[b], z[b], b);
    const nmu = num(flat(z.NMuon));
    const px = jag(z.Muon_Px);
    expect(px.values).toBeInstanceOf(Float32Array);
    expect(px.offsets.length).toBe(2422);
    for (let i = 0; i < 2421; i++) expect(px.offsets[i + 1] - px.offsets[i]).toBe(nmu[i]);
    expect(Array.from(jag(z.Muon_E).offsets)).toEqual(Array.from(px.offsets));
    const nj = num(flat(z.NJet));
    const jid = jag(z.Jet_ID);
    for (let i = 0; i < 2421; i++) expect(jid.offsets[i + 1] - jid.offsets[i]).toBe(nj[i]);
    expect(sum(flat(z.NMuon))).toBe(3825); // jsroot
    expect(px.values.length).toBe(3825); // jsroot
    expect(sum(px.values)).toBeCloseTo(-2506.0211019696435, 6); // jsroot
    expect(entry(px, 0)).toEqual([-52.89945602416992, 37.7377815246582]); // jsroot
    expect(entry(px, 1)).toEqual([-0.8164593577384949]); // jsroot
    expect(entry(px, 2420)).toEqual([23.913206100463867]); // jsroot
    expect(sum(jag(z.Muon_E).values)).toBeCloseTo(382567.08898067474, 5); // jsroot
    expect(sum(jag(z.Muon_Charge).values)).toBe(-49); // jsroot
    expect(jid.values).toBeInstanceOf(Uint8Array);
    expect(sum(jid.values)).toBe(2724); // jsroot
    expect(jid.values.length).toBe(2773); // jsroot
    expect(sum(jag(z.Jet_Px).values)).toBeCloseTo(3434.9179122354835, 5); // jsroot
    expect(sum(flat(z.MET_px))).toBeCloseTo(577.7299035903998, 6); // jsroot
    expect(sum(flat(z.triggerIsoMu24))).toBe(2421); // jsroot
  });
});

describe.skipIf(!haveData)("CMS NanoAOD (baskets embedded in the tree record)", () => {
  const nano = file("nanoAOD_2015_CMS_Open_Data_ttbar.root");

  it("lists 947 branches with NanoAOD types", async () => {
    const rf = await RootFile.open(nano);
    expect(rf.trees()).toEqual([{ name: "Events", entries: 200 }]);
    const t = rf.tree("Events");
    const info = Object.fromEntries(t.branches().map((b) => [b.name, b]));
    expect(t.branches()).toHaveLength(947);
    expect(info.run.type).toBe("uint32"); // run/i
    expect(info.event.type).toBe("uint64"); // event/l
    expect(info.Muon_pt).toMatchObject({ type: "float[]", countBranch: "nMuon" });
    expect(info.Muon_pt.title).toMatch(/pt/);
    expect(await t.compression("Muon_pt")).toBe("embedded");
    // LHEPdfWeight has two baskets with their own keys (zlib) and one embedded
    expect(await t.compression("LHEPdfWeight")).toContain("zlib");
    rf.close();
  });

  it("jagged muons agree with nMuon and with jsroot; 64-bit event numbers are exact", async () => {
    const c = await readAll(nano, "Events", ["nMuon", "Muon_pt", "Muon_eta", "Muon_charge", "event", "luminosityBlock", "nJet", "Jet_pt", "Jet_jetId"]);
    const nmu = num(flat(c.nMuon));
    const pt = jag(c.Muon_pt);
    for (let i = 0; i < 200; i++) expect(pt.offsets[i + 1] - pt.offsets[i]).toBe(nmu[i]);
    expect(sum(flat(c.nMuon))).toBe(41); // jsroot
    expect(sum(pt.values)).toBeCloseTo(1449.5771398544312, 4); // jsroot
    expect(Math.max(...num(pt.values))).toBe(92.31356048583984); // jsroot
    expect(sum(jag(c.Muon_eta).values)).toBeCloseTo(-5.310180187225342, 5); // jsroot
    expect(sum(jag(c.Muon_charge).values)).toBe(9); // jsroot
    const ev = flat(c.event);
    expect(ev).toBeInstanceOf(BigUint64Array);
    expect(Array.from(ev.subarray(0, 3) as BigUint64Array)).toEqual([227291401n, 227291402n, 227291406n]); // jsroot
    expect(sum(ev)).toBe(45458334441); // jsroot
    expect(sum(flat(c.luminosityBlock))).toBe(454583453); // jsroot
    const jet = jag(c.Jet_pt);
    expect(sum(flat(c.nJet))).toBe(537); // jsroot
    expect([0, 1, 2].map((i) => entry(jet, i))).toEqual([[17.921875, 15.734375], [37.875], [72.6875, 56.75, 19.15625, 16.703125]]); // jsroot
    expect(entry(jet, 199)).toEqual([44.4375, 25.21875, 18.53125, 17.6875, 15.484375]); // jsroot
    expect(sum(jet.values)).toBeCloseTo(16785.6171875, 3); // jsroot
    expect(sum(jag(c.Jet_jetId).values)).toBe(2700); // jsroot
  });

  it("reads a branch split over free and embedded baskets, in any chunking", async () => {
    const whole = await readAll(nano, "Events", ["nLHEPdfWeight", "LHEPdfWeight"]);
    const w = jag(whole.LHEPdfWeight);
    expect(w.values.length).toBe(20400); // jsroot
    expect(sum(w.values)).toBeCloseTo(20399.31078338623, 3); // jsroot
    expect(entry(w, 0).slice(0, 3)).toEqual([0.91485595703125, 0.965423583984375, 1.05450439453125]); // jsroot
    const n = num(flat(whole.nLHEPdfWeight));
    for (let i = 0; i < 200; i++) expect(w.offsets[i + 1] - w.offsets[i]).toBe(n[i]);
    // chunk boundaries that cut through baskets (they hold entries 0-75, 76-151, 152-199), and a sub-range
    const pieces = await readAll(nano, "Events", ["LHEPdfWeight", "nLHEPdfWeight", "Muon_pt"], { chunkEntries: 7, start: 13, stop: 190 });
    const p = jag(pieces.LHEPdfWeight);
    expect(p.offsets.length).toBe(178);
    expect(num(p.values)).toEqual(num(w.values.subarray(w.offsets[13], w.offsets[190]) as NumericArray));
    // every chunk's jagged offsets agree with the count branch read in the same chunk
    const rf = await RootFile.open(nano);
    for await (const ch of rf.tree("Events").iterate({ branches: ["nLHEPdfWeight", "LHEPdfWeight"], chunkEntries: 11, start: 5 })) {
      const counts = num(flat(ch.columns.nLHEPdfWeight));
      const o = jag(ch.columns.LHEPdfWeight).offsets;
      expect(o[0]).toBe(0);
      counts.forEach((c, i) => expect(o[i + 1] - o[i]).toBe(c));
    }
    rf.close();
  });
});

describe.skipIf(!haveData)("branch names and default selection", () => {
  it("index module re-exports the reader; iterate() without branches reads every readable branch", async () => {
    const index = await import("../src/histmaker/root/index.js");
    expect(index.RootFile).toBe(RootFile);
    const rf = await index.RootFile.open(file("uproot-HZZ.root"));
    const t = rf.tree("events");
    expect(t.branchNames()).toEqual(t.branches().map((b) => b.name));
    expect(t.readableBranchNames()).toHaveLength(51);
    const first = await t.iterate({ chunkEntries: 10 }).next();
    expect(first.done).toBe(false);
    const chunk = first.value!;
    expect(Object.keys(chunk.columns).sort()).toEqual([...t.readableBranchNames()].sort());
    expect(chunk.length).toBe(10);
    rf.close();
  });
});

describe.skipIf(!haveData)("chunked reading", () => {
  it("yields chunks of the requested size with their start, covering [start, stop)", async () => {
    const rf = await RootFile.open(file("uproot-Zmumu-lz4.root"));
    const t = rf.tree("events");
    const seen: [number, number][] = [];
    for await (const ch of t.iterate({ branches: ["M"], chunkEntries: 500, start: 100, stop: 1700 })) {
      seen.push([ch.start, ch.length]);
      expect(ch.file).toBe(file("uproot-Zmumu-lz4.root"));
      expect(flat(ch.columns.M).length).toBe(ch.length);
    }
    expect(seen).toEqual([
      [100, 500],
      [600, 500],
      [1100, 500],
      [1600, 100],
    ]);
    rf.close();
    const all = flat((await readAll(file("uproot-Zmumu-lz4.root"), "events", ["M"])).M);
    const part = flat((await readAll(file("uproot-Zmumu-lz4.root"), "events", ["M"], { chunkEntries: 333, start: 100, stop: 1700 })).M);
    expect(num(part)).toEqual(num(all.subarray(100, 1700) as NumericArray));
  });
});

describe("errors name the file and what is wrong", () => {
  it("refuses a missing file and a file that is not ROOT", async () => {
    await expect(RootFile.open(join(work, "nope.root"))).rejects.toThrow(/nope\.root: cannot open/);
    const junk = join(work, "junk.root");
    writeFileSync(junk, "this is not a ROOT file at all, just some text\n".repeat(10));
    await expect(RootFile.open(junk)).rejects.toThrow(UserError);
    await expect(RootFile.open(junk)).rejects.toThrow(/junk\.root: not a ROOT file/);
  });

  it.skipIf(!haveData)("refuses truncated and corrupted files with a UserError", async () => {
    const src = readFileSync(file("uproot-Zmumu.root"));
    const cut = join(work, "cut.root");
    writeFileSync(cut, src.subarray(0, 120000));
    await expect(RootFile.open(cut)).rejects.toThrow(/cut\.root: .*(outside the file|truncated|corrupt)/);
    // scramble the middle of the file, where the baskets are (the tree record sits at the end)
    const bad = Buffer.from(src);
    for (let i = 2000; i < 100000; i += 7) bad[i] ^= 0x5a;
    const copy = join(work, "bad.root");
    writeFileSync(copy, bad);
    const broken = await RootFile.open(copy);
    const chunks = broken.tree("events").iterate({ branches: ["pt1", "M"] });
    await expect(chunks.next()).rejects.toThrow(/bad\.root: basket 0 of branch 'pt1'/);
    broken.close();
    // scramble the tree record itself
    const bad2 = Buffer.from(src);
    for (let i = src.length - 6000; i < src.length - 3000; i += 13) bad2[i] ^= 0xff;
    const copy2 = join(work, "bad2.root");
    writeFileSync(copy2, bad2);
    await expect(RootFile.open(copy2)).rejects.toThrow(/bad2\.root: TTree 'events'/);
  });

  it.skipIf(!haveData)("survives seeded random corruption with nothing but UserErrors", async () => {
    // deterministic "fuzzing": scrambled bytes anywhere, in the tree record, and truncations
    let seed = 12345;
    const rnd = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    const sources = ["uproot-Zmumu-uncompressed.root", "nanoAOD_2015_CMS_Open_Data_ttbar.root", "uproot-HZZ.root", "uproot-Zmumu-lz4.root"].map((f) => readFileSync(file(f)));
    const path = join(work, "fuzz.root");
    let userErrors = 0;
    for (let it = 0; it < 80; it++) {
      const src = Buffer.from(sources[it % sources.length]);
      let bytes: Buffer = src;
      if (it % 3 === 0) {
        for (let k = 0; k < 10; k++) src[Math.floor(rnd() * src.length)] = Math.floor(rnd() * 256);
      } else if (it % 3 === 1) {
        for (let k = 0; k < 3; k++) src[src.length - 1 - Math.floor(rnd() * Math.min(150000, src.length - 1))] = Math.floor(rnd() * 256);
      } else {
        bytes = src.subarray(0, Math.floor(rnd() * src.length));
      }
      writeFileSync(path, bytes);
      let rf: RootFile | null = null;
      try {
        rf = await RootFile.open(path);
        for (const t of rf.trees()) {
          const tree = rf.tree(t.name);
          for await (const chunk of tree.iterate({ branches: tree.readableBranchNames().slice(0, 60), chunkEntries: 700 })) void chunk;
        }
      } catch (err) {
        if (!(err instanceof UserError)) throw new Error(`iteration ${it}: ${(err as Error).stack}`);
        expect((err as Error).message).toContain("fuzz.root");
        userErrors++;
      } finally {
        rf?.close();
      }
    }
    expect(userErrors).toBeGreaterThan(20);
  });

  it.skipIf(!haveData)("names unknown trees and branches", async () => {
    const rf = await RootFile.open(file("uproot-HZZ.root"));
    expect(() => rf.tree("Events")).toThrow(/uproot-HZZ\.root: no TTree named 'Events' \(trees: events\)/);
    const t = rf.tree("events");
    await expect(t.iterate({ branches: ["Muon_Pt"] }).next()).rejects.toThrow(/tree 'events': no branch named 'Muon_Pt'/);
    await expect(t.iterate({ branches: ["NMuon"], chunkEntries: 0 }).next()).rejects.toThrow(/chunkEntries/);
    rf.close();
    await expect(t.iterate({ branches: ["NMuon"] }).next()).rejects.toThrow(/uproot-HZZ\.root: file already closed/);
  });
});

describe("decompressRoot and big-endian decoding", () => {
  it("decodes a hand-made zlib block and rejects unknown algorithms and bad sizes", async () => {
    const plain = Buffer.from("hello ROOT baskets ".repeat(50));
    const z = deflateSync(plain);
    const header = Buffer.from([0x5a, 0x4c, 8, z.length & 0xff, (z.length >> 8) & 0xff, z.length >> 16, plain.length & 0xff, (plain.length >> 8) & 0xff, plain.length >> 16]);
    const out = await decompressRoot(Buffer.concat([header, z]), plain.length, "test");
    expect(Buffer.from(out).equals(plain)).toBe(true);
    const bogus = Buffer.from(header);
    bogus[0] = 0x51;
    await expect(decompressRoot(Buffer.concat([bogus, z]), plain.length, "test")).rejects.toThrow(/unknown compression/);
    await expect(decompressRoot(Buffer.concat([header, z]), plain.length + 5, "test")).rejects.toThrow(UserError);
  });

  it("swaps 2, 4 and 8 byte values like DataView does", () => {
    const src = new Uint8Array(64);
    for (let i = 0; i < 64; i++) src[i] = (i * 37 + 11) & 0xff;
    const dv = new DataView(src.buffer);
    const f64 = new Float64Array(8);
    decodeInto(f64, 0, src, 0, 8, 8);
    expect(Array.from(f64)).toEqual(Array.from({ length: 8 }, (_, i) => dv.getFloat64(8 * i)));
    const f32 = new Float32Array(4);
    decodeInto(f32, 1, src, 4, 3, 4);
    expect(Array.from(f32)).toEqual([0, dv.getFloat32(4), dv.getFloat32(8), dv.getFloat32(12)]);
    const i16 = new Int16Array(5);
    decodeInto(i16, 0, src, 2, 5, 2);
    expect(Array.from(i16)).toEqual(Array.from({ length: 5 }, (_, i) => dv.getInt16(2 + 2 * i)));
    const u64 = new BigUint64Array(2);
    decodeInto(u64, 0, src, 16, 2, 8);
    expect(Array.from(u64)).toEqual([dv.getBigUint64(16), dv.getBigUint64(24)]);
  });
});
