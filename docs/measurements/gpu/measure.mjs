#!/usr/bin/env node
// The GPU measurement of issue 10, as one script: build, the CUDA tests (loader, CPU emulation vs the
// native engine, and the device tests: every reference model vs the native engine to 1e-10 σ), then
// on the W-mass model (fit-gen --preset wmass, or --model FILE) the CUDA engine against the native
// engine on all of this host's cores, in the same run: time per HVP (and its bandwidth as a fraction
// of the card's device-to-device copy bandwidth), per exact Hessian, Cholesky + inverse, whole fit +
// covariance, N toy refits, one batched NLL+gradient of N toys; and the agreement of the two fits in σ.
// Without a usable CUDA GPU it says so in one line and runs the native half. Writes a log and a JSON
// file into docs/measurements/gpu/logs/.
//
//   node docs/measurements/gpu/measure.mjs [--model FILE] [--toys 100] [--threads N] [--skip-build] [--skip-tests]
//   --emulate: without a GPU, run the CUDA half on the CPU emulation of the kernels (checks this
//   script's CUDA code path; its timings mean nothing)
import { spawnSync } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, hostname, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../../..");
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const flag = (name) => args.includes(name);
const ntoys = Number(opt("--toys", "100"));
const emulate = flag("--emulate");
const threads = Number(opt("--threads", String(availableParallelism())));
const stamp = new Date().toISOString().replace(/[:.]/g, "-");
const logDir = join(here, "logs");
mkdirSync(logDir, { recursive: true });
const logFile = join(logDir, `${hostname()}-${stamp}.log`);
const jsonFile = join(logDir, `${hostname()}-${stamp}.json`);
const out = {};
function log(line = "") {
  process.stdout.write(`${line}\n`);
  appendFileSync(logFile, `${line}\n`);
}
function run(cmd, cmdArgs, extraEnv = {}) {
  log(`$ ${[cmd, ...cmdArgs].join(" ")}`);
  const r = spawnSync(cmd, cmdArgs, { cwd: root, encoding: "utf8", env: { ...process.env, ...extraEnv }, maxBuffer: 1 << 28 });
  const text = `${r.stdout ?? ""}${r.stderr ?? ""}`;
  appendFileSync(logFile, text);
  return { status: r.status, text };
}
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
function timeIt(fn, reps) {
  const t = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    t.push((performance.now() - t0) / 1000);
  }
  return median(t);
}
const fmt = (s) => (s < 1e-3 ? `${(s * 1e6).toFixed(1)} µs` : s < 1 ? `${(s * 1e3).toFixed(2)} ms` : `${s.toFixed(3)} s`);

log(`# hepfit GPU measurement (issue 10), ${new Date().toISOString()} on ${hostname()}`);
log(`node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? "?"}), native engine threads ${threads}`);
{
  const smi = spawnSync("nvidia-smi", ["--query-gpu=name,driver_version,memory.total,clocks.max.memory", "--format=csv,noheader"], { encoding: "utf8" });
  log(`nvidia-smi: ${smi.status === 0 ? smi.stdout.trim() : "not available"}`);
}

// 1. build (g++ only; dist/ from the TypeScript sources)
if (!flag("--skip-build")) {
  const env = existsSync("/usr/include/node/node.h") && !process.env.npm_config_nodedir ? { npm_config_nodedir: "/usr" } : {};
  for (const [c, a] of [["node", ["scripts/build-dist.mjs"]], ["node", ["scripts/build-native.mjs", "--if-changed"]]]) {
    const r = run(c, a, env);
    if (r.status !== 0) {
      log(`build failed (${c} ${a.join(" ")} exit ${r.status}); see ${logFile}`);
      process.exit(1);
    }
  }
}
const dist = (p) => pathToFileURL(join(root, "dist", p)).href;
const { probeCuda, CudaEvaluator } = await import(dist("fitter/cuda/CudaEvaluator.js"));
const { FitSession } = await import(dist("fitter/session.js"));
const { CholeskyFactor } = await import(dist("fitter/denseLinalg.js"));
const { readTensor } = await import(dist("src/tensor/TensorReader.js"));
const { valueAndGradientBatch } = await import(dist("fitter/evaluator.js"));

const probe = probeCuda();
out.probe = { ok: probe.ok, message: probe.message };
log(probe.ok ? `CUDA: ${probe.message}` : `no usable CUDA GPU: ${probe.message} — running the native half only`);

