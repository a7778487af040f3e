"""A market maker's ladder refresh, timed: four makers each cancel their ladder and post ten
levels a side (0.3 BTC, level ``i`` at i^2 x 5 ticks beyond the first, two ticks from a fair value
that jitters around the index), against a book seeded by other traders.

Two ways to send the same ladders: ``sequence`` (``cancel_all`` and one ``submit`` per quote, the
only way before ``Exchange.requote_ladder``) and ``one_call`` (``requote_ladder``). Both give the
same order ids and book (checked). Run as a script (``python benchmarks/ladder.py MODE
REFRESHES``) it prints one JSON object, so that whole processes of two checkouts can be timed
against each other; ``benchmarks/run.py`` times both modes in one process.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from abm.config import MICRO, load_rulebook
from abm.exchange import BUY, SELL, Exchange

RULEBOOK = Path(__file__).resolve().parent.parent / "configs" / "exchanges" / "binance.yaml"
INDEX = 500_000
LEVELS = 10
LOTS = 300
"""0.3 BTC at the Binance preset's 0.001 BTC lot."""
DISTANCES = [5 * level**2 for level in range(LEVELS)]


def market(seed: int = 1) -> tuple[Exchange, list[int], list[int]]:
    """An exchange with 200 traders resting 400 orders a side around the index, four makers,
    and the fair values the makers will quote around (one per refresh, drawn in advance)."""
    rng = np.random.default_rng(seed)
    ex = Exchange(load_rulebook(RULEBOOK), seed=seed)
    ex.begin_tick(0, INDEX)
    traders = [ex.open_account(1_000_000 * MICRO, leverage=10) for _ in range(200)]
    for i in range(800):
        side = BUY if i % 2 == 0 else SELL
        distance = 3 + int(rng.geometric(1 / 40))
        ex.submit(traders[i % 200], side, int(rng.integers(1, 50)), INDEX - side * distance)
    makers = [
        ex.open_account(2_000_000 * MICRO, leverage=5, fee_tier="market_maker") for _ in range(4)
    ]
    return ex, makers, traders


def fairs(refreshes: int, seed: int = 2) -> list[int]:
    """Fair values for each refresh: the index plus a random walk of a few ticks."""
    steps = np.random.default_rng(seed).integers(-2, 3, refreshes)
    return (INDEX + np.clip(np.cumsum(steps), -2, 2)).tolist()


def refresh_sequence(ex: Exchange, maker: int, fair: int) -> None:
    """The ladder as separate calls: cancel everything, then bid and ask level by level, the
    top kept behind the other side's best (as the makers did before ``requote_ladder``)."""
    ex.cancel_all(maker)
    best_ask, best_bid = ex.book.best_ask(), ex.book.best_bid()
    bid = fair - 2 if best_ask is None else min(fair - 2, best_ask - 1)
    ask = fair + 2 if best_bid is None else max(fair + 2, best_bid + 1)
    for distance in DISTANCES:
        ex.submit(maker, BUY, LOTS, bid - distance, kind="post_only")
        ex.submit(maker, SELL, LOTS, ask + distance, kind="post_only")


def refresh_one_call(ex: Exchange, maker: int, fair: int) -> None:
    """The same ladder in one exchange call."""
    ex.requote_ladder(maker, fair - 2, fair + 2, LOTS, LOTS, DISTANCES)


MODES = {"sequence": refresh_sequence, "one_call": refresh_one_call}


def run(mode: str, refreshes: int) -> dict:
    """Time ``refreshes`` ladder refreshes (makers in turn) sent in ``mode``."""
    ex, makers, _ = market()
    values = fairs(refreshes)
    refresh = MODES[mode]
    start = time.perf_counter()
    for i, fair in enumerate(values):
        refresh(ex, makers[i % 4], fair)
    wall = time.perf_counter() - start
    ex.check_invariants()
    return {
        "mode": mode,
        "refreshes": refreshes,
        "wall_s": wall,
        "us_per_refresh": wall / refreshes * 1e6,
        "last_order_id": ex.last_order_id if hasattr(ex, "last_order_id") else ex._order_id,
        "book": [ex.book.levels(BUY)[:5], ex.book.levels(SELL)[:5]],
    }


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1], int(sys.argv[2]))))
