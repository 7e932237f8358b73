// Float64 kernels of the binned likelihood (../shared/spec/likelihood.md), a device port of
// fitter/native/src/evaluator.cpp. A CUDA-C subset on purpose: no shared memory, no __syncthreads,
// no atomics, each thread writes only its own outputs in a fixed order. So the same source runs on
// the GPU (NVRTC) and, compiled by g++ through shim_host.h with a serial launch loop, on the CPU —
// which is how the tests check these kernels against the native engine without a GPU.
#include "args.h"

#define HF_LOOP(i, total) \
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (total); i += (long long)blockDim.x * gridDim.x)

__device__ __forceinline__ double hfInf() { return __longlong_as_double(0x7ff0000000000000LL); }
__device__ __forceinline__ double hfNan() { return __longlong_as_double(0x7ff8000000000000LL); }
__device__ __forceinline__ bool hfFinite(double v) { return v - v == 0.0; }
__device__ __forceinline__ double hfMax(double a, double b) { return a > b ? a : b; }

__device__ __forceinline__ bool hfActive(const HfModel& m, int b, int p) {
  return !(m.split && m.split[b]) || m.active[(long long)b * m.nproc + p];
}

// Σ_k vals[k] x[cols[k]] with four partial sums, in the native engine's order
__device__ __forceinline__ double hfRowDot(const HfModel& m, long long r, const double* x) {
  int k0 = m.rowPtr[r], k1 = m.rowPtr[r + 1], n = k1 - k0;
  const double* v = m.vals + k0;
  const int* c = m.cols + k0;
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int k = 0;
  for (; k + 4 <= n; k += 4) {
    s0 += v[k] * x[c[k]];
    s1 += v[k + 1] * x[c[k + 1]];
    s2 += v[k + 2] * x[c[k + 2]];
    s3 += v[k + 3] * x[c[k + 3]];
  }
  for (; k < n; k++) s0 += v[k] * x[c[k]];
  return (s0 + s1) + (s2 + s3);
}

struct HfBinDerivs {
  double w, wz, c, caz, czz;
};

// The bin term and its derivatives in ν_b (see Evaluator::binTerm in the native engine).
__device__ double hfBinTerm(const HfModel& m, int b, double n, double nub, double z, HfBinDerivs& d) {
  const double inf = hfInf(), nan = hfNan();
  const double k = m.bbK ? m.bbK[b] : inf;
  const bool pos = n > 0;
  if (pos && !(nub > 0)) {
    d.w = d.wz = d.c = d.caz = d.czz = nan;
    return inf;
  }
  const double r = pos ? n / nub : 0.0, q = pos ? r / nub : 0.0;
  const double b0 = m.beta0 ? m.beta0[b] : 1.0;
  const double kb0 = k * b0;
  if (!(hfFinite(k) && k > 0)) {
    d.w = d.wz = 1 - r;
    d.c = d.caz = d.czz = q;
    return pos ? nub - n - n * log(nub / n) : nub;
  }
  if (!(m.split && m.split[b])) {
    if (!(nub + k > 0)) {
      d.w = d.wz = d.c = d.caz = d.czz = nan;
      return inf;
    }
    const double beta = (n + kb0) / (nub + k);
    d.w = d.wz = beta - r;
    d.c = d.caz = d.czz = q - (n + kb0) / ((nub + k) * (nub + k));
    const double aux = k * (beta - b0) - (kb0 > 0 ? kb0 * log(beta / b0) : 0.0);
    return beta * nub - n - (pos ? n * log(beta * nub / n) : 0.0) + aux;
  }
  const double a = nub - z;
  double beta = nan;
  if (!pos) {
    if (a + k > 0) beta = kb0 / (a + k);
  } else if (a == 0) {
    beta = b0;
  } else {
    const double A = (a + k) * a, B = a * (z - n - kb0) + k * z, C = -kb0 * z;
    const double disc = B * B - 4 * A * C;
    if (disc >= 0) {
      const double qq = -0.5 * (B + copysign(sqrt(disc), B));
      const double r1 = A != 0 ? qq / A : nan;
      const double r2 = qq != 0 ? C / qq : nan;
      const bool v1 = r1 > 0 && hfFinite(r1) && r1 * a + z > 0;
      const bool v2 = r2 > 0 && hfFinite(r2) && r2 * a + z > 0;
      if (a > 0) {
        const double rb = hfFinite(r1) ? hfMax(r1, r2) : r2;
        if (rb > 0 && hfFinite(rb) && rb * a + z > 0) beta = rb;
      } else if (v1) {
        beta = r1;
      } else if (v2) {
        beta = r2;
      }
    }
  }
  const double nu = beta * a + z;
  const double Lbb = (pos ? a * a * n / (nu * nu) : 0.0) + kb0 / (beta * beta);
  if (!(beta > 0) || !hfFinite(beta) || (pos && !(nu > 0)) || !(Lbb > 0)) {
    d.w = d.wz = d.c = d.caz = d.czz = nan;
    return inf;
  }
  const double rn = pos ? n / nu : 0.0, qn = pos ? rn / nu : 0.0;
  const double Laa = beta * beta * qn, Laz = beta * qn, Lzz = qn;
  const double Lab = (1 - rn) + beta * a * qn, Lzb = a * qn;
  d.w = beta * (1 - rn);
  d.wz = 1 - rn;
  d.c = Laa - Lab * Lab / Lbb;
  d.caz = Laz - Lab * Lzb / Lbb;
  d.czz = Lzz - Lzb * Lzb / Lbb;
  const double aux = k * (beta - b0) - (kb0 > 0 ? kb0 * log(beta / b0) : 0.0);
  return nu - n - (pos ? n * log(nu / n) : 0.0) + aux;
}

