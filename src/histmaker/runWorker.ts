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
import { partToData, type FromWorker, type ToWorker, type WorkerInit } from "./runWorkers.js";

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
  port!.on("message", (m: ToWorker) => {
    if (m.type === "stop") {
      port!.close();
      return;
    }
    const dataset = byName.get(m.dataset);
    if (!dataset) {
      post({ type: "fatal", message: `worker: dataset "${m.dataset}" is not in ${init.modulePath}`, user: false });
      return;
    }
    processWithRetries(fp, { dataset, file: m.file }, {
      onChunk: (events, fraction) => post({ type: "chunk", events, fraction }),
      discard: (events) => post({ type: "discard", events }),
      say: (message) => post({ type: "log", message }),
    }).then(
      (o) => post({ type: "done", index: m.index, part: o.part ? partToData(o.part) : null, failure: o.failure }),
      (err: unknown) => fatal(err),
    );
  });
  post({ type: "ready" });
}

function fatal(err: unknown): void {
  const user = err instanceof AnalysisError || err instanceof UserError;
  post({ type: "fatal", message: err instanceof Error ? (user ? err.message : (err.stack ?? err.message)) : String(err), user });
}

main().catch(fatal);
