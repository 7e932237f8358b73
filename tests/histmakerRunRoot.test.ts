/**
 * The runner on a real ROOT file (uproot's Z→μμ sample, 2304 entries): a derived invariant mass from
 * the muons' four-momenta must fill the same histogram as the file's own M branch.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { validateAnalysis } from "../src/histmaker/analysis.js";
import { runAnalysis } from "../src/histmaker/runner.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const shared = path.resolve(here, "../../shared");
const zmumu = path.join(shared, "data/root/uproot-Zmumu.root");

describe.skipIf(!existsSync(zmumu))("runner on ROOT files", () => {
  it("reads chunks of a TTree; derived columns agree with stored ones", async () => {
    if (!existsSync(zmumu)) console.log(`skipped: ${zmumu} not found`);
    const axis = { type: "regular" as const, name: "m", bins: 40, lo: 0, hi: 120, flow: false };
    const def = validateAnalysis(
      {
        name: "zmumu",
        datasets: [{ name: "Z", kind: "mc", files: [zmumu], xsec: 1, tree: "events" }],
        branches: ["E1", "px1", "py1", "pz1", "E2", "px2", "py2", "pz2", "Q1", "Q2", "M"],
        columns: {
          mass: (c) => {
            const g = (n: string) => c[n] as Float64Array;
            const [e1, x1, y1, z1, e2, x2, y2, z2] = ["E1", "px1", "py1", "pz1", "E2", "px2", "py2", "pz2"].map(g);
            return Float64Array.from(e1, (_, i) => Math.sqrt(Math.max(0, (e1[i] + e2[i]) ** 2 - (x1[i] + x2[i]) ** 2 - (y1[i] + y2[i]) ** 2 - (z1[i] + z2[i]) ** 2)));
          },
        },
        selections: [{ name: "opposite", cut: (c) => Int32Array.from(c.Q1 as Int32Array, (q, i) => (q * (c.Q2 as Int32Array)[i] < 0 ? 1 : 0)) }],
        histograms: [
          { name: "derived", axes: [axis], columns: ["mass"] },
          { name: "stored", axes: [axis], columns: ["M"] },
        ],
        luminosity: 1,
        chunkEntries: 500,
      },
      "zmumu",
    );
    const res = await runAnalysis(def, { log: () => undefined });
    expect(res.failures).toEqual([]);
    expect(res.cutflows.Z.raw[0]).toBe(2304);
    expect(res.datasets.Z.sumGenWeights).toBe(2304);
    const d = res.hists.Z.derived.values();
    const s = res.hists.Z.stored.values();
    let diff = 0;
    d.forEach((v, i) => (diff += Math.abs(v - s[i])));
    // bin-edge rounding may move a handful of events by one bin
    expect(diff).toBeLessThanOrEqual(6);
    expect(res.hists.Z.stored.sum()).toBeGreaterThan(2000);
    expect(res.hists.Z.stored.sum()).toBeLessThanOrEqual(res.cutflows.Z.raw[1]);
  });
});
