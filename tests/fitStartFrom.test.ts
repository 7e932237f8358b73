// fit --start-from: an earlier fit's values as the starting point; wrong files refused in one line.
import { afterAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateModel } from "../src/tensor/modelGenerator.js";
import { writeTensor } from "../src/tensor/TensorWriter.js";
import { main } from "../src/cli/fit.js";
import { runCommand } from "./helpers/cli.js";
import { rel } from "./helpers/relative.js";

const work = mkdtempSync(join(tmpdir(), "startfrom-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("fit --start-from", () => {
  const input = join(work, "m.hdf5");
  const first = join(work, "first");

  it("re-runs from an earlier fit in ≤ 2 iterations with the same results, in both POI modes", async () => {
    await writeTensor(input, generateModel({ bins: 80, procs: 3, systs: 20, sparse: true, bbb: true, seed: 5 }));
    for (const mode of ["linear", "square"]) {
      const a = join(work, `a-${mode}`);
      const b = join(work, `b-${mode}`);
      expect((await runCommand(main, "fit", [input, "-o", a, "--no-html", "--poi-mode", mode])).code).toBe(0);
      const r = await runCommand(main, "fit", [input, "-o", b, "--no-html", "--poi-mode", mode, "--start-from", join(a, "fitresults.json")]);
      expect(r.code).toBe(0);
      const ja = JSON.parse(readFileSync(join(a, "fitresults.json"), "utf8"));
      const jb = JSON.parse(readFileSync(join(b, "fitresults.json"), "utf8"));
      expect(jb.iterations).toBeLessThanOrEqual(2);
      expect(jb.iterations).toBeLessThan(ja.iterations);
      expect(Math.abs(jb.nll - ja.nll)).toBeLessThan(1e-9 * Math.abs(ja.nll));
      for (let i = 0; i < ja.parameters.length; i++) expect(rel(jb.parameters[i].error, ja.parameters[i].error)).toBeLessThan(1e-7);
    }
  }, 120000);

  it("refuses a file of another model, a broken file, and a start file inside the output folder", async () => {
    expect((await runCommand(main, "fit", [input, "-o", first, "--no-html"])).code).toBe(0);
    const good = JSON.parse(readFileSync(join(first, "fitresults.json"), "utf8"));
    const other = join(work, "other.json");
    writeFileSync(other, JSON.stringify({ parameters: good.parameters.slice(1) }));
    const r1 = await runCommand(main, "fit", [input, "-o", join(work, "x1"), "--no-html", "--start-from", other]);
    expect(r1.code).toBe(2);
    expect(r1.stderr).toMatch(/--start-from .*other\.json: not a fit of this model: no value for sig0/);
    const broken = join(work, "broken.json");
    writeFileSync(broken, "{");
    const r2 = await runCommand(main, "fit", [input, "-o", join(work, "x2"), "--no-html", "--start-from", broken]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/--start-from .*broken\.json: not a readable JSON file/);
    const nan = join(work, "nan.json");
    writeFileSync(nan, JSON.stringify({ parameters: [{ name: "sig0", value: null }] }));
    expect((await runCommand(main, "fit", [input, "-o", join(work, "x3"), "--no-html", "--start-from", nan])).stderr).toMatch(/parameter sig0 has no finite value/);
    // the earlier results would be overwritten by this run's: refused, nothing written
    const r4 = await runCommand(main, "fit", [input, "-o", first, "--no-html", "--start-from", join(first, "fitresults.json")]);
    expect(r4.code).toBe(2);
    expect(JSON.parse(readFileSync(join(first, "fitresults.json"), "utf8")).nll).toBe(good.nll);
  }, 120000);
});
