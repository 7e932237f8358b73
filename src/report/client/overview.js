/* hepfit report, client side: page header and the fit overview (status, GOF, timing, POIs, correlations)
 * Plain browser JavaScript; the page concatenates the files of CLIENT_SCRIPTS (htmlPage.ts) inside
 * one function scope, so they share the variables of common.js. No network access (see the CSP).
 * Every name from the fit is data: it reaches the DOM through textContent/setAttribute only, and
 * plotly (which reads a little HTML in its strings) only through ptext(), which escapes it. */
// ---------- header ----------
var S = D.summary;
var statusText = String(S.status || "unknown");
var header = el("header", null,
  el("h1", { text: D.title }),
  el("span", { cls: "status-" + statusText, text: "status: " + statusText }),
  el("nav", null,
    el("a", { href: "#overview", text: "Overview" }),
    el("a", { href: "#pulls", text: "Pulls & impacts" }),
    el("a", { href: "#grouped", text: "Grouped impacts" }),
    el("a", { href: "#postfit", text: "Postfit plots" }),
    el("a", { href: "#postfit-results", text: "Scans, limits, toys" })),
  REF ? el("span", { cls: "note", text: "compared with " + REF.label }) : null);
var app = document.getElementById("app");
app.textContent = "";
app.appendChild(header);
app.appendChild(el("main"));

// ---------- overview ----------
/** A JSON value for the overview: scalars as text, lists of text as a list, objects as a nested table. */
function valueNode(v) {
  if (v === null || typeof v !== "object") return isNum(v) ? fmt(v, 6) : String(v);
  if (Array.isArray(v)) {
    if (!v.every(function (x) { return x === null || typeof x !== "object"; })) return JSON.stringify(v);
    var ul = el("ul", { cls: "notes" });
    v.forEach(function (x) { ul.appendChild(el("li", { text: isNum(x) ? fmt(x, 6) : String(x) })); });
    return ul;
  }
  return kvTable(Object.keys(v).map(function (k) { return [k, valueNode(v[k])]; }));
}

function overview() {
  var s = section("overview", "Fit overview");
  var grid = el("div", { cls: "grid" });
  s.appendChild(grid);
  var gof = isNum(S.chi2) ? fmt(S.chi2, 6) + " / " + S.ndf + (isNum(S.pvalue) ? "  (p = " + fmt(S.pvalue, 3) + ")" : (S.ndf <= 0 ? "  (p undefined: ndf ≤ 0)" : "  (p = –)")) : "–";
  var rows = [
    ["status", statusText + (S.message ? " — " + S.message : "")],
    ["−ln L (reduced)", fmt(S.nll, 10)],
    ["saturated GOF χ² / ndf", gof],
    ["EDM", fmt(S.edm, 3)],
    ["iterations", String(S.iterations !== undefined ? S.iterations : "–")],
  ];
  var shown = { status: 1, message: 1, nll: 1, chi2: 1, ndf: 1, pvalue: 1, edm: 1, iterations: 1, engine: 1, timing: 1, meta: 1 };
  // every other scalar diagnostic of the JSON (HVPs, Hessians, POI mode, ...) as it is
  Object.keys(S).forEach(function (k) {
    if (shown[k]) return;
    var v = S[k];
    rows.push([k, valueNode(v)]);
  });
  if (S.engine) rows.push(["engine", Object.keys(S.engine).map(function (k) { return k + " " + S.engine[k]; }).join(", ")]);
  grid.appendChild(el("div", { cls: "card" }, el("h3", { text: "Minimum and goodness of fit" }), kvTable(rows)));
  if (S.timing) {
    grid.appendChild(el("div", { cls: "card" }, el("h3", { text: "Timing [s]" }),
      kvTable(Object.keys(S.timing).map(function (k) { return [k.replace(/_s$/, ""), fmt(S.timing[k], 4)]; }))));
  }
  if (S.meta) {
    grid.appendChild(el("div", { cls: "card" }, el("h3", { text: "Provenance" }),
      kvTable(Object.keys(S.meta).map(function (k) {
        // nested provenance (the input's own meta_info) as JSON text, never "[object Object]"
        var v = S.meta[k];
        return [k, v !== null && typeof v === "object" ? JSON.stringify(v) : String(v)];
      }))));
  }
  // POIs and NOIs
  var head = ["parameter", "kind", "value", "± error", "MINOS −", "MINOS +", "prefit"];
  if (REF) head.push("reference value", "± error");
  var prow = [];
  FIT.names.forEach(function (name, i) {
    if (!isTarget(i)) return;
    var m = FIT.minos[i];
    var r = [name, FIT.kinds[i], fmt(FIT.value[i], 6), fmt(FIT.error[i], 4), m ? fmt(m.lower, 4) : "–", m ? fmt(m.upper, 4) : "–", fmt(FIT.prefit[i], 4)];
    if (REF) {
      var j = refIndexOf(i);
      r.push(j === undefined ? "–" : fmt(REF.value[j], 6), j === undefined ? "–" : fmt(REF.error[j], 4));
    }
    prow.push(r);
  });
  s.appendChild(el("h3", { text: "POIs and NOIs" }));
  s.appendChild(prow.length ? dataTable(head, prow, [0]) : el("p", { cls: "note", text: "no POIs or NOIs" }));
  // correlation
  var C = D.correlation;
  s.appendChild(el("h3", { text: "Correlations" }));
  if (!C) { s.appendChild(el("p", { cls: "note", text: "no covariance in fitresults.hdf5" })); return; }
  s.appendChild(el("p", { cls: "note", text: C.note + " (from the covariance in fitresults.hdf5)" }));
  var m = C.names.length;
  var z = [];
  for (var a = 0; a < m; a++) z.push(C.matrix.slice(a * m, (a + 1) * m));
  var labels = C.names.map(ptext);
  var size = Math.min(900, 160 + 16 * m);
  var div = plotDiv(size);
  div.id = "corr-plot";
  div.style.maxWidth = size + 120 + "px";
  s.appendChild(div);
  newPlot(div, [{ type: "heatmap", z: z, x: labels, y: labels, zmin: -1, zmax: 1, colorscale: "RdBu",
    hovertemplate: "%{y}<br>%{x}<br>ρ = %{z:.3f}<extra></extra>" }],
    { margin: { l: 170, r: 20, t: 10, b: 150 }, yaxis: { autorange: "reversed", tickfont: { size: 10 } }, xaxis: { tickangle: -60, tickfont: { size: 10 } } });
}
