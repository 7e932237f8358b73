// reads every TH of a ROOT file with hepfit's reader (dist) and with jsroot, and compares cells, sumw2, axes, stats
import { openFile } from "jsroot";
const D = process.env.HEPFIT_DIST ?? "/work/wt/rootexport/dist/src/histmaker/root";
const { RootFile } = await import(`${D}/RootFile.js`);
const { listHistograms, readHistogram } = await import(`${D}/histograms.js`);
const file = process.argv[2];
const ours = await RootFile.open(file);
const js = await openFile(file);
let bad = 0;
for (const o of listHistograms(ours)) {
  const a = await readHistogram(ours, o.name);
  const b = await js.readObject(o.name);
  const eq = (x, y) => JSON.stringify(Array.from(x)) === JSON.stringify(Array.from(y));
  const axes = [b.fXaxis, b.fYaxis, b.fZaxis];
  const same = eq(a.contents, b.fArray) && eq(a.sumw2, b.fSumw2 ?? []) && a.entries === b.fEntries && a.tsumw === b.fTsumw && a.tsumwx2 === b.fTsumwx2 &&
    a.axes.every((x, i) => x.nbins === axes[i].fNbins && x.xmin === axes[i].fXmin && x.xmax === axes[i].fXmax && eq(x.edges, axes[i].fXbins));
  console.log(`${o.name} ${o.className} ${a.axes.map((x) => x.nbins).join("x")} bins: ${same ? "identical" : "DIFFER"}`);
  bad += same ? 0 : 1;
}
ours.close();
console.log(bad ? `${bad} differ` : "all identical");
