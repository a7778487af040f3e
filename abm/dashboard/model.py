"""The model the dashboard drives: :class:`abm.model.MarketModel` built from a config and the
page's controls (leverage cap, stop-loss adoption, backstop order, insurance fund, mark-price
mode, a scenario shock, seed), each control a config key."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from abm.config import ModelConfig, load_config, override_config
from abm.model import MarketModel

BACKSTOP_ORDERS = {
    "insurance fund, ADL, exchange": ["insurance_fund", "adl", "exchange_absorbs"],
    "insurance fund, socialized loss, exchange": [
        "insurance_fund",
        "socialized_loss",
        "exchange_absorbs",
    ],
    "insurance fund, trader debt": ["insurance_fund", "trader_debt"],
    "backstop vault, ADL, exchange": ["backstop_vault", "adl", "exchange_absorbs"],
    "ADL, exchange": ["adl", "exchange_absorbs"],
}
"""The backstop orders a user picks from, by label (those of configs/sweeps/backstops.yaml)."""
MARK_MODES = ["binance_median", "index_basis", "last"]
SHOCK_MINUTES = 1.0
"""How long the dashboard's shock takes, in minutes: a sharp move."""


def control_overrides(
    leverage_cap: int,
    stop_loss_share: float,
    backstops: str,
    insurance_fund_usdt: float,
    mark_price_mode: str,
    shock_percent: float,
    shock_start_minute: float,
) -> dict[str, Any]:
    """The config keys the page's controls set (a shock of 0% removes the config's shocks).

    >>> control_overrides(20, 0.1, "ADL, exchange", 1e6, "last", -10, 5)["world.shocks"]
    [{'start_minute': 5, 'minutes': 1.0, 'move': -0.1}]
    """
    shocks = []
    if shock_percent:
        shocks = [
            {
                "start_minute": shock_start_minute,
                "minutes": SHOCK_MINUTES,
                "move": shock_percent / 100,
            }
        ]
    return {
        "exchange.max_leverage": leverage_cap,
        "retail.stop_loss_share": stop_loss_share,
        "exchange.backstops": BACKSTOP_ORDERS[backstops],
        "exchange.insurance_fund_seed": insurance_fund_usdt,
        "exchange.mark_price.mode": mark_price_mode,
        "world.shocks": shocks,
    }


def base_config(config: str | Path | None, overrides: Sequence[str] = ()) -> ModelConfig:
    """The config the dashboard starts from: ``config`` (a file or shipped name; the baseline
    by default) with ``--set`` overrides; ConfigError names a bad key or value."""
    return load_config(config or "baseline", list(overrides))


class DashboardModel(MarketModel):
    """A MarketModel whose keyword arguments are the page's controls; it also measures its own
    speed (simulated seconds per wall-clock second between two readings)."""

    def __init__(
        self,
        config: ModelConfig | None = None,
        *,
        leverage_cap: int = 125,
        stop_loss_share: float = 0.1,
        backstops: str = "insurance fund, ADL, exchange",
        insurance_fund_usdt: float = 1_000_000.0,
        mark_price_mode: str = "binance_median",
        shock_percent: float = -10.0,
        shock_start_minute: float = 10.0,
        seed: int = 42,
        rng: int | None = None,
    ) -> None:
        config = base_config(None) if config is None else config
        changes = control_overrides(
            int(leverage_cap),
            float(stop_loss_share),
            backstops,
            float(insurance_fund_usdt),
            mark_price_mode,
            float(shock_percent),
            float(shock_start_minute),
        )
        config = override_config(config, changes)
        super().__init__(config, rng=int(seed) if rng is None else rng, collect=False)
        self.controls = {"leverage_cap": int(leverage_cap), **changes, "seed": int(seed)}
        self._reading = (time.monotonic(), 0)
        self._speed = 0.0

    def speed(self) -> float:
        """Simulated seconds per wall-clock second since the previous reading that saw the
        model advance (redraws included: what the page achieves); 0 before it moves."""
        now, tick = time.monotonic(), self.tick
        then, before = self._reading
        if tick > before and now > then:
            self._speed = (tick - before) * self.tick_seconds / (now - then)
            self._reading = (now, tick)
        elif tick == before:
            self._reading = (now, tick)
        return self._speed
