"""A run's claim: one holder at a time, and a killed holder's claim is free at once."""
import subprocess
import sys
import threading
from pathlib import Path

from suite.run.locks import claim

ROOT = Path(__file__).resolve().parents[1]
HOLD = "import sys, time\nfrom suite.run.locks import claim\nwith claim(sys.argv[1], 'run'):\n" \
       "    print('held', flush=True)\n    time.sleep(60)\n"


def test_a_claim_held_elsewhere_is_refused_and_free_once_released(tmp_path):
    with claim(tmp_path, "run") as first:
        with claim(tmp_path, "run") as second:
            assert first and not second
        with claim(tmp_path, "other") as other:
            assert other
    with claim(tmp_path, "run") as again:
        assert again


def test_a_claim_of_a_process_killed_with_sigkill_is_taken_over(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True)
    assert holder.stdout.readline() == "held\n"
    with claim(tmp_path, "run") as taken:
        assert not taken
    holder.kill()
    holder.wait()
    assert (tmp_path / "runs" / ".locks" / "run.lock").exists()  # the file stays; the lock does not
    with claim(tmp_path, "run") as taken:
        assert taken


def test_waiting_for_a_claim_returns_once_the_holder_lets_go(tmp_path):
    # events, not sleeps: the waiter starts only once the thread holds the claim, and the holder lets go
    # only once the waiter is about to wait, however busy the machine is
    held, waiting, released = threading.Event(), threading.Event(), []

    def hold():
        with claim(tmp_path, "run"):
            held.set()
            waiting.wait(60)
            released.append(True)

    thread = threading.Thread(target=hold)
    thread.start()
    assert held.wait(60)
    with claim(tmp_path, "run") as taken:
        assert not taken  # really held by the thread
    waiting.set()
    with claim(tmp_path, "run", wait=True) as taken:
        assert taken and released == [True]
    thread.join()
