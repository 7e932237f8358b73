/**
 * `histmaker plot`: a run made here (two simulated datasets, one named like an XSS attempt, and
 * data) becomes one self-contained page. In headless Chromium it loads without console errors or
 * network requests, shows one plot per histogram, its stacks add up to the σ×L-scaled MC of the
 * run (1-D, unrolled 2-D, projection, a tensor variation), the log toggle works and the hostile
 * name renders as text. Plus the grouping rules and the CLI's error lines.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../src/cli/histmaker.js";
import { writeColumnarEvents } from "../src/histmaker/eventSources.js";
import { readRunOutput, type RunOutput } from "../src/histmaker/runOutput.js";
import { buildPlotPayload, histogramNames } from "../src/histmaker/plot/payload.js";
import { escapeHtml, jsonForScript, plotHtml } from "../src/histmaker/plot/page.js";
import { parseGroupOption, readProcessesFile, resolveGrouping } from "../src/histmaker/plot/processes.js";
import { defaultPlotOutput } from "../src/histmaker/commands/plot.js";
import { runCommand } from "./helpers/cli.js";

const XSS = "<img src=x onerror=alert(1)>";
const PNAME = "<b onmouseover=alert(2)>Bkg & co</b>";
const work = mkdtempSync(path.join(tmpdir(), "histplot-"));
const artifacts = path.resolve("test-artifacts");
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await runCommand(main, "histmaker", args);
  return { code: r.code, out: r.stdout, err: r.stderr };
}

const runFile = path.join(work, "run.hdf5");
let run: RunOutput;

beforeAll(async () => {
  let s = 11;
  const r = () => ((s = (s * 1103515245 + 12345) >>> 0), s / 4294967296);
  // signal peaks at x ≈ 0.6, background falls; data is a mixture of both
  const sample = (n: number, kind: "sig" | "bkg" | "data") => {
    const x = new Float64Array(n);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const sig = kind === "sig" || (kind === "data" && r() < 0.3);
      x[i] = sig ? Math.min(0.999, Math.max(0, 0.6 + 0.12 * (r() + r() + r() - 1.5))) : Math.min(0.999, -0.35 * Math.log(1 - 0.95 * r()));
      y[i] = Math.floor(r() * 3);
    }
    return { x, y };
  };
  await writeColumnarEvents(path.join(work, "sig.hdf5"), sample(3000, "sig"));
  await writeColumnarEvents(path.join(work, "bkg.hdf5"), sample(6000, "bkg"));
  await writeColumnarEvents(path.join(work, "data.hdf5"), sample(2400, "data"));
  writeFileSync(
    path.join(work, "analysis.mjs"),
    `export default {
  name: "plot-test",
  datasets: [
    { name: "Signal", kind: "mc", files: ["sig.hdf5"], xsec: 72 },
    { name: ${JSON.stringify(XSS)}, kind: "mc", files: ["bkg.hdf5"], xsec: 168 },
    { name: "SingleMuon", kind: "data", files: ["data.hdf5"] },
  ],
  luminosity: 10,
  selections: [{ name: "low", cut: (c) => c.x.map((v) => (v < 0.95 ? 1 : 0)) }],
  histograms: [
    { name: "mass", axes: [{ type: "regular", name: "m", label: "m_{#mu#mu} [GeV]", bins: 20, lo: 0, hi: 1, flow: true }], columns: ["x"] },
    { name: "mass_cat", axes: [
        { type: "variable", name: "m", label: "m_T [GeV]", edges: [0, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0] },
        { type: "categoryInt", name: "cat", categories: [0, 1, 2] } ],
      columns: ["x", "y"] },
    { name: "mass_syst", datasets: "mc", axes: [{ type: "regular", name: "m", label: "m [GeV]", bins: 10, lo: 0, hi: 1, flow: false }], columns: ["x"],
      tensor: { name: "scale", size: 3, weights: (c) => { const o = new Float64Array(3 * c.x.length); c.x.forEach((v, i) => { o[3 * i] = 1; o[3 * i + 1] = 1 + 0.2 * v; o[3 * i + 2] = 1 - 0.2 * v; }); return o; } } },
  ],
};
`,
  );
  const made = await cli(["run", path.join(work, "analysis.mjs"), "-o", runFile, "--no-progress"]);
  expect(made.code, made.err).toBe(0);
  run = await readRunOutput(runFile);
});

/** Σ over MC datasets of scale × the histogram's in-range values (row-major; a tensor index when given). */
function scaledMc(name: string, opts: { project?: string; t?: number } = {}): number[] {
  let total: number[] | null = null;
  for (const [ds, d] of Object.entries(run.info.datasets)) {
    if (d.kind !== "mc") continue;
    let h = run.hists[ds][name];
    if (opts.project) h = h.project(opts.project);
    const v = h.values({ flow: false });
    const K = Math.max(1, h.tensorSize);
    const n = v.length / K;
    total ??= new Array(n).fill(0);
    for (let i = 0; i < n; i++) total[i] += run.info.scales[ds] * v[i * K + (opts.t ?? 0)];
  }
  return total!;
}

