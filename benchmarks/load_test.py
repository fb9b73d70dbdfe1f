"""Bounded load test (`make load`, or `python benchmarks/load_test.py [--sessions 8 --rounds 3
--many 16 --many-rounds 1 --strict --json]`).

One `python app.py` on 127.0.0.1 and Debian's chromium, three phases on the same server:
1. a single user's first visit to Tradeoffs, Model and both live pages: seconds until each
   page is drawn (its title) and until its first figure;
2. SESSIONS browser contexts at once, each with the two live pages open in its own tabs,
   upload in every round a digit picture (an MNIST test digit as a PNG) and a spoken-digit
   WAV (synthesized by espeak-ng, or made from the shipped examples without it) and wait for
   the answer;
3. the same with MANY sessions (16 by default).
Every session gets different inputs from every other in the same round, so an answer that is
not the session's own shows one session seeing another's input. Fails when an answer is
wrong, a page shows an exception, the server logs a traceback or is not up and healthy at
the end (`--strict`: also when a timing target is missed). Prints the targets of issue 27
against what was measured, p50 / p95 per scenario, and where the server's time went in each
phase (its step log: explorer.compute, one line per model load, profile read, cached
computation, answer, timing and compute-slot wait).

The simulated people's browsers run here, on the server's cores, where real ones would not:
chromium runs in the idle scheduling class (`--browsers-at-normal-priority`: not), and beside
every figure as the browser saw it come the server's own part (each live page's run until its
answer is drawn, from the step log), when the answer's message reached the browser, and the
CPU seconds of the server, the browsers and everything else in each phase.

Not a test_*.py file: `pytest` never collects it; it needs several minutes of both cores.
Timings depend on the machine's other load: quote them with `uptime`.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # appserver
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # explorer

from appserver import ARGS, CHROMIUM, output, start, stop  # noqa: E402

from explorer.compute import ANSWERED, LOG_ENV  # noqa: E402

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
DONE = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
# Every wait polls the page 10 times a second. Playwright's default polls on every animation
# frame: 16 waiting tabs then keep producing frames and burnt about one of the 2 cores (measured:
# 3.9 CPU-s in 8 s for 8 tabs, against 0.56 s at 100 ms) — the harness's cost, not the server's.
POLL_MS = 100
ANSWER = b"### Exit"  # in the websocket message that carries either live page's answer (its markdown)
CHANGED = """([selector, needle, old]) => {  // the answer is new and the script has finished
    const e = [...document.querySelectorAll(selector)].find(e => e.innerText.includes(needle));
    return !!e && e.innerText !== old && !document.querySelector('[data-testid="stStatusWidget"]');
}"""
TIMEOUT_MS = 300_000
BROWSER = [CHROMIUM]  # the executable the phases launch: main() puts chromium in the idle class unless told not to


def idle_chromium() -> str:
    """A chromium that runs in the kernel's idle scheduling class (`chrt --idle`, inherited by
    every process it starts): the simulated people's browsers get the cores only when the server
    and everything else leave them free. Their browsers run on their own machines; here 16 tabs
    share the server's 2 cores, and at normal priority (chromium raises its own browser process to
    nice -8) they took the server's CPU. Plain chromium where `chrt` is missing."""
    if not shutil.which("chrt"):
        return CHROMIUM
    path = Path(tempfile.mkdtemp()) / "chromium-idle"
    path.write_text(f'#!/bin/sh\nexec chrt --idle 0 {CHROMIUM} "$@"\n')
    path.chmod(0o755)
    return str(path)


# --- inputs: different for every session and round, answered right by every exit --------------


def _every_exit_says(model: str, x, answer) -> bool:
    from explorer import criteria, setup
    from explorer.predict import predict_input

    setup.install()
    crit = "confidence" if model == "image" else "ctc_entropy"
    out = predict_input(model, x, crit, criteria.get(crit).default)
    return all(a == answer for a in out.answers)


def digit_pictures(count: int) -> list[tuple[str, bytes]]:
    """(label, PNG) for `count` uploads: labels cycle 0..9; each test digit is used once."""
    import torch

    from explorer.data.mnist import load_mnist
    from explorer.image_input import mnist_to_png, prepare_digit

    images, labels = load_mnist("test")
    out, used = [], set()
    for n in range(count):
        want = n % 10
        for i in np.flatnonzero(labels == want):
            if i in used:
                continue
            used.add(i)
            png = mnist_to_png(images[i], scale=8)
            if _every_exit_says("image", torch.tensor(prepare_digit(png).mnist)[None], str(want)):
                out.append((str(want), png))
                break
    return out


