"""Independent float64 references for tests/postfit*.test.ts, built on ../shared/reference/ref_fit.py's
likelihood (dense numpy, exact gradient and Hessian) and scipy: brute-force profile refits, MINOS
crossings by brentq, and asymptotic CLs / significance with pyhf's formulas.

Usage: /usr/bin/python3 postfit_ref.py < request.json > answer.json, request {"cmd": ..., ...}:
  profile: {file, bbb, poi_mode, points: [{"<index>": value, ...}, ...], minos: [index, ...]}
           -> {best_nll, twice_dnll: [...], minos: {"<index>": [lower, upper]}}
  cls:     {file, bbb, poi_mode, poi, mus: [...], cl, expect_signal}
           -> {at: [{mu, qmu, qmuA, cls, expected: [5]}], observed, expected: [5], z_obs, z_exp}
  code1:   {case: <pyhf ref case>} -> {cls, expected: [5]} (pyhf's normsys code1, own numpy likelihood)
Values of POIs are signal strengths μ (square mode: the parameter is √μ).
"""
import json, sys
import numpy as np
import scipy.optimize, scipy.stats, scipy.linalg

sys.path.insert(0, __import__("os").path.join(__import__("os").path.dirname(__import__("os").path.abspath(__file__)), "..", "..", "..", "shared", "reference"))
import ref_fit  # noqa: E402


class Lik:
    """ref_fit.Model plus constraint centres θ0 and replaceable data."""

    def __init__(self, model):
        self.m = model
        self.theta0 = np.zeros(model.ns)

    def vgh(self, x):
        v, g, H = self.m.grad_hess(x)
        cw = self.m.m["cw"]; th = x[self.m.npoi:]; t0 = self.theta0
        v = v - np.sum(cw * th * t0) + 0.5 * np.sum(cw * t0 * t0)
        g = g.copy(); g[self.m.npoi:] -= cw * t0
        return v, g, H

    def minimize(self, x0, fixed):
        """min over the parameters not in `fixed` (index -> internal value)."""
        n = len(x0)
        free = np.array([i for i in range(n) if i not in fixed], dtype=int)
        base = np.array(x0, float)
        for i, v in fixed.items():
            base[i] = v

        def full(z):
            x = base.copy(); x[free] = z; return x

        def fg(z):
            v, g, H = self.vgh(full(z)); return v, g[free]

        def hess(z):
            return self.vgh(full(z))[2][np.ix_(free, free)]

        z = base[free]
        if len(free) > 0:
            res = scipy.optimize.minimize(fg, z, jac=True, hess=hess, method="trust-exact", options={"gtol": 1e-11, "maxiter": 1000})
            z = res.x
            for _ in range(6):  # Newton polish
                v, g, H = self.vgh(full(z))
                step = scipy.linalg.solve(H[np.ix_(free, free)], g[free], assume_a="sym")
                z = z - step
                if np.max(np.abs(step)) < 1e-13:
                    break
        x = full(z)
        return x, self.vgh(x)[0]


def load(req):
    m = ref_fit.load(req["file"])
    model = ref_fit.Model(m, req.get("bbb", False), req.get("poi_mode", "linear"))
    return Lik(model)


def internal(lik, i, v):
    return np.sqrt(v) if (i < lik.m.npoi and lik.m.poi_mode == "square") else v


def start(lik, mu=1.0):
    x0 = np.zeros(lik.m.npoi + lik.m.ns)
    x0[: lik.m.npoi] = mu if lik.m.poi_mode == "linear" else np.sqrt(mu)
    return x0


