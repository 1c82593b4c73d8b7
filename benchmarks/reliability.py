"""Reliability under kill -9 (not a test): random kills of the driver or a worker during a smoke sweep,
each followed by a rerun of the same command. Prints, per kill, the runs redone (started before the kill
but not finished: their work was lost), corrupt run files and processes left 10 s after the kill. The bar:
every rerun completes, 0 corrupt files, 0 leftover processes; a killed worker costs its own run, a killed
driver the runs its workers had in hand (they exit with it).

    python benchmarks/reliability.py --kills 20          # ≈ 15 min on 2 quiet cores
"""
from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from suite.run.records import CorruptRecord, read_record, runs_dir  # noqa: E402

LEFTOVER_GRACE_SECONDS = 10


def sweep_command(args, out: Path) -> list[str]:
    return [sys.executable, "run_suite.py", "--preset", "smoke", "--seeds", args.seeds, "--steps", str(args.steps),
            "--workers", str(args.workers), "--out", str(out)]


def start(command: list[str]) -> subprocess.Popen:
    # its own session, so that every process it starts (workers, resource tracker) can be found afterwards
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def session_processes(session: int) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter():
        try:
            if os.getsid(proc.pid) == session and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (ProcessLookupError, PermissionError, psutil.Error):
            pass
    return found


def workers_of(driver: subprocess.Popen) -> list[psutil.Process]:
    try:
        children = psutil.Process(driver.pid).children()
        return [c for c in children if "resource_tracker" not in " ".join(c.cmdline())]
    except psutil.Error:
        return []


def lost_runs(out: Path) -> int:
    """Runs claimed (started) but with no finished record: the work a kill cost, which the rerun redoes."""
    claimed = {p.stem for p in (runs_dir(out) / ".locks").glob("*.lock")}
    finished = set()
    for run_id in claimed:
        try:
            record = read_record(runs_dir(out) / f"{run_id}.json")
        except CorruptRecord:
            continue
        if record and record["status"] in ("ok", "diverged"):
            finished.add(run_id)
    return len(claimed - finished)


def corrupt_files(out: Path) -> int:
    count = 0
    for path in runs_dir(out).glob("*.json"):
        try:
            read_record(path)
        except CorruptRecord:
            count += 1
    return count


def trial(args, number: int, baseline: float, rng: random.Random) -> dict:
    out = Path(tempfile.mkdtemp(prefix="reliability-"))
    try:
        driver = start(sweep_command(args, out))
        delay = rng.uniform(0.2, 0.9) * baseline
        time.sleep(delay)
        workers = workers_of(driver)
        target = "worker" if workers and rng.random() < 0.5 else "driver"
        victim = rng.choice(workers).pid if target == "worker" else driver.pid
        if driver.poll() is None:
            os.kill(victim, signal.SIGKILL)
        if target == "worker":
            driver.wait()
        time.sleep(LEFTOVER_GRACE_SECONDS)
        leftover = session_processes(driver.pid)
        driver.wait()
        for proc in leftover:  # report them, then clean up so the next trial starts clean
            proc.kill()
        corrupt, redone = corrupt_files(out), lost_runs(out)
        rerun = subprocess.run(sweep_command(args, out), cwd=ROOT, capture_output=True, text=True)
        to_run = int(re.search(r"(\d+) to run", rerun.stdout)[1]) if "to run" in rerun.stdout else -1
        return {"n": number, "target": target, "at": delay, "leftover": len(leftover), "corrupt": corrupt,
                "rerun_exit": rerun.returncode, "redone": redone, "to_run": to_run}
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seeds", default="0,1,2", help="seeds of the smoke sweep (2 models each)")
    parser.add_argument("--steps", type=int, default=40, help="training steps per run")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill schedule")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        subprocess.run(sweep_command(args, Path(folder)), cwd=ROOT, check=True, capture_output=True)
        baseline = time.perf_counter() - started
    print(f"uninterrupted sweep: {baseline:.1f}s; killing at 20–90 % of that")
    results = []
    for number in range(1, args.kills + 1):
        r = trial(args, number, baseline, rng)
        results.append(r)
        print(f"kill {r['n']:>2}/{args.kills}: {r['target']:<6} at {r['at']:5.1f}s  leftover processes "
              f"{r['leftover']}  corrupt files {r['corrupt']}  rerun exit {r['rerun_exit']}  runs redone "
              f"{r['redone']} (of {r['to_run']} the rerun ran; the rest had not started)", flush=True)
    for target in ("driver", "worker"):
        mine = [r for r in results if r["target"] == target]
        if mine:
            print(f"{target} kills: {len(mine)}; runs redone per kill: max {max(r['redone'] for r in mine)}, "
                  f"mean {sum(r['redone'] for r in mine) / len(mine):.2f}")
    print(f"reruns completed: {sum(r['rerun_exit'] == 0 for r in results)}/{len(results)}; corrupt files: "
          f"{sum(r['corrupt'] for r in results)}; processes left {LEFTOVER_GRACE_SECONDS} s after a kill: "
          f"{sum(r['leftover'] for r in results)}")
    ok = all(r["rerun_exit"] == 0 and r["corrupt"] == 0 and r["leftover"] == 0 for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
