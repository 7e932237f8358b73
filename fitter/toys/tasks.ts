/**
 * The jobs that run as many independent refits of one model, in-process or on worker threads:
 * toys (toyTask.ts) and refit impacts (one fit per nuisance and direction). A job is plain data
 * (structured-cloneable) so that a worker can rebuild the same engine from the input file.
 */
import type { TensorModel } from "../../src/tensor/types.js";
import { RefitEngine, type RefitEngineOptions } from "./refitEngine.js";
import { runToy, type ToyTaskConfig } from "./toyTask.js";

export interface ToyJob {
  kind: "toys";
  toys: ToyTaskConfig;
}

export interface ImpactJob {
  kind: "impacts";
  /** best fit (minimiser coordinates): every refit starts there */
  start: Float64Array;
  /** task id → (parameter index, value it is held at) */
  holds: Array<[number, number]>;
  /** parameters whose refit values are reported (POIs and NOIs) */
  targets: number[];
}

export interface Job {
  /** tensor file (workers read it themselves) */
  input: string;
  engine: RefitEngineOptions;
  task: ToyJob | ImpactJob;
}

export type TaskRunner = (id: number) => Promise<Float64Array>;

/** Impact record: [status (0 converged, 1 failed), nll, iterations, hvps, target values (reported units)...] */
export const IMPACT_HEADER_LENGTH = 4;

async function runImpact(engine: RefitEngine, job: ImpactJob, id: number): Promise<Float64Array> {
  const [param, value] = job.holds[id];
  const fit = await engine.minimize({ start: job.start, fixed: new Map([[param, value]]) });
  const rec = new Float64Array(IMPACT_HEADER_LENGTH + job.targets.length);
  rec[0] = fit.converged ? 0 : 1;
  rec[1] = fit.nll;
  rec[2] = fit.iterations;
  rec[3] = fit.hvps;
  job.targets.forEach((i, k) => {
    const x = fit.x[i];
    rec[IMPACT_HEADER_LENGTH + k] = i < engine.npoi && engine.poiMode === "square" ? x * x : x;
  });
  return rec;
}

/** Builds the engine for `job` on `model` and returns the function that runs task `id`. */
export function createTaskRunner(model: TensorModel, job: Job): { run: TaskRunner; dispose: () => void } {
  const engine = new RefitEngine(model, job.engine);
  const task = job.task;
  const run: TaskRunner = task.kind === "toys" ? (id) => runToy(engine, task.toys, id) : (id) => runImpact(engine, task, id);
  return { run, dispose: () => engine.dispose() };
}
