#!/usr/bin/env bash
# A Ceph cluster of one monitor and one OSD for a test (issue 14: chunks on
# RADOS), everything in one directory, so that several run at once:
#
#   ceph-single-node.sh start DIR [--bluestore] [--owner PID]
#       makes a fresh cluster in DIR (which must not exist or be empty) and
#       returns once a write to the pool succeeds. A client needs DIR/ceph.conf
#       and the pool named in DIR/pool; the daemons' PIDs are in DIR/*.pid,
#       their logs in DIR/log. The OSD keeps its objects in memory (memstore,
#       lost when it stops) unless --bluestore puts them in a file in DIR, for
#       tests that restart it. With --owner, a watcher stops the cluster once
#       process PID is gone: a test that crashes stops nothing itself.
#   ceph-single-node.sh stop DIR
#       kills the daemons (SIGTERM, then SIGKILL) and removes DIR.
#   ceph-single-node.sh kill-osd DIR
#       kills the OSD with SIGKILL, as a crash would (the monitor still
#       counts it up: clients' operations on it wait, up to their timeout).
#   ceph-single-node.sh start-osd DIR
#       starts the OSD again and returns once a write to the pool succeeds
#       (a --bluestore cluster's: a memstore OSD lost its objects when it died).
#
# No ceph-mgr (librados does not need one), no authentication, one copy of
# each object: a cluster for tests on one machine, nothing else.
set -euo pipefail

readonly pool=acidfs
readonly start_timeout_s=60
# Errors go to fd 3, the caller's stderr, also from inside redirected commands.
# What runs on in the background closes it: a caller reading the script's
# output from a pipe waits for every writer's end to close.
exec 3>&2

die() {
  echo "ceph-single-node: $*" >&3
  exit 1
}

