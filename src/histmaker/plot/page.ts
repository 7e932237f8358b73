/**
 * The self-contained `histmaker plot` page: inline CSS, the payload as a JSON block, plotly.js and
 * the client script inline. Nothing is fetched when it is opened (the CSP forbids it too).
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { PlotPayload } from "./payload.js";

import { escapeHtml, inertInline as inert, jsonForScript, plotlySource } from "../../inlineHtml.js";

export { escapeHtml, jsonForScript, plotlySource };
export { writeFileAtomic as writeAtomic } from "../../atomicWrite.js";

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

