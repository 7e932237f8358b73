// Events/s of `histmaker run` with 1 and 2 worker jobs on NanoAOD-like input: the NanoAOD ttbar file
// (200 events, 2015 CMS open data) repeated as FILES files (symlinks), an H→WW-like analysis reading
// muon, electron, jet and MET branches: a preselection, SR/CR regions, per-object fills of the
// jagged muon and jet columns, a tensor axis of 10 weights, count storage. Each setting runs once
// (the CPU is shared): wall time from start to result and the process' CPU time (all threads), output
// compared between settings. With jobs = N the main thread processes files too, beside N − 1 workers
// (how many each took is printed). A first pair of runs on 2 files shows the fixed cost of the worker path:
// each worker is a fresh thread that loads the runner and the analysis module (through its own
// module-resolution hooks thread, for `import "hepfit/histmaker"`) and warms up its JIT, about
// 0.3–0.9 s per worker; with few events per run that cost decides, hence the default of 300 files.
// FRESH=1 runs each setting in a new process, cold, as `histmaker run` does (see runOnce below).
// Needs the compiled code: `npx tsc -p tsconfig.json`. Usage: [FRESH=1] node bench/histmakerJobs.bench.mjs [FILES=300] [JOBS=1,2]
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { fork } from "node:child_process";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { validateAnalysis } from "../dist/src/histmaker/analysis.js";
import { loadUserModule } from "../dist/src/histmaker/loadModule.js";
import { runAnalysis } from "../dist/src/histmaker/runner.js";

