// Child of bench/scale.bench.mjs (also usable alone): reads a tensor file, builds the likelihood spec
// and the native float64 evaluator, evaluates value+gradient and one HVP, and prints one JSON line with
// the timings and the peak RSS (getrusage maxrss) after each step, so the memory per log κ entry of
// reading + set-up is measured in a process of its own.
// Usage: node bench/scaleSetup.mjs FILE [--threads 2]
import { readTensor } from "../dist/src/tensor/TensorReader.js";
import { buildLikelihoodSpec } from "../dist/fitter/likelihoodSpec.js";
import { Float64Evaluator } from "../dist/fitter/Float64Evaluator.js";

const file = process.argv[2];
const ti = process.argv.indexOf("--threads");
const threads = ti >= 0 ? Number(process.argv[ti + 1]) : 2;
const rssMB = () => process.resourceUsage().maxRSS / 1024;
const out = { file, baseRssMB: rssMB() };
let t = performance.now();
const model = await readTensor(file);
out.readSeconds = (performance.now() - t) / 1000;
out.rssAfterReadMB = rssMB();
const spec = buildLikelihoodSpec(model, { poiMode: "linear" });
out.nnz = spec.logk.rowPtr[spec.logk.nrows];
out.nparams = spec.nsig + spec.nsyst;
out.valuesType = spec.logk.values.constructor.name;
out.colsType = spec.logk.cols.constructor.name;
t = performance.now();
const ev = new Float64Evaluator(spec, { threads });
out.setupSeconds = (performance.now() - t) / 1000;
out.rssAfterSetupMB = rssMB();
const x = new Float64Array(ev.nparams);
for (let q = 0; q < spec.nsig; q++) x[q] = 1;
t = performance.now();
const { value, gradient } = ev.valueAndGradient(x);
out.gradSeconds = (performance.now() - t) / 1000;
// median of 5 HVPs (the first pass over a freshly read tensor may still fault pages in)
const times = [];
let hv;
for (let rep = 0; rep < 5; rep++) {
  t = performance.now();
  hv = ev.hessianVectorProduct(x, gradient);
  times.push((performance.now() - t) / 1000);
}
out.hvpSeconds = times.sort((a, b) => a - b)[2];
out.nll = value;
out.hvpNorm = Math.hypot(...hv.subarray(0, Math.min(hv.length, 50000)));
out.peakRssMB = rssMB();
out.bytesPerEntry = ((out.peakRssMB - out.baseRssMB) * 1048576) / out.nnz;
ev.dispose();
console.log(JSON.stringify(out));
