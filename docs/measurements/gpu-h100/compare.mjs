// usage: node compare.mjs a/fitresults.json (b/fitresults.json | expected.json)
import { readFileSync } from "node:fs";
const load = (p) => {
  const d = JSON.parse(readFileSync(p, "utf8"));
  if (Array.isArray(d.parameters)) return { names: d.parameters.map((q) => q.name), values: d.parameters.map((q) => q.value), errors: d.parameters.map((q) => q.error), nll: d.nll, extra: `status ${d.status} edm ${d.edm} engine ${JSON.stringify(d.engine)} timing ${JSON.stringify(d.timing)} iterations ${d.iterations} hvps ${d.hvps}` };
  return { names: d.names, values: d.values, errors: d.errors, nll: d.nll, extra: "" };
};
const [pa, pb] = process.argv.slice(2);
const a = load(pa), b = load(pb);
const idx = new Map(b.names.map((n, i) => [n, i]));
let dv = 0, dvName = "", de = 0, deName = "", missing = 0;
for (let i = 0; i < a.names.length; i++) {
  const j = idx.get(a.names[i]);
  if (j === undefined) { missing++; continue; }
  const sig = b.errors[j] || 1;
  const v = Math.abs(a.values[i] - b.values[j]) / sig;
  const e = Math.abs(a.errors[i] - b.errors[j]) / Math.abs(b.errors[j] || 1);
  if (v > dv) { dv = v; dvName = a.names[i]; }
  if (e > de) { de = e; deName = a.names[i]; }
}
console.log(`A: ${pa}\n   ${a.extra}\nB: ${pb}\n   ${b.extra}`);
console.log(`params ${a.names.length} (missing in B ${missing}); max |Δvalue|/σ ${dv.toExponential(3)} (${dvName}); max rel Δerror ${de.toExponential(3)} (${deName}); nll A ${a.nll} B ${b.nll} Δ ${(a.nll - b.nll).toExponential(3)}`);