def cmd_profile(req):
    lik = load(req)
    xb, nb = lik.minimize(start(lik), {})
    out = {"best_nll": nb, "twice_dnll": [], "minos": {}}
    for p in req.get("points", []):
        fixed = {int(k): internal(lik, int(k), v) for k, v in p.items()}
        _, v = lik.minimize(xb, fixed)
        out["twice_dnll"].append(2 * (v - nb))
    _, _, H = lik.vgh(xb)
    cov = np.linalg.inv(H)
    for i in req.get("minos", []):
        sq = i < lik.m.npoi and lik.m.poi_mode == "square"
        val = xb[i] ** 2 if sq else xb[i]
        sig = np.sqrt(cov[i, i]) * (2 * abs(xb[i]) if sq else 1)
        f = lambda v: 2 * (lik.minimize(xb, {i: internal(lik, i, v)})[1] - nb) - 1
        sides = []
        for d in (-1, 1):
            a, b = val, val + d * sig
            while f(b) < 0:
                a, b = b, b + d * sig
            lo, hi = (a, b) if a < b else (b, a)
            sides.append(scipy.optimize.brentq(f, lo, hi, xtol=1e-12, rtol=1e-14) - val)
        out["minos"][str(i)] = sides
    return out


def cls_formulas(qmu, qmuA):
    """pyhf asymptotics, test statistic qtilde: CLs observed and expected band (k = -2..2)."""
    N = scipy.stats.norm
    sq, sqA = np.sqrt(qmu), np.sqrt(qmuA)
    if sq <= sqA:
        clsb, clb = N.sf(sq), N.cdf(sqA - sq)
    else:
        clsb, clb = N.sf((qmu + qmuA) / (2 * sqA)), N.sf((qmu - qmuA) / (2 * sqA))
    exp = [N.sf(sqA - k) / N.cdf(k) for k in (-2, -1, 0, 1, 2)]
    return clsb / clb, exp


def cmd_cls(req):
    lik = load(req)
    poi = req["poi"]
    sq = lik.m.poi_mode == "square"
    rep = lambda x: x[poi] ** 2 if sq else x[poi]
    xb, nb = lik.minimize(start(lik, req.get("expect_signal", 1.0)), {})
    x0, n0 = lik.minimize(xb, {poi: 0.0})
    den = nb if rep(xb) >= 0 else n0
    # post-fit Asimov at mu = 0
    nu = lik.m.parts(x0)[3].sum(axis=1)
    lik_a = Lik(lik.m)
    def with_asimov(fn):
        saved_n = lik.m.n
        lik.m.n = nu; lik_a.theta0 = x0[lik.m.npoi:].copy()
        try:
            return fn()
        finally:
            lik.m.n = saved_n
    xa, na = with_asimov(lambda: lik_a.minimize(x0, {}))
    if rep(xa) < 0:
        xa, na = with_asimov(lambda: lik_a.minimize(x0, {poi: 0.0}))

    def q(mu):
        if rep(xb) > mu:
            return 0.0
        return max(0.0, 2 * (lik.minimize(xb, {poi: internal(lik, poi, mu)})[1] - den))

    def qa(mu):
        return max(0.0, 2 * (with_asimov(lambda: lik_a.minimize(xa, {poi: internal(lik, poi, mu)})[1]) - na))

    out = {"at": []}
    for mu in req.get("mus", []):
        c, e = cls_formulas(q(mu), qa(mu))
        out["at"].append({"mu": mu, "qmu": q(mu), "qmuA": qa(mu), "cls": c, "expected": e})
    if "cl" in req:
        alpha = 1 - req["cl"]
        N = scipy.stats.norm
        def root(f, lo):
            hi = lo + 0.1
            while f(hi) < 0:
                hi = 2 * hi + 0.1
            return scipy.optimize.brentq(f, lo, hi, xtol=1e-12, rtol=1e-13)
        lo = max(rep(xb), 0.0)
        out["observed"] = root(lambda mu: np.log(alpha) - np.log(cls_formulas(q(mu), qa(mu))[0]), lo)
        out["expected"] = [root(lambda mu, k=k: np.log(alpha) - np.log(cls_formulas(qa(mu), qa(mu))[1][k + 2]) if qa(mu) > 0 else -1.0, 0.0) for k in (-2, -1, 0, 1, 2)]
    if req.get("significance"):
        mu_e = req.get("expect_signal", 1.0)
        q0 = 2 * (n0 - nb) if rep(xb) > 0 else 0.0
        xe, _ = lik.minimize(xb, {poi: internal(lik, poi, mu_e)})
        nu_e = lik.m.parts(xe)[3].sum(axis=1)
        saved = lik.m.n
        lik.m.n = nu_e; lik_a.theta0 = xe[lik.m.npoi:].copy()
        try:
            xf, nf = lik_a.minimize(xe, {})
            _, n0a = lik_a.minimize(xe, {poi: 0.0})
        finally:
            lik.m.n = saved
        q0a = 2 * (n0a - nf) if rep(xf) > 0 else 0.0
        out["z_obs"] = float(np.sqrt(max(q0, 0))); out["z_exp"] = float(np.sqrt(max(q0a, 0)))
    return out


