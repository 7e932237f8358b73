/* hepfit report, client side: data, helpers, derived pulls and constraints
 * Plain browser JavaScript; the page concatenates the files of CLIENT_SCRIPTS (htmlPage.ts) inside
 * one function scope, so they share the variables of common.js. No network access (see the CSP).
 * Every name from the fit is data: it reaches the DOM through textContent/setAttribute only, and
 * plotly (which reads a little HTML in its strings) only through ptext(), which escapes it. */
var D = JSON.parse(document.getElementById("report-data").textContent);
var FIT = D.fit;
var REF = D.reference;
var PLOT_CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["sendDataToCloud"], showLink: false, showSendToCloud: false };
var PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac", "#86bcb6", "#d37295"];

// ---------- small helpers ----------
function el(tag, attrs) {
  var e = document.createElement(tag);
  if (attrs) for (var k in attrs) {
    if (k === "text") e.textContent = attrs[k];
    else if (k === "cls") e.className = attrs[k];
    else if (k.slice(0, 2) === "on") e.addEventListener(k.slice(2), attrs[k]);
    else e.setAttribute(k, attrs[k]);
  }
  for (var i = 2; i < arguments.length; i++) {
    var c = arguments[i];
    if (c === null || c === undefined) continue;
    e.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
  return e;
}
var SVGNS = "http://www.w3.org/2000/svg";
function sv(tag, attrs) {
  var e = document.createElementNS(SVGNS, tag);
  for (var k in attrs) e.setAttribute(k, attrs[k]);
  return e;
}
/** plotly interprets <b>, <br>, &entities; in strings: escape names before handing them over */
function ptext(s) {
  return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
var GREEK = { alpha: "α", beta: "β", gamma: "γ", Delta: "Δ", delta: "δ", eta: "η", theta: "θ", mu: "μ", nu: "ν", pi: "π", phi: "φ", sigma: "σ", tau: "τ", chi: "χ", ell: "ℓ" };
/** an axis label in ROOT's TLatex style (p_{T}, #eta) for plotly: escaped first, then sub/superscripts */
function axisText(s) {
  return ptext(s)
    .replace(/_\{([^{}]*)\}/g, "<sub>$1</sub>")
    .replace(/\^\{([^{}]*)\}/g, "<sup>$1</sup>")
    .replace(/#([A-Za-z]+)/g, function (m, g) { return GREEK[g] || m; });
}
function isNum(v) { return typeof v === "number" && isFinite(v); }
function fmt(v, digits) {
  if (!isNum(v)) return "–";
  if (v === 0) return "0";
  if (Number.isInteger(v) && Math.abs(v) < 1e9) return String(v);
  var a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential((digits || 4) - 1);
  return v.toPrecision(digits || 4);
}
function option(value, label, selected) {
  var o = el("option", { value: value, text: label });
  if (selected) o.selected = true;
  return o;
}
function kvTable(rows) {
  var t = el("table", { cls: "kv" });
  // a value is text, or a DOM node (a nested table or list)
  rows.forEach(function (r) { t.appendChild(el("tr", null, el("th", { text: r[0] }), typeof r[1] === "object" && r[1] !== null ? el("td", null, r[1]) : el("td", { text: r[1] }))); });
  return t;
}
function dataTable(head, rows, nameCols) {
  var t = el("table", { cls: "data" });
  var hr = el("tr");
  head.forEach(function (h, i) { hr.appendChild(el("th", { text: h, cls: nameCols && nameCols.indexOf(i) >= 0 ? "name" : "" })); });
  t.appendChild(el("thead", null, hr));
  var tb = el("tbody");
  rows.forEach(function (r) {
    var tr = el("tr");
    r.forEach(function (c, i) {
      var td = el("td", { text: c, cls: nameCols && nameCols.indexOf(i) >= 0 ? "name" : "" });
      if (nameCols && nameCols.indexOf(i) >= 0) td.setAttribute("title", c);
      tr.appendChild(td);
    });
    tb.appendChild(tr);
  });
  t.appendChild(tb);
  return t;
}
function plotDiv(height) {
  return el("div", { cls: "plot", style: "height:" + height + "px" });
}
// plotly is embedded as text and run after the first paint; plots drawn before wait in a queue
var plotQueue = [];
var plotlyLoaded = false;
function withPlotly(f) {
  if (plotlyLoaded) f(); else plotQueue.push(f);
}
function loadPlotly() {
  var src = document.getElementById("plotly-src");
  var s = document.createElement("script");
  s.textContent = src.textContent;
  document.head.appendChild(s);
  plotlyLoaded = true;
  var q = plotQueue;
  plotQueue = [];
  q.forEach(function (f) {
    try { f(); } catch (e) { console.error(e); }
  });
}
function newPlot(div, traces, layout) {
  layout.margin = layout.margin || { l: 60, r: 20, t: 30, b: 50 };
  layout.font = layout.font || { size: 12 };
  withPlotly(function () { Plotly.newPlot(div, traces, layout, PLOT_CONFIG); });
}
function purge(div) {
  if (plotlyLoaded) Plotly.purge(div);
}
function section(id, title) {
  var s = el("section", { id: id }, el("h2", { text: title }));
  document.querySelector("main").appendChild(s);
  return s;
}

// ---------- derived per-parameter quantities ----------
function derive(fit) {
  var n = fit.names.length;
  var pull = new Array(n), constraint = new Array(n), index = new Map();
  for (var i = 0; i < n; i++) {
    index.set(fit.names[i], i);
    var pe = fit.prefitError[i];
    if (isNum(pe) && pe > 0 && isNum(fit.value[i]) && isNum(fit.prefit[i])) {
      pull[i] = (fit.value[i] - fit.prefit[i]) / pe;
      constraint[i] = isNum(fit.error[i]) ? fit.error[i] / pe : null;
    } else {
      pull[i] = null;
      constraint[i] = null;
    }
  }
  return { pull: pull, constraint: constraint, index: index };
}
var DV = derive(FIT);
var RDV = REF ? derive(REF) : null;
var N = FIT.names.length;
function isTarget(i) { return FIT.kinds[i] === "poi" || FIT.kinds[i] === "noi"; }
function refIndexOf(i) { return RDV ? RDV.index.get(FIT.names[i]) : undefined; }
