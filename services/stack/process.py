"""Process helpers: pidfiles, liveness, who listens on a port, what a process has used (memory, CPU),
running a command as root."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
from pathlib import Path

from services.stack.common import StackError, wait_for

PROC = Path("/proc")


def pid_alive(pid: int) -> bool:
    """True when ``pid`` runs and is not a zombie (a child of ours that exited is reaped here)."""
    try:
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        if reaped == pid:
            return False
    except ChildProcessError:
        pass  # not our child: fine
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    stat = PROC / str(pid) / "stat"
    try:
        state = stat.read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def cmdline(pid: int) -> str:
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def read_pidfile(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def write_pidfile(path: Path, pid: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{pid}\n")


def live_pid_from(path: Path, *needles: str) -> int | None:
    """The pid recorded in ``path`` if that process still runs and its command line contains one of
    ``needles`` (guards against a recycled pid); a stale pidfile is removed."""
    pid = read_pidfile(path)
    if pid is None:
        return None
    if pid_alive(pid) and any(n in cmdline(pid) for n in needles):
        return pid
    path.unlink(missing_ok=True)
    return None


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("net/tcp", "net/tcp6"):
        try:
            rows = (PROC / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def listener_pid(port: int) -> int | None:
    """The pid listening on a TCP port, when /proc lets us see it (Linux; others' processes need root)."""
    inodes = _listening_inodes(port)
    if not inodes:
        return None
    targets = {f"socket:[{inode}]" for inode in inodes}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) in targets:
                    return int(entry.name)
        except OSError:
            continue
    return None


def pids_named(*names: str) -> list[int]:
    """Pids whose executable name (comm) is one of ``names``."""
    found: list[int] = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            try:
                comm = (entry / "comm").read_text().strip()
            except OSError:
                continue
            if comm in names and pid_alive(int(entry.name)):
                found.append(int(entry.name))
    return found


def status_mb(pid: int, field: str) -> float | None:
    """A memory field of ``/proc/<pid>/status`` in MB (``VmHWM``: peak resident, ``VmRSS``: resident
    now); None when the process is gone or /proc does not say."""
    try:
        status = (PROC / str(pid) / "status").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024  # the kernel reports kB
    return None


def peak_rss_mb(pid: int) -> float | None:
    """A process's peak resident memory (VmHWM) in MB, None if unknown."""
    return status_mb(pid, "VmHWM")


CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process so far (0 when it is gone or /proc is not there)."""
    try:
        fields = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def as_root(argv: list[str]) -> list[str]:
    """``argv`` as run with root rights: itself when we are root, else through ``sudo -n``."""
    if os.geteuid() == 0:
        return argv
    if shutil.which("sudo"):
        return ["sudo", "-n", *argv]
    raise StackError(f"this needs root and sudo is not installed; as root run: {shlex.join(argv)}")


def run_as_root(argv: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run a command with root rights; a failure raises StackError with its output and the command."""
    full = as_root(argv)
    try:
        done = subprocess.run(full, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise StackError(f"`{shlex.join(full)}` did not finish in {timeout:.0f} s") from None
    if done.returncode != 0:
        output = (done.stderr or done.stdout).strip()
        hint = ""
        if full[:2] == ["sudo", "-n"] and "password" in output.lower():
            hint = f"\nsudo wants a password: run it yourself, then retry: sudo {shlex.join(argv)}"
        raise StackError(f"`{shlex.join(full)}` failed (exit {done.returncode}): {output}{hint}")
    return done


def terminate(pid: int, timeout: float = 20.0) -> bool:
    """SIGTERM (to its process group when it leads one), wait up to ``timeout`` s, then SIGKILL.
    True when the process is gone."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            if _leads_group(pid):
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)
        except ProcessLookupError:
            return True
        if wait_for(lambda: True if not pid_alive(pid) else None, wait):
            return True
    return False


def _leads_group(pid: int) -> bool:
    try:
        return os.getpgid(pid) == pid
    except ProcessLookupError:
        return False
