// correctionlib evaluation throughput on 1e6-element columns: a muon-SF-like multibinning under a
// string category (tests/fixtures/correctionlib/muon_Z.json.gz) and a formula with log and erf.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { correctionSetFromJson, loadCorrectionSet } from "../dist/src/histmaker/correctionlib/index.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const sf = loadCorrectionSet(join(root, "tests/fixtures/correctionlib/muon_Z.json.gz"))["NUM_TightID_DEN_TrackerMuons"];
const formula = correctionSetFromJson({
  schema_version: 2,
  corrections: [{
    name: "f", version: 1, inputs: [{ name: "pt", type: "real" }], output: { name: "w", type: "real" },
    data: { nodetype: "formula", expression: "[0] + [1]*log(x) + [2]*erf((x-[3])/[4])", parser: "TFormula", variables: ["pt"], parameters: [1, 0.01, 0.05, 30, 10] },
  }],
})["f"];

const n = 1_000_000;
let s = 1;
const rnd = () => ((s = (s * 1664525 + 1013904223) >>> 0), s / 4294967296);
const eta = Float64Array.from({ length: n }, () => 2.4 * rnd());
const pt = Float32Array.from({ length: n }, () => 15 + 100 * rnd());
const cases = [
  ["muon SF (multibinning 4×7 under a category), 3 inputs", () => sf.evaluate(eta, pt, "nominal")],
  ["formula [0] + [1]*log(x) + [2]*erf((x-[3])/[4])", () => formula.evaluate(pt)],
];
for (const [name, fn] of cases) {
  fn();
  const reps = 5;
  const t0 = performance.now();
  for (let k = 0; k < reps; k++) fn();
  const ms = (performance.now() - t0) / reps;
  console.log(`${name}: ${ms.toFixed(0)} ms per 1e6 elements (${(n / ms / 1e3).toFixed(2)} M/s)`);
}
