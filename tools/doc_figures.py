"""The fan charts of docs/campaign.md's worked example, rendered to PNG for the docs.

Runs the worked example (the bundled ``winter_stylised``, 100 runs, seed 1, sync): the
season with no package through the CLI (``barrage simulate campaign ... --json``, the
command the doc quotes), and the season under each defence package with the same seed and
chunks as ``barrage plan-defence --campaign`` plays it (the context with
:func:`barrage.campaign.planning.apply_package`). Draws them with the report's own figure
code (:mod:`barrage.report.campaign`) and screenshots each in headless Chromium with no
network (plotly's static export needs kaleido, which is not installed). Prints the
figures the captions quote, so the doc can be checked against them.

    python tools/doc_figures.py --data ../shared/data [--runs 100] [--seed 1] [--out docs/img]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BARRAGE = str(Path(sys.executable).parent / "barrage")
SCENARIO = "winter_stylised"
MAX_PNG_BYTES = 200_000
#: Chromium: headless, no sandbox in a container, no name resolves but the loopback.
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
    "--window-size=1000,700",
)


def no_package(grid_dir: Path, runs: int, seed: int) -> dict:
    """The worked example's season with no package, as the CLI prints it."""
    cmd = [BARRAGE, "simulate", "campaign", SCENARIO, "--runs", str(runs), "--seed", str(seed)]
    cmd += ["--scheduler", "sync", "--json", "--grid-dir", str(grid_dir)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def with_packages(grid_dir: Path, runs: int, seed: int) -> tuple[dict[str, dict], float]:
    """Each package's season summary (same seed and chunks as ``plan-defence
    --campaign``), and the people the stylised system serves."""
    from barrage.campaign import build_context, load_campaign, summarise_campaign
    from barrage.campaign.planning import apply_package
    from barrage.compute.campaign import simulate_campaign

    scenario = load_campaign(SCENARIO)
    ctx = build_context(scenario, grid_dir=grid_dir)
    out = {}
    for package in scenario.packages:
        c = apply_package(ctx, package)
        _, played = simulate_campaign(scenario, runs=runs, seed=seed, scheduler="sync", context=c)
        out[package.name] = summarise_campaign(c, played)
    return out, float(ctx.model.cache.people)


def figures(base: dict, packages: dict[str, dict], runs: int, seed: int) -> dict[str, object]:
    """PNG name -> figure: the no-package season's hours, medium-range interceptors and
    attacker stock, and the hours under each package against none."""
    from barrage.report.campaign import campaign_figures, packages_figure

    figs = campaign_figures(base)
    by_title = {f.layout.title.text: f for f in figs}
    hours = {"none": base["hours_without_power_per_day"]["by_day"]}
    hours |= {n: s["hours_without_power_per_day"]["by_day"] for n, s in packages.items()}
    chosen = {
        "campaign-hours.png": figs[0],
        "campaign-mrad.png": by_title["Interceptors: mrad"],
        "campaign-attacker.png": by_title["Attacker stock"],
        "campaign-packages.png": packages_figure(
            base["dates"], hours, title="Hours without power per day: USD 40 M packages",
            y_title="hours per day, average customer",
        ),
    }  # fmt: skip
    note = f"illustrative: {SCENARIO}, {runs} runs, seed {seed}, stated assumptions"
    for fig in chosen.values():
        title = fig.layout.title.text
        fig.update_layout(
            title={"text": f"{title}<br><sup>{note}</sup>"},
            width=900,
            height=400,
            template="plotly_white",
            legend={"orientation": "h", "y": -0.2},
            margin={"l": 60, "r": 20, "t": 70, "b": 90},
        )
    return chosen


def monthly_table(base: dict, packages: dict[str, dict]) -> str:
    """Each month's mean of the daily median and the daily CVaR95 of hours without
    power, per package: what the packages figure shows, in numbers."""
    import pandas as pd

    months = pd.to_datetime(base["dates"]).strftime("%Y-%m")
    rows = {}
    for name, s in {"none": base, **packages}.items():
        fan = s["hours_without_power_per_day"]["by_day"]
        for stat in ("p50", "cvar95"):
            rows[f"{name} {stat}"] = pd.Series(fan[stat]).groupby(months).mean()
    return pd.DataFrame(rows).T.round(1).to_string()


def render(figs: dict[str, object], out: Path) -> list[tuple[Path, int]]:
    """Each figure screenshotted from a self-contained page in headless Chromium."""
    from plotly.offline import get_plotlyjs
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    written = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name, fig in figs.items():
                page = Path(tmp) / f"{name}.html"
                div = fig.to_html(
                    full_html=False, include_plotlyjs=False, div_id="fig",
                    config={"displayModeBar": False},
                )  # fmt: skip
                page.write_text(
                    f"<!doctype html><html><head><meta charset='utf-8'><script>"
                    f"{get_plotlyjs()}</script></head><body style='margin:0'>{div}</body></html>"
                )
                driver.get(page.as_uri())
                WebDriverWait(driver, 60).until(
                    lambda d: d.execute_script("return !!document.querySelector('#fig .main-svg')")
                )
                path = out / name
                driver.find_element("id", "fig").screenshot(str(path))
                written.append((path, path.stat().st_size))
    finally:
        driver.quit()
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="The shared data folder.")
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("docs/img"))
    args = ap.parse_args(argv)
    grid_dir = args.data / "grid" / "pglib-opf"
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    base = no_package(grid_dir, args.runs, args.seed)
    packages, people = with_packages(grid_dir, args.runs, args.seed)
    print(f"played in {time.perf_counter() - t0:.0f} s (sync)")
    for name, s in {"none": base, **packages}.items():
        h = s["hours_without_power_per_day"]
        ch = s["customer_hours_per_customer_season"]
        print(
            f"{name}: hours/day season mean {h['season_mean']['mean']:.1f} "
            f"[p05 {h['season_mean']['p05']:.1f}, p95 {h['season_mean']['p95']:.1f}], daily "
            f"median peak {max(h['by_day']['p50']):.1f}, daily CVaR95 peak "
            f"{max(h['by_day']['cvar95']):.1f}; customer-hours mean {ch['mean'] * people:.3g}, "
            f"CVaR95 {ch['cvar95'] * people:.3g}"
        )
    print(monthly_table(base, packages))
    for layer, v in base["interceptors"].items():
        print(
            f"none: {layer} ran dry in {v['share_of_runs_ran_dry']:.0%} (p50 {v['day_ran_dry_p50']})"
        )
    written = render(figures(base, packages, args.runs, args.seed), args.out)
    for path, size in written:
        print(f"{path}: {size / 1000:.0f} kB")
    too_big = [str(p) for p, size in written if size > MAX_PNG_BYTES]
    if too_big:
        print(f"over {MAX_PNG_BYTES / 1000:.0f} kB: {', '.join(too_big)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
