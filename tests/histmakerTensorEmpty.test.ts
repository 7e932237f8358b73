/**
 * `histmaker tensor` refuses bins with observed data but a total prediction of 0 (the likelihood is
 * zero there for every parameter value, so every fit would fail): exit 2, one line naming channel,
 * bin and axis value, no output; --allow-empty-prediction writes the tensor with a warning.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../src/cli/histmaker.js";
import { binsWithDataButNoPrediction, describeUnpredictedBins } from "../src/histmaker/commands/tensor.js";
import { writeColumnarEvents } from "../src/histmaker/eventSources.js";
import { readTensor } from "../src/tensor/TensorReader.js";
import type { TensorModel } from "../src/tensor/types.js";
import { runCommand } from "./helpers/cli.js";

const work = mkdtempSync(path.join(tmpdir(), "hmempty-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await runCommand(main, "histmaker", args);
  return { code: r.code, out: r.stdout, err: r.stderr };
}

beforeAll(async () => {
  // simulation only above x = 0.25 (column keep), data everywhere: bin 0 of 4 has data but no prediction
  let s = 7;
  const r = () => ((s = (s * 1103515245 + 12345) >>> 0), s / 4294967296);
  const mc = Float64Array.from({ length: 300 }, () => r());
  const data = Float64Array.from({ length: 200 }, () => r());
  await writeColumnarEvents(path.join(work, "mc.hdf5"), { x: mc, keep: mc.map((v) => (v > 0.25 ? 1 : 0)) });
  await writeColumnarEvents(path.join(work, "data.hdf5"), { x: data, keep: data.map(() => 1) });
  writeFileSync(
    path.join(work, "ana.mjs"),
    `export default {
  name: "empty-prediction",
  datasets: [
    { name: "sim", kind: "mc", files: ["mc.hdf5"], xsec: 1 },
    { name: "obs", kind: "data", files: ["data.hdf5"] },
  ],
  luminosity: 100,
  selections: [{ name: "keep", cut: (c) => c.keep }],
  histograms: [{ name: "x", axes: [{ type: "regular", name: "x", bins: 4, lo: 0, hi: 1, flow: false }], columns: ["x"] }],
};
`,
  );
  const run = await cli(["run", path.join(work, "ana.mjs"), "-o", path.join(work, "run.hdf5"), "--no-progress"]);
  expect(run.code, run.err).toBe(0);
  writeFileSync(
    path.join(work, "tensor.json"),
    JSON.stringify({ inputs: ["run.hdf5"], channels: [{ name: "ch", histogram: "x" }], processes: { sim: { datasets: ["sim"], signal: true } }, data: ["obs"] }),
  );
});

describe("histmaker tensor with data but no prediction", () => {
  it("refuses: exit 2, one line naming channel, bin and axis value, nothing written", async () => {
    const out = path.join(work, "t.hdf5");
    const r = await cli(["tensor", path.join(work, "tensor.json"), "-o", out]);
    expect(r.code).toBe(2);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toMatch(/tensor\.json: 1 bin has observed data but a total prediction of 0: channel ch bin 0 \(x in \[0, 0\.25\)\) \(n = \d+\); no tensor written \(--allow-empty-prediction/);
    expect(r.err).not.toMatch(/\n\s+at /);
    expect(existsSync(out)).toBe(false);
  });

  it("--allow-empty-prediction writes the tensor and warns", async () => {
    const out = path.join(work, "t2.hdf5");
    const r = await cli(["tensor", path.join(work, "tensor.json"), "-o", out, "--allow-empty-prediction"]);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/warning: 1 bin has observed data but a total prediction of 0: channel ch bin 0/);
    const m = await readTensor(out);
    expect(binsWithDataButNoPrediction(m)).toEqual([0]);
    expect(m.dataObs[0]).toBeGreaterThan(0);
  });
});

describe("binsWithDataButNoPrediction", () => {
  it("finds real bins with n > 0 and Σ_p norm = 0 (not n = 0 bins, not masked bins), and lists at most N", () => {
    const model = {
      procs: ["a", "b"],
      nbins: 4,
      nbinsFull: 5,
      dataObs: Float64Array.from([3, 0, 2, 1]),
      norm: Float64Array.from([0, 0, 0, 0, 1, -1, 0.5, 0, 0, 0]),
      channels: [{ name: "c", axes: [{ name: "x", edges: [0, 1, 2, 3, 4] }], masked: false, flow: false, start: 0, size: 4 }],
    } as unknown as TensorModel;
    // bin 2 sums to 0 from +1 and −1 (interference-like): its prediction is 0 too
    expect(binsWithDataButNoPrediction(model)).toEqual([0, 2]);
    expect(describeUnpredictedBins(model, [0, 2], 1)).toBe("2 bins have observed data but a total prediction of 0: channel c bin 0 (x in [0, 1)) (n = 3); and 1 more");
  });
});
