/**
 * `fit --start-from FILE`: the parameter values of an earlier fit of the same model (its
 * fitresults.json) as the minimiser's starting point, so that a re-run with other error options
 * (--no-hessian, --impacts, …) costs one convergence check instead of a whole minimisation. The file
 * must name exactly the model's parameters: a different model is an error, never a partial start.
 */
import { readFileSync } from "node:fs";
import { UserError } from "../errors.js";

export function readStartValues(file: string, names: readonly string[]): Map<string, number> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new UserError(`--start-from ${file}: not a readable JSON file (${(e as Error).message})`);
  }
  const params = (json as { parameters?: unknown }).parameters;
  if (!Array.isArray(params)) throw new UserError(`--start-from ${file}: no "parameters" list (expected a fitresults.json)`);
  const values = new Map<string, number>();
  for (const p of params as { name?: unknown; value?: unknown }[]) {
    if (typeof p?.name !== "string") throw new UserError(`--start-from ${file}: a parameter entry has no name`);
    if (typeof p.value !== "number" || !Number.isFinite(p.value)) throw new UserError(`--start-from ${file}: parameter ${p.name} has no finite value`);
    if (values.has(p.name)) throw new UserError(`--start-from ${file}: parameter ${p.name} appears twice`);
    values.set(p.name, p.value);
  }
  const known = new Set(names);
  const missing = names.filter((n) => !values.has(n));
  const extra = [...values.keys()].filter((n) => !known.has(n));
  if (missing.length > 0 || extra.length > 0) {
    const list = (xs: string[]): string => `${xs.slice(0, 3).join(", ")}${xs.length > 3 ? ` (+${xs.length - 3} more)` : ""}`;
    const parts = [missing.length > 0 ? `no value for ${list(missing)}` : "", extra.length > 0 ? `parameters not in the input: ${list(extra)}` : ""].filter(Boolean);
    throw new UserError(`--start-from ${file}: not a fit of this model: ${parts.join("; ")}`);
  }
  return values;
}