// ν_r and m_r = ∂ν_r/∂R_p for rows 0..nrows-1 of K points
extern "C" __global__ void hf_forward(const HfForwardArgs A) {
  const HfModel& m = A.m;
  const long long nr = A.nrows;
  HF_LOOP(i, nr * A.K) {
    const long long k = i / nr, r = i % nr;
    const int p = (int)(r % m.nproc);
    const double e = hfRowDot(m, r, A.a + k * m.ncols);
    const double R = A.R[k * m.nproc + p];
    if (m.logNormal) {
      const double nu0 = m.norm[r] * exp(e);
      A.mm[i] = nu0;
      A.nu[i] = R * nu0;
    } else {
      A.mm[i] = m.norm[r];
      A.nu[i] = R * m.norm[r] + e;
    }
  }
}

// the bin terms and their derivatives; per-row coefficients of the gradient's gathers
extern "C" __global__ void hf_bins(const HfBinsArgs A) {
  const HfModel& m = A.m;
  const long long nb = m.nbins, nrr = (long long)m.nbins * m.nproc;
  HF_LOOP(i, nb * A.K) {
    const long long k = i / nb;
    const int b = (int)(i % nb);
    const long long r0 = k * nrr + (long long)b * m.nproc;
    double nub = 0, z = 0;
    for (int p = 0; p < m.nproc; p++) nub += A.nu[r0 + p];
    if (m.split && m.split[b])
      for (int p = 0; p < m.nproc; p++)
        if (!m.active[(long long)b * m.nproc + p]) z += A.nu[r0 + p];
    HfBinDerivs d;
    A.term[i] = hfBinTerm(m, b, A.data[i], nub, z, d);
    A.w[i] = d.w;
    A.wz[i] = d.wz;
    A.c[i] = d.c;
    A.caz[i] = d.caz;
    A.czz[i] = d.czz;
    for (int p = 0; p < m.nproc; p++) {
      const double w = hfActive(m, b, p) ? d.w : d.wz;
      A.coef[r0 + p] = w * (m.logNormal ? A.nu[r0 + p] : 1.0);
      A.poiCoef[r0 + p] = p < m.nsig ? w * A.mm[r0 + p] : 0.0;
    }
  }
}

