/**
 * `histmaker run / merge / tensor` as commands: a failing file makes `run` exit non-zero and write
 * nothing; --allow-failures writes the rest and records the failures, which `tensor` then refuses
 * unless told; merge of mismatched outputs is one clear error line; the cutflow CSV and tensor
 * contents match the histograms. main() runs in-process with process.exit intercepted.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { main } from "../src/cli/histmaker.js";
import { writeColumnarEvents } from "../src/histmaker/eventSources.js";
import { readRunOutput } from "../src/histmaker/runOutput.js";
import { readTensor } from "../src/tensor/TensorReader.js";
import { parseShard } from "../src/histmaker/commands/run.js";
import { runCommand } from "./helpers/cli.js";

const work = mkdtempSync(path.join(tmpdir(), "hmcli-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await runCommand(main, "histmaker", args);
  return { code: r.code, out: r.stdout, err: r.stderr };
}


const xs: Float64Array[] = [];
function moduleText(files: Record<string, string[]>, bins = 4): string {
  return `export default {
  name: "cli-test",
  datasets: [
    { name: "sig", kind: "mc", files: ${JSON.stringify(files.sig)}, xsec: 2 },
    { name: "bkg", kind: "mc", files: ${JSON.stringify(files.bkg)}, xsec: 3 },
  ],
  luminosity: 10,
  selections: [{ name: "pos", cut: (c) => c.x.map((v) => (v > 0.25 ? 1 : 0)) }],
  histograms: [
    { name: "x", axes: [{ type: "regular", name: "x", bins: ${bins}, lo: 0, hi: 1, flow: false }], columns: ["x"] },
    { name: "xv", axes: [{ type: "regular", name: "x", bins: ${bins}, lo: 0, hi: 1, flow: false }], columns: ["x"],
      tensor: { name: "v", size: 2, weights: (c) => { const o = new Float64Array(2 * c.x.length); c.x.forEach((v, i) => { o[2 * i] = 1 + 0.1 * v; o[2 * i + 1] = 1 - 0.1 * v; }); return o; } } },
  ],
};
`;
}

beforeAll(async () => {
  let s = 3;
  const r = () => ((s = (s * 1103515245 + 12345) >>> 0), s / 4294967296);
  for (let f = 0; f < 2; f++) {
    const x = Float64Array.from({ length: 400 }, () => r());
    xs.push(x);
    await writeColumnarEvents(path.join(work, `ev${f}.hdf5`), { x });
  }
  writeFileSync(path.join(work, "broken.hdf5"), "garbage");
  writeFileSync(path.join(work, "good.mjs"), moduleText({ sig: ["ev0.hdf5"], bkg: ["ev1.hdf5"] }));
  writeFileSync(path.join(work, "bad.mjs"), moduleText({ sig: ["ev0.hdf5"], bkg: ["ev1.hdf5", "broken.hdf5"] }));
  writeFileSync(path.join(work, "rebinned.mjs"), moduleText({ sig: ["ev0.hdf5"], bkg: ["ev1.hdf5"] }, 8));
  // the same analysis as TypeScript (type annotations are stripped on loading)
  writeFileSync(
    path.join(work, "typed.ts"),
    "interface Named { name: string }\nconst tag: Named = { name: 'typed' };\n" +
      moduleText({ sig: ["ev0.hdf5"], bkg: ["ev1.hdf5"] }).replace('name: "cli-test"', "name: tag.name").replace("(c) => c.x.map((v) =>", "(c: any) => c.x.map((v: number) =>"),
  );
});

describe("histmaker run", () => {
  it("writes histograms and a cutflow CSV whose numbers match the events", async () => {
    const out = path.join(work, "good.hdf5");
    const r = await cli(["run", path.join(work, "good.mjs"), "-o", out, "--no-progress"]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain("cutflow sig");
    const pass = xs[0].filter((v) => v > 0.25).length;
    const csv = readFileSync(path.join(work, "good.cutflow.csv"), "utf8").trim().split("\n");
    // sig: σ·L/Σw = 2·10/400 = 0.05
    expect(csv).toContain(`sig,pos,${pass},${pass},${pass * 0.05},${(pass / 400).toFixed(6)}`);
    const { info, hists } = await readRunOutput(out);
    expect(info.scales.sig).toBeCloseTo(0.05, 15);
    expect(info.luminositySource).toBe("analysis");
    expect(hists.sig.x.sum()).toBe(pass);
  });

  it("runs a .ts analysis module", async () => {
    const out = path.join(work, "typed.hdf5");
    const r = await cli(["run", path.join(work, "typed.ts"), "-o", out, "--no-progress"]);
    expect(r.code, r.err).toBe(0);
    const { info, hists } = await readRunOutput(out);
    expect(info.analysis).toBe("typed");
    expect(hists.sig.x.sum()).toBe(xs[0].filter((v) => v > 0.25).length);
  });

  it("exits non-zero and writes nothing when a file fails, listing every failure", async () => {
    const out = path.join(work, "bad.hdf5");
    const r = await cli(["run", path.join(work, "bad.mjs"), "-o", out, "--no-progress", "--retries", "0"]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/FAILED bkg: .*broken\.hdf5/);
    expect(r.err).toMatch(/1 of 3 files failed; no output written/);
    expect(existsSync(out)).toBe(false);
  });

  it("--allow-failures writes the rest and records the failures; tensor refuses them unless allowed", async () => {
    const out = path.join(work, "partial.hdf5");
    const r = await cli(["run", path.join(work, "bad.mjs"), "-o", out, "--no-progress", "--retries", "0", "--allow-failures"]);
    expect(r.code, r.err).toBe(0);
    const { info } = await readRunOutput(out);
    expect(info.failures).toHaveLength(1);
    expect(info.failures[0].file).toContain("broken.hdf5");
    const cfg = path.join(work, "tensor.json");
    writeFileSync(cfg, JSON.stringify({ inputs: ["partial.hdf5"], channels: [{ name: "ch", histogram: "x" }], processes: { sig: { datasets: ["sig"], signal: true }, bkg: { datasets: ["bkg"] } } }));
    const t = await cli(["tensor", cfg, "-o", path.join(work, "t.hdf5")]);
    expect(t.code).toBe(2);
    expect(t.err).toMatch(/1 files failed in this run/);
    const t2 = await cli(["tensor", cfg, "-o", path.join(work, "t.hdf5"), "--allow-failures"]);
    expect(t2.code, t2.err).toBe(0);
  });

  it("refuses a malformed shard and names the option", () => {
    expect(parseShard("3/4")).toEqual({ index: 3, count: 4 });
    expect(() => parseShard("4/4")).toThrow(/--shard/);
    expect(() => parseShard("a/b")).toThrow(/--shard/);
  });
});

describe("histmaker merge and tensor", () => {
  it("merge refuses outputs with different binning in one line", async () => {
    const a = path.join(work, "a.hdf5");
    const b = path.join(work, "b.hdf5");
    expect((await cli(["run", path.join(work, "good.mjs"), "-o", a, "--no-progress", "--shard", "0/2"])).code).toBe(0);
    expect((await cli(["run", path.join(work, "rebinned.mjs"), "-o", b, "--no-progress", "--shard", "1/2"])).code).toBe(0);
    const r = await cli(["merge", a, b, "-o", path.join(work, "m.hdf5")]);
    expect(r.code).toBe(2);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toMatch(/b\.hdf5: histogram sig\/x does not match .*a\.hdf5 \(axis "x" binning differs\)/);
  });

  it("tensor: processes scaled by σ·L/Σw, Asimov data, norm and tensor-axis (pairs) systematics", async () => {
    const cfg = path.join(work, "tensor2.json");
    writeFileSync(
      cfg,
      JSON.stringify({
        inputs: ["good.hdf5"],
        channels: [
          { name: "ch", histogram: "x" },
          { name: "sigOnly", histogram: "x", masked: true, processes: ["sig"] },
        ],
        processes: { sig: { datasets: ["sig"], signal: true }, bkg: { datasets: ["bkg"] } },
        systematics: [
          { type: "norm", name: "bkgNorm", processes: ["bkg"], size: 0.1 },
          { type: "tensor", name: "slope", histogram: "xv", processes: ["sig", "bkg"], mode: "pairs" },
          { type: "tensor", name: "each", histogram: "xv", processes: ["sig"], mode: "each", indices: [0] },
        ],
      }),
    );
    const out = path.join(work, "t2.hdf5");
    const r = await cli(["tensor", cfg, "-o", out, "--storage", "dense"]);
    expect(r.code, r.err).toBe(0);
    const m = await readTensor(out);
    expect(m.procs).toEqual(["sig", "bkg"]);
    expect(m.nbins).toBe(4);
    expect(m.nbinsFull).toBe(8);
    expect(m.channels.map((c) => [c.name, c.masked])).toEqual([
      ["ch", false],
      ["sigOnly", true],
    ]);
    expect(m.systs.sort()).toEqual(["bkgNorm", "each0", "slope"].sort());
    // expected sig yields: 0.05 per event in 4 bins of x above the 0.25 cut
    const sig = [0, 0, 0, 0];
    const bkg = [0, 0, 0, 0];
    xs[0].forEach((v) => v > 0.25 && (sig[Math.floor(v * 4)] += 2 * 10 / 400));
    xs[1].forEach((v) => v > 0.25 && (bkg[Math.floor(v * 4)] += 3 * 10 / 400));
    for (let b = 0; b < 4; b++) {
      expect(m.norm[b * 2]).toBeCloseTo(sig[b], 12);
      expect(m.norm[b * 2 + 1]).toBeCloseTo(bkg[b], 12);
      expect(m.dataObs[b]).toBeCloseTo(sig[b] + bkg[b], 12);
      // the masked channel holds the signal alone
      expect(m.norm[(4 + b) * 2]).toBeCloseTo(sig[b], 12);
      expect(m.norm[(4 + b) * 2 + 1]).toBe(0);
    }
    // slope: up = Σ(1 + 0.1x), down = Σ(1 − 0.1x); average symmetrisation: ½(log(up/nom) − log(down/nom))
    const slope = m.systs.indexOf("slope");
    const b3 = 3;
    let up = 0;
    let down = 0;
    let nom = 0;
    xs[0].forEach((v) => {
      if (v > 0.25 && Math.floor(v * 4) === b3) {
        nom += 1;
        up += 1 + 0.1 * v;
        down += 1 - 0.1 * v;
      }
    });
    const row = b3 * 2; // bin 3, process sig
    let logk = 0;
    for (let j = m.logk.rowPtr[row]; j < m.logk.rowPtr[row + 1]; j++) if (m.logk.cols[j] === slope) logk = m.logk.values[j];
    expect(logk).toBeCloseTo(0.5 * (Math.log(up / nom) - Math.log(down / nom)), 10);
  });
});