def _espeak(text: str, voice: str) -> bytes:
    return subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "--stdout", text], check=True,
                          capture_output=True, timeout=30).stdout  # a WAV whose header claims ~2 GB


def _from_examples(n: int) -> tuple[str, bytes] | None:
    """The n-th sequence of 1-3 shipped example clips (155 of them), for machines without espeak-ng."""
    from explorer.audio import load_audio, to_wav_bytes
    from explorer.data.examples import EXAMPLES, load_index

    clips = [c for c in load_index()["speech"] if "babble" not in c["file"]]
    runs = [run for k in (1, 2, 3) for run in itertools.product(clips, repeat=k)]
    if n >= len(runs):
        return None
    gap = np.zeros(4800, np.float32)
    parts = [p for c in runs[n] for p in (load_audio((EXAMPLES / c["file"]).read_bytes()).samples, gap)]
    return " ".join(c["text"] for c in runs[n]), to_wav_bytes(np.concatenate(parts[:-1]))


def spoken_digits(count: int) -> list[tuple[str, bytes]]:
    """(transcript, WAV) for `count` uploads, all transcripts different."""
    import torch

    from explorer.audio import load_audio

    rng = np.random.default_rng(7)
    out, seen = [], set()
    have_espeak = shutil.which("espeak-ng") is not None
    for n in range(2000):
        if len(out) == count:
            break
        if have_espeak:
            text = " ".join(WORDS[d] for d in rng.integers(0, 10, int(rng.integers(2, 5))))
            wav = _espeak(text, ["en-us", "en", "en-gb-x-rp"][n % 3])
        elif (pair := _from_examples(n)) is not None:
            text, wav = pair
        else:
            break
        if text in seen:
            continue
        if _every_exit_says("speech", torch.from_numpy(load_audio(wav).samples), text):
            seen.add(text)
            out.append((text, wav))
    if len(out) < count:
        raise RuntimeError(f"only {len(out)} of {count} speech inputs are transcribed right by every layer")
    return out


# --- one browser session ---------------------------------------------------------------------


class LivePage:
    """One live page in a tab, switched to Upload; upload() returns (answer, seconds)."""

    def __init__(self, page, path: str, selector: str, needle: str, pattern: str, mime: str, suffix: str):
        self.page, self.path, self.selector, self.needle = page, path, selector, needle
        self.pattern, self.mime, self.suffix = re.compile(pattern), mime, suffix
        self.shown: str | None = None
        self.arrivals: list[float] = []  # when a message carrying an answer reached the browser
        page.on("websocket", lambda ws: ws.on("framereceived", self._frame))

    def _frame(self, payload) -> None:
        if isinstance(payload, bytes | bytearray) and ANSWER in payload:
            self.arrivals.append(time.perf_counter())

    def arrived(self, since: float) -> float | None:
        """Seconds from `since` until the first answer message after it reached the browser:
        the server's part of a wait (drawing it is the browser's)."""
        return next((t - since for t in self.arrivals if t >= since), None)

    async def open(self, url: str) -> float | None:
        """Open the page, switch it to Upload; seconds until its first answer reached the browser."""
        begin = time.perf_counter()
        await self.page.goto(url + self.path)
        await self.page.locator(self.selector, has_text=self.needle).first.wait_for(timeout=TIMEOUT_MS)
        arrived = self.arrived(begin)
        await self.page.wait_for_function(DONE, polling=POLL_MS, timeout=TIMEOUT_MS)
        await self.page.get_by_text("Upload", exact=True).click()
        await self.page.locator("input[type=file]").wait_for(state="attached", timeout=TIMEOUT_MS)
        await self.page.wait_for_function(DONE, polling=POLL_MS, timeout=TIMEOUT_MS)
        return arrived

    async def upload(self, name: str, data: bytes) -> tuple[str, float, float | None]:
        """(the answer shown, seconds until it was drawn, seconds until it reached the browser)"""
        begin = time.perf_counter()
        await self.page.locator("input[type=file]").set_input_files(
            {"name": name + self.suffix, "mimeType": self.mime, "buffer": data})
        await self.page.wait_for_function(CHANGED, arg=[self.selector, self.needle, self.shown], polling=POLL_MS,
                                          timeout=TIMEOUT_MS)
        seconds = time.perf_counter() - begin
        arrived = self.arrived(begin)
        await self.page.wait_for_timeout(300)
        await self.page.wait_for_function(DONE, polling=POLL_MS, timeout=TIMEOUT_MS)
        self.shown = await self.page.locator(self.selector, has_text=self.needle).first.inner_text()
        if await self.page.locator("[data-testid='stException']").count():
            raise AssertionError(f"{self.path}: the page shows an exception")
        found = self.pattern.search(self.shown)
        return (found[1] if found else f"<no answer in {self.shown!r}>"), seconds, arrived


