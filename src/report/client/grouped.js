/* hepfit report, client side: grouped impacts table and bars
 * Plain browser JavaScript; the page concatenates the files of CLIENT_SCRIPTS (htmlPage.ts) inside
 * one function scope, so they share the variables of common.js. No network access (see the CSP).
 * Every name from the fit is data: it reaches the DOM through textContent/setAttribute only, and
 * plotly (which reads a little HTML in its strings) only through ptext(), which escapes it. */
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