describe("grouping", () => {
  const ds = [
    { name: "W", kind: "mc" as const },
    { name: "Z", kind: "mc" as const },
    { name: "tt", kind: "mc" as const },
    { name: "D", kind: "data" as const },
  ];
  it("defaults to one process per simulated dataset, in run order, and all data", () => {
    const g = resolveGrouping(ds, null, null, "x");
    expect(g.processes.map((p) => p.name)).toEqual(["W", "Z", "tt"]);
    expect(g.data).toEqual(["D"]);
    expect(new Set(g.processes.map((p) => p.color)).size).toBe(3);
  });
  it("groups datasets; an ungrouped simulated dataset becomes its own process, never dropped", () => {
    const g = resolveGrouping(ds, [parseGroupOption("EW=W,Z")], null, "--group");
    expect(g.processes.map((p) => [p.name, p.datasets])).toEqual([["EW", ["W", "Z"]], ["tt", ["tt"]]]);
    expect(g.ungrouped).toEqual(["tt"]);
  });
  it("refuses unknown datasets, data in a process, a dataset in two processes, bad --group", () => {
    expect(() => resolveGrouping(ds, [{ name: "a", datasets: ["Q"] }], null, "cfg.json")).toThrow(/cfg.json: process "a": dataset "Q" is not in the run/);
    expect(() => resolveGrouping(ds, [{ name: "a", datasets: ["D"] }], null, "g")).toThrow(/"D" is data/);
    expect(() => resolveGrouping(ds, [{ name: "a", datasets: ["W"] }, { name: "b", datasets: ["W"] }], null, "g")).toThrow(/"W" is in both "a" and "b"/);
    expect(() => resolveGrouping(ds, null, ["W"], "g")).toThrow(/"W" is listed as data but is simulation/);
    expect(() => parseGroupOption("EW")).toThrow(/--group "EW": expected name=/);
    expect(() => parseGroupOption("EW=")).toThrow(/no datasets/);
  });
  it("reads a tensor config (processes + data) or a bare map with colours", () => {
    const f = path.join(work, "tensor.json");
    writeFileSync(f, JSON.stringify({ channels: [], processes: { EW: { datasets: ["W", "Z"], signal: true, color: "#123456" } }, data: ["D"] }));
    expect(readProcessesFile(f)).toEqual({ groups: [{ name: "EW", datasets: ["W", "Z"], color: "#123456" }], data: ["D"] });
    const g = path.join(work, "bare.json");
    writeFileSync(g, JSON.stringify({ top: ["tt"], EW: { datasets: ["W"] } }));
    expect(readProcessesFile(g).groups.map((x) => x.name)).toEqual(["top", "EW"]);
    writeFileSync(g, JSON.stringify({ EW: { datasets: ["W"], color: "red;background:url(x)" } }));
    expect(() => readProcessesFile(g)).toThrow(/"color" must be a CSS colour/);
  });
});