extern "C" __global__ void hf_gather_cols_partial(const HfGatherColsArgs A) {
  const HfModel& m = A.m;
  const long long nc = m.ncols, nrr = (long long)m.nbins * m.nproc, per = nc * A.S;
  HF_LOOP(i, per * A.K) {
    const long long k = i / per, rem = i % per, c = rem / A.S, seg = rem % A.S;
    const double* rv = A.rowv + k * nrr;
    const long long p0 = m.colPtr[c], len = m.colPtr[c + 1] - p0;
    const long long j0 = p0 + len * seg / A.S, j1 = p0 + len * (seg + 1) / A.S;
    double s = 0;
    for (long long j = j0; j < j1; j++) s += rv[m.rowIdx[j]] * m.valsT[j];
    A.partial[i] = s;
  }
}

extern "C" __global__ void hf_gather_cols(const HfGatherColsArgs A) {
  const long long nc = A.m.ncols;
  HF_LOOP(i, nc * A.K) {
    double s = 0;
    for (int seg = 0; seg < A.S; seg++) s += A.partial[i * A.S + seg];
    A.out[i] = s;
  }
}

extern "C" __global__ void hf_gather_poi_partial(const HfGatherPoiArgs A) {
  const HfModel& m = A.m;
  const long long ns = m.nsig, nrr = (long long)m.nbins * m.nproc, per = ns * A.S;
  HF_LOOP(i, per * A.K) {
    const long long k = i / per, rem = i % per, q = rem / A.S, seg = rem % A.S;
    const double* rv = A.rowv + k * nrr;
    const long long b0 = (long long)m.nbins * seg / A.S, b1 = (long long)m.nbins * (seg + 1) / A.S;
    double s = 0;
    for (long long b = b0; b < b1; b++) s += rv[b * m.nproc + q];
    A.partial[i] = s;
  }
}

extern "C" __global__ void hf_gather_poi(const HfGatherPoiArgs A) {
  const long long ns = A.m.nsig;
  HF_LOOP(i, ns * A.K) {
    double s = 0;
    for (int seg = 0; seg < A.S; seg++) s += A.partial[i * A.S + seg];
    A.out[i] = s;
  }
}

extern "C" __global__ void hf_sum_partial(const HfSumArgs A) {
  HF_LOOP(i, (long long)A.K * A.T) {
    const long long k = i / A.T, t = i % A.T;
    const double* v = A.v + k * A.n;
    double s = 0;
    for (long long j = t; j < A.n; j += A.T) s += v[j];
    A.partial[i] = s;
  }
}

extern "C" __global__ void hf_sum_final(const HfSumArgs A) {
  HF_LOOP(k, (long long)A.K) {
    double s = 0;
    for (int t = 0; t < A.T; t++) s += A.partial[k * A.T + t];
    A.out[k] = s;
  }
}

extern "C" __global__ void hf_hvp_rows(const HfHvpRowsArgs A) {
  const HfModel& m = A.m;
  const long long nrr = (long long)m.nbins * m.nproc;
  HF_LOOP(i, nrr * A.K) {
    const long long k = i / nrr, r = i % nrr;
    A.d[i] = hfRowDot(m, r, A.dcol + k * m.ncols);
  }
}

extern "C" __global__ void hf_hvp_bins(const HfHvpBinsArgs A) {
  const HfModel& m = A.m;
  const long long nb = m.nbins, nrr = (long long)m.nbins * m.nproc;
  HF_LOOP(i, nb * A.K) {
    const long long k = i / nb;
    const int b = (int)(i % nb);
    const long long r0 = (long long)b * m.nproc;  // row in the point state
    const long long o0 = k * nrr + r0;            // row in the K-direction arrays
    double jva = 0, jvz = 0;
    for (int p = 0; p < m.nproc; p++) {
      const long long r = r0 + p;
      const double g = m.logNormal ? A.nu[r] : 1.0;
      const double jv = g * A.d[o0 + p] + (p < m.nsig ? A.dR[p] * A.mm[r] * A.vpoi[k * m.nsig + p] : 0.0);
      A.u[o0 + p] = jv;  // J v per row, replaced below
      if (hfActive(m, b, p)) jva += jv;
      else jvz += jv;
    }
    const double ua = A.c[b] * jva + A.caz[b] * jvz, uz = A.caz[b] * jva + A.czz[b] * jvz;
    for (int p = 0; p < m.nproc; p++) {
      const long long r = r0 + p;
      const bool act = hfActive(m, b, p);
      const double cj = act ? ua : uz, wb = act ? A.w[b] : A.wz[b];
      const double jv = A.u[o0 + p];
      A.u[o0 + p] = m.logNormal ? A.nu[r] * cj + wb * jv : cj;
      A.poiRow[o0 + p] = p < m.nsig ? A.mm[r] * (cj + (m.logNormal ? wb * A.d[o0 + p] : 0.0)) : 0.0;
    }
  }
}

