// HVP timings of TfLikelihood on webgpu: gather-reduce ("ell", the new default) vs ScatterNd ("nd"),
// agreement with the native float64 evaluator, a tf.profile kernel breakdown, IndexMap micro-benchmarks.
// usage: node .devcarry/ell/h100.mjs model.hdf5 [reps=10]
import { performance } from "node:perf_hooks";
import * as dawn from "webgpu";
import * as tf from "@tensorflow/tfjs";
import { readTensor } from "../../dist/src/tensor/TensorReader.js";
import { buildLikelihoodSpec } from "../../dist/fitter/likelihoodSpec.js";
import { prefitPoint } from "../../dist/fitter/parameters.js";
import { initBackend } from "../../dist/fitter/tfBackends.js";
import { TfLikelihood } from "../../dist/fitter/tfLikelihood.js";
import { IndexMap, planSlotReduction } from "../../dist/fitter/tfIndexMap.js";
import { Float64Evaluator } from "../../dist/fitter/Float64Evaluator.js";

// our own navigator.gpu with timestamp queries allowed (tfBackends uses an existing navigator.gpu)
Object.assign(globalThis, dawn.globals);
const gpu = dawn.create(["enable-dawn-features=allow_unsafe_apis"]);
Object.defineProperty(globalThis, "navigator", { value: { gpu }, configurable: true, writable: true });

const [file, repsArg = "10"] = process.argv.slice(2);
const reps = Number(repsArg);
const median = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
const model = await readTensor(file);
const spec = buildLikelihoodSpec(model, { poiMode: "linear", data: model.data ?? undefined });
const x0 = prefitPoint(model, "linear", 1);
const n = x0.length;
const { logk, nbins, nproc } = spec;
const nnz = logk.rowPtr[nbins * nproc];
console.log(`model: nbins ${nbins} nproc ${nproc} nsyst ${spec.nsyst} nparams ${n} nnz ${nnz}`);
const shift = (k) => { const x = Float64Array.from(x0); for (let i = 0; i < n; i++) x[i] += 1e-3 * Math.sin(7 * i + k); return x; };
const dir = (k) => { const v = new Float64Array(n); for (let i = 0; i < n; i++) v[i] = Math.cos(3 * i + k); return v; };
const info = await initBackend("webgpu", {});
console.log(`backend ${JSON.stringify(info)} timestamp-query ${tf.backend().supportTimestampQuery}`);
const ev = new Float64Evaluator(spec, {});
const relDiff = (a, b) => { let m = 0, s = 0; for (let i = 0; i < a.length; i++) { m = Math.max(m, Math.abs(a[i] - b[i])); s = Math.max(s, Math.abs(b[i])); } return m / s; };

for (const indexKernels of ["ell", "nd"]) {
  let t = performance.now();
  const tfl = new TfLikelihood(spec, { indexKernels });
  console.log(`== ${indexKernels}: construct ms ${(performance.now() - t).toFixed(1)}`);
  for (let k = 0; k < 3; k++) { await tfl.valueAndGradient(shift(100 + k)); await tfl.hessianVectorProduct(shift(100 + k), dir(k)); }
  const vg = [], hvp = [];
  let relG = 0, relH = 0, relV = 0;
  for (let k = 0; k < reps; k++) {
    const x = shift(k), v = dir(k);
    t = performance.now(); const r = await tfl.valueAndGradient(x); vg.push(performance.now() - t);
    t = performance.now(); const h = await tfl.hessianVectorProduct(x, v); hvp.push(performance.now() - t);
    const r64 = ev.valueAndGradient(x), h64 = ev.hessianVectorProduct(x, v);
    relG = Math.max(relG, relDiff(r.gradient, r64.gradient)); relH = Math.max(relH, relDiff(h, h64));
    relV = Math.max(relV, Math.abs(r.value - r64.value) / Math.abs(r64.value));
  }
  const fixed = shift(999); await tfl.valueAndGradient(fixed);
  const hv2 = []; for (let k = 0; k < reps; k++) { t = performance.now(); await tfl.hessianVectorProduct(fixed, dir(50 + k)); hv2.push(performance.now() - t); }
  console.log(`${indexKernels}: valueAndGradient median ms ${median(vg).toFixed(2)} (all ${vg.map((a) => a.toFixed(1)).join(" ")})`);
  console.log(`${indexKernels}: HVP (new point) median ms ${median(hvp).toFixed(2)} (all ${hvp.map((a) => a.toFixed(1)).join(" ")})`);
  console.log(`${indexKernels}: HVP at cached point median ms ${median(hv2).toFixed(2)} (all ${hv2.map((a) => a.toFixed(1)).join(" ")})`);
  console.log(`${indexKernels}: vs native f64: rel value ${relV.toExponential(2)}, max|dg|/max|g| ${relG.toExponential(2)}, max|dHv|/max|Hv| ${relH.toExponential(2)}`);
  if (indexKernels === "ell" && tf.backend().supportTimestampQuery) {
    const p = await tf.profile(() => tfl.hessianVectorProduct(fixed, dir(7)));
    const agg = new Map(); let total = 0;
    for (const kk of p.kernels) { let ms = await kk.kernelTimeMs; if (typeof ms !== "number") ms = NaN; total += ms; const key = `${kk.name} ${JSON.stringify(kk.inputShapes)}`; const a = agg.get(key) ?? { n: 0, ms: 0 }; a.n++; a.ms += ms; agg.set(key, a); }
    console.log(`-- profile HVP (ell): ${p.kernels.length} kernels, sum of kernel ms ${total.toFixed(2)}`);
    for (const [key, a] of [...agg].sort((x, y) => y[1].ms - x[1].ms).slice(0, 10)) console.log(`   ${a.ms.toFixed(3)} ms ×${a.n} ${key}`);
  }
  tfl.dispose();
}
ev.dispose();

// IndexMap scatter-add alone, wall ms with one readback
const rowIds = new Int32Array(nnz);
for (let r = 0; r < nbins * nproc; r++) rowIds.fill(r, logk.rowPtr[r], logk.rowPtr[r + 1]);
const u = tf.randomUniform([nnz]);
for (const [name, idx, slots] of [["rows", rowIds, nbins * nproc], ["cols", logk.cols.subarray(0, nnz), logk.ncols]]) {
  const plan = planSlotReduction(idx, slots);
  console.log(`${name}: levels ${plan.levels.map((l) => `${l.width}x${l.groups}`).join(" ")}, cells/nnz ${(plan.cells / nnz).toFixed(2)}`);
  for (const kernels of ["nd", "ell"]) {
    const map = new IndexMap(idx, slots, kernels);
    for (let k = 0; k < 2; k++) { const o = map.scatterAdd(u); await o.data(); o.dispose(); }
    const w = []; for (let k = 0; k < reps; k++) { const t = performance.now(); const o = map.scatterAdd(u); await o.data(); w.push(performance.now() - t); o.dispose(); }
    const tm = await tf.time(() => { map.scatterAdd(u).dispose(); });
    console.log(`${name} ${kernels} scatterAdd: wall median ${median(w).toFixed(2)} ms; kernelMs ${typeof tm.kernelMs === "number" ? tm.kernelMs.toFixed(3) : JSON.stringify(tm.kernelMs)}`);
    map.dispose();
  }
}
