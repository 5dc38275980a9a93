#!/usr/bin/env python3
"""Plays systemd's part for acidfs@.service, with the packaged binaries.

Runs the unit's own ExecStartPre=, ExecStart= and ExecStopPost= lines (paths
moved into the throwaway root and a temporary state directory) the way
systemd does for Type=notify, and checks:
  - READY=1 arrives on NOTIFY_SOCKET, and only once the mount answers, with
    the daemon holding only the capabilities the unit leaves it;
  - SIGTERM (KillSignal=) makes acidfsd send STOPPING=1, unmount, exit 0,
    with everything written before it kept;
  - every syscall the daemon makes is one SystemCallFilter= allows;
  - after a kill -9, ExecStopPost= clears the dead mount so that the
    restart (Restart=on-failure) mounts again, and committed files survive.
usage: unit_lifecycle.py ROOT UNIT_FILE WORK_DIR
"""
import os
import shlex
import signal
import socket
import subprocess
import sys
import time

root, unit_path, work = sys.argv[1:4]


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr)
    # Leave nothing behind: no daemon, no mount (the caller removes the files).
    try:
        os.kill(main_pid(), signal.SIGKILL)
    except (OSError, ValueError):
        pass
    subprocess.run(["fusermount3", "-u", "-z", "-q", mountpoint])
    sys.exit(1)


def fail_on_exception(kind, value, traceback):
    """An error in this script fails the test like a failed check: the daemon
    is stopped too, or it would hold the caller's output open for ever."""
    sys.__excepthook__(kind, value, traceback)
    fail(f"{kind.__name__}: {value}")


sys.excepthook = fail_on_exception


def unit_lines(key):
    lines = []
    with open(unit_path) as unit:
        for line in unit:
            if line.startswith(key + "="):
                lines.append(line.split("=", 1)[1].strip())
    return lines


mountpoint = os.path.join(work, "mnt", "data")
instance = subprocess.run(["systemd-escape", "--path", mountpoint], check=True,
                          capture_output=True, text=True).stdout.strip()
state = os.path.join(work, "var-lib-acidfs")
os.makedirs(os.path.join(state, instance), mode=0o700)  # StateDirectory=acidfs/%i


def command(line):
    """An Exec line with systemd's specifiers and the packaged paths."""
    ignore_failure = line.startswith("-")
    line = line.lstrip("-")
    # systemd splits the line first and expands specifiers in each word, so
    # the escapes of %i (\x2d) stay as they are.
    argv = [word.replace("/var/lib/acidfs/", state + "/").replace("%i", instance).replace("%f", mountpoint)
            for word in shlex.split(line)]
    if argv[0].startswith("/usr/"):
        argv[0] = root + argv[0]
    return argv, ignore_failure


def is_mounted():
    with open("/proc/self/mountinfo") as mounts:
        return any(line.split()[4] == mountpoint for line in mounts)


def main_pid():
    """The daemon's pid, as systemd's MainPID: acidfsd writes it into STORE/LOCK.
    (The process we start may be strace or setpriv in front of it.)"""
    with open(os.path.join(state, instance, "LOCK")) as lock:
        return int(lock.readline().strip())  # the first line; "mounted on ..." follows


def stop(sig):
    """Sends `sig` to the daemon and waits for the process we started."""
    os.kill(main_pid(), sig)
    try:
        return daemon.wait(timeout=120)
    except subprocess.TimeoutExpired:
        fail(f"acidfsd did not exit within 120 s of signal {sig}")


def run_exec_lines(key):
    for line in unit_lines(key):
        argv, ignore_failure = command(line)
        status = subprocess.run(argv).returncode
        if status != 0 and not ignore_failure:
            fail(f"{key}={line} exited {status}")


def hardening_prefix():
    """The unit's CapabilityBoundingSet= and NoNewPrivileges=, applied by setpriv
    as systemd would, so the daemon is shown to work with only what they leave."""
    (bounding,) = unit_lines("CapabilityBoundingSet")
    caps = ",".join("+" + c.lower().removeprefix("cap_") for c in bounding.split())
    prefix = ["setpriv", "--bounding-set", "-all," + caps, "--inh-caps", "-all"]
    if unit_lines("NoNewPrivileges") == ["yes"]:
        prefix.append("--no-new-privs")
    return prefix


def allowed_syscalls():
    """The names SystemCallFilter= allows, its @groups expanded by systemd-analyze."""
    listing = subprocess.run(["systemd-analyze", "syscall-filter"], check=True,
                             capture_output=True, text=True).stdout
    groups, current = {}, None
    for line in listing.splitlines():
        if line.startswith("@"):
            current = groups.setdefault(line.split()[0], [])
        elif current is not None and line.strip() and not line.strip().startswith("#"):
            current.append(line.split()[0])

    def expand(name):
        if not name.startswith("@"):
            return {name}
        return set().union(*(expand(member) for member in groups[name]))

    (filter_line,) = unit_lines("SystemCallFilter")
    return set().union(*(expand(name) for name in filter_line.split()))


def syscalls_after_exec(trace, program):
    """Syscall names in an strace -f log, from the execve of `program` on."""
    used, started = set(), False
    with open(trace) as log:
        for line in log:
            fields = line.split(None, 1)
            if len(fields) < 2:
                continue
            call = fields[1]
            if call.startswith("execve(") and program in call.split(",")[0]:
                started = True
            if not started:
                continue
            name = call.split("(", 1)[0]
            if call.startswith("<... "):
                name = call[5:].split(" ", 1)[0]
            if name.replace("_", "").isalnum():
                used.add(name)
    return used


