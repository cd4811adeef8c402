"""Reads Mosquitto's debug log from a FIFO and writes only what an operator needs: denials and every
line that is not per-packet chatter (errors, warnings, notices). ``python -m vward.broker_log_watcher``.

Why a FIFO: Mosquitto 2.0.11 logs denials only at ``debug`` (``vward.broker_log``), about 330 bytes for
every reading, so nothing is written to disk but what is kept. Its ``log_dest file`` is line-buffered,
so a denial arrives at once (this reader polls every ``POLL_S``). The broker blocks on a full pipe, so this
loop does nothing but filter and write, and the pipe is enlarged (``PIPE_BYTES``) to ride out moments when
this process is not scheduled.
The FIFO is opened read-write: the broker's open never waits for us once we run, and a restarted watcher
reattaches to the pipe the broker still holds. While no watcher runs, the broker's writes fail (it
ignores SIGPIPE) and those lines are lost.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import stat
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TextIO

from vward.broker_log import DenialFilter

# 16 MiB holds about 50,000 readings' debug lines, 10 s at 5,000 msg/s: the broker blocks only if this
# process is not scheduled for that long. An unprivileged user gets 1 MiB (0.6 s at 5,000 msg/s) unless
# the host raises fs.pipe-max-size.
PIPE_BYTES = (16 << 20, 1 << 20)
POLL_S = 0.1  # a denial is in the log within this; 1 MiB of pipe holds six times as much at 5,000 msg/s
READ_BYTES = 1 << 20
NICE = -10


def open_fifo(path: Path) -> int:
    """Creates the FIFO if it is missing (mode 0620: the broker's user writes) and opens it read-write."""
    if not path.exists():
        os.mkfifo(path, 0o620)
    if not stat.S_ISFIFO(path.stat().st_mode):
        raise SystemExit(f"{path} exists and is not a FIFO")
    fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    # Above /proc/sys/fs/pipe-max-size (1 MiB by default) only root may go: take the largest allowed.
    for size in PIPE_BYTES:
        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, size)
            break
    return fd


def read_lines(fd: int, poll_s: float = POLL_S) -> Iterator[str]:
    """The FIFO's lines, read in bulk and never waited for in ``read``: a reader blocked on the pipe would be
    woken by each of the broker's writes (four a reading), and those wake-ups preempt the broker on a busy
    machine (measured: 5,000 msg/s fell to 1,000 stored/s). So: drain what is there, then sleep."""
    os.set_blocking(fd, False)
    tail = b""
    while True:
        try:
            chunk = os.read(fd, READ_BYTES)
        except BlockingIOError:
            time.sleep(poll_s)
            continue
        *lines, tail = (tail + chunk).split(b"\n")
        for line in lines:
            yield line.decode("utf-8", errors="replace")


def copy_kept(lines: Iterable[str], out: TextIO) -> None:
    """Writes the lines worth keeping, each flushed at once (a denial must be visible while it matters)."""
    keep = DenialFilter()
    for line in lines:
        kept = keep.feed(line.rstrip("\n"))
        if kept:
            out.write("".join(f"{k.line}\n" for k in kept))
            out.flush()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m vward.broker_log_watcher", description=__doc__)
    parser.add_argument("--fifo", type=Path, required=True, help="the path of Mosquitto's log_dest file")
    parser.add_argument("--log", type=Path, help="append kept lines here (default: standard output)")
    parser.add_argument("--pid-file", type=Path, help="written once the FIFO is open (the broker may start)")
    args = parser.parse_args(argv)
    # The broker stops while the pipe is full, so on a busy machine this process must not be the one that
    # waits. Measured (bench.alert_latency, 5,000 msg/s, 2 cores at load 10-12): 1,000-1,500 readings stored
    # a second at nice 0 (once a keep-alive timeout for ingest), 3,700 at -10, 4,200-4,800 without debug
    # logging. Needs CAP_SYS_NICE: systemd sets Nice= itself.
    with contextlib.suppress(PermissionError):
        os.setpriority(os.PRIO_PROCESS, 0, NICE)
    fd = open_fifo(args.fifo)
    out = args.log.open("a", encoding="utf-8") if args.log else sys.stdout
    if args.pid_file:
        args.pid_file.write_text(str(os.getpid()))
    copy_kept(read_lines(fd), out)


if __name__ == "__main__":
    main()
