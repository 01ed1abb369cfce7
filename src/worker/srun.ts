/**
 * QM's `srun` (SPEC §9), for scripts that call srun where Slurm is absent:
 * runs `-n N` copies of the command (default SLURM_NTASKS, else 1), each with
 * SLURM_PROCID and SLURM_LOCALID, waits for all and exits with the worst
 * code. Other srun options are accepted and ignored.
 */
export const SRUN_SCRIPT = `#!/bin/sh
# srun written by QM: runs -n copies of a command on this host
n=\${SLURM_NTASKS:-1}
while [ $# -gt 0 ]; do
  case "$1" in
    -n|--ntasks) n=$2; shift 2 ;;
    -n*) n=\${1#-n}; shift ;;
    --ntasks=*) n=\${1#--ntasks=}; shift ;;
    --) shift; break ;;
    --*=*) shift ;;
    -l|-u|-v|-Q|-K|-X|-Z|-E|-k|-O|-s|-H|--label|--unbuffered|--exclusive|--overlap|--overcommit|--quiet|--verbose|--kill-on-bad-exit|--no-kill|--disable-status|--pty|--whole) shift ;;
    -*) shift 2 ;;
    *) break ;;
  esac
done
if [ $# -eq 0 ]; then echo "srun: no command given" >&2; exit 1; fi
case "$n" in ''|*[!0-9]*|0) echo "srun: -n $n: expected a number of tasks >= 1" >&2; exit 1 ;; esac
i=0
pids=
while [ "$i" -lt "$n" ]; do
  SLURM_PROCID=$i SLURM_LOCALID=$i SLURM_STEP_NUM_TASKS=$n "$@" &
  pids="$pids $!"
  i=$((i + 1))
done
worst=0
for pid in $pids; do
  wait "$pid"
  code=$?
  [ "$code" -gt "$worst" ] && worst=$code
done
exit "$worst"
`;
