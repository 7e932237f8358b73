/**
 * Selects and initialises the TensorFlow.js backend the likelihood runs on.
 *
 *   cpu        — @tensorflow/tfjs-backend-cpu (plain JS, always available)
 *   wasm       — @tensorflow/tfjs-backend-wasm (SIMD, optionally multi-threaded)
 *   webgpu     — @tensorflow/tfjs-backend-webgpu; in Node it needs a navigator.gpu implementation
 *                (the optional `webgpu` npm package, Dawn bindings, is used when installed) and a
 *                Vulkan driver; without a GPU Mesa's lavapipe (mesa-vulkan-drivers ≥ 25) runs it on
 *                the CPU, and BackendInfo.device then says "cpu"
 *   tensorflow — @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node, when the user installed one
 *
 * Every backend computes in float32.
 */
import { createRequire } from "node:module";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { UserError } from "../src/errors.js";

export type BackendName = "cpu" | "wasm" | "webgpu" | "tensorflow";

export const BACKEND_NAMES: readonly BackendName[] = ["cpu", "wasm", "webgpu", "tensorflow"];

export interface BackendInfo {
  name: BackendName;
  device: "cpu" | "gpu";
  precision: "float32";
}

export interface BackendOptions {
  /**
   * wasm only: number of worker threads. tfjs disables wasm threads in Node (tfjs issue #3830),
   * so there this has no effect; see wasmThreadsInUse().
   */
  threads?: number;
}

const require = createRequire(import.meta.url);

