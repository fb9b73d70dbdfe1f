"""`streamlit run app.py` on 127.0.0.1 and Debian's chromium, for the browser tests and
the app timing benchmark (tests/bench_app.py)."""

import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(timeout: float = 60) -> tuple[subprocess.Popen, str, float]:
    """Start the app; return (process, url, seconds until /_stcore/health said ok).
    Raises RuntimeError with the server's output if it does not come up."""
    port = free_port()
    begin = time.perf_counter()
    log = tempfile.TemporaryFile()  # a file, not a pipe: a pipe nobody reads would stall the server
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true",
                             "--browser.gatherUsageStats", "false"],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    proc.log = log
    url = f"http://127.0.0.1:{port}"
    while time.perf_counter() - begin < timeout:
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                return proc, url, time.perf_counter() - begin
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("streamlit did not come up: " + output(proc)[-2000:])


def output(proc: subprocess.Popen) -> str:
    """What the server printed so far."""
    proc.log.seek(0)
    return proc.log.read().decode(errors="replace")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def settle(page) -> None:
    """Wait until the app's script has finished running (no 'Running…' status)."""
    page.wait_for_timeout(300)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=90_000)
    page.wait_for_timeout(300)
