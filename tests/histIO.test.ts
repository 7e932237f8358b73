import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { UserError } from "../src/errors.js";
import { boolean, categoryInt, categoryStr, integer, regular, variable } from "../src/histmaker/axes.js";
import { Hist } from "../src/histmaker/Hist.js";
import { loadHists, saveHists } from "../src/histmaker/histIO.js";
import { rng } from "./helpers/random.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "histio-"));
const PY = "/usr/bin/python3";
const h5pyMissing = !existsSync(PY) || spawnSync(PY, ["-c", "import h5py, numpy"], { encoding: "utf8" }).status !== 0;
if (h5pyMissing) console.log(`skipping the h5py check: ${PY} with h5py and numpy is not available`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));


function sampleHists(): Record<string, Hist> {
  const r = rng(9);
  const n = 2000;
  const pt = Float64Array.from({ length: n }, () => 20 + 40 * r());
  const eta = Float64Array.from({ length: n }, () => 5 * r() - 2.5);
  const q = Int32Array.from({ length: n }, () => (r() < 0.5 ? -1 : 1));
  const iso = Uint8Array.from({ length: n }, () => (r() < 0.7 ? 1 : 0));
  const nj = Int32Array.from({ length: n }, () => Math.floor(r() * 6));
  const ch = Array.from({ length: n }, () => (r() < 0.5 ? "mu" : r() < 0.5 ? "e" : "tau"));
  const w = Float64Array.from({ length: n }, () => r() * 2 - 0.2);
  const K = 3;
  const tw = Float64Array.from({ length: n * K }, () => 0.8 + 0.4 * r());

  const weighted = new Hist(
    [regular(8, 20, 60, { name: "pt", label: "p_T [GeV]" }), variable([-2.4, -1.2, 0, 1.2, 2.4], { name: "eta", underflow: false }), categoryInt([-1, 1], { name: "q" })],
    { storage: "weighted" },
  );
  weighted.fillSync({ pt, eta, q }, { weight: w });
  const tensor = new Hist([boolean({ name: "iso" }), categoryStr(["mu", "e"], { name: "ch", growth: true })], {
    storage: "double",
    tensor: { name: "syst", size: K, labels: ["nominal", "up", "down"] },
  });
  tensor.fillSync({ iso, ch }, { tensorWeights: tw });
  const counts = new Hist([integer(0, 4, { name: "nj", overflow: true, underflow: false })], { storage: "count" });
  counts.fillSync({ nj });
  return { weighted, tensor, counts };
}

