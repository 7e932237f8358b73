// Scale benchmark (issue 12): a family of generated models (fit-gen --sparse --local 0.9 --bbb) from
// small up to W-mass size and beyond. Each model is measured in child processes of its own, so the
// peak RSS is per model:
//   1. read + set-up (bench/scaleSetup.mjs): read time, evaluator set-up, peak RSS, bytes per log κ entry;
//   2. the CLI `fit` (bin/fit.js, so whatever minimiser and error method the tree has), with
//      --no-hessian when `fit --help` offers it: time to the first iteration (read + set-up), iterations,
//      HVPs, minimisation time, error computation time, POI error, peak RSS.
// Prints one markdown table for the README.
//
//   npm run bench -- scale                           quick: 1000×600 and 2880×2000 (bins × systs)
//   BENCH_SCALE_FULL=1 npm run bench -- scale        the family: 2880×4859 (W-mass size), 5000×6000,
//                                                    10000×8000, 20000×12000 (130M log κ; generating it
//                                                    takes ~3 min and ~8 GB, fitting it tens of minutes)
//   BENCH_SCALE_SIZES=2000x1000,4000x2400            these sizes (BINSxSYSTS) instead
//   BENCH_SCALE_FILES=/tmp/scale/big20k.hdf5         also these existing files
//   BENCH_SCALE_PROCS=6  BENCH_SCALE_LOCAL=0.9       generator processes / fraction of local systematics
//   BENCH_SCALE_FLOAT32=1                            generate float32 files (fit-gen --float32)
//   BENCH_SCALE_FIT=0                                read + set-up only (no fit)
//   BENCH_SCALE_FIT_ARGS="--max-iter 50"             extra arguments of `fit`
//   BENCH_SCALE_THREADS=2                            evaluator threads (fit --threads)
//   BENCH_SCALE_TIMEOUT_S=600                        per child process; a fit killed at the limit is
//                                                    reported as such
//   BENCH_SCALE_DIR=/tmp/hepfit-bench/scale          where models and fit outputs go (models are reused)
// Needs the compiled tree (npm run build).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");
const env = process.env;
const dir = env.BENCH_SCALE_DIR ?? "/tmp/hepfit-bench/scale";
const procs = Number(env.BENCH_SCALE_PROCS ?? 6);
const local = Number(env.BENCH_SCALE_LOCAL ?? 0.9);
const float32 = env.BENCH_SCALE_FLOAT32 === "1";
const doFit = env.BENCH_SCALE_FIT !== "0";
const threads = Number(env.BENCH_SCALE_THREADS ?? 2);
const timeoutMs = Number(env.BENCH_SCALE_TIMEOUT_S ?? 600) * 1000;
const extraFitArgs = (env.BENCH_SCALE_FIT_ARGS ?? "").split(/\s+/).filter(Boolean);
const sizesSpec =
  env.BENCH_SCALE_SIZES ?? (env.BENCH_SCALE_FULL === "1" ? "2880x4859,5000x6000,10000x8000,20000x12000" : "1000x600,2880x2000");

const sizes = sizesSpec
  .split(",")
  .map((s) => s.trim())
  .filter(Boolean)
  .map((s) => {
    const m = /^(\d+)x(\d+)$/.exec(s);
    if (!m) {
      console.error(`BENCH_SCALE_SIZES: '${s}' is not BINSxSYSTS`);
      process.exit(2);
    }
    return { bins: Number(m[1]), systs: Number(m[2]) };
  });
const files = (env.BENCH_SCALE_FILES ?? "").split(",").map((s) => s.trim()).filter(Boolean);
mkdirSync(dir, { recursive: true });

const fitBin = join(root, "bin/fit.js");
const fitGenBin = join(root, "bin/fit-gen.js");
const fitHelp = spawnSync(process.execPath, [fitBin, "--help"], { encoding: "utf8" }).stdout ?? "";
const noHessian = fitHelp.includes("--no-hessian");

/** Generates (or reuses) a model; returns its file and what fit-gen said about it. */
function model(bins, systs) {
  const name = `scale_${bins}x${procs}x${systs}_l${local}${float32 ? "_f32" : ""}.hdf5`;
  const file = join(dir, name);
  const info = `${file}.json`;
  if (existsSync(file) && existsSync(info)) return { file, ...JSON.parse(readFileSync(info, "utf8")) };
  const args = [fitGenBin, "--bins", String(bins), "--procs", String(procs), "--systs", String(systs), "--sparse", "--local", String(local), "--bbb", "-o", file];
  if (float32) args.push("--float32");
  console.error(`generating ${name} ...`);
  const r = spawnSync(process.execPath, args, { encoding: "utf8", timeout: timeoutMs, killSignal: "SIGKILL" });
  if (r.status !== 0) throw new Error(`fit-gen failed for ${name}: ${(r.stderr || r.signal || "").toString().trim().split("\n").pop()}`);
  const nnz = Number(/log κ non-zeros (\d+)/.exec(r.stdout)?.[1] ?? NaN);
  const meta = { nnz, params: systs + 1, generated: `fit-gen ${args.slice(1).join(" ")}` };
  writeFileSync(info, JSON.stringify(meta));
  return { file, ...meta };
}

