/* hepfit report, client side: pulls, constraints and impacts: controls, paged table, Combine-like summary
 * Plain browser JavaScript; the page concatenates the files of CLIENT_SCRIPTS (htmlPage.ts) inside
 * one function scope, so they share the variables of common.js. No network access (see the CSP).
 * Every name from the fit is data: it reaches the DOM through textContent/setAttribute only, and
 * plotly (which reads a little HTML in its strings) only through ptext(), which escapes it. */
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
