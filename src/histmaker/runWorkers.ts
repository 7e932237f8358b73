/**
 * `histmaker run --jobs N`: the main thread and N−1 worker threads process whole files (with their
 * retries); each worker loads the analysis module itself. Every job takes the next file from a
 * shared counter (Atomics on a SharedArrayBuffer), so the workers never wait for the main thread to
 * hand out work, even while it is busy with a file of its own. The main thread aggregates the
 * progress and passes each file's outcome on in file order, so the sums are the same as with one job.
 * The main thread is one of the jobs because its module, JIT and heap are already warm: a worker
 * costs a thread start-up, its own module loading and a cold JIT (about 0.3 s CPU and more per file
 * at first), which jobs = 2 now pays once, not twice.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { UserError } from "../errors.js";
import type { DatasetSpec } from "./analysis.js";
import { Cutflow, type CutflowJson } from "./cutflow.js";
import { Hist, type StorageType } from "./Hist.js";
import type { Axis } from "./axes.js";
import type { Progress } from "./progress.js";
import type { FileFailure, FileOutcome, FilePart } from "./runner.js";

/** A Hist as plain data (structured-clone friendly). */
export interface HistData {
  axes: Axis[];
  storage: StorageType;
  tensor: { name: string; size: number; labels?: string[] } | null;
  values: Float64Array;
  variances: Float64Array | null;
}

export interface FilePartData {
  hists: Record<string, HistData>;
  cutflow: CutflowJson;
  regionCutflows: Record<string, CutflowJson>;
  sumGenWeights: number;
  events: number;
  blocks: number[];
}

export function histToData(h: Hist): HistData {
  return {
    axes: [...h.axes],
    storage: h.storage,
    tensor: h.tensor ? structuredClone(h.tensor) : null,
    values: h.values({ flow: true }),
    variances: h.storage === "weighted" ? h.variances({ flow: true }) : null,
  };
}

export function histFromData(d: HistData): Hist {
  return Hist.fromArrays(d.axes, { storage: d.storage, ...(d.tensor ? { tensor: d.tensor } : {}) }, d.values, d.variances ?? undefined);
}

export function partToData(p: FilePart): FilePartData {
  return {
    hists: Object.fromEntries(Object.entries(p.hists).map(([k, h]) => [k, histToData(h)])),
    cutflow: p.cutflow.toJSON(),
    regionCutflows: Object.fromEntries(Object.entries(p.regionCutflows).map(([r, c]) => [r, c.toJSON()])),
    sumGenWeights: p.sumGenWeights,
    events: p.events,
    blocks: [...p.blocks],
  };
}

/** The buffers of a part's histogram arrays, to move them with postMessage instead of copying. */
export function partTransferList(d: FilePartData): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const h of Object.values(d.hists))
    for (const a of [h.values, h.variances])
      if (a !== null && a.buffer instanceof ArrayBuffer && a.byteOffset === 0 && a.byteLength === a.buffer.byteLength) out.add(a.buffer);
  return [...out];
}

export function partFromData(d: FilePartData): FilePart {
  return {
    hists: Object.fromEntries(Object.entries(d.hists).map(([k, h]) => [k, histFromData(h)])),
    cutflow: Cutflow.fromJSON(d.cutflow),
    regionCutflows: Object.fromEntries(Object.entries(d.regionCutflows).map(([r, c]) => [r, Cutflow.fromJSON(c)])),
    sumGenWeights: d.sumGenWeights,
    events: d.events,
    blocks: new Set(d.blocks),
  };
}

/** Messages from a worker to the main thread. */
export type FromWorker =
  | { type: "chunk"; events: number; fraction: number }
  | { type: "discard"; events: number }
  | { type: "log"; message: string }
  | { type: "done"; index: number; part: FilePartData | null; failure: FileFailure | null }
  | { type: "fatal"; message: string; user: boolean };

export interface WorkerInit {
  modulePath: string;
  baseDir?: string;
  threads: number;
  retries: number;
  /** the files of the run, by index (dataset by name: the worker has the analysis' own) */
  work: { dataset: string; file: string }[];
  /** one Int32: the index of the next file to take (Atomics.add), shared by all the jobs */
  next: SharedArrayBuffer;
}

/** The compiled worker script (dist/…/runWorker.js); from sources (tests) the one in the repository's dist/. */
export function workerScript(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const beside = path.join(here, "runWorker.js");
  if (existsSync(beside)) return beside;
  const dist = path.resolve(here, "../../dist/src/histmaker/runWorker.js");
  if (existsSync(dist)) return dist;
  throw new UserError(`--jobs: worker script not found (${beside}); build with \`npm run build\``);
}

/** What processWithRetries is told while a file is processed. */
export interface FileHooks {
  onChunk: (events: number, fraction: number) => void;
  discard: (events: number) => void;
  say: (m: string) => void;
}

export interface PoolOptions {
  modulePath: string;
  baseDir?: string;
  threads: number;
  retries: number;
  progress: Pick<Progress, "addEvents" | "discardEvents" | "fileDone">;
  say: (m: string) => void;
  /** processes one file on this (the main) thread, which is job 0; throws only for a fatal error */
  processHere: (item: { dataset: DatasetSpec; file: string }, hooks: FileHooks) => Promise<FileOutcome>;
  /** called once per file, in file order (the progress is told when each file finishes) */
  onOutcome: (index: number, outcome: FileOutcome) => void;
}

