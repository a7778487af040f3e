"""The price's response to one large sell: how far a metaorder moves the mark, and how much of
the move is still there an hour later (issue 22 section 4; DESIGN section 6).

With the information process held flat, a seller outside every population sells ``share_of_oi``
of open interest at market, spread evenly over ``minutes``; the mark is read when the selling
ends and ``after_minutes`` later, and compared with the same run without the sale. The standing
bid depth within 1% before the sale says what the sale ate. On a market whose prices come from order flow, the immediate move is of the
order of the depth eaten and part of it lasts; on one held to a script, it fades in seconds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from abm.config import ModelConfig, override_config
from abm.exchange import BUY, SELL

FLAT_INFORMATION = {
    "world.process": "multiscale",
    "world.annual_volatility": 1e-6,
    "world.vol_of_vol": 0.0,
    "world.jumps_per_day": 0.0,
    "world.shocks": [],
}
"""Overrides that hold the information process flat (a random walk of negligible volatility)."""


def impulse_response(
    config: ModelConfig,
    *,
    share_of_oi: float = 0.01,
    minutes: float = 1.0,
    warmup_minutes: float = 30.0,
    after_minutes: float = 60.0,
    sell_btc: float | None = None,
    overrides: Mapping[str, object] | None = None,
) -> dict[str, float]:
    """Run ``config`` (with flat information and ``overrides``) for ``warmup_minutes``, sell
    ``share_of_oi`` of the open interest at market over ``minutes``, then wait
    ``after_minutes`` (``sell_btc``, when given, is the size instead). The same run without the
    sale (same seed: common random numbers) is the counterfactual, so the market's own moves
    cancel. Returns, in bps of the counterfactual mark (negative: the sale lowered it):
    ``immediate_bps`` (when the selling ends), ``after_bps`` (``after_minutes`` later),
    ``lasting_share`` (after over immediate); and ``sold_btc``, ``open_interest_btc``,
    ``bid_depth_1pct_btc`` (standing before the sale), ``sold_share_of_depth``,
    ``raw_immediate_bps`` and ``raw_after_bps`` (the mark against its own level before the
    sale, the market's moves included).
    """
    with_sale = _run(
        config, share_of_oi, minutes, warmup_minutes, after_minutes, sell_btc, overrides, sell=True
    )
    without = _run(
        config, share_of_oi, minutes, warmup_minutes, after_minutes, sell_btc, overrides, sell=False
    )
    immediate = (with_sale["at_end"] / without["at_end"] - 1) * 10_000
    after = (with_sale["later"] / without["later"] - 1) * 10_000
    return {
        "immediate_bps": immediate,
        "after_bps": after,
        "lasting_share": after / immediate if immediate else math.nan,
        "sold_btc": with_sale["sold_btc"],
        "open_interest_btc": with_sale["open_interest_btc"],
        "bid_depth_1pct_btc": with_sale["bid_depth_1pct_btc"],
        "sold_share_of_depth": with_sale["sold_share_of_depth"],
        "raw_immediate_bps": (with_sale["at_end"] / with_sale["before"] - 1) * 10_000,
        "raw_after_bps": (with_sale["later"] / with_sale["before"] - 1) * 10_000,
    }


def _run(
    config: ModelConfig,
    share_of_oi: float,
    minutes: float,
    warmup_minutes: float,
    after_minutes: float,
    sell_btc: float | None,
    overrides: Mapping[str, object] | None,
    *,
    sell: bool,
) -> dict[str, float]:
    """One run of :func:`impulse_response`, with or without the sale; the marks (ticks) before,
    at the sale's end and later, and what the sale was against."""
    from abm.model import MarketModel

    hours = (warmup_minutes + minutes + after_minutes) / 60 + 1 / 60
    settings = {**FLAT_INFORMATION, **(overrides or {}), "run.hours": hours}
    model = MarketModel(override_config(config, settings), collect=False)
    tick_seconds = model.tick_seconds
    for _ in range(round(warmup_minutes * 60 / tick_seconds)):
        model.step()
    ex = model.exchange
    inst = ex.instrument
    oi_lots = ex.open_interest()[0]
    sell_lots = max(1, round(oi_lots * share_of_oi) if sell_btc is None else inst.lots(sell_btc))
    before = ex.mark
    depth = ex.book.depth_between(BUY, before * 99 // 100)
    seller = ex.open_account(
        inst.micro(inst.price(before) * inst.btc(sell_lots) * 2), leverage=1, group="impulse"
    )
    ticks = max(1, round(minutes * 60 / tick_seconds))
    sold = 0
    for step in range(ticks):
        model.step()
        due = sell_lots * (step + 1) // ticks - sold
        if sell and due:
            sold += ex.submit(seller, SELL, due, kind="market").filled
        elif due:
            sold += due
    at_end = ex.mark
    for _ in range(round(after_minutes * 60 / tick_seconds)):
        model.step()
    return {
        "before": before,
        "at_end": at_end,
        "later": ex.mark,
        "sold_btc": inst.btc(sold),
        "open_interest_btc": inst.btc(oi_lots),
        "bid_depth_1pct_btc": inst.btc(depth),
        "sold_share_of_depth": sold / depth if depth else math.nan,
    }