// 2. tests: loader everywhere, kernels on the CPU emulation, and on the device where there is one
if (!flag("--skip-tests")) {
  const r = run("npx", ["vitest", "run", "tests/cudaLoader.test.ts", "tests/cudaEmulation.test.ts", "tests/cudaDevice.test.ts", "tests/evaluatorBatch.test.ts", "tests/spdFactor.test.ts"]);
  const summary = r.text.split("\n").filter((l) => /Tests\s+\d|Test Files/.test(l)).join(" | ");
  out.tests = { status: r.status, summary };
  log(`tests: exit ${r.status}: ${summary.replace(/\x1b\[[0-9;]*m/g, "")}`);
  for (const l of r.text.split("\n")) if (/^cudaDevice: fit |cudaDevice: .*worst relative/.test(l)) log(`  ${l}`);
}

// 3. the W-mass model
let modelFile = opt("--model", null);
let scratch = null;
if (!modelFile) {
  scratch = mkdtempSync(join(tmpdir(), "hepfit-gpu-"));
  modelFile = join(scratch, "wmass.hdf5");
  const r = run("node", ["bin/fit-gen.js", "--preset", "wmass", "-o", modelFile]);
  if (r.status !== 0) {
    log("fit-gen failed");
    process.exit(1);
  }
}
const model = await readTensor(modelFile);
log(`model ${modelFile}: ${model.nbins} bins, ${model.procs.length} processes, ${model.systs.length} systematics, log κ ${model.logk.values.length} non-zeros${model.symmetric ? "" : " (asymmetric)"}`);
out.model = { file: modelFile, nbins: model.nbins, nproc: model.procs.length, nsyst: model.systs.length, nnz: model.logk.values.length };

// bytes an HVP streams: CSR (rows) and CSC (columns) of log κ, 12 bytes per entry each, plus ~6
// per-row float64 vectors read or written (ν, m, Jv, u, …)
const nrowsReal = model.nbins * model.procs.length;
const nnzReal = model.logk.rowPtr[nrowsReal];
const hvpBytes = 2 * 12 * nnzReal + 6 * 8 * nrowsReal;