/** Imports a module that may be absent; returns null when it cannot be resolved. */
async function importOptional(specifier: string): Promise<Record<string, unknown> | null> {
  try {
    return (await import(specifier)) as Record<string, unknown>;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") return null;
    throw err;
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** tfjs prints a "Hi there, install tfjs-node" banner and other debug chatter unless in prod mode. */
export function silenceTfjs(): void {
  tf.env().set("PROD", true);
}

async function activate(name: string): Promise<void> {
  const ok = await tf.setBackend(name);
  if (!ok) throw new UserError(`backend ${name}: initialisation failed`);
  await tf.ready();
}

let wasmRegistered = false;

async function initWasm(opts: BackendOptions): Promise<void> {
  const wasm = await import("@tensorflow/tfjs-backend-wasm");
  if (!wasmRegistered) {
    const dist = path.join(path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm/package.json")), "dist") + path.sep;
    wasm.setWasmPaths(dist);
    wasmRegistered = true;
  }
  if (opts.threads !== undefined) {
    if (!Number.isInteger(opts.threads) || opts.threads < 1) {
      throw new UserError(`backend wasm: --threads must be a positive integer, got ${opts.threads}`);
    }
    // must precede the first initialisation of the backend; a later call has no effect
    wasm.setThreadsCount(opts.threads);
  }
  await activate("wasm");
}

/** The parts of a WebGPU adapter looked at here (navigator.gpu may come from Dawn, not lib.dom). */
interface GpuAdapterLike {
  info?: { vendor?: string; architecture?: string; description?: string; isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
}
interface GpuLike {
  requestAdapter(opts?: { powerPreference?: string }): Promise<GpuAdapterLike | null>;
}

/** Installs navigator.gpu from the optional `webgpu` package (Dawn) when Node has none. */
async function provideNavigatorGpu(): Promise<GpuLike> {
  const nav = (globalThis as { navigator?: { gpu?: unknown } }).navigator;
  if (nav?.gpu) return nav.gpu as GpuLike;
  // Node has no WebGPU of its own; the `webgpu` package (Dawn) provides one if installed
  let dawn: Record<string, unknown> | null;
  try {
    dawn = await importOptional("webgpu");
  } catch (err) {
    throw new UserError(`backend webgpu: no WebGPU adapter available (the webgpu package failed to load: ${errorText(err)})`);
  }
  if (!dawn || typeof dawn.create !== "function") {
    throw new UserError(
      "backend webgpu: no WebGPU adapter available (Node has no navigator.gpu; install the `webgpu` npm package or use --backend wasm/cpu/tensorflow)",
    );
  }
  let gpu: GpuLike;
  try {
    Object.assign(globalThis, (dawn.globals ?? {}) as Record<string, unknown>);
    gpu = (dawn.create as (flags: string[]) => GpuLike)([]);
  } catch (err) {
    throw new UserError(`backend webgpu: no WebGPU adapter available (webgpu package failed: ${errorText(err)})`);
  }
  // Node ≥ 21 has a read-only navigator without gpu: define the property rather than assign
  if (nav) Object.defineProperty(nav, "gpu", { value: gpu, configurable: true });
  else Object.defineProperty(globalThis, "navigator", { value: { gpu }, configurable: true, writable: true });
  return gpu;
}

/**
 * Where a WebGPU adapter computes: software rasterisers (Mesa lavapipe/llvmpipe, SwiftShader) and
 * fallback adapters run on the CPU.
 */
function adapterDevice(adapter: GpuAdapterLike): "cpu" | "gpu" {
  const info = adapter.info ?? {};
  if (adapter.isFallbackAdapter === true || info.isFallbackAdapter === true) return "cpu";
  const text = `${info.architecture ?? ""} ${info.description ?? ""} ${info.vendor ?? ""}`.toLowerCase();
  return /software|llvmpipe|lavapipe|swiftshader/.test(text) ? "cpu" : "gpu";
}

async function initWebGpu(): Promise<"cpu" | "gpu"> {
  const gpu = await provideNavigatorGpu();
  // ask for the adapter tfjs will get (same power preference) so that a missing one gets a clear message
  let adapter: GpuAdapterLike | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  } catch (err) {
    throw new UserError(`backend webgpu: no WebGPU adapter available (requestAdapter failed: ${errorText(err)})`);
  }
  if (!adapter) {
    throw new UserError(
      "backend webgpu: no WebGPU adapter available (requestAdapter found none: no usable Vulkan driver; without a GPU install Mesa lavapipe, mesa-vulkan-drivers ≥ 25, e.g. from bookworm-backports)",
    );
  }
  await import("@tensorflow/tfjs-backend-webgpu");
  let ok = false;
  try {
    ok = await tf.setBackend("webgpu");
    if (ok) await tf.ready();
  } catch (err) {
    throw new UserError(`backend webgpu: no WebGPU adapter available (${errorText(err)})`);
  }
  if (!ok) throw new UserError("backend webgpu: initialisation failed (tfjs could not create a device on the adapter)");
  return adapterDevice(adapter);
}

async function initTensorflow(): Promise<"cpu" | "gpu"> {
  for (const [pkg, device] of [
    ["@tensorflow/tfjs-node-gpu", "gpu"],
    ["@tensorflow/tfjs-node", "cpu"],
  ] as const) {
    let mod: Record<string, unknown> | null;
    try {
      mod = await importOptional(pkg);
    } catch (err) {
      throw new UserError(`backend tensorflow: ${pkg} is installed but failed to load (${errorText(err)})`);
    }
    if (mod) {
      await activate("tensorflow");
      return device;
    }
  }
  throw new UserError(
    "backend tensorflow: neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node is installed; run `npm install @tensorflow/tfjs-node-gpu` (or @tensorflow/tfjs-node for CPU)",
  );
}

/** Makes `name` the active tfjs backend and says what it runs on. */
export async function initBackend(name: BackendName, opts: BackendOptions = {}): Promise<BackendInfo> {
  silenceTfjs();
  switch (name) {
    case "cpu":
      await activate("cpu");
      return { name, device: "cpu", precision: "float32" };
    case "wasm":
      await initWasm(opts);
      return { name, device: "cpu", precision: "float32" };
    case "webgpu":
      return { name, device: await initWebGpu(), precision: "float32" };
    case "tensorflow":
      return { name, device: await initTensorflow(), precision: "float32" };
    default:
      throw new UserError(`--backend: unknown backend "${String(name)}" (choose one of ${BACKEND_NAMES.join(", ")})`);
  }
}

/** Threads the wasm backend actually uses (1 when it runs single-threaded or is not initialised). */
export async function wasmThreadsInUse(): Promise<number> {
  const wasm = await import("@tensorflow/tfjs-backend-wasm");
  return wasm.getThreadsCount();
}
