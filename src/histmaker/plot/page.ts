/**
 * The self-contained `histmaker plot` page: inline CSS, the payload as a JSON block, plotly.js and
 * the client script inline. Nothing is fetched when it is opened (the CSP forbids it too).
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { PlotPayload } from "./payload.js";

/**
 * JSON for a <script type="application/json"> block: every `<` becomes \u003c so no name can close
 * the tag or open a comment; U+2028/9 are escaped for old parsers.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

/** Text for an HTML text node or attribute. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** An inline script or style ends at the first `</script` / `</style`: break any inside. */
function inert(text: string, tag: "script" | "style"): string {
  return text.replace(new RegExp(`</(${tag})`, "gi"), "<\\/$1");
}

let plotlyCache: string | null = null;

/** plotly.js from the plotly.js-dist package. */
export function plotlySource(): string {
  if (plotlyCache === null) {
    const require = createRequire(import.meta.url);
    plotlyCache = inert(readFileSync(require.resolve("plotly.js-dist/plotly.js"), "utf8"), "script");
  }
  return plotlyCache;
}

/** src/histmaker/plot/client/, found from the source tree or from dist/ (the assets are not compiled). */
export function clientDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, "src", "histmaker", "plot", "client");
    if (existsSync(join(dir, "package.json")) && existsSync(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) throw new Error("histmaker plot client assets not found (src/histmaker/plot/client)");
    dir = up;
  }
}

export function plotHtml(payload: PlotPayload, assets: { plotly: string; script: string; css: string }): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; img-src data: blob:; font-src data:; connect-src 'none'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(payload.title)}</title>
<style>${inert(assets.css, "style")}</style>
</head>
<body>
<div id="app"></div>
<script type="application/json" id="plot-data">${jsonForScript(payload)}</script>
<script>${assets.plotly}</script>
<script>${inert(assets.script, "script")}</script>
</body>
</html>
`;
}

/** The page with the shipped assets. */
export function renderPlotPage(payload: PlotPayload): string {
  const dir = clientDir();
  return plotHtml(payload, {
    plotly: plotlySource(),
    script: readFileSync(join(dir, "histplot.js"), "utf8"),
    css: readFileSync(join(dir, "histplot.css"), "utf8"),
  });
}

/** Writes `text` to `<file>.tmp-<pid>` and renames it over `file`: never a half-written page. */
export function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
