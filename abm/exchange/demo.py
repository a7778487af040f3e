"""A scripted crash through the exchange alone: leveraged longs, a thin bid ladder, a falling index.

Run with ``python -m abm.exchange.demo`` (or ``abm demo``). It prints each liquidation and where
the liquidated money went, by cause and by receiving account kind.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from abm.config import load_rulebook
from abm.exchange import BUY, SELL, Cause, Exchange, SystemAccount

PRESET = Path(__file__).resolve().parents[2] / "configs" / "exchanges" / "binance.yaml"
U = 1_000_000


def run_demo(seed: int = 1, traders: int = 40) -> Exchange:
    """Open ``traders`` longs at 5x to 50x against one short whale, then walk the index down 12% in ten minutes."""
    rng = np.random.default_rng(seed)
    ex = Exchange(load_rulebook(PRESET), seed=seed)
    ex.begin_tick(0, 500_000)
    whale = ex.open_account(5_000_000 * U, leverage=5)
    maker = ex.open_account(5_000_000 * U, leverage=5)
    for _ in range(traders):
        leverage = int(rng.choice([5, 10, 20, 25, 50]))
        lots = int(rng.integers(50, 400))
        margin = lots * 50_000 * 1_000 // leverage
        trader = ex.open_account(margin + margin // 20, leverage=leverage)
        assert ex.submit(whale, SELL, lots, 500_000)
        assert ex.submit(trader, BUY, lots, kind="market").filled == lots
    ex.end_tick()
    for tick in range(1, 601):
        index = 500_000 - 100 * tick
        ex.begin_tick(tick, index)
        ex.cancel_all(maker)
        for level in range(1, 6):
            ex.submit(maker, BUY, 40, index - 150 * level)
        ex.submit(whale, SELL, 60, index - 300, kind="ioc")
        ex.end_tick()
    ex.check_invariants()
    return ex


def where_money_went(ex: Exchange) -> Counter:
    """Micro-units leaving liquidated accounts in liquidation events, by (cause, receiver kind)."""
    events = {e.event_id for e in ex.liquidations}
    log = ex.ledger
    kinds = {int(a): a.name.lower() for a in SystemAccount}
    flows: Counter = Counter()
    for i in range(len(log)):
        if log.log_event[i] in events:
            dst = log.log_dst[i]
            flows[(Cause(log.log_cause[i]).name.lower(), kinds.get(dst, "trader"))] += (
                log.log_amount[i]
            )
    return flows


def main() -> None:
    ex = run_demo()
    price = ex.instrument.price
    for e in ex.liquidations:
        print(
            f"tick {e.tick:3d} round {e.round} account {e.account:3d} {e.side:5s} "
            f"{ex.instrument.btc(e.closed):.3f} BTC  mark {price(e.mark):,.1f}  "
            f"bankruptcy {price(e.bankruptcy_price):,.1f}  fee {e.clearance_fee / U:,.2f}  "
            f"fund {e.insurance_delta / U:+,.2f}  backstops {[a.step for a in e.actions]}"
        )
    print(f"\n{len(ex.liquidations)} liquidations; where the money went (USDT):")
    for (cause, kind), amount in sorted(where_money_went(ex).items(), key=lambda x: -x[1]):
        print(f"  {cause:18s} -> {kind:15s} {amount / U:14,.2f}")
    fund = ex.balance(SystemAccount.INSURANCE_FUND)
    print(f"insurance fund: {fund / U:,.2f} USDT; invariants hold")


if __name__ == "__main__":
    main()
