/* hepfit report, client side: draws the sections, then runs plotly after the first paint
 * Plain browser JavaScript; the page concatenates the files of CLIENT_SCRIPTS (htmlPage.ts) inside
 * one function scope, so they share the variables of common.js. No network access (see the CSP).
 * Every name from the fit is data: it reaches the DOM through textContent/setAttribute only, and
 * plotly (which reads a little HTML in its strings) only through ptext(), which escapes it. */
var TIMES = {};
function run(name, f) {
  var t0 = performance.now();
  try { f(); TIMES[name] = Math.round(performance.now() - t0); }
  catch (e) {
    var s = el("p", { cls: "err", text: "could not draw " + name + ": " + (e && e.message ? e.message : String(e)) });
    document.querySelector("main").appendChild(s);
    if (window.console) console.error(e);
  }
}
run("the overview", overview);
run("pulls and impacts", function () { pullsSection(); refresh(); });
run("grouped impacts", groupedSection);
run("postfit plots", postfitSection);
run("post-fit results", postResults);
// for tests and the benchmark: tables drawn (first render), then plots drawn (ready)
document.body.setAttribute("data-first-render-ms", String(Math.round(performance.now())));
document.body.setAttribute("data-section-ms", JSON.stringify(TIMES));
// plotly's text comes after this script in the page: run it once the page is parsed and painted
function afterPaint(f) { requestAnimationFrame(function () { setTimeout(f, 0); }); }
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", function () { afterPaint(startPlots); });
else afterPaint(startPlots);
function startPlots() {
  (function () {
    var t0 = performance.now();
    loadPlotly();
    document.body.setAttribute("data-plotly-ms", String(Math.round(performance.now() - t0)));
    document.body.setAttribute("data-render-ms", String(Math.round(performance.now())));
    document.body.setAttribute("data-ready", "1");
  })();
}
