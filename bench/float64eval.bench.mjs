// Float64Evaluator and dense linear algebra on the W-mass-sized model (2880 bins × 10 procs, 4859
// nuisances, 5.9M log κ non-zeros): time per HVP and the log κ bandwidth it reaches against a memcpy
// measured in the same run, exact Hessian time, Cholesky + inverse time and GFLOP/s (native and,
// when installed, OpenBLAS), yield-variance time. Uses the compiled code in dist/ (npm run build).
// Usage: node bench/float64eval.bench.mjs [--file /tmp/wmass_sparse.hdf5] [--threads 2] [--hvps 30]
//   Without --file: /tmp/wmass_sparse.hdf5 when it exists, else the TypeScript W-mass preset.
import { existsSync } from "node:fs";
import { buildLikelihoodSpec } from "../dist/fitter/likelihoodSpec.js";
import { Float64Evaluator } from "../dist/fitter/Float64Evaluator.js";
import { CholeskyFactor, openblasAvailable } from "../dist/fitter/denseLinalg.js";

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const threads = Number(arg("--threads", "2"));
const nhvp = Number(arg("--hvps", "30"));
const file = arg("--file", existsSync("/tmp/wmass_sparse.hdf5") ? "/tmp/wmass_sparse.hdf5" : "");
const ms = (t) => (performance.now() - t);

let t0 = performance.now();
let model;
if (file) {
  const { readTensor } = await import("../dist/src/tensor/TensorReader.js");
  model = await readTensor(file);
  console.log(`model ${file} read in ${(ms(t0) / 1e3).toFixed(2)} s`);
} else {
  const { generateWmassModel } = await import("../dist/src/tensor/wmassPreset.js");
  model = generateWmassModel({ seed: 1 }).model;
  console.log(`W-mass preset generated in ${(ms(t0) / 1e3).toFixed(2)} s`);
}
const spec = buildLikelihoodSpec(model, { poiMode: "linear" });
const nnz = spec.logk.values.length;
console.log(
  `${spec.nbins} bins × ${spec.nproc} procs, ${spec.nsyst} nuisances, ${nnz} log κ non-zeros, ` +
    `BB-lite ${spec.bbK ? "on" : "off"}, ${spec.symmetric ? "symmetric" : "asymmetric"}, threads ${threads}`,
);

t0 = performance.now();
const ev = new Float64Evaluator(spec, { threads });
console.log(`evaluator set-up ${ms(t0).toFixed(0)} ms`);
const n = ev.nparams;
const x = new Float64Array(n);
for (let q = 0; q < spec.nsig; q++) x[q] = 1;
for (let j = spec.nsig; j < n; j++) x[j] = 0.1 * Math.sin(j);

// memcpy bandwidth in this run (bytes read + written per second)
const big = Buffer.alloc(512 << 20, 1);
const dst = Buffer.alloc(512 << 20);
let best = Infinity;
for (let r = 0; r < 5; r++) {
  t0 = performance.now();
  big.copy(dst);
  best = Math.min(best, ms(t0));
}
const memcpyGBs = (2 * big.length) / (best * 1e6);
console.log(`memcpy 512 MB: ${best.toFixed(1)} ms → ${memcpyGBs.toFixed(1)} GB/s (read + write)`);

const timeIt = (reps, f) => {
  const times = [];
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    f(r);
    times.push(ms(t));
  }
  times.sort((a, b) => a - b);
  return { median: times[times.length >> 1], min: times[0] };
};
const xs = Array.from({ length: 12 }, (_, r) => x.map((v, i) => v + 1e-4 * r * Math.cos(i)));
const tNll = timeIt(12, (r) => ev.nll(xs[r]));
const tGrad = timeIt(12, (r) => ev.valueAndGradient(xs[(r + 6) % 12].map((v) => v * 1.0001)));
ev.valueAndGradient(x);
const vs = Array.from({ length: 4 }, (_, r) => Float64Array.from({ length: n }, (_, i) => Math.sin(i * (r + 1))));
const tHvp = timeIt(nhvp, (r) => ev.hessianVectorProduct(x, vs[r % 4]));
// one fused pass reads each non-zero once (8 B value + a 2 B column index when the columns fit in
// 16 bits, else 4 B) plus the row pointers
const bytes = nnz * (8 + (spec.logk.ncols <= 65536 ? 2 : 4)) + spec.logk.rowPtr.length * 4;
const hvpGBs = bytes / (tHvp.median * 1e6);
console.log(`nll: ${tNll.median.toFixed(2)} ms   value+gradient: ${tGrad.median.toFixed(2)} ms (new x each call)`);
console.log(
  `HVP: median ${tHvp.median.toFixed(2)} ms, min ${tHvp.min.toFixed(2)} ms over ${nhvp}; log κ read ${(bytes / 1e6).toFixed(0)} MB/HVP → ` +
    `${hvpGBs.toFixed(1)} GB/s = ${((100 * hvpGBs) / memcpyGBs).toFixed(0)}% of memcpy (read+write) bandwidth`,
);

// Hessian and covariance at the minimum of the Asimov data set of x0 = (μ = 1, θ = 0), where H is positive definite.
const x0 = new Float64Array(n);
for (let q = 0; q < spec.nsig; q++) x0[q] = 1;
const nu0 = ev.yields(x0);
const asimov = new Float64Array(spec.nbins);
for (let b = 0; b < spec.nbins; b++) for (let p = 0; p < spec.nproc; p++) asimov[b] += nu0[b * spec.nproc + p];
ev.setData(asimov);
t0 = performance.now();
const H = ev.hessian(x0);
const tHess = ms(t0);
console.log(`Hessian ${n}×${n}: ${(tHess / 1e3).toFixed(2)} s`);

const flops = n ** 3; // potrf n³/3 + trtri n³/3 + lauum n³/3
const backends = ["native", ...(openblasAvailable() ? ["openblas"] : [])];
let cov = null;
for (const backend of backends) {
  globalThis.gc?.();
  t0 = performance.now();
  const f = CholeskyFactor.factor(H, n, { threads, backend });
  const tf = ms(t0);
  if (!f) {
    console.log(`${backend}: Hessian not positive definite`);
    continue;
  }
  const c = f.inverse();
  const tt = ms(t0);
  console.log(
    `Cholesky+inverse (${backend}, ${threads} threads): factor ${(tf / 1e3).toFixed(2)} s, total ${(tt / 1e3).toFixed(2)} s → ` +
      `${(flops / (tt * 1e6)).toFixed(1)} GFLOP/s`,
  );
  cov ??= c;
}
if (cov) {
  t0 = performance.now();
  ev.yieldVariances(x0, cov);
  console.log(`yieldVariances (${spec.nbinsFull * spec.nproc} rows + ${spec.nbinsFull} bins): ${(ms(t0) / 1e3).toFixed(2)} s`);
}
ev.dispose();
