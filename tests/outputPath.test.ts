/**
 * Output paths are checked before any work (src/outputPath.ts): a file where a folder is needed and the
 * reverse, a missing or non-folder parent, a folder that cannot be written, kernel file systems
 * (/proc, /sys, /dev), an output that is one of the inputs (also through symbolic and hard links),
 * two outputs with one name. Each is one line on stderr, exit 2, nothing written, the inputs' bytes
 * unchanged — for fit, fit-gen and histmaker hist/run/merge/tensor. Also: EPIPE on stdout
 * (`fit … | head -1`) ends quietly with the fit's own exit code, and --version on every command.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main as fitMain } from "../src/cli/fit.js";
import { main as fitGenMain } from "../src/cli/fitGen.js";
import { main as histmakerMain } from "../src/cli/histmaker.js";
import { UserError } from "../src/errors.js";
import { writeColumnarEvents } from "../src/histmaker/eventSources.js";
import { checkOutputs, probeWritable, virtualFileSystem } from "../src/outputPath.js";
import { packageVersion } from "../src/packageInfo.js";
import { runCommand } from "./helpers/cli.js";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "..");
const fixture = join(here, "fixtures", "ref_dense.hdf5");
const work = mkdtempSync(join(tmpdir(), "outpath-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const sha = (p: string): string => createHash("sha256").update(readFileSync(p)).digest("hex");
const errorOf = (f: () => void): string => {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(UserError);
    return (err as Error).message;
  }
  throw new Error("no error thrown");
};

/** A plain file, to put outputs "under". */
const aFile = join(work, "afile");
beforeAll(() => writeFileSync(aFile, "not a folder\n"));

