// Measures writing fitresults.{hdf5,json} (fitter/writeResults.ts, compiled in dist/) for a real fit:
// the result is rebuilt from an existing output folder (parameters and scalars from fitresults.json,
// covariance, data and yields from fitresults.hdf5) and written with the default content (covariance
// only) and with --correlation (covariance and correlation: what every fit wrote before), alternately,
// REPEATS times each; prints the file sizes and each write time. A fit writes once per process, so
// the first write of a process (h5wasm's heap grows to hold the matrices) is the one a fit pays:
// ONLY = default | correlation writes just that variant, for one cold write per process.
// usage: node scripts/measure-results-write.mjs FIT_OUTPUT_DIR [REPEATS] [ONLY]
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import h5wasm from "h5wasm/node";
import { writeFitResults } from "../dist/fitter/writeResults.js";

const [dir, repeatsArg, only] = process.argv.slice(2);
if (!dir) {
  console.error("usage: node scripts/measure-results-write.mjs FIT_OUTPUT_DIR [REPEATS]");
  process.exit(2);
}
const repeats = Number(repeatsArg ?? 2);
await h5wasm.ready;
const j = JSON.parse(readFileSync(join(dir, "fitresults.json"), "utf8"));
const f = new h5wasm.File(join(dir, "fitresults.hdf5"), "r");
const get = (p) => f.get(p)?.value;
const procs = get("procs");
const channelNames = f.get("channels").keys();
const channels = [];
const nbinsFull = channelNames.reduce((a, c) => a + Number(f.get(`channels/${c}`).attrs.size.value), 0);
const nproc = procs.length;
const table = (which) => {
  const t = { perProcess: new Float64Array(nbinsFull * nproc), perProcessVariance: new Float64Array(nbinsFull * nproc), total: new Float64Array(nbinsFull), totalVariance: new Float64Array(nbinsFull) };
  for (const c of channelNames) {
    const start = Number(f.get(`channels/${c}`).attrs.start.value);
    const y = get(`channels/${c}/${which}/yields`);
    const ye = get(`channels/${c}/${which}/yields_err`);
    t.perProcess.set(y, start * nproc);
    t.perProcessVariance.set(ye.map((e) => e * e), start * nproc);
    t.total.set(get(`channels/${c}/${which}/total`), start);
    t.totalVariance.set(get(`channels/${c}/${which}/total_err`).map((e) => e * e), start);
  }
  return t;
};
for (const c of channelNames) {
  const g = f.get(`channels/${c}`);
  channels.push({ name: c, axes: JSON.parse(g.attrs.axes_json.value), masked: Number(g.attrs.masked.value) === 1, flow: false, start: Number(g.attrs.start.value), size: Number(g.attrs.size.value) });
}
const result = {
  ...j,
  pvalue: j.pvalue ?? Number.NaN,
  poiMode: j.poi_mode,
  dataSource: j.data,
  parameters: j.parameters.map((p) => ({ ...p, value: p.value ?? Number.NaN, error: p.error ?? Number.NaN, frozen: p.frozen === true })),
  covariance: get("covariance"),
  x: new Float64Array(j.parameters.length),
  gradient: new Float64Array(j.parameters.length),
  data: get("data_obs"),
  prefitYields: table("prefit"),
  postfitYields: table("postfit"),
};
f.close();
const layout = { procs, channels, nbins: result.data.length, nbinsFull };
const n = result.parameters.length;
console.log(`${dir}: ${n} parameters, ${nbinsFull} bins × ${nproc} processes`);
const out = mkdtempSync(join(tmpdir(), "results-write-"));
for (let r = 0; r < repeats; r++) {
  const variants = [
    ["default", "default (covariance)", {}],
    ["correlation", "--correlation (covariance + correlation, as before)", { correlation: true }],
  ].filter(([key]) => only === undefined || only === key);
  for (const [, label, opts] of variants) {
    const target = join(out, `r${r}-${opts.correlation ? "corr" : "cov"}`);
    const t0 = performance.now();
    const w = await writeFitResults(target, result, j.meta, layout, opts);
    const s = (performance.now() - t0) / 1000;
    console.log(`${label.padEnd(52)} fitresults.hdf5 ${(statSync(w.hdf5).size / 1e6).toFixed(1).padStart(6)} MB, json ${(statSync(w.json).size / 1e6).toFixed(2)} MB; write ${s.toFixed(2)} s`);
    rmSync(target, { recursive: true, force: true });
  }
}
rmSync(out, { recursive: true, force: true });