/** How the files were spread over the jobs. */
export interface PoolStats {
  /** worker threads started (jobs − 1) */
  workers: number;
  /** per file: the job that processed it (0: the main thread, 1…: the workers) */
  jobOfFile: number[];
}

/**
 * Processes `work` on `jobs` jobs: this thread and jobs − 1 workers. Resolves when every file has an
 * outcome; rejects on a fatal error (an error in the analysis module, a worker that died), after this
 * thread's current file (it cannot be interrupted).
 */
export async function runInWorkers(work: { dataset: DatasetSpec; file: string }[], jobs: number, opts: PoolOptions): Promise<PoolStats> {
  const next = new Int32Array(new SharedArrayBuffer(4));
  const pending = new Map<number, FileOutcome>();
  const jobOfFile: number[] = new Array<number>(work.length).fill(-1);
  let nextToFold = 0;
  let failure: Error | null = null;
  let allDone!: () => void;
  let failed!: (err: Error) => void;
  const finished = new Promise<void>((resolve, reject) => {
    allDone = resolve;
    failed = reject;
  });
  finished.catch(() => undefined); // handled by the await below, after this thread's own file
  const workers: Worker[] = [];
  const exited: Promise<void>[] = [];
  let running = 0; // workers not yet exited, and this thread while it takes files
  // every job has ended but a file has no outcome: a worker ended without finishing the file it took
  // (e.g. the analysis module called process.exit); an error, not a run waiting forever
  const checkLost = () => {
    if (running === 0 && nextToFold < work.length) fail(new Error(`--jobs: a worker ended before finishing its file (${work[nextToFold].file})`));
  };
  const fail = (err: Error) => {
    if (failure !== null) return;
    failure = err;
    Atomics.store(next, 0, work.length); // nothing more is taken
    for (const w of workers) void w.terminate();
    failed(err);
  };
  const deliver = (index: number, job: number, outcome: FileOutcome) => {
    jobOfFile[index] = job;
    pending.set(index, outcome);
    opts.progress.fileDone(outcome.failure === null, job);
    while (pending.has(nextToFold)) {
      const o = pending.get(nextToFold)!;
      pending.delete(nextToFold);
      opts.onOutcome(nextToFold++, o);
    }
    if (nextToFold === work.length) allDone();
  };

  // the workers first, so that their start-up runs while this thread processes its first files
  const nWorkers = Math.max(0, Math.min(jobs, work.length) - 1);
  if (nWorkers > 0) {
    const script = workerScript();
    const init: WorkerInit = {
      modulePath: opts.modulePath,
      baseDir: opts.baseDir,
      threads: opts.threads,
      retries: opts.retries,
      work: work.map((w) => ({ dataset: w.dataset.name, file: w.file })),
      next: next.buffer as SharedArrayBuffer,
    };
    for (let j = 1; j <= nWorkers; j++) {
      const job = j;
      const w = new Worker(script, { workerData: init });
      workers.push(w);
      exited.push(new Promise((r) => w.once("exit", () => r())));
      w.on("message", (m: FromWorker) => {
        if (failure !== null) return;
        try {
          switch (m.type) {
            case "chunk":
              opts.progress.addEvents(m.events, m.fraction, job);
              break;
            case "discard":
              opts.progress.discardEvents(m.events, job);
              break;
            case "log":
              opts.say(m.message);
              break;
            case "done":
              deliver(m.index, job, { part: m.part ? partFromData(m.part) : null, failure: m.failure });
              break;
            case "fatal":
              fail(m.user ? new UserError(m.message) : new Error(m.message));
              break;
          }
        } catch (err) {
          fail(err as Error);
        }
      });
      w.on("error", (err) => fail(err));
      running++;
      w.on("exit", (code) => {
        running--;
        if (code !== 0 && nextToFold < work.length) fail(new Error(`--jobs: a worker exited with code ${code}`));
        else checkLost();
      });
    }
  }

  // this thread is job 0: it takes files from the same counter as the workers
  const hooks: FileHooks = {
    onChunk: (n, f) => opts.progress.addEvents(n, f, 0),
    discard: (n) => opts.progress.discardEvents(n, 0),
    say: opts.say,
  };
  running++;
  for (;;) {
    if (failure !== null) break;
    const i = Atomics.add(next, 0, 1);
    if (i >= work.length) break;
    let outcome: FileOutcome;
    try {
      outcome = await opts.processHere(work[i], hooks);
    } catch (err) {
      fail(err as Error);
      break;
    }
    try {
      deliver(i, 0, outcome);
    } catch (err) {
      fail(err as Error);
      break;
    }
  }
  running--;
  checkLost();
  try {
    await finished;
  } finally {
    // every file is done, so the workers end by themselves (a worker still loading the analysis
    // exits once loaded: it finds nothing left). A .ts module is awaited, not terminated: a worker
    // stopped while loading it would leave its transpiled copy beside the module
    if (failure !== null || !/\.m?ts$/i.test(opts.modulePath)) await Promise.all(workers.map((w) => w.terminate()));
    else await Promise.all(exited);
  }
  return { workers: workers.length, jobOfFile };
}