/** CPU seconds of each thread of this process (Linux /proc; empty elsewhere). */
function threadCpu() {
  const out = new Map();
  let tids = [];
  try {
    tids = readdirSync("/proc/self/task");
  } catch {
    return out;
  }
  for (const t of tids) {
    try {
      const s = readFileSync(`/proc/self/task/${t}/stat`, "utf8");
      const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
      out.set(t, (Number(f[11]) + Number(f[12])) / 100); // utime + stime, in USER_HZ ticks
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}

/**
 * Where a run's CPU time went, by thread: the main thread; threads started during the run (the
 * workers, and each worker's module-resolution hooks thread); the threads that were there before
 * (V8's platform threads — concurrent compilation, parallel and concurrent GC — and libuv's pool,
 * shared by every isolate of the process). Worker threads are sampled every 20 ms, as they end
 * with the run (the last < 20 ms of each is missed).
 */
function threadProfile() {
  const before = threadCpu();
  const last = new Map(before);
  const timer = setInterval(() => {
    for (const [t, c] of threadCpu()) last.set(t, c);
  }, 20);
  return () => {
    clearInterval(timer);
    for (const [t, c] of threadCpu()) last.set(t, c);
    if (last.size === 0) return "";
    const main = String(process.pid);
    let m = 0;
    let started = 0;
    let helpers = 0;
    for (const [t, c] of last) {
      const d = c - (before.get(t) ?? 0);
      if (t === main) m += d;
      else if (before.has(t)) helpers += d;
      else started += d;
    }
    return `; by thread: main ${m.toFixed(2)} s, started by the run ${started.toFixed(2)} s, V8/libuv helpers ${helpers.toFixed(2)} s`;
  };
}

/** One run of the analysis with `jobs`: wall and CPU time (all threads), by thread, a digest of the output. */
async function runOnce(def, jobs, baseDir, modulePath) {
  const byThread = threadProfile();
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let spread = "";
  const onJobs = (st) => {
    const n = new Array(st.workers + 1).fill(0);
    for (const j of st.jobOfFile) n[j]++;
    spread = `; files by job: main ${n[0]}, worker${st.workers > 1 ? "s" : ""} ${n.slice(1).join("/")}`;
  };
  const r = await runAnalysis(def, { baseDir, jobs, modulePath, log: () => undefined, onJobs });
  const s = (performance.now() - t0) / 1000;
  // CPU time of all threads of the process: shows whether a run got the cores it asked for
  const c = process.cpuUsage(c0);
  const cpu = (c.user + c.system) / 1e6;
  if (r.failures.length) throw new Error(`failures: ${JSON.stringify(r.failures)}`);
  const events = r.datasets.ttbar.events;
  const digest = JSON.stringify(Object.entries(r.hists.ttbar).map(([k, h]) => [k, Array.from(h.values({ flow: true }))]));
  return { events, s, cpu, byThread: byThread() + spread, digest };
}

// FRESH=1: each run in a new process (`--one DIR MODULE JOBS`), as `histmaker run` starts: in one
// long-lived process the jobs=1 runs reuse a main thread the earlier runs warmed up (JIT, heap),
// while every jobs=2 run starts two cold workers
if (process.argv[2] === "--one") {
  const [, , , baseDir, modulePath, jobs] = process.argv;
  const def = validateAnalysis(await loadUserModule(modulePath), modulePath);
  process.send(await runOnce(def, Number(jobs), baseDir, modulePath));
  process.exit(0);
}
const FRESH = process.env.FRESH === "1";

const here = dirname(fileURLToPath(import.meta.url));
const nano = resolve(here, "../../shared/data/root/nanoAOD_2015_CMS_Open_Data_ttbar.root");
const FILES = Number(process.argv[2] ?? 300);
// "2p": the control, two processes of jobs=1 at once, each on half of the files
const JOBS = (process.argv[3] ?? "1,2").split(",").map((j) => (j === "2p" ? j : Number(j)));
if (!existsSync(nano)) {
  console.log(`skipped: ${nano} not found`);
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), "hmjobs-bench-"));
const files = Array.from({ length: FILES }, (_, i) => `nano_${i}.root`);
for (const f of files) symlinkSync(nano, join(dir, f));
const moduleText = (files) => `
const lead = (j, k = 0) => Float64Array.from({ length: j.offsets.length - 1 }, (_, i) => (j.offsets[i + 1] - j.offsets[i] > k ? j.values[j.offsets[i] + k] : NaN));
const mask = (a, f) => Uint8Array.from(a, (v) => (f(v) ? 1 : 0));
export default {
  name: "hww-like",
  datasets: [{ name: "ttbar", kind: "mc", files: ${JSON.stringify(files)}, xsec: 831.76 }],
  luminosity: 2300,
  branches: ["genWeight", "Muon_pt", "Muon_eta", "Muon_phi", "Muon_tightId", "Electron_pt", "Electron_eta", "Jet_pt", "Jet_eta", "Jet_btagCSVV2", "MET_pt", "PV_npvs"],
  columns: {
    mu1: (c) => lead(c.Muon_pt),
    e1: (c) => lead(c.Electron_pt),
    lep1: (c) => Float64Array.from(c.mu1, (m, i) => Math.max(Number.isNaN(m) ? 0 : m, Number.isNaN(c.e1[i]) ? 0 : c.e1[i])),
    nJet30: (c) => { const j = c.Jet_pt; return Int32Array.from({ length: j.offsets.length - 1 }, (_, i) => { let n = 0; for (let k = j.offsets[i]; k < j.offsets[i + 1]; k++) if (j.values[k] > 30) n++; return n; }); },
    met: (c) => Float64Array.from(c.MET_pt),
  },
  selections: [{ name: "lepton", cut: (c) => mask(c.lep1, (v) => v > 10) }, { name: "met", cut: (c) => mask(c.met, (v) => v > 20) }],
  regions: {
    SR: [{ name: "0jet", cut: (c) => mask(c.nJet30, (n) => n === 0) }],
    CR_top: [{ name: "2jet", cut: (c) => mask(c.nJet30, (n) => n >= 2) }],
  },
  histograms: [
    { name: "lep1", axes: [{ type: "regular", name: "pt", bins: 50, lo: 0, hi: 250 }], columns: ["lep1"], regions: ["SR", "CR_top"] },
    { name: "muPt", axes: [{ type: "regular", name: "pt", bins: 50, lo: 0, hi: 250 }, { type: "regular", name: "eta", bins: 24, lo: -2.4, hi: 2.4 }], columns: ["Muon_pt", "Muon_eta"], regions: ["SR", "CR_top"], regionAxis: true },
    { name: "jetPt", axes: [{ type: "regular", name: "pt", bins: 50, lo: 0, hi: 500 }], columns: ["Jet_pt"], after: "all" },
    { name: "met", axes: [{ type: "regular", name: "met", bins: 40, lo: 0, hi: 400 }], columns: ["met"], regions: ["SR", "CR_top"], tensor: { name: "var", size: 10, weights: (c) => { const n = c.met.length; const o = new Float64Array(10 * n); for (let i = 0; i < o.length; i++) o[i] = 1 + 0.01 * (i % 10); return o; } } },
    { name: "nRaw", axes: [{ type: "integer", name: "npv", lo: 0, hi: 60 }], columns: ["PV_npvs"], storage: "count", regions: ["SR"] },
  ],
};
`;
writeFileSync(join(dir, "analysis.mjs"), moduleText(files));
writeFileSync(join(dir, "startup.mjs"), moduleText(files.slice(0, 2)));
for (const h of [0, 1]) writeFileSync(join(dir, `half_${h}.mjs`), moduleText(files.filter((_, i) => i % 2 === h)));

