// ‖H c − e_POI‖ for the POI column of C reconstructed from each result file's traditional impacts
import { readFileSync } from "node:fs";
import { readTensor } from "/work/main/dist/src/tensor/TensorReader.js";
import { FitSession } from "/work/main/dist/fitter/session.js";
const [file, xfile, ...jsons] = process.argv.slice(2);
const model = await readTensor(file);
const session = new FitSession(model, { threads: 2 });
const buf = readFileSync(xfile);
const x = new Float64Array(buf.buffer, buf.byteOffset, buf.byteLength / 8).slice();
for (const j of jsons) {
  const r = JSON.parse(readFileSync(j, "utf8"));
  const n = r.errors.length;
  const c = new Float64Array(n);
  c[0] = r.poiErrors[0] ** 2;
  for (let k = 1; k < n; k++) c[k] = r.impacts.traditional[k - 1] * r.errors[k];
  const hc = session.objective.hessianVectorProduct(x, c);
  hc[0] -= 1;
  let s = 0; for (const v of hc) s += v * v;
  console.log(j, "‖H c − e_poi‖ =", Math.sqrt(s).toExponential(3));
}
session.dispose();
