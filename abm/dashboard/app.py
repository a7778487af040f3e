"""The dashboard page (Mesa SolaraViz): the live model with its controls, or the replay of a
run folder with a time slider, both drawing :mod:`abm.dashboard.views`.

``abm dashboard`` serves this module with ``solara run``; what to show comes in the environment
variable ``ABM_DASHBOARD`` (JSON: ``config`` and ``set`` for the live page, or ``replay``, a
run folder), which the command has already checked.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable

import solara
from matplotlib.figure import Figure
from mesa.visualization import SolaraViz, solara_viz
from mesa.visualization.utils import update_counter

from abm.dashboard import views
from abm.dashboard.model import BACKSTOP_ORDERS, MARK_MODES, DashboardModel, base_config
from abm.dashboard.sources import LiveSource, ReplaySource

ENV = "ABM_DASHBOARD"
REDRAW_SECONDS = 60
"""Simulated seconds between redraws while the model plays (the page's render interval): a
redraw costs far more than a simulated minute of the model."""

TITLE = "abm: a leveraged BTC perpetual market"
"""The page's title (the browser tab's, and the live page's app bar)."""

Source = LiveSource | ReplaySource
VIEWS: list[tuple[str, Callable[[Source], Figure]]] = [
    ("prices", lambda s: views.draw_prices(s.ticks())),
    ("depth", lambda s: views.draw_depth(s.ticks())),
    ("liquidations", lambda s: views.draw_liquidations(s.ticks())),
    ("backstops", lambda s: views.draw_backstops(s.ticks())),
    ("liquidation_map", lambda s: views.draw_liquidation_map(s.liquidation_map(), s.mark_usdt())),
    ("money", lambda s: views.draw_money(s.money())),
]


def controls(config_leverage: int) -> dict:
    """SolaraViz's model parameters: the page's controls, each a DashboardModel argument."""
    return {
        "leverage_cap": {
            "type": "SliderInt",
            "label": "leverage cap (x)",
            "value": config_leverage,
            "min": 1,
            "max": 125,
            "step": 1,
        },
        "stop_loss_share": {
            "type": "SliderFloat",
            "label": "stop-loss adoption (share of retail)",
            "value": 0.1,
            "min": 0.0,
            "max": 1.0,
            "step": 0.05,
        },
        "backstops": {
            "type": "Select",
            "label": "backstop order",
            "value": next(iter(BACKSTOP_ORDERS)),
            "values": list(BACKSTOP_ORDERS),
        },
        "insurance_fund_usdt": {
            "type": "Select",
            "label": "insurance fund (USDT)",
            "value": 1_000_000.0,
            "values": [0.0, 1_000.0, 10_000.0, 100_000.0, 1_000_000.0, 10_000_000.0],
        },
        "mark_price_mode": {
            "type": "Select",
            "label": "mark price",
            "value": MARK_MODES[0],
            "values": MARK_MODES,
        },
        "shock_percent": {
            "type": "SliderFloat",
            "label": "shock (% move of the fundamental value)",
            "value": -10.0,
            "min": -50.0,
            "max": 50.0,
            "step": 1.0,
        },
        "shock_start_minute": {
            "type": "SliderInt",
            "label": "shock start (minute)",
            "value": 10,
            "min": 0,
            "max": 600,
            "step": 1,
        },
        "seed": {
            "type": "SliderInt",
            "label": "seed",
            "value": 42,
            "min": 0,
            "max": 999,
            "step": 1,
        },
    }


class _LabelledSliders:
    """Solara as Mesa's SolaraViz sees it, except that its sliders always show their value
    (solara's default shows it only while the thumb is dragged, so a control's setting was
    invisible). Everything else is solara itself."""

    def __getattr__(self, name: str):
        attribute = getattr(solara, name)
        if name in ("SliderInt", "SliderFloat"):
            return functools.partial(attribute, thumb_label="always")
        return attribute


solara_viz.solara = _LabelledSliders()


def source_of(model: DashboardModel) -> LiveSource:
    """The model's live source, made once per model."""
    source = getattr(model, "dashboard_source", None)
    if source is None:
        source = model.dashboard_source = LiveSource(model)
    return source


def live_view(name: str, draw: Callable[[Source], Figure]):
    """A SolaraViz component drawing one view of the live model, redrawn on each update."""

    @solara.component
    def View(model):
        update_counter.get()
        solara.FigureMatplotlib(draw(source_of(model)), format="png")

    View.__name__ = f"{name}_view"
    return View


@solara.component
def Speed(model):
    """The model's clock, speed and controls in force."""
    update_counter.get()
    hours = model.tick * model.tick_seconds / 3_600
    c = model.controls
    solara.Text(
        f"simulated time {hours:.2f} h of {model.ticks * model.tick_seconds / 3_600:g} h · "
        f"speed {model.speed():,.0f} simulated s per s · "
        f"liquidations {len(model.exchange.liquidations):,}"
    )
    solara.Text(
        f"in force: leverage cap {c['leverage_cap']}x, stop-loss adoption "
        f"{c['retail.stop_loss_share']:.0%}, backstops {' > '.join(c['exchange.backstops'])}, "
        f"insurance fund {c['exchange.insurance_fund_seed']:,.0f} USDT, mark "
        f"{c['exchange.mark_price.mode']}, seed {c['seed']}"
    )


def live_page(config: str | None, overrides: list[str]):
    """The live dashboard of ``config`` with ``overrides``."""
    base = base_config(config, overrides)
    model = DashboardModel(base, leverage_cap=int(base.exchange.max_leverage))
    params = {"config": base, **controls(int(base.exchange.max_leverage))}
    components = [(Speed, 0)] + [(live_view(name, draw), 0) for name, draw in VIEWS]
    return SolaraViz(
        model,
        components=components,
        model_params=params,
        name=TITLE,
        play_interval=1,
        render_interval=max(1, round(REDRAW_SECONDS / base.run.tick_seconds)),
    )


@solara.component
def ReplayPage(run_dir: str):
    """A finished run folder, played back with a time slider."""
    source = solara.use_memo(lambda: ReplaySource(run_dir), [run_dir])
    end_h = source.end_s / 3_600
    at_h, set_at_h = solara.use_state(end_h)
    source.at_s = at_h * 3_600
    with solara.AppBar():
        solara.AppBarTitle(f"abm replay: {run_dir}")
    with solara.Sidebar(), solara.Card("Time"):
        solara.SliderFloat(
            "time (hours)",
            value=at_h,
            on_value=set_at_h,
            min=0.0,
            max=end_h,
            step=end_h / 500,
            thumb_label="always",
        )
        solara.Text(f"at {at_h:.2f} h of {end_h:.2f} h")
    with solara.ColumnsResponsive(12, large=6):
        for _name, draw in VIEWS:
            solara.FigureMatplotlib(draw(source), format="png")


@solara.component
def Page():
    """What ``ABM_DASHBOARD`` asks for: a replay, or the live model."""
    request = json.loads(os.environ.get(ENV, "{}"))
    solara.Title(TITLE)
    if request.get("replay"):
        ReplayPage(request["replay"])
    else:
        live_page(request.get("config"), request.get("set", []))
