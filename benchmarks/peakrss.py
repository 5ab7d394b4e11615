"""Run a command and report its own peak resident memory, not its parent's.

    python benchmarks/peakrss.py OUTFILE -- COMMAND [ARG ...]

Linux keeps ``ru_maxrss`` across ``fork`` and ``exec``: a process started
from a 400 MB test worker reports at least 400 MB, whatever it uses itself
(measured: ``python -c pass`` gives 13 MB from a small parent, 413 MB from a
400 MB one). This script is a fresh, small interpreter; the command is its
fork, so the command's counter starts from about 10 MB. It waits for the
command and writes to OUTFILE, as JSON, ``maxrss_mb`` (the command and every
child it reaped, e.g. tdmguard's C2PA reader: ``wait4`` reports the larger)
and ``cpu_s`` (user + system, the same children included). Its exit status
is the command's (128 + N when killed by signal N); SIGTERM and SIGINT are
passed on to the command. Standard streams are the command's own.
"""

from __future__ import annotations

import json
import os
import signal
import sys


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: peakrss.py OUTFILE -- COMMAND [ARG ...]", file=sys.stderr)
        return 2
    out, cmd = argv[0], argv[2:]
    pid = os.fork()
    if pid == 0:  # pragma: no cover - replaced by the command
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: os.kill(pid, signum))
    _pid, status, usage = os.wait4(pid, 0)  # retried on EINTR (PEP 475)
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"maxrss_mb": usage.ru_maxrss / 1024,
                   "cpu_s": usage.ru_utime + usage.ru_stime}, f)
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
