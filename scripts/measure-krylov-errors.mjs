#!/usr/bin/env node
/**
 * Times the no-dense-matrix (Krylov) errors on a large model without running the minimiser: the
 * fit is made to the Asimov data set, whose minimum is the prefit point, so the errors are those
 * of a converged fit. Prints load time, one HVP, then the Krylov error stages (POI solves, EDM,
 * impacts, probes, yields) with their solves, HVPs and seconds, and the peak RSS.
 *
 *   node scripts/measure-krylov-errors.mjs MODEL.hdf5 [--probes K] [--impacts] [--yields] [--threads N] [--solver schur|cg] [--max-iter N]
 *
 * Heavy: run under `flock /work/wt/heavy.lock` on the shared machine. Needs dist/ (npx tsc).
 */
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    probes: { type: "string", default: "0" },
    impacts: { type: "boolean", default: false },
    yields: { type: "boolean", default: false },
    threads: { type: "string", default: "2" },
    "errors-for": { type: "string" },
    "max-iter": { type: "string" },
    solver: { type: "string", default: "schur" },
  },
});
if (positionals.length !== 1) {
  process.stderr.write("usage: measure-krylov-errors.mjs MODEL.hdf5 [--probes K] [--impacts] [--yields] [--threads N] [--errors-for REGEX] [--solver schur|cg] [--max-iter N]\n");
  process.exit(2);
}
const root = new URL("..", import.meta.url);
const { readTensor } = await import(new URL("dist/src/tensor/TensorReader.js", root).href);
const { FitSession } = await import(new URL("dist/fitter/session.js", root).href);
const { computeFitErrors } = await import(new URL("dist/fitter/krylovErrors/fitErrors.js", root).href);

const rss = () => `${(process.memoryUsage().rss / 2 ** 30).toFixed(2)} GiB`;
const t0 = performance.now();
const model = await readTensor(positionals[0]);
const tLoad = (performance.now() - t0) / 1000;
console.log(`load ${tLoad.toFixed(1)} s: ${model.nbins} bins, ${model.procs.length} procs, ${model.systs.length} systs, ${model.logk.values.length} log κ; rss ${rss()}`);
const threads = Number(values.threads);
const session = new FitSession(model, { asimov: true, threads });
console.log(`session ${((performance.now() - t0) / 1000 - tLoad).toFixed(1)} s; rss ${rss()}`);
const x = session.prefit;
const vg = session.objective.valueAndGradient(x);
const gnorm = Math.hypot(...vg.gradient.slice(0, 1000));
const v = Float64Array.from({ length: session.n }, (_, i) => Math.sin(i));
let th = performance.now();
for (let k = 0; k < 3; k++) session.objective.hessianVectorProduct(x, v);
console.log(`one HVP ${((performance.now() - th) / 3000).toFixed(3)} s (threads ${threads}); |g| (first 1000) ${gnorm.toExponential(2)}`);
const best = {
  status: "converged", message: "", x, nll: vg.value, gradient: vg.gradient, edm: 0, iterations: 0, hvps: 0, hessians: 0,
  freeIndices: Int32Array.from({ length: session.n }, (_, i) => i), covariance: null, hessian: null, errors: null, device: "cpu",
  timing: { minimize_s: 0, covariance_s: 0, hessian_s: 0 },
};
const te = performance.now();
const fe = await computeFitErrors(session, best, {
  probes: Number(values.probes),
  exactAllMax: 0,
  exactFor: values["errors-for"],
  solver: values.solver,
  maxIterations: values["max-iter"] !== undefined ? Number(values["max-iter"]) : undefined,
  impacts: values.impacts,
  yields: values.yields,
  log: (line) => console.log(`  ${line} [${((performance.now() - te) / 1000).toFixed(1)} s, rss ${rss()}]`),
});
const poi = session.names[0];
console.log(`krylov errors ${((performance.now() - te) / 1000).toFixed(1)} s: ${fe.summary.solves} solves, ${fe.summary.hvps} HVPs, max rel residual ${fe.summary.max_relative_residual.toExponential(2)}`);
console.log(`${poi}: σ = ${Math.sqrt(fe.variance[0]).toPrecision(8)}; edm ${fe.edm.toExponential(3)}`);
if (fe.impacts) {
  const t = fe.impacts.table;
  const nn = t.nuisances.length;
  let top = 0;
  for (let c = 1; c < nn; c++) if (Math.abs(t.global[c]) > Math.abs(t.global[top])) top = c;
  const p = (v) => (v === undefined ? "n/a" : v.toPrecision(6));
  console.log(`impacts: grouped ${t.groups.map((g, i) => `${g} ${p(t.grouped[i])}`).join(", ")}; stat ${p(t.stat[0])}; largest global ${t.nuisances[top]} ${p(t.global[top])} (traditional ${p(t.traditional[top])})`);
}
console.log(`summary ${JSON.stringify(fe.summary)}`);
console.log(`peak-ish rss ${rss()}`);
session.dispose();
