#!/usr/bin/env python3
"""Plays systemd's part for acidfs@.service, with the packaged binaries.

Runs the unit's own ExecStartPre=, ExecStart= and ExecStopPost= lines (paths
moved into the throwaway root and a temporary state directory) the way
systemd does for Type=notify, and checks:
  - READY=1 arrives on NOTIFY_SOCKET, and only once the mount answers;
  - SIGTERM (KillSignal=) makes acidfsd send STOPPING=1, unmount, exit 0,
    with everything written before it kept;
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
    sys.exit(1)


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


def run_exec_lines(key):
    for line in unit_lines(key):
        argv, ignore_failure = command(line)
        status = subprocess.run(argv).returncode
        if status != 0 and not ignore_failure:
            fail(f"{key}={line} exited {status}")


def start():
    """ExecStartPre=, then ExecStart= with a notify socket; returns the daemon once READY=1."""
    run_exec_lines("ExecStartPre")
    (start_line,) = unit_lines("ExecStart")
    argv, _ = command(start_line)
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


# 1. Start; READY=1 means the files are there.
daemon, notify = start()
print(f"ok: READY=1 with {mountpoint} mounted (instance {instance})")
with open(os.path.join(mountpoint, "kept.txt"), "w") as f:
    f.write("written before SIGTERM\n")

# 2. Stop as systemd does (KillSignal=SIGTERM; KillMode=mixed signals the main process).
(kill_signal,) = unit_lines("KillSignal")
daemon.send_signal(getattr(signal, kill_signal))
notify.settimeout(60)
message = notify.recv(4096).decode()
if "STOPPING=1" not in message.split("\n"):
    fail(f"after SIGTERM the daemon said {message!r}, not STOPPING=1")
status = daemon.wait(timeout=120)
if status != 0:
    fail(f"acidfsd exited {status} after SIGTERM, not 0")
if is_mounted():
    fail("the mount is still there after a clean stop")
run_exec_lines("ExecStopPost")  # systemd runs it after every stop; must be harmless
print("ok: SIGTERM -> STOPPING=1, unmounted, exit 0")

# 3. Start again: the file is there. Then crash it.
daemon, notify = start()
with open(os.path.join(mountpoint, "kept.txt")) as f:
    if f.read() != "written before SIGTERM\n":
        fail("the file written before SIGTERM was not kept")
with open(os.path.join(mountpoint, "committed.txt"), "w") as f:
    f.write("closed before the crash\n")
daemon.kill()
daemon.wait()
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
daemon.send_signal(signal.SIGTERM)
if daemon.wait(timeout=120) != 0:
    fail("second clean stop failed")
print("ok: restarted after the crash, committed files intact, clean stop")
