// Envelope Cholesky (fitter/sparseCholesky/) at the scale of issue 12: a synthetic SPD "Hessian" with
// nLocal local parameters, each coupled to the 2·halfBand parameters nearest in a hidden band order
// (the local indices are shuffled, so RCM has to find the band), plus nDense dense rows coupled to
// everything; off-diagonals uniform in [−0.5, 0.5), diagonal = Σ|off-diagonal| + 1 (SPD by diagonal
// dominance). Reports the order time, envelope size (before factoring), factor / solve /
// inverse-diagonal wall times, the solve's relative residual ‖Ax − b‖/‖b‖ and the peak RSS.
// Needs dist/ (`npx tsc -p tsconfig.json`) and the native addon. Heavy at the default size (~3.5 GB
// peak, minutes): run it under `flock /work/wt/heavy.lock` on the shared machine.
// Usage: node bench/envelopeCholesky.bench.mjs [n=50000] [nDense=500] [halfBand=1000] [threads=2] [inverse=1]
import { envelopeBytes, envelopeOrder } from "../dist/fitter/sparseCholesky/envelopeOrder.js";
import { factorEnvelope } from "../dist/fitter/sparseCholesky/envelopeCholesky.js";

const n = Number(process.argv[2] ?? 50_000);
const nDense = Number(process.argv[3] ?? 500);
const halfBand = Number(process.argv[4] ?? 1000);
const threads = Number(process.argv[5] ?? 2);
const withInverse = (process.argv[6] ?? "1") !== "0";
const nLocal = n - nDense;

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const sec = (t0) => ((performance.now() - t0) / 1000).toFixed(2);
const gb = (b) => (b / 2 ** 30).toFixed(3);

// parameter index of band position q (local) — shuffled; dense rows are spread over the index range too
const rnd = rng(12345);
const index = Int32Array.from({ length: n }, (_, i) => i);
for (let i = n - 1; i > 0; i--) {
  const j = Math.floor(rnd() * (i + 1));
  const t = index[i];
  index[i] = index[j];
  index[j] = t;
}
const localAt = index.subarray(0, nLocal); // band position → parameter
const denseRows = Int32Array.from(index.subarray(nLocal)).sort();
const bandPos = new Int32Array(n).fill(-1);
for (let q = 0; q < nLocal; q++) bandPos[localAt[q]] = q;

let t0 = performance.now();
// symmetric value of (i, j) from a hash, so both triangles agree without storing a second copy
const offValue = (i, j) => {
  const a = Math.min(i, j);
  const b = Math.max(i, j);
  let h = Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca6b);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  return (h >>> 0) / 4294967296 - 0.5;
};
const rowPtr = new Float64Array(n + 1);
const rowLen = (i) => {
  if (bandPos[i] < 0) return n;
  const q = bandPos[i];
  return Math.min(nLocal - 1, q + halfBand) - Math.max(0, q - halfBand) + 1 + nDense;
};
for (let i = 0; i < n; i++) rowPtr[i + 1] = rowPtr[i] + rowLen(i);
const nnz = rowPtr[n];
const cols = new Int32Array(nnz);
const values = new Float64Array(nnz);
const isDense = new Uint8Array(n);
for (const d of denseRows) isDense[d] = 1;
const scratch = new Int32Array(n);
for (let i = 0; i < n; i++) {
  let m = 0;
  if (isDense[i]) for (let j = 0; j < n; j++) scratch[m++] = j;
  else {
    const q = bandPos[i];
    for (let p = Math.max(0, q - halfBand); p <= Math.min(nLocal - 1, q + halfBand); p++) scratch[m++] = localAt[p];
    for (const d of denseRows) scratch[m++] = d;
  }
  const row = scratch.subarray(0, m).sort();
  const base = rowPtr[i];
  let diagAt = -1;
  let sum = 0;
  for (let k = 0; k < m; k++) {
    const j = row[k];
    cols[base + k] = j;
    if (j === i) diagAt = base + k;
    else {
      const v = offValue(i, j);
      values[base + k] = v;
      sum += Math.abs(v);
    }
  }
  values[diagAt] = sum + 1;
}
const matrix = { n, rowPtr, cols, values };
console.log(`matrix: n=${n} (${nLocal} local, half-band ${halfBand}; ${nDense} dense), ${nnz} stored entries (${gb(nnz * 12)} GiB as CSR), built in ${sec(t0)} s`);

