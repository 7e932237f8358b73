// Sparse Hessian by probing (issue 12, fitter/sparseHessian/): reads a tensor file, builds the
// Hessian pattern, the dense rows and the probe colouring, and times them; with --evaluate also one
// evaluate() (one HVP per colour and dense row) at the prefit point, else the median of 3 HVPs and
// the implied evaluate() time. Prints one JSON line. Peak RSS: run under /usr/bin/time -v.
// Also the time per HVP when K products share one pass (hessianVectorProducts, K = 1, 4, 8, 16:
// hvpBatchSeconds[K] = median of 3 calls / K) and, with --evaluate, evaluate() with --batch K probes per
// product (default: probeHessian's DEFAULT_PROBE_BATCH; 1 = one by one).
// Usage: node bench/sparseHessian.bench.mjs [FILE] [--threads 2] [--evaluate] [--order bins|natural|largest-first] [--batch K]
// Without FILE (as `npm run bench` runs it): a generated 4000 × 6 × 3000 model (local 0.9, BB), evaluated.
import { readTensor } from "../dist/src/tensor/TensorReader.js";
import { generateModel } from "../dist/src/tensor/modelGenerator.js";
import { buildLikelihoodSpec } from "../dist/fitter/likelihoodSpec.js";
import { Float64Evaluator } from "../dist/fitter/Float64Evaluator.js";
import { chooseDenseRows, hessianPattern } from "../dist/fitter/sparseHessian/hessianPattern.js";
import { colourProbes } from "../dist/fitter/sparseHessian/probeColouring.js";
import { DEFAULT_PROBE_BATCH, sparseHessianSource } from "../dist/fitter/sparseHessian/probeHessian.js";

const file = process.argv[2] && !process.argv[2].startsWith("--") ? process.argv[2] : null;
if (!file && !process.argv.includes("--evaluate")) process.argv.push("--evaluate");
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const threads = Number(arg("--threads", 2));
const order = arg("--order", "bins");
const batchSize = Number(arg("--batch", DEFAULT_PROBE_BATCH));
const rssMB = () => Math.round(process.resourceUsage().maxRSS / 1024);
const out = { file, threads, order, batchSize };
let t = performance.now();
const lap = () => {
  const s = (performance.now() - t) / 1000;
  t = performance.now();
  return Number(s.toFixed(3));
};
const model = file ? await readTensor(file) : generateModel({ bins: 4000, procs: 6, systs: 3000, sparse: true, local: 0.9, bbb: true, events: 1e6 });
out.readSeconds = lap();
const spec = buildLikelihoodSpec(model, { poiMode: "linear" });
out.nparams = spec.nsig + spec.nsyst;
out.nbins = spec.nbins;
out.logkEntries = spec.logk.rowPtr[spec.logk.nrows];
const pattern = hessianPattern(spec, {});
out.patternSeconds = lap();
out.patternEntries = pattern.cols.length;
out.patternFraction = Number((pattern.cols.length / out.nparams ** 2).toFixed(4));
const dense = chooseDenseRows(pattern);
out.denseSeconds = lap();
out.denseRows = dense.length;
let maxSparseRow = 0;
const isDense = new Uint8Array(pattern.n);
for (const d of dense) isDense[d] = 1;
for (let i = 0; i < pattern.n; i++) {
  if (isDense[i]) continue;
  let len = 0;
  for (let k = pattern.rowPtr[i]; k < pattern.rowPtr[i + 1]; k++) if (!isDense[pattern.cols[k]]) len++;
  if (len > maxSparseRow) maxSparseRow = len;
}
out.longestSparseRow = maxSparseRow;
lap();
const colouring = colourProbes(pattern, dense, { order: order === "bins" ? pattern.binOrder : order });
out.colouringSeconds = lap();
out.colours = colouring.ncolours;
out.hvpsPerHessian = dense.length + colouring.ncolours;
out.rssAfterPatternMB = rssMB();
const ev = new Float64Evaluator(spec, { threads });
const x = new Float64Array(ev.nparams);
for (let q = 0; q < spec.nsig; q++) x[q] = 1;
lap();
const v = new Float64Array(ev.nparams).fill(1);
const times = [];
for (let rep = 0; rep < 3; rep++) {
  t = performance.now();
  ev.hessianVectorProduct(x, v);
  times.push(lap());
}
out.hvpSeconds = times.sort((a, b) => a - b)[1];
out.impliedEvaluateSeconds = Number((out.hvpSeconds * out.hvpsPerHessian).toFixed(1));
// K products in one pass over log κ: seconds per product
out.hvpBatchSeconds = {};
for (const k of [1, 4, 8, 16]) {
  const vs = new Float64Array(k * ev.nparams);
  for (let j = 0; j < k; j++) for (let i = j; i < ev.nparams; i += k) vs[j * ev.nparams + i] = 1;
  const tk = [];
  for (let rep = 0; rep < 3; rep++) {
    t = performance.now();
    ev.hessianVectorProducts(x, vs, k);
    tk.push(lap());
  }
  out.hvpBatchSeconds[k] = Number((tk.sort((a, b) => a - b)[1] / k).toFixed(4));
}
out.impliedEvaluateSecondsBatched = Number(((out.hvpBatchSeconds[batchSize] ?? out.hvpSeconds) * out.hvpsPerHessian).toFixed(1));
if (process.argv.includes("--evaluate")) {
  // the numbers so far, in case the evaluation runs past a time limit
  console.log(JSON.stringify({ ...out, peakRssMB: rssMB(), partial: true }));
  const source = sparseHessianSource(ev, spec, { pattern, order, batchSize });
  lap();
  const h = await source.evaluate(x);
  out.evaluateSeconds = lap();
  let diag = 0;
  for (let i = 0; i < h.n; i++) for (let k = h.rowPtr[i]; k < h.rowPtr[i + 1]; k++) if (h.cols[k] === i) diag += h.values[k];
  out.traceH = diag;
}
out.peakRssMB = rssMB();
ev.dispose();
console.log(JSON.stringify(out));
