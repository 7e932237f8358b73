/**
 * Loads the histmaker_native addon (histmaker-native/, built by node-gyp on `npm install`).
 * The path is resolved from this module's own location so the loader works both from src/
 * (vitest) and from dist/src/ (compiled): it walks up to the directory holding histmaker-native/.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { UserError } from "../errors.js";
import type { NumericArray } from "../numericArray.js";

/** Axis description understood by the addon (kinds: 0 regular, 1 variable, 2 integer, 3 boolean, 4 category). */
export interface NativeAxisSpec {
  kind: 0 | 1 | 2 | 3 | 4;
  n: number;
  underflow: boolean;
  overflow: boolean;
  lower?: number;
  upper?: number;
  edges?: Float64Array;
  categories?: Float64Array;
}

/** A column handed to the native fill. */
export type NativeColumn = NumericArray;

export interface NativeHistHandle {
  /** fills on the calling thread (fanning out to `threads` threads that block it) */
  fill(columns: NativeColumn[], weight: Float64Array | null, tensorWeights: Float64Array | null, threads: number): void;
  /** fills on the libuv pool, off the main thread; the typed arrays are kept alive until it resolves */
  fillAsync(columns: NativeColumn[], weight: Float64Array | null, tensorWeights: Float64Array | null, threads: number): Promise<void>;
  cells(): number;
  /** how concurrent fills update the storage: "cas" (per cell) or "bin-lock" (per bin) */
  atomicMode(): "cas" | "bin-lock";
}

export interface HistmakerNative {
  NativeHist: new (
    axes: NativeAxisSpec[],
    tensorSize: number,
    storageKind: 0 | 1 | 2,
    sumw: Float64Array | null,
    sumw2: Float64Array | null,
    count: BigUint64Array | null,
    atomicMode?: 0 | 1 | 2,
  ) => NativeHistHandle;
  hardwareConcurrency: number;
}

let cached: HistmakerNative | null = null;

function addonPath(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, "histmaker-native", "build", "Release", "histmaker_native.node");
    if (existsSync(candidate)) return candidate;
    dir = path.dirname(dir);
  }
  throw new UserError("histmaker-native/build/Release/histmaker_native.node: native addon not built (run `npm install` or `npm run build`)");
}

export function loadHistmakerNative(): HistmakerNative {
  if (cached === null) {
    const require = createRequire(import.meta.url);
    cached = require(addonPath()) as HistmakerNative;
  }
  return cached;
}
