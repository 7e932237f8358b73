// compares the streamer records of two ROOT files class by class (dev-time check of hand-written TStreamerInfo)
import { openFile } from "jsroot";
const summary = async (p) => {
  const f = await openFile(p);
  const out = {};
  for (const si of f.fStreamerInfos.arr) out[si.fName] = { v: si.fClassVersion, sum: (si.fCheckSum >>> 0).toString(16), el: (si.fElements?.arr ?? []).map((e) => `${e.fName}:${e.fType}:${e.fTypeName}${e.fBaseVersion !== undefined ? `:v${e.fBaseVersion}` : ""}${e.fCountName ? `[${e.fCountName}]` : ""}`) };
  return out;
};
const [a, b] = await Promise.all(process.argv.slice(2, 4).map(summary));
for (const n of Object.keys(b)) {
  if (!a[n]) { console.log(`${n}: only in ${process.argv[3]}`); continue; }
  const same = a[n].v === b[n].v && a[n].sum === b[n].sum && JSON.stringify(a[n].el) === JSON.stringify(b[n].el);
  console.log(`${n} v${b[n].v} ${b[n].sum}: ${same ? "identical" : `DIFFERS\n  ROOT: v${a[n].v} ${a[n].sum} ${a[n].el.join(" ")}\n  ours: v${b[n].v} ${b[n].sum} ${b[n].el.join(" ")}`}`);
}