describe("checkOutputs", () => {
  it("accepts a new file in an existing folder and a new folder with missing parents, creating nothing", () => {
    checkOutputs([{ path: join(work, "new.hdf5"), kind: "file", label: "-o" }]);
    checkOutputs([{ path: join(work, "a", "b", "c"), kind: "folder", label: "-o", files: ["fitresults.hdf5"] }]);
    expect(existsSync(join(work, "a"))).toBe(false);
    expect(readdirSync(work).filter((n) => n.startsWith(".hepfit-write-probe"))).toEqual([]);
  });
  it("refuses a path under a file", () => {
    expect(errorOf(() => checkOutputs([{ path: join(aFile, "x.hdf5"), kind: "file", label: "-o" }]))).toBe(
      `-o ${join(aFile, "x.hdf5")}: ${aFile} is a file, not a folder`,
    );
    expect(errorOf(() => checkOutputs([{ path: join(aFile, "d", "e"), kind: "folder", label: "-o" }]))).toMatch(/afile is a file, not a folder$/);
  });
  it("refuses a file where a folder is expected and a folder where a file is expected", () => {
    expect(errorOf(() => checkOutputs([{ path: aFile, kind: "folder", label: "-o" }]))).toMatch(/exists and is not a folder$/);
    expect(errorOf(() => checkOutputs([{ path: work, kind: "file", label: "-o" }]))).toMatch(/is a folder; give a file name$/);
    mkdirSync(join(work, "outdir", "fitresults.hdf5"), { recursive: true });
    expect(errorOf(() => checkOutputs([{ path: join(work, "outdir"), kind: "folder", label: "-o", files: ["fitresults.hdf5"] }]))).toMatch(
      /fitresults\.hdf5 exists and is not a regular file$/,
    );
  });
  it("refuses a file in a folder that does not exist", () => {
    expect(errorOf(() => checkOutputs([{ path: join(work, "nodir", "x.hdf5"), kind: "file", label: "-o" }]))).toMatch(/folder .*nodir does not exist$/);
  });
  it.each(["/proc/x", "/proc/self/x", "/sys/x", "/sys/fs/x", "/dev/x", "/dev/null"])("refuses %s (a kernel file system)", (p) => {
    expect(errorOf(() => checkOutputs([{ path: p, kind: "file", label: "-o" }]))).toMatch(/virtual file system.*choose an output on a disk$/);
    expect(errorOf(() => checkOutputs([{ path: p, kind: "folder", label: "-o" }]))).toMatch(/virtual file system/);
  });
  it("virtualFileSystem knows the kernel file systems, not ordinary folders", () => {
    expect(virtualFileSystem("/proc")).not.toBeNull();
    expect(virtualFileSystem("/sys/kernel")).not.toBeNull();
    expect(virtualFileSystem("/dev")).not.toBeNull();
    expect(virtualFileSystem(work)).toBeNull();
    expect(virtualFileSystem("/process")).toBeNull(); // a prefix of the name is not the folder
  });
  it("probeWritable really creates a file: it fails where nothing can be created and leaves nothing behind", () => {
    expect(probeWritable(work)).toBeNull();
    expect(readdirSync(work).filter((n) => n.startsWith(".hepfit-write-probe"))).toEqual([]);
    // as root access(W_OK) says yes almost everywhere; a kernel folder refuses the real creation
    expect(probeWritable("/proc/self")).not.toBeNull();
    expect(probeWritable(join(work, "missing-folder"))).not.toBeNull();
  });
  it("refuses an output that is an input: same path, relative path, symbolic link, hard link", () => {
    const input = join(work, "input.hdf5");
    writeFileSync(input, "input bytes");
    symlinkSync(input, join(work, "link.hdf5"));
    linkSync(input, join(work, "hard.hdf5"));
    const rel = join(work, "a", "..", "input.hdf5");
    for (const out of [input, rel, join(work, "link.hdf5"), join(work, "hard.hdf5")]) {
      expect(errorOf(() => checkOutputs([{ path: out, kind: "file", label: "-o" }], [input]))).toMatch(/the input .*input\.hdf5; choose another output/);
    }
    // the input given through the link, the output by its own name
    expect(errorOf(() => checkOutputs([{ path: input, kind: "file", label: "-o" }], [join(work, "link.hdf5")]))).toMatch(/the input/);
    // a folder output whose result file would replace the input
    const dir = join(work, "fitdir");
    mkdirSync(dir);
    writeFileSync(join(dir, "fitresults.hdf5"), "a tensor named like a result");
    expect(
      errorOf(() => checkOutputs([{ path: dir, kind: "folder", label: "-o", files: ["fitresults.hdf5"] }], [join(dir, "fitresults.hdf5")])),
    ).toMatch(/would replace .*fitresults\.hdf5, which is the input/);
    expect(readFileSync(input, "utf8")).toBe("input bytes");
  });
  it("refuses two outputs with one name", () => {
    const out = join(work, "same.hdf5");
    expect(
      errorOf(() =>
        checkOutputs([
          { path: out, kind: "file", label: "-o" },
          { path: join(work, ".", "same.hdf5"), kind: "file", label: "--cutflow" },
        ]),
      ),
    ).toMatch(/^--cutflow .*: is the same file as -o /);
  });
});

/** One line on stderr, exit 2, nothing on stdout (no work was done). */
function expectOneLineUserError(r: { code: number; stdout: string; stderr: string }, pattern: RegExp): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).toMatch(/^error: /);
  expect(r.stderr.trim().split("\n")).toHaveLength(1);
  expect(r.stderr).toMatch(pattern);
  expect(r.stdout).toBe("");
}

