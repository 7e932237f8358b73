/**
 * Loads a user module (analysis or tensor config) at run time: `.mjs`/`.js` are imported directly;
 * `.ts`/`.mts` are transpiled with the `typescript` package's transpileModule into a temporary
 * `.mjs` beside the source (so its relative imports still resolve), imported, then removed.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { threadId } from "node:worker_threads";
import { UserError } from "../errors.js";
import { registerPackageImports } from "./packageImports.js";

interface TypeScriptLike {
  transpileModule(input: string, opts: { compilerOptions: Record<string, unknown>; fileName?: string }): { outputText: string };
  ModuleKind: { ESNext: number };
  ScriptTarget: { ES2022: number };
}

/** The module's default export (or the namespace when it has none). */
export async function loadUserModule(file: string): Promise<unknown> {
  const abs = path.resolve(file);
  if (!existsSync(abs)) throw new UserError(`${file}: no such file`);
  registerPackageImports(); // `import … from "hepfit/histmaker"` from any folder
  const ext = path.extname(abs).toLowerCase();
  let target = abs;
  let temp: string | null = null;
  if (ext === ".ts" || ext === ".mts") {
    let ts: TypeScriptLike;
    try {
      const mod = (await import("typescript")) as unknown as { default?: TypeScriptLike } & TypeScriptLike;
      ts = mod.default ?? mod;
    } catch {
      throw new UserError(`${file}: loading a .ts module needs the "typescript" package; install it or write the module as .mjs`);
    }
    const out = ts.transpileModule(readFileSync(abs, "utf8"), {
      fileName: abs,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    });
    // the thread id keeps `run --jobs N` workers, which load the module at the same time, apart
    const name = `.${path.basename(abs, ext)}.tmp-${process.pid}-${threadId}-${Date.now()}.mjs`;
    temp = path.join(path.dirname(abs), name);
    try {
      writeFileSync(temp, out.outputText);
    } catch {
      // a read-only folder: the temp dir still works for modules without relative imports
      temp = path.join(tmpdir(), name);
      writeFileSync(temp, out.outputText);
    }
    target = temp;
  } else if (ext !== ".mjs" && ext !== ".js") {
    throw new UserError(`${file}: expected a .ts, .mts, .mjs or .js module`);
  }
  try {
    const ns = (await import(pathToFileURL(target).href)) as { default?: unknown };
    return ns.default ?? ns;
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`${file}: cannot load module (${(err as Error).message.split("\n")[0]})`);
  } finally {
    if (temp !== null) rmSync(temp, { force: true });
  }
}
