"""Per-tick series of a run, kept as columns and turned into a table at the end.

Cheap values are taken every tick; equity by population (a pass over the balances and the open
positions) only every ``run.equity_every_ticks`` ticks, and is null in between.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from abm.exchange import BUY, SELL, SystemAccount

if TYPE_CHECKING:
    from abm.model import MarketModel

COLUMNS = (
    "tick",
    "seconds",
    "index",
    "mark",
    "last",
    "best_bid",
    "best_ask",
    "spread",
    "depth_bid_50bps",
    "depth_ask_50bps",
    "open_interest_long",
    "open_interest_short",
    "funding_rate",
    "liquidations_long",
    "liquidations_short",
    "liquidated_notional_long",
    "liquidated_notional_short",
    "liquidation_rounds",
    "insurance_fund",
    "backstop_vault",
    "adl_actions",
    "other_backstop_actions",
    "stops_triggered",
    "wiped_out",
    "equity_retail",
    "equity_whale",
    "equity_market_maker",
    "equity_arbitrageur",
)


class Recorder:
    """Collects the per-tick series of one model run."""

    def __init__(self, model: MarketModel) -> None:
        self.columns: dict[str, list] = {name: [] for name in COLUMNS}
        self.every = model.config.run.equity_every_ticks
        self._events_seen = 0
        self._stops_seen = 0

    def record(self, model: MarketModel) -> None:
        ex = model.exchange
        inst = ex.instrument
        price = inst.price
        c = self.columns
        bid, ask = ex.book.best_bid(), ex.book.best_ask()
        mid = ex.mark
        c["tick"].append(model.tick)
        c["seconds"].append(model.tick * model.tick_seconds)
        c["index"].append(price(ex.index))
        c["mark"].append(price(ex.mark))
        c["last"].append(price(ex.last) if ex.last else None)
        c["best_bid"].append(price(bid) if bid is not None else None)
        c["best_ask"].append(price(ask) if ask is not None else None)
        c["spread"].append(price(ask - bid) if bid is not None and ask is not None else None)
        c["depth_bid_50bps"].append(inst.btc(ex.book.depth_between(BUY, mid * 9_950 // 10_000)))
        c["depth_ask_50bps"].append(inst.btc(ex.book.depth_between(SELL, mid * 10_050 // 10_000)))
        long_oi, short_oi = ex.open_interest()
        c["open_interest_long"].append(inst.btc(long_oi))
        c["open_interest_short"].append(inst.btc(short_oi))
        c["funding_rate"].append(ex.prices.funding_rate() / 1e9)
        counts = {"long": 0, "short": 0}
        notional = {"long": 0, "short": 0}
        rounds = adl = other = 0
        for event in ex.liquidations[self._events_seen :]:
            if event.side in counts:
                counts[event.side] += 1
                notional[event.side] += event.closed * event.mark * ex.k
                rounds = max(rounds, event.round + 1)
            for action in event.actions:
                if action.step == "adl":
                    adl += 1
                else:
                    other += 1
        self._events_seen = len(ex.liquidations)
        c["liquidations_long"].append(counts["long"])
        c["liquidations_short"].append(counts["short"])
        c["liquidated_notional_long"].append(inst.usdt(notional["long"]))
        c["liquidated_notional_short"].append(inst.usdt(notional["short"]))
        c["liquidation_rounds"].append(rounds)
        c["insurance_fund"].append(inst.usdt(ex.balance(SystemAccount.INSURANCE_FUND)))
        c["backstop_vault"].append(inst.usdt(ex.balance(SystemAccount.BACKSTOP_VAULT)))
        c["adl_actions"].append(adl)
        c["other_backstop_actions"].append(other)
        c["stops_triggered"].append(ex.stop_triggers - self._stops_seen)
        self._stops_seen = ex.stop_triggers
        c["wiped_out"].append(model.wiped_out)
        if model.tick % self.every == 0 or model.tick == model.ticks:
            equity = model.equity_by_population()
            for population, value in equity.items():
                c[f"equity_{population}"].append(inst.usdt(value))
        else:
            for population in ("retail", "whale", "market_maker", "arbitrageur"):
                c[f"equity_{population}"].append(None)
