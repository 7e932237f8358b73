// Content stamps for the lifecycle builds: a build is skipped when the hash of everything it reads
// equals the stamp written after its last successful run. npm runs `prepare` and `install` again
// whenever it links the package (the first `npx fit` in the package root installs the root package
// into npx's cache and runs both), and an unchanged tree must then cost nothing.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";

/** Files under `dir` (recursively) accepted by `keep`, skipping folders named in `skip`. */
export function listFiles(dir, keep, skip = new Set(["node_modules", "build", "dist", ".git"])) {
  const out = [];
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!skip.has(entry.name)) out.push(...listFiles(p, keep, skip));
    } else if (entry.isFile() && keep(p)) out.push(p);
  }
  return out;
}

/** sha256 over the files' paths (relative to `root`) and contents, and extra strings. */
export function hashInputs(root, files, extra = []) {
  const h = createHash("sha256");
  for (const f of [...files].sort()) {
    h.update(relative(root, f)).update("\0").update(readFileSync(f)).update("\0");
  }
  for (const e of extra) h.update(String(e)).update("\0");
  return h.digest("hex");
}

/** Whether `stampFile` holds `hash` and every output exists. */
export function upToDate(stampFile, hash, outputs) {
  try {
    return readFileSync(stampFile, "utf8").trim() === hash && outputs.every((o) => existsSync(o) && statSync(o).size > 0);
  } catch {
    return false;
  }
}

export function writeStamp(stampFile, hash) {
  writeFileSync(stampFile, `${hash}\n`);
}