trace_path = None


def start():
    """ExecStartPre=, then ExecStart= with a notify socket; returns the daemon once READY=1."""
    run_exec_lines("ExecStartPre")
    (start_line,) = unit_lines("ExecStart")
    argv, _ = command(start_line)
    argv = hardening_prefix() + argv
    if trace_path:  # strace -f: the syscalls of every thread
        argv = ["strace", "-f", "-qq", "-o", trace_path] + argv
    notify_path = os.path.join(work, "notify.sock")
    if os.path.exists(notify_path):
        os.unlink(notify_path)
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)
    notify.settimeout(60)
    env = dict(os.environ, NOTIFY_SOCKET=notify_path)
    daemon = subprocess.Popen(argv, env=env)
    try:
        message = notify.recv(4096).decode()
    except socket.timeout:
        daemon.kill()
        fail("no READY=1 within 60 s")
    if "READY=1" not in message.split("\n"):
        fail(f"first notification was {message!r}, not READY=1")
    if not is_mounted():
        fail("READY=1 came before the mount was there")
    return daemon, notify


# 1. Start under strace; READY=1 means the files are there.
trace_path = os.path.join(work, "acidfsd.strace")
daemon, notify = start()
trace_path = None
print(f"ok: READY=1 with {mountpoint} mounted (instance {instance})")
with open(f"/proc/{main_pid()}/status") as status_file:
    status_lines = dict(line.split(":", 1) for line in status_file)
effective = int(status_lines["CapEff"], 16)
CAP_SYS_ADMIN = 21
if effective != 1 << CAP_SYS_ADMIN or status_lines["NoNewPrivs"].strip() != "1":
    fail(f"the daemon runs with CapEff={effective:#x} NoNewPrivs={status_lines['NoNewPrivs'].strip()}")
print("ok: serving with CAP_SYS_ADMIN alone and no_new_privs, as the unit's hardening leaves it")
with open(os.path.join(mountpoint, "kept.txt"), "w") as f:
    f.write("written before SIGTERM\n")
# A bit of everything, for the syscall check below: data, metadata, xattrs,
# locks, statfs, the ioctl door.
workload = f"""
cd '{mountpoint}'
head -c 3000000 /dev/urandom >big && sync big && cp big copy && cat copy >/dev/null
mkdir d && mv copy d/moved && ln d/moved hard && ln -s hard soft && chmod 600 hard && chown 65534 hard
setfattr -n user.note -v x hard && getfattr -d hard >/dev/null && touch -d 2020-01-01 hard
truncate -s 10M big && flock big true && ls -laR >/dev/null && df . >/dev/null
b=$('{root}/usr/bin/acidfs' blob-id big) && echo new | '{root}/usr/bin/acidfs' cas big --expect "$b"
rm -r d hard soft big
"""
subprocess.run(["bash", "-euo", "pipefail", "-c", workload], check=True)

# 2. Stop as systemd does (KillSignal=SIGTERM; KillMode=mixed signals the main process).
(kill_signal,) = unit_lines("KillSignal")
status = stop(getattr(signal, kill_signal))
notify.settimeout(1)
message = notify.recv(4096).decode()
if "STOPPING=1" not in message.split("\n"):
    fail(f"after SIGTERM the daemon said {message!r}, not STOPPING=1")
if status != 0:
    fail(f"acidfsd exited {status} after SIGTERM, not 0")
if is_mounted():
    fail("the mount is still there after a clean stop")
run_exec_lines("ExecStopPost")  # systemd runs it after every stop; must be harmless
print("ok: SIGTERM -> STOPPING=1, unmounted, exit 0")

# SystemCallFilter= (seccomp) cannot be applied here without systemd, so
# check what it would meet: every syscall the daemon made, start to exit.
used = syscalls_after_exec(os.path.join(work, "acidfsd.strace"), "/usr/bin/acidfsd")
if "mount" not in used or "read" not in used:
    fail(f"the trace looks incomplete: {sorted(used)}")
refused = used - allowed_syscalls()
if refused:
    fail(f"SystemCallFilter= would refuse {sorted(refused)}")
print(f"ok: all {len(used)} syscalls the daemon made are within SystemCallFilter=")

# 3. Start again: the file is there. Then crash it.
daemon, notify = start()
with open(os.path.join(mountpoint, "kept.txt")) as f:
    if f.read() != "written before SIGTERM\n":
        fail("the file written before SIGTERM was not kept")
with open(os.path.join(mountpoint, "committed.txt"), "w") as f:
    f.write("closed before the crash\n")
stop(signal.SIGKILL)
if not is_mounted():
    fail("expected the kernel to keep a dead mount after kill -9")
try:
    os.stat(mountpoint)
    fail("a dead mount answered a stat")
except OSError:
    pass
run_exec_lines("ExecStopPost")
if is_mounted():
    fail("ExecStopPost= left the dead mount in place")
print("ok: kill -9 leaves a dead mount; ExecStopPost= clears it")

# 4. Restart=on-failure: the same start works, and closed files survived.
(restart,) = unit_lines("Restart")
if restart != "on-failure":
    fail(f"Restart={restart}")
daemon, notify = start()
for name, text in [("kept.txt", "written before SIGTERM\n"), ("committed.txt", "closed before the crash\n")]:
    with open(os.path.join(mountpoint, name)) as f:
        if f.read() != text:
            fail(f"{name} did not survive the crash")
if stop(signal.SIGTERM) != 0:
    fail("second clean stop failed")
print("ok: restarted after the crash, committed files intact, clean stop")
