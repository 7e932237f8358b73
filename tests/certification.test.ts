import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { Certification, LumiTable, blockKey, collectBlocks, splitBlockKey } from "../src/histmaker/certification.js";
import { UserError } from "../src/errors.js";

const golden = { "355100": [[1, 9], [15, 40]], "355102": [[3, 3]], "355104": [[20, 25], [1, 5]] };

describe("Certification", () => {
  it("mask agrees with a direct reading of the ranges over a whole chunk", () => {
    const cert = new Certification(golden);
    const runs: number[] = [];
    const lumis: number[] = [];
    for (const r of [355099, 355100, 355101, 355102, 355104]) for (let l = 0; l <= 42; l++) {
      runs.push(r);
      lumis.push(l);
    }
    const mask = cert.mask(Uint32Array.from(runs), Uint32Array.from(lumis));
    let kept = 0;
    for (let i = 0; i < runs.length; i++) {
      const ranges = (golden as Record<string, number[][]>)[String(runs[i])] ?? [];
      const expected = ranges.some(([lo, hi]) => lumis[i] >= lo && lumis[i] <= hi) ? 1 : 0;
      expect(mask[i], `run ${runs[i]} lumi ${lumis[i]}`).toBe(expected);
      expect(cert.contains(runs[i], lumis[i])).toBe(expected === 1);
      kept += expected;
    }
    // 9 + 26 blocks of 355100, 1 of 355102, 6 + 5 of 355104
    expect(kept).toBe(9 + 26 + 1 + 6 + 5);
  });

  it("run periods drop runs outside them", () => {
    const cert = new Certification(golden, { A: [355100, 355101] });
    const m = cert.mask(Int32Array.from([355100, 355102, 355104]), Int32Array.from([2, 3, 21]));
    expect(Array.from(m)).toEqual([1, 0, 0]);
  });

  it("reads a golden JSON file and refuses malformed ranges", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "cert-"));
    const good = path.join(dir, "golden.json");
    writeFileSync(good, JSON.stringify(golden));
    expect(Certification.fromFile(good).contains(355102, 3)).toBe(true);
    const bad = path.join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ "1": [[5, 2]] }));
    expect(() => Certification.fromFile(bad)).toThrow(UserError);
    expect(() => Certification.fromFile(path.join(dir, "missing.json"))).toThrow(/cannot read/);
  });
});

describe("LumiTable", () => {
  const csv = [
    "#Data tag : 24v1 , Norm tag: None",
    "#run:fill,ls,time,beamstatus,E(GeV),delivered(/ub),recorded(/ub),avgpu,source",
    "355100:8000,1:1,06/01/26 00:00:00,STABLE BEAMS,6800,1200.5,1000.25,30.0,HFOC",
    "355100:8000,2:2,06/01/26 00:00:23,STABLE BEAMS,6800,1300,1100.5,30.0,HFOC",
    "355102:8001,3:3,06/01/26 01:00:00,STABLE BEAMS,6800,900,800,31.0,PXL",
    "#Summary:",
    "#nfill,nrun,nls,ncms,totdelivered(/ub),totrecorded(/ub)",
    "#2,2,3,3,3400.5,2900.75",
  ].join("\n");

  it("parses brilcalc --byls output (recorded /ub → /pb) and sums exactly the given blocks", () => {
    const t = LumiTable.parse(csv);
    expect(t.recordedPb.size).toBe(3);
    const { lumiPb, missing } = t.sum([blockKey(355100, 1), blockKey(355102, 3), blockKey(355100, 7)]);
    expect(lumiPb).toBeCloseTo((1000.25 + 800) * 1e-6, 15);
    expect(missing).toEqual([blockKey(355100, 7)]);
  });

  it("honours the unit in the header", () => {
    const t = LumiTable.parse(csv.replace("recorded(/ub)", "recorded(/pb)"));
    expect(t.sum([blockKey(355100, 2)]).lumiPb).toBeCloseTo(1100.5, 12);
  });

  it("refuses malformed lines naming the line", () => {
    expect(() => LumiTable.parse("#run:fill,ls,time,beamstatus,E(GeV),delivered(/ub),recorded(/ub),avgpu,source\nfoo,bar", "x.csv")).toThrow(/x.csv: line 2/);
  });
});

describe("blocks", () => {
  it("blockKey round-trips and collectBlocks keeps each kept block once", () => {
    expect(splitBlockKey(blockKey(400123, 4095))).toEqual([400123, 4095]);
    const set = new Set<number>();
    collectBlocks(Uint32Array.from([1, 1, 1, 2, 2, 1]), Uint32Array.from([5, 5, 6, 5, 5, 5]), Uint8Array.from([1, 1, 0, 1, 1, 1]), set);
    expect([...set].sort((a, b) => a - b)).toEqual([blockKey(1, 5), blockKey(2, 5)]);
  });
});
