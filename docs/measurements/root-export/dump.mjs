// dumps chosen histograms of a ROOT file as read by jsroot (dev-time independent reader)
import { openFile } from "jsroot";
import { writeFileSync } from "node:fs";
const [file, outJson, ...names] = process.argv.slice(2);
const logs = [];
const log = console.log;
console.log = (...a) => { logs.push(a.join(" ")); };
const f = await openFile(file);
const out = {};
for (const n of names) {
  const h = await f.readObject(n);
  const ax = (a) => ({ title: a.fTitle, n: a.fNbins, min: a.fXmin, max: a.fXmax, xbins: Array.from(a.fXbins), labels: a.fLabels ? a.fLabels.arr.map((s) => [s.fUniqueID, s.fString]) : null });
  out[n] = { cls: h._typename, name: h.fName, entries: h.fEntries, tsumw: h.fTsumw, axes: [ax(h.fXaxis), ax(h.fYaxis), ax(h.fZaxis)], array: Array.from(h.fArray), sumw2: Array.from(h.fSumw2) };
}
console.log = log;
writeFileSync(outJson, JSON.stringify(out));
console.log(`jsroot read ${names.length} histograms; jsroot messages: ${logs.length ? logs.join(" | ") : "none"}`);
