/* hepfit report, client side. Plain browser JavaScript, no network access (see the page's CSP).
 * Every name from the fit is data: it reaches the DOM through textContent/setAttribute only, and
 * plotly (which reads a little HTML in its strings) only through ptext(), which escapes it. */
(function () {
  "use strict";
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
    rows.forEach(function (r) { t.appendChild(el("tr", null, el("th", { text: r[0] }), el("td", { text: r[1] }))); });
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
      if (v === null || typeof v !== "object") rows.push([k, isNum(v) ? fmt(v, 6) : String(v)]);
      else rows.push([k, JSON.stringify(v)]);
    });
    if (S.engine) rows.push(["engine", Object.keys(S.engine).map(function (k) { return k + " " + S.engine[k]; }).join(", ")]);
    grid.appendChild(el("div", { cls: "card" }, el("h3", { text: "Minimum and goodness of fit" }), kvTable(rows)));
    if (S.timing) {
      grid.appendChild(el("div", { cls: "card" }, el("h3", { text: "Timing [s]" }),
        kvTable(Object.keys(S.timing).map(function (k) { return [k.replace(/_s$/, ""), fmt(S.timing[k], 4)]; }))));
    }
    if (S.meta) {
      grid.appendChild(el("div", { cls: "card" }, el("h3", { text: "Provenance" }),
        kvTable(Object.keys(S.meta).map(function (k) { return [k, String(S.meta[k])]; }))));
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

  // ---------- pulls and impacts ----------
  // without impacts the table starts sorted by |pull|
  var state = { target: FIT.targets[0] || null, type: null, sort: FIT.targets.length ? "impact" : "pull", desc: true, filter: "", kinds: "nuisances", page: 0, pageSize: 50 };
  function impactTypes(fit, target) {
    return ["hessian", "global", "refit"].filter(function (t) { return fit.impacts[t] && fit.impacts[t][target]; });
  }
  var TYPE_LABEL = { hessian: "Hessian (traditional)", global: "global", refit: "refit (θ fixed at θ̂ ± σ)" };
  function impactOf(fit, type, target, i) {
    var cols = fit && fit.impacts[type] && fit.impacts[type][target];
    if (!cols || i === undefined) return null;
    var u = cols.up[i], d = cols.down[i];
    if (!isNum(u) && !isNum(d)) return null;
    return { up: u, down: d, max: Math.max(isNum(u) ? Math.abs(u) : 0, isNum(d) ? Math.abs(d) : 0) };
  }

  var np = {};
  function pullsSection() {
    var s = section("pulls", "Pulls, constraints and impacts");
    s.appendChild(el("p", { cls: "note", text: "pull = (θ̂ − θ₀)/σ_prefit with error bar σ̂/σ_prefit (the constraint); impacts: shift of the selected POI/NOI when the nuisance moves by ±1σ̂ (red +1σ, blue −1σ)" + (REF ? "; orange: " + REF.label : "") + ". Rank: position by |impact| on the selected POI/NOI." }));
    // summary first (as Combine prints it), then the table
    np.summary = el("div", { cls: "grid", id: "np-summary" });
    s.appendChild(np.summary);
    var c = el("div", { cls: "controls" });
    np.target = el("select", { id: "np-target", onchange: function () { state.target = np.target.value; state.page = 0; fillTypes(); refresh(); } });
    FIT.targets.forEach(function (t) { np.target.appendChild(option(t, t, t === state.target)); });
    np.type = el("select", { id: "np-type", onchange: function () { state.type = np.type.value; state.page = 0; refresh(); } });
    np.sort = el("select", { id: "np-sort", onchange: function () { state.sort = np.sort.value; state.desc = state.sort !== "name"; np.dir.textContent = state.desc ? "↓" : "↑"; state.page = 0; refresh(); } },
      option("impact", "|impact|", state.sort === "impact"), option("pull", "|pull|", state.sort === "pull"), option("constraint", "constraint (strongest first)"), option("name", "name"), option("order", "fit order"));
    np.dir = el("button", { id: "np-dir", type: "button", title: "reverse the order", text: "↓", onclick: function () { state.desc = !state.desc; np.dir.textContent = state.desc ? "↓" : "↑"; state.page = 0; refresh(); } });
    np.filter = el("input", { id: "np-filter", type: "text", placeholder: "regular expression", spellcheck: "false" });
    np.filter.addEventListener("input", function () { state.filter = np.filter.value; state.page = 0; refresh(); });
    np.kinds = el("select", { id: "np-kinds", onchange: function () { state.kinds = np.kinds.value; state.page = 0; refresh(); } },
      option("nuisances", "nuisances (constrained and free)", true), option("constrained", "constrained only"), option("all", "all parameters"));
    np.pageSize = el("select", { id: "np-pagesize", onchange: function () { state.pageSize = Number(np.pageSize.value); state.page = 0; refresh(); } },
      option("25", "25"), option("50", "50", true), option("100", "100"), option("200", "200"));
    np.info = el("span", { id: "np-info" });
    var pager = el("span", { cls: "pager" },
      el("button", { type: "button", text: "«", title: "first page", onclick: function () { state.page = 0; refresh(); } }),
      el("button", { id: "np-prev", type: "button", text: "‹", title: "previous page", onclick: function () { state.page--; refresh(); } }),
      el("button", { id: "np-next", type: "button", text: "›", title: "next page", onclick: function () { state.page++; refresh(); } }),
      el("button", { type: "button", text: "»", title: "last page", onclick: function () { state.page = 1e9; refresh(); } }));
    c.appendChild(el("label", null, "POI/NOI ", np.target));
    c.appendChild(el("label", null, "impacts ", np.type));
    c.appendChild(el("label", null, "sort by ", np.sort, np.dir));
    c.appendChild(el("label", null, "filter ", np.filter));
    c.appendChild(el("label", null, "show ", np.kinds));
    c.appendChild(el("label", null, "rows/page ", np.pageSize));
    c.appendChild(pager);
    c.appendChild(np.info);
    s.appendChild(c);
    np.table = el("table", { cls: "np", id: "np-table" });
    s.appendChild(np.table);
    if (!FIT.targets.length) np.target.appendChild(option("", "(no impacts in this fit)", true));
    fillTypes();
  }
  function fillTypes() {
    np.type.textContent = "";
    var types = state.target ? impactTypes(FIT, state.target) : [];
    if (types.indexOf(state.type) < 0) state.type = types[0] || null;
    types.forEach(function (t) { np.type.appendChild(option(t, TYPE_LABEL[t], t === state.type)); });
    if (!types.length) np.type.appendChild(option("", "none", true));
  }

  var PULL_W = 230, IMP_W = 230, ROW_H = 21, PULL_RANGE = 3;
  function pullSvg(p, c, rp, rc) {
    var svg = sv("svg", { width: PULL_W, height: ROW_H, viewBox: "0 0 " + PULL_W + " " + ROW_H });
    var X = function (v) { return PULL_W / 2 + (v / PULL_RANGE) * (PULL_W / 2 - 6); };
    svg.appendChild(sv("rect", { x: X(-2), y: 0, width: X(2) - X(-2), height: ROW_H, fill: "#fff4c2" }));
    svg.appendChild(sv("rect", { x: X(-1), y: 0, width: X(1) - X(-1), height: ROW_H, fill: "#d9f2d0" }));
    svg.appendChild(sv("line", { x1: X(0), x2: X(0), y1: 0, y2: ROW_H, stroke: "#999", "stroke-width": 1 }));
    function mark(v, e, y, color, hollow) {
      if (!isNum(v)) return;
      var cv = Math.max(-PULL_RANGE, Math.min(PULL_RANGE, v));
      if (isNum(e)) svg.appendChild(sv("line", { x1: X(Math.max(-PULL_RANGE, v - e)), x2: X(Math.min(PULL_RANGE, v + e)), y1: y, y2: y, stroke: color, "stroke-width": 1.5 }));
      if (cv !== v) {
        var x = X(cv), dx = v > 0 ? -6 : 6;
        svg.appendChild(sv("path", { d: "M" + x + " " + y + " l" + dx + " -4 l0 8 z", fill: color }));
      } else {
        svg.appendChild(sv("circle", { cx: X(v), cy: y, r: 3.2, fill: hollow ? "#fff" : color, stroke: color, "stroke-width": 1.5 }));
      }
    }
    if (rp !== undefined) { mark(p, c, 7, "#111", false); mark(rp, rc, 15, "#ff7f0e", true); }
    else mark(p, c, ROW_H / 2, "#111", false);
    return svg;
  }
  function impactSvg(imp, rimp, scale) {
    var svg = sv("svg", { width: IMP_W, height: ROW_H, viewBox: "0 0 " + IMP_W + " " + ROW_H });
    // no impacts at all (scale 0): only the centre line
    var X = function (v) { return IMP_W / 2 + (scale > 0 ? (v / scale) * (IMP_W / 2 - 4) : 0); };
    svg.appendChild(sv("line", { x1: X(0), x2: X(0), y1: 0, y2: ROW_H, stroke: "#999", "stroke-width": 1 }));
    function bar(v, y, h, color, outline) {
      if (!isNum(v) || !(scale > 0)) return;
      var a = X(0), b = X(v);
      var attrs = { x: Math.min(a, b), y: y, width: Math.max(Math.abs(b - a), 0.5), height: h };
      if (outline) { attrs.fill = "none"; attrs.stroke = color; attrs["stroke-width"] = 1.5; }
      else attrs.fill = color;
      svg.appendChild(sv("rect", attrs));
    }
    if (imp) { bar(imp.up, 3, 7, "#d62728"); bar(imp.down, 11, 7, "#1f77b4"); }
    if (rimp) { bar(rimp.up, 3, 7, "#ff7f0e", true); bar(rimp.down, 11, 7, "#ff7f0e", true); }
    return svg;
  }

  /** Indices passing the kind and regex filters, and the ranks by |impact|. */
  function selection() {
    var re = null;
    np.filter.classList.remove("bad");
    np.filter.removeAttribute("title");
    if (state.filter) {
      try { re = new RegExp(state.filter); }
      catch (e) { np.filter.classList.add("bad"); np.filter.setAttribute("title", "not a valid regular expression: " + e.message); re = null; }
    }
    var idx = [];
    for (var i = 0; i < N; i++) {
      var k = FIT.kinds[i];
      if (state.kinds === "nuisances" && (k === "poi" || k === "noi")) continue;
      if (state.kinds === "constrained" && k !== "nuisance") continue;
      if (re && !re.test(FIT.names[i])) continue;
      idx.push(i);
    }
    return idx;
  }
  function ranks() {
    var all = [];
    for (var i = 0; i < N; i++) {
      var imp = state.type ? impactOf(FIT, state.type, state.target, i) : null;
      if (imp && !isTarget(i)) all.push([i, imp.max]);
    }
    all.sort(function (a, b) { return b[1] - a[1]; });
    var r = new Map();
    all.forEach(function (x, k) { r.set(x[0], k + 1); });
    return r;
  }
  function sortKey(i) {
    switch (state.sort) {
      case "impact": { var imp = state.type ? impactOf(FIT, state.type, state.target, i) : null; return imp ? imp.max : -1; }
      case "pull": return isNum(DV.pull[i]) ? Math.abs(DV.pull[i]) : -1;
      // strongest constraint = smallest σ̂/σ_prefit first when "descending"
      case "constraint": return isNum(DV.constraint[i]) ? -DV.constraint[i] : -Infinity;
      default: return i;
    }
  }
  function sorted(idx) {
    if (state.sort === "name") {
      var coll = new Intl.Collator(undefined, { numeric: true });
      idx.sort(function (a, b) { return coll.compare(FIT.names[a], FIT.names[b]) * (state.desc ? -1 : 1); });
      return idx;
    }
    var keys = new Map();
    idx.forEach(function (i) { keys.set(i, sortKey(i)); });
    idx.sort(function (a, b) {
      var d = keys.get(a) - keys.get(b);
      if (d === 0 || !isFinite(d)) d = (keys.get(a) === keys.get(b)) ? a - b : (keys.get(a) < keys.get(b) ? -1 : 1);
      return state.desc ? -d : d;
    });
    return idx;
  }

  function refresh() {
    var idx = sorted(selection());
    var rk = ranks();
    var total = idx.length;
    var pages = Math.max(1, Math.ceil(total / state.pageSize));
    state.page = Math.max(0, Math.min(state.page, pages - 1));
    var first = state.page * state.pageSize;
    var rows = idx.slice(first, first + state.pageSize);
    // one impact scale for all filtered rows, so paging keeps the bars comparable
    var scale = 0;
    idx.forEach(function (i) {
      var a = state.type ? impactOf(FIT, state.type, state.target, i) : null;
      if (a) scale = Math.max(scale, a.max);
      var b = state.type ? impactOf(REF, state.type, state.target, refIndexOf(i)) : null;
      if (b) scale = Math.max(scale, b.max);
    });
    np.info.textContent = total ? "rows " + (first + 1) + "–" + (first + rows.length) + " of " + total + (total !== N ? " (of " + N + " parameters)" : "") + ", page " + (state.page + 1) + "/" + pages : "no parameter matches";
    document.getElementById("np-prev").disabled = state.page === 0;
    document.getElementById("np-next").disabled = state.page >= pages - 1;
    var t = np.table;
    t.textContent = "";
    var cg = el("colgroup");
    [52, 0, 80, 80, PULL_W + 8, 90, 90, IMP_W + 8].forEach(function (w) { cg.appendChild(el("col", w ? { style: "width:" + w + "px" } : null)); });
    t.appendChild(cg);
    var head = el("tr", null, el("th", { text: "rank" }), el("th", { text: "parameter" }), el("th", { text: "pull" }), el("th", { text: "σ̂/σ_pre" }),
      el("th", { text: "pull (−3…3)" }), el("th", { text: "+1σ" }), el("th", { text: "−1σ" }),
      el("th", { text: "impact (±" + fmt(scale, 3) + ")" }));
    t.appendChild(el("thead", null, head));
    var tb = el("tbody");
    rows.forEach(function (i) {
      var imp = state.type ? impactOf(FIT, state.type, state.target, i) : null;
      var j = refIndexOf(i);
      var rimp = state.type ? impactOf(REF, state.type, state.target, j) : null;
      var nameCell = el("td", { cls: "name", title: FIT.names[i] + " (" + FIT.kinds[i] + ")", text: FIT.names[i] });
      // unconstrained parameters have no pull: their value is shown instead (in italics)
      var pullText = isNum(DV.pull[i]) ? fmt(DV.pull[i], 3) : (isNum(FIT.value[i]) ? "θ̂ " + fmt(FIT.value[i], 3) : "–");
      var tr = el("tr", { "data-index": String(i) },
        el("td", { cls: "num", text: rk.has(i) ? String(rk.get(i)) : "–" }),
        nameCell,
        el("td", { cls: isNum(DV.pull[i]) ? "num" : "num free", text: pullText }),
        el("td", { cls: "num", text: isNum(DV.constraint[i]) ? fmt(DV.constraint[i], 3) : FIT.kinds[i] }),
        el("td", { cls: "svg" }, pullSvg(DV.pull[i], DV.constraint[i], j === undefined ? undefined : RDV.pull[j], j === undefined ? undefined : RDV.constraint[j])),
        el("td", { cls: "num", text: imp ? fmt(imp.up, 3) : "–" }),
        el("td", { cls: "num", text: imp ? fmt(imp.down, 3) : "–" }),
        el("td", { cls: "svg" }, impactSvg(imp, rimp, scale)));
      var tip = FIT.names[i] + ": θ̂ = " + fmt(FIT.value[i], 5) + " ± " + fmt(FIT.error[i], 4) + ", prefit " + fmt(FIT.prefit[i], 4) + " ± " + fmt(FIT.prefitError[i], 4);
      if (j !== undefined) tip += "\n" + REF.label + ": θ̂ = " + fmt(REF.value[j], 5) + " ± " + fmt(REF.error[j], 4) + (rimp ? ", impact +" + fmt(rimp.up, 3) + "/" + fmt(rimp.down, 3) : "");
      tr.setAttribute("title", tip);
      tb.appendChild(tr);
    });
    t.appendChild(tb);
    summary();
  }

  // Combine-like summary: top pulls, constraints, impacts; pull distribution vs N(0,1)
  var summaryKey = null;
  function summary() {
    var key = state.target + "|" + state.type;
    if (summaryKey === key) return;
    summaryKey = key;
    // the top-10 tables follow the POI and impact type; the pull histogram does not
    if (!np.tops) {
      np.tops = el("div", { cls: "grid" });
      np.summary.appendChild(np.tops);
    }
    var box = np.tops;
    box.textContent = "";
    var cons = [];
    for (var i = 0; i < N; i++) if (isNum(DV.pull[i])) cons.push(i);
    var top = function (arr, keyf, n) { return arr.slice().sort(function (a, b) { return keyf(b) - keyf(a); }).slice(0, n); };
    var tp = top(cons, function (i) { return Math.abs(DV.pull[i]); }, 10);
    box.appendChild(el("div", { cls: "card", id: "top-pulls" }, el("h3", { text: "Largest |pulls|" }),
      dataTable(["parameter", "pull", "σ̂/σ_pre"], tp.map(function (i) { return [FIT.names[i], fmt(DV.pull[i], 3), fmt(DV.constraint[i], 3)]; }), [0])));
    var tc = top(cons.filter(function (i) { return isNum(DV.constraint[i]); }), function (i) { return -DV.constraint[i]; }, 10);
    box.appendChild(el("div", { cls: "card", id: "top-constraints" }, el("h3", { text: "Strongest constraints" }),
      dataTable(["parameter", "σ̂/σ_pre", "pull"], tc.map(function (i) { return [FIT.names[i], fmt(DV.constraint[i], 3), fmt(DV.pull[i], 3)]; }), [0])));
    if (state.type) {
      var withImp = [];
      for (var k = 0; k < N; k++) if (!isTarget(k) && impactOf(FIT, state.type, state.target, k)) withImp.push(k);
      var ti = top(withImp, function (i) { return impactOf(FIT, state.type, state.target, i).max; }, 10);
      box.appendChild(el("div", { cls: "card", id: "top-impacts" }, el("h3", { text: "Largest impacts on " + state.target + " (" + state.type + ")" }),
        dataTable(["parameter", "+1σ", "−1σ"], ti.map(function (i) { var m = impactOf(FIT, state.type, state.target, i); return [FIT.names[i], fmt(m.up, 3), fmt(m.down, 3)]; }), [0])));
    }
    // pull histogram against N(0,1), counts beyond 1, 2, 3σ vs expectation
    if (summary.drawn) return;
    summary.drawn = true;
    var card = el("div", { cls: "card", id: "pull-hist" }, el("h3", { text: "Pull distribution (" + cons.length + " constrained parameters)" }));
    var beyond = [1, 2, 3].map(function (z) {
      var c = 0;
      cons.forEach(function (i) { if (Math.abs(DV.pull[i]) > z) c++; });
      var p = erfc(z / Math.SQRT2);
      return [">" + z + "σ", String(c), (cons.length * p).toFixed(1), fmt(cons.length ? c / cons.length : NaN, 3)];
    });
    var mean = 0, sd = 0;
    cons.forEach(function (i) { mean += DV.pull[i]; });
    mean /= Math.max(cons.length, 1);
    cons.forEach(function (i) { sd += (DV.pull[i] - mean) * (DV.pull[i] - mean); });
    sd = Math.sqrt(sd / Math.max(cons.length - 1, 1));
    var div = plotDiv(260);
    div.style.width = "420px";
    card.appendChild(div);
    card.appendChild(el("p", { cls: "note", text: "mean " + fmt(mean, 3) + ", std. dev. " + fmt(sd, 3) + " (N(0,1): 0, 1)" }));
    card.appendChild(dataTable(["|pull|", "observed", "expected N(0,1)", "fraction"], beyond));
    np.summary.appendChild(card);
    var w = 0.25, lo = -5, nb = 40, counts = new Array(nb).fill(0), over = 0;
    cons.forEach(function (i) {
      var b = Math.floor((DV.pull[i] - lo) / w);
      if (b < 0 || b >= nb) over++; else counts[b]++;
    });
    var xs = counts.map(function (_, b) { return lo + (b + 0.5) * w; });
    var gx = [], gy = [];
    for (var x = lo; x <= -lo + 1e-9; x += 0.05) { gx.push(x); gy.push(cons.length * w * Math.exp(-x * x / 2) / Math.sqrt(2 * Math.PI)); }
    newPlot(div, [
      { type: "bar", x: xs, y: counts, width: w, name: "pulls", marker: { color: "#4e79a7" } },
      { type: "scatter", mode: "lines", x: gx, y: gy, name: "N(0,1)", line: { color: "#d62728" } },
    ], { margin: { l: 45, r: 10, t: 10, b: 40 }, xaxis: { title: { text: "pull" + (over ? " (" + over + " outside ±5)" : "") } }, yaxis: { title: { text: "parameters" } }, showlegend: true, legend: { x: 0.75, y: 1 } });
  }
  function erfc(x) {
    // Numerical Recipes erfc (relative error < 1.2e-7), enough for expected counts
    var z = Math.abs(x), t = 1 / (1 + 0.5 * z);
    var r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
    return x >= 0 ? r : 2 - r;
  }

  // ---------- grouped impacts ----------
  function groupedSection() {
    var s = section("grouped", "Grouped impacts");
    var G = FIT.grouped;
    if (!G || !FIT.targets.length) { s.appendChild(el("p", { cls: "note", text: "no grouped impacts in this fit (run fit --impacts)" })); return; }
    var sel = el("select", { id: "grouped-target" });
    FIT.targets.forEach(function (t) { sel.appendChild(option(t, t)); });
    var holder = el("div");
    s.appendChild(el("div", { cls: "controls" }, el("label", null, "POI/NOI ", sel)));
    s.appendChild(holder);
    function draw() {
      var t = sel.value;
      holder.textContent = "";
      var head = ["group", "Hessian", "global"];
      var RG = REF && REF.grouped;
      if (RG) head.push("reference Hessian", "reference global");
      var i = DV.index.get(t);
      var rows = G.names.map(function (g, k) {
        var r = [g, fmt((G.hessian[t] || [])[k], 4), fmt((G.global[t] || [])[k], 4)];
        if (RG) {
          var rk = RG.names.indexOf(g);
          r.push(rk < 0 ? "–" : fmt((RG.hessian[t] || [])[rk], 4), rk < 0 ? "–" : fmt((RG.global[t] || [])[rk], 4));
        }
        return r;
      });
      rows.push(["total (σ̂ of " + t + ")", fmt(i === undefined ? null : FIT.error[i], 4), ""].concat(RG ? [fmt(refIndexOf(i) === undefined ? null : REF.error[refIndexOf(i)], 4), ""] : []));
      holder.appendChild(dataTable(head, rows, [0]));
      holder.appendChild(el("p", { cls: "note", text: "\"stat\": Hessian column = impact of the unconstrained parameters' statistical part; global column = data statistics." }));
      var div = plotDiv(Math.max(180, 40 + 24 * G.names.length));
      div.style.maxWidth = "800px";
      holder.appendChild(div);
      var traces = [
        { type: "bar", orientation: "h", y: G.names.map(ptext), x: G.hessian[t] || [], name: "Hessian", marker: { color: "#4e79a7" } },
        { type: "bar", orientation: "h", y: G.names.map(ptext), x: G.global[t] || [], name: "global", marker: { color: "#59a14f" } },
      ];
      if (RG) traces.push({ type: "bar", orientation: "h", y: RG.names.map(ptext), x: RG.hessian[t] || [], name: "reference Hessian", marker: { color: "#ff7f0e" } });
      newPlot(div, traces, { barmode: "group", margin: { l: 150, r: 20, t: 10, b: 40 }, yaxis: { autorange: "reversed" }, xaxis: { title: { text: "impact on " + ptext(t) } } });
    }
    sel.addEventListener("change", draw);
    draw();
  }

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

  // ---------- scans, contours, limits, significance, toys ----------
  function postResults() {
    var s = section("postfit-results", "Scans, contours, limits, significance, toys");
    var P = D.post;
    var any = false;
    var grid = el("div", { cls: "grid" });
    s.appendChild(grid);
    function card(id, title) {
      var c = el("div", { cls: "card", id: id }, el("h3", { text: title }));
      grid.appendChild(c);
      any = true;
      return c;
    }
    function best(name) { var i = DV.index.get(name); return i === undefined ? null : FIT.value[i]; }
    if (P.scans) Object.keys(P.scans).forEach(function (name, k) {
      var sc = P.scans[name];
      var c = card("scan-" + k, "Likelihood scan: " + name);
      var div = plotDiv(300); div.style.width = "440px"; c.appendChild(div);
      newPlot(div, [{ type: "scatter", mode: "lines+markers", x: sc.values, y: sc.twice_dnll, name: "2Δ NLL", marker: { size: 4 } }],
        { xaxis: { title: { text: ptext(name) } }, yaxis: { title: { text: "−2 Δ ln L" }, rangemode: "tozero" },
          shapes: [1, 4].map(function (y) { return { type: "line", xref: "paper", x0: 0, x1: 1, y0: y, y1: y, line: { dash: "dash", color: "#d62728", width: 1 } }; }) });
    });
    if (P.scans2d) Object.keys(P.scans2d).forEach(function (key, k) {
      var sc = P.scans2d[key];
      var names = key.split(",");
      var c = card("scan2d-" + k, "2D scan: " + key);
      var div = plotDiv(360); div.style.width = "460px"; c.appendChild(div);
      // stored as one row per x; plotly's z is one row per y
      var z = sc.y.map(function (_, j) { return sc.x.map(function (_, i) { return sc.twice_dnll[i][j]; }); });
      var bx = best(names[0]), by = best(names[1]);
      var traces = [{ type: "contour", x: sc.x, y: sc.y, z: z, colorscale: "Viridis", reversescale: true, contours: { coloring: "heatmap", showlabels: true }, colorbar: { title: { text: "−2Δln L" } } }];
      if (isNum(bx) && isNum(by)) traces.push({ type: "scatter", mode: "markers", x: [bx], y: [by], marker: { symbol: "cross", size: 10, color: "#fff", line: { color: "#000", width: 1 } }, name: "best fit" });
      newPlot(div, traces, { xaxis: { title: { text: ptext(names[0] || "") } }, yaxis: { title: { text: ptext(names[1] || "") } }, showlegend: false });
    });
    if (P.contours) Object.keys(P.contours).forEach(function (key, k) {
      var ct = P.contours[key];
      var names = key.split(",");
      var c = card("contour-" + k, "Contours: " + key);
      var div = plotDiv(360); div.style.width = "440px"; c.appendChild(div);
      var traces = (ct.points || []).map(function (pts, l) {
        var closed = pts.concat(pts.length ? [pts[0]] : []);
        return { type: "scatter", mode: "lines", x: closed.map(function (p) { return p[0]; }), y: closed.map(function (p) { return p[1]; }), name: (ct.levels ? ct.levels[l] : l + 1) + "σ", line: { color: PALETTE[l % PALETTE.length] } };
      });
      var bx = best(names[0]), by = best(names[1]);
      if (isNum(bx) && isNum(by)) traces.push({ type: "scatter", mode: "markers", x: [bx], y: [by], name: "best fit", marker: { symbol: "cross", size: 9, color: "#000" } });
      newPlot(div, traces, { xaxis: { title: { text: ptext(names[0] || "") } }, yaxis: { title: { text: ptext(names[1] || "") } } });
    });
    if (P.limits) {
      var c = card("limits", "Upper limits (asymptotic CLs)");
      var names = Object.keys(P.limits);
      c.appendChild(dataTable(["POI", "CL", "observed", "expected −2σ", "−1σ", "median", "+1σ", "+2σ"], names.map(function (n) {
        var L = P.limits[n], e = L.expected || {};
        return [n, fmt(L.cl, 3), fmt(L.observed, 4), fmt(e["-2"], 4), fmt(e["-1"], 4), fmt(e["0"], 4), fmt(e["1"], 4), fmt(e["2"], 4)];
      }), [0]));
      var div = plotDiv(90 + 50 * names.length); div.style.width = "520px"; c.appendChild(div);
      var ys = names.map(ptext), traces = [];
      var band = function (a, b, color, label) {
        return { type: "bar", orientation: "h", y: ys, base: names.map(function (n) { return (P.limits[n].expected || {})[a]; }),
          x: names.map(function (n) { var e = P.limits[n].expected || {}; return isNum(e[b]) && isNum(e[a]) ? e[b] - e[a] : null; }), marker: { color: color }, name: label, width: 0.5 };
      };
      traces.push(band("-2", "2", "#fff200", "expected ±2σ"), band("-1", "1", "#00cc44", "expected ±1σ"));
      traces.push({ type: "scatter", mode: "markers", y: ys, x: names.map(function (n) { return (P.limits[n].expected || {})["0"]; }), marker: { symbol: "line-ns-open", size: 18, color: "#000" }, name: "expected" });
      traces.push({ type: "scatter", mode: "markers", y: ys, x: names.map(function (n) { return P.limits[n].observed; }), marker: { size: 9, color: "#000" }, name: "observed" });
      newPlot(div, traces, { barmode: "overlay", margin: { l: 110, r: 10, t: 10, b: 40 }, xaxis: { title: { text: "upper limit on μ" } } });
    }
    if (P.significance) {
      var c2 = card("significance", "Significance (asymptotic q₀)");
      c2.appendChild(dataTable(["POI", "observed Z", "expected Z"], Object.keys(P.significance).map(function (n) {
        return [n, fmt(P.significance[n].observed, 4), fmt(P.significance[n].expected, 4)];
      }), [0]));
    }
    if (P.toys) {
      var T = P.toys;
      var c3 = card("toys", "Toys");
      c3.appendChild(kvTable([["toys", String(T.n)], ["seed", String(T.seed)], ["failed", String(T.failed)], ["file", String(T.file || "–")],
        ["GOF p-value (toys with χ² ≥ observed)", T.gof ? fmt(T.gof.pvalue, 3) : "–"]]));
      if (T.parameters) {
        var tn = Object.keys(T.parameters);
        // the most biased first; the plot shows at most 60 of them
        tn.sort(function (a, b) { return Math.abs(T.parameters[b].pull_mean || 0) - Math.abs(T.parameters[a].pull_mean || 0); });
        var shown = tn.slice(0, 60);
        var div3 = plotDiv(80 + 16 * shown.length); div3.style.width = "520px"; c3.appendChild(div3);
        newPlot(div3, [{ type: "scatter", mode: "markers", y: shown.map(ptext), x: shown.map(function (n) { return T.parameters[n].pull_mean; }),
          error_x: { type: "data", array: shown.map(function (n) { return T.parameters[n].pull_std; }) }, name: "pull mean ± std", marker: { color: "#000" } }],
          { margin: { l: 150, r: 10, t: 10, b: 40 }, yaxis: { autorange: "reversed", tickfont: { size: 10 } }, xaxis: { title: { text: "toy pull mean ± std. dev." }, zeroline: true },
            shapes: [-1, 1].map(function (x) { return { type: "line", yref: "paper", y0: 0, y1: 1, x0: x, x1: x, line: { dash: "dot", color: "#999" } }; }) });
        c3.appendChild(el("p", { cls: "note", text: tn.length > shown.length ? "plot: the " + shown.length + " parameters with the largest |pull mean| of " + tn.length : "" }));
        c3.appendChild(dataTable(["parameter", "mean", "std", "pull mean", "pull std"], tn.slice(0, 200).map(function (n) {
          var q = T.parameters[n];
          return [n, fmt(q.mean, 4), fmt(q.std, 4), fmt(q.pull_mean, 3), fmt(q.pull_std, 3)];
        }), [0]));
      }
    }
    if (!any) s.appendChild(el("p", { cls: "note", text: "none in this fit (fit --scan, --scan2d, --contour, --minos, --limits, --significance, --toys add them)" }));
  }

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
})();
