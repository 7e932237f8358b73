// Times TfLikelihood valueAndGradient / HVP on a tfjs backend vs the native float64 evaluator.
// usage: node .devcarry/bench-webgpu.mjs model.hdf5 [backend=webgpu] [reps=10]
import { performance } from "node:perf_hooks";
import { readTensor } from "../dist/src/tensor/TensorReader.js";
import { buildLikelihoodSpec } from "../dist/fitter/likelihoodSpec.js";
import { prefitPoint } from "../dist/fitter/parameters.js";
import { initBackend } from "../dist/fitter/tfBackends.js";
import { TfLikelihood } from "../dist/fitter/tfLikelihood.js";
import { Float64Evaluator } from "../dist/fitter/Float64Evaluator.js";
import * as tf from "@tensorflow/tfjs";

const [file, backend = "webgpu", repsArg = "10"] = process.argv.slice(2);
const reps = Number(repsArg);
const median = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
const model = await readTensor(file);
const spec = buildLikelihoodSpec(model, { poiMode: "linear", data: model.data ?? undefined });
const x0 = prefitPoint(model, "linear", 1);
const n = x0.length;
console.log(`model: nbins ${spec.nbins} nproc ${spec.nproc} nsyst ${spec.nsyst} nparams ${n} logk nnz ${spec.logk.rowPtr[spec.logk.nrows]}`);
const shift = (k) => { const x = Float64Array.from(x0); for (let i = 0; i < n; i++) x[i] += 1e-3 * Math.sin(7 * i + k); return x; };
const dir = (k) => { const v = new Float64Array(n); for (let i = 0; i < n; i++) v[i] = Math.cos(3 * i + k); return v; };

const info = await initBackend(backend, {});
console.log(`backend ${JSON.stringify(info)} tf.getBackend()=${tf.getBackend()}`);
if (globalThis.navigator?.gpu) {
  const a = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  const i = a?.info ?? {};
  console.log(`adapter: vendor=${i.vendor} architecture=${i.architecture} device=${i.device} description=${i.description} fallback=${a?.isFallbackAdapter ?? i.isFallbackAdapter}`);
}
const tInit = performance.now();
const tfl = new TfLikelihood(spec);
console.log(`TfLikelihood construct ms ${(performance.now() - tInit).toFixed(1)}`);
const ev = new Float64Evaluator(spec, {});
// warm-up (shader compilation)
for (let k = 0; k < 3; k++) { await tfl.valueAndGradient(shift(100 + k)); await tfl.hessianVectorProduct(shift(100 + k), dir(k)); }
const vg = [], hvp = [], vg64 = [], hvp64 = [];
let maxRelG = 0, maxRelH = 0, relV = 0;
for (let k = 0; k < reps; k++) {
  const x = shift(k), v = dir(k);
  let t = performance.now(); const r = await tfl.valueAndGradient(x); vg.push(performance.now() - t);
  t = performance.now(); const h = await tfl.hessianVectorProduct(x, v); hvp.push(performance.now() - t);
  t = performance.now(); const r64 = ev.valueAndGradient(x); vg64.push(performance.now() - t);
  t = performance.now(); const h64 = ev.hessianVectorProduct(x, v); hvp64.push(performance.now() - t);
  const gn = Math.max(...r64.gradient.map(Math.abs)), hn = Math.max(...h64.map(Math.abs));
  for (let i = 0; i < n; i++) { maxRelG = Math.max(maxRelG, Math.abs(r.gradient[i] - r64.gradient[i]) / gn); maxRelH = Math.max(maxRelH, Math.abs(h[i] - h64[i]) / hn); }
  relV = Math.max(relV, Math.abs(r.value - r64.value) / Math.abs(r64.value));
}
console.log(`${backend} f32: valueAndGradient median ms ${median(vg).toFixed(2)} (all ${vg.map((t) => t.toFixed(1)).join(" ")})`);
console.log(`${backend} f32: HVP (same point, new v) median ms ${median(hvp).toFixed(2)} (all ${hvp.map((t) => t.toFixed(1)).join(" ")})`);
console.log(`native f64: valueAndGradient median ms ${median(vg64).toFixed(2)}; HVP median ms ${median(hvp64).toFixed(2)}`);
// HVPs at a fixed point with fresh directions, as the Krylov solver does
const fixed = shift(999); await tfl.valueAndGradient(fixed);
const hv2 = []; for (let k = 0; k < reps; k++) { const t = performance.now(); await tfl.hessianVectorProduct(fixed, dir(50 + k)); hv2.push(performance.now() - t); }
console.log(`${backend} f32: HVP at cached point median ms ${median(hv2).toFixed(2)}`);
console.log(`agreement vs f64: rel value ${relV.toExponential(2)}, max |dg|/max|g| ${maxRelG.toExponential(2)}, max |dHv|/max|Hv| ${maxRelH.toExponential(2)}`);
tfl.dispose(); ev.dispose();
