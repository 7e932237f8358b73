// The fit on the W-mass-scale model (2880 bins, 10 processes, 4859 nuisances, 5.9M log κ):
// minimisation time, iterations and HVPs, time per HVP and the log κ bandwidth it achieves against
// a copy bandwidth measured in the same run, Hessian and covariance time, peak memory; and the
// numpy/scipy peer (../shared/reference/peer_fit.py) on the same sparse file, with the agreement.
//
//   node bench/fit.bench.mjs            sparse and dense inputs
//   BENCH_FIT_DENSE=0 node bench/...    sparse only (the dense file is 1.1 GB)
//   BENCH_FIT_PEER=0                    skip the peer
//   BENCH_FIT_DIR=/path                 where the inputs are made (default /tmp/hepfit-bench)
// Needs `npx tsc` first (imports ../dist).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");
const shared = resolve(root, "../shared/reference");
const python = "/usr/bin/python3";
const workDir = process.env.BENCH_FIT_DIR ?? "/tmp/hepfit-bench";
const withDense = process.env.BENCH_FIT_DENSE !== "0";
const withPeer = process.env.BENCH_FIT_PEER !== "0";

const { readTensor } = await import(join(root, "dist/src/tensor/TensorReader.js"));
const { fit } = await import(join(root, "dist/fitter/fit.js"));
const { buildLikelihoodSpec } = await import(join(root, "dist/fitter/likelihoodSpec.js"));
const { Float64Evaluator } = await import(join(root, "dist/fitter/Float64Evaluator.js"));

const hasPython = existsSync(python) && spawnSync(python, ["-c", "import h5py, numpy, scipy"]).status === 0;

function ensureModel(dense) {
  const file = join(workDir, dense ? "wmass_dense.hdf5" : "wmass_sparse.hdf5");
  if (existsSync(file)) return file;
  if (!hasPython) return null;
  mkdirSync(workDir, { recursive: true });
  console.log(`generating ${file} ...`);
  const r = spawnSync(python, [join(shared, "wmass_model.py"), file, ...(dense ? ["--dense"] : [])], { stdio: "inherit" });
  return r.status === 0 ? file : null;
}

/** Copy bandwidth (bytes read + written per second) of a typed-array copy well beyond cache size. */
function copyBandwidth() {
  const n = 32 * 1024 * 1024; // 256 MB per array
  const a = new Float64Array(n).fill(1.5);
  const b = new Float64Array(n);
  b.set(a); // warm-up (page faults)
  let best = Infinity;
  for (let rep = 0; rep < 5; rep++) {
    const t = performance.now();
    b.set(a);
    best = Math.min(best, (performance.now() - t) / 1000);
  }
  return (2 * n * 8) / best;
}

const gb = (bytesPerSecond) => `${(bytesPerSecond / 1e9).toFixed(2)} GB/s`;

