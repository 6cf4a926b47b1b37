"""Dashboard benchmark: the runs table and a 20-run overlay in headless Chromium over a 10,000-run sweep.

    python benchmarks/dashboard.py [--runs 10000 --steps 1000 --repeat 5]

The sweep is generated inside ClickHouse by benchmarks/queries.py (its loader and server processes); this
process drives Debian's Chromium through Playwright and reads the times the page itself measured with
performance.now(): time to the first screen of the runs table, time until every run is loaded, frame times
while scrolling through all rows, and the render time of a 20-run x 1,000-step overlay once its data arrived.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.queries import EXPERIMENT, Api, free_port, wait_ready  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
QUERIES = ROOT / "benchmarks" / "queries.py"
CHROMIUM = os.environ.get("RUNSTREAM_CHROMIUM", "/usr/bin/chromium")
TARGETS_MS = {"first_screen": 1000, "overlay_render": 300}

SCROLL = """async (rowsPerFrame) => {
  const scroller = document.querySelector('.vt-scroll');
  const idle = [];
  let before = performance.now();
  for (let i = 0; i < 60; i++) {  // frames with nothing to do: the browser's own pace here
    await new Promise((resolve) => requestAnimationFrame(resolve));
    const now = performance.now();
    idle.push(now - before);
    before = now;
  }
  idle.sort((a, b) => a - b);
  const gaps = [];
  let last = performance.now();
  const end = scroller.scrollHeight - scroller.clientHeight;
  const start = scroller.scrollTop;
  for (let i = 1; i <= 120; i++) {
    scroller.scrollTop = rowsPerFrame ? start + i * rowsPerFrame * 28 : Math.round((end * i) / 120);
    await new Promise((resolve) => requestAnimationFrame(resolve));
    const now = performance.now();
    gaps.push(now - last);
    last = now;
  }
  gaps.sort((a, b) => a - b);
  const rows = document.querySelectorAll('.vt-row').length;
  return {frames: gaps.length, idle_median_ms: idle[idle.length >> 1],
          median_ms: gaps[gaps.length >> 1], p95_ms: gaps[Math.floor(gaps.length * 0.95)],
          max_ms: gaps[gaps.length - 1], rows_in_dom: rows,
          last_index: Math.max(...[...document.querySelectorAll('.vt-row')].map((r) => Number(r.dataset.index)))};
}"""


def measure(url: str, exp_id: str, run_ids: list[str], repeat: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.add_init_script("localStorage.setItem('runstream.live', '0')")
        page = context.new_page()
        first, loaded = [], []
        for _ in range(repeat):
            page.goto(f"{url}/#/runs?e={exp_id}")
            page.reload()
            page.wait_for_function("() => window.__dash?.timings.firstScreen", timeout=60_000)
            page.wait_for_function("() => window.__dash?.timings.allRows", timeout=120_000)
            t = page.evaluate("window.__dash.timings")
            first.append(t["firstScreen"])
            loaded.append(t["allRows"])
        scroll = page.evaluate(SCROLL, 0)  # top to bottom in 120 frames
        page.evaluate("document.querySelector('.vt-scroll').scrollTop = 0")
        steady = page.evaluate(SCROLL, 10)  # 10 rows a frame, as a wheel or a trackpad moves
        overlays = []
        for i in range(repeat):
            page.goto(f"{url}/#/runs?e={exp_id}&sel={','.join(run_ids)}&m=val_loss&log={'1' if i % 2 else ''}")
            page.reload()
            page.wait_for_function("() => window.__dash?.timings.overlay?.runs === 20", timeout=120_000)
            overlays.append(page.evaluate("window.__dash.timings.overlay"))
        page.screenshot(path=str(RESULTS / "dashboard-overlay.png"))
        browser.close()
    return {
        "first_screen_ms": round(statistics.median(f["paintedSinceNavigation"] for f in first), 1),
        "first_screen_view_ms": round(statistics.median(f["ms"] for f in first), 1),
        "first_page_rows": first[0]["rows"],
        "all_rows_ms": round(statistics.median(x["ms"] for x in loaded), 1),
        "rows_loaded": loaded[0]["rows"],
        "scroll": {k: round(v, 1) if isinstance(v, float) else v for k, v in scroll.items()},
        "scroll_10_rows": {k: round(v, 1) if isinstance(v, float) else v for k, v in steady.items()},
        "overlay_render_ms": round(statistics.median(o["renderMs"] for o in overlays), 1),
        "overlay_fetch_ms": round(statistics.median(o["fetchMs"] for o in overlays), 1),
        "overlay_points": overlays[0]["points"],
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    data_dir = tempfile.mkdtemp(prefix="runstream-bench-dashboard-")
    try:
        started = time.perf_counter()
        out = subprocess.run([sys.executable, str(QUERIES), "--load", data_dir, "--runs", str(args.runs),
                              "--steps", str(args.steps)], check=True, capture_output=True, text=True).stdout
        points = json.loads(out.strip().splitlines()[-1])["points"]
        print(f"loaded {args.runs} runs, {points:,} points in {time.perf_counter() - started:.1f}s", flush=True)
        port = free_port()
        proc = subprocess.Popen([sys.executable, str(QUERIES), "--serve", data_dir, "--port", str(port)])
        try:
            wait_ready(port, proc)
            api = Api(port)
            exp_id = next(e["experiment_id"] for e in api.call("GET", "/api/v1/experiments")["experiments"]
                          if e["name"] == EXPERIMENT)
            run_ids = [r["run_id"] for r in api.call("POST", "/api/v1/runs/search", {
                "experiment_ids": [exp_id], "max_results": 20, "order_by": ["metrics.val_loss ASC"]})["runs"]]
            timings = measure(f"http://127.0.0.1:{port}", exp_id, run_ids, args.repeat)
        finally:
            proc.terminate()
            proc.wait(30)
        return {"runs": args.runs, "steps": args.steps, "points": points, "repeat": args.repeat, **timings}
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def report(r: dict[str, Any]) -> str:
    s = r["scroll"]
    rows = [
        ("runs table, first screen (navigation to painted rows)", r["first_screen_ms"], TARGETS_MS["first_screen"]),
        ("runs table, view start to first rows", r["first_screen_view_ms"], None),
        (f"runs table, all {r['rows_loaded']:,} runs loaded", r["all_rows_ms"], None),
        ("frames with nothing to draw: median (the headless browser's pace)", s["idle_median_ms"], None),
        ("scrolling all rows in 120 frames (83 rows a frame): median frame", s["median_ms"], None),
        ("scrolling all rows: p95 frame", s["p95_ms"], None),
        ("scrolling 10 rows a frame: median frame", r["scroll_10_rows"]["median_ms"], None),
        ("scrolling 10 rows a frame: p95 frame", r["scroll_10_rows"]["p95_ms"], None),
        (f"overlay of 20 runs ({r['overlay_points']:,} points): render after data", r["overlay_render_ms"],
         TARGETS_MS["overlay_render"]),
        ("overlay of 20 runs: fetching the curves", r["overlay_fetch_ms"], None),
    ]
    lines = [
        f"# Dashboard benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Machine: {platform.platform()}, {os.cpu_count()} cores; headless Chromium ({CHROMIUM}), 1400x1000 viewport. "
        f"Sweep: {r['runs']:,} runs x 5 metrics x {r['steps']:,} steps ({r['points']:,} points) in embedded "
        f"ClickHouse, API over HTTP on the same machine. Medians of {r['repeat']} page loads, timed in the page "
        f"with performance.now(). The table's DOM held {s['rows_in_dom']} rows while scrolling to row "
        f"{s['last_index']:,}.",
        "",
        "| measure | ms | aim ms |",
        "|---|---:|---:|",
    ]
    lines += [f"| {name} | {ms:.1f} | {aim if aim else ''} |" for name, ms, aim in rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = run(args)
    text = report(result)
    print(text)
    (RESULTS / f"dashboard-{datetime.now(UTC):%Y%m%d-%H%M}.md").write_text(text)
    (RESULTS / "dashboard-latest.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
