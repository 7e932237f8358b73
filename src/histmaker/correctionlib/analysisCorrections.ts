/**
 * The `corrections` of an analysis module: name → CorrectionSet file, loaded once per run and handed
 * to column, selection and weight functions as `ctx.corrections[name]`.
 */
import path from "node:path";
import { CorrectionError } from "./errors.js";
import { loadCorrectionSet } from "./correctionSet.js";
import type { CorrectionSet } from "./correctionSet.js";

/**
 * Loads every file of an analysis' `corrections` (relative paths against `baseDir`, the module's
 * directory). Errors name the analysis key and the file.
 */
export function loadAnalysisCorrections(spec: Readonly<Record<string, string>> | undefined, baseDir?: string): Record<string, CorrectionSet> {
  const out: Record<string, CorrectionSet> = {};
  if (spec === undefined) return out;
  if (spec === null || typeof spec !== "object" || Array.isArray(spec))
    throw new CorrectionError("analysis `corrections` must be an object of name → CorrectionSet file");
  for (const [name, file] of Object.entries(spec)) {
    if (typeof file !== "string" || file === "")
      throw new CorrectionError(`analysis corrections.${name}: expected the path of a CorrectionSet file, got ${JSON.stringify(file)}`);
    const abs = baseDir !== undefined && !path.isAbsolute(file) ? path.resolve(baseDir, file) : file;
    try {
      out[name] = loadCorrectionSet(abs);
    } catch (err) {
      if (err instanceof CorrectionError) throw new CorrectionError(`analysis corrections.${name}: ${err.message}`);
      throw err;
    }
  }
  return out;
}