t0 = performance.now();
const order = envelopeOrder(matrix, denseRows);
console.log(`envelopeOrder (RCM, dense last): ${sec(t0)} s`);
t0 = performance.now();
const bytes = envelopeBytes(matrix, order);
console.log(`envelopeBytes: ${gb(bytes)} GiB (${(bytes / 8 / 1e6).toFixed(1)} M doubles), computed in ${sec(t0)} s`);

t0 = performance.now();
const r = factorEnvelope(matrix, order, { threads });
if (!r.positiveDefinite) throw new Error(`not positive definite at row ${r.row}`);
const f = r.factor;
console.log(`factorEnvelope (threads=${threads}): ${sec(t0)} s, factor bytes ${gb(f.bytes)} GiB, logDet ${f.logDet.toFixed(6)}`);

const b = Float64Array.from({ length: n }, () => rnd() - 0.5);
t0 = performance.now();
const x = f.solve(b);
console.log(`solve (1 RHS): ${sec(t0)} s`);
const k = 8;
const bs = Float64Array.from({ length: n * k }, () => rnd() - 0.5);
t0 = performance.now();
f.solveMany(bs, k);
console.log(`solveMany (${k} RHS, threads=${threads}): ${sec(t0)} s`);
// residual with the CSR matrix
let rr = 0;
let bb = 0;
for (let i = 0; i < n; i++) {
  let s = 0;
  for (let p = rowPtr[i]; p < rowPtr[i + 1]; p++) s += values[p] * x[cols[p]];
  rr += (s - b[i]) ** 2;
  bb += b[i] ** 2;
}
console.log(`relative residual ‖Ax − b‖/‖b‖ = ${Math.sqrt(rr / bb).toExponential(2)}`);
if (withInverse) {
  t0 = performance.now();
  const d = f.inverseDiagonal({ keepSelectedInverse: true });
  console.log(`inverseDiagonal (selected inverse kept): ${sec(t0)} s, factor + selected inverse ${gb(f.bytes)} GiB`);
  // yield-variance-like quadratic forms vᵀA⁻¹v: 80,000 vectors ("bins × processes"), each on 20
  // neighbouring local parameters and 10 dense rows (pairs coupled in A, so inside the envelope)
  const nvec = 80_000;
  const per = 30;
  const ptr = Float64Array.from({ length: nvec + 1 }, (_, v) => v * per);
  const idx = new Int32Array(nvec * per);
  const val = new Float64Array(nvec * per);
  for (let v = 0; v < nvec; v++) {
    const q = Math.floor(rnd() * (nLocal - 20));
    for (let t = 0; t < 20; t++) idx[v * per + t] = localAt[q + t];
    for (let t = 0; t < 10; t++) idx[v * per + 20 + t] = denseRows[(v * 7 + t * 37) % nDense];
    for (let t = 0; t < per; t++) val[v * per + t] = rnd() - 0.5;
  }
  t0 = performance.now();
  const qf = f.quadraticForms(ptr, idx, val);
  console.log(`quadraticForms (${nvec} vectors × ${per} entries): ${sec(t0)} s, ${qf.filter((x) => !Number.isFinite(x)).length} outside the envelope`);
  {
    // check one against solves: vᵀ(A⁻¹v)
    const v = new Float64Array(n);
    for (let t = 0; t < per; t++) v[idx[t]] += val[t];
    const y = f.solve(v);
    let s = 0;
    for (let i = 0; i < n; i++) s += v[i] * y[i];
    console.log(`  vᵀA⁻¹v[0] = ${qf[0].toExponential(12)}, by a solve ${s.toExponential(12)}, rel diff ${(Math.abs(qf[0] - s) / Math.abs(s)).toExponential(1)}`);
  }
  // spot check: (A⁻¹)_ii = e_iᵀ A⁻¹ e_i by a solve, for a local and a dense row
  for (const i of [localAt[Math.floor(nLocal / 2)], denseRows[0]]) {
    const e = new Float64Array(n);
    e[i] = 1;
    const z = f.solve(e)[i];
    console.log(`  diag(A⁻¹)[${i}] = ${d[i].toExponential(12)}, by a solve ${z.toExponential(12)}, rel diff ${(Math.abs(d[i] - z) / z).toExponential(1)}`);
  }
}
f.dispose();
console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024 / 1024).toFixed(2)} GiB`);