async def session(browser, url: str, index: int, digits, speech, log: list, opened: list) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)  # a click on a busy server waits as long as an answer
    try:
        image = LivePage(await context.new_page(), "/live_image", "[data-testid='stMarkdownContainer']", "Answer",
                         r"Answer (\S+) with", "image/png", ".png")
        voice = LivePage(await context.new_page(), "/live_speech", "h3", "Exit", r"“([^”]*)”", "audio/wav", ".wav")
        begin = time.perf_counter()
        image_arrived = await image.open(url)
        middle = time.perf_counter()
        speech_arrived = await voice.open(url)
        opened.append({"image": middle - begin, "speech": time.perf_counter() - middle,
                       "both": time.perf_counter() - begin, "image_arrived": image_arrived,
                       "speech_arrived": speech_arrived})
        for rnd, ((label, png), (text, wav)) in enumerate(zip(digits, speech, strict=True)):
            for kind, page, name, data, want in (("image", image, f"s{index}-r{rnd}-digit", png, label),
                                                 ("speech", voice, f"s{index}-r{rnd}-call", wav, text)):
                got, seconds, arrived = await page.upload(name, data)
                log.append({"session": index, "round": rnd, "kind": kind, "want": want, "got": got,
                            "seconds": seconds, "arrived": arrived, "done": time.perf_counter()})
    finally:
        await context.close()


async def sessions(url: str, n: int, digits, speech) -> tuple[list[dict], list[dict]]:
    """(one entry per upload, per session the seconds it took to open each live page)"""
    from playwright.async_api import async_playwright

    log: list[dict] = []
    opened: list[dict] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=BROWSER[0], args=ARGS)
        try:
            await asyncio.gather(*(session(browser, url, i, digits[i], speech[i], log, opened) for i in range(n)))
        finally:
            await browser.close()
    return log, opened


# --- a single user's first visit ---------------------------------------------------------------

FIRST_VISIT = {"Tradeoffs": "/tradeoffs", "Model": "/model", "Live: image": "/live_image",
               "Live: speech": "/live_speech"}
EXPLORER = "iframe[title*='threshold_explorer']"  # Tradeoffs' figures: drawn in the browser, then marked shown


async def first_figure(page) -> None:
    """Until the page's first figure is drawn: the threshold explorer's, or a plotly chart."""
    if await page.locator(EXPLORER).count() or page.url.endswith("/tradeoffs"):
        await page.frame_locator(EXPLORER).first.locator("body[data-shown]").wait_for()
    else:
        await page.locator(".js-plotly-plot").first.wait_for()


async def first_visits(url: str) -> dict[str, dict]:
    """Per page: seconds from the link to its title (the page drawn) and to its first figure,
    each page opened once by one user, in the order above, on a server nobody else uses."""
    from playwright.async_api import async_playwright

    out = {}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=BROWSER[0], args=ARGS)
        try:
            context = await browser.new_context(viewport={"width": 1280, "height": 900})
            context.set_default_timeout(TIMEOUT_MS)
            for title, path in FIRST_VISIT.items():
                page = await context.new_page()
                begin = time.perf_counter()
                await page.goto(url + path)
                await page.locator("h1").first.wait_for()
                drawn = time.perf_counter() - begin
                await first_figure(page)
                out[title] = {"page_s": round(drawn, 2), "figures_s": round(time.perf_counter() - begin, 2)}
                await page.close()
        finally:
            await browser.close()
    return out


# --- where the server's time went (its step log: explorer.compute) -------------------------------


def step_table(lines: list[dict], begin: float, end: float, top: int = 12) -> list[dict]:
    """The server's steps that ended between `begin` and `end` (epoch seconds), the longest in
    total first: each with how often it ran, its total, median and longest seconds."""
    by: dict[str, list[float]] = {}
    for e in lines:
        if begin <= e["at"] <= end:
            by.setdefault(e["step"], []).append(e["s"])
    rows = [{"step": k, "count": len(v), "total_s": round(sum(v), 2), "p50_s": round(float(np.median(v)), 3),
             "max_s": round(max(v), 2)} for k, v in by.items()]
    return sorted(rows, key=lambda r: -r["total_s"])[:top]


