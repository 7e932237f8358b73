/**
 * Data certification and luminosity: a "golden" JSON of run → luminosity-block ranges decides which
 * data events are kept (one pass over the chunk's run / lumi columns), and a per-(run, block)
 * luminosity CSV in brilcalc's layout gives the integrated luminosity of the blocks actually processed.
 */
import { readFileSync } from "node:fs";
import { UserError } from "../errors.js";
import type { NumericArray } from "./events.js";

/** A (run, lumi block) pair as one exact number: run · 2^32 + block (exact below run 2^21). */
export function blockKey(run: number, lumi: number): number {
  return run * 4294967296 + lumi;
}
export function splitBlockKey(key: number): [number, number] {
  const run = Math.floor(key / 4294967296);
  return [run, key - run * 4294967296];
}

export class Certification {
  /** run → flat [lo0, hi0, lo1, hi1, ...] sorted ranges (inclusive); null: every block (periods only) */
  private readonly ranges: Map<number, Int32Array> | null;
  private readonly periods: [number, number][] | null;

  constructor(golden: Record<string, number[][]> | null, periods?: Record<string, [number, number]>, source = "certification") {
    this.periods = periods ? Object.values(periods) : null;
    if (golden === null) {
      this.ranges = null;
      return;
    }
    const ranges = new Map<number, Int32Array>();
    this.ranges = ranges;
    for (const [runText, list] of Object.entries(golden)) {
      const run = Number(runText);
      if (!Number.isInteger(run) || !Array.isArray(list))
        throw new UserError(`${source}: run "${runText}" must map to a list of [first, last] lumi ranges`);
      const sorted = list
        .map((r) => {
          if (!Array.isArray(r) || r.length !== 2 || !Number.isInteger(r[0]) || !Number.isInteger(r[1]) || r[0] > r[1])
            throw new UserError(`${source}: run ${run} has a malformed range ${JSON.stringify(r)}`);
          return [r[0], r[1]] as [number, number];
        })
        .sort((x, y) => x[0] - y[0]);
      const flat = new Int32Array(sorted.length * 2);
      sorted.forEach((r, i) => {
        flat[2 * i] = r[0];
        flat[2 * i + 1] = r[1];
      });
      ranges.set(run, flat);
    }
  }

  static fromFile(path: string, periods?: Record<string, [number, number]>): Certification {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path, "utf8"));
    } catch (err) {
      throw new UserError(`${path}: cannot read certification JSON (${(err as Error).message})`);
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed))
      throw new UserError(`${path}: certification JSON must be an object of run → lumi ranges`);
    return new Certification(parsed as Record<string, number[][]>, periods, path);
  }

  /** Whether (run, lumi) is certified (and inside a run period when periods are given). */
  contains(run: number, lumi: number): boolean {
    if (!this.inPeriod(run)) return false;
    if (this.ranges === null) return true;
    const r = this.ranges.get(run);
    return r !== undefined && inRanges(r, lumi);
  }

  private inPeriod(run: number): boolean {
    if (this.periods === null) return true;
    for (const [lo, hi] of this.periods) if (run >= lo && run <= hi) return true;
    return false;
  }

  /**
   * 1 for certified events, 0 otherwise, over a whole chunk. Consecutive events of one run share the
   * run's range lookup and consecutive events of one block share the answer.
   */
  mask(run: NumericArray, lumi: NumericArray): Uint8Array {
    const n = run.length;
    const out = new Uint8Array(n);
    let lastRun = Number.NaN;
    let lastLumi = Number.NaN;
    let lastKeep = 0;
    let ranges: Int32Array | undefined;
    if (this.ranges === null) {
      for (let i = 0; i < n; i++) out[i] = this.inPeriod(Number(run[i])) ? 1 : 0;
      return out;
    }
    const table = this.ranges;
    for (let i = 0; i < n; i++) {
      const r = Number(run[i]);
      const l = Number(lumi[i]);
      // events come grouped by block: one lookup per block, not per event
      if (l === lastLumi && r === lastRun) {
        out[i] = lastKeep;
        continue;
      }
      if (r !== lastRun) {
        lastRun = r;
        ranges = this.inPeriod(r) ? table.get(r) : undefined;
      }
      lastLumi = l;
      lastKeep = ranges !== undefined && inRanges(ranges, l) ? 1 : 0;
      out[i] = lastKeep;
    }
    return out;
  }
}