function setupProbe(file) {
  const r = spawnSync(process.execPath, [join(here, "scaleSetup.mjs"), file, "--threads", String(threads)], {
    encoding: "utf8",
    timeout: timeoutMs,
    killSignal: "SIGKILL",
  });
  if (r.status !== 0) return { error: r.signal ? `killed (${r.signal})` : (r.stderr || "").trim().split("\n").pop() };
  return JSON.parse(r.stdout.trim().split("\n").pop());
}

function runFit(file) {
  const out = join(dir, `fit_${basename(file, ".hdf5")}`);
  const rssFile = `${out}.rss.json`;
  rmSync(out, { recursive: true, force: true });
  rmSync(rssFile, { force: true });
  const args = ["--import", join(here, "rssOnExit.mjs"), fitBin, file, "-o", out, "--no-html", "--threads", String(threads), ...extraFitArgs];
  if (noHessian) args.push("--no-hessian");
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, {
    encoding: "utf8",
    timeout: timeoutMs,
    killSignal: "SIGKILL",
    env: { ...env, BENCH_RSS_FILE: rssFile },
    maxBuffer: 1 << 26,
  });
  const wall = (performance.now() - t0) / 1000;
  const rss = existsSync(rssFile) ? JSON.parse(readFileSync(rssFile, "utf8")).maxRssMB : NaN;
  const resultsFile = join(out, "fitresults.json");
  if (r.status !== 0 || !existsSync(resultsFile)) {
    const why = r.signal ? `killed at the ${timeoutMs / 1000} s limit` : `exit ${r.status}: ${(r.stderr || "").trim().split("\n").pop()}`;
    return { error: why, wall, rss };
  }
  const res = JSON.parse(readFileSync(resultsFile, "utf8"));
  const t = res.timing ?? {};
  // error computation: the dense covariance, or whatever the no-dense-matrix mode reports
  const errorKeys = Object.keys(t).filter((k) => /covariance|error|krylov|solve|diag/i.test(k));
  const errors = errorKeys.reduce((s, k) => s + (Number(t[k]) || 0), 0);
  const firstIteration = (t.total_s ?? wall) - (t.minimize_s ?? 0) - errors - (t.postfit_yields_s ?? 0);
  const poi = (res.parameters ?? []).find((p) => p.kind === "poi");
  return {
    status: res.status,
    edm: res.edm,
    iterations: res.iterations,
    hvps: res.hvps,
    load: t.load_s,
    firstIteration,
    minimize: t.minimize_s,
    errors,
    errorKeys,
    total: t.total_s,
    wall,
    rss,
    poiError: poi?.error,
  };
}

const rows = [];
const targets = [...sizes.map((s) => () => model(s.bins, s.systs)), ...files.map((f) => () => ({ file: f, nnz: NaN, params: NaN }))];
for (const target of targets) {
  let m;
  try {
    m = target();
  } catch (err) {
    console.error(String(err.message ?? err));
    continue;
  }
  const size = statSync(m.file).size;
  console.error(`setup probe ${m.file} ...`);
  const s = setupProbe(m.file);
  const nnz = Number.isFinite(m.nnz) ? m.nnz : s.nnz;
  const params = Number.isFinite(s.nparams) ? s.nparams : m.params;
  let f = null;
  if (doFit) {
    console.error(`fit ${m.file}${noHessian ? " --no-hessian" : ""} ...`);
    f = runFit(m.file);
  }
  rows.push({ file: m.file, size, nnz, params, s, f });
  console.error(JSON.stringify({ file: m.file, setup: s, fit: f }));
}

const fmt = (v, d = 1) => (v === undefined || v === null || !Number.isFinite(v) ? "–" : v.toFixed(d));
const mega = (n) => (Number.isFinite(n) ? (n / 1e6).toFixed(n < 1e7 ? 2 : 1) : "–");
console.log(
  `\nScale benchmark: fit-gen --procs ${procs} --sparse --local ${local} --bbb${float32 ? " --float32" : ""}; ${threads} threads; ` +
    `fit ${noHessian ? "--no-hessian" : "(dense Hessian errors; this tree's fit has no --no-hessian)"}${extraFitArgs.length ? ` ${extraFitArgs.join(" ")}` : ""}; ` +
    `each step in a child process of its own (peak RSS per model).\n`,
);
console.log(
  "| model (bins × procs × systs) | file MB | log κ nnz (M) | params | read s | set-up peak RSS MB (B/entry) | first iteration s | iterations | HVPs | minimise s | errors s | fit peak RSS MB | status |",
);
console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
for (const r of rows) {
  const name = /scale_(\d+)x(\d+)x(\d+)/.exec(basename(r.file));
  const label = name ? `${name[1]} × ${name[2]} × ${name[3]}` : basename(r.file);
  const s = r.s ?? {};
  const f = r.f;
  const setup = s.error ? `failed: ${s.error}` : `${fmt(s.peakRssMB, 0)} (${fmt(s.bytesPerEntry, 1)})`;
  const status = f === null ? "not fitted" : f.error ? f.error : `${f.status}, edm ${Number(f.edm).toExponential(1)}`;
  console.log(
    `| ${label} | ${fmt(r.size / 1e6, 0)} | ${mega(r.nnz)} | ${r.params} | ${fmt(s.readSeconds, 1)} | ${setup} | ` +
      `${fmt(f?.firstIteration, 1)} | ${f?.iterations ?? "–"} | ${f?.hvps ?? "–"} | ${fmt(f?.minimize, 1)} | ${fmt(f?.errors, 1)} | ` +
      `${fmt(f?.rss, 0)} | ${status} |`,
  );
}
