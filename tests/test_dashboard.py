"""The dashboard: its controls as config keys, its views over a run's frames, the live and replay
sources agreeing with the run folder, the command's checks, and the page in a real browser
(headless Chromium driven by Playwright; skipped, saying why, where no browser is installed)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.figure import Figure

from abm.cli import main
from abm.dashboard import views
from abm.dashboard.model import BACKSTOP_ORDERS, DashboardModel, base_config, control_overrides
from abm.dashboard.sources import LiveSource, ReplaySource
from abm.experiments.run import execute

TINY = [
    "retail.count=200",
    "whales.count=1",
    "market_makers.count=2",
    "arbitrageurs.count=1",
    "retail.cross_margin_share=0.5",
    "run.hours=0.1",
]
SHOCK = {"shock_percent": -6.0, "shock_start_minute": 1.0}


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> tuple[DashboardModel, Path]:
    """A tiny dashboard model run to its end, and the same run written as a run folder."""
    model = DashboardModel(base_config(None, TINY), **SHOCK)
    source = LiveSource(model)
    while model.running:
        model.step()
        if model.tick % 120 == 0:
            source.money()
    out = tmp_path_factory.mktemp("dash") / "run"
    execute(model.config, out)
    return model, out


def test_each_control_is_a_config_key_and_a_zero_shock_removes_the_shocks():
    changes = control_overrides(20, 0.4, "ADL, exchange", 0.0, "last", 0.0, 5)
    assert changes == {
        "exchange.max_leverage": 20,
        "retail.stop_loss_share": 0.4,
        "exchange.backstops": BACKSTOP_ORDERS["ADL, exchange"],
        "exchange.insurance_fund_seed": 0.0,
        "exchange.mark_price.mode": "last",
        "world.shocks": [],
    }
    model = DashboardModel(base_config(None, TINY), leverage_cap=20, mark_price_mode="last")
    assert model.config.exchange.max_leverage == 20
    assert model.config.exchange.mark_price.mode == "last"
    assert model.speed() == 0.0
    for _ in range(30):
        model.step()
    assert model.speed() > 0


def test_the_live_money_view_is_the_run_folders_where_the_money_goes(finished):
    model, out = finished
    live = LiveSource(model).money()
    written = pd.read_csv(out / "where_money_goes.csv")
    assert len(live) and live["amount_micro_usdt"].sum() == written["amount_micro_usdt"].sum()
    key = ["section", "party", "part"]
    assert (
        live.set_index(key)["amount_micro_usdt"].sort_index().to_dict()
        == written.set_index(key)["amount_micro_usdt"].sort_index().to_dict()
    )


def test_replay_at_a_moment_sees_only_what_happened_before_it(finished):
    _, out = finished
    replay = ReplaySource(out)
    everything = replay.money()
    replay.at_s = 330.0  # after the snapshot of the liquidation map at tick 300, before the end
    assert replay.ticks()["elapsed_s"].max() == 330.0
    seen = replay.liquidation_map()["tick"]
    assert len(seen) and (seen <= replay.ticks()["tick"].max()).all()
    assert replay.money()["amount_micro_usdt"].sum() <= everything["amount_micro_usdt"].sum()
    ticks = pd.read_parquet(out / "ticks.parquet")
    first = ticks.loc[(ticks["liquidations_long"] + ticks["liquidations_short"]) > 0, "elapsed_s"]
    replay.at_s = float(first.min()) - 1
    assert replay.money().empty


def test_every_view_draws_the_live_model_and_the_replay(finished):
    model, out = finished
    for source in (LiveSource(model), ReplaySource(out)):
        ticks = source.ticks()
        figures = [
            views.draw_prices(ticks),
            views.draw_depth(ticks),
            views.draw_liquidations(ticks),
            views.draw_backstops(ticks),
            views.draw_liquidation_map(source.liquidation_map(), source.mark_usdt()),
            views.draw_money(source.money()),
        ]
        assert all(isinstance(f, Figure) for f in figures)
        fund_axis = figures[3].axes[0]
        assert fund_axis.get_ylim()[0] == 0


def test_the_command_refuses_a_bad_config_or_folder_before_serving(tmp_path, capsys):
    assert main(["dashboard", "--set", "exchange.max_leverag=20"]) == 2
    assert "max_leverag" in capsys.readouterr().err
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["dashboard", "--replay", str(tmp_path)]) == 2
    assert str(tmp_path) in capsys.readouterr().err
    assert main(["dashboard", "--replay", str(tmp_path), "--set", "run.hours=1"]) == 2
    assert main(["dashboard", "--port", "70000"]) == 2


# --------------------------------------------------------------------- in a real browser


def browser() -> str:
    """Debian's chromium (or Google Chrome) on the PATH; skip, saying how to get one."""
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (uv sync)")
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip(
        "no browser for the dashboard test: install Debian's chromium (apt-get install "
        "chromium; .ci/run does this where it can)"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(*args: str):
    """``abm dashboard ARGS`` on a free loopback port until the block ends; yields its URL."""
    port = free_port()
    command = [sys.executable, "-m", "abm.cli", "dashboard", *args, "--port", str(port)]
    process = subprocess.Popen(
        command, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_served(url, process)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def wait_until_served(url: str, process: subprocess.Popen, seconds: float = 90) -> None:
    """Until ``url`` answers; AssertionError (with the command's output, if piped) when
    ``process`` ends first or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read().decode(errors="replace") if process.stdout else ""
                raise AssertionError(f"the dashboard did not start:\n{output}") from None
            time.sleep(0.5)


def processes_serving(port: int) -> list[int]:
    """Pids of processes whose command line names ``--port PORT`` (the dashboard's server)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"--port" in argv and str(port).encode() in argv:
            found.append(int(entry.name))
    return found


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_abm_dashboard_stops_its_server_too(signum):
    """SIGTERM (a scheduler, kill) or SIGINT to ``abm dashboard`` stops the solara server it
    started: no orphan keeps serving the port."""
    pytest.importorskip("solara")
    port = free_port()
    command = [sys.executable, "-m", "abm.cli", "dashboard", *sum((["--set", o] for o in TINY), [])]
    parent = subprocess.Popen(
        [*command, "--port", str(port)],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_served(url, parent)
        assert len(processes_serving(port)) >= 2  # abm dashboard and its server
        os.kill(parent.pid, signum)  # the parent alone, as a scheduler or kill does
        assert parent.wait(timeout=30) == 128 + signum
        deadline = time.monotonic() + 15
        while processes_serving(port) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert processes_serving(port) == []
        with pytest.raises(OSError):
            urllib.request.urlopen(url, timeout=2)
    finally:
        for pid in processes_serving(port):
            os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def page_at(url: str, errors: list[str]):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=browser(), args=["--no-sandbox"])
        try:
            page = chromium.new_page(viewport={"width": 1400, "height": 1000})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            # Everything the page needs is served locally: a request leaving 127.0.0.1 (a CDN)
            # or one the server cannot answer is an error.
            page.on(
                "request",
                lambda r: (
                    None
                    if r.url.startswith(("http://127.0.0.1:", "data:", "blob:"))
                    else errors.append(f"request leaving 127.0.0.1: {r.url}")
                ),
            )
            page.on(
                "response",
                lambda r: errors.append(f"{r.status} for {r.url}") if r.status >= 400 else None,
            )
            page.goto(url, wait_until="networkidle", timeout=90_000)
            yield page
        finally:
            chromium.close()


def screenshot_folder(tmp_path: Path) -> Path:
    """Where screenshots go: ``ABM_SCREENSHOTS`` if set (to refresh the README's), else tmp."""
    folder = Path(os.environ.get("ABM_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


MOVED = r"/simulated time (0\.0[1-9]|0\.[1-9]|[1-9])/"
"""The clock shows a simulated time after the start (a Step moves it 60 s: 0.02 h)."""
LATER = r"/simulated time (0\.0[4-9]|0\.[1-9]|[1-9])/"
"""The clock shows a time that playing, not the one step, reached."""


@pytest.mark.slow
def test_the_live_page_runs_and_takes_a_new_leverage_cap(tmp_path):
    browser()
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    errors: list[str] = []
    with (
        serving(*[a for o in TINY[:-1] for a in ("--set", o)]) as url,
        page_at(url, errors) as page,
    ):
        page.get_by_text("leverage cap 125x").first.wait_for(timeout=60_000)
        assert page.title() == "abm: a leveraged BTC perpetual market"
        # Each slider shows its value (the cap's thumb label reads 125).
        cap = page.locator(".v-input", has_text="leverage cap (x)")
        assert cap.locator(".v-slider__thumb-label").inner_text().strip() == "125"
        # The page is interactive once a step moves the clock (a click that lands before the
        # page's kernel is connected does nothing: try again).
        for _ in range(10):
            page.get_by_role("button", name="Step").click()
            with contextlib.suppress(PlaywrightTimeout):
                page.wait_for_function(
                    f"() => {MOVED}.test(document.body.innerText)", timeout=10_000
                )
                break
        page.get_by_role("button", name="▶").click()
        page.wait_for_function(f"() => {LATER}.test(document.body.innerText)", timeout=120_000)
        page.get_by_role("button", name="❚❚").click()
        assert page.locator("img").count() >= 6
        page.screenshot(path=str(screenshot_folder(tmp_path) / "dashboard_running.png"))
        slider = page.locator(".v-input", has_text="leverage cap (x)").get_by_role("slider")
        slider.focus()
        slider.press("Home")
        for _ in range(19):
            slider.press("ArrowRight")
        thumb = page.locator(".v-input", has_text="leverage cap (x)").locator(
            ".v-slider__thumb-label"
        )
        page.wait_for_function(
            "(el) => el.innerText.trim() === '20'", arg=thumb.element_handle(), timeout=30_000
        )
        # The slider's value reaches the kernel a moment after its thumb moves; a Reset that
        # lands first rebuilds the model at the old cap: press it again until the new one shows.
        for attempt in range(5):
            page.get_by_role("button", name="Reset").click()
            try:
                page.get_by_text("leverage cap 20x").first.wait_for(timeout=20_000)
                break
            except PlaywrightTimeout:
                if attempt == 4:
                    raise
    assert errors == []


@pytest.mark.slow
def test_the_replay_page_plays_back_a_run_folder(finished, tmp_path):
    browser()
    _, out = finished
    errors: list[str] = []
    with serving("--replay", str(out)) as url, page_at(url, errors) as page:
        page.get_by_text("at 0.10 h of 0.10 h").first.wait_for(timeout=60_000)
        assert page.locator("img").count() >= 6
        slider = page.locator(".v-input", has_text="time (hours)").get_by_role("slider")
        slider.focus()
        slider.press("Home")
        page.get_by_text("at 0.00 h of 0.10 h").first.wait_for(timeout=30_000)
        slider.press("End")
        page.get_by_text("at 0.10 h of 0.10 h").first.wait_for(timeout=30_000)
        page.screenshot(path=str(screenshot_folder(tmp_path) / "dashboard_replay.png"))
    assert errors == []


@pytest.mark.parametrize(("host", "warned"), [("0.0.0.0", True), ("127.0.0.1", False)])
def test_serving_beyond_loopback_is_warned_about(monkeypatch, capsys, host, warned):
    import abm.cli.dashboard as cli_dashboard

    served = []
    monkeypatch.setattr(cli_dashboard, "serve", lambda command, env: served.append(command) or 0)
    assert main(["dashboard", *sum((["--set", o] for o in TINY), []), "--host", host]) == 0
    assert served and host in served[0]
    err = capsys.readouterr().err
    assert ("warning: --host 0.0.0.0 serves the page beyond this machine" in err) == warned
