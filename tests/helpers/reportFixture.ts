/**
 * A small fit for the report tests: a 2-D channel (continuous × categorical axis), a masked 1-D
 * channel, 3 processes (one with markup in its name), 61 nuisances (one named like an XSS attack,
 * one free), a NOI, groups; fitted with the real CLI (--impacts), plus an Asimov fit as reference.
 */
import fs from "node:fs";
import path from "node:path";
import { TensorBuilder } from "../../src/tensor/TensorBuilder.js";
import { writeTensor } from "../../src/tensor/TensorWriter.js";
import { SeededRandom } from "../../src/tensor/seededRandom.js";
import { main as fitMain } from "../../src/cli/fit.js";
import { runCommand } from "./cli.js";

export const XSS_NAME = "<img src=x onerror=alert(1)>";
export const MARKUP_PROC = "bkg <b>bold</b>";
/** nuisances (constrained and free) besides the NOI */
export const N_NUISANCES = 61;
export const NOI = "shift_noi";

export async function writeReportModel(file: string): Promise<void> {
  const rng = new SeededRandom(11);
  const b = new TensorBuilder({ systematicType: "log_normal" });
  const edges = Array.from({ length: 9 }, (_, i) => 20 + 5 * i);
  b.addChannel("sr", [{ name: "mt", label: "m_{T} [GeV]", edges }, { name: "charge", label: "charge", categories: [-1, 1] }]);
  b.addChannel("fiducial", [{ name: "ptV", label: "p_{T}(V) [GeV]", edges: [0, 10, 20, 40, 80] }], { masked: true });
  const nsr = 16;
  const shape = (scale: number, slope: number): Float64Array =>
    Float64Array.from({ length: nsr }, (_, i) => scale * Math.exp(-slope * Math.floor(i / 2)) * (i % 2 === 0 ? 0.9 : 1.1));
  b.addProcess("sr", "sig", shape(800, 0.15), { signal: true });
  b.addProcess("sr", MARKUP_PROC, shape(500, 0.3));
  b.addProcess("sr", "ttbar", shape(200, 0.05));
  b.addProcess("fiducial", "sig", [300, 250, 150, 60], { signal: true });
  b.addProcess("fiducial", MARKUP_PROC, [0, 0, 0, 0]);
  b.addProcess("fiducial", "ttbar", [0, 0, 0, 0]);
  const truth = shape(800, 0.15).map((v, i) => v * 1.05 + shape(500, 0.3)[i] + shape(200, 0.05)[i]);
  b.addData("sr", truth.map((v) => rng.poisson(v)));
  b.addNormSystematic("lumi", ["sig", MARKUP_PROC, "ttbar"], "sr", 0.02, { groups: ["experimental"] });
  b.addNormSystematic(XSS_NAME, MARKUP_PROC, "sr", 0.1, { groups: ["experimental"] });
  b.addNormSystematic("ttbar_norm", "ttbar", "sr", 0.5, { constrained: false });
  for (let k = 0; k < N_NUISANCES - 3; k++) {
    const proc = ["sig", MARKUP_PROC, "ttbar"][k % 3];
    const up = shape(1, 0).map((_, i) => 1 + 0.03 * (1 + (k % 5)) * Math.sin((k + 1) * (i + 1) * 0.7));
    const nominal = proc === "sig" ? shape(800, 0.15) : proc === "ttbar" ? shape(200, 0.05) : shape(500, 0.3);
    b.addShapeSystematic(`shape_${String(k).padStart(2, "0")}`, proc, "sr", nominal.map((v, i) => v * up[i]), null, {
      groups: [k % 2 === 0 ? "theory" : "experimental"],
    });
  }
  const sig = shape(800, 0.15);
  b.addShapeSystematic(NOI, "sig", "sr", sig.map((v, i) => v * (1 + 0.04 * ((i >> 1) - 3.5) / 3.5)), null, { noi: true, constrained: false });
  await writeTensor(file, b.build({ storage: "dense" }), { compression: "none" });
}

/** Writes the model and fits it (observed and Asimov); returns the two output folders. */
export async function reportFits(dir: string): Promise<{ input: string; fit: string; asimov: string }> {
  fs.mkdirSync(dir, { recursive: true });
  const input = path.join(dir, "report_model.hdf5");
  await writeReportModel(input);
  const fit = path.join(dir, "fit");
  const asimov = path.join(dir, "asimov");
  for (const [out, extra] of [[fit, []], [asimov, ["--asimov"]]] as const) {
    const r = await runCommand(fitMain, "fit", [input, "--impacts", "-o", out, ...extra]);
    if (r.code !== 0) throw new Error(`fit ${out} failed (${r.code}): ${r.stderr}`);
  }
  return { input, fit, asimov };
}
