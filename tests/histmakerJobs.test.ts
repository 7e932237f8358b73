/**
 * `histmaker run --jobs N`: files processed by worker threads, added in file order, must give the
 * same output bit for bit as one job, on the real ROOT files (NanoAOD ttbar repeated as several
 * files, uproot's Z→μμ), with regions, per-object fills, a tensor axis, count storage, a growing
 * category axis, certification with luminosity, and a failing file (accounting and retries).
 * The workers run the compiled dist/ (built by `npm run build` / `npx tsc`).
 */
import { existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../src/cli/histmaker.js";
import { validateAnalysis } from "../src/histmaker/analysis.js";
import { loadUserModule } from "../src/histmaker/loadModule.js";
import { Hist } from "../src/histmaker/Hist.js";
import * as axes from "../src/histmaker/axes.js";
import { runAnalysis, type RunResult } from "../src/histmaker/runner.js";
import { readRunOutput } from "../src/histmaker/runOutput.js";
import { histFromData, histToData, partFromData, partToData, runInWorkers, workerScript, type PoolStats } from "../src/histmaker/runWorkers.js";
import { loadCertifications, processWithRetries, type FileOutcome, type FileProcessor } from "../src/histmaker/runner.js";
import { loadAnalysisCorrections } from "../src/histmaker/correctionlib/analysisCorrections.js";
import { Cutflow } from "../src/histmaker/cutflow.js";
import { runCommand } from "./helpers/cli.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const rootDir = path.resolve(here, "../../shared/data/root");
const nano = path.join(rootDir, "nanoAOD_2015_CMS_Open_Data_ttbar.root");
const zmumu = path.join(rootDir, "uproot-Zmumu.root");
const haveFiles = existsSync(nano) && existsSync(zmumu);
const haveDist = existsSync(path.resolve(here, "../dist/src/histmaker/runWorker.js"));
if (!haveFiles) console.log(`skipped: ${nano} or ${zmumu} not found`);
if (!haveDist) console.log("skipped: dist/src/histmaker/runWorker.js not built (npx tsc -p tsconfig.json)");

const work = mkdtempSync(path.join(tmpdir(), "hmjobs-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const muonSF = path.join(here, "fixtures", "correctionlib", "muon_Z.json.gz");
const moduleText = `
const sel = (f) => (c) => Uint8Array.from({ length: c.run ? c.run.length : c.M.length }, (_, i) => (f(c, i) ? 1 : 0));
const lead = (j) => Float64Array.from({ length: j.offsets.length - 1 }, (_, i) => (j.offsets[i + 1] > j.offsets[i] ? j.values[j.offsets[i]] : NaN));
export default {
  name: "jobs",
  datasets: [
    { name: "tt", kind: "mc", files: ["tt_0.root", "tt_1.root", "tt_2.root", "broken.root"], xsec: 831.76 },
    { name: "ttData", kind: "data", files: ["tt_3.root", "tt_4.root"], certification: "golden.json", lumiCsv: "lumi.csv" },
    { name: "Z", kind: "mc", files: ["z.root"], xsec: 2000, tree: "events" },
  ],
  corrections: { muonSF: ${JSON.stringify(muonSF)} },
  columns: {
    leadPt: (c) => (c.Muon_pt ? lead(c.Muon_pt) : c.pt1),
    leadAbsEta: (c) => (c.Muon_eta ? lead(c.Muon_eta) : c.eta1).map((v) => (Number.isNaN(v) ? 0 : Math.min(Math.abs(v), 2.39))),
  },
  selections: [{ name: "oneMuon", cut: sel((c, i) => c.leadPt[i] > 5) }],
  regions: {
    SR: [{ name: "hard", cut: sel((c, i) => c.leadPt[i] > 30) }],
    CR: [{ name: "soft", cut: sel((c, i) => c.leadPt[i] <= 30) }],
  },
  histograms: [
    { name: "lead_all", axes: [{ type: "regular", name: "pt", bins: 20, lo: 0, hi: 200 }], columns: ["leadPt"], after: "all" },
    { name: "muPt", axes: [{ type: "regular", name: "pt", bins: 20, lo: 0, hi: 200 }], columns: ["Muon_pt"], datasets: ["tt", "ttData"], regions: ["SR", "CR"] },
    { name: "muEta", axes: [{ type: "regular", name: "eta", bins: 10, lo: -2.5, hi: 2.5 }], columns: ["Muon_eta"], datasets: ["tt"], regions: ["SR", "CR"], regionAxis: true },
    // a correctionlib scale factor (ctx.corrections, loaded by each worker)
    { name: "sf", axes: [{ type: "regular", name: "pt", bins: 10, lo: 0, hi: 200 }], columns: ["leadPt"], regions: ["SR"],
      weight: (c, ctx) => ctx.corrections.muonSF["NUM_TightID_DEN_TrackerMuons"].evaluate(c.leadAbsEta, c.leadPt.map((v) => (Number.isNaN(v) ? 50 : Math.min(Math.max(v, 15.1), 199))), "nominal") },
    { name: "nRaw", axes: [{ type: "regular", name: "pt", bins: 10, lo: 0, hi: 200 }], columns: ["leadPt"], storage: "count", regions: ["SR"] },
    { name: "pdf", axes: [{ type: "regular", name: "pt", bins: 10, lo: 0, hi: 200 }], columns: ["leadPt"], datasets: "mc", tensor: { name: "pdf", size: 3, weights: (c) => { const n = c.leadPt.length; const o = new Float64Array(3 * n); for (let i = 0; i < n; i++) { o[3*i] = 1; o[3*i+1] = 1.1; o[3*i+2] = 0.9 + 1e-3 * (i % 7); } return o; } } },
    { name: "runs", axes: [{ type: "categoryInt", name: "run", categories: [], growth: true }], columns: ["run"], datasets: ["ttData"], after: "all" },
  ],
  chunkEntries: 64,
};
`;

beforeAll(async () => {
  if (!haveFiles) return;
  for (let i = 0; i < 5; i++) symlinkSync(nano, path.join(work, `tt_${i}.root`));
  symlinkSync(zmumu, path.join(work, "z.root"));
  writeFileSync(path.join(work, "broken.root"), "not a ROOT file");
  // certify part of the file's lumi blocks, with a luminosity per block
  const { RootFile } = await import("../src/histmaker/root/RootFile.js");
  const f = await RootFile.open(nano);
  const blocks = new Set<number>();
  let run = 0;
  for await (const c of f.tree("Events").iterate({ branches: ["run", "luminosityBlock"] })) {
    run = (c.columns.run as Uint32Array)[0];
    for (const b of c.columns.luminosityBlock as Uint32Array) blocks.add(b);
  }
  f.close();
  const sorted = [...blocks].sort((a, b) => a - b);
  writeFileSync(path.join(work, "golden.json"), JSON.stringify({ [run]: [[sorted[0], sorted[Math.floor(sorted.length / 2)]]] }));
  writeFileSync(
    path.join(work, "lumi.csv"),
    ["#run:fill,ls,time,beamstatus,E(GeV),delivered(/ub),recorded(/ub),avgpu,source", ...sorted.map((b) => `${run}:1,${b}:${b},t,STABLE BEAMS,6500,2,${1 + b / 7},10,HFOC`)].join("\n"),
  );
  writeFileSync(path.join(work, "jobs.mjs"), moduleText);
  writeFileSync(path.join(work, "bad.mjs"), moduleText.replace("columns: {", "columns: { broken: () => new Float64Array(1),").replace('cut: sel((c, i) => c.leadPt[i] > 5)', 'cut: "broken"'));
});

function bytes(a: Float64Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** Everything in a run result, histograms as raw bytes, for a bit-for-bit comparison. */
function snapshot(r: RunResult): unknown {
  return {
    datasets: r.datasets,
    failures: r.failures,
    scales: r.scales,
    luminosityPb: r.luminosityPb,
    cutflows: Object.fromEntries(Object.entries(r.cutflows).map(([k, c]) => [k, [bytes(c.raw), bytes(c.weighted)]])),
    regionCutflows: Object.fromEntries(
      Object.entries(r.regionCutflows).map(([k, rs]) => [k, Object.fromEntries(Object.entries(rs).map(([n, c]) => [n, [c.steps, bytes(c.raw), bytes(c.weighted)]]))]),
    ),
    hists: Object.fromEntries(
      Object.entries(r.hists).map(([ds, hs]) => [
        ds,
        Object.fromEntries(Object.entries(hs).map(([n, h]) => [n, { axes: h.axes, storage: h.storage, v: bytes(h.values({ flow: true })), w: bytes(h.variances({ flow: true })) }])),
      ]),
    ),
  };
}

describe.skipIf(!haveFiles || !haveDist)("histmaker run --jobs", () => {
  it("gives the same result bit for bit with 1, 2 and 3 jobs on real ROOT files, failures and accounting included", async () => {
    const modulePath = path.join(work, "jobs.mjs");
    const def = validateAnalysis(await loadUserModule(modulePath), modulePath);
    const logs: string[][] = [[], [], []];
    const runs: RunResult[] = [];
    const stats: PoolStats[] = [];
    for (const [j, jobs] of [1, 2, 3].entries())
      runs.push(await runAnalysis(def, { baseDir: work, jobs, modulePath, retries: 1, log: (m) => logs[j].push(m), onJobs: (s) => stats.push(s) }));
    // the main thread is one of the jobs: jobs = N starts N − 1 workers, and every file is processed once
    expect(stats.map((s) => s.workers)).toEqual([1, 2]);
    for (const [k, s] of stats.entries()) {
      expect(s.jobOfFile).toHaveLength(7);
      for (const job of s.jobOfFile) expect(job >= 0 && job <= k + 1).toBe(true);
    }
    const [one, two, three] = runs;
    // the run means something: events in every dataset, objects in the per-object histograms, a failure
    expect(one.datasets.tt.events).toBe(600);
    expect(one.datasets.tt.files).toHaveLength(3);
    expect(one.datasets.ttData.lumiBlocks.length).toBeGreaterThan(0);
    expect(one.datasets.ttData.lumiPb).toBeGreaterThan(0);
    expect(one.datasets.Z.events).toBe(2304);
    expect(one.hists.tt["muPt::SR"].sum()).toBeGreaterThan(0);
    // the scale factors are applied: the SR yield moves by a few per cent, not more
    const srFlow = one.regionCutflows.tt.SR;
    const sfRatio = one.hists.tt["sf::SR"].sum({ flow: true }) / srFlow.weighted[srFlow.steps.length - 1];
    expect(sfRatio).not.toBe(1);
    expect(Math.abs(sfRatio - 1)).toBeLessThan(0.2);
    expect(one.hists.tt.muEta.axes[0].name).toBe("region");
    expect(one.hists.ttData.runs.axes[0]).toMatchObject({ type: "category_int" });
    expect((one.hists.ttData.runs.axes[0] as { categories: number[] }).categories.length).toBeGreaterThan(0);
    expect(one.failures).toHaveLength(1);
    expect(one.failures[0]).toMatchObject({ dataset: "tt", attempts: 2 });
    expect(one.failures[0].file).toMatch(/broken\.root$/);
    expect(snapshot(two)).toEqual(snapshot(one));
    expect(snapshot(three)).toEqual(snapshot(one));
    // every attempt of the failing file is reported, whichever worker ran it
    for (const l of logs) expect(l.filter((m) => /broken\.root failed \(attempt \d\/2\)/.test(m))).toHaveLength(2);
  });

  it("accounts a file failing on the main thread exactly like one failing in a worker, and like one job", async () => {
    const modulePath = path.join(work, "jobs.mjs");
    const def = validateAnalysis(await loadUserModule(modulePath), modulePath);
    writeFileSync(path.join(work, "broken_2.root"), "not a ROOT file either");
    const ds = (n: string) => def.datasets.find((d) => d.name === n)!;
    const items = [
      { dataset: ds("tt"), file: path.join(work, "broken.root") },
      { dataset: ds("tt"), file: path.join(work, "broken_2.root") },
      { dataset: ds("tt"), file: path.join(work, "tt_0.root") },
      { dataset: ds("ttData"), file: path.join(work, "tt_3.root") },
      { dataset: ds("Z"), file: path.join(work, "z.root") },
    ];
    const fp: FileProcessor = { def, certs: loadCertifications(def, work), threads: 1, retries: 1, corrections: loadAnalysisCorrections(def.corrections, work) };
    const quiet = { onChunk: () => undefined, discard: () => undefined };
    // one job: the reference outcomes and messages
    const oneLog: string[] = [];
    const one: FileOutcome[] = [];
    for (const it of items) one.push(await processWithRetries(fp, it, { ...quiet, say: (m) => oneLog.push(m) }));
    // two jobs: the main thread takes file 0 (the first Atomics.add, before anything is awaited) and
    // holds it until the worker has finished a file, which can only be file 1: both broken files fail,
    // one on each thread
    let workerFinished!: () => void;
    const workerDone = new Promise<void>((r) => (workerFinished = r));
    const fileDone: [boolean, number][] = [];
    const events = new Map<number, number>();
    const twoLog: string[] = [];
    const two: FileOutcome[] = [];
    const stats = await runInWorkers(items, 2, {
      modulePath,
      baseDir: work,
      threads: 1,
      retries: 1,
      progress: {
        addEvents: (n, _f, job = 0) => events.set(job, (events.get(job) ?? 0) + n),
        discardEvents: (n, job = 0) => events.set(job, (events.get(job) ?? 0) - n),
        fileDone: (ok, job = 0) => {
          fileDone.push([ok, job]);
          if (job === 1) workerFinished();
        },
      },
      say: (m) => twoLog.push(m),
      processHere: async (item, hooks) => {
        if (item === items[0]) await workerDone;
        return processWithRetries(fp, item, hooks);
      },
      onOutcome: (i, o) => {
        expect(i).toBe(two.length);
        two.push(o);
      },
    });
    expect(stats.workers).toBe(1);
    expect(stats.jobOfFile.slice(0, 2)).toEqual([0, 1]);
    expect(stats.jobOfFile.every((j) => j === 0 || j === 1)).toBe(true);
    // the same failures (file, attempts, message) and the same parts, bit for bit
    expect(one[0].failure).toMatchObject({ dataset: "tt", attempts: 2 });
    expect(one[1].failure).toMatchObject({ dataset: "tt", attempts: 2 });
    expect(two.map((o) => o.failure)).toEqual(one.map((o) => o.failure));
    for (const [i, o] of one.entries()) {
      if (o.part === null) {
        expect(two[i].part).toBeNull();
        continue;
      }
      expect(two[i].part!.events).toBe(o.part.events);
      expect(two[i].part!.sumGenWeights).toBe(o.part.sumGenWeights);
      expect(two[i].part!.cutflow.toJSON()).toEqual(o.part.cutflow.toJSON());
      for (const [n, h] of Object.entries(o.part.hists)) expect(bytes(two[i].part!.hists[n].values({ flow: true })), n).toEqual(bytes(h.values({ flow: true })));
    }
    // every attempt is reported, on whichever thread, and each file is counted done once, as failed
    expect([...twoLog].sort()).toEqual([...oneLog].sort());
    expect(twoLog.filter((m) => /broken(_2)?\.root failed \(attempt \d\/2\)/.test(m))).toHaveLength(4);
    expect(fileDone).toHaveLength(items.length);
    expect(fileDone.filter(([ok]) => !ok).map(([, job]) => job).sort()).toEqual([0, 1]);
    // the progress keeps the events of the good files only, failed attempts taken back
    const total = one.reduce((s, o) => s + (o.part?.events ?? 0), 0);
    expect([...events.values()].reduce((a, b) => a + b, 0)).toBe(total);
  });

  it("keeps the worker busy while the main thread is held up by a long file (work is not handed out by the main thread)", async () => {
    const modulePath = path.join(work, "jobs.mjs");
    const def = validateAnalysis(await loadUserModule(modulePath), modulePath);
    const tt = def.datasets[0];
    const items = [0, 1, 2, 0, 1].map((k) => ({ dataset: tt, file: path.join(work, `tt_${k}.root`) }));
    const fp: FileProcessor = { def, certs: loadCertifications(def, work), threads: 1, retries: 1, corrections: loadAnalysisCorrections(def.corrections, work) };
    // the main thread's first file ends only once the worker has done all the others: were the
    // worker fed by the main thread between its files, this would never finish
    let othersDone!: () => void;
    const others = new Promise<void>((r) => (othersDone = r));
    let byWorker = 0;
    const folded: number[] = [];
    const stats = await runInWorkers(items, 2, {
      modulePath,
      baseDir: work,
      threads: 1,
      retries: 1,
      progress: {
        addEvents: () => undefined,
        discardEvents: () => undefined,
        fileDone: (_ok, job) => {
          if (job === 1 && ++byWorker === items.length - 1) othersDone();
        },
      },
      say: () => undefined,
      processHere: async (item, hooks) => {
        if (item === items[0]) await others;
        return processWithRetries(fp, item, hooks);
      },
      onOutcome: (i, o) => {
        expect(o.failure).toBeNull();
        expect(o.part!.events).toBe(200);
        folded.push(i);
      },
    });
    expect(stats.jobOfFile).toEqual([0, 1, 1, 1, 1]);
    expect(folded).toEqual([0, 1, 2, 3, 4]);
  });

  it("stops on an error in the analysis module, raised on the main thread or in a worker, with its message", async () => {
    const modulePath = path.join(work, "bad.mjs");
    const def = validateAnalysis(await loadUserModule(modulePath), modulePath);
    // on whichever thread it is raised
    await expect(runAnalysis(def, { baseDir: work, jobs: 2, modulePath, log: () => undefined })).rejects.toThrow(/derived column "broken" has 1 values for a chunk of 64 events/);
    // in the worker, while the main thread is busy with files of its own (which never fail here)
    const items = def.datasets[0].files.slice(0, 3).map((f) => ({ dataset: def.datasets[0], file: path.join(work, f) }));
    let mainFiles = 0;
    const pool = runInWorkers(items, 2, {
      modulePath,
      baseDir: work,
      threads: 1,
      retries: 1,
      progress: { addEvents: () => undefined, discardEvents: () => undefined, fileDone: () => undefined },
      say: () => undefined,
      processHere: () => new Promise((r) => setTimeout(() => r({ part: null, failure: { dataset: "tt", file: String(mainFiles++), attempts: 1, error: "slow" } }), 1500)),
      onOutcome: () => undefined,
    });
    await expect(pool).rejects.toThrow(/derived column "broken" has 1 values for a chunk of 64 events/);
    expect(mainFiles).toBeLessThan(3);
  });

  it("fails, rather than waiting forever, when a worker ends without finishing the file it took", async () => {
    // the analysis ends its thread in the middle of a file (process.exit in a worker ends the worker),
    // after leaving a marker; the main thread holds its first file until then
    const marker = path.join(work, "exited.marker");
    const modulePath = path.join(work, "exits.mjs");
    writeFileSync(
      modulePath,
      `import { writeFileSync } from "node:fs";
export default { name: "exits", datasets: [{ name: "tt", kind: "mc", xsec: 1, files: ["tt_0.root", "tt_1.root", "tt_2.root"] }],
  columns: { x: (c) => { writeFileSync(${JSON.stringify(marker)}, "1"); process.exit(0); } },
  histograms: [{ name: "x", axes: [{ type: "regular", name: "x", bins: 2, lo: 0, hi: 1 }], columns: ["x"] }] };
`,
    );
    const def = validateAnalysis(await loadUserModule(modulePath), modulePath);
    const items = def.datasets[0].files.map((f) => ({ dataset: def.datasets[0], file: path.join(work, f) }));
    const pool = runInWorkers(items, 2, {
      modulePath,
      baseDir: work,
      threads: 1,
      retries: 1,
      progress: { addEvents: () => undefined, discardEvents: () => undefined, fileDone: () => undefined },
      say: () => undefined,
      processHere: async (item) => {
        if (item === items[0]) for (let t = 0; t < 400 && !existsSync(marker); t++) await new Promise((r) => setTimeout(r, 50));
        return { part: null, failure: { dataset: "tt", file: item.file, attempts: 1, error: "not processed here" } };
      },
      onOutcome: () => undefined,
    });
    await expect(pool).rejects.toThrow(/--jobs: a worker ended before finishing its file \(.*tt_1\.root\)/);
    expect(existsSync(marker)).toBe(true);
  });

  it("needs the module path for jobs > 1", async () => {
    const def = validateAnalysis(await loadUserModule(path.join(work, "jobs.mjs")), "jobs.mjs");
    await expect(runAnalysis(def, { jobs: 2 })).rejects.toThrow(/needs the analysis module's path/);
    await expect(runAnalysis(def, { jobs: 0 })).rejects.toThrow(/--jobs: expected an integer >= 1/);
  });

  it("CLI: `run --jobs 2` writes the same histograms and run info as --jobs 1", async () => {
    const outs = [];
    for (const jobs of ["1", "2"]) {
      const out = path.join(work, `cli_${jobs}.hdf5`);
      const r = await runCommand(main, "histmaker", ["run", path.join(work, "jobs.mjs"), "-o", out, "--jobs", jobs, "--allow-failures", "--no-progress"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain("cutflow SR: scaled yield (raw events)");
      expect(existsSync(out.replace(/\.hdf5$/, ".cutflow.html"))).toBe(true);
      outs.push(await readRunOutput(out));
    }
    const [a, b] = outs;
    expect(b.info.meta.jobs).toBe(2);
    const strip = (i: typeof a.info) => ({ ...i, meta: null });
    expect(strip(b.info)).toEqual(strip(a.info));
    for (const [ds, hs] of Object.entries(a.hists))
      for (const [n, h] of Object.entries(hs)) expect(bytes(b.hists[ds][n].values({ flow: true })), `${ds}/${n}`).toEqual(bytes(h.values({ flow: true })));
    const bad = await runCommand(main, "histmaker", ["run", path.join(work, "jobs.mjs"), "-o", path.join(work, "x.hdf5"), "--jobs", "0"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--jobs: expected an integer >= 1");
  });
});

describe("worker messages", () => {
  it("histograms and file parts survive the trip as plain data, exactly", async () => {
    const h = new Hist([axes.regular(4, 0, 1, { name: "x" }), axes.categoryStr(["a"], { name: "s", growth: true })], { storage: "weighted", tensor: { name: "t", size: 2 } });
    await h.fill([Float64Array.from([0.1, 0.7, 0.7]), ["a", "b", "a"]], { tensorWeights: Float64Array.from([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]) });
    const back = histFromData(structuredClone(histToData(h)));
    expect(back.axes).toEqual(h.axes);
    expect(bytes(back.values({ flow: true }))).toEqual(bytes(h.values({ flow: true })));
    expect(bytes(back.variances({ flow: true }))).toEqual(bytes(h.variances({ flow: true })));
    const c = new Hist([axes.regular(2, 0, 1, { name: "x" })], { storage: "count" });
    await c.fill([Float64Array.from([0.1, 0.2, 0.9])]);
    expect(Array.from(histFromData(histToData(c)).values())).toEqual([2, 1]);
    const cf = new Cutflow(["all", "a"]);
    cf.record(0, null, Float64Array.from([0.1, 0.2]), 2);
    const part = { hists: { h }, cutflow: cf, regionCutflows: { SR: cf }, sumGenWeights: 0.30000000000000004, events: 2, blocks: new Set([5, 7]) };
    const p2 = partFromData(structuredClone(partToData(part)));
    expect(p2.sumGenWeights).toBe(0.30000000000000004);
    expect(p2.events).toBe(2);
    expect([...p2.blocks]).toEqual([5, 7]);
    expect(p2.cutflow.toJSON()).toEqual(cf.toJSON());
    expect(p2.regionCutflows.SR.toJSON()).toEqual(cf.toJSON());
    expect(bytes(p2.hists.h.values({ flow: true }))).toEqual(bytes(h.values({ flow: true })));
  });

  it.skipIf(!haveDist)("finds the compiled worker script", () => {
    expect(workerScript()).toMatch(/dist\/src\/histmaker\/runWorker\.js$/);
  });
});

describe("Progress with several files in flight", () => {
  it("adds the read fractions of the workers' files, and forgets a slot's file when it is done or discarded", async () => {
    const { Progress } = await import("../src/histmaker/progress.js");
    let now = 0;
    const p = new Progress({ totalFiles: 4, enabled: true, now: () => now, stream: { write: () => true } as never });
    now = 10_000;
    p.addEvents(1000, 0.5, 0);
    p.addEvents(1000, 0.5, 1);
    // 1 of 4 files in 10 s: 30 s to go
    expect(p.line()).toContain("ETA 0:30");
    p.discardEvents(1000, 1);
    expect(p.line()).toContain("events 1.0k");
    // 0.5 of 4 in 10 s: 70 s to go
    expect(p.line()).toContain("ETA 1:10");
    p.fileDone(true, 0);
    p.addEvents(500, 0.5, 1);
    expect(p.line()).toContain("files 1/4");
    expect(p.line()).toContain("ETA 0:17");
  });
});
