// Errors and impacts of a large model at a saved best fit, by a chosen error method, so that the
// dense path, the Krylov path and the sparse-direct path can be compared at the very same point and
// timed apart from the minimisation (which runs once, `--mode fit`).
//
//   node bench/scaleErrors.mjs FILE --mode fit    --save X.f64          [--threads 2]
//   node bench/scaleErrors.mjs FILE --mode dense  --start X.f64 --out R.json
//   node bench/scaleErrors.mjs FILE --mode krylov --start X.f64 --out R.json [--sparse on|off]
//   node bench/scaleErrors.mjs --compare DENSE.json OTHER.json
//
// R.json: status, NLL, EDM, iterations, HVPs, timings, peak RSS, POI values and errors, every
// parameter's error, the impact tables' target rows.
import { readFileSync, writeFileSync } from "node:fs";
import { readTensor } from "../dist/src/tensor/TensorReader.js";
import { fit, sessionOptions } from "../dist/fitter/fit.js";
import { FitSession } from "../dist/fitter/session.js";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const rssMB = () => process.resourceUsage().maxRSS / 1024;

if (args[0] === "--compare") {
  const a = JSON.parse(readFileSync(args[1], "utf8"));
  const b = JSON.parse(readFileSync(args[2], "utf8"));
  const rel = (x, y) => Math.abs(x - y) / Math.max(Math.abs(y), 1e-300);
  const worst = (xs, ys, floor = 0) => {
    let w = 0;
    let at = -1;
    for (let i = 0; i < ys.length; i++) {
      if (Math.abs(ys[i]) <= floor) continue;
      const r = rel(xs[i], ys[i]);
      if (r > w) [w, at] = [r, i];
    }
    return { maxRel: w, at };
  };
  const out = {
    reference: args[1],
    other: args[2],
    nllDiff: b.nll - a.nll,
    poiErrors: worst(b.poiErrors, a.poiErrors),
    allErrors: worst(b.errors, a.errors),
  };
  if (a.impacts && b.impacts) {
    for (const key of ["grouped", "traditional", "global", "stat", "dataStat"]) {
      // entries below 1e-6 of the target's error are dominated by the solves' cancellation limit
      const floor = 1e-6 * Math.max(...a.poiErrors);
      out[key] = worst(b.impacts[key], a.impacts[key], floor);
    }
  }
  console.log(JSON.stringify(out, null, 1));
  process.exit(0);
}

const file = args[0];
const mode = opt("mode", "fit");
const threads = Number(opt("threads", "2"));
const t0 = performance.now();
const model = await readTensor(file);
const loadSeconds = (performance.now() - t0) / 1000;
let start;
if (opt("start")) {
  const buf = readFileSync(opt("start"));
  start = new Float64Array(buf.buffer, buf.byteOffset, buf.byteLength / 8).slice();
}
const log = (line) => process.stderr.write(`${line}\n`);
if (mode === "fit") {
  // the minimisation alone (no errors), its best fit saved for the error runs
  const session = new FitSession(model, sessionOptions({ threads, verbose: true, log }));
  const t1 = performance.now();
  const best = await session.minimize({ start: session.prefit, errors: "none", logPoiStage: true });
  const out = { file, mode, threads, status: best.status, message: best.message, nll: best.nll, edm: best.edm, iterations: best.iterations, hvps: best.hvps, loadSeconds, minimizeSeconds: (performance.now() - t1) / 1000, peakRssMB: rssMB(), nparams: session.n };
  if (opt("save")) writeFileSync(opt("save"), Buffer.from(best.x.buffer, best.x.byteOffset, best.x.byteLength));
  session.dispose();
  console.log(JSON.stringify(out));
  process.exit(0);
}
const fitOpts = {
  threads,
  verbose: true,
  log,
  notice: log,
  loadSeconds,
  start,
  impacts: true,
  errorMethod: mode === "krylov" ? "krylov" : "dense",
  krylov: { probes: Number(opt("probes", "0")) },
};
const r = await fit(model, fitOpts);
const poi = r.parameters.filter((p) => p.kind === "poi" || p.kind === "noi");
const out = {
  file,
  mode,
  threads,
  status: r.status,
  nll: r.nll,
  edm: r.edm,
  iterations: r.iterations,
  hvps: r.hvps,
  errorMethod: r.errorMethod,
  errorSummary: r.krylov?.summary ?? null,
  timing: r.timing,
  peakRssMB: rssMB(),
  nparams: r.parameters.length,
  pois: poi.map((p) => p.name),
  poiValues: poi.map((p) => p.value),
  poiErrors: poi.map((p) => p.error),
  errors: r.parameters.map((p) => p.error),
};
if (r.impacts) {
  const t = r.impacts;
  out.impacts = {
    targets: t.targets,
    groups: t.groups,
    grouped: Array.from(t.grouped),
    traditional: Array.from(t.traditional),
    global: Array.from(t.global),
    stat: Array.from(t.stat),
    dataStat: Array.from(t.dataStat),
  };
}
if (opt("out")) writeFileSync(opt("out"), JSON.stringify(out));
const { errors: _e, impacts: _i, ...brief } = out;
console.log(JSON.stringify(brief));
