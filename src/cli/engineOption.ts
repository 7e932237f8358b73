/**
 * `fit --engine`: which engine computes what. native (default) and cuda are the float64 engines
 * (every reported number); tfjs-<backend> is the native float64 engine after a float32 first stage
 * on that tfjs backend (the same as --backend <backend>). --backend and --gpu keep their meaning.
 */
import { UserError } from "../errors.js";
import { FIT_BACKENDS, type FitBackend } from "../../fitter/fit.js";

export type Float64EngineName = "native" | "cuda";

export const ENGINE_NAMES: readonly string[] = ["native", "cuda", ...FIT_BACKENDS.filter((b) => b !== "native").map((b) => `tfjs-${b}`)];

export interface EngineChoice {
  /** float64 engine */
  float64: Float64EngineName;
  /** float32 first stage ("native" = none), or undefined when --gpu is to pick one */
  backend: FitBackend | undefined;
}

/** --engine with --backend / --gpu → the engines to run; UserError for unknown names and conflicts */
export function resolveEngineOption(engine: string | undefined, backend: string | undefined, gpu: boolean): EngineChoice {
  if (engine === undefined) return { float64: "native", backend: backend as FitBackend | undefined };
  if (!ENGINE_NAMES.includes(engine)) {
    throw new UserError(`--engine: unknown engine "${engine}" (choose one of ${ENGINE_NAMES.join(", ")})`);
  }
  if (engine === "cuda") {
    if (gpu) throw new UserError("--engine cuda conflicts with --gpu (the CUDA engine does the whole fit in float64 on the GPU)");
    if (backend !== undefined && backend !== "native") throw new UserError(`--engine cuda conflicts with --backend ${backend} (no float32 first stage with the CUDA engine)`);
    return { float64: "cuda", backend: "native" };
  }
  const asBackend = (engine === "native" ? "native" : engine.slice("tfjs-".length)) as FitBackend;
  if (backend !== undefined && backend !== asBackend) throw new UserError(`--engine ${engine} conflicts with --backend ${backend}`);
  if (gpu && asBackend !== "webgpu" && asBackend !== "tensorflow") throw new UserError(`--gpu conflicts with --engine ${engine}`);
  return { float64: "native", backend: asBackend };
}
