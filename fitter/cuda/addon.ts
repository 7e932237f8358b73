/**
 * Loads the fitter_cuda addon (fitter/cuda/build/Release/fitter_cuda.node, built by g++ alone; the
 * CUDA libraries are dlopen()ed by the addon at run time, see discovery.ts).
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { NativeSpecInput } from "../native/addon.js";
import type { LibraryCandidates } from "./discovery.js";

export interface LibraryAttempt {
  path: string;
  error: string;
}

export interface LibraryReport {
  name: string;
  required: boolean;
  loaded: string | null;
  tried: LibraryAttempt[];
}

/** what probe() found: which libraries loaded from where, and device 0 */
export interface CudaLoadReport {
  ok: boolean;
  libraries: LibraryReport[];
  /** first problem after loading the libraries (a missing symbol, cuInit, no device) */
  error: string | null;
  driverVersion: number;
  nvrtcVersion: string;
  deviceCount: number;
  deviceName: string;
  computeCapability: string;
  totalMemory: number;
}

export interface CudaSpecInput extends Omit<NativeSpecInput, "values" | "norm"> {
  norm: Float64Array | Float32Array;
  /** log κ in float64 or float32 storage (the engine converts to float64 on upload) */
  values: Float64Array | Float32Array;
}

export interface CudaEngineOptions {
  mode: "cuda" | "emulate";
  candidates: LibraryCandidates[];
  source: string;
  header: string;
  cacheDir: string;
}

export interface CudaEngineHandle {
  nll(x: Float64Array): number;
  valueAndGradient(x: Float64Array, gradOut: Float64Array): number;
  hvp(x: Float64Array, v: Float64Array, out: Float64Array, k: number): void;
  hessian(x: Float64Array, out: Float64Array): void;
  yields(x: Float64Array, out: Float64Array): void;
  yieldVariances(x: Float64Array, cov: Float64Array, perRow: Float64Array, perBin: Float64Array): void;
  setData(data: Float64Array): void;
  setTheta0(theta0: Float64Array): void;
  setBeta0(beta0: Float64Array | null): void;
  valueAndGradientBatch(xs: Float64Array, data: Float64Array, k: number, values: Float64Array, grads: Float64Array): void;
  spdInverse(a: Float64Array, n: number, out: Float64Array): number;
  description(): string;
  /** bytes/s (read + written) of device-to-device copies of `bytes`, `reps` times */
  copyBandwidth(bytes: number, reps: number): number;
  kind(): string;
  dispose(): void;
}

export interface FitterCuda {
  probe(candidates: LibraryCandidates[]): CudaLoadReport;
  CudaEngine: new (spec: CudaSpecInput, opts: CudaEngineOptions) => CudaEngineHandle;
}

let cached: FitterCuda | null = null;

/** fitter/cuda above this module (sources under vitest, dist/fitter/cuda when compiled) */
export function cudaPackageDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "fitter", "cuda", "binding.gyp"))) return join(dir, "fitter", "cuda");
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new Error("fitter_cuda addon: cannot find fitter/cuda/binding.gyp above " + fileURLToPath(import.meta.url));
}

export function cudaAddonPath(): string {
  return join(cudaPackageDir(), "build", "Release", "fitter_cuda.node");
}

export function loadFitterCuda(): FitterCuda {
  if (cached) return cached;
  const path = cudaAddonPath();
  if (!existsSync(path)) {
    throw new Error(`fitter_cuda addon not built (${path} missing): run \`node scripts/build-native.mjs\``);
  }
  const require = createRequire(import.meta.url);
  cached = require(path) as FitterCuda;
  return cached;
}
