/**
 * The toy worker script for tests: worker threads cannot run the TypeScript sources, so the worker
 * entry (fitter/toys/toyWorker.ts) is bundled once per test run with esbuild (vitest's own
 * dependency) into tmp/ in the repository (so the native addon is found by walking up from it).
 */
import { mkdirSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
let built: Promise<string> | null = null;

export function toyWorkerScript(): Promise<string> {
  if (built === null) {
    built = (async () => {
      const esbuild = await import("esbuild");
      const outDir = join(repo, "tmp", `toy-worker-${process.pid}`);
      mkdirSync(outDir, { recursive: true });
      process.on("exit", () => rmSync(outDir, { recursive: true, force: true }));
      const outfile = join(outDir, "toyWorker.mjs");
      await esbuild.build({
        entryPoints: [join(repo, "fitter", "toys", "toyWorker.ts")],
        bundle: true,
        platform: "node",
        format: "esm",
        target: "node20",
        packages: "external",
        outfile,
        logLevel: "error",
      });
      return outfile;
    })();
  }
  return built;
}