describe("fit and fit-gen check their outputs before any work", () => {
  const cases: [string, string, RegExp][] = [
    ["under a file", join(aFile, "out"), /afile is a file, not a folder/],
    ["a file, not a folder", aFile, /exists and is not a folder/],
    ["/proc/x", "/proc/x", /\/proc is a virtual file system/],
    ["/sys/x", "/sys/x", /\/sys is a virtual file system/],
  ];
  it.each(cases)("fit -o %s: one line, exit 2", async (_label, out, pattern) => {
    const before = sha(fixture);
    expectOneLineUserError(await runCommand(fitMain, "fit", [fixture, "-o", out]), pattern);
    expect(sha(fixture)).toBe(before);
  });
  it("fit -o FOLDER refuses when FOLDER/fitresults.hdf5 is the input", async () => {
    const dir = join(work, "fit-into-input");
    mkdirSync(dir);
    const input = join(dir, "fitresults.hdf5");
    copyFileSync(fixture, input);
    const before = sha(input);
    expectOneLineUserError(await runCommand(fitMain, "fit", [input, "-o", dir]), /which is the input/);
    expect(sha(input)).toBe(before);
    expect(readdirSync(dir)).toEqual(["fitresults.hdf5"]);
  });
  const genCases: [string, string, RegExp][] = [
    ["under a file", join(aFile, "x.hdf5"), /afile is a file, not a folder/],
    ["a folder", work, /is a folder; give a file name/],
    ["/proc/x", "/proc/x", /\/proc is a virtual file system/],
    ["/sys/x", "/sys/x", /\/sys is a virtual file system/],
  ];
  it.each(genCases)("fit-gen -o %s: one line, exit 2", async (_label, out, pattern) => {
    expectOneLineUserError(await runCommand(fitGenMain, "fit-gen", ["--bins", "5", "--systs", "2", "-o", out]), pattern);
  });

  // a read-only folder: root may write anywhere, so the command runs as nobody (uid 65534) when we are root
  const launcher = join(repo, "bin", "fit-gen.js");
  const built = existsSync(join(repo, "dist", "src", "cli", "fitGen.js"));
  // as root the command runs as nobody, who must be able to reach the package: a clone inside a
  // 0700 folder (mktemp -d) is out of its reach, and then no read-only folder can be made for root
  const asRoot = process.getuid?.() === 0;
  const nobodyReaches =
    !asRoot || !built || spawnSync(process.execPath, ["-e", `require("fs").accessSync(${JSON.stringify(launcher)}, require("fs").constants.R_OK)`], { uid: 65534, gid: 65534 }).status === 0;
  if (!nobodyReaches) console.log(`skipping the read-only folder spawn test: uid 65534 cannot read ${launcher} (a folder above the package is not world-readable)`);
  it.skipIf(!built || !nobodyReaches)("fit-gen -o into a folder it may not write: one line, exit 2 (spawned as nobody when root)", () => {
    const ro = join(work, "readonly");
    mkdirSync(ro);
    chmodSync(ro, 0o555);
    chmodSync(work, 0o755); // mkdtemp's 0700 would stop nobody one folder earlier
    const asNobody = asRoot ? { uid: 65534, gid: 65534 } : {};
    const r = spawnSync(process.execPath, [launcher, "--bins", "5", "--systs", "2", "-o", join(ro, "x.hdf5")], { encoding: "utf8", ...asNobody });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toBe(`error: -o ${join(ro, "x.hdf5")}: cannot write in ${ro} (permission denied)\n`);
    expect(readdirSync(ro)).toEqual([]);
  });
  if (!built) console.log("skipping the read-only folder spawn test: run `npx tsc` first (dist/src/cli/fitGen.js missing)");
});