const modulePath = join(dir, "analysis.mjs");
const def = validateAnalysis(await loadUserModule(modulePath), modulePath);
const startupPath = join(dir, "startup.mjs");
const startupDef = validateAnalysis(await loadUserModule(startupPath), startupPath);
for (const jobs of [1, 2]) {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await runAnalysis(startupDef, { baseDir: dir, jobs, modulePath: startupPath, log: () => undefined });
  const c = process.cpuUsage(c0);
  console.log(`fixed cost, 2 files (400 events), jobs=${jobs}: ${((performance.now() - t0) / 1000).toFixed(2)} s wall, CPU ${((c.user + c.system) / 1e6).toFixed(2)} s`);
}
console.log(`histmaker run on ${FILES} × NanoAOD ttbar (200 events each), ${process.env.NODE_ENV ?? ""}node ${process.version}`);
/** runOnce in a new process (FRESH=1). */
function inChild(jobs, module = modulePath) {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ["--one", dir, module, String(jobs)]);
    let result = null;
    child.once("message", (m) => (result = m));
    child.once("error", reject);
    child.once("exit", (code) => (result ? resolve(result) : reject(new Error(`jobs=${jobs}: the child process exited with code ${code}`))));
  });
}
let reference = null;
for (const jobs of JOBS) {
  if (jobs === "2p") {
    // independent processes share nothing but the machine: the CPU per event they need together,
    // against one process alone, is what running two at once costs here, threads or not
    const t0 = performance.now();
    const halves = await Promise.all([0, 1].map((h) => inChild(1, join(dir, `half_${h}.mjs`))));
    const s = (performance.now() - t0) / 1000;
    const events = halves[0].events + halves[1].events;
    const cpu = halves[0].cpu + halves[1].cpu;
    console.log(
      `2 processes × jobs=1, half of the files each: ${events} events in ${s.toFixed(2)} s (with process start-up) = ${Math.round(events / s)} events/s; CPU ${cpu.toFixed(2)} s (${Math.round((100 * cpu) / s)}% of one core); ` +
        halves.map((o, h) => `process ${h}: ${o.s.toFixed(2)} s, CPU ${o.cpu.toFixed(2)} s${o.byThread}`).join("; "),
    );
    continue;
  }
  const o = FRESH ? await inChild(jobs) : await runOnce(def, jobs, dir, modulePath);
  const same = reference === null ? "reference" : o.digest === reference ? "identical to jobs=" + JOBS[0] : "DIFFERS";
  reference ??= o.digest;
  console.log(
    `jobs=${jobs}: ${o.events} events in ${o.s.toFixed(2)} s = ${Math.round(o.events / o.s)} events/s; CPU ${o.cpu.toFixed(2)} s (${Math.round((100 * o.cpu) / o.s)}% of one core)${o.byThread} (${same})`,
  );
}
rmSync(dir, { recursive: true, force: true });
