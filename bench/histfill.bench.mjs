// Fill throughput of the native histmaker on the seed's histogram: 5-D (pT 30 × η 48 × charge 2 ×
// isolation 2 × mT 3, weighted storage, default flow bins) with a 103-wide tensor weight axis.
// Compares: one tensor histogram on 1 and 2 threads; 103 separate K=1 histograms filled with the
// same events (same code path); per-thread copies filled concurrently and merged at the end.
// Needs the compiled code: `npx tsc -p tsconfig.json` (dist/) and the addon (histmaker-native/build).
// Usage: node bench/histfill.bench.mjs [events=200000] [repeats=3]
import os from "node:os";
import { Hist } from "../dist/src/histmaker/Hist.js";
import { boolean, categoryInt, regular, variable } from "../dist/src/histmaker/axes.js";

const N = Number(process.argv[2] ?? 200_000);
const REPEATS = Number(process.argv[3] ?? 3);
const K = 103;

function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const axes = () => [
  regular(30, 26, 56, { name: "pt" }),
  regular(48, -2.4, 2.4, { name: "eta" }),
  categoryInt([-1, 1], { name: "charge" }),
  boolean({ name: "iso" }),
  variable([0, 40, 60, 200], { name: "mt" }),
];

const r = rng(42);
const cols = {
  pt: Float64Array.from({ length: N }, () => 26 + 30 * r()),
  eta: Float64Array.from({ length: N }, () => 5 * r() - 2.5),
  charge: Int32Array.from({ length: N }, () => (r() < 0.5 ? -1 : 1)),
  iso: Uint8Array.from({ length: N }, () => (r() < 0.8 ? 1 : 0)),
  mt: Float64Array.from({ length: N }, () => 120 * r()),
};
const tensorWeights = Float64Array.from({ length: N * K }, () => 0.9 + 0.2 * r());
const perVariation = Array.from({ length: K }, (_, k) => Float64Array.from({ length: N }, (_, i) => tensorWeights[i * K + k]));

const THREADS = (process.env.HISTFILL_THREADS ?? "1,2").split(",").map(Number);

/**
 * Steady-state fill time: the histograms are made once, filled once untimed (first touch of
 * fresh storage pages costs page faults, reported separately as "cold"), then the best of
 * REPEATS timed fills into the same histograms.
 */
async function best(make, fill) {
  const target = make();
  const c0 = performance.now();
  await fill(target);
  const coldMs = performance.now() - c0;
  let bestMs = Infinity;
  for (let i = 0; i < REPEATS; i++) {
    const t0 = performance.now();
    await fill(target);
    bestMs = Math.min(bestMs, performance.now() - t0);
  }
  return { ms: bestMs, coldMs };
}

const fmt = (evPerS) => `${(evPerS / 1e6).toFixed(3)} M events/s`;
const mb = (b) => `${(b / 2 ** 20).toFixed(1)} MiB`;
console.log(`node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? "?"}), load ${os.loadavg()[0].toFixed(1)}, ${N} events × ${K} weights, best of ${REPEATS}`);

const tensorHist = (atomicMode = "auto") => new Hist(axes(), { storage: "weighted", tensor: { name: "syst", size: K }, atomicMode });
const probe = tensorHist();
console.log(`histogram flow shape ${probe.flowShape.join("×")}, weighted storage ${mb(probe.storageBytes)}, atomic mode ${probe.atomicMode}`);

const results = {};
for (const threads of THREADS) {
  const { ms, coldMs } = await best(() => tensorHist(), (h) => h.fill(cols, { tensorWeights, threads }));
  results[`tensor${threads}`] = ms;
  const how = threads === 1 ? "sole writer, plain adds" : `shared, ${probe.atomicMode}`;
  console.log(`tensor axis K=${K}, ${threads} thread(s) [${how}]: ${ms.toFixed(1)} ms  ${fmt(N / (ms / 1e3))}  (cold first fill ${coldMs.toFixed(1)} ms)`);
  if (threads > 1) {
    const cas = (await best(() => tensorHist("cas"), (h) => h.fill(cols, { tensorWeights, threads }))).ms;
    console.log(`  same with per-cell compare-and-swap instead: ${cas.toFixed(1)} ms  ${fmt(N / (cas / 1e3))}`);
  }
}

for (const threads of THREADS) {
  const { ms } = await best(
    () => Array.from({ length: K }, () => new Hist(axes(), { storage: "weighted" })),
    async (hs) => {
      for (let k = 0; k < K; k++) await hs[k].fill(cols, { weight: perVariation[k], threads });
    },
  );
  results[`separate${threads}`] = ms;
  console.log(
    `${K} separate K=1 histograms, ${threads} thread(s): ${ms.toFixed(1)} ms  ${fmt(N / (ms / 1e3))}` +
      `  -> the tensor axis is ${(ms / results[`tensor${threads}`]).toFixed(1)}× faster`,
  );
}

for (const threads of THREADS.filter((t) => t > 1)) {
  // per-thread copies: each of `threads` histograms takes a slice of the events on its own thread, then merge
  const per = Math.ceil(N / threads);
  const parts = Array.from({ length: threads }, (_, t) => {
    const lo = Math.min(N, t * per);
    const hi = Math.min(N, (t + 1) * per);
    return {
      cols: Object.fromEntries(Object.entries(cols).map(([k, v]) => [k, v.subarray(lo, hi)])),
      tw: tensorWeights.subarray(lo * K, hi * K),
    };
  });
  // copies made once and warmed like the shared histogram; the merge is timed on every repeat
  const copies = parts.map(() => tensorHist());
  const fillCopies = () => Promise.all(copies.map((c, j) => c.fill(parts[j].cols, { tensorWeights: parts[j].tw, threads: 1 })));
  await fillCopies();
  let fillMs = Infinity;
  let mergeMs = Infinity;
  for (let i = 0; i < REPEATS; i++) {
    const t0 = performance.now();
    await fillCopies();
    const t1 = performance.now();
    const merged = copies[0].copy(); // merge into a copy so the copies stay as they are
    const t2 = performance.now();
    for (let j = 1; j < copies.length; j++) merged.add(copies[j]);
    const t3 = performance.now();
    fillMs = Math.min(fillMs, t1 - t0);
    mergeMs = Math.min(mergeMs, t3 - t2);
  }
  const shared = results[`tensor${threads}`];
  console.log(
    `per-thread copies, ${threads} threads: fill ${fillMs.toFixed(1)} ms + merge ${mergeMs.toFixed(1)} ms = ${(fillMs + mergeMs).toFixed(1)} ms` +
      `  ${fmt(N / ((fillMs + mergeMs) / 1e3))}, storage ${mb(threads * probe.storageBytes)}`,
  );
  console.log(`one shared histogram, ${threads} threads: ${shared.toFixed(1)} ms, no merge, storage ${mb(probe.storageBytes)} (${threads}× less)`);
}
