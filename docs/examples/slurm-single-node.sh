#!/usr/bin/env bash
# A one-node SLURM cluster on this machine (Debian / Ubuntu, as root), to try
# `bench sweep NAME --launcher slurm` without a real cluster. Not used by the tests or CI.
#
#   sudo bash docs/examples/slurm-single-node.sh          # install, configure, start
#   bench sweep my-sweep --launcher slurm --partition debug --gpus-per-job 0 --time 30
#   bench sweep my-sweep --status
#   sudo bash docs/examples/slurm-single-node.sh stop     # stop the daemons
#
# It installs Debian's slurm-wlm and munge packages, writes a munge key and a minimal
# /etc/slurm/slurm.conf (one node with all of this machine's CPUs and memory, one partition
# `debug`, a job's memory by its CPUs, no accounting, no cgroups, so it also runs in
# containers), and starts munged, slurmctld and slurmd. GPUs are not configured: pass
# --gpus-per-job 0.
set -euo pipefail

if [[ ${1:-} == stop ]]; then
  pkill -x slurmd || true
  pkill -x slurmctld || true
  pkill -x munged || true
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "run as root (it installs packages and writes /etc/slurm)" >&2
  exit 1
fi

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends slurm-wlm munge
fi

host=$(hostname -s)
cpus=$(nproc)
memory_mib=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))

# munge: a key, then the daemon
install -d -o munge -g munge -m 0700 /etc/munge /var/log/munge /var/lib/munge
install -d -o munge -g munge -m 0755 /run/munge
if [[ ! -s /etc/munge/munge.key ]]; then
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  chown munge:munge /etc/munge/munge.key
  chmod 0400 /etc/munge/munge.key
fi
pgrep -x munged >/dev/null || runuser -u munge -- /usr/sbin/munged
munge -n | unmunge >/dev/null  # the key works

# slurm: one node, one partition
install -d /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
cat >/etc/slurm/slurm.conf <<EOF
ClusterName=privbench-local
SlurmctldHost=${host}
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$(( memory_mib / cpus ))
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=${host} CPUs=${cpus} RealMemory=${memory_mib} State=UNKNOWN
PartitionName=debug Nodes=${host} Default=YES MaxTime=INFINITE State=UP
EOF

pgrep -x slurmctld >/dev/null || slurmctld
pgrep -x slurmd >/dev/null || slurmd
for _ in $(seq 30); do
  if sinfo --noheader --states=idle,mix,alloc 2>/dev/null | grep -q debug; then
    sinfo
    exit 0
  fi
  sleep 1
done
echo "slurm did not come up; see /var/log/slurm/slurmctld.log and slurmd.log" >&2
sinfo || true
exit 1
