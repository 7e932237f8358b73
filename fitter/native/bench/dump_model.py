#!/usr/bin/python3
"""Dump a rabbit-layout HDF5 tensor (sparse or dense, symmetric) to the raw binary read by bench_main.cpp.
Usage: dump_model.py IN.hdf5 OUT.bin   (development tool for benchmarking the native core without Node)"""
import sys
import numpy as np, h5py, scipy.sparse as sp

def flat(ds):
    a = ds[...]
    s = ds.attrs.get("original_shape")
    return a.reshape(tuple(s)) if s is not None else a

f = h5py.File(sys.argv[1], "r")
data = flat(f["hdata_obs"]).astype(float); nb = len(data)
nsig = len(f["hsignals"]); ns = len(f["hsysts"])
cw = flat(f["hconstraintweights"]).astype(float) if "hconstraintweights" in f else np.ones(ns)
if "hnorm" in f:
    norm = flat(f["hnorm"]); nbf, npr = norm.shape
    lk = flat(f["hlogk"]); L = sp.csr_matrix(lk.reshape(nbf * npr, -1))
else:
    gi = f["hnorm_sparse"]; nidx = flat(gi["indices"]); nval = flat(gi["values"])
    nbf, npr = gi.attrs["dense_shape"]
    norm = np.zeros((nbf, npr)); norm[nidx[:, 0], nidx[:, 1]] = nval
    gk = f["hlogk_sparse"]; kidx = flat(gk["indices"]); kval = flat(gk["values"]); ncol = gk.attrs["dense_shape"][1]
    rows = nidx[kidx[:, 0], 0] * npr + nidx[kidx[:, 0], 1]
    L = sp.csr_matrix((kval, (rows, kidx[:, 1])), shape=(nbf * npr, ncol))
L.sum_duplicates(); L.sort_indices()
sumw = flat(f["hsumw"]) if "hsumw" in f else norm
sumw2 = flat(f["hsumw2"]) if "hsumw2" in f else None
if sumw2 is not None and np.any(sumw2 > 0):
    sw = sumw[:nb].sum(1); sw2 = sumw2[:nb].sum(1)
    k = np.where(sw2 > 0, sw * sw / np.where(sw2 > 0, sw2, 1), np.inf)
else:
    k = np.full(nb, np.inf)
with open(sys.argv[2], "wb") as o:
    np.array([nb, nbf, npr, nsig, ns, L.shape[1], L.nnz], np.int64).tofile(o)
    norm.astype(np.float64).reshape(-1).tofile(o)
    L.indptr.astype(np.int32).tofile(o); L.indices.astype(np.int32).tofile(o); L.data.astype(np.float64).tofile(o)
    data.tofile(o); k.astype(np.float64).tofile(o); cw.astype(np.float64).tofile(o)
print(f"dumped {nb} bins, {npr} procs, {ns} systs, {L.nnz} nnz")
