/**
 * Where the CUDA engine looks for the CUDA libraries at run time (nothing CUDA is needed to build or
 * install hepfit). Order: HEPFIT_CUDA_LIBS (colon-separated folders), CUDA_HOME / CUDA_PATH,
 * /usr/local/cuda and /usr/local/cuda-* (newest first), /usr/local/nvidia (containers' driver), the
 * lib folders of Python's nvidia-* wheels (site-packages/nvidia/<pkg>/lib, as PyTorch and JAX install
 * them; found by globbing the usual site-packages folders and the venv of the python3 on PATH,
 * without running python), and last the dynamic loader's own path (bare
 * sonames: LD_LIBRARY_PATH, ld.so.cache — where the driver's libcuda.so.1 normally is).
 */
import { readdirSync, realpathSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

export interface CudaLibrarySpec {
  /** key used by the addon: cuda, nvrtc, nvJitLink, cublasLt, cublas, cusparse, cusolver */
  name: string;
  /** file-name stem: libnvrtc.so matches libnvrtc.so, libnvrtc.so.12, libnvrtc.so.12.4.99 */
  stem: string;
  /** tried by bare name through the loader path, newest first */
  sonames: string[];
  /** false: preloaded when found (so that cuSOLVER resolves its dependencies), not needed otherwise */
  required: boolean;
}

/** in load order: dependencies before the libraries that need them */
export const CUDA_LIBRARIES: readonly CudaLibrarySpec[] = [
  { name: "cuda", stem: "libcuda.so", sonames: ["libcuda.so.1", "libcuda.so"], required: true },
  { name: "nvrtc", stem: "libnvrtc.so", sonames: ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so"], required: true },
  { name: "nvJitLink", stem: "libnvJitLink.so", sonames: ["libnvJitLink.so.13", "libnvJitLink.so.12"], required: false },
  { name: "cublasLt", stem: "libcublasLt.so", sonames: ["libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so.11"], required: false },
  { name: "cublas", stem: "libcublas.so", sonames: ["libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"], required: true },
  { name: "cusparse", stem: "libcusparse.so", sonames: ["libcusparse.so.12", "libcusparse.so.11", "libcusparse.so"], required: false },
  { name: "cusolver", stem: "libcusolver.so", sonames: ["libcusolver.so.12", "libcusolver.so.11", "libcusolver.so"], required: true },
];

export interface SearchDir {
  dir: string;
  /** why it is searched: HEPFIT_CUDA_LIBS, CUDA_HOME, /usr/local/cuda*, python nvidia wheel */
  source: string;
}

export interface LibraryCandidates {
  name: string;
  required: boolean;
  /** full paths in the search folders, then bare sonames for the loader path */
  paths: string[];
}

export interface DiscoveryOptions {
  env?: Record<string, string | undefined>;
  home?: string;
  /** roots that replace "/" for the system folders (/usr/local/cuda*, /usr/lib/python3*, /opt/conda): tests */
  systemRoot?: string;
  /** include bare sonames for the loader path (default true) */
  loaderPath?: boolean;
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** numeric version parts after ".so", for newest-first ordering */
function versionKey(name: string, stem: string): number[] {
  const rest = name.slice(stem.length).replace(/^\./, "");
  return rest === "" ? [] : rest.split(".").map((s) => Number(s));
}

function compareVersionsDesc(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (b[i] ?? -1) - (a[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}

/** folders matching prefix* in parent, newest version suffix first (cuda-13.0 before cuda-12.4) */
function globDirs(parent: string, prefix: string): string[] {
  return list(parent)
    .filter((n) => n.startsWith(prefix))
    .sort((a, b) => compareVersionsDesc(a.slice(prefix.length).split(/[.-]/).map(Number), b.slice(prefix.length).split(/[.-]/).map(Number)))
    .map((n) => join(parent, n));
}

/** site-packages / dist-packages folders where pip puts the nvidia-* wheels */
export function pythonSitePackages(opts: DiscoveryOptions = {}): string[] {
  const env = opts.env ?? process.env;
  const home = opts.home ?? homedir();
  const root = opts.systemRoot ?? "/";
  const out: string[] = [];
  const pyDirs = (libDir: string): void => {
    for (const py of globDirs(libDir, "python3")) {
      out.push(join(py, "site-packages"), join(py, "dist-packages"));
    }
  };
  for (const p of (env.PYTHONPATH ?? "").split(":")) if (p) out.push(p);
  // the python3 first on PATH (a venv's bin/ → its lib/python3*/site-packages), without running it
  for (const bin of (env.PATH ?? "").split(":")) {
    if (bin && isFile(join(bin, "python3"))) pyDirs(join(dirname(bin), "lib"));
  }
  if (env.VIRTUAL_ENV) pyDirs(join(env.VIRTUAL_ENV, "lib"));
  if (env.CONDA_PREFIX) pyDirs(join(env.CONDA_PREFIX, "lib"));
  pyDirs(join(home, ".local", "lib"));
  for (const v of list(join(home, ".pyenv", "versions"))) pyDirs(join(home, ".pyenv", "versions", v, "lib"));
  pyDirs(join(root, "usr", "local", "lib"));
  pyDirs(join(root, "usr", "lib"));
  out.push(join(root, "usr", "lib", "python3", "dist-packages"));
  pyDirs(join(root, "opt", "conda", "lib"));
  return [...new Set(out)].filter(isDir);
}

/** every folder searched, in order, without duplicates; folders that do not exist are left out */
export function cudaSearchDirs(opts: DiscoveryOptions = {}): SearchDir[] {
  const env = opts.env ?? process.env;
  const root = opts.systemRoot ?? "/";
  const dirs: SearchDir[] = [];
  for (const d of (env.HEPFIT_CUDA_LIBS ?? "").split(":")) if (d) dirs.push({ dir: d, source: "HEPFIT_CUDA_LIBS" });
  for (const key of ["CUDA_HOME", "CUDA_PATH"]) {
    const base = env[key];
    if (base) for (const sub of ["lib64", "lib", join("targets", "x86_64-linux", "lib")]) dirs.push({ dir: join(base, sub), source: key });
  }
  for (const base of [join(root, "usr", "local", "cuda"), ...globDirs(join(root, "usr", "local"), "cuda-")]) {
    dirs.push({ dir: join(base, "lib64"), source: "/usr/local/cuda*" }, { dir: join(base, "targets", "x86_64-linux", "lib"), source: "/usr/local/cuda*" });
  }
  // the driver's folder in NVIDIA containers
  for (const d of [join(root, "usr", "local", "nvidia", "lib64"), join(root, "usr", "local", "nvidia", "lib")]) dirs.push({ dir: d, source: "/usr/local/nvidia" });
  for (const sp of pythonSitePackages(opts)) {
    const nv = join(sp, "nvidia");
    for (const pkg of list(nv).sort()) {
      for (const sub of ["lib", "lib64"]) dirs.push({ dir: join(nv, pkg, sub), source: "python nvidia wheel" });
    }
  }
  const seen = new Set<string>();
  const explicit = new Set((env.HEPFIT_CUDA_LIBS ?? "").split(":").filter(Boolean));
  return dirs.filter((d) => {
    // HEPFIT_CUDA_LIBS folders are kept even when missing: the error then names them
    if (!explicit.has(d.dir) && !isDir(d.dir)) return false;
    let real = d.dir;
    try {
      real = realpathSync(d.dir); // /usr/local/cuda → cuda-13.0: search it once
    } catch {
      // missing HEPFIT_CUDA_LIBS folder
    }
    if (seen.has(real)) return false;
    seen.add(real);
    return true;
  });
}

/** the files of one library in one folder, newest version first (libnvrtc-builtins etc. excluded) */
export function libraryFilesIn(dir: string, stem: string): string[] {
  const re = new RegExp(`^${stem.replace(/\./g, "\\.")}(\\.\\d+)*$`);
  return list(dir)
    .filter((n) => re.test(n))
    .sort((a, b) => compareVersionsDesc(versionKey(a, stem), versionKey(b, stem)))
    .map((n) => join(dir, n));
}

export function libraryCandidates(opts: DiscoveryOptions = {}): { dirs: SearchDir[]; libraries: LibraryCandidates[] } {
  const dirs = cudaSearchDirs(opts);
  const libraries = CUDA_LIBRARIES.map((lib) => {
    const paths: string[] = [];
    for (const d of dirs) paths.push(...libraryFilesIn(d.dir, lib.stem));
    if (opts.loaderPath ?? true) paths.push(...lib.sonames);
    return { name: lib.name, required: lib.required, paths: [...new Set(paths)] };
  });
  return { dirs, libraries };
}

/** the cubin/PTX cache: HEPFIT_CUDA_CACHE, else $XDG_CACHE_HOME/hepfit/cuda, else ~/.cache/hepfit/cuda */
export function kernelCacheDir(opts: DiscoveryOptions = {}): string {
  const env = opts.env ?? process.env;
  if (env.HEPFIT_CUDA_CACHE) return env.HEPFIT_CUDA_CACHE;
  const base = env.XDG_CACHE_HOME || join(opts.home ?? homedir(), ".cache");
  return join(base, "hepfit", "cuda");
}

