"""Bounded load test (`make load`, or `python benchmarks/load_test.py [--sessions 8 --rounds 3 --json]`).

One `streamlit run app.py` on 127.0.0.1 and Debian's chromium: SESSIONS browser contexts at
once, each with the two live pages open in its own tabs, upload in every round a digit
picture (an MNIST test digit as a PNG) and a spoken-digit WAV (synthesized by espeak-ng,
or made from the shipped examples without it) and wait for the answer. Every session gets
different inputs from every other in the same round, so an answer that is not the
session's own shows one session seeing another's input. Passes when every answer is right,
no page shows an exception, and the server is still up and healthy at the end; prints the
p50/p95 time per interaction (upload to the answer shown, script finished).

Not a test_*.py file: `pytest` never collects it; it needs a few minutes of both cores.
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
import time
import urllib.request
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # appserver
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # explorer

from appserver import ARGS, CHROMIUM, output, start, stop  # noqa: E402

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
DONE = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
CHANGED = """([selector, needle, old]) => {  // the answer is new and the script has finished
    const e = [...document.querySelectorAll(selector)].find(e => e.innerText.includes(needle));
    return !!e && e.innerText !== old && !document.querySelector('[data-testid="stStatusWidget"]');
}"""
TIMEOUT_MS = 300_000


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

    async def open(self, url: str) -> None:
        await self.page.goto(url + self.path)
        await self.page.locator(self.selector, has_text=self.needle).first.wait_for(timeout=TIMEOUT_MS)
        await self.page.wait_for_function(DONE, timeout=TIMEOUT_MS)
        await self.page.get_by_text("Upload", exact=True).click()
        await self.page.locator("input[type=file]").wait_for(state="attached", timeout=TIMEOUT_MS)
        await self.page.wait_for_function(DONE, timeout=TIMEOUT_MS)

    async def upload(self, name: str, data: bytes) -> tuple[str, float]:
        begin = time.perf_counter()
        await self.page.locator("input[type=file]").set_input_files(
            {"name": name + self.suffix, "mimeType": self.mime, "buffer": data})
        await self.page.wait_for_function(CHANGED, arg=[self.selector, self.needle, self.shown], timeout=TIMEOUT_MS)
        seconds = time.perf_counter() - begin
        await self.page.wait_for_timeout(300)
        await self.page.wait_for_function(DONE, timeout=TIMEOUT_MS)
        self.shown = await self.page.locator(self.selector, has_text=self.needle).first.inner_text()
        if await self.page.locator("[data-testid='stException']").count():
            raise AssertionError(f"{self.path}: the page shows an exception")
        found = self.pattern.search(self.shown)
        return (found[1] if found else f"<no answer in {self.shown!r}>"), seconds


async def session(browser, url: str, index: int, digits, speech, log: list, opened: list) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        image = LivePage(await context.new_page(), "/live_image", "[data-testid='stMarkdownContainer']", "Answer",
                         r"Answer (\S+) with", "image/png", ".png")
        voice = LivePage(await context.new_page(), "/live_speech", "h3", "Exit", r"“([^”]*)”", "audio/wav", ".wav")
        begin = time.perf_counter()
        await image.open(url)
        await voice.open(url)
        opened.append(time.perf_counter() - begin)
        for rnd, ((label, png), (text, wav)) in enumerate(zip(digits, speech, strict=True)):
            for kind, page, name, data, want in (("image", image, f"s{index}-r{rnd}-digit", png, label),
                                                 ("speech", voice, f"s{index}-r{rnd}-call", wav, text)):
                got, seconds = await page.upload(name, data)
                log.append({"session": index, "round": rnd, "kind": kind, "want": want, "got": got,
                            "seconds": seconds, "done": time.perf_counter()})
    finally:
        await context.close()


async def run(url: str, sessions: int, digits, speech) -> tuple[list[dict], list[float]]:
    """(one entry per upload, seconds each session took to open both pages)"""
    from playwright.async_api import async_playwright

    log: list[dict] = []
    opened: list[float] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            await asyncio.gather(*(session(browser, url, i, digits[i], speech[i], log, opened)
                                   for i in range(sessions)))
        finally:
            await browser.close()
    return log, opened


# --- the whole test ----------------------------------------------------------------------------


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    n, r = args.sessions, args.rounds

    prep = time.perf_counter()
    pictures, clips = digit_pictures(n * r), spoken_digits(n * r)
    # Round k gives session i input k*n+i: within a round every session's input differs.
    digits = [[pictures[k * n + i] for k in range(r)] for i in range(n)]
    speech = [[clips[k * n + i] for k in range(r)] for i in range(n)]
    prep = time.perf_counter() - prep

    proc, url, _ = start()
    began = time.perf_counter()
    failure = None
    try:
        log, opened = asyncio.run(run(url, n, digits, speech))
    except Exception as err:  # noqa: BLE001 - reported below, with the server's state
        log, opened, failure = [], [], f"{type(err).__name__}: {err}"
    duration = time.perf_counter() - began
    alive = proc.poll() is None
    try:
        healthy = urllib.request.urlopen(url + "/_stcore/health", timeout=10).read() == b"ok"
    except OSError:
        healthy = False
    stop(proc)
    server_log = output(proc).splitlines(keepends=True)

    wrong = [e for e in log if e["got"] != e["want"]]
    times = {k: [e["seconds"] for e in log if e["kind"] == k] for k in ("image", "speech")}
    every = times["image"] + times["speech"]
    summary = {
        "sessions": n, "rounds": r, "interactions": len(log), "expected": 2 * n * r, "wrong": wrong,
        "server_alive": alive, "server_healthy": healthy, "failure": failure,
        "server_tracebacks": sum("Traceback" in line for line in server_log),
        "duration_s": round(duration, 1), "inputs_prepared_s": round(prep, 1),
        "open_both_pages_p50_s": round(_percentile(opened, 50), 1),
        "uploads_phase_s": round(max(e["done"] for e in log) - min(e["done"] - e["seconds"] for e in log), 1)
        if log else None,  # first upload sent to last answer shown
        **{f"{k}_{q}_s": round(_percentile(v, p), 2) for k, v in (("all", every), *times.items())
           for q, p in (("p50", 50), ("p95", 95))},
        "max_s": round(max(every), 2) if every else None,
    }
    ok = (not failure and not wrong and len(log) == 2 * n * r and alive and healthy
          and not summary["server_tracebacks"])
    summary["passed"] = ok
    if args.json:
        print(json.dumps(summary))
    else:
        print("\n".join(f"{k:>20}: {v}" for k, v in summary.items()))
        if not ok and server_log:
            print("".join(server_log[-40:]), file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