# Succeeds while process $1 runs a Ceph daemon (not a zombie, not a reused PID).
alive() {
  local stat state
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  state=${stat##*) }  # "PID (COMMAND) STATE ...": from STATE on
  [[ $stat == *"(ceph-"* && ${state%% *} != Z ]]
}

# A TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The last lines of every daemon's log, for an error message.
log_tails() {
  local log
  for log in "$dir"/log/*; do
    [[ -s $log ]] || continue
    echo "--- last lines of $log:"
    tail -n 20 "$log"
  done
}

# Stops the daemons started so far but keeps DIR and its logs (stop removes it).
fail_start() {
  echo "ceph-single-node: $*" >&3
  log_tails >&3
  stop_daemons
  exit 1
}

# Runs a command, 5 s at most, until it succeeds, while the daemons started so
# far run and the start's deadline is ahead: a monitor that died (its port
# taken meanwhile, say) fails the start at once, not after a long timeout.
retry() {
  local what=$1 pidfile
  shift
  until timeout 5 "$@"; do
    for pidfile in "$dir"/mon.pid "$dir"/osd.pid; do
      [[ -f $pidfile ]] || continue
      alive "$(cat "$pidfile")" || fail_start "$what: $(basename "$pidfile" .pid) died"
    done
    ((SECONDS < deadline)) || fail_start "$what did not succeed within ${start_timeout_s} s"
  done
}

write_conf() {
  local objectstore=$1
  cat >"$dir/ceph.conf" <<EOF
[global]
fsid = $(cat /proc/sys/kernel/random/uuid)
mon host = v2:127.0.0.1:$(free_port)
public addr = 127.0.0.1
ms bind msgr1 = false
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = false
mon warn on insecure global id reclaim allowed = false
mon warn on pool no redundancy = false
mon allow pool size one = true
osd pool default size = 1
osd pool default min size = 1
osd pool default pg autoscale mode = off
# The 1 s default makes every map change, and so start-up, take seconds.
paxos propose interval = 0.05
run dir = $dir/run
# Nothing in /etc/ceph or /var/lib/ceph: several clusters run at once.
keyring = $dir/keyring
[mon]
mon data = $dir/mon
log file = $dir/log/\$name.log
[osd]
osd data = $dir/osd
osd objectstore = $objectstore
# --bluestore: a sparse 10 GiB file, DIR/osd/block.
bluestore block create = true
# A store made a moment ago has nothing to check (0.7 s of each start).
bluestore fsck on mkfs = false
bluestore block size = 10737418240
log file = $dir/log/\$name.log
EOF
}

# Starts daemon $1 (ceph-mon or ceph-osd) in the background, its PID in DIR/$2.pid.
start_daemon() {
  local program=$1 name=$2
  shift 2
  "$program" -c "$dir/ceph.conf" -f "$@" </dev/null >"$dir/log/$name.out" 2>&1 3>&- &
  echo $! >"$dir/$name.pid"
}

# Stops the cluster once process $1 is gone.
watch_owner() {
  while kill -0 "$1" 2>/dev/null; do sleep 1; done
  stop
}

start() {
  local objectstore=memstore owner=
  while (($#)); do
    case "$1" in
      --bluestore) objectstore=bluestore ;;
      --owner) owner=${2:?--owner needs a PID} && shift ;;
      *) die "unknown option $1 (usage: start DIR [--bluestore] [--owner PID])" ;;
    esac
    shift
  done
  mkdir -p "$dir"
  [[ -z $(ls -A "$dir") ]] || die "$dir is not empty"
  dir=$(cd "$dir" && pwd)
  mkdir "$dir/log" "$dir/run" "$dir/mon" "$dir/osd"
  write_conf "$objectstore"
  deadline=$((SECONDS + start_timeout_s))
  local ceph=(ceph -c "$dir/ceph.conf" --connect-timeout 5)

  local fsid mon_addr
  fsid=$(sed -n 's/^fsid = //p' "$dir/ceph.conf")
  mon_addr=$(sed -n 's/^mon host = //p' "$dir/ceph.conf")
  monmaptool --create --fsid "$fsid" --addv a "[$mon_addr]" "$dir/monmap" >"$dir/log/monmaptool.out" 2>&1 ||
    fail_start "monmaptool failed"
  ceph-mon -c "$dir/ceph.conf" -i a --mkfs --monmap "$dir/monmap" >"$dir/log/mon-mkfs.out" 2>&1 ||
    fail_start "ceph-mon --mkfs failed"
  start_daemon ceph-mon mon -i a

  local osd_uuid osd_id
  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  # Both commands are idempotent: a retry after a timeout does no harm.
  osd_id=$(retry "ceph osd new" "${ceph[@]}" osd new "$osd_uuid" 2>"$dir/log/osd-new.out") || exit 1
  ceph-osd -c "$dir/ceph.conf" -i "$osd_id" --mkfs --osd-uuid "$osd_uuid" >"$dir/log/osd-mkfs.out" 2>&1 ||
    fail_start "ceph-osd --mkfs failed"
  echo "$osd_id" >"$dir/osd.id"
  start_daemon ceph-osd osd -i "$osd_id"
  # While the OSD boots: the pool's placement groups wait for it.
  retry "ceph osd pool create" "${ceph[@]}" osd pool create "$pool" 8 8 >"$dir/log/pool-create.out" 2>&1
  echo "$pool" >"$dir/pool"

  probe
  if [[ -n $owner ]]; then
    (
      exec </dev/null >/dev/null 2>&1 3>&-
      watch_owner "$owner"
    ) &
    echo $! >"$dir/watcher.pid"
  fi
  echo "conf=$dir/ceph.conf pool=$pool mon=$mon_addr"
}

# Returns once a write to the pool succeeds (and removes what it wrote).
probe() {
  # The cluster serves once a write returns. A write waiting for the OSD to
  # come up asks for new maps at each objecter tick: every 5 s by default,
  # which doubled a bluestore start.
  retry "a write to pool $pool" rados --objecter-tick-interval 0.1 -c "$dir/ceph.conf" -p "$pool" put probe "$dir/pool" \
    >"$dir/log/probe.out" 2>&1
  rados -c "$dir/ceph.conf" -p "$pool" rm probe >>"$dir/log/probe.out" 2>&1 || fail_start "rados rm probe failed"
}

kill_osd() {
  [[ -f $dir/osd.pid ]] || die "$dir has no OSD (osd.pid)"
  local pid
  pid=$(cat "$dir/osd.pid")
  alive "$pid" || die "the OSD of $dir (pid $pid) is not running"
  kill -KILL "$pid"
  while alive "$pid"; do sleep 0.05; done
}

start_osd() {
  [[ -f $dir/osd.id ]] || die "$dir has no OSD (osd.id)"
  ! alive "$(cat "$dir/osd.pid")" || die "the OSD of $dir runs already"
  deadline=$((SECONDS + start_timeout_s))
  # The monitor must be running: retry() fails at once when it is not.
  start_daemon ceph-osd osd -i "$(cat "$dir/osd.id")"
  probe
}

# Stops the daemon whose PID is in $1: SIGTERM, then SIGKILL after 5 s.
stop_daemon() {
  [[ -f $1 ]] || return 0
  local pid waited=0
  pid=$(cat "$1")
  alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  while alive "$pid" && ((waited++ < 100)); do sleep 0.05; done
  if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  while alive "$pid"; do sleep 0.05; done
}

stop_daemons() {
  # The OSD first: a stopping OSD waits for the monitor to acknowledge it.
  stop_daemon "$dir/osd.pid"
  stop_daemon "$dir/mon.pid"
}

stop() {
  [[ -d $dir ]] || return 0
  # It removes DIR: not a directory that start did not make.
  [[ -f $dir/ceph.conf ]] || die "$dir holds no ceph.conf: not a cluster's directory"
  local watcher
  watcher=$(cat "$dir/watcher.pid" 2>/dev/null) || true
  if [[ -n $watcher && $watcher != "$BASHPID" ]]; then kill "$watcher" 2>/dev/null || true; fi
  stop_daemons
  rm -rf "$dir"
}

readonly usage="start DIR [--bluestore] [--owner PID] | stop DIR | kill-osd DIR | start-osd DIR"
(($# >= 2)) || die "usage: $0 $usage"
command=$1
dir=$2
shift 2
case "$command" in
  start) start "$@" ;;
  stop)
    (($# == 0)) || die "stop takes no options"
    stop
    ;;
  kill-osd | start-osd)
    (($# == 0)) || die "$command takes no options"
    [[ -f $dir/ceph.conf ]] || die "$dir holds no ceph.conf: not a cluster's directory"
    dir=$(cd "$dir" && pwd)
    if [[ $command == kill-osd ]]; then kill_osd; else start_osd; fi
    ;;
  *) die "unknown command $command (usage: $usage)" ;;
esac
