/**
 * Runs tests/python/postfit_ref.py (independent scipy profiles, MINOS, CLs on ref_fit.py's
 * likelihood) with /usr/bin/python3; `pythonSkip` says why it cannot run (null when it can).
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const python = "/usr/bin/python3";
const script = join(dirname(fileURLToPath(import.meta.url)), "..", "python", "postfit_ref.py");
// ../shared beside the repository (tests/helpers → repo → its parent)
const refFit = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "shared", "reference", "ref_fit.py");

function whySkip(): string | null {
  if (!existsSync(python)) return `${python} not found`;
  if (!existsSync(refFit)) return `${refFit} not found`;
  const r = spawnSync(python, ["-c", "import h5py, scipy, numpy"], { encoding: "utf8" });
  return r.status === 0 ? null : `${python} lacks h5py/scipy/numpy`;
}

export const pythonSkip = whySkip();
if (pythonSkip) console.log(`skipping the scipy reference comparisons: ${pythonSkip}`);

export function postfitRef<T>(request: Record<string, unknown>): T {
  const r = spawnSync(python, [script], { input: JSON.stringify(request), encoding: "utf8", maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`postfit_ref.py failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