describe("payload", () => {
  it("holds the σ×L-scaled sums per process and the data; --unscaled keeps the stored sums", () => {
    const grouping = resolveGrouping(Object.values(run.info.datasets), null, null, "x");
    const p = buildPlotPayload(run, { input: "run.hdf5", command: "t", grouping });
    expect(p.histograms.map((h) => h.name)).toEqual(["mass", "mass_cat", "mass_syst"]);
    const mass = p.histograms[0];
    const sig = run.hists.Signal.mass.values({ flow: true });
    expect(mass.mc[0].values).toEqual(Array.from(sig, (v) => v * run.info.scales.Signal));
    expect(mass.data).toEqual(Array.from(run.hists.SingleMuon.mass.values({ flow: true })));
    expect(p.histograms[2].variations).toBe(3);
    expect(p.histograms[2].data).toBeNull();
    const raw = buildPlotPayload(run, { input: "run.hdf5", command: "t", grouping, unscaled: true, histograms: /^mass$/ });
    expect(raw.histograms.map((h) => h.name)).toEqual(["mass"]);
    expect(raw.histograms[0].mc[0].values).toEqual(Array.from(sig));
    // over the budget only the nominal index is kept
    const small = buildPlotPayload(run, { input: "run.hdf5", command: "t", grouping, variationBudget: 10 });
    expect(small.histograms[2].variations).toBe(1);
    expect(small.histograms[2].mc[0].values).toEqual(Array.from(run.hists.Signal.mass_syst.values({ flow: true })).filter((_, i) => i % 3 === 0).map((v) => v * run.info.scales.Signal));
    expect(() => buildPlotPayload(run, { input: "run.hdf5", command: "t", grouping, histograms: /nothing/ })).toThrow(/no histogram matches --histograms nothing/);
    expect(p.logDefault).toBe(false);
    expect(buildPlotPayload(run, { input: "run.hdf5", command: "t", grouping, log: true }).logDefault).toBe(true);
    // cutflows: one per dataset with scaled = weighted × scale; region cutflows (runs with regions) follow their dataset's
    expect(p.cutflows.map((c) => [c.dataset, c.region, c.scale])).toEqual(Object.keys(run.info.cutflows).map((d) => [d, null, run.info.scales[d]]));
    const withRegions = { ...run, info: { ...run.info, regionCutflows: { Signal: { SR: { steps: ["preselection", "tight"], raw: [5, 2], weighted: [5, 2] } } } } };
    const pr = buildPlotPayload(withRegions, { input: "run.hdf5", command: "t", grouping });
    expect(pr.cutflows.map((c) => `${c.dataset}/${c.region}`)).toEqual(["Signal/null", "Signal/SR", `${XSS}/null`, "SingleMuon/null"]);
  });
  it("escapes < in the embedded JSON", () => {
    expect(jsonForScript({ a: "</script><b>" })).toBe('{"a":"\\u003c/script>\\u003cb>"}');
    expect(JSON.parse(jsonForScript({ a: XSS })).a).toBe(XSS);
    expect(escapeHtml(`a<b>&"'`)).toBe("a&#60;b&#62;&#38;&#34;&#39;");
  });
  it("puts a hostile title and inline assets where they cannot end their tags", () => {
    const grouping = resolveGrouping(Object.values(run.info.datasets), null, null, "x");
    const p = { ...buildPlotPayload(run, { input: "run.hdf5", command: "t", grouping }), title: "</title><script>alert(1)</script>" };
    const html = plotHtml(p, { plotly: "/* plotly */", script: "var s = '</script>';", css: "a::after { content: '</style>'; }" });
    expect(html).toContain("<title>&#60;/title&#62;&#60;script&#62;alert(1)&#60;/script&#62;</title>");
    expect(html.match(/<\/script>/g)).toHaveLength(3); // data, plotly, client: the client's own "</script>" was broken
    expect(html.match(/<\/style>/g)).toHaveLength(1);
    expect(histogramNames(run)).toEqual(["mass", "mass_cat", "mass_syst"]);
  });
});

describe("histmaker plot CLI", () => {
  it("checks its options and output before any work", async () => {
    expect(defaultPlotOutput("/a/run.hdf5")).toBe("/a/run.html");
    let r = await cli(["plot", runFile, "-o", runFile]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/is the input/);
    r = await cli(["plot", runFile, "-o", path.join(work, "p.html"), "--histograms", "("]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--histograms "\(": not a regular expression/);
    r = await cli(["plot", runFile, "-o", path.join(work, "p.html"), "--group", "x=Nope"]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/dataset "Nope" is not in the run/);
    r = await cli(["plot", path.join(work, "missing.hdf5"), "-o", path.join(work, "p.html")]);
    expect(r.code).toBe(2);
    expect(existsSync(path.join(work, "p.html"))).toBe(false);
  });
});

