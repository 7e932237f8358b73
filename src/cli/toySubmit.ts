/**
 * `fit --toys N --submit condor|slurm --toys-per-job K`: array-job files that split a toy set into
 * --toy-range jobs (job i fits toys i·K .. min((i+1)·K, N) − 1 into OUT/jobs/job_i/), and the
 * fit-toys-merge command that joins them into what one run would have written.
 */
import { chmodSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { writeFileAtomic } from "../../fitter/writeResults.js";

export type SubmitSystem = "condor" | "slurm";

export interface SubmitRequest {
  system: SubmitSystem;
  outDir: string;
  ntoys: number;
  perJob: number;
  /** the fit command's arguments (without the program name) */
  argv: string[];
  cwd: string;
}

/** options that the job script sets itself (with the number of values each takes) */
const JOB_OWNED: Record<string, number> = {
  "--submit": 1,
  "--toys-per-job": 1,
  "-o": 1,
  "--output": 1,
  "--toy-range": 1,
  "--workers": 1,
  "--resume": 0,
  "--threads": 1,
};

/** The fit arguments without those the job sets (--opt value and --opt=value forms). */
export function jobArguments(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf("=");
    const name = a.startsWith("-") && eq > 0 ? a.slice(0, eq) : a;
    if (name in JOB_OWNED) {
      if (eq < 0) i += JOB_OWNED[name];
      continue;
    }
    out.push(a);
  }
  return out;
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function jobScript(req: SubmitRequest, out: string): string {
  const args = jobArguments(req.argv).map(shellQuote).join(" ");
  return `#!/bin/sh
# One array job of a split toy set: job $1 fits toys $1*${req.perJob} .. min(($1+1)*${req.perJob}, ${req.ntoys}) - 1.
# Written by \`fit --submit\`; the toys are the same as in one run over all of them (same --seed);
# every job fits the data with the same --threads (THREADS, default 1) so that the parts merge.
# Merge afterwards: fit-toys-merge -o ${shellQuote(join(out, "merged"))} ${shellQuote(join(out, "jobs"))}/job_*/toys.hdf5
set -e
i="$1"
a=$((i * ${req.perJob}))
b=$((a + ${req.perJob}))
[ "$b" -gt ${req.ntoys} ] && b=${req.ntoys}
cd ${shellQuote(req.cwd)}
exec "\${FIT:-fit}" ${args} --toy-range "$a:$b" --workers "\${WORKERS:-1}" --threads "\${THREADS:-1}" -o ${shellQuote(join(out, "jobs"))}/job_"$i"
`;
}

/** Writes the job script and the submit file; returns their paths. */
export function writeSubmitFiles(req: SubmitRequest): string[] {
  const out = resolve(req.outDir);
  const njobs = Math.ceil(req.ntoys / req.perJob);
  mkdirSync(join(out, "logs"), { recursive: true });
  const script = join(out, "toys_job.sh");
  writeFileAtomic(script, jobScript(req, out));
  chmodSync(script, 0o755);
  if (req.system === "condor") {
    const sub = join(out, "toys.sub");
    writeFileAtomic(
      sub,
      `# HTCondor: ${njobs} jobs of ${req.perJob} toys (condor_submit ${shellQuote(sub)})
executable     = ${script}
arguments      = $(Process)
initialdir     = ${req.cwd}
getenv         = True
request_cpus   = 1
output         = ${join(out, "logs")}/toys_$(Process).out
error          = ${join(out, "logs")}/toys_$(Process).err
log            = ${join(out, "logs")}/toys.log
queue ${njobs}
`,
    );
    return [sub, script];
  }
  const sb = join(out, "toys.slurm");
  writeFileAtomic(
    sb,
    `#!/bin/sh
# Slurm: ${njobs} array jobs of ${req.perJob} toys (sbatch ${shellQuote(sb)})
#SBATCH --job-name=hepfit-toys
#SBATCH --array=0-${njobs - 1}
#SBATCH --cpus-per-task=1
#SBATCH --output=${join(out, "logs")}/toys_%a.out
#SBATCH --error=${join(out, "logs")}/toys_%a.err
exec ${shellQuote(script)} "$SLURM_ARRAY_TASK_ID"
`,
  );
  return [sb, script];
}
