"""Retail traders: small log-normal capital, high and varied leverage, trend-following and herding
with noise, a stop-loss habit, fixed holding horizons; after a wipe-out some re-deposit."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from abm.agents.trader import Trader
from abm.exchange import BUY, SELL

if TYPE_CHECKING:
    from abm.config import RetailConfig
    from abm.model import MarketModel


class RetailTrader(Trader):
    population = "retail"

    def __init__(
        self,
        model: MarketModel,
        config: RetailConfig,
        capital: float,
        leverage: int,
        cross: bool,
        margin_fraction: float,
        uses_stop: bool,
        stop_distance: float,
        stop_on_mark: bool,
        stop_limit: bool,
        style: int,
    ) -> None:
        """One trader with the traits :func:`draw_traits` drew for it (one draw per trait for
        the whole population, so building a million traders costs no call per trait each)."""
        super().__init__(model, capital, leverage, cross=cross)
        self.config = config
        self.margin_fraction = margin_fraction
        self.uses_stop = uses_stop
        self.stop_distance = stop_distance
        self.stop_trigger = "mark" if stop_on_mark else "last"
        self.stop_limit = stop_limit
        self.style = style
        self.close_at = 0
        self.wiped_out = 0
        self.reentries = 0
        self.departed = False
        self.activity_slot = 0
        """Its place in the model's activity pool (:meth:`MarketModel.depart`)."""

    @property
    def style_name(self) -> str:
        """The trading style in words: ``trend`` (follows it), ``contrarian`` or ``noise``."""
        return {1: "trend", -1: "contrarian", 0: "noise"}[self.style]

    def act(self) -> None:
        """Hold, close at the horizon, or (when flat) deal with a wipe-out and open a trade."""
        if self.position:
            if self.model.tick >= self.close_at:
                self.close_position()
            return
        if self.exchange.accounts[self.account].stops:
            self.exchange.cancel_all(self.account)
        if self.model.is_wiped_out(self.account):
            self.handle_wipe_out()
            if self.departed:
                return
        self.open_trade()

    def choose_side(self) -> int:
        """Trend following (or, for contrarians, fading the trend), herding on recent retail
        flow, a long bias that moves with the crowd's mood (``model.sentiment``) and
        idiosyncratic noise."""
        config = self.config
        market = self.model.market
        score = (
            self.style * math.tanh(market.trend(config.lookback_minutes) * 200)
            + config.herding_weight * math.tanh(market.retail_flow * 2)
            + config.long_bias
            + self.model.sentiment
            + config.noise * self.model.standard_normal()
        )
        return BUY if score >= 0 else SELL

    def open_trade(self) -> None:
        """A market order sized by margin fraction and leverage, then the stop habit."""
        side = self.choose_side()
        margin = int(self.exchange.balance(self.account) * self.margin_fraction)
        lots = self.lots_for_margin(margin * 95 // 100)
        filled = self.market(side, lots)
        if not filled:
            return
        self.model.market.record_retail_flow(side * filled)
        minutes = self.model.draw_lognormal(self.config.holding_minutes)
        self.close_at = self.model.tick + max(1, round(minutes * 60 / self.model.tick_seconds))
        if self.uses_stop:
            self.place_stop(side, filled)

    def place_stop(self, side: int, lots: int) -> None:
        """A reduce-only stop at the trader's habitual distance from the mark."""
        mark = self.exchange.mark
        stop = max(1, round(mark * (1 - side * self.stop_distance)))
        limit = max(1, round(stop * (1 - side * 0.005))) if self.stop_limit else None
        self.exchange.submit_stop(
            self.account, -side, lots, stop, limit=limit, trigger=self.stop_trigger
        )

    def handle_wipe_out(self) -> None:
        """Re-deposit fresh capital with the configured probability, or leave for good."""
        if self.model.rng.random() < self.config.reentry_probability:
            capital = self.model.draw_lognormal(self.config.capital)
            self.exchange.deposit(self.account, self.exchange.instrument.micro(capital))
            self.reentries += 1
        else:
            self.departed = True
            self.model.depart(self)


def draw_traits(rng: np.random.Generator, config: RetailConfig, n: int) -> dict[str, list]:
    """The traits of ``n`` retail traders, one vectorised draw per trait from ``rng``: margin
    mode (``cross``), ``margin_fraction``, stop habit (``uses_stop``, ``stop_distance``,
    ``stop_on_mark``, ``stop_limit``) and ``style`` (1 trend, -1 contrarian, 0 noise). Returns
    lists of length ``n`` keyed by :class:`RetailTrader`'s argument names, in its argument order
    (``create_agents`` takes them positionally: keyword arguments cost a dict per agent).

    >>> from abm.config import RetailConfig
    >>> traits = draw_traits(np.random.default_rng(1), RetailConfig(), 3)
    >>> list(traits)
    ['cross', 'margin_fraction', 'uses_stop', 'stop_distance', 'stop_on_mark', 'stop_limit', 'style']
    """
    style_draw = rng.random(n)
    style = np.where(
        style_draw < config.trend_share,
        1,
        np.where(style_draw < config.trend_share + config.contrarian_share, -1, 0),
    )
    return {
        "cross": (rng.random(n) < config.cross_margin_share).tolist(),
        "margin_fraction": rng.uniform(
            config.margin_fraction.low, config.margin_fraction.high, n
        ).tolist(),
        "uses_stop": (rng.random(n) < config.stop_loss_share).tolist(),
        "stop_distance": rng.uniform(
            config.stop_distance.low, config.stop_distance.high, n
        ).tolist(),
        "stop_on_mark": (rng.random(n) < config.stop_on_mark_share).tolist(),
        "stop_limit": (rng.random(n) < config.stop_limit_share).tolist(),
        "style": style.tolist(),
    }
