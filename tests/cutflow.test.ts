import { describe, expect, it } from "vitest";
import {
  Cutflow,
  cutflowCsv,
  cutflowHtml,
  cutflowMatrices,
  cutflowMatrixTable,
  cutflowTable,
  escapeHtml,
  regionCutflowSteps,
} from "../src/histmaker/cutflow.js";

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

  it("region cutflows: steps, CSV with a region column, samples × steps tables and HTML", () => {
    expect(regionCutflowSteps([{ name: "a" }, { name: "b" }])).toEqual(["preselection", "a", "b"]);
    const pre = (n: number[]) => {
      const c = new Cutflow(n.length === 3 ? ["all", "certified", "presel"] : ["all", "presel"]);
      c.raw.set(n);
      c.weighted.set(n.map((v) => v * 2));
      return c;
    };
    const sr = (n: number[]) => {
      const c = new Cutflow(regionCutflowSteps([{ name: "<b>cut</b>" }]));
      c.raw.set(n);
      c.weighted.set(n.map((v) => v * 2));
      return c;
    };
    const flows = { sim: pre([100, 50]), data: pre([80, 60, 30]) };
    const regions = { sim: { SR: sr([50, 10]) }, data: { SR: sr([30, 3]) } };
    const scales = { sim: 0.5, data: 1 };
    const csv = cutflowCsv(flows, scales, regions).trim().split("\n");
    expect(csv[0]).toBe("dataset,region,step,raw,weighted,scaled,efficiency");
    expect(csv).toContain("sim,preselection,presel,50,100,50,0.500000");
    expect(csv).toContain("sim,SR,<b>cut</b>,10,20,10,0.200000");
    expect(csv).toContain("data,SR,preselection,30,60,60,1.000000");
    // without regions the CSV is as before
    expect(cutflowCsv(flows, scales, { sim: {}, data: {} }).split("\n")[0]).toBe("dataset,step,raw,weighted,scaled,efficiency");

    const m = cutflowMatrices(flows, scales, regions);
    expect(m.map((x) => x.chain)).toEqual(["preselection", "SR"]);
    // simulation has no "certified" step: it carries its "all" count
    expect(m[0].steps).toEqual(["all", "certified", "presel"]);
    expect(m[0].rows[0]).toEqual({ dataset: "sim", raw: [100, 100, 50], weighted: [200, 200, 100], scaled: [100, 100, 50] });
    expect(m[1].rows[1]).toEqual({ dataset: "data", raw: [30, 3], weighted: [60, 6], scaled: [60, 6] });
    const table = cutflowMatrixTable(m);
    expect(table).toContain("cutflow SR: scaled yield (raw events)");
    expect(table).toMatch(/sim\s+50 \(50\)\s+10 \(10\)/);

    const html = cutflowHtml(m, "cutflow of <x>");
    expect(html).not.toContain("<b>cut</b>");
    expect(html).toContain("&lt;b&gt;cut&lt;/b&gt;");
    expect(html).toContain("<title>cutflow of &lt;x&gt;</title>");
    expect(html).toContain('<td>sim</td><td>100 <span class="raw">(100)</span></td>');
    expect(escapeHtml(`a&b<"'>`)).toBe("a&amp;b&lt;&quot;&#39;&gt;");
  });
});
