import { openFile } from "jsroot";
const f = await openFile(process.argv[2]);
const keys = f.fKeys.map((k) => `${k.fName}:${k.fClassName}`);
console.log("top keys", keys.join(" "));
for (const dir of ["pt", "etaPt", "cube", "pdf"]) {
  const d = await f.readObject(dir);
  for (const k of d.fKeys) {
    const h = await f.readObject(`${dir}/${k.fName}`);
    const ax = [h.fXaxis, h.fYaxis, h.fZaxis].slice(0, h._typename === "TH1D" ? 1 : h._typename === "TH2D" ? 2 : 3);
    console.log(JSON.stringify({
      path: `${dir}/${k.fName}`, cls: h._typename, name: h.fName, title: h.fTitle, ncells: h.fNcells,
      entries: h.fEntries, tsumw: h.fTsumw, tsumw2: h.fTsumw2, tsumwx: h.fTsumwx,
      axes: ax.map((a) => ({ name: a.fName, title: a.fTitle, n: a.fNbins, min: a.fXmin, max: a.fXmax, xbins: a.fXbins, labels: a.fLabels ? a.fLabels.arr.map((s) => [s.fUniqueID, s.fString]) : null })),
      array: Array.from(h.fArray).slice(0, 8), narray: h.fArray.length, sumw2: Array.from(h.fSumw2).slice(0, 4), nsumw2: h.fSumw2.length,
    }));
  }
}