// Poisson counts (normal approximation above 1000, inversion below): toy data for the timing only
function poisson(lambda, u) {
  if (lambda > 1000) {
    const z = Math.sqrt(-2 * Math.log(u() || 1e-300)) * Math.cos(2 * Math.PI * u());
    return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * z));
  }
  let k = 0;
  let p = Math.exp(-lambda);
  let s = p;
  const x = u();
  while (x > s && k < 1e6) {
    k++;
    p *= lambda / k;
    s += p;
  }
  return k;
}
function mulberry(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function measureEngine(name) {
  const r = { engine: name };
  const t0 = performance.now();
  const session = new FitSession(model, {
    poiMode: "linear",
    threads,
    ...(name === "cuda" ? { createEvaluator: (spec) => new CudaEvaluator(spec, { mode: "cuda" }) } : {}),
    ...(name === "cuda-emulate" ? { createEvaluator: (spec) => new CudaEvaluator(spec, { mode: "emulate" }) } : {}),
  });
  r.setup_s = (performance.now() - t0) / 1000;
  const ev = session.evaluator;
  r.device = ev.describe ? ev.describe().device : `cpu (${threads} threads)`;
  try {
    // whole fit + covariance, from the start of the minimisation to the covariance (twice: the first warms up)
    const fits = [];
    let best = null;
    for (let i = 0; i < 2; i++) {
      const tf = performance.now();
      best = await session.minimize({ errors: "covariance" });
      fits.push((performance.now() - tf) / 1000);
    }
    session.setBest(best);
    r.fit_cov_s = fits;
    r.status = best.status;
    r.iterations = best.iterations;
    r.hvps = best.hvps;
    r.nll = best.nll;
    const x = best.x;
    const n = x.length;
    // two points in turn: the engines cache the last point
    const x2 = Float64Array.from(x, (xi, i) => xi + 1e-9 * Math.cos(i));
    let flip = false;
    r.value_gradient_s = timeIt(() => ev.valueAndGradient((flip = !flip) ? x : x2), 10);
    const v = Float64Array.from({ length: n }, (_, i) => Math.sin(i));
    ev.hessianVectorProduct(x, v);
    r.hvp_s = timeIt(() => ev.hessianVectorProduct(x, v), 30);
    r.hvp_GBps = hvpBytes / r.hvp_s / 1e9;
    let h = null;
    r.hessian_s = timeIt(() => {
      h = ev.hessian(x);
    }, 3);
    r.chol_inverse_s =
      name !== "native"
        ? timeIt(() => ev.spdInverse(h, n), 3)
        : timeIt(() => CholeskyFactor.factor(h, n, { threads })?.inverse(), 3);
    if (name !== "native") {
      r.copy_GBps = ev.copyBandwidth(1 << 30, 20) / 1e9;
      r.hvp_fraction_of_copy = r.hvp_GBps / r.copy_GBps;
    }
    // toys: N refits to Poisson data around the best fit, warm-started there, POI errors by CG
    const asimov = session.asimovData(x);
    const u = mulberry(12345);
    const toyData = Array.from({ length: ntoys }, () => Float64Array.from(asimov, (l) => poisson(l, u)));
    const tt = performance.now();
    let converged = 0;
    for (const d of toyData) {
      const f = await session.minimize({ data: d, errors: "pois" });
      if (f.status === "converged") converged++;
    }
    r.toys_s = (performance.now() - tt) / 1000;
    r.toys_converged = converged;
    // one batched NLL + gradient of all N toys at the best fit (CUDA: one pass; native: one by one)
    const xs = new Float64Array(ntoys * n);
    const ds = new Float64Array(ntoys * model.nbins);
    for (let k = 0; k < ntoys; k++) {
      xs.set(x, k * n);
      ds.set(toyData[k], k * model.nbins);
    }
    r.batch_value_gradient_s = timeIt(() => valueAndGradientBatch(ev, xs, ds, ntoys, session.spec.data), 3);
    r.best = { x: Array.from(x), errors: best.errors ? Array.from(best.errors) : null };
  } finally {
    session.dispose();
  }
  return r;
}

const results = {};
for (const name of ["native", ...(probe.ok ? ["cuda"] : emulate ? ["cuda-emulate"] : [])]) {
  log(`\n## ${name}`);
  try {
    const r = await measureEngine(name);
    results[name] = r;
    log(`device            ${r.device}`);
    log(`fit + covariance  ${r.fit_cov_s.map(fmt).join(", then ")} (${r.status}, ${r.iterations} iterations, ${r.hvps} HVPs)`);
    log(`value + gradient  ${fmt(r.value_gradient_s)}`);
    log(`HVP               ${fmt(r.hvp_s)}  (${r.hvp_GBps.toFixed(1)} GB/s of ${(hvpBytes / 1e6).toFixed(1)} MB${r.copy_GBps ? `; card copy bandwidth ${r.copy_GBps.toFixed(0)} GB/s → ${(100 * r.hvp_fraction_of_copy).toFixed(1)} %` : ""})`);
    log(`exact Hessian     ${fmt(r.hessian_s)}`);
    log(`Cholesky+inverse  ${fmt(r.chol_inverse_s)}`);
    log(`${ntoys} toys          ${fmt(r.toys_s)} (${r.toys_converged} converged; sequential warm-started refits, POI errors)`);
    log(`batched NLL+grad  ${fmt(r.batch_value_gradient_s)} for ${ntoys} toys at once`);
  } catch (e) {
    log(`${name}: failed: ${e instanceof Error ? e.message : String(e)}`);
    results[name] = { error: String(e) };
  }
}
const other = results.cuda ?? results["cuda-emulate"];
if (results.native?.best && other?.best) {
  const a = results.native.best;
  const b = other.best;
  let dv = 0;
  let de = 0;
  for (let i = 0; i < a.x.length; i++) {
    const s = a.errors?.[i];
    if (!(s > 0)) continue;
    dv = Math.max(dv, Math.abs(b.x[i] - a.x[i]) / s);
    if (b.errors) de = Math.max(de, Math.abs(b.errors[i] - s) / s);
  }
  out.agreement = { engine: other.engine, max_value_sigma: dv, max_error_rel: de, nll_diff: other.nll - results.native.nll };
  log(`\n${other.engine} vs native best fit: max |Δx|/σ = ${dv.toExponential(2)}, max |Δσ|/σ = ${de.toExponential(2)}, ΔNLL = ${(other.nll - results.native.nll).toExponential(2)} (goal: ≤ 1e-10 σ)`);
}
for (const r of Object.values(results)) delete r.best;
out.results = results;
out.hvp_bytes = hvpBytes;
writeFileSync(jsonFile, JSON.stringify(out, null, 1));
log(`\nwrote ${logFile}\n      ${jsonFile}`);
if (scratch) rmSync(scratch, { recursive: true, force: true });
