/**
 * A `histmaker run --jobs N` worker thread: loads the analysis module, then processes the files the
 * main thread hands it one at a time, posting progress, retry messages and each file's result.
 */
import { parentPort, workerData } from "node:worker_threads";
import { AnalysisError, validateAnalysis } from "./analysis.js";
import { UserError } from "../errors.js";
import { loadAnalysisCorrections } from "./correctionlib/analysisCorrections.js";
import { loadUserModule } from "./loadModule.js";
import { loadCertifications, processWithRetries, type FileProcessor } from "./runner.js";
import { partToData, partTransferList, type FromWorker, type ToWorker, type WorkerInit } from "./runWorkers.js";

const port = parentPort;
if (port === null) throw new Error("runWorker.js runs only as a worker thread");
const init = workerData as WorkerInit;
const post = (m: FromWorker) => port.postMessage(m);

async function main(): Promise<void> {
  const def = validateAnalysis(await loadUserModule(init.modulePath), init.modulePath);
  const fp: FileProcessor = {
    def,
    certs: loadCertifications(def, init.baseDir),
    threads: init.threads,
    retries: init.retries,
    corrections: loadAnalysisCorrections(def.corrections, init.baseDir),
  };
  const byName = new Map(def.datasets.map((d) => [d.name, d]));
  // the main thread keeps up to two files queued here (the next one is waiting when a file ends, not
  // a message round trip away); they are processed one after the other
  const queue: Extract<ToWorker, { type: "file" }>[] = [];
  let busy = false;
  let stopping = false;
  const next = (): void => {
    if (busy) return;
    const m = queue.shift();
    if (m === undefined) {
      if (stopping) port!.close();
      return;
    }
    const dataset = byName.get(m.dataset);
    if (!dataset) {
      post({ type: "fatal", message: `worker: dataset "${m.dataset}" is not in ${init.modulePath}`, user: false });
      return;
    }
    busy = true;
    processWithRetries(fp, { dataset, file: m.file }, {
      onChunk: (events, fraction) => post({ type: "chunk", events, fraction }),
      discard: (events) => post({ type: "discard", events }),
      say: (message) => post({ type: "log", message }),
    }).then(
      (o) => {
        const part = o.part ? partToData(o.part) : null;
        // the histogram arrays are fresh copies: moved to the main thread, not cloned
        port!.postMessage({ type: "done", index: m.index, part, failure: o.failure } satisfies FromWorker, part ? partTransferList(part) : []);
        busy = false;
        next();
      },
      (err: unknown) => fatal(err),
    );
  };
  port!.on("message", (m: ToWorker) => {
    if (m.type === "stop") stopping = true;
    else queue.push(m);
    next();
  });
  post({ type: "ready" });
}

function fatal(err: unknown): void {
  const user = err instanceof AnalysisError || err instanceof UserError;
  post({ type: "fatal", message: err instanceof Error ? (user ? err.message : (err.stack ?? err.message)) : String(err), user });
}

main().catch(fatal);