// J_r entries: parameter index and value of CSR entry k of row r (g = ν_r or 1)
__device__ __forceinline__ void hfJEntry(const HfModel& m, const double* kappa, int k, double g, int& param, double& val) {
  const int c = m.cols[k];
  if (c < m.nsyst) {
    param = m.nsig + c;
    val = g * m.vals[k];
  } else {
    param = m.nsig + c - m.nsyst;
    val = g * kappa[c - m.nsyst] * m.vals[k];
  }
}

// Y[rl][j] = Σ_i J_ri C_ij over the rows of bins [b0, b1)
extern "C" __global__ void hf_yvar_y(const HfYvarArgs A) {
  const HfModel& m = A.m;
  const long long rows = (long long)(A.b1 - A.b0) * m.nproc, n = A.n;
  HF_LOOP(i, rows * n) {
    const long long rl = i / n, j = i % n;
    const long long r = (long long)A.b0 * m.nproc + rl;
    const int p = (int)(r % m.nproc);
    const double g = m.logNormal ? A.nu[r] : 1.0;
    double s = p < m.nsig ? A.dR[p] * A.mm[r] * A.cov[(long long)p * n + j] : 0.0;
    for (int k = m.rowPtr[r]; k < m.rowPtr[r + 1]; k++) {
      int param;
      double v;
      hfJEntry(m, A.kappa, k, g, param, v);
      s += v * A.cov[(long long)param * n + j];
    }
    A.Y[i] = s;
  }
}

// perRow[r] = J_r · Y_r and perBin[b] = Σ_p J_r · (Σ_p' Y_r') over bins [b0, b1)
extern "C" __global__ void hf_yvar_q(const HfYvarArgs A) {
  const HfModel& m = A.m;
  const long long nb = A.b1 - A.b0, n = A.n;
  HF_LOOP(i, nb) {
    const int b = A.b0 + (int)i;
    const double* Yb = A.Y + i * m.nproc * n;
    double bin = 0;
    for (int p = 0; p < m.nproc; p++) {
      const long long r = (long long)b * m.nproc + p;
      const double g = m.logNormal ? A.nu[r] : 1.0;
      const double* Yr = Yb + (long long)p * n;
      double row = 0, rowBin = 0;
      if (p < m.nsig) {
        const double v = A.dR[p] * A.mm[r];
        row += v * Yr[p];
        double t = 0;
        for (int pp = 0; pp < m.nproc; pp++) t += Yb[(long long)pp * n + p];
        rowBin += v * t;
      }
      for (int k = m.rowPtr[r]; k < m.rowPtr[r + 1]; k++) {
        int param;
        double v;
        hfJEntry(m, A.kappa, k, g, param, v);
        row += v * Yr[param];
        double t = 0;
        for (int pp = 0; pp < m.nproc; pp++) t += Yb[(long long)pp * n + param];
        rowBin += v * t;
      }
      A.perRow[r] = row;
      bin += rowBin;
    }
    A.perBin[b] = bin;
  }
}

// Σ_i 2 log L_ii of a Cholesky factor (column-major lower, in a), into out[0]
extern "C" __global__ void hf_logdet(const HfDenseArgs A) {
  HF_LOOP(i, 1LL) {
    double s = 0;
    for (int j = 0; j < A.n; j++) s += 2 * log(A.a[(long long)j * A.n + j]);
    A.out[0] = s;
  }
}

// copies the lower triangle (column-major) to the upper: potri fills only one triangle
extern "C" __global__ void hf_symmetrize_lower(const HfDenseArgs A) {
  const long long n = A.n;
  HF_LOOP(i, n * n) {
    const long long col = i / n, row = i % n;
    if (row < col) A.a[i] = A.a[row * n + col];
  }
}
