// Refit impacts vs Hessian impacts on the W-mass-size model, with an independent check of the worst
// one: the same holds refitted by the session's trust region (FitSession.minimize with `fixed`, the
// profile-scan path, no nominal-covariance Newton) and 2ΔNLL at θ̂ ± σ̂.
//   node docs/measurements/refit-impacts-wmass/check.mjs /tmp/wm.hdf5 [K=50] [extra names...]
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
const root = join(dirname(fileURLToPath(import.meta.url)), "../../..");
const file = process.argv[2] ?? "/tmp/wm.hdf5";
const K = Number(process.argv[3] ?? 50);
const { readTensor } = await import(join(root, "dist/src/tensor/TensorReader.js"));
const { fit } = await import(join(root, "dist/fitter/fit.js"));
const { runRefitImpacts } = await import(join(root, "dist/fitter/refitImpacts.js"));
const { RefitEngine } = await import(join(root, "dist/fitter/toys/refitEngine.js"));
const { sharedInverseHessian } = await import(join(root, "dist/fitter/toys/toys.js"));
const t0 = performance.now();
const el = () => ((performance.now() - t0) / 1000).toFixed(0) + "s";
const model = await readTensor(file);
const nominal = await fit(model, { threads: 2, skipYields: true });
const n = nominal.parameters.length;
console.log(`[${el()}] nominal ${nominal.status} nll ${nominal.nll} edm ${nominal.edm.toExponential(2)}`);
const targets = [];
nominal.parameters.forEach((p, i) => (p.kind === "poi" || p.kind === "noi") && targets.push(i));
for (const t of targets) console.log(`  target ${nominal.parameters[t].name} = ${nominal.parameters[t].value} ± ${nominal.parameters[t].error}`);
const ranked = nominal.parameters
  .map((p, j) => ({ j, name: p.name, kind: p.kind, imp: Math.abs(nominal.covariance[j] / Math.sqrt(nominal.covariance[j * n + j])) }))
  .filter((p) => p.kind === "nuisance" || p.kind === "free")
  .sort((a, b) => b.imp - a.imp)
  .slice(0, K);
const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const imp = await runRefitImpacts({ input: file, model, nominal, engine: { poiMode: "linear", threads: 1 }, selector: ranked.map((p) => esc(p.name)).join("|"), workers: 2 });
console.log(`[${el()}] ${imp.nuisances.length} nuisances, failed: ${imp.failed.length}`);
const nn = imp.nuisances.length;
const rows = [];
imp.targets.forEach((tname, a) =>
  imp.nuisances.forEach((name, k) => {
    const i = a * nn + k;
    rows.push({ tname, a, name, up: imp.up[i], down: imp.down[i], hess: imp.hessian[i], ratio: imp.up[i] / imp.hessian[i] });
  }),
);
// largest Hessian impact per target, to put each ratio in scale
const maxHess = imp.targets.map((_, a) => Math.max(...rows.filter((r) => r.a === a).map((r) => Math.abs(r.hess))));
rows.sort((x, y) => Math.abs(y.ratio - 1) - Math.abs(x.ratio - 1));
console.log("target nuisance up down hessian up/hess-1 (up+down)/2 |hess|/max|hess|_target");
for (const r of rows.slice(0, 12))
  console.log(`  ${r.tname} ${r.name} ${r.up.toExponential(4)} ${r.down.toExponential(4)} ${r.hess.toExponential(4)} ${(r.ratio - 1).toExponential(2)} ${((r.up + r.down) / 2).toExponential(2)} ${(Math.abs(r.hess) / maxHess[r.a]).toExponential(2)}`);
for (let a = 0; a < imp.targets.length; a++) {
  const ra = rows.filter((r) => r.a === a);
  const w = Math.max(...ra.map((r) => Math.abs(r.ratio - 1)));
  const absdev = Math.max(...ra.map((r) => Math.abs(r.up - r.hess)));
  console.log(`  ${imp.targets[a]}: worst |up/hess-1| ${w.toExponential(2)}, worst |up-hess| ${absdev.toExponential(2)} (max |hess| ${maxHess[a].toExponential(3)})`);
}
// independent check: worst one plus the two largest POI-impact nuisances, plus names on the command line
const check = [...new Set([rows[0].name, ranked[0].name, ranked[1].name, ...process.argv.slice(4)])];
const engine = new RefitEngine(model, { poiMode: "linear", threads: 2, data: nominal.data, inverseHessian: sharedInverseHessian(nominal) });
const session = engine.session;
const ref = await session.minimize({ start: nominal.x });
console.log(`[${el()}] session re-minimised at the best fit: ${ref.status} nll ${ref.nll} (nominal ${nominal.nll}) edm ${ref.edm.toExponential(2)}`);
for (const name of check) {
  const j = nominal.parameters.findIndex((p) => p.name === name);
  const th = nominal.x[j], sg = nominal.parameters[j].error;
  console.log(`${name} (index ${j}): θ̂ ${th} σ̂ ${sg} (√C_jj ${Math.sqrt(nominal.covariance[j * n + j])})`);
  for (const [lab, v] of [["down", th - sg], ["up", th + sg]]) {
    const e = await engine.minimize({ start: nominal.x, fixed: new Map([[j, v]]) });
    const s = await session.minimize({ start: nominal.x, fixed: new Map([[j, v]]) });
    const sh = (x) => targets.map((t) => `${nominal.parameters[t].name} ${(x[t] - nominal.x[t]).toExponential(5)}`).join(", ");
    console.log(`  ${lab} θ=${v.toFixed(6)} refitEngine: ${e.converged ? "converged" : "FAILED " + e.message} edm ${e.edm.toExponential(2)} 2ΔNLL ${(2 * (e.nll - ref.nll)).toFixed(5)} iters ${e.iterations} hvps ${e.hvps}; shifts ${sh(e.x)}`);
    console.log(`  ${lab} θ=${v.toFixed(6)} session TR : ${s.status} edm ${s.edm.toExponential(2)} 2ΔNLL ${(2 * (s.nll - ref.nll)).toFixed(5)} iters ${s.iterations}; shifts ${sh(s.x)}`);
    let maxd = 0;
    for (let i = 0; i < n; i++) maxd = Math.max(maxd, Math.abs(e.x[i] - s.x[i]));
    console.log(`    max |x_engine − x_session| ${maxd.toExponential(2)}; Hessian: ${targets.map((t) => ((lab === "up" ? 1 : -1) * nominal.covariance[t * n + j] / Math.sqrt(nominal.covariance[j * n + j])).toExponential(5)).join(", ")}`);
  }
}
engine.dispose();
console.log(`[${el()}] done`);
