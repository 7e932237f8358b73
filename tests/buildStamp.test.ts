/**
 * The lifecycle builds (`prepare`: scripts/build-dist.mjs, `install`: scripts/build-native.mjs, both
 * with --if-changed) skip when the hash of their inputs equals the stamp of the last build, so npm's
 * re-runs (the first `npx fit` in the package root links the package and runs both) rebuild nothing.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { hashInputs, listFiles, upToDate, writeStamp } from "../scripts/buildStamp.mjs";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const work = mkdtempSync(join(tmpdir(), "stamp-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("build stamps", () => {
  it("listFiles finds the wanted files and skips build folders", () => {
    mkdirSync(join(work, "src", "sub"), { recursive: true });
    mkdirSync(join(work, "src", "build"), { recursive: true });
    writeFileSync(join(work, "src", "a.ts"), "export const a = 1;\n");
    writeFileSync(join(work, "src", "sub", "b.ts"), "export const b = 2;\n");
    writeFileSync(join(work, "src", "sub", "notes.md"), "not compiled\n");
    writeFileSync(join(work, "src", "build", "c.ts"), "generated\n");
    const files = (listFiles(join(work, "src"), (p: string) => p.endsWith(".ts")) as string[]).map((p) => p.slice(work.length + 1)).sort();
    expect(files).toEqual(["src/a.ts", "src/sub/b.ts"]);
  });
  it("the hash follows contents, names and the extra strings, not the listing order", () => {
    const a = join(work, "src", "a.ts");
    const b = join(work, "src", "sub", "b.ts");
    const h = hashInputs(work, [a, b], ["5.9.3"]);
    expect(hashInputs(work, [b, a], ["5.9.3"])).toBe(h);
    expect(hashInputs(work, [a, b], ["5.9.4"])).not.toBe(h);
    writeFileSync(b, "export const b = 3;\n");
    expect(hashInputs(work, [a, b], ["5.9.3"])).not.toBe(h);
  });
  it("upToDate needs the same stamp and every output present and non-empty", () => {
    const stamp = join(work, ".build-stamp");
    const out = join(work, "out.js");
    expect(upToDate(stamp, "abc", [out])).toBe(false); // no stamp yet
    writeStamp(stamp, "abc");
    expect(upToDate(stamp, "abc", [out])).toBe(false); // no output
    writeFileSync(out, "");
    expect(upToDate(stamp, "abc", [out])).toBe(false); // empty output
    writeFileSync(out, "x");
    expect(upToDate(stamp, "abc", [out])).toBe(true);
    expect(upToDate(stamp, "abd", [out])).toBe(false); // sources changed
  });
  it.skipIf(!existsSync(join(repo, "dist", ".build-stamp")))("build-dist.mjs --if-changed does nothing on the built tree", () => {
    const before = readFileSync(join(repo, "dist", "src", "cli", "fit.js"));
    const r = spawnSync(process.execPath, [join(repo, "scripts", "build-dist.mjs"), "--if-changed"], { encoding: "utf8" });
    // up to date unless a source was edited since the last build; either way dist/ is then current
    expect(r.status, r.stderr).toBe(0);
    if (r.stdout.includes("up to date")) expect(readFileSync(join(repo, "dist", "src", "cli", "fit.js")).equals(before)).toBe(true);
  });
});