function inRanges(flat: Int32Array, lumi: number): boolean {
  // binary search for the last range starting at or before lumi
  let lo = 0;
  let hi = flat.length / 2 - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (flat[2 * mid] <= lumi) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found >= 0 && lumi <= flat[2 * found + 1];
}

/** Recorded luminosity per (run, block) in /pb, from brilcalc's `--byls` CSV output. */
export class LumiTable {
  readonly recordedPb: Map<number, number>;
  constructor(recordedPb: Map<number, number>) {
    this.recordedPb = recordedPb;
  }

  static fromFile(path: string): LumiTable {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      throw new UserError(`${path}: cannot read luminosity CSV (${(err as Error).message})`);
    }
    return LumiTable.parse(text, path);
  }

  /**
   * Parses `#run:fill,ls,time,beamstatus,E(GeV),delivered(/ub),recorded(/ub),avgpu,source` rows;
   * `ls` is "lumi:lumi" (the first number is used). The header's unit (/ub, /nb, /pb, /fb) is honoured.
   */
  static parse(text: string, source = "luminosity CSV"): LumiTable {
    let runCol = 0;
    let lsCol = 1;
    let recCol = 6;
    let toPb = 1e-6; // /ub → /pb
    const table = new Map<number, number>();
    const lines = text.split(/\r?\n/);
    for (let li = 0; li < lines.length; li++) {
      const line = lines[li].trim();
      if (line === "") continue;
      if (line.startsWith("#")) {
        const header = line.slice(1).split(",").map((s) => s.trim());
        const rec = header.findIndex((h) => h.startsWith("recorded("));
        if (header[0]?.startsWith("run") && rec >= 0) {
          runCol = 0;
          lsCol = header.findIndex((h) => h === "ls");
          if (lsCol < 0) lsCol = 1;
          recCol = rec;
          toPb = unitToPb(header[rec], source);
        }
        continue;
      }
      const fields = line.split(",");
      if (fields.length <= Math.max(runCol, lsCol, recCol))
        throw new UserError(`${source}: line ${li + 1} has ${fields.length} fields, expected at least ${recCol + 1}`);
      const run = Number(fields[runCol].split(":")[0]);
      const ls = Number(fields[lsCol].split(":")[0]);
      const rec = Number(fields[recCol]);
      if (!Number.isInteger(run) || !Number.isInteger(ls) || !Number.isFinite(rec))
        throw new UserError(`${source}: line ${li + 1} is not "run:fill,ls,...,recorded,..." (${line.slice(0, 60)})`);
      const key = blockKey(run, ls);
      table.set(key, (table.get(key) ?? 0) + rec * toPb);
    }
    return new LumiTable(table);
  }

  /** Σ recorded luminosity (/pb) over the given blocks; blocks missing from the table are listed. */
  sum(blocks: Iterable<number>): { lumiPb: number; missing: number[] } {
    let lumiPb = 0;
    const missing: number[] = [];
    for (const key of blocks) {
      const v = this.recordedPb.get(key);
      if (v === undefined) missing.push(key);
      else lumiPb += v;
    }
    return { lumiPb, missing };
  }
}

function unitToPb(header: string, source: string): number {
  const m = /\(\/(ub|nb|pb|fb)\)/.exec(header);
  if (!m) throw new UserError(`${source}: unknown luminosity unit in "${header}"`);
  return { ub: 1e-6, nb: 1e-3, pb: 1, fb: 1e3 }[m[1] as "ub" | "nb" | "pb" | "fb"];
}

/** Adds the (run, block) keys of the selected events of a chunk to a set (consecutive repeats skipped). */
export function collectBlocks(run: NumericArray, lumi: NumericArray, keep: Uint8Array, into: Set<number>): void {
  let last = -1;
  for (let i = 0; i < run.length; i++) {
    if (keep[i] === 0) continue;
    const key = blockKey(Number(run[i]), Number(lumi[i]));
    if (key !== last) {
      into.add(key);
      last = key;
    }
  }
}
