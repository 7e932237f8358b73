// Where does a TfLikelihood HVP spend its time on webgpu? tf.profile of one HVP + kernel micro-benchmarks.
import { performance } from "node:perf_hooks";
import * as dawn from "webgpu";
import * as tf from "@tensorflow/tfjs";
import { readTensor } from "../dist/src/tensor/TensorReader.js";
import { buildLikelihoodSpec } from "../dist/fitter/likelihoodSpec.js";
import { prefitPoint } from "../dist/fitter/parameters.js";
import { initBackend } from "../dist/fitter/tfBackends.js";
import { TfLikelihood } from "../dist/fitter/tfLikelihood.js";

// our own navigator.gpu with timestamp queries allowed (tfBackends uses an existing navigator.gpu)
Object.assign(globalThis, dawn.globals);
const gpu = dawn.create(["enable-dawn-features=allow_unsafe_apis"]);
Object.defineProperty(globalThis, "navigator", { value: { gpu }, configurable: true, writable: true });

const [file, reps = "10"] = process.argv.slice(2);
const R = Number(reps);
const median = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
const model = await readTensor(file);
const spec = buildLikelihoodSpec(model, { poiMode: "linear" });
const x0 = prefitPoint(model, "linear", 1);
const n = x0.length;
const info = await initBackend("webgpu", {});
const be = tf.backend();
console.log(`backend ${JSON.stringify(info)} timestamp-query ${be.supportTimestampQuery}`);
const tfl = new TfLikelihood(spec);
const v = Float64Array.from({ length: n }, (_, i) => Math.cos(i));
for (let k = 0; k < 2; k++) { await tfl.valueAndGradient(x0); await tfl.hessianVectorProduct(x0, v); }

async function prof(label, f) {
  const t = performance.now();
  const p = await tf.profile(f);
  const wall = performance.now() - t;
  const agg = new Map();
  let total = 0;
  for (const k of p.kernels) {
    let ms = await k.kernelTimeMs;
    if (typeof ms !== "number") ms = NaN;
    total += ms;
    const key = `${k.name} ${JSON.stringify(k.inputShapes)}`;
    const a = agg.get(key) ?? { n: 0, ms: 0 };
    a.n++; a.ms += ms; agg.set(key, a);
  }
  console.log(`-- ${label}: wall ${wall.toFixed(1)} ms (profiled), ${p.kernels.length} kernels, sum of kernel ms ${total.toFixed(2)}`);
  for (const [key, a] of [...agg].sort((x, y) => y[1].ms - x[1].ms).slice(0, 12)) console.log(`   ${a.ms.toFixed(2)} ms  ×${a.n}  ${key}`);
}
await prof("valueAndGradient (new point)", () => tfl.valueAndGradient(x0.map((a, i) => a + 1e-4 * Math.sin(i))));
await prof("HVP (cached point)", () => tfl.hessianVectorProduct(x0.map((a, i) => a + 1e-4 * Math.sin(i)), v.map((a) => -a)));

// micro-benchmarks: wall ms including one readback
const { logk, nbins, nproc } = spec;
const nnz = logk.rowPtr[nbins * nproc];
const rowIds = new Int32Array(nnz);
for (let r = 0; r < nbins * nproc; r++) rowIds.fill(r, logk.rowPtr[r], logk.rowPtr[r + 1]);
const colNd = tf.tensor2d(logk.cols.subarray(0, nnz), [nnz, 1], "int32");
const rowNd = tf.tensor2d(rowIds, [nnz, 1], "int32");
const u = tf.randomUniform([nnz]);
const srcC = tf.randomUniform([logk.ncols]);
const srcR = tf.randomUniform([nbins * nproc]);
async function bench(label, f) {
  for (let k = 0; k < 2; k++) { const t = f(); await t.data(); t.dispose(); }
  const w = [];
  for (let k = 0; k < R; k++) { const t0 = performance.now(); const t = f(); await t.data(); w.push(performance.now() - t0); t.dispose(); }
  const tm = await tf.time(() => { f().dispose(); });
  console.log(`${label}: wall (with readback) median ${median(w).toFixed(2)} ms; kernelMs ${typeof tm.kernelMs === "number" ? tm.kernelMs.toFixed(3) : JSON.stringify(tm.kernelMs)}`);
}
console.log(`-- kernels (nnz ${nnz}, cols ${logk.ncols}, rows ${nbins * nproc})`);
await bench("tiny add + readback (latency)", () => tf.add(tf.scalar(1), tf.scalar(2)));
await bench("gatherND cols (θ → entries)", () => tf.gatherND(srcC, colNd));
await bench("gatherND rows", () => tf.gatherND(srcR, rowNd));
await bench("scatterND cols (entries → θ, many collisions)", () => tf.scatterND(colNd, u, [logk.ncols]));
await bench("scatterND rows (entries → bins×procs)", () => tf.scatterND(rowNd, u, [nbins * nproc]));
await bench("exp(u) 5M", () => tf.exp(u));
await bench("mul u*u 5M", () => tf.mul(u, u));
await bench("sum(u) 5M", () => tf.sum(u));
await bench("unsortedSegmentSum cols", () => tf.unsortedSegmentSum(u, tf.reshape(colNd, [nnz]), logk.ncols));
