/* hepfit report, client side: scans, 2-D scans, contours, limits, significance, toys
 * Plain browser JavaScript; the page concatenates the files of CLIENT_SCRIPTS (htmlPage.ts) inside
 * one function scope, so they share the variables of common.js. No network access (see the CSP).
 * Every name from the fit is data: it reaches the DOM through textContent/setAttribute only, and
 * plotly (which reads a little HTML in its strings) only through ptext(), which escapes it. */
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
