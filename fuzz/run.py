"""Run every fuzz target for a fixed time each, one after another, on one core.

    python fuzz/run.py                      # every target, 300 s each
    python fuzz/run.py --seconds 60 robots rsl
    python fuzz/run.py --list
    python fuzz/run.py --summary            # time per target so far, from RUNS.md

Each target runs ``fuzz/harness.py TARGET fuzz/corpus/TARGET`` under atheris
(libFuzzer) at ``nice 19``, with a per-input timeout (a slow input is a
finding: catastrophic regexes, quadratic parsing) and an RSS limit (an input
that makes a reader allocate without bound is a finding). New inputs that
reach new code are added to the corpus; an input that breaks a promise is
saved under ``fuzz/findings/TARGET/`` (crash-*, timeout-*, oom-*) and the
target stops there. Afterwards the corpus is minimised (``-merge=1``): the
seeds stay, and of the inputs found only those adding coverage. Each run
appends one row to ``fuzz/RUNS.md``: target, seconds, executions, coverage,
corpus size, findings. SIGTERM stops the running target as Ctrl-C stops
libFuzzer, records its row, and runs no further target. Not part of CI.

A finding becomes a regression test in tests/test_fuzz_regressions.py (the
input inline, the fix in the reader); then delete the findings file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import TARGETS  # noqa: E402

RUNS = HERE / "RUNS.md"
HEADER = ("| date (UTC) | target | seconds | executions | exec/s | coverage (edges) | "
          "corpus files | findings |\n|---|---|---:|---:|---:|---:|---:|---|\n")


#: The running harness, and whether a SIGTERM asked this run to stop.
_CURRENT: list[subprocess.Popen[str]] = []
_STOPPING: list[bool] = []


def _stop(signum: int, frame: object) -> None:
    """SIGTERM: stop the running target as libFuzzer stops on Ctrl-C (final
    stats printed), record its row, and run no further target."""
    _STOPPING.append(True)
    for proc in _CURRENT:
        proc.send_signal(signal.SIGINT)


def run_target(target: str, seconds: int, timeout: int, rss_mb: int) -> dict[str, object]:
    corpus = HERE / "corpus" / target
    findings = HERE / "findings" / target
    corpus.mkdir(parents=True, exist_ok=True)
    findings.mkdir(parents=True, exist_ok=True)
    before = set(findings.iterdir())
    env = dict(os.environ, TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS="", PYTHONHASHSEED="0")
    cmd = ["nice", "-n", "19", sys.executable, str(HERE / "harness.py"), target, str(corpus),
           f"-max_total_time={seconds}", f"-timeout={timeout}",
           f"-report_slow_units={timeout}", f"-rss_limit_mb={rss_mb}",
           "-print_final_stats=1", f"-artifact_prefix={findings}/"]
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env)
    _CURRENT[:] = [proc]
    log, _ = proc.communicate()
    _CURRENT.clear()
    took = time.monotonic() - started
    (findings.parent / f"{target}.log").write_text(log[-20000:])
    execs = re.findall(r"stat::number_of_executed_units:\s*(\d+)", log)
    cov = re.findall(r"cov: (\d+)", log)
    new = sorted(p.name for p in set(findings.iterdir()) - before)
    return {"target": target, "seconds": round(took), "execs": int(execs[-1]) if execs else 0,
            "cov": int(cov[-1]) if cov else 0,
            "corpus": sum(1 for _ in corpus.iterdir()), "findings": new,
            "returncode": proc.returncode}


def merge(target: str) -> int:
    """Minimise the target's corpus with libFuzzer's ``-merge=1``: keep the
    seeds, and of the found inputs only those that add coverage. Returns the
    number of files kept."""
    import hashlib
    import shutil
    import tempfile

    corpus = HERE / "corpus" / target
    seeds = {hashlib.sha1(p.read_bytes()).hexdigest() for p in corpus.glob("seed-*")}
    with tempfile.TemporaryDirectory() as tmp:
        # libFuzzer's merge re-runs argv[0] (harness.py, executable) in child
        # processes: its ``python3`` must be this one.
        env = dict(os.environ, TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS="",
                   PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
        proc = subprocess.run(["nice", "-n", "19", str(HERE / "harness.py"),
                               target, "-merge=1", tmp, str(corpus)],
                              capture_output=True, text=True, env=env, check=False)
        if proc.returncode != 0 or "Permission denied" in proc.stderr or not any(
                Path(tmp).iterdir()):  # keep the corpus as it is
            return sum(1 for _ in corpus.iterdir())
        for old in corpus.iterdir():
            if not old.name.startswith("seed-"):
                old.unlink()
        for new in Path(tmp).iterdir():
            data = new.read_bytes()
            if hashlib.sha1(data).hexdigest() not in seeds:
                shutil.copyfile(new, corpus / new.name)
    return sum(1 for _ in corpus.iterdir())


def record(row: dict[str, object]) -> None:
    if not RUNS.exists():
        RUNS.write_text("# Fuzzing runs\n\nAppended by fuzz/run.py, one row per target "
                        "run.\n\n" + HEADER)
    seconds = int(row["seconds"]) or 1  # type: ignore[call-overload]
    execs = int(row["execs"])  # type: ignore[call-overload]
    found = ", ".join(row["findings"]) or "none"  # type: ignore[arg-type]
    if not row["findings"] and row["returncode"] == 72 and _STOPPING:  # libFuzzer's "interrupted"
        found = "none (stopped by SIGTERM)"
    elif not row["findings"] and row["returncode"] not in (0,):
        found = f"exit {row['returncode']} (see fuzz/findings/{row['target']}.log)"
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M")
    with RUNS.open("a") as out:
        out.write(f"| {when} | {row['target']} | {seconds} | {execs} | {execs // seconds} "
                  f"| {row['cov']} | {row['corpus']} | {found} |\n")


#: Targets that fuzz a protocol reader (issue 14: an hour each); the others
#: fuzz the blocklist line parser, the reservations file and tdmguard.toml.
NOT_READERS = ("blocklist", "reservations", "config", "codings")
GOAL = 3600


def summary() -> str:
    """The "Time so far" table, summed from the runs table of RUNS.md."""
    totals: dict[str, list[int]] = {t: [0, 0, 0, 0] for t in TARGETS}
    for line in RUNS.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 8 or cells[1] not in totals or not cells[2].isdigit():
            continue
        row = totals[cells[1]]
        row[0] += int(cells[2])
        row[1] += int(cells[3])
        row[2] = max(row[2], int(cells[5]))
        row[3] += not cells[7].startswith("none")
    out = ["| target | reader | seconds in total | minutes | executions | "
           "best coverage (edges) | runs with a finding | to the hour |",
           "|---|---|---:|---:|---:|---:|---:|---|"]
    for target, (secs, execs, cov, found) in totals.items():
        reader = target not in NOT_READERS
        left = "" if not reader else ("reached" if secs >= GOAL else f"{GOAL - secs} s to go")
        out.append(f"| {target} | {'yes' if reader else 'no'} | {secs} | {secs / 60:.1f} | "
                   f"{execs:,} | {cov} | {found} | {left} |")
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="*", help="default: every target")
    parser.add_argument("--seconds", type=int, default=300, help="per target (default 300)")
    parser.add_argument("--timeout", type=int, default=10,
                        help="seconds one input may take, wall clock (default 10); at nice "
                             "19 beside a busy CPU an input can wait that long for a core, "
                             "so give a background run more (e.g. 120)")
    parser.add_argument("--rss-mb", type=int, default=2048, help="memory limit (default 2048)")
    parser.add_argument("--no-merge", action="store_true",
                        help="keep every input found (default: minimise the corpus after)")
    parser.add_argument("--list", action="store_true", help="list the targets")
    parser.add_argument("--summary", action="store_true",
                        help="print the time, executions and findings per target, summed "
                             "from RUNS.md, and run nothing")
    args = parser.parse_args()
    if args.list:
        print("\n".join(TARGETS))
        return
    if args.summary:
        print(summary(), end="")
        return
    unknown = [t for t in args.targets if t not in TARGETS]
    if unknown:
        parser.error(f"unknown target(s) {', '.join(unknown)}; see --list")
    failed = 0
    signal.signal(signal.SIGTERM, _stop)
    for target in args.targets or list(TARGETS):
        if _STOPPING:
            break
        row = run_target(target, args.seconds, args.timeout, args.rss_mb)
        if not args.no_merge:
            row["corpus"] = merge(target)
        record(row)
        failed += bool(row["findings"])
        print(f"{target}: {row['seconds']} s, {row['execs']} executions, cov {row['cov']}, "
              f"findings: {', '.join(row['findings']) or 'none'}", flush=True)  # type: ignore[arg-type]
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
