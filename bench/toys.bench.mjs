// Toys and refit impacts on the W-mass-size model (`fit-gen --preset wmass`: 2880 bins, 10
// processes, 4859 nuisances): the cold fit (1 evaluator thread, as a toy worker has), N frequentist
// toys with POI/NOI errors (preconditioned CG) on W workers, and refit impacts of the K nuisances
// with the largest Hessian impact on the POI; each timed, with the work per toy / refit
// (iterations, HVPs) and the cost of a toy against the cold fit.
//
//   node bench/toys.bench.mjs
//   BENCH_TOYS_N=100 BENCH_TOYS_WORKERS=2 BENCH_IMPACTS_K=50 BENCH_TOYS_FILE=/tmp/wm.hdf5
//   (BENCH_TOYS_N=0: refit impacts only; their Hessian comparison: docs/measurements/refit-impacts-wmass.md)
// Needs `npx tsc` first (imports ../dist; the workers run dist/fitter/toys/toyWorker.js).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");
const file = process.env.BENCH_TOYS_FILE ?? "/tmp/wm.hdf5";
const ntoys = Number(process.env.BENCH_TOYS_N ?? 100);
const workers = Number(process.env.BENCH_TOYS_WORKERS ?? availableParallelism());
const nimpacts = Number(process.env.BENCH_IMPACTS_K ?? 50);

const { readTensor } = await import(join(root, "dist/src/tensor/TensorReader.js"));
const { fit } = await import(join(root, "dist/fitter/fit.js"));
const { runToys } = await import(join(root, "dist/fitter/toys/toys.js"));
const { runRefitImpacts } = await import(join(root, "dist/fitter/refitImpacts.js"));

if (!existsSync(file)) {
  console.log(`generating ${file} (fit-gen --preset wmass) ...`);
  const r = spawnSync(process.execPath, [join(root, "bin/fit-gen.js"), "--preset", "wmass", "-o", file], { stdio: "inherit" });
  if (r.status !== 0) process.exit(1);
}
const s = (t0) => (performance.now() - t0) / 1000;
const work = mkdtempSync(join(tmpdir(), "toys-bench-"));
try {
  let t0 = performance.now();
  const model = await readTensor(file);
  console.log(`model ${file}: ${model.nbins} bins, ${model.procs.length} processes, ${model.systs.length} systematics; read in ${s(t0).toFixed(2)} s`);
  t0 = performance.now();
  const nominal = await fit(model, { threads: 1, skipYields: true });
  const cold = s(t0);
  console.log(
    `cold fit (1 thread): ${cold.toFixed(2)} s (minimise ${nominal.timing.minimize_s.toFixed(2)} s, ${nominal.iterations} iterations, ${nominal.hvps} HVPs; ` +
      `Hessian + covariance ${nominal.timing.covariance_s.toFixed(2)} s), ${nominal.status}`,
  );

  // BENCH_TOYS_N=0: refit impacts only
  if (ntoys > 0) {
    // steady state: from the first finished toy to the last (without the one-off inverse Hessian
    // at the generation point and the workers' start-up)
    let tFirstToy = 0;
    let tLastToy = 0;
    t0 = performance.now();
    const toys = await runToys({
      input: file,
      model,
      inputSha256: "bench",
      nominal,
      engine: { poiMode: "linear", threads: 1 },
      expectSignal: 1,
      seed: 1,
      syst: "frequentist",
      data: "poisson",
      from: "prefit",
      first: 0,
      end: ntoys,
      allParams: false,
      workers,
      outDir: join(work, "toys"),
      resume: false,
      log: (line) => console.log(`  ${line}`),
      onProgress: (done) => {
        if (done === 1) tFirstToy = performance.now();
        tLastToy = performance.now();
      },
    });
    const toysWall = s(t0);
    const perToyCpu = (toysWall * workers) / ntoys;
    console.log(
      `${ntoys} frequentist toys with POI/NOI errors on ${workers} workers: ${toysWall.toFixed(1)} s wall, ` +
        `${perToyCpu.toFixed(2)} s per toy per worker (wall × workers / toys, setup included), ${toys.summary.failed} failed; ` +
        `per toy ${toys.summary.work.iterations?.toFixed(1)} iterations (Newton steps + trust region), ${toys.summary.work.hvps?.toFixed(0)} HVPs`,
    );
    console.log(`toy / cold fit (both 1 evaluator thread): ${(perToyCpu / cold).toFixed(2)} (target <= 0.33)`);
    if (ntoys > workers) {
      const steady = (((tLastToy - tFirstToy) / 1000) * workers) / (ntoys - 1);
      console.log(`steady state (first to last finished toy): ${steady.toFixed(2)} s per toy per worker = ${(steady / cold).toFixed(2)} of the cold fit`);
    }
  }

  // the K nuisances with the largest Hessian impact on the POI
  const n = nominal.parameters.length;
  const ranked = nominal.parameters
    .map((p, j) => ({ j, name: p.name, kind: p.kind, imp: Math.abs(nominal.covariance[j] / Math.sqrt(nominal.covariance[j * n + j])) }))
    .filter((p) => p.kind === "nuisance" || p.kind === "free")
    .sort((a, b) => b.imp - a.imp)
    .slice(0, nimpacts);
  const selector = ranked.map((p) => p.name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|");
  t0 = performance.now();
  const imp = await runRefitImpacts({ input: file, model, nominal, engine: { poiMode: "linear", threads: 1 }, selector, workers });
  const impWall = s(t0);
  // |up/Hessian − 1| alone overstates disagreement where a Hessian impact is tiny and the refit's
  // even (second-order) part is not (docs/measurements/refit-impacts-wmass.md): also the odd part
  // (up − down)/2, which is the Hessian impact to first order, and |up − Hessian| in units of σ_target
  let worst = 0;
  let worstOdd = 0;
  let worstSigma = 0;
  const nn = imp.nuisances.length;
  for (let k = 0; k < imp.hessian.length; k++) {
    const sigmaTarget = nominal.parameters.find((p) => p.name === imp.targets[Math.floor(k / nn)]).error;
    worst = Math.max(worst, Math.abs(imp.up[k] - imp.hessian[k]) / Math.abs(imp.hessian[k]));
    worstOdd = Math.max(worstOdd, Math.abs((imp.up[k] - imp.down[k]) / 2 / imp.hessian[k] - 1));
    worstSigma = Math.max(worstSigma, Math.abs(imp.up[k] - imp.hessian[k]) / sigmaTarget);
  }
  console.log(
    `refit impacts of the ${ranked.length} largest nuisances (${2 * ranked.length} refits) on ${workers} workers: ${impWall.toFixed(1)} s wall, ` +
      `${((impWall * workers) / (2 * ranked.length)).toFixed(2)} s per refit per worker; per refit ${imp.work.iterations.toFixed(1)} iterations, ` +
      `${imp.work.hvps.toFixed(0)} HVPs; ${imp.failed.length} failed; largest |up/Hessian − 1| ${worst.toExponential(2)}, |(up − down)/2/Hessian − 1| ${worstOdd.toExponential(2)}, |up − Hessian|/σ_target ${worstSigma.toExponential(2)}`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
