/**
 * `histmaker run --jobs N`: N worker threads, each loading the analysis module itself and processing
 * whole files (with their retries); the main thread hands out files one at a time, aggregates the
 * progress, and passes each file's outcome on in file order, so the sums are the same as with one job.
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

/** Messages between the main thread and a worker. */
export type ToWorker = { type: "file"; index: number; dataset: string; file: string } | { type: "stop" };
export type FromWorker =
  | { type: "ready" }
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

export interface PoolOptions extends WorkerInit {
  progress: Progress;
  say: (m: string) => void;
  /** called once per file, in file order (the progress is told when each file finishes) */
  onOutcome: (index: number, outcome: FileOutcome) => void;
}

/** Processes `work` on `jobs` workers; resolves when every file has an outcome, rejects on a fatal error. */
export async function runInWorkers(work: { dataset: DatasetSpec; file: string }[], jobs: number, opts: PoolOptions): Promise<void> {
  const script = workerScript();
  const init: WorkerInit = { modulePath: opts.modulePath, baseDir: opts.baseDir, threads: opts.threads, retries: opts.retries };
  const pending = new Map<number, FileOutcome>();
  let nextToHand = 0;
  let nextToFold = 0;
  const workers: Worker[] = [];
  await new Promise<void>((resolve, reject) => {
    let failed = false;
    const fail = (err: Error) => {
      if (failed) return;
      failed = true;
      for (const w of workers) void w.terminate();
      reject(err);
    };
    const handOut = (w: Worker) => {
      if (nextToHand >= work.length) {
        w.postMessage({ type: "stop" } satisfies ToWorker);
        return;
      }
      const i = nextToHand++;
      w.postMessage({ type: "file", index: i, dataset: work[i].dataset.name, file: work[i].file } satisfies ToWorker);
    };
    // two files per worker in flight: when one ends the next is already queued in the worker, so it
    // never waits for this thread (which a busy machine may not schedule at once) to hand one out
    const QUEUED = 2;
    for (let j = 0; j < jobs; j++) {
      const slot = j;
      const w = new Worker(script, { workerData: init });
      workers.push(w);
      w.on("message", (m: FromWorker) => {
        if (failed) return;
        try {
          switch (m.type) {
            case "ready":
              for (let q = 0; q < QUEUED; q++) handOut(w);
              break;
            case "chunk":
              opts.progress.addEvents(m.events, m.fraction, slot);
              break;
            case "discard":
              opts.progress.discardEvents(m.events, slot);
              break;
            case "log":
              opts.say(m.message);
              break;
            case "done":
              pending.set(m.index, { part: m.part ? partFromData(m.part) : null, failure: m.failure });
              opts.progress.fileDone(m.failure === null, slot);
              handOut(w);
              while (pending.has(nextToFold)) {
                const o = pending.get(nextToFold)!;
                pending.delete(nextToFold);
                opts.onOutcome(nextToFold++, o);
              }
              if (nextToFold === work.length) resolve();
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
      w.on("exit", (code) => {
        if (code !== 0 && nextToFold < work.length) fail(new Error(`--jobs: a worker exited with code ${code}`));
      });
    }
  });
  await Promise.all(workers.map((w) => w.terminate()));
}
