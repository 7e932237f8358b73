/**
 * End to end: toy W-mass events (inputs/wmass-example/generate.mjs, data with the W mass shifted by
 * +300 MeV) → `histmaker run` in two shards → `histmaker merge` → `histmaker tensor` → `fit`; the fit
 * must recover the injected shift (3 units of the 100 MeV nuisance) within its uncertainty, and the
 * luminosity must be that of the certified blocks. The commands run in-process through their main().
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { main as histmaker } from "../src/cli/histmaker.js";
import { main as fit } from "../src/cli/fit.js";
import { writeColumnarEvents } from "../src/histmaker/eventSources.js";
import { readRunOutput } from "../src/histmaker/runOutput.js";
// @ts-expect-error plain-JS example script without type declarations
import { generateWmassEvents } from "../inputs/wmass-example/generate.mjs";
import { runCommand } from "./helpers/cli.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const example = path.resolve(here, "../inputs/wmass-example");
const work = mkdtempSync(path.join(tmpdir(), "e2e-wmass-"));
const events = path.join(work, "events");
const INJECTED = 3; // +300 MeV in units of the 100 MeV nuisance
const python = "/usr/bin/python3";
const refFit = path.resolve(here, "../../shared/reference/ref_fit.py");

interface Manifest {
  certifiedLumiPb: number;
  samples: Record<string, { events: number; sumGenWeights?: number }>;
}
let manifest: Manifest;

/** Runs a CLI main() in-process; returns exit code and output. */
async function cli(main: (argv: string[]) => Promise<void>, name: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await runCommand(main, name, args);
  return { code: r.code, out: r.stdout, err: r.stderr };
}


beforeAll(async () => {
  process.env.WMASS_EVENTS = events;
  manifest = (await generateWmassEvents({ outDir: events, write: writeColumnarEvents, lumiPb: 6, massShiftMeV: 300, files: 2, seed: 1 })) as Manifest;
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("W-mass example end to end", () => {
  const analysis = path.join(example, "analysis.mjs");
  const merged = path.join(work, "hists.hdf5");
  const tensor = path.join(work, "tensor.hdf5");
  const fitDir = path.join(work, "fit");

  it("runs two shards and merges them; luminosity is that of the certified blocks", async () => {
    for (const i of [0, 1]) {
      const r = await cli(histmaker, "histmaker", ["run", analysis, "-o", path.join(work, `shard${i}.hdf5`), "--shard", `${i}/2`, "--threads", "2", "--no-progress"]);
      expect(r.code, r.err).toBe(0);
      expect(existsSync(path.join(work, `shard${i}.cutflow.csv`))).toBe(true);
    }
    const m = await cli(histmaker, "histmaker", ["merge", path.join(work, "shard0.hdf5"), path.join(work, "shard1.hdf5"), "-o", merged]);
    expect(m.code, m.err).toBe(0);
    const { info } = await readRunOutput(merged);
    expect(info.failures).toEqual([]);
    expect(info.luminositySource).toBe("data");
    expect(info.luminosityPb!).toBeCloseTo(manifest.certifiedLumiPb, 9);
    expect(info.datasets.Wmunu.files).toHaveLength(2);
    expect(info.datasets.Wmunu.events).toBe(manifest.samples.wmunu.events);
    expect(info.datasets.Wmunu.sumGenWeights).toBe(manifest.samples.wmunu.sumGenWeights);
    expect(info.cutflows.SingleMuon.raw[0]).toBe(manifest.samples.data.events);
    expect(info.cutflows.SingleMuon.steps).toEqual(["all", "certified", "oneMuon", "muonPt", "isolated", "mT"]);
    // certification removes about 30 % of the blocks' luminosity, and as much of the data
    const certifiedFraction = info.cutflows.SingleMuon.raw[1] / info.cutflows.SingleMuon.raw[0];
    expect(certifiedFraction).toBeGreaterThan(0.6);
    expect(certifiedFraction).toBeLessThan(0.8);
  });

  it("makes a tensor and the fit recovers the injected W-mass shift", async () => {
    const t = await cli(histmaker, "histmaker", ["tensor", path.join(example, "tensor.json"), "-i", merged, "-o", tensor]);
    expect(t.code, t.err).toBe(0);
    const f = await cli(fit, "fit", [tensor, "-o", fitDir]);
    expect(f.code, f.err).toBe(0);
    const res = JSON.parse(readFileSync(path.join(fitDir, "fitresults.json"), "utf8")) as {
      status: string;
      parameters: { name: string; kind: string; value: number; error: number }[];
    };
    expect(res.status).toBe("converged");
    const mass = res.parameters.find((p) => p.name === "massShiftW100MeV")!;
    const mu = res.parameters.find((p) => p.name === "Wmunu")!;
    process.stdout.write(`e2e: massShiftW100MeV = ${mass.value.toFixed(3)} ± ${mass.error.toFixed(3)} (injected ${INJECTED}); mu = ${mu.value.toFixed(4)} ± ${mu.error.toFixed(4)}\n`);
    expect(mass.kind).toBe("noi");
    expect(Math.abs(mass.value - INJECTED)).toBeLessThan(2 * mass.error);
    // the shift is measured, not just allowed: well away from zero
    expect(mass.value / mass.error).toBeGreaterThan(2.5);
    expect(Math.abs(mu.value - 1)).toBeLessThan(3 * mu.error);
  });

  it.skipIf(!existsSync(refFit) || !existsSync(python))("the float64 reference fit of the same tensor agrees (bin-by-bin stats on)", () => {
    const r = spawnSync(python, [refFit, tensor, "--bbb"], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const ref = JSON.parse(r.stdout) as { names: string[]; values: number[]; errors: number[] };
    const ours = JSON.parse(readFileSync(path.join(fitDir, "fitresults.json"), "utf8")) as { parameters: { name: string; value: number; error: number }[] };
    const i = ref.names.indexOf("massShiftW100MeV");
    const mass = ours.parameters.find((p) => p.name === "massShiftW100MeV")!;
    expect(Math.abs(mass.value - ref.values[i])).toBeLessThan(1e-3 * ref.errors[i] + 1e-6);
    expect(mass.error).toBeCloseTo(ref.errors[i], 3);
  });
});
