// Post-fit methods on the W-mass-scale model (2880 bins, 4859 nuisances; `fit-gen --preset wmass`):
// a cold fit (minimise + covariance) on a FitSession, then a 21-point profile scan of the POI over
// μ̂ ± 3σ and MINOS on the POI and on the NOI massShiftW100MeV, each with iterations, HVPs and
// seconds per refit. Goal: a scan point costs at most a third of the cold fit.
//
//   node bench/postfit.bench.mjs              (or: npm run bench postfit)
//   BENCH_POSTFIT_FILE=/path/wm.hdf5          use this input (default: generated into
//                                             /tmp/hepfit-bench-postfit/wmass.hdf5 if missing)
//   BENCH_POSTFIT_THREADS=n                   worker threads (default: all cores)
// Needs `npx tsc` first (imports ../dist).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");
const { readTensor } = await import(join(root, "dist/src/tensor/TensorReader.js"));
const { fitInSession } = await import(join(root, "dist/fitter/fit.js"));
const { FitSession } = await import(join(root, "dist/fitter/session.js"));
const { scan1d } = await import(join(root, "dist/fitter/postfit/scan.js"));
const { minos } = await import(join(root, "dist/fitter/postfit/minos.js"));

const threads = Number(process.env.BENCH_POSTFIT_THREADS ?? availableParallelism());
let file = process.env.BENCH_POSTFIT_FILE;
if (!file) {
  const dir = "/tmp/hepfit-bench-postfit";
  file = join(dir, "wmass.hdf5");
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    console.log(`generating ${file} (fit-gen --preset wmass) ...`);
    const r = spawnSync(process.execPath, [join(root, "bin/fit-gen.js"), "--preset", "wmass", "-o", file], { stdio: "inherit" });
    if (r.status !== 0) process.exit(1);
  }
}

const model = await readTensor(file);
console.log(`model ${file}: ${model.nbins} bins, ${model.procs.length} processes, ${model.systs.length} systematics, ${model.logk.values.length} log κ; threads ${threads}`);
const session = new FitSession(model, { threads });
try {
  const t0 = performance.now();
  const result = await fitInSession(session, { skipYields: true }, "native", t0);
  const cold = (performance.now() - t0) / 1000;
  console.log(
    `cold fit: ${cold.toFixed(2)} s (minimise ${result.timing.minimize_s.toFixed(2)} s, covariance ${result.timing.covariance_s.toFixed(2)} s), ` +
      `${result.iterations} iterations, ${result.hvps} HVPs, status ${result.status}`,
  );
  const poi = 0;
  const noi = session.names.indexOf("massShiftW100MeV");
  for (const i of [poi, noi]) {
    const p = result.parameters[i];
    console.log(`  ${p.name} = ${p.value.toPrecision(6)} ± ${p.error.toPrecision(4)}`);
  }

  const ts = performance.now();
  const scan = await scan1d(session, poi, { points: 21, range: 3 });
  const scanSeconds = (performance.now() - ts) / 1000;
  console.log(`scan ${session.names[poi]}: 21 points in ${scanSeconds.toFixed(2)} s, ${(scanSeconds / 21).toFixed(3)} s/point = ${(scanSeconds / 21 / cold).toFixed(3)} of the cold fit`);
  console.log("  value        2ΔNLL       iters  HVPs  seconds");
  scan.values.forEach((v, k) =>
    console.log(
      `  ${v.toFixed(6).padStart(10)}  ${scan.twiceDnll[k].toFixed(6).padStart(10)}  ${String(scan.iterations[k]).padStart(5)}  ${String(scan.hvps[k]).padStart(4)}  ${scan.seconds[k].toFixed(3)}${scan.converged[k] ? "" : "  (not converged)"}`,
    ),
  );
  const it = scan.iterations.reduce((a, b) => a + b, 0);
  const hv = scan.hvps.reduce((a, b) => a + b, 0);
  console.log(`  total ${it} iterations, ${hv} HVPs (${(hv / 21).toFixed(1)} HVPs/point; cold fit ${result.hvps})`);

  for (const i of [poi, noi]) {
    const tm = performance.now();
    const m = await minos(session, i);
    const s = (performance.now() - tm) / 1000;
    const p = result.parameters[i];
    console.log(
      `minos ${p.name}: ${m.lower?.toPrecision(6)} / +${m.upper?.toPrecision(6)} (Hessian ± ${p.error.toPrecision(6)}) in ${s.toFixed(2)} s: ` +
        `${m.stats.refits} refits, ${m.stats.iterations} iterations, ${m.stats.hvps} HVPs, ${(s / m.stats.refits).toFixed(3)} s/refit = ${(s / m.stats.refits / cold).toFixed(3)} of the cold fit${m.message ? ` (${m.message})` : ""}`,
    );
  }
} finally {
  session.dispose();
}