describe("histmaker commands check their outputs before any work", () => {
  const hm = (args: string[]) => runCommand(histmakerMain, "histmaker", args);
  const analysis = join(work, "ana.mjs");
  const shard = (i: number): string => join(work, `shard${i}.hdf5`);
  beforeAll(async () => {
    let s = 7;
    const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0), s / 4294967296);
    for (let f = 0; f < 2; f++) await writeColumnarEvents(join(work, `ev${f}.hdf5`), { x: Float64Array.from({ length: 200 }, rnd) });
    writeFileSync(
      analysis,
      `export default {
  name: "outpath",
  datasets: [{ name: "sig", kind: "mc", files: ["ev0.hdf5", "ev1.hdf5"], xsec: 2 }],
  luminosity: 10,
  histograms: [{ name: "x", axes: [{ type: "regular", name: "x", bins: 4, lo: 0, hi: 1, flow: false }], columns: ["x"] }],
};
`,
    );
    for (const i of [0, 1]) {
      const r = await hm(["run", analysis, "-o", shard(i), "--shard", `${i}/2`, "--no-progress"]);
      expect(r.code, r.stderr).toBe(0);
    }
  });

  it("merge a.hdf5 b.hdf5 -o b.hdf5 refuses and leaves b.hdf5 as it was", async () => {
    const before = [sha(shard(0)), sha(shard(1))];
    expectOneLineUserError(await hm(["merge", shard(0), shard(1), "-o", shard(1)]), /is the input .*shard1\.hdf5; choose another output/);
    expect([sha(shard(0)), sha(shard(1))]).toEqual(before);
  });
  it("merge -o a hard link to an input refuses too", async () => {
    const hard = join(work, "shard0-hard.hdf5");
    linkSync(shard(0), hard);
    const before = sha(shard(0));
    expectOneLineUserError(await hm(["merge", shard(0), shard(1), "-o", hard]), /is the input/);
    expect(sha(shard(0))).toBe(before);
  });
  it.each([
    ["under a file", join(aFile, "m.hdf5"), /afile is a file, not a folder/],
    ["/proc/x", "/proc/x", /virtual file system/],
    ["/sys/x", "/sys/x", /virtual file system/],
  ])("merge -o %s: one line, exit 2", async (_l, out, pattern) => {
    expectOneLineUserError(await hm(["merge", shard(0), shard(1), "-o", out]), pattern);
  });

  it.each([
    ["-o under a file", ["-o", join(aFile, "r.hdf5")], /afile is a file, not a folder/],
    ["-o /proc/x", ["-o", "/proc/x"], /virtual file system/],
    ["-o the analysis module", ["-o", analysis], /is the input .*ana\.mjs/],
    ["-o an event file", ["-o", join(work, "ev1.hdf5")], /is the input .*ev1\.hdf5/],
    ["--cutflow under a file", ["-o", join(work, "r.hdf5"), "--cutflow", join(aFile, "c.csv")], /^error: --cutflow .*afile is a file, not a folder/],
    ["--cutflow /sys/x", ["-o", join(work, "r.hdf5"), "--cutflow", "/sys/x"], /^error: --cutflow \/sys\/x: \/sys is a virtual file system/],
    ["--cutflow equal to -o", ["-o", join(work, "r.hdf5"), "--cutflow", join(work, "r.hdf5")], /--cutflow .*is the same file as -o/],
  ])("run %s: one line, exit 2, no half run left behind", async (_l, args, pattern) => {
    const inputs = [analysis, join(work, "ev0.hdf5"), join(work, "ev1.hdf5")];
    const before = inputs.map(sha);
    expectOneLineUserError(await hm(["run", analysis, "--no-progress", ...args]), pattern);
    expect(inputs.map(sha)).toEqual(before);
    expect(existsSync(join(work, "r.hdf5"))).toBe(false);
    expect(existsSync(join(work, "r.cutflow.csv"))).toBe(false);
    expect(readdirSync(work).filter((n) => n.includes(".tmp-"))).toEqual([]);
  });
  it("run writes the HDF5 and the cutflow CSV together", async () => {
    const r = await hm(["run", analysis, "--no-progress", "-o", join(work, "ok.hdf5"), "--cutflow", join(work, "ok.csv")]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(work, "ok.csv"), "utf8")).toMatch(/^dataset,step,raw,weighted,scaled,efficiency\n/);
    expect(existsSync(join(work, "ok.hdf5"))).toBe(true);
    expect(readdirSync(work).filter((n) => n.includes(".tmp-"))).toEqual([]);
  });

  it("tensor -o a run output or the config refuses and leaves it as it was", async () => {
    const config = join(work, "tensor.json");
    writeFileSync(config, JSON.stringify({ inputs: [shard(0)], channels: [{ name: "ch", histogram: "x", axes: ["x"] }], processes: { sig: { datasets: ["sig"], signal: true } } }));
    const before = [sha(shard(0)), sha(config)];
    expectOneLineUserError(await hm(["tensor", config, "-o", shard(0)]), /is the input .*shard0\.hdf5/);
    expectOneLineUserError(await hm(["tensor", config, "-i", shard(1), "-o", shard(1)]), /is the input .*shard1\.hdf5/);
    expectOneLineUserError(await hm(["tensor", config, "-o", config]), /is the input .*tensor\.json/);
    expectOneLineUserError(await hm(["tensor", config, "-o", "/proc/x"]), /virtual file system/);
    expect([sha(shard(0)), sha(config)]).toEqual(before);
    // and the same config with a fresh output works
    const ok = await hm(["tensor", config, "-o", join(work, "t.hdf5")]);
    expect(ok.code, ok.stderr).toBe(0);
  });

  const rootFile = resolve(repo, "../shared/data/root/uproot-Zmumu.root");
  it.skipIf(!existsSync(rootFile))("hist a.root … -o a.root refuses and leaves a.root as it was", async () => {
    const copy = join(work, "a.root");
    copyFileSync(rootFile, copy);
    const before = sha(copy);
    const args = ["hist", copy, "--tree", "events", "--var", "M", "--bins", "10", "--range", "60,120"];
    expectOneLineUserError(await hm([...args, "-o", copy]), /is the input .*a\.root; choose another output/);
    expectOneLineUserError(await hm([...args, "-o", "/sys/x"]), /virtual file system/);
    expectOneLineUserError(await hm([...args, "-o", join(aFile, "h.hdf5")]), /afile is a file, not a folder/);
    expect(sha(copy)).toBe(before);
    const ok = await hm([...args, "-o", join(work, "h.hdf5")]);
    expect(ok.code, ok.stderr).toBe(0);
  });
});

