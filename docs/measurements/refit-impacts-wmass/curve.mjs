// Shift of the POI/NOI along the profile of one nuisance j held at θ̂_j + Δ (Δ in units of σ̂_j):
// the slope at Δ → 0 must be the Hessian's C_tj/C_jj; a quadratic fit through the points measures
// the non-linearity; the parameters that move asymmetrically between ±σ̂ show where it comes from.
//   node docs/measurements/refit-impacts-wmass/curve.mjs /tmp/wm.hdf5 NAME [bbb=1|0]
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
const root = join(dirname(fileURLToPath(import.meta.url)), "../../..");
const [file, name] = [process.argv[2], process.argv[3]];
const bbb = process.argv[4] === undefined ? undefined : process.argv[4] === "1";
const { readTensor } = await import(join(root, "dist/src/tensor/TensorReader.js"));
const { fit } = await import(join(root, "dist/fitter/fit.js"));
const { RefitEngine } = await import(join(root, "dist/fitter/toys/refitEngine.js"));
const { sharedInverseHessian } = await import(join(root, "dist/fitter/toys/toys.js"));
const model = await readTensor(file);
const nominal = await fit(model, { threads: 2, skipYields: true, bbb });
const n = nominal.parameters.length;
const P = nominal.parameters;
const j = P.findIndex((p) => p.name === name);
const targets = [];
P.forEach((p, i) => (p.kind === "poi" || p.kind === "noi") && targets.push(i));
const sg = P[j].error;
console.log(`bbb ${bbb ?? "default"}: nominal ${nominal.status} nll ${nominal.nll}; ${name} θ̂ ${nominal.x[j]} σ̂ ${sg}`);
const engine = new RefitEngine(model, { poiMode: "linear", threads: 2, bbb, data: nominal.data, inverseHessian: sharedInverseHessian(nominal) });
const res = new Map();
for (const d of [-0.01, 0.01, -0.5, 0.5, -1, 1, -2, 2]) {
  const r = await engine.minimize({ start: nominal.x, fixed: new Map([[j, nominal.x[j] + d * sg]]) });
  res.set(d, r);
  console.log(`  Δ=${d}σ̂ ${r.converged ? "converged" : "FAILED"} edm ${r.edm.toExponential(1)} 2ΔNLL ${(2 * (r.nll - nominal.nll)).toFixed(5)}  ` +
    targets.map((t) => `${P[t].name} ${(r.x[t] - nominal.x[t]).toExponential(5)}`).join("  "));
}
for (const t of targets) {
  const hs = (nominal.covariance[t * n + j] / nominal.covariance[j * n + j]) * sg;
  const s = (d) => res.get(d).x[t] - nominal.x[t];
  const slope = ((s(0.01) - s(-0.01)) / 0.02);
  const lin = (d) => (s(d) - s(-d)) / 2, quad = (d) => (s(d) + s(-d)) / 2;
  console.log(`${P[t].name}: Hessian impact C_tj/√C_jj ${hs.toExponential(5)}; refit slope at θ̂ (±0.01σ̂, per σ̂) ${slope.toExponential(5)} (ratio ${(slope / hs).toFixed(5)})`);
  for (const d of [0.5, 1, 2]) console.log(`   ±${d}σ̂: odd part/Δ ${(lin(d) / d).toExponential(4)}  even part/Δ² ${(quad(d) / d / d).toExponential(4)}`);
}
const up = res.get(1).x, dn = res.get(-1).x;
const asym = [];
for (let i = 0; i < n; i++) if (i !== j && P[i].error > 0) asym.push({ i, even: ((up[i] + dn[i]) / 2 - nominal.x[i]) / P[i].error, odd: ((up[i] - dn[i]) / 2) / P[i].error });
asym.sort((a, b) => Math.abs(b.even) - Math.abs(a.even));
console.log("parameters with the largest even (non-linear) response at ±σ̂, in units of their σ̂: name even odd");
for (const a of asym.slice(0, 6)) console.log(`  ${P[a.i].name} ${a.even.toExponential(3)} ${a.odd.toExponential(3)}`);
engine.dispose();
