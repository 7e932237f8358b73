/**
 * h5wasm set-up for Node and small typed helpers around it.
 *
 * h5wasm's Node build reads and writes real paths directly (NODERAWFS). Compression plugins
 * (Blosc2 = filter 32026, used by current rabbit files) come from h5wasm-plugins, whose folder is
 * put first on the HDF5 plugin search path; HDF5 dlopens a plugin the first time a filter is used.
 */
import h5wasm from "h5wasm/node";
import type { Dataset, Group, File as H5File } from "h5wasm/node";
import path from "node:path";

export type { Dataset, Group, H5File };

/** HDF5 filter id of Blosc2 (hdf5plugin / rabbit). */
export const BLOSC2_FILTER_ID = 32026;
/**
 * Blosc2 filter parameters: cd_values[4..6] = compression level 5, byte shuffle on, codec 1 = LZ4
 * (the first four are filled in by the filter itself).
 */
export const BLOSC2_LZ4_OPTS = [0, 0, 0, 0, 5, 1, 1];

type H5Module = Awaited<typeof h5wasm.ready>;

let readyModule: Promise<H5Module> | null = null;

interface PluginHelpers {
  install_local_plugins(module: H5Module): void;
}

/** Initialises h5wasm once per process (plugins on the search path, HDF5 errors thrown, not printed). */
export function h5Ready(): Promise<H5Module> {
  if (readyModule === null) {
    readyModule = (async () => {
      const module = await h5wasm.ready;
      // The plugins package ships no type declarations; a variable specifier keeps tsc from looking.
      const pluginsSpecifier = "h5wasm-plugins";
      const plugins = (await import(pluginsSpecifier)) as PluginHelpers;
      plugins.install_local_plugins(module);
      module.activate_throwing_error_handler();
      return module;
    })();
  }
  return readyModule;
}

/** h5wasm's classes (File, Dataset, ...); only valid after h5Ready() resolved. */
export const H5 = h5wasm;

/** Absolute path, as the wasm file system resolves relative paths against its own cwd. */
export function absPath(file: string): string {
  return path.resolve(file);
}

/** One line from an h5wasm/HDF5 error: the innermost reason of HDF5's error stack, if there is one. */
export function h5ErrorLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  // Stack lines look like "#006: .../H5Fsuper.c line 593 in H5F__super_read(): truncated file: eof = 100"
  const reasons = [...text.matchAll(/#\d+: .* in [\w:]+\(\): (.*)$/gm)].map((m) => m[1].trim());
  if (reasons.length > 0) return reasons[reasons.length - 1];
  const first = text.split("\n").map((l) => l.trim()).find((l) => l.length > 0);
  return first ?? "unknown error";
}

export function isDataset(entity: unknown): entity is Dataset {
  return entity instanceof h5wasm.Dataset;
}

export function isGroup(entity: unknown): entity is Group {
  return entity instanceof h5wasm.Group;
}

/** Number of elements of a shape. */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
