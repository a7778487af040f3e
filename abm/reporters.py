"""Model reporters for Mesa's ``DataCollector``: the main series of a run, in natural units.

``MODEL_REPORTERS`` maps a column name to a function of the model (module-level functions and
partials, so that ``mesa.batch_run`` can send them to other processes). ``MarketModel`` collects
them into ``model.datacollector`` after every tick; a user may attach a ``DataCollector`` of
their own, with these reporters or others. Prices are in USDT, sizes in BTC, the funding rate
as a fraction per funding interval; a value that does not exist yet (no trade, an empty side of
the book) is NaN. The run folder's tables (:mod:`abm.recorder`) are the exact record; these are
for exploring and sweeping from Python.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

from abm.config import POPULATIONS
from abm.exchange.liquidation import liquidated_notional
from abm.exchange.records import LiquidationEvent
from abm.exchange.units import PPB
from abm.model import MarketModel


def fundamental_usdt(model: MarketModel) -> float:
    """The fundamental value the world supplies this tick."""
    return model.fundamental_usdt


def index_usdt(model: MarketModel) -> float:
    """The index (the spot venue's price)."""
    return model.index_usdt


def mark_usdt(model: MarketModel) -> float:
    """The mark price, which triggers liquidations."""
    return model.mark_usdt


def last_usdt(model: MarketModel) -> float:
    """The last traded price (NaN before the first trade)."""
    return model.last_usdt


def spread_bps(model: MarketModel) -> float:
    """Best ask minus best bid, in basis points of their midpoint (NaN with a side empty)."""
    book = model.exchange.book
    bid, ask = book.best_bid(), book.best_ask()
    if bid is None or ask is None:
        return math.nan
    return (ask - bid) * 20_000 / (ask + bid)


def open_interest_btc(model: MarketModel) -> float:
    """Open interest (one side of it: longs equal shorts), in BTC."""
    return model.open_interest_btc


def _liquidated_this_tick(model: MarketModel) -> list[LiquidationEvent]:
    """This tick's liquidations (deficit resolutions, which close nothing, left out), read
    from the end of the exchange's log."""
    found = []
    for event in reversed(model.exchange.liquidations):
        if event.tick != model.tick:
            break
        if event.qty:
            found.append(event)
    return found


def liquidations(model: MarketModel) -> int:
    """Accounts liquidated this tick (partial liquidations count once each)."""
    return len(_liquidated_this_tick(model))


def liquidated_notional_usdt(model: MarketModel) -> float:
    """Notional closed by this tick's liquidations, valued at the mark of each."""
    ex = model.exchange
    return ex.instrument.usdt(liquidated_notional(ex, _liquidated_this_tick(model)))


def insurance_fund_usdt(model: MarketModel) -> float:
    """The insurance fund's balance."""
    return model.insurance_fund_usdt


def funding_rate(model: MarketModel) -> float:
    """The rate the current funding interval would pay, as a fraction (0.0001 = 0.01%)."""
    return model.exchange.prices.funding_rate() / PPB


def wiped_out(model: MarketModel) -> int:
    """Wipe-outs of retail traders so far (a trader wiped out twice counts twice)."""
    return model.wiped_out


def equity_usdt(model: MarketModel, population: str) -> float:
    """A population's equity (balances plus unrealized PnL at the mark), from the exchange's
    running totals."""
    return model.exchange.instrument.usdt(model.equity_by_population()[population])


MODEL_REPORTERS: dict[str, Callable[[MarketModel], float]] = {
    "fundamental_usdt": fundamental_usdt,
    "index_usdt": index_usdt,
    "mark_usdt": mark_usdt,
    "last_usdt": last_usdt,
    "spread_bps": spread_bps,
    "open_interest_btc": open_interest_btc,
    "liquidations": liquidations,
    "liquidated_notional_usdt": liquidated_notional_usdt,
    "insurance_fund_usdt": insurance_fund_usdt,
    "funding_rate": funding_rate,
    "wiped_out": wiped_out,
    **{
        f"equity_{population}_usdt": partial(equity_usdt, population=population)
        for population in POPULATIONS
    },
}
"""The default model reporters, by column name: ``mesa.DataCollector(MODEL_REPORTERS)``."""