async function benchOne(file, label) {
  const t0 = performance.now();
  const model = await readTensor(file);
  const loadSeconds = (performance.now() - t0) / 1000;
  const result = await fit(model, { backend: "native", loadSeconds, skipYields: false });
  const t = result.timing;
  const nnz = model.logk.values.length;
  // one HVP reads log κ (values + column indices) at least once
  const bytesPerPass = nnz * (8 + 4) + model.logk.rowPtr.length * 4;

  // time per HVP measured directly at the minimum
  const spec = buildLikelihoodSpec(model, { poiMode: "linear", bbb: result.bbb });
  const ev = new Float64Evaluator(spec, {});
  const v = new Float64Array(result.x.length).map((_, i) => Math.sin(i + 1));
  await ev.hessianVectorProduct(result.x, v);
  const reps = 20;
  const th = performance.now();
  for (let r = 0; r < reps; r++) await ev.hessianVectorProduct(result.x, v);
  const hvpSeconds = (performance.now() - th) / 1000 / reps;
  ev.dispose();

  const copyBw = copyBandwidth();
  console.log(`--- ${label}: ${file} (${(statSync(file).size / 1e6).toFixed(0)} MB, ${model.systs.length} nuisances, ${nnz} log κ)`);
  console.log(`status ${result.status}${result.message ? ` (${result.message})` : ""}  nll ${result.nll.toFixed(6)}  edm ${result.edm.toExponential(2)}`);
  const shown = result.parameters.filter((p) => p.kind === "poi" || p.kind === "noi");
  for (const p of shown) console.log(`  ${p.name} = ${p.value.toFixed(5)} ± ${p.error.toFixed(5)}`);
  console.log(`load ${t.load_s.toFixed(2)} s`);
  console.log(`minimise ${t.minimize_s.toFixed(2)} s, ${result.iterations} iterations, ${result.hvps} HVPs (${((t.minimize_s / Math.max(result.hvps, 1)) * 1e3).toFixed(2)} ms of minimisation per HVP)`);
  console.log(`HVP ${(hvpSeconds * 1e3).toFixed(2)} ms; log κ ${(bytesPerPass / 1e6).toFixed(1)} MB per pass → ${gb(bytesPerPass / hvpSeconds)} vs copy ${gb(copyBw)} (${((bytesPerPass / hvpSeconds / copyBw) * 100).toFixed(0)}%)`);
  console.log(`Hessian ${t.hessian_s.toFixed(2)} s (${result.hessians} computed), covariance (Hessian + Cholesky + inverse) ${t.covariance_s.toFixed(2)} s, postfit yields ${t.postfit_yields_s.toFixed(2)} s, total ${t.total_s.toFixed(2)} s`);
  console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
  return result;
}

function runPeer(file, ours) {
  console.log(`--- peer (numpy/scipy, ${python} ${join(shared, "peer_fit.py")})`);
  const r = spawnSync(python, [join(shared, "peer_fit.py"), file], { encoding: "utf8", maxBuffer: 1 << 28 });
  if (r.status !== 0) {
    console.log(`peer failed: ${r.stderr.trim().split("\n").pop()}`);
    return;
  }
  const peer = JSON.parse(r.stdout);
  const pt = peer.timing;
  console.log(`peer: ${peer.iterations} iterations, ${peer.hvps} HVPs, minimise ${pt.minimize_s.toFixed(2)} s, Hessian ${pt.hessian_s.toFixed(2)} s, covariance ${pt.covariance_s.toFixed(2)} s, total ${pt.total_s.toFixed(2)} s`);
  console.log(`ours: total ${ours.timing.total_s.toFixed(2)} s → ${(pt.total_s / ours.timing.total_s).toFixed(2)}× the peer's speed`);
  const index = new Map(ours.parameters.map((p, i) => [p.name, i]));
  let worstValue = 0;
  let worstError = 0;
  let worstValueName = "";
  let worstErrorName = "";
  peer.names.forEach((name, k) => {
    const p = ours.parameters[index.get(name)];
    if (!p) return;
    const dv = Math.abs(p.value - peer.values[k]) / peer.errors[k];
    const de = Math.abs(p.error / peer.errors[k] - 1);
    if (dv > worstValue) [worstValue, worstValueName] = [dv, name];
    if (de > worstError) [worstError, worstErrorName] = [de, name];
  });
  const ok = worstValue < 1e-5 && worstError < 1e-5;
  console.log(`agreement: max |Δvalue|/error ${worstValue.toExponential(2)} (${worstValueName}), max |Δerror|/error ${worstError.toExponential(2)} (${worstErrorName}), |Δnll| ${Math.abs(ours.nll - peer.nll).toExponential(2)} (peer edm ${peer.edm.toExponential(1)}) → ${ok ? "within" : "OUTSIDE"} 1e-5`);
}

const sparse = ensureModel(false);
if (!sparse) {
  console.log("skipping: no W-mass model and no python3 with h5py/numpy/scipy to make one");
  process.exit(0);
}
const ours = await benchOne(sparse, "sparse");
if (withPeer && hasPython) runPeer(sparse, ours);
else console.log("peer skipped (BENCH_FIT_PEER=0 or no python3 with h5py/scipy)");
if (withDense) {
  const dense = ensureModel(true);
  if (dense) await benchOne(dense, "dense");
  else console.log("dense skipped: could not make the dense model");
}
