import { describe, expect, it } from "vitest";
import { Cutflow, cutflowCsv, cutflowTable } from "../src/histmaker/cutflow.js";

describe("Cutflow", () => {
  it("counts raw events and weighted sums per step, and adds", () => {
    const c = new Cutflow(["all", "a", "b"]);
    const w = Float64Array.from([1, 2, -1, 0.5]);
    c.record(0, null, w, 4);
    c.record(1, Uint8Array.from([1, 0, 1, 1]), w, 4);
    c.record(2, Uint8Array.from([0, 0, 1, 1]), null, 4);
    expect(Array.from(c.raw)).toEqual([4, 3, 2]);
    expect(Array.from(c.weighted)).toEqual([2.5, 0.5, 2]);
    const d = Cutflow.fromJSON(c.toJSON());
    d.add(c);
    expect(Array.from(d.raw)).toEqual([8, 6, 4]);
    expect(Array.from(d.weighted)).toEqual([5, 1, 4]);
  });

  it("refuses to add different steps", () => {
    expect(() => new Cutflow(["all", "a"]).add(new Cutflow(["all", "b"]), "shard1")).toThrow(/shard1: steps differ/);
  });

  it("writes CSV rows and a terminal table with efficiencies and scaled yields", () => {
    const c = new Cutflow(["all", "sel"]);
    c.record(0, null, null, 10);
    c.record(1, Uint8Array.from([1, 1, 1, 1, 0, 0, 0, 0, 0, 0]), null, 10);
    const csv = cutflowCsv({ W: c }, { W: 0.5 }).trim().split("\n");
    expect(csv[0]).toBe("dataset,step,raw,weighted,scaled,efficiency");
    expect(csv[2]).toBe("W,sel,4,4,2,0.400000");
    const table = cutflowTable({ W: c }, { W: 0.5 });
    expect(table).toContain("cutflow W");
    expect(table).toMatch(/sel\s+4\s+4\s+2\s+40\.00%/);
  });
});
