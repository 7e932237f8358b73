/**
 * A `histmaker run --jobs N` worker thread: loads the analysis module, then takes files from the
 * counter it shares with the main thread and the other workers until none is left, posting progress,
 * retry messages and each file's result.
 */
import { parentPort, workerData } from "node:worker_threads";
import { AnalysisError, validateAnalysis } from "./analysis.js";
import { UserError } from "../errors.js";
import { loadAnalysisCorrections } from "./correctionlib/analysisCorrections.js";
import { loadUserModule } from "./loadModule.js";
import { loadCertifications, processWithRetries, type FileProcessor } from "./runner.js";
import { partToData, partTransferList, type FromWorker, type WorkerInit } from "./runWorkers.js";

const port = parentPort;
if (port === null) throw new Error("runWorker.js runs only as a worker thread");
const init = workerData as WorkerInit;
const next = new Int32Array(init.next);
const post = (m: FromWorker) => port.postMessage(m);

async function main(): Promise<void> {
  // the main thread may have taken every file while this worker started: then nothing to load
  if (Atomics.load(next, 0) >= init.work.length) return;
  const def = validateAnalysis(await loadUserModule(init.modulePath), init.modulePath);
  const fp: FileProcessor = {
    def,
    certs: loadCertifications(def, init.baseDir),
    threads: init.threads,
    retries: init.retries,
    corrections: loadAnalysisCorrections(def.corrections, init.baseDir),
  };
  const byName = new Map(def.datasets.map((d) => [d.name, d]));
  for (;;) {
    const index = Atomics.add(next, 0, 1);
    if (index >= init.work.length) return;
    const item = init.work[index];
    const dataset = byName.get(item.dataset);
    if (!dataset) throw new Error(`worker: dataset "${item.dataset}" is not in ${init.modulePath}`);
    const o = await processWithRetries(fp, { dataset, file: item.file }, {
      onChunk: (events, fraction) => post({ type: "chunk", events, fraction }),
      discard: (events) => post({ type: "discard", events }),
      say: (message) => post({ type: "log", message }),
    });
    const part = o.part ? partToData(o.part) : null;
    // the histogram arrays are fresh copies: moved to the main thread, not cloned
    port!.postMessage({ type: "done", index, part, failure: o.failure } satisfies FromWorker, part ? partTransferList(part) : []);
  }
}

function fatal(err: unknown): void {
  const user = err instanceof AnalysisError || err instanceof UserError;
  post({ type: "fatal", message: err instanceof Error ? (user ? err.message : (err.stack ?? err.message)) : String(err), user });
}

main().catch(fatal);
