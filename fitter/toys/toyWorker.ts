/**
 * Worker-thread entry of workerPool.ts: reads the tensor file named by the job, builds the engine,
 * then answers {id} messages with {id, record} until told to stop.
 */
import { parentPort, workerData } from "node:worker_threads";
import { readTensor } from "../../src/tensor/TensorReader.js";
import { createTaskRunner, type Job } from "./tasks.js";

type Incoming = { type: "task"; id: number } | { type: "stop" };

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error("toyWorker.ts must run in a worker thread");
  const job = workerData as Job;
  const model = await readTensor(job.input);
  const runner = createTaskRunner(model, job);
  port.on("message", (msg: Incoming) => {
    if (msg.type === "stop") {
      runner.dispose();
      port.close();
      return;
    }
    runner
      .run(msg.id)
      .then((record) => port.postMessage({ type: "result", id: msg.id, record }, [record.buffer as ArrayBuffer]))
      .catch((err: unknown) => port.postMessage({ type: "error", id: msg.id, message: err instanceof Error ? err.message : String(err) }));
  });
  port.postMessage({ type: "ready" });
}

main().catch((err: unknown) => {
  parentPort?.postMessage({ type: "error", id: -1, message: err instanceof Error ? err.message : String(err) });
});