def cpu_seconds(pid: int | None = None) -> float:
    """CPU seconds used so far by process `pid` (all its threads), or by the whole machine
    (every core busy with anything: the server, the browsers, other people's work)."""
    tick = os.sysconf("SC_CLK_TCK")
    if pid is not None:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / tick  # all but idle and iowait


class BrowsersCpu:
    """CPU seconds used by the load generator — this harness, Playwright's driver and every
    chromium process — sampled twice a second in a thread (chromium's processes are orphaned
    when a browser closes, so their time never reaches this process; a process's last half
    second before it ends may be missed: a lower bound). Not the server's (`server`: its pid)."""

    def __init__(self, server: int):
        self.server, self.seen, self.lock = server, {}, threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        stats: dict[int, list[str]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stats[int(entry.name)] = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
        children: dict[int, list[int]] = {}
        for pid, fields in stats.items():
            children.setdefault(int(fields[1]), []).append(pid)
        tick = os.sysconf("SC_CLK_TCK")
        todo = [os.getpid()]
        with self.lock:
            while todo:
                pid = todo.pop()
                if pid == self.server or pid not in stats:
                    continue
                fields = stats[pid]
                self.seen[(pid, fields[19])] = (int(fields[11]) + int(fields[12])) / tick  # by pid and start time
                todo += children.get(pid, [])

    def _run(self) -> None:
        while not self.stop.wait(0.5):
            self._sample()

    def total(self) -> float:
        self._sample()
        with self.lock:
            return sum(self.seen.values())

    def close(self) -> None:
        self.stop.set()
        self.thread.join()


def read_steps(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# --- the whole test ----------------------------------------------------------------------------


def _percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 2) if values else float("nan")


def scenario(url: str, n: int, r: int, pictures, clips) -> dict:
    """n sessions × r rounds; their figures, or the failure that stopped them."""
    # Round k gives session i input k*n+i: within a round every session's input differs.
    digits = [[pictures[k * n + i] for k in range(r)] for i in range(n)]
    speech = [[clips[k * n + i] for k in range(r)] for i in range(n)]
    began, failure = time.perf_counter(), None
    try:
        log, opened = asyncio.run(sessions(url, n, digits, speech))
    except Exception as err:  # noqa: BLE001 - reported with the server's state
        log, opened, failure = [], [], f"{type(err).__name__}: {err}".splitlines()[0]
    times = {k: [e["seconds"] for e in log if e["kind"] == k] for k in ("image", "speech")}
    every = times["image"] + times["speech"]
    arrived = [e["arrived"] for e in log if e["arrived"] is not None]  # the server's part of each wait
    return {
        "sessions": n, "rounds": r, "interactions": len(log), "expected": 2 * n * r, "failure": failure,
        "wrong": [e for e in log if e["got"] != e["want"]], "duration_s": round(time.perf_counter() - began, 1),
        "open_image_p50_s": _percentile([o["image"] for o in opened], 50),
        "open_speech_p50_s": _percentile([o["speech"] for o in opened], 50),
        "open_both_p50_s": _percentile([o["both"] for o in opened], 50),
        "open_both_max_s": round(max(o["both"] for o in opened), 2) if opened else None,
        "open_image_arrived_p50_s": _percentile([o["image_arrived"] for o in opened if o["image_arrived"]], 50),
        "open_speech_arrived_p50_s": _percentile([o["speech_arrived"] for o in opened if o["speech_arrived"]], 50),
        "upload_arrived_p50_s": _percentile(arrived, 50), "upload_arrived_p95_s": _percentile(arrived, 95),
        "upload_arrived_max_s": round(max(arrived), 2) if arrived else None,
        **{f"{k}_{q}_s": _percentile(v, p) for k, v in (("upload", every), *times.items())
           for q, p in (("p50", 50), ("p95", 95))},
        "upload_max_s": round(max(every), 2) if every else None,
    }


def targets(first: dict | None, runs: list[dict]) -> list[tuple[str, str, bool]]:
    """(target, what was measured, met) for every target of issue 27 this run measured."""
    out = []
    for run in runs:
        right = not run["failure"] and not run["wrong"] and run["interactions"] == run["expected"]
        tag = f"{run['sessions']} sessions × {run['rounds']}"
        out.append((f"{tag}: every answer right", f"{run['interactions'] - len(run['wrong'])} of "
                    f"{run['expected']} right" + (f" ({run['failure']})" if run["failure"] else ""), right))
        p95 = run["upload_p95_s"]
        limit = 5 if run["sessions"] <= 8 else 15
        out.append((f"{tag}: upload → answer p95 ≤ {limit} s", f"{p95} s", p95 <= limit))
        server = run.get("server_answer_p95_s", float("nan"))
        out.append((f"{tag}: the server's part of an answer (a live page's run until its answer is drawn) p95 ≤ "
                    f"{limit} s", f"{server} s", server <= limit))
        if run["sessions"] <= 8:
            out.append((f"{tag}: opening both live pages p50 ≤ 10 s", f"{run['open_both_p50_s']} s",
                        run["open_both_p50_s"] <= 10))
            longest = max(run["upload_max_s"] or np.inf, run["open_image_p50_s"], run["open_speech_p50_s"])
            out.append((f"{tag}: nothing waits > 10 s (longest upload; each page's opening, p50)",
                        f"{longest} s", longest <= 10))
    for title, t in (first or {}).items():
        out.append((f"first visit, {title}: page ≤ 2 s, figures ≤ 5 s", f"{t['page_s']} s, {t['figures_s']} s",
                    t["page_s"] <= 2 and t["figures_s"] <= 5))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--many", type=int, default=16, help="sessions of the second scenario (0: skip it)")
    parser.add_argument("--many-rounds", type=int, default=1)
    parser.add_argument("--no-first-visit", action="store_true")
    parser.add_argument("--strict", action="store_true", help="also fail when a timing target is missed")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--browsers-at-normal-priority", action="store_true",
                        help="run chromium as an ordinary process (it then competes with the server for the cores)")
    args = parser.parse_args(argv)
    plan = [(args.sessions, args.rounds)] + ([(args.many, args.many_rounds)] if args.many else [])

    prep = time.perf_counter()
    count = sum(n * r for n, r in plan)  # each scenario its own inputs: none is answered from the last's cache
    pictures, clips = digit_pictures(count), spoken_digits(count)
    prep = time.perf_counter() - prep
    offsets = np.cumsum([0] + [n * r for n, r in plan])

    BROWSER[0] = CHROMIUM if args.browsers_at_normal_priority else idle_chromium()
    steps_file = Path(tempfile.mkdtemp()) / "steps.jsonl"
    os.environ[LOG_ENV] = str(steps_file)  # the server appends where its time goes (explorer.compute)
    proc, url, _ = start()
    phases, first, runs, cpu = [], None, [], {}
    load_cpu = BrowsersCpu(proc.pid)

    def phase(name: str, work):
        begin, server, machine = time.time(), cpu_seconds(proc.pid), cpu_seconds()
        browsers, load = load_cpu.total(), os.getloadavg()[0]
        try:
            return work()
        finally:
            phases.append((name, begin, time.time()))
            cpu[name] = {"wall_s": round(time.time() - begin, 1),
                         "server_cpu_s": round(cpu_seconds(proc.pid) - server, 1),
                         "browsers_cpu_s": round(load_cpu.total() - browsers, 1),
                         "machine_cpu_s": round(cpu_seconds() - machine, 1),
                         "load_1min": f"{load:.1f} → {os.getloadavg()[0]:.1f}"}

    def visit():
        try:
            return asyncio.run(first_visits(url))
        except Exception as err:  # noqa: BLE001 - a page that never draws is a missed target, said below
            return {"(every page)": {"page_s": float("inf"), "figures_s": float("inf"), "failure": str(err)}}

    if not args.no_first_visit:
        first = phase("first visit, one user", visit)
    for (n, r), at in zip(plan, offsets, strict=False):
        runs.append(phase(f"{n} sessions × {r} rounds",
                          lambda n=n, r=r, at=at: scenario(url, n, r, pictures[at:], clips[at:])))
    load_cpu.close()
    alive = proc.poll() is None
    try:
        healthy = urllib.request.urlopen(url + "/_stcore/health", timeout=10).read() == b"ok"
    except OSError:
        healthy = False
    stop(proc)
    server_log = output(proc).splitlines(keepends=True)
    lines = read_steps(steps_file)
    for run, (_, begin, end) in zip(runs, phases[-len(runs):], strict=True):  # the server's part of each answer
        answered = [e["s"] for e in lines if e["step"] == ANSWERED and begin <= e["at"] <= end]
        run.update({f"server_answer_{q}_s": _percentile(answered, p) for q, p in (("p50", 50), ("p95", 95))},
                   server_answer_max_s=round(max(answered), 2) if answered else None)
    tracebacks = sum("Traceback" in line for line in server_log)

    met = targets(first, runs)
    right = all(not x["failure"] and not x["wrong"] and x["interactions"] == x["expected"] for x in runs)
    ok = right and alive and healthy and not tracebacks and (not args.strict or all(m for *_, m in met))
    summary = {"load_at_end": os.getloadavg(), "inputs_prepared_s": round(prep, 1), "server_alive": alive,
               "server_healthy": healthy, "server_tracebacks": tracebacks,
               "browsers": "normal priority" if BROWSER[0] == CHROMIUM else "idle class (chrt --idle)",
               "first_visit": first, "scenarios": runs,
               "targets": [{"target": t, "measured": m, "met": bool(ok_)} for t, m, ok_ in met],
               "steps": {name: step_table(lines, b, e) for name, b, e in phases}, "cpu": cpu, "passed": ok}
    if args.json:
        print(json.dumps(summary, default=str))
    else:
        print(report(summary))
        if not ok and server_log:
            print("".join(server_log[-40:]), file=sys.stderr)
    return 0 if ok else 1


