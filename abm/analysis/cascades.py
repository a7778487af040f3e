"""Liquidation cascades: which liquidations came after another one's forced orders hit the book.

A liquidation fires when the mark crosses the account's threshold. What moved it there is
either another liquidation's orders in the book (an earlier round of the same tick, or a
liquidation that traded in the book within a stated window before) or other flow. The first
kind continues a cascade: its generation is one more than the highest generation among those
earlier liquidations; the second starts one (generation 1). The attribution is by timing: a
liquidation that a falling information process would have caused anyway, seconds after another,
counts as generation 2 all the same, so the share in generation 2 and later is an upper bound
on what forced orders caused; a run with ``liquidation.execution: off_book`` (no forced order
touches the book) has every liquidation in generation 1 by construction, and the difference of
the two runs' prices is the causal measure.
"""

from __future__ import annotations

from collections import deque

import numpy as np

CASCADE_WINDOW_SECONDS = 10.0
"""How long after a liquidation traded in the book a later one counts as its continuation: the
mark follows the book within a few seconds [model choice]."""


def cascade_generations(
    tick: np.ndarray, round_no: np.ndarray, book_lots: np.ndarray, window_ticks: int
) -> np.ndarray:
    """Each liquidation's generation (1: started by other flow; k + 1: came after a generation-k
    liquidation whose orders traded in the book, in an earlier round of the same tick or within
    ``window_ticks`` ticks before).

    Inputs are per event in the engine's order (by tick, then round): ``tick``, ``round_no``
    and ``book_lots`` (lots the liquidation traded in the book; 0 for one that only went to
    the backstops, which moves no price). Output: an integer array of generations.

    >>> cascade_generations(np.array([5, 5, 5, 9, 40]), np.array([0, 0, 1, 0, 0]),
    ...                     np.array([3, 0, 2, 1, 4]), window_ticks=10)
    array([1, 1, 2, 3, 1])
    """
    generations = np.ones(len(tick), dtype=np.int64)
    recent: deque[tuple[int, int, int]] = deque()  # (tick, round, generation) that hit the book
    for i in range(len(tick)):
        t, r = int(tick[i]), int(round_no[i])
        while recent and recent[0][0] < t - window_ticks:
            recent.popleft()
        parents = [g for (pt, pr, g) in recent if pt < t or pr < r]
        if parents:
            generations[i] = 1 + max(parents)
        if book_lots[i] > 0:
            recent.append((t, r, int(generations[i])))
    return generations


def generation_summary(generations: np.ndarray, notional: np.ndarray) -> dict[str, float]:
    """``share_generation_2_plus``: the share of liquidated notional in generation 2 or later
    (NaN with none liquidated); ``longest_chain``: the highest generation (0 with none).

    >>> generation_summary(np.array([1, 2, 3]), np.array([1.0, 1.0, 2.0]))
    {'share_generation_2_plus': 0.75, 'longest_chain': 3.0}
    """
    total = float(np.sum(notional))
    return {
        "share_generation_2_plus": (
            float(np.sum(notional[generations >= 2])) / total if total > 0 else float("nan")
        ),
        "longest_chain": float(np.max(generations)) if len(generations) else 0.0,
    }
