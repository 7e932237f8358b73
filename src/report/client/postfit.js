/* hepfit report, client side: prefit/postfit stacks per channel: unrolled and projected, with ratio
 * Plain browser JavaScript; the page concatenates the files of CLIENT_SCRIPTS (htmlPage.ts) inside
 * one function scope, so they share the variables of common.js. No network access (see the CSP).
 * Every name from the fit is data: it reaches the DOM through textContent/setAttribute only, and
 * plotly (which reads a little HTML in its strings) only through ptext(), which escapes it. */
// ---------- postfit plots ----------
/** Display bins of an axis: [lo, hi] positions and labels; categories sit at 0, 1, 2, ... */
function axisBins(axis, flow) {
  var out = [];
  if (axis.edges) {
    var e = axis.edges;
    if (flow) out.push({ lo: e[0] - (e[1] - e[0]), hi: e[0], label: "underflow" });
    for (var i = 0; i + 1 < e.length; i++) out.push({ lo: e[i], hi: e[i + 1], label: "[" + fmt(e[i], 4) + ", " + fmt(e[i + 1], 4) + ")" });
    if (flow) { var n = e.length - 1; out.push({ lo: e[n], hi: e[n] + (e[n] - e[n - 1]), label: "overflow" }); }
  } else {
    var cats = axis.categories || [];
    cats.forEach(function (c, k) { out.push({ lo: k - 0.5, hi: k + 0.5, label: String(c), cat: true }); });
    if (flow) out.push({ lo: cats.length - 0.5, hi: cats.length + 0.5, label: "overflow", cat: true });
  }
  return out;
}
/** Sums per display bin of `values` (length = channel size) over all axes but `k` (row-major). */
function project(values, dims, k) {
  var out = new Array(dims[k]).fill(0);
  var inner = 1;
  for (var a = k + 1; a < dims.length; a++) inner *= dims[a];
  for (var b = 0; b < values.length; b++) out[Math.floor(b / inner) % dims[k]] += values[b];
  return out;
}
function stepXY(edges, ys) {
  var x = [], y = [];
  for (var b = 0; b < ys.length; b++) { x.push(edges[b], edges[b + 1]); y.push(ys[b], ys[b]); }
  return { x: x, y: y };
}
function bandTrace(edges, lo, hi, name, yaxis, show) {
  var up = stepXY(edges, hi), dn = stepXY(edges, lo);
  return { type: "scatter", mode: "lines", x: up.x.concat(dn.x.slice().reverse()), y: up.y.concat(dn.y.slice().reverse()), fill: "toself",
    fillcolor: "rgba(60,60,60,0.28)", line: { width: 0 }, name: name, hoverinfo: "skip", yaxis: yaxis, showlegend: show, legendgroup: "unc" };
}
function stackPlot(div, ch, stageName, view, logy, bandMode) {
  var stage = ch[stageName];
  var axes = ch.axes;
  var abins = axes.map(function (a) { return axisBins(a, ch.flow); });
  var dims = abins.map(function (b) { return b.length; });
  var edges, centers, xaxis = {}, labels, nb;
  var reduce;
  if (view === "unrolled" || axes.length === 1) {
    var k1 = axes.length === 1 ? 0 : -1;
    if (k1 === 0) {
      edges = abins[0].map(function (b) { return b.lo; }).concat([abins[0][abins[0].length - 1].hi]);
      labels = abins[0].map(function (b) { return b.label; });
      if (abins[0][0] && abins[0][0].cat) xaxis = { tickvals: abins[0].map(function (_, i) { return i; }), ticktext: labels.map(ptext) };
      xaxis.title = { text: axisText(axes[0].label || axes[0].name) };
    } else {
      nb = ch.size;
      edges = []; for (var e = 0; e <= nb; e++) edges.push(e);
      labels = [];
      for (var b = 0; b < nb; b++) {
        var rem = b, parts = [];
        for (var a = dims.length - 1; a >= 0; a--) { parts.unshift((axes[a].name) + " " + abins[a][rem % dims[a]].label); rem = Math.floor(rem / dims[a]); }
        labels.push("bin " + b + ": " + parts.join(", "));
      }
      xaxis.title = { text: "unrolled bin (" + axes.map(function (a) { return ptext(a.name); }).join(" × ") + ", last fastest)" };
    }
    reduce = function (v) { return v; };
  } else {
    var k = Number(view);
    edges = abins[k].map(function (b) { return b.lo; }).concat([abins[k][abins[k].length - 1].hi]);
    labels = abins[k].map(function (b) { return b.label; });
    if (abins[k][0] && abins[k][0].cat) xaxis = { tickvals: abins[k].map(function (_, i) { return i; }), ticktext: labels.map(ptext) };
    xaxis.title = { text: axisText(axes[k].label || axes[k].name) + " (projection)" };
    reduce = function (v) { return project(v, dims, k); };
  }
  var nproc = D.procs.length;
  var traces = [];
  var cum = null;
  var procTotals = [];
  for (var p = 0; p < nproc; p++) {
    var col = reduce(stage.yields.map(function (r) { return r[p]; }));
    procTotals.push(col.reduce(function (s, v) { return s + v; }, 0));
    cum = cum ? cum.map(function (c, i) { return c + col[i]; }) : col.slice();
    var st = stepXY(edges, cum);
    traces.push({ type: "scatter", mode: "lines", x: st.x, y: st.y, fill: p === 0 ? "tozeroy" : "tonexty", line: { width: 0.6, color: PALETTE[p % PALETTE.length] },
      fillcolor: PALETTE[p % PALETTE.length], name: ptext(D.procs[p]), hoverinfo: "skip", legendrank: 1000 - p });
  }
  var total = reduce(stage.total);
  // projections: bin-to-bin correlations are not stored in the results, so the band adds the
  // per-bin σ either in quadrature (uncorrelated) or linearly (fully correlated), as chosen
  var projected = !(view === "unrolled" || axes.length === 1);
  var err = projected && bandMode === "linear" ? reduce(stage.totalErr) : reduce(stage.totalErr.map(function (v) { return v * v; })).map(Math.sqrt);
  var bandName = projected ? (bandMode === "linear" ? "total unc. (Σσ, fully correlated)" : "total unc. (√Σσ², uncorrelated)") : "total unc.";
  var lo = total.map(function (t, i) { return t - err[i]; }), hi = total.map(function (t, i) { return t + err[i]; });
  traces.push(bandTrace(edges, lo, hi, bandName, "y", true));
  var centers = edges.slice(0, -1).map(function (e, i) { return 0.5 * (e + edges[i + 1]); });
  traces.push({ type: "scatter", mode: "markers", x: centers, y: total, marker: { size: 1, color: "rgba(0,0,0,0)" }, showlegend: false, name: "prediction",
    text: labels.map(ptext), hovertemplate: "%{text}<br>prediction %{y:.6g}<extra></extra>" });
  var data = ch.data ? reduce(ch.data) : null;
  if (data) {
    traces.push({ type: "scatter", mode: "markers", x: centers, y: data, name: "data", marker: { color: "#000", size: nb > 300 ? 3 : 5 },
      error_y: { type: "data", array: data.map(function (d) { return Math.sqrt(Math.max(d, 0)); }), width: 0, thickness: 1, color: "#000" },
      text: labels.map(ptext), hovertemplate: "%{text}<br>data %{y:.6g}<extra></extra>" });
  }
  // ratio panel
  var one = total.map(function () { return 1; });
  traces.push(bandTrace(edges, total.map(function (t, i) { return t > 0 ? 1 - err[i] / t : 1; }), total.map(function (t, i) { return t > 0 ? 1 + err[i] / t : 1; }), "total unc.", "y2", false));
  var rr = [];
  if (data) {
    rr = data.map(function (d, i) { return total[i] > 0 ? d / total[i] : null; });
    traces.push({ type: "scatter", mode: "markers", x: centers, y: rr, yaxis: "y2", showlegend: false, name: "data/pred.", marker: { color: "#000", size: nb > 300 ? 3 : 5 },
      error_y: { type: "data", array: data.map(function (d, i) { return total[i] > 0 ? Math.sqrt(Math.max(d, 0)) / total[i] : 0; }), width: 0, thickness: 1, color: "#000" },
      text: labels.map(ptext), hovertemplate: "%{text}<br>data/pred. %{y:.4f}<extra></extra>" });
  }
  var dev = 0.05;
  rr.concat(total.map(function (t, i) { return t > 0 ? 1 + err[i] / t : 1; })).forEach(function (v) { if (isNum(v)) dev = Math.max(dev, Math.abs(v - 1)); });
  dev = Math.min(dev * 1.15, 1);
  var shapes = [{ type: "line", xref: "paper", x0: 0, x1: 1, yref: "y2", y0: 1, y1: 1, line: { color: "#666", width: 1, dash: "dot" } }];
  if (view === "unrolled" && axes.length > 1) {
    var block = ch.size / dims[0];
    for (var o = 1; o < dims[0]; o++) shapes.push({ type: "line", x0: o * block, x1: o * block, yref: "paper", y0: 0, y1: 1, line: { color: "#aaa", width: 0.5 } });
  }
  var ymax = Math.max.apply(null, hi.concat(data || []));
  var title = stageName + (ch.masked ? " (masked channel, no data)" : "");
  var layout = {
    title: { text: ptext(title), font: { size: 13 }, x: 0.02 },
    margin: { l: 65, r: 15, t: 30, b: 55 },
    xaxis: Object.assign({ anchor: "y2" }, xaxis),
    yaxis: { domain: [0.3, 1], title: { text: "events" + (view !== "unrolled" && axes.length > 1 ? " (sum)" : "") }, type: logy ? "log" : "linear", range: logy ? undefined : [0, ymax * 1.25] },
    yaxis2: { domain: [0, 0.25], title: { text: "data/pred." }, range: [1 - dev, 1 + dev] },
    legend: { orientation: "h", y: 1.13, x: 0 },
    shapes: shapes,
    hovermode: "closest",
  };
  newPlot(div, traces, layout);
  return procTotals;
}
function postfitSection() {
  var s = section("postfit", "Prefit and postfit distributions");
  if (!D.channels.length) { s.appendChild(el("p", { cls: "note", text: "no channels in fitresults.hdf5" })); return; }
  s.appendChild(el("p", { cls: "note", text: "stacked by process; band: total uncertainty from the stored yield variances (prefit: prefit nuisance variances; postfit: full postfit covariance). Bin-to-bin correlations are not stored in the results, so a projection's band is approximate: the per-bin σ added in quadrature (uncorrelated) or linearly (fully correlated), as chosen. Data errors √N." }));
  var chSel = el("select", { id: "ch-select" });
  D.channels.forEach(function (ch, k) { chSel.appendChild(option(String(k), ch.name + (ch.masked ? " (masked)" : "") + " — " + ch.axes.map(function (a) { return a.name; }).join(" × ") + ", " + ch.size + " bins")); });
  var viewSel = el("select", { id: "ch-view" });
  var logBox = el("input", { type: "checkbox", id: "ch-logy" });
  var bandSel = el("select", { id: "ch-band", title: "how the per-bin uncertainties are added in a projection" },
    option("quadrature", "in quadrature (uncorrelated bins)", true), option("linear", "linearly (fully correlated bins)"));
  s.appendChild(el("div", { cls: "controls" }, el("label", null, "channel ", chSel), el("label", null, "view ", viewSel),
    el("label", null, "projection band ", bandSel), el("label", null, logBox, " log y")));
  var grid = el("div", { cls: "grid" });
  var pre = plotDiv(430), post = plotDiv(430);
  pre.id = "plot-prefit"; post.id = "plot-postfit";
  pre.style.width = post.style.width = "calc(50% - 8px)";
  pre.style.minWidth = post.style.minWidth = "420px";
  grid.appendChild(pre); grid.appendChild(post);
  s.appendChild(grid);
  function fillViews() {
    var ch = D.channels[Number(chSel.value)];
    viewSel.textContent = "";
    if (ch.axes.length > 1) {
      viewSel.appendChild(option("unrolled", "unrolled (all " + ch.size + " bins)", true));
      ch.axes.forEach(function (a, k) { viewSel.appendChild(option(String(k), "projection on " + a.name)); });
    } else viewSel.appendChild(option("unrolled", ch.axes[0] ? ch.axes[0].name : "bins", true));
  }
  function draw() {
    var ch = D.channels[Number(chSel.value)];
    [["prefit", pre], ["postfit", post]].forEach(function (x) {
      purge(x[1]);
      x[1].textContent = "";
      if (ch[x[0]]) stackPlot(x[1], ch, x[0], viewSel.value, logBox.checked, bandSel.value);
      else x[1].appendChild(el("p", { cls: "note", text: "no " + x[0] + " yields stored" }));
    });
  }
  chSel.addEventListener("change", function () { fillViews(); draw(); });
  viewSel.addEventListener("change", draw);
  bandSel.addEventListener("change", draw);
  logBox.addEventListener("change", draw);
  fillViews();
  // large channels cost a second or more: draw when the section comes into view
  var drawn = false;
  function first() {
    if (drawn) return;
    drawn = true;
    draw();
    withPlotly(function () { document.body.setAttribute("data-postfit-drawn", "1"); });
  }
  if ("IntersectionObserver" in window) {
    var io = new IntersectionObserver(function (entries) {
      if (entries.some(function (e) { return e.isIntersecting; })) { io.disconnect(); first(); }
    }, { rootMargin: "200px" });
    io.observe(s);
  } else first();
  chSel.addEventListener("focus", first);
}