def cmd_code1(req):
    """pyhf's HistFactory likelihood for normfactor + normsys (code1) models, full Poisson, aux = θ0."""
    case = req["case"]
    chans = sorted(case["spec"]["channels"], key=lambda ch: ch["name"])  # pyhf orders channels by name
    par = case["par_order"]
    samples = []  # (bin offset, data, normfactor?, [(param index, lo, hi)])
    off = 0
    for ch in chans:
        nb = len(ch["samples"][0]["data"])
        for s in ch["samples"]:
            nf = any(m["type"] == "normfactor" for m in s["modifiers"])
            ns = [(par.index(m["name"]), m["data"]["lo"], m["data"]["hi"]) for m in s["modifiers"] if m["type"] == "normsys"]
            samples.append((off, np.array(s["data"], float), nf, ns))
        off += nb
    nbins = off
    n_obs = np.array(case["observed_main"], float)

    def nu(x):
        out = np.zeros(nbins)
        for o, d, nf, ns in samples:
            f = x[0] if nf else 1.0
            for j, lo, hi in ns:
                t = x[j]
                f *= hi ** t if t >= 0 else lo ** (-t)
            out[o:o + len(d)] += f * d
        return out

    def nll(x, n, aux):
        v = nu(x)
        return np.sum(v - n * np.log(v)) + 0.5 * np.sum((x[1:] - aux) ** 2)

    bounds = [tuple(b) for b in case["suggested_bounds"]]

    def fit(n, aux, mu=None):
        x0 = np.array(case["suggested_init"], float)
        b = list(bounds)
        if mu is not None:
            x0[0] = mu; b[0] = (mu, mu)
        # pyhf's bounds (μ ≥ 0); accurate to ~1e-5 relative in CLs, enough to check pyhf's numbers to 1e-3
        r = scipy.optimize.minimize(lambda x: nll(x, n, aux), x0, method="L-BFGS-B", bounds=b, options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 10000})
        return r.x, r.fun

    mu_t = case["mu_test"]
    aux0 = np.zeros(len(par) - 1)
    xb, nb = fit(n_obs, aux0)
    xm, nm = fit(n_obs, aux0, mu_t)
    qmu = max(0.0, 2 * (nm - nb)) if xb[0] <= mu_t else 0.0
    x0, _ = fit(n_obs, aux0, 0.0)
    n_a = nu(x0); aux_a = x0[1:]
    xa, na = fit(n_a, aux_a)
    _, nma = fit(n_a, aux_a, mu_t)
    qmuA = max(0.0, 2 * (nma - na))
    c, e = cls_formulas(qmu, qmuA)
    return {"cls": c, "expected": e, "qmu": qmu, "qmuA": qmuA, "muhat": xb[0]}


def main():
    req = json.load(sys.stdin)
    out = {"profile": cmd_profile, "cls": cmd_cls, "code1": cmd_code1}[req["cmd"]](req)
    json.dump(out, sys.stdout, default=float)


if __name__ == "__main__":
    main()
