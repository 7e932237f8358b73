/**
 * Runs the tasks of a job (tasks.ts) in-process (one worker) or on node:worker_threads, each
 * worker with its own engine (the native evaluator's threads inside). Tasks are handed out one at
 * a time to whichever worker is free; a task's result depends only on the task, never on the
 * worker that ran it (toys draw from a stream of (seed, toy index)).
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { UserError } from "../../src/errors.js";
import type { TensorModel } from "../../src/tensor/types.js";
import { createTaskRunner, type Job } from "./tasks.js";

export interface PoolOptions {
  workers: number;
  /** the loaded model, used in-process when workers = 1 */
  model: TensorModel;
  /** worker script (default: the compiled toyWorker.js beside this module, or $HEPFIT_TOY_WORKER) */
  workerScript?: string;
  /** called once per finished task, one call at a time, in completion order */
  onResult: (id: number, record: Float64Array) => void | Promise<void>;
  /** once aborted no new task starts; running ones finish and are reported */
  signal?: AbortSignal;
}

/** The compiled worker entry; from the TypeScript sources (tests) it must be given. */
export function defaultWorkerScript(): string {
  const env = process.env.HEPFIT_TOY_WORKER;
  if (env) return env;
  const sibling = fileURLToPath(new URL("./toyWorker.js", import.meta.url));
  if (existsSync(sibling)) return sibling;
  throw new UserError("--workers: the compiled worker (toyWorker.js) is missing; run `npm run build` or use --workers 1");
}

type WorkerMessage =
  | { type: "ready" }
  | { type: "result"; id: number; record: Float64Array }
  | { type: "error"; id: number; message: string };

export async function runTasks(job: Job, ids: readonly number[], opts: PoolOptions): Promise<void> {
  if (ids.length === 0) return;
  const nworkers = Math.max(1, Math.min(opts.workers, ids.length));
  if (nworkers === 1) {
    const runner = createTaskRunner(opts.model, job);
    try {
      for (const id of ids) {
        if (opts.signal?.aborted) break;
        await opts.onResult(id, await runner.run(id));
      }
    } finally {
      runner.dispose();
    }
    return;
  }
  const script = opts.workerScript ?? defaultWorkerScript();
  const queue = [...ids];
  const workers: Worker[] = [];
  let chain: Promise<void> = Promise.resolve();
  await new Promise<void>((resolve, reject) => {
    let running = 0;
    let failed = false;
    const fail = (err: Error): void => {
      if (failed) return;
      failed = true;
      for (const w of workers) void w.terminate();
      reject(err);
    };
    const finishIfDone = (): void => {
      if (running === 0 && (queue.length === 0 || opts.signal?.aborted)) resolve();
    };
    const feed = (w: Worker): void => {
      const id = opts.signal?.aborted ? undefined : queue.shift();
      if (id === undefined) {
        w.postMessage({ type: "stop" });
        return;
      }
      running++;
      w.postMessage({ type: "task", id });
    };
    for (let k = 0; k < nworkers; k++) {
      const w = new Worker(script, { workerData: job });
      workers.push(w);
      w.on("message", (msg: WorkerMessage) => {
        if (failed) return;
        if (msg.type === "ready") return feed(w);
        if (msg.type === "error") return fail(new Error(`worker ${k}${msg.id >= 0 ? `, task ${msg.id}` : ""}: ${msg.message}`));
        feed(w);
        chain = chain
          .then(() => opts.onResult(msg.id, msg.record))
          .then(() => {
            running--;
            finishIfDone();
          })
          .catch((err: unknown) => fail(err instanceof Error ? err : new Error(String(err))));
      });
      w.on("error", (err) => fail(err));
      w.on("exit", (code) => {
        if (code !== 0 && !failed && running > 0) fail(new Error(`worker ${k} exited with code ${code}`));
      });
    }
  });
  await chain;
  await Promise.all(workers.map((w) => w.terminate()));
}