describe("saveHists / loadHists", () => {
  it("round-trips values, variances, axes, storage and tensor axis", async () => {
    const hists = sampleHists();
    const file = path.join(dir, "round.hdf5");
    await saveHists(file, hists);
    expect(readdirSync(dir).filter((f) => f.includes(".tmp-"))).toEqual([]);
    const back = await loadHists(file);
    expect(Object.keys(back).sort()).toEqual(Object.keys(hists).sort());
    for (const [name, h] of Object.entries(hists)) {
      const b = back[name];
      expect(b.toJSON()).toEqual(h.toJSON());
      expect(b.flowShape).toEqual(h.flowShape);
      expect(Array.from(b.values({ flow: true }))).toEqual(Array.from(h.values({ flow: true })));
      expect(Array.from(b.variances({ flow: true }))).toEqual(Array.from(h.variances({ flow: true })));
    }
    // the loaded histogram is live: it can be filled further with the grown string axis
    back.tensor.fillSync({ iso: [1], ch: ["new"] }, { tensorWeights: new Float64Array([1, 2, 3]) });
    const chAxis = back.tensor.axes[1];
    expect(chAxis.type === "category_str" && chAxis.categories).toEqual(["mu", "e", "tau", "new"]);
  });

  it.skipIf(h5pyMissing)("is readable with h5py: shapes, values and meta_json", async () => {
    const py = PY;
    const hists = sampleHists();
    const file = path.join(dir, "py.hdf5");
    await saveHists(file, hists, { gzip: 4 });
    const script = `
import h5py, json, sys
out = {}
with h5py.File(sys.argv[1], "r") as f:
    for name in f:
        g = f[name]
        meta = json.loads(g.attrs["meta_json"])
        out[name] = {"shape": list(g["values"].shape), "values": g["values"][...].ravel().tolist(),
                     "variances": g["variances"][...].ravel().tolist() if "variances" in g else None,
                     "dtype": str(g["values"].dtype), "meta": meta}
print(json.dumps(out))
`;
    const res = spawnSync(py, ["-c", script, file], { encoding: "utf8" });
    expect(res.stderr).toBe("");
    const got = JSON.parse(res.stdout) as Record<
      string,
      { shape: number[]; values: number[]; variances: number[] | null; dtype: string; meta: { storage: string; axes: { name: string; type: string; edges?: number[] }[]; tensor: { labels?: string[] } | null } }
    >;
    for (const [name, h] of Object.entries(hists)) {
      const g = got[name];
      expect(g.dtype).toBe("float64");
      expect(g.shape).toEqual(h.flowShape);
      expect(g.values).toEqual(Array.from(h.values({ flow: true })));
      if (h.storage === "weighted") expect(g.variances).toEqual(Array.from(h.variances({ flow: true })));
      else expect(g.variances).toBeNull();
      expect(g.meta.storage).toBe(h.storage);
      expect(g.meta.axes.map((a) => a.name)).toEqual(h.axes.map((a) => a.name));
    }
    expect(got.weighted.meta.axes[0].edges).toEqual([20, 25, 30, 35, 40, 45, 50, 55, 60]);
    expect(got.tensor.meta.tensor?.labels).toEqual(["nominal", "up", "down"]);
  });

  it("writes gzip-compressed chunked datasets that read back identically", async () => {
    const h = new Hist([regular(200, 0, 1, { name: "x" }), integer(0, 10, { name: "y" })], { storage: "weighted", tensor: { name: "t", size: 100 } });
    const r = rng(3);
    const n = 500;
    h.fillSync({ x: Float64Array.from({ length: n }, r), y: Int32Array.from({ length: n }, () => Math.floor(r() * 10)) }, { tensorWeights: Float64Array.from({ length: n * 100 }, r) });
    const plain = path.join(dir, "plain.hdf5");
    const packed = path.join(dir, "packed.hdf5");
    await saveHists(plain, { h });
    await saveHists(packed, { h }, { gzip: 6 });
    expect(statSync(packed).size).toBeLessThan(statSync(plain).size / 2);
    const back = (await loadHists(packed)).h;
    expect(Array.from(back.values({ flow: true }))).toEqual(Array.from(h.values({ flow: true })));
    expect(Array.from(back.variances({ flow: true }))).toEqual(Array.from(h.variances({ flow: true })));
    await expect(saveHists(packed, { h }, { gzip: 12 })).rejects.toThrow(UserError);
  });

  it("reports unreadable files and bad names as one-line UserErrors", async () => {
    const bogus = path.join(dir, "bogus.hdf5");
    writeFileSync(bogus, "not hdf5 at all");
    await expect(loadHists(bogus)).rejects.toThrow(UserError);
    await expect(loadHists(path.join(dir, "missing.hdf5"))).rejects.toThrow(/no such file/);
    await expect(saveHists(path.join(dir, "bad.hdf5"), { "a/b": sampleHists().counts })).rejects.toThrow(UserError);
    expect(existsSync(path.join(dir, "bad.hdf5"))).toBe(false);
  });

  it("replaces an existing file atomically", async () => {
    const file = path.join(dir, "replace.hdf5");
    const hists = sampleHists();
    await saveHists(file, { counts: hists.counts });
    await saveHists(file, { weighted: hists.weighted });
    const back = await loadHists(file);
    expect(Object.keys(back)).toEqual(["weighted"]);
    expect(readdirSync(dir).filter((f) => f.includes(".tmp-"))).toEqual([]);
  });
});
