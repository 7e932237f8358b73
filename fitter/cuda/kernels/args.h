// Kernel argument structs, shared by the kernels (likelihood.cu, compiled by NVRTC or, for the CPU
// emulation, by g++ through shim_host.h) and the host engine. No includes: NVRTC has no system headers.
// Every kernel takes one of these by value, so the host launches all kernels the same way.
#pragma once

struct HfModel {
  int nbins, nbinsFull, nproc, nsig, nsyst, ncols;
  int symmetric, logNormal;
  const double* norm;          // [nbinsFull*nproc]
  const int* rowPtr;           // CSR of log κ over all rows
  const int* cols;
  const double* vals;
  const int* colPtr;           // CSC of the real rows (r < nbins*nproc)
  const int* rowIdx;
  const double* valsT;
  const double* bbK;           // [nbins] or null (BB off)
  const unsigned char* active; // [nbins*nproc] 1 = scaled by β; null = all
  const unsigned char* split;  // [nbins] or null
  const double* beta0;         // [nbins] or null (all 1)
};

// Per-point parameters (host-computed from x): a [ncols], R/dR/d2R [nproc], kappa [nsyst]; K points
// are laid out with strides ncols / nproc / nsyst.
struct HfForwardArgs {
  HfModel m;
  const double* a;
  const double* R;
  int nrows;  // rows 0..nrows-1
  int K;
  double* nu;  // [K][nrows]
  double* mm;  // [K][nrows]
};

struct HfBinsArgs {
  HfModel m;
  const double* data;   // [K][nbins]
  const double* nu;     // [K][nrowsReal]
  const double* mm;
  int K;
  double* term;         // [K][nbins]
  double* w;            // [K][nbins] each
  double* wz;
  double* c;
  double* caz;
  double* czz;
  double* coef;         // [K][nrowsReal]: w_b g_r
  double* poiCoef;      // [K][nrowsReal]: w_b m_r (0 for non-signal rows)
};

// out[k][c] = Σ_{rows i of column c} rowv[k][i] * valsT (CSC gather = Lᵀ rowv), in two steps: S
// partial sums per column (segments of its entries: enough threads for long columns), then their sum
struct HfGatherColsArgs {
  HfModel m;
  const double* rowv;  // [K][nrowsReal]
  int K;
  int S;               // segments per column
  double* partial;     // [K][ncols][S]
  double* out;         // [K][ncols]
};

// out[k][q] = Σ_b rowv[k][b*nproc + q], q < nsig: S partial sums over segments of bins, then their sum
struct HfGatherPoiArgs {
  HfModel m;
  const double* rowv;
  int K;
  int S;            // segments of bins
  double* partial;  // [K][nsig][S]
  double* out;      // [K][nsig]
};

// partial[k][t] = Σ_{i ≡ t mod T} v[k][i]; then out[k] = Σ_t partial[k][t] (fixed order: deterministic)
struct HfSumArgs {
  const double* v;
  int n, K, T;
  double* partial;  // [K][T]
  double* out;      // [K]
};

// HVP: K directions at the current point
struct HfHvpRowsArgs {
  HfModel m;
  const double* dcol;  // [K][ncols]
  int K;
  double* d;           // [K][nrowsReal]
};

struct HfHvpBinsArgs {
  HfModel m;
  const double* nu;   // point state [nrowsReal]
  const double* mm;
  const double* w;
  const double* wz;
  const double* c;
  const double* caz;
  const double* czz;
  const double* dR;   // [nproc]
  const double* vpoi; // [K][nsig]
  const double* d;    // [K][nrowsReal]
  int K;
  double* u;          // [K][nrowsReal]
  double* poiRow;     // [K][nrowsReal]
};

// Yield variances over a chunk of bins [b0, b1): Y[rl][j] = (J_r C)_j for rows r of the chunk
struct HfYvarArgs {
  HfModel m;
  const double* nu;     // [nbinsFull*nproc] full-row yields at x
  const double* mm;
  const double* dR;     // [nproc]
  const double* kappa;  // [nsyst]
  const double* cov;    // [n*n]
  int n, b0, b1;
  double* Y;            // [(b1-b0)*nproc][n]
  double* perRow;       // [nbinsFull*nproc]
  double* perBin;       // [nbinsFull]
};

// Cholesky helpers: logdet partials from the factor's diagonal; lower triangle copied to the upper
struct HfDenseArgs {
  double* a;
  int n;
  double* out;
};
