/**
 * Lets analysis modules anywhere on disk `import … from "hepfit/histmaker"`: a module-resolution
 * hook (node:module register) maps that specifier to this running hepfit's entry, so a module in a
 * physicist's own folder needs no installed or linked copy of the package (and always gets the same
 * code as the runner that loads it). Inside the package the "exports" map already resolves it.
 */
import { existsSync } from "node:fs";
import { register } from "node:module";
import { fileURLToPath } from "node:url";

let registered = false;

/** Registers the hook once; a no-op where the compiled entry is missing (e.g. running from sources). */
export function registerPackageImports(): void {
  if (registered) return;
  registered = true;
  const entry = new URL("./api.js", import.meta.url);
  if (!existsSync(fileURLToPath(entry))) return;
  const hook = `export async function resolve(specifier, context, next) {
  if (specifier === "hepfit/histmaker") return { url: ${JSON.stringify(entry.href)}, shortCircuit: true };
  return next(specifier, context);
}`;
  register(`data:text/javascript,${encodeURIComponent(hook)}`);
}