describe("the page in Chromium", async () => {
  const chromiumPath = "/usr/bin/chromium";
  let pw: typeof import("playwright-core") | null = null;
  try {
    pw = await import("playwright-core");
  } catch {
    pw = null;
  }
  const skip = !existsSync(chromiumPath) ? `${chromiumPath} is missing` : pw === null ? "playwright-core is not installed" : null;
  if (skip) console.log(`skipping the browser tests: ${skip}`);

  it.skipIf(skip !== null)("loads offline without errors, stacks add up, log toggle, inert names", async () => {
    const html = path.join(work, "plots.html");
    const procs = path.join(work, "procs.json");
    writeFileSync(procs, JSON.stringify({ processes: { [PNAME]: { datasets: [XSS], color: "#f28e2b" }, Signal: { datasets: ["Signal"], color: "#4e79a7" } } }));
    const made = await cli(["plot", runFile, "-o", html, "--processes", procs]);
    expect(made.code, made.err).toBe(0);
    expect(made.out).toMatch(/wrote .*plots\.html: 3 histograms, 2 processes, data: SingleMuon/);
    const text = readFileSync(html, "utf8");
    expect(text).not.toContain(XSS); // only ever as \u003c-escaped JSON
    expect(existsSync(`${html}.tmp-${process.pid}`)).toBe(false);

    const browser = await pw!.chromium.launch({
      executablePath: chromiumPath,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1500, height: 1100 } });
      const errors: string[] = [];
      const requests: string[] = [];
      const dialogs: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "error") errors.push(m.text());
      });
      page.on("pageerror", (e) => errors.push(String(e)));
      page.on("request", (q) => {
        if (q.url() !== `file://${html}`) requests.push(q.url());
      });
      page.on("dialog", (d) => {
        dialogs.push(d.message());
        void d.dismiss();
      });
      await page.goto(`file://${html}`);
      await page.waitForSelector("body[data-ready]", { timeout: 60_000 });
      expect(await page.getAttribute("body", "data-ready")).toBe("1");

      const plots = await page.$$eval(".js-plotly-plot", (els) => els.map((e) => e.getAttribute("data-histogram")));
      expect(plots).toEqual(["mass", "mass_cat", "mass_syst"]);

      // what each plot draws: per bin the sum of the stacked bars; legend order; the data points
      const drawn = () =>
        page.$$eval(".js-plotly-plot", (els) =>
          els.map((e) => {
            const gd = e as unknown as { data: { type: string; name: string; y: (number | null)[]; width?: number[]; yaxis?: string; legendrank?: number; showlegend?: boolean }[]; layout: { yaxis: { type: string; title: { text: string } } } };
            const bars = gd.data.filter((t) => t.type === "bar");
            const sums = bars[0].y.map((_, i) => bars.reduce((a, b) => a + (b.y[i] as number), 0));
            const legend = gd.data.filter((t) => t.showlegend !== false).sort((a, b) => (a.legendrank ?? 0) - (b.legendrank ?? 0)).map((t) => t.name);
            const data = gd.data.find((t) => t.name === "Data" && (t.yaxis ?? "y") === "y");
            const ratio = gd.data.some((t) => t.yaxis === "y2");
            const xtitle = (gd.layout as unknown as { xaxis: { title: { text: string } } }).xaxis.title.text;
            return { sums, widths: bars[0].width ?? [], bars: bars.map((b) => b.name), legend, data: data ? data.y : null, ratio, ytype: gd.layout.yaxis.type, ytitle: gd.layout.yaxis.title.text, xtitle };
          }),
        );
      let view = await drawn();
      const close = (got: number[], want: number[]) => {
        expect(got).toHaveLength(want.length);
        got.forEach((g, i) => expect(g).toBeCloseTo(want[i], 9));
      };
      close(view[0].sums, scaledMc("mass"));
      close(view[1].sums, scaledMc("mass_cat")); // 2-D: unrolled, row-major
      close(view[2].sums, scaledMc("mass_syst"));
      expect(view[0].data).toEqual(Array.from(run.hists.SingleMuon.mass.values({ flow: false })));
      expect(view[0].ratio).toBe(true);
      expect(view[2].ratio).toBe(false); // no data filled it
      // bars are drawn bottom first: the last process at the bottom; the legend reads like the stack, top first
      const pname = PNAME.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
      expect(view[0].bars).toEqual(["Signal", pname]);
      expect(view[0].legend).toEqual(["Data", pname, "Signal", "MC stat. unc."]);
      const legendText = await page.$$eval("#plot-0 .legendtext", (els) => els.map((e) => e.textContent));
      expect(legendText).toEqual(["Data", PNAME, "Signal", "MC stat. unc."]);
      expect(view[0].ytype).toBe("linear");
      // TLatex labels: braces (m_{#mu#mu}) and a lone character without them (m_T) become subscripts
      expect(view[0].xtitle).toBe("m<sub>μμ</sub> [GeV]");

      // projection of the 2-D histogram and a tensor variation
      await page.selectOption('#plot-1 >> xpath=.. >> select[data-role="view"]', "0");
      await page.selectOption('#plot-2 >> xpath=.. >> select[data-role="variation"]', "1");
      await page.waitForTimeout(300);
      view = await drawn();
      close(view[1].sums, scaledMc("mass_cat", { project: "m" }));
      close(view[2].sums, scaledMc("mass_syst", { t: 1 }));
      await page.selectOption('#plot-1 >> xpath=.. >> select[data-role="view"]', "1");
      await page.waitForTimeout(300);
      close((await drawn())[1].sums, scaledMc("mass_cat", { project: "cat" }));
      await page.selectOption('#plot-1 >> xpath=.. >> select[data-role="view"]', "0");
      // a category fixed to one bin: projection on m of cat = 1 only, and the unrolled view of that slice
      const catSlice = (cat: number) => {
        const want = new Array(7).fill(0);
        for (const [ds, d] of Object.entries(run.info.datasets)) {
          if (d.kind !== "mc") continue;
          const v = run.hists[ds].mass_cat.values({ flow: false }); // (m: 7) × (cat: 3), in range
          for (let i = 0; i < 7; i++) want[i] += run.info.scales[ds] * v[i * 3 + cat];
        }
        return want;
      };
      await page.selectOption('#plot-1 >> xpath=.. >> select[data-axis="cat"]', "1");
      await page.waitForTimeout(300);
      close((await drawn())[1].sums, catSlice(1));
      await page.selectOption('#plot-1 >> xpath=.. >> select[data-role="view"]', "-1");
      await page.waitForTimeout(300);
      close((await drawn())[1].sums, catSlice(1));
      await page.selectOption('#plot-1 >> xpath=.. >> select[data-axis="cat"]', "-1");
      await page.selectOption('#plot-1 >> xpath=.. >> select[data-role="view"]', "0");
      await page.waitForTimeout(300);
      close((await drawn())[1].sums, scaledMc("mass_cat", { project: "m" }));

      // log toggle
      await page.click("#log-toggle");
      await page.waitForTimeout(300);
      expect((await drawn()).map((v) => v.ytype)).toEqual(["log", "log", "log"]);
      mkdirSync(artifacts, { recursive: true });
      await page.screenshot({ path: path.join(artifacts, "histplot-log.png"), fullPage: true });
      await page.click("#log-toggle");
      await page.waitForTimeout(300);
      expect((await drawn()).map((v) => v.ytype)).toEqual(["linear", "linear", "linear"]);

      // per unit of x: the variable-width projection divided by its bin widths, the label says per GeV
      expect(view[1].ytitle).toBe("Events / bin");
      expect(view[1].xtitle).toBe("m<sub>T</sub> [GeV]");
      await page.click("#width-toggle");
      await page.waitForTimeout(300);
      const perWidth = (await drawn())[1];
      expect(perWidth.ytitle).toBe("Events / GeV");
      close(perWidth.sums.map((v, i) => v * perWidth.widths[i]), scaledMc("mass_cat", { project: "m" }));
      expect(perWidth.widths.slice(0, 3).map((w) => +w.toFixed(12))).toEqual([0.2, 0.2, 0.1]);
      await page.click("#width-toggle");
      await page.waitForTimeout(300);

      // the hostile dataset name is text everywhere: no <img> made, no dialog, shown literally
      expect(await page.$$eval("img", (els) => els.length)).toBe(0);
      const cells = await page.$$eval("td, caption, .note span", (els) => els.map((e) => e.textContent ?? ""));
      expect(cells.some((c) => c.includes(XSS))).toBe(true);
      await page.screenshot({ path: path.join(artifacts, "histplot.png"), fullPage: true });
      const card = await page.$(".hist-card");
      await card!.screenshot({ path: path.join(artifacts, "histplot-card.png") });
      expect(dialogs).toEqual([]);
      expect(errors).toEqual([]);
      expect(requests).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 120_000);
});