def report(summary: dict) -> str:
    """The tables a person reads: targets, each scenario, where the server's time went."""
    out = [f"load average at the end: {' '.join(f'{v:.2f}' for v in os.getloadavg())} "
           f"({os.cpu_count()} cores); server alive {summary['server_alive']}, healthy {summary['server_healthy']}, "
           f"{summary['server_tracebacks']} tracebacks; browsers at {summary['browsers']}", "",
           "| target | measured | met |", "|---|---|---|"]
    out += [f"| {t['target']} | {t['measured']} | {'yes' if t['met'] else '**no**'} |" for t in summary["targets"]]
    keys = ["open_image_p50_s", "open_speech_p50_s", "open_both_p50_s", "open_both_max_s", "image_p50_s",
            "image_p95_s", "speech_p50_s", "speech_p95_s", "upload_p50_s", "upload_p95_s", "upload_max_s",
            "open_image_arrived_p50_s", "open_speech_arrived_p50_s", "upload_arrived_p50_s", "upload_arrived_p95_s",
            "upload_arrived_max_s", "server_answer_p50_s", "server_answer_p95_s", "server_answer_max_s", "duration_s"]
    runs = summary["scenarios"]
    out += ["", "| seconds | " + " | ".join(f"{x['sessions']} × {x['rounds']}" for x in runs) + " |",
            "|---|" + "---|" * len(runs)]
    out += [f"| {k[:-2].replace('_', ' ')} | " + " | ".join(str(x[k]) for x in runs) + " |" for k in keys]
    out += ["", "(“arrived”: until the websocket message carrying the answer reached the browser — the server's "
            "part of the wait, with the browser's sending of the upload; the rest is the browser drawing it. "
            "“server answer”: every live-page script run, from its start until its answer was drawn — the server "
            "alone.)"]
    out += ["", f"Who used the {os.cpu_count()} cores (CPU seconds; the machine's also counts the browsers' tabs and "
            "anything else running):", "", "| phase | wall s | server CPU s | browsers' CPU s (chromium, the harness) "
            "| everything else's CPU s | server's share | load (1 min), start → end |", "|---|---|---|---|---|---|---|"]
    out += [f"| {name} | {c['wall_s']} | {c['server_cpu_s']} | {c['browsers_cpu_s']} | "
            f"{max(0.0, c['machine_cpu_s'] - c['server_cpu_s'] - c['browsers_cpu_s']):.1f} | "
            f"{c['server_cpu_s'] / max(c['machine_cpu_s'], 1e-9):.0%} | {c['load_1min']} |"
            for name, c in summary["cpu"].items()]
    for phase, rows in summary["steps"].items():
        out += ["", f"Where the server's time went — {phase} (longest in total first):", "",
                "| step | count | total s | p50 s | max s |", "|---|---|---|---|---|"]
        out += [f"| {r['step']} | {r['count']} | {r['total_s']} | {r['p50_s']} | {r['max_s']} |" for r in rows]
    for x in runs:
        if x["failure"]:
            out.append(f"\n{x['sessions']} sessions: {x['failure']}")
        for e in x["wrong"]:
            out.append(f"wrong answer: session {e['session']} round {e['round']} {e['kind']}: "
                       f"want {e['want']!r}, got {e['got']!r}")
    out.append(f"\n{'PASSED' if summary['passed'] else 'FAILED'}")
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
