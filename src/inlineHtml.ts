/**
 * Helpers for the self-contained HTML pages (the fit report, `histmaker plot`): data embedded as
 * JSON, escaped text, and plotly.js inlined so that nothing is fetched when a page is opened.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

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
export function inertInline(text: string, tag: "script" | "style"): string {
  return text.replace(new RegExp(`</(${tag})`, "gi"), "<\\/$1");
}

let plotlyCache: string | null = null;

/** plotly.js from the plotly.js-dist package (the only build it ships), safe to inline. */
export function plotlySource(): string {
  if (plotlyCache === null) {
    const require = createRequire(import.meta.url);
    plotlyCache = inertInline(readFileSync(require.resolve("plotly.js-dist/plotly.js"), "utf8"), "script");
  }
  return plotlyCache;
}
