/* histmaker plot, client side. Plain browser JavaScript, no network access (see the page's CSP).
 * Every name from the run is data: it reaches the DOM through textContent/setAttribute only, and
 * plotly (which reads a little HTML in its strings) only through ptext(), which escapes it.
 * The payload holds, per histogram, each process's scaled values/variances in the flow shape (tensor
 * index last); this script projects them onto one axis or unrolls them, then draws the stack, the
 * MC statistical band, the data with √n error bars and the data/MC ratio. */
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("plot-data").textContent);
  var PLOT_CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["sendDataToCloud", "select2d", "lasso2d"], showLink: false, showSendToCloud: false };
  var state = { log: !!D.logDefault, perWidth: false, views: [] };

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
  /** plotly interprets <b>, <br>, &entities; in strings: escape names before handing them over */
  function ptext(s) {
    return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }
  var GREEK = { alpha: "α", beta: "β", gamma: "γ", Delta: "Δ", delta: "δ", eta: "η", theta: "θ", mu: "μ", nu: "ν", pi: "π", phi: "φ", Phi: "Φ", sigma: "σ", tau: "τ", chi: "χ", ell: "ℓ" };
  /** an axis label in ROOT's TLatex style (p_{T} [GeV], #eta) for plotly: escaped first, then sub/superscripts */
  function axisText(s) {
    return ptext(s)
      .replace(/_\{([^{}]*)\}/g, "<sub>$1</sub>")
      .replace(/\^\{([^{}]*)\}/g, "<sup>$1</sup>")
      // without braces, TLatex takes one character (p_T, E^2); only a lone one here, so that
      // branch-like names (Muon_pt) stay as they are
      .replace(/_([A-Za-z0-9])(?![A-Za-z0-9])/g, "<sub>$1</sub>")
      .replace(/\^([A-Za-z0-9])(?![A-Za-z0-9])/g, "<sup>$1</sup>")
      .replace(/#([A-Za-z]+)/g, function (m, g) { return GREEK[g] || m; });
  }
  /** the unit in a label: "p_{T} [GeV]" or "m (GeV)" → "GeV" */
  function unitOf(label) {
    var m = /\[([^\]]+)\]\s*$/.exec(label) || /\(([^()]+)\)\s*$/.exec(label);
    return m ? m[1] : "";
  }
  function isNum(v) { return typeof v === "number" && isFinite(v); }
  function fmt(v, digits) {
    if (!isNum(v)) return "–";
    if (v === 0) return "0";
    if (Number.isInteger(v) && Math.abs(v) < 1e9) return String(v);
    var a = Math.abs(v);
    if (a >= 1e6 || a < 1e-3) return v.toExponential((digits || 4) - 1);
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
  function dataTable(caption, head, rows, nameCols) {
    var t = el("table", { cls: "data" });
    if (caption !== null) t.appendChild(el("caption", { text: caption }));
    var hr = el("tr");
    head.forEach(function (h, i) { hr.appendChild(el("th", { text: h, cls: nameCols.indexOf(i) >= 0 ? "name" : "" })); });
    t.appendChild(el("thead", null, hr));
    var tb = el("tbody");
    rows.forEach(function (r) {
      var tr = el("tr");
      r.forEach(function (c, i) {
        var td = el("td", { text: c, cls: nameCols.indexOf(i) >= 0 ? "name" : "" });
        if (nameCols.indexOf(i) >= 0) td.setAttribute("title", c);
        tr.appendChild(td);
      });
      tb.appendChild(tr);
    });
    t.appendChild(tb);
    return t;
  }

  // ---------- projections ----------
  /** whether axis a is fixed to one category in this view (never the axis projected on) */
  function isFixed(fixed, view, a) { return fixed && a !== view && fixed[a] >= 0; }
  /** the axes a view unrolls: those not fixed to one category */
  function unrolledAxes(h, fixed) {
    return h.axes.map(function (ax, a) { return a; }).filter(function (a) { return !isFixed(fixed, -1, a); });
  }
  /**
   * Bins shown for a histogram in a view: view = axis index (a projection: the other axes summed over
   * all their bins, flow included) or -1 (unrolled: the in-range bins of every axis, row-major);
   * fixed[a] >= 0 keeps only that in-range bin of category axis a (a region, a channel).
   * Returns { n, map: flat cell → shown bin or -1 }.
   */
  function binMap(h, view, fixed) {
    var shape = h.shape, axes = h.axes, nd = shape.length;
    var cells = 1;
    for (var i = 0; i < nd; i++) cells *= shape[i];
    var map = new Int32Array(cells);
    var unrolled = unrolledAxes(h, fixed);
    var n = view >= 0 ? axes[view].bins : unrolled.reduce(function (acc, a) { return acc * axes[a].bins; }, 1);
    var coord = new Array(nd).fill(0);
    for (var f = 0; f < cells; f++) {
      var out = 0;
      for (var a = 0; a < nd && out >= 0; a++) {
        if (isFixed(fixed, view, a) && coord[a] - (axes[a].underflow ? 1 : 0) !== fixed[a]) out = -1;
      }
      if (out >= 0 && view >= 0) {
        var b = coord[view] - (axes[view].underflow ? 1 : 0);
        out = b >= 0 && b < axes[view].bins ? b : -1;
      } else if (out >= 0) {
        for (var u = 0; u < unrolled.length; u++) {
          var ax = unrolled[u];
          var bb = coord[ax] - (axes[ax].underflow ? 1 : 0);
          if (bb < 0 || bb >= axes[ax].bins) { out = -1; break; }
          out = out * axes[ax].bins + bb;
        }
      }
      map[f] = out;
      for (var d = nd - 1; d >= 0; d--) {
        if (++coord[d] < shape[d]) break;
        coord[d] = 0;
      }
    }
    return { n: n, map: map };
  }
  function project(arr, bm, variations, t) {
    var out = new Array(bm.n).fill(0);
    for (var f = 0; f < bm.map.length; f++) {
      var b = bm.map[f];
      if (b >= 0) out[b] += arr[f * variations + t];
    }
    return out;
  }
  /** x geometry of a view: bin edges, centres, widths, tick labels for categories, titles */
  function geometry(h, view, fixed) {
    var ax = view >= 0 ? h.axes[view] : null;
    var unrolled = unrolledAxes(h, fixed);
    var n = ax ? ax.bins : unrolled.reduce(function (acc, a) { return acc * h.axes[a].bins; }, 1);
    var edges = [];
    var i;
    if (ax && ax.edges) edges = ax.edges.slice();
    else for (i = 0; i <= n; i++) edges.push(i);
    var centers = [], widths = [];
    for (i = 0; i < n; i++) { centers.push(0.5 * (edges[i] + edges[i + 1])); widths.push(edges[i + 1] - edges[i]); }
    var g = { edges: edges, centers: centers, widths: widths, ticks: null, xTitle: "", yTitle: "Events / bin", continuous: false, unit: "" };
    if (ax) {
      g.xTitle = axisText(ax.label);
      g.continuous = !ax.categories;
      g.unit = unitOf(ax.label);
      if (ax.categories) {
        g.ticks = { tickvals: centers, ticktext: ax.categories.map(ptext) };
      } else if (ax.type === "regular" && n > 0) {
        var unit = unitOf(ax.label);
        g.yTitle = "Events / " + String(Number(widths[0].toPrecision(3))) + (unit ? " " + ptext(unit) : "");
      }
    } else {
      g.xTitle = "unrolled bin (" + unrolled.map(function (a) { return ptext(h.axes[a].name); }).join(" × ") + ", last fastest)";
    }
    return g;
  }

  // ---------- one plot ----------
  function stepPolygon(edges, lo, hi) {
    var x = [], y = [], i;
    for (i = 0; i < lo.length; i++) { x.push(edges[i], edges[i + 1]); y.push(hi[i], hi[i]); }
    for (i = lo.length - 1; i >= 0; i--) { x.push(edges[i + 1], edges[i]); y.push(lo[i], lo[i]); }
    return { x: x, y: y };
  }

  /** Everything a plot draws for the chosen view and variation (also what the tests read back). */
  function series(h, view, t, fixed) {
    var bm = binMap(h, view, fixed);
    var stack = h.mc.map(function (s) {
      var p = D.processes[s.process];
      return { name: p.name, color: p.color, values: project(s.values, bm, h.variations, t), variances: project(s.variances, bm, h.variations, t) };
    });
    var total = new Array(bm.n).fill(0), totalVar = new Array(bm.n).fill(0);
    stack.forEach(function (s) { for (var i = 0; i < bm.n; i++) { total[i] += s.values[i]; totalVar[i] += s.variances[i]; } });
    var data = h.data ? project(h.data, bm, 1, 0) : null;
    return { stack: stack, total: total, sigma: totalVar.map(Math.sqrt), data: data };
  }

  function figure(h, view, t, fixed, log, perWidth) {
    var g = geometry(h, view, fixed);
    var s = series(h, view, t, fixed);
    var n = s.total.length;
    var hasData = s.data !== null;
    var traces = [];
    // the main panel divides by the bin width when asked (continuous projections only); the ratio does not change
    var div = g.widths.map(function (w) { return perWidth && g.continuous && w > 0 ? w : 1; });
    if (perWidth && g.continuous) g.yTitle = g.unit ? "Events / " + ptext(g.unit) : "Events / unit of x";
    function per(arr) { return arr.map(function (v, j) { return v / div[j]; }); }
    var total = per(s.total), sigma = per(s.sigma);
    var data = hasData ? per(s.data) : null;
    var dataErr = hasData ? s.data.map(function (v, j) { return Math.sqrt(Math.max(v, 0)) / div[j]; }) : null;
    var stackY = s.stack.map(function (p) { return per(p.values); });
    // the stack: the last process at the bottom, the first on top; legendrank puts the legend in the same order
    for (var k = s.stack.length - 1; k >= 0; k--) {
      var p = s.stack[k];
      traces.push({
        type: "bar", x: g.centers, y: stackY[k], width: g.widths, name: ptext(p.name), legendrank: 100 + k,
        marker: { color: p.color, line: { width: 0 } }, hoverinfo: "x+y+name", yaxis: "y",
      });
    }
    var posMin = Infinity, top = 0, i;
    for (i = 0; i < n; i++) {
      // the smallest positive entry of any stacked process, so that small processes stay visible in log scale
      for (var q = 0; q < stackY.length; q++) if (stackY[q][i] > 0) posMin = Math.min(posMin, stackY[q][i]);
      if (hasData && data[i] > 0) posMin = Math.min(posMin, data[i]);
      top = Math.max(top, total[i] + sigma[i], hasData ? data[i] + dataErr[i] : 0);
    }
    if (!isFinite(posMin)) posMin = 0.1;
    var floor = Math.max(posMin * 0.5, top * 1e-7);
    var lo = total.map(function (v, j) { var l = v - sigma[j]; return log ? Math.max(l, floor) : l; });
    var hi = total.map(function (v, j) { return v + sigma[j]; });
    var band = stepPolygon(g.edges, lo, hi);
    traces.push({
      type: "scatter", mode: "lines", x: band.x, y: band.y, fill: "toself", name: "MC stat. unc.", legendrank: 1000,
      fillcolor: "rgba(60,60,60,0.28)", fillpattern: { shape: "/", fgcolor: "rgba(30,30,30,0.75)", bgcolor: "rgba(0,0,0,0)", size: 7, solidity: 0.25 },
      line: { width: 0 }, hoverinfo: "skip", yaxis: "y",
    });
    if (hasData) {
      traces.push({
        type: "scatter", mode: "markers", x: g.centers, y: data.map(function (v) { return log && v <= 0 ? null : v; }), name: "Data", legendrank: 1,
        marker: { color: "#000", size: 6 }, error_y: { type: "data", array: dataErr, color: "#000", thickness: 1.2, width: 0 },
        hoverinfo: "x+y+name", yaxis: "y",
      });
      // ratio panel: the MC band around 1 and data / MC
      var rlo = [], rhi = [], rx = [], ry = [], re = [], dev = 0.1;
      for (i = 0; i < n; i++) {
        var m = s.total[i];
        rlo.push(m > 0 ? 1 - s.sigma[i] / m : 1);
        rhi.push(m > 0 ? 1 + s.sigma[i] / m : 1);
        if (m > 0 && s.data[i] > 0) {
          rx.push(g.centers[i]); ry.push(s.data[i] / m); re.push(Math.sqrt(s.data[i]) / m);
          dev = Math.max(dev, Math.abs(s.data[i] / m - 1) + Math.sqrt(s.data[i]) / m);
        }
      }
      var rb = stepPolygon(g.edges, rlo, rhi);
      traces.push({
        type: "scatter", mode: "lines", x: rb.x, y: rb.y, fill: "toself", showlegend: false, name: "MC stat. unc.",
        fillcolor: "rgba(60,60,60,0.28)", fillpattern: { shape: "/", fgcolor: "rgba(30,30,30,0.75)", bgcolor: "rgba(0,0,0,0)", size: 7, solidity: 0.25 },
        line: { width: 0 }, hoverinfo: "skip", yaxis: "y2",
      });
      traces.push({
        type: "scatter", mode: "markers", x: rx, y: ry, showlegend: false, name: "Data / MC",
        marker: { color: "#000", size: 5 }, error_y: { type: "data", array: re, color: "#000", thickness: 1.2, width: 0 }, hoverinfo: "x+y", yaxis: "y2",
      });
    }
    dev = hasData ? Math.min(Math.max(dev * 1.15, 0.2), 1) : 0.5;
    var x0 = g.edges[0], x1 = g.edges[n];
    var yRange = log
      ? [Math.log10(floor), Math.log10(Math.max(top, posMin)) + Math.max(1, 0.35 * (Math.log10(Math.max(top, posMin)) - Math.log10(floor)))]
      : [0, (top > 0 ? top : 1) * 1.45];
    var xaxis = { range: [x0, x1], title: { text: g.xTitle }, ticks: "outside", showline: true, mirror: true, linecolor: "#444", zeroline: false, anchor: hasData ? "y2" : "y" };
    if (g.ticks) { xaxis.tickmode = "array"; xaxis.tickvals = g.ticks.tickvals; xaxis.ticktext = g.ticks.ticktext; }
    var layout = {
      height: 520, margin: { l: 72, r: 16, t: 12, b: 58 }, barmode: "stack", bargap: 0, hovermode: "closest",
      xaxis: xaxis,
      yaxis: { domain: hasData ? [0.3, 1] : [0, 1], type: log ? "log" : "linear", range: yRange, title: { text: g.yTitle }, ticks: "outside", showline: true, mirror: true, linecolor: "#444", exponentformat: "power" },
      legend: { traceorder: "normal", x: 0.99, xanchor: "right", y: 0.99, yanchor: "top", bgcolor: "rgba(255,255,255,0.75)", font: { size: 12 } },
      shapes: [],
    };
    if (hasData) {
      // a frame round the main panel: its x axis is drawn under the ratio panel
      layout.shapes.push({ type: "rect", xref: "paper", yref: "paper", x0: 0, x1: 1, y0: 0.3, y1: 1, line: { color: "#444", width: 1 }, layer: "above" });
      layout.yaxis2 = { domain: [0, 0.25], range: [1 - dev, 1 + dev], title: { text: "Data / MC" }, ticks: "outside", showline: true, mirror: true, linecolor: "#444", zeroline: false, nticks: 5 };
      layout.shapes.push({ type: "line", xref: "x", yref: "y2", x0: x0, x1: x1, y0: 1, y1: 1, line: { color: "#c00", width: 1, dash: "dash" } });
    }
    // unrolled: thin lines between the blocks of the first unrolled axis
    var outer = unrolledAxes(h, fixed);
    if (view < 0 && outer.length > 1 && h.axes[outer[0]].bins <= 60) {
      var nOuter = h.axes[outer[0]].bins, block = n / nOuter;
      for (i = 1; i < nOuter; i++) {
        layout.shapes.push({ type: "line", xref: "x", yref: "paper", x0: i * block, x1: i * block, y0: hasData ? 0.3 : 0, y1: 1, line: { color: "#999", width: 0.6, dash: "dot" } });
      }
    }
    return { traces: traces, layout: layout, series: s };
  }

  // ---------- page ----------
  function header() {
    var logBox = el("input", { type: "checkbox", id: "log-toggle" });
    logBox.checked = state.log;
    logBox.addEventListener("change", function () { state.log = logBox.checked; redrawAll(); });
    var widthBox = el("input", { type: "checkbox", id: "width-toggle" });
    widthBox.addEventListener("change", function () { state.perWidth = widthBox.checked; redrawAll(); });
    return el("header", null,
      el("h1", { text: D.title }),
      el("nav", null, el("a", { href: "#histograms", text: "Histograms" }), el("a", { href: "#datasets", text: "Datasets" }), el("a", { href: "#cutflows", text: "Cutflows" })),
      el("label", null, logBox, "log scale"),
      el("label", { title: "divide by the bin width (projections on continuous axes)" }, widthBox, "per unit of x"),
      el("span", { cls: "note", text: D.scaled ? (D.luminosityPb !== null ? "simulation scaled to σ × L = " + fmt(D.luminosityPb, 5) + " /pb (" + D.luminositySource + ")" : "simulation unscaled: the run has no luminosity") : "unscaled (--unscaled): weighted sums as stored" }));
  }

  function histCard(h, idx) {
    var view = { h: h, view: h.axes.length > 1 ? -1 : 0, t: 0, fixed: h.axes.map(function () { return -1; }), div: null };
    state.views.push(view);
    var controls = el("div", { cls: "controls" });
    if (h.axes.length > 1) {
      var sel = el("select", { "data-role": "view" });
      sel.appendChild(option("-1", "unrolled (" + h.axes.map(function (a) { return a.name; }).join(" × ") + ")", true));
      h.axes.forEach(function (a, i) { sel.appendChild(option(String(i), "projection on " + a.name, false)); });
      controls.appendChild(el("label", null, "view", sel));
      // a category axis (a region, a charge) can be fixed to one of its bins instead of summed
      var pickers = [];
      h.axes.forEach(function (a, i) {
        if (!a.categories) return;
        var cs = el("select", { "data-role": "fix", "data-axis": a.name });
        cs.appendChild(option("-1", "all", true));
        a.categories.forEach(function (c, j) { cs.appendChild(option(String(j), c, false)); });
        cs.addEventListener("change", function () { view.fixed[i] = Number(cs.value); draw(view); });
        pickers.push({ i: i, sel: cs });
        controls.appendChild(el("label", null, a.name, cs));
      });
      var syncPickers = function () { pickers.forEach(function (p) { p.sel.disabled = p.i === view.view; }); };
      syncPickers();
      sel.addEventListener("change", function () { view.view = Number(sel.value); syncPickers(); draw(view); });
    }
    if (h.tensor) {
      if (h.variations > 1) {
        var vs = el("select", { "data-role": "variation" });
        for (var t = 0; t < h.variations; t++) {
          // index 0 is what the stack shows first; whether it is a nominal is the analysis' business
          var lab = h.tensor.labels && h.tensor.labels[t] ? " " + h.tensor.labels[t] : "";
          vs.appendChild(option(String(t), h.tensor.name + "[" + t + "]" + lab, t === 0));
        }
        vs.addEventListener("change", function () { view.t = Number(vs.value); draw(view); });
        controls.appendChild(el("label", null, "variation", vs));
      } else {
        controls.appendChild(el("span", { cls: "note", text: h.tensor.name + ": index 0 of " + h.tensor.size + " shown; the other indices exceed the page budget" }));
      }
    }
    var who = "MC: " + (h.mcDatasets.join(", ") || "none") + " · data: " + (h.dataDatasets.join(", ") || "none");
    controls.appendChild(el("span", { cls: "note", text: who }));
    view.div = el("div", { cls: "plot", id: "plot-" + idx, "data-histogram": h.name });
    return el("div", { cls: "card hist-card" }, el("h3", { text: h.name }), controls, view.div);
  }

  function draw(view) {
    var f = figure(view.h, view.view, view.t, view.fixed, state.log, state.perWidth);
    view.div.__series = f.series; // for tests and the console: what is drawn, unrounded
    return Plotly.react(view.div, f.traces, f.layout, PLOT_CONFIG);
  }
  function redrawAll() {
    return Promise.all(state.views.map(draw));
  }

  function datasetsSection() {
    var rows = D.datasets.map(function (d) {
      return [d.name, d.kind, d.process === null ? (d.kind === "data" ? (D.data.indexOf(d.name) >= 0 ? "data" : "not plotted") : "–") : d.process,
        d.xsec === null ? "–" : fmt(d.xsec, 5), d.kind === "data" ? "–" : fmt(d.sumGenWeights, 6), String(d.events), String(d.files), d.lumiPb === null ? "–" : fmt(d.lumiPb, 6), fmt(d.scale, 6)];
    });
    var legend = el("div", { cls: "note" });
    D.processes.forEach(function (p) {
      legend.appendChild(el("span", { style: "margin-right:12px;white-space:nowrap" }, el("span", { cls: "sw", style: "background:" + p.color }), p.name + " = " + p.datasets.join(" + ")));
    });
    return el("section", { id: "datasets" }, el("h2", { text: "Datasets" }),
      kvTable([["analysis", D.analysis], ["input", D.input], ["luminosity", D.luminosityPb === null ? "none" : fmt(D.luminosityPb, 6) + " /pb (" + D.luminositySource + ")"], ["made", D.generated], ["command", D.command]]),
      el("h3", { text: "processes (top of the stack first)" }), legend,
      dataTable(null, ["dataset", "kind", "process", "σ [pb]", "Σ gen. weights", "events", "files", "L [/pb]", D.scaled ? "scale σL/Σw" : "scale (unscaled)"], rows, [0, 2]));
  }

  function cutflowsSection() {
    var grid = el("div", { cls: "grid" });
    D.cutflows.forEach(function (c) {
      var rows = c.steps.map(function (s, i) {
        // the fraction of the previous step's events (of itself for the first step): n/a without events
        var denom = i === 0 ? c.raw[0] : c.raw[i - 1];
        var eff = denom > 0 ? (100 * c.raw[i] / denom).toFixed(2) + " %" : "n/a";
        return [s, String(c.raw[i]), fmt(c.weighted[i], 6), fmt(c.weighted[i] * c.scale, 6), eff];
      });
      grid.appendChild(el("div", { cls: "card" }, dataTable(c.dataset + (c.region !== null ? " · region " + c.region : "") + " (" + c.kind + (c.process && c.process !== c.dataset ? ", " + c.process : "") + ")", ["step", "raw", "weighted", "scaled", "eff."], rows, [0])));
    });
    return el("section", { id: "cutflows" }, el("h2", { text: "Cutflows" }),
      el("p", { cls: "note", text: "scaled = weighted × the dataset's scale" + (D.scaled ? " (σ × L / Σ generator weights for simulation, 1 for data)" : " (1: --unscaled)") + "; eff. = raw events kept by the step" }), grid);
  }

  function main() {
    var app = document.getElementById("app");
    app.appendChild(header());
    var m = el("main");
    if (D.failures > 0) m.appendChild(el("p", { cls: "warn", text: D.failures + " input files failed in this run (recorded with --allow-failures): these histograms miss their events." }));
    var grid = el("div", { cls: "grid" });
    D.histograms.forEach(function (h, i) { grid.appendChild(histCard(h, i)); });
    m.appendChild(el("section", { id: "histograms" }, el("h2", { text: "Histograms (" + D.histograms.length + ")" }), grid));
    m.appendChild(datasetsSection());
    m.appendChild(cutflowsSection());
    app.appendChild(m);
    redrawAll().then(function () { document.body.setAttribute("data-ready", "1"); }, function (err) {
      document.body.setAttribute("data-ready", "error");
      app.insertBefore(el("p", { cls: "warn", text: "plotting failed: " + String(err && err.message || err) }), app.firstChild);
    });
  }
  main();
})();
