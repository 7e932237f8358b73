# independent check: h5py reads the run output, applies the scale and ROOT's cell order; compares with jsroot's read
import json, sys, h5py, numpy as np
run, js = sys.argv[1], json.load(open(sys.argv[2]))
f = h5py.File(run, "r")
info = json.loads(f["histmaker_run"][0])
bad = 0
for path, h in js.items():
    hist, obj = path.split("/")
    ds = obj.split("_")[0]
    g = f[f"{ds}::{hist}"]
    meta = json.loads(g.attrs["meta_json"])
    v, w = g["values"][...], g["variances"][...]
    t = meta["tensor"]
    if t:
        rest = obj[len(ds) + 1 + len(t["name"]):]
        k = 2 * int(rest[:-2] or 0) if rest.endswith("Up") else 2 * int(rest[:-4] or 0) + 1 if rest.endswith("Down") else int(rest)
        v, w = v[..., k], w[..., k]
    s = info["scales"][ds]
    # pad every axis to ROOT's n+2 with zeros where the hist has no flow bin
    pads = [(0 if a["underflow"] else 1, 0 if a["overflow"] else 1) for a in meta["axes"]]
    v, w = np.pad(v * s, pads), np.pad(w * (s * s), pads)  # variances × s², as runOutput.scaled
    exp_v, exp_w = v.transpose().ravel(), w.transpose().ravel()  # ROOT: x fastest
    got_v, got_w = np.array(h["array"]), np.array(h["sumw2"])
    same = np.array_equal(exp_v, got_v) and np.array_equal(exp_w, got_w)
    edges_ok = all((a.get("edges") is None) or (h["axes"][i]["min"] == a["edges"][0] and h["axes"][i]["max"] == a["edges"][-1]) for i, a in enumerate(meta["axes"]))
    labels = [h["axes"][i]["labels"] for i in range(len(meta["axes"]))]
    print(f"{path}: {h['cls']} cells {len(got_v)} values+sumw2 {'identical' if same else 'DIFFER (max |d| %g)' % np.max(np.abs(exp_v - got_v))}, axis ranges {'ok' if edges_ok else 'DIFFER'}, labels {labels}, scale {s:.6g}")
    bad += (not same) + (not edges_ok)
print("all identical" if bad == 0 else f"{bad} differences")
