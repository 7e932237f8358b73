/**
 * Assembles the self-contained report page: inline CSS, the data as a JSON block, the client script
 * (src/report/client/), then plotly.js as an inert text block that the client runs once the tables
 * are painted, so the first view waits neither for parsing nor for running 11 MB of plotting
 * library. Nothing is fetched when the page is opened.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ReportPayload } from "./types.js";

import { escapeHtml, jsonForScript, plotlySource } from "../inlineHtml.js";

export { escapeHtml, jsonForScript, plotlySource };

/** The client scripts in page order; common.js first (shared data and helpers), main.js last. */
export const CLIENT_SCRIPTS = ["common.js", "overview.js", "pulls.js", "grouped.js", "postfit.js", "postResults.js", "main.js"] as const;

/** A client asset, read from the source tree (they are not compiled). */
export function clientAsset(packageRoot: string, name: string): string {
  return readFileSync(join(packageRoot, "src", "report", "client", name), "utf8");
}

/** The client scripts as one script: concatenated in one function scope, strict mode. */
export function clientScript(packageRoot: string): string {
  const parts = CLIENT_SCRIPTS.map((name) => `// ---- ${name}\n${clientAsset(packageRoot, name)}`);
  return `(function () {\n"use strict";\n${parts.join("\n")}\n})();\n`;
}

export function reportHtml(payload: ReportPayload, assets: { plotly: string; script: string; css: string }): string {
  const script = assets.script.replace(/<\/(script)/gi, "<\\/$1");
  const css = assets.css.replace(/<\/(style)/gi, "<\\/$1");
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; font-src data:; connect-src 'none'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(payload.title)}</title>
<style>${css}</style>
</head>
<body>
<div id="app"></div>
<script type="application/json" id="report-data">${jsonForScript(payload)}</script>
<script>${script}</script>
<script type="text/plain" id="plotly-src">${assets.plotly.replace(/<\/(script)/gi, "<\\/$1")}</script>
</body>
</html>
`;
}