describe("--version", () => {
  const version = packageVersion();
  it("package.json has a version", () => {
    expect(version).toMatch(/^\d+\.\d+\.\d+/);
    expect(version).toBe(JSON.parse(readFileSync(join(repo, "package.json"), "utf8")).version);
  });
  it.each([
    ["fit", fitMain],
    ["fit-gen", fitGenMain],
    ["histmaker", histmakerMain],
  ] as const)("%s --version prints the package version and exits 0", async (name, main) => {
    for (const flag of ["--version", "-V"]) {
      const r = await runCommand(main, name, [flag]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`${version}\n`);
    }
  });
});

describe("a closed stdout (fit … | head -1)", () => {
  const launcher = join(repo, "bin", "fit.js");
  const built = existsSync(join(repo, "dist", "src", "cli", "fit.js"));
  if (!built) console.log("skipping the EPIPE spawn tests: run `npx tsc` first (dist/src/cli/fit.js missing)");
  it.skipIf(!built)("ends quietly with exit 0 after a converged fit when the reader closed the pipe first", async () => {
    const out = join(work, "epipe");
    const child = spawn(process.execPath, [launcher, fixture, "-o", out], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.destroy(); // the reader goes away before the fit prints anything: every write gets EPIPE
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((res) => child.on("close", (c) => res(c)));
    expect(code, stderr).toBe(0);
    expect(stderr).not.toMatch(/EPIPE|error/i);
    expect(JSON.parse(readFileSync(join(out, "fitresults.json"), "utf8")).status).toBe("converged");
  });
  it.skipIf(!built || !existsSync("/bin/bash"))("`fit … | head -1` prints one line and the fit exits 0", () => {
    const out = join(work, "epipe-head");
    const r = spawnSync("/bin/bash", ["-c", 'set -o pipefail; "$0" "$1" "$2" -o "$3" | head -1', process.execPath, launcher, fixture, out], {
      encoding: "utf8",
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).not.toMatch(/EPIPE|error/i);
  });
});
