#!/usr/bin/env bash
# A one-node Slurm cluster on localhost for the tests: controller, compute daemon and munge.
#
#   cluster.sh start DIR   installs slurm-wlm and munge with apt-get when missing (needs root),
#                          writes DIR/slurm.conf and starts munged, slurmctld and slurmd with
#                          their state, logs and PID files in DIR; waits until the node is idle.
#   cluster.sh stop DIR    cancels the jobs left, waits for their steps to end, then stops the
#                          daemons by the PIDs in DIR (never by name).
#
# Everything lives in DIR (its own munge socket and key, its own ports), so a Slurm or munge
# already on the machine is left alone. Clients find the cluster with SLURM_CONF=DIR/slurm.conf.
# On failure the script prints the daemons' logs and exits non-zero.
set -euo pipefail

ACTION=${1:?usage: cluster.sh start|stop DIR}
DIR=$(realpath -m "${2:?usage: cluster.sh start|stop DIR}")
CTLD_PORT=${SLURM_TEST_CTLD_PORT:-16817}
SLURMD_PORT=${SLURM_TEST_SLURMD_PORT:-16818}

evidence() {
    echo "--- evidence from $DIR ---" >&2
    for log in "$DIR"/log/*; do
        [ -f "$log" ] && { echo "== $log (last 30 lines) ==" >&2; tail -n 30 "$log" >&2; }
    done
    command -v sinfo >/dev/null && SLURM_CONF="$DIR/slurm.conf" sinfo >&2 || true
}

stop_pids() {  # stop_pids FILE...: SIGTERM the processes whose PIDs the files hold, wait up to 10 s
    local file pid pids=()
    for file in "$@"; do
        [ -s "$file" ] || continue
        pid=$(cat "$file")
        kill -0 "$pid" 2>/dev/null && kill "$pid" && pids+=("$pid")
    done
    for _ in $(seq 100); do
        local alive=0
        for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.1
    done
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && kill -9 "$pid"; done
    rm -f "$@"
}

install_packages() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null; then
        return
    fi
    if [ "$(id -u)" != 0 ]; then
        echo "slurm-wlm and munge are not installed and installing them needs root (uid $(id -u))" >&2
        exit 1
    fi
    echo "installing slurm-wlm and munge with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends slurm-wlm munge >&2
}

start() {
    install_packages
    if [ "$(id -u)" != 0 ]; then
        echo "starting slurmd needs root (uid $(id -u))" >&2
        exit 1
    fi
    local host cpus mem
    host=$(hostname -s)
    cpus=$(nproc)
    mem=$(( $(free -m | awk '/Mem/{print $2}') / 2 ))
    mkdir -p "$DIR"/{munge,log,ctld,slurmd}
    chmod 755 "$DIR"
    dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
    chown -R munge:munge "$DIR/munge"
    chmod 700 "$DIR/munge"
    chmod 400 "$DIR/munge/munge.key"
    touch "$DIR/log/munged.log" && chown munge:munge "$DIR/log/munged.log"
    cat > "$DIR/slurm.conf" <<CONF
ClusterName=companiontest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
AuthType=auth/munge
AuthInfo=socket=$DIR/munge/munge.socket
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$DIR/ctld
SlurmdSpoolDir=$DIR/slurmd
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
    runuser -u munge -- /usr/sbin/munged --force \
        --key-file="$DIR/munge/munge.key" --socket="$DIR/munge/munge.socket" \
        --pid-file="$DIR/munge/munged.pid" --log-file="$DIR/log/munged.log" \
        --seed-file="$DIR/munge/munged.seed" || { evidence; exit 1; }
    export SLURM_CONF="$DIR/slurm.conf"
    /usr/sbin/slurmctld -f "$SLURM_CONF" || { evidence; exit 1; }
    /usr/sbin/slurmd -f "$SLURM_CONF" || { evidence; exit 1; }
    for _ in $(seq 60); do
        if [ "$(sinfo -h -o %T 2>/dev/null)" = idle ]; then
            echo "slurm cluster up: $(sinfo -h -o '%P %D %c %T')" >&2
            return 0
        fi
        sleep 0.5
    done
    echo "the Slurm node did not become idle within 30 s" >&2
    evidence
    exit 1
}

drain() {  # cancel the jobs left in the queue and wait (up to 30 s) until their steps are gone
    export SLURM_CONF="$DIR/slurm.conf"
    local jobs
    jobs=$(squeue -h -o %i 2>/dev/null || true)
    [ -n "$jobs" ] && scancel $jobs 2>/dev/null || true
    for _ in $(seq 300); do
        if [ -z "$(squeue -h -o %i 2>/dev/null)" ] && ! compgen -G "$DIR/slurmd/$(hostname -s)_[0-9]*" >/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "jobs or job steps still present after 30 s:" >&2
    squeue >&2 || true
    ls "$DIR/slurmd" >&2 || true
}

stop() {
    # Daemons stopped while a job step is finishing leave that step's processes hanging.
    [ -s "$DIR/slurmctld.pid" ] && kill -0 "$(cat "$DIR/slurmctld.pid")" 2>/dev/null && drain
    stop_pids "$DIR/slurmd.pid" "$DIR/slurmctld.pid" "$DIR/munge/munged.pid"
}

case "$ACTION" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: cluster.sh start|stop DIR" >&2; exit 2 ;;
esac
