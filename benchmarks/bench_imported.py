"""Imported models in the app, timed (issue 12; not part of `make test`; about two minutes):

1. ten tiny Hugging Face models (five ViT, five Wav2Vec2ForCTC) imported into a fresh
   workspace, then `python app.py` started on it: seconds from the launch until the first
   page is drawn in chromium (target: <= 10 s on 2 cores), and how long a fresh process takes
   to list the models of a page (`zoo.names`, from the manifests: no torch);
2. a tiny ViT imported through the Add-a-model page in chromium: seconds from opening the
   page to "is imported", then the model on the Tradeoffs page's menu.

Usage: .venv/bin/python benchmarks/bench_imported.py [--workspace DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # appserver, hf_tiny
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # explorer

from appserver import ARGS, CHROMIUM, ROOT, done, first_paint, import_through_page, start, stop  # noqa: E402

COUNT = 10


def make_models(root: Path) -> dict:
    """Ten imported models (final-head exits: the quickest import) and a folder to import by hand."""
    from hf_tiny import image_folder, librispeech_folder, tiny_image, tiny_speech

    from explorer.workspace import ImportOptions, import_model

    vit, w2v = tiny_image("vit", root / "vit"), tiny_speech("wav2vec2-stable", root / "w2v")
    images, audio = image_folder(root / "images"), librispeech_folder(root / "audio")
    begin = time.perf_counter()
    for i in range(COUNT):
        src, data = (vit, images) if i % 2 == 0 else (w2v, audio)
        import_model(str(src), data, f"bench-{i}", ImportOptions(), say=lambda line: None)
    return {"vit": vit, "images": images, "import_10_s": time.perf_counter() - begin}


def names_seconds() -> tuple[float, list[str], bool]:
    """A fresh process: import the registry and list the Tradeoffs page's models."""
    code = ("import time, sys; t = time.perf_counter(); from explorer import setup, zoo; setup.install(); "
            "n = zoo.names('tradeoffs'); "
            "print(time.perf_counter() - t); print(','.join(n)); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    seconds, names, torch = out.stdout.splitlines()
    return float(seconds), names.split(","), torch == "True"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workspace", help="where the ten models go (default: a temporary folder)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    from playwright.sync_api import expect, sync_playwright

    root = Path(args.workspace or tempfile.mkdtemp(prefix="bench-imported-"))
    os.environ["EXPLORER_WORKSPACE"] = str(root / "ws")
    made = make_models(root)
    shutil.rmtree(root / "ws" / "added-in-browser", ignore_errors=True)  # imported afresh through the page
    out = {"imported_models": COUNT, "import_10_tiny_s": made["import_10_s"]}
    out["names_s"], names, out["names_imports_torch"] = names_seconds()
    out["listed"] = sum(n.startswith("bench-") for n in names)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        launched = time.perf_counter()
        proc, url, healthy = start()
        try:
            paint = first_paint(browser, url)
            out["health_s"] = healthy
            out["first_page_s"] = time.perf_counter() - launched
            out["request_to_overview_s"] = paint["seconds"]
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            begin = time.perf_counter()
            import_through_page(page, url, made["vit"], made["images"], "added-in-browser")
            out["import_through_page_s"] = time.perf_counter() - begin
            page.goto(url + "/tradeoffs?model=added-in-browser")
            done(page, 300_000)
            expect(page.get_by_role("combobox", name="Model")).to_have_value(re.compile("added-in-browser"),
                                                                             timeout=60_000)
            out["tradeoffs_lists_it"] = True
            page.close()
        finally:
            stop(proc)
            browser.close()
            print(json.dumps(out), file=sys.stderr)  # what was measured, even when a step failed
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        for k, v in out.items():
            print(f"{k}: {v:.2f}" if isinstance(v, float) else f"{k}: {v}")


if __name__ == "__main__":
    main()
