"""Where a baseline tick goes: the model's own step, with timers wrapped around each agent kind's
``act``, the market makers' ``quote`` (the ladder sent through ``Exchange.requote_ladder``), the
recorder and the activity schedule (``time.perf_counter`` around each call; no profiler, whose
per-call overhead would inflate the Python side).

``benchmarks/run.py --only model.phases`` prints the table. What is not wrapped (the spot venue,
the exchange's begin and end of the tick, observing the market, Mesa's loop) shows as
``tick machinery``.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from abm.agents import MarketMaker
from abm.config import load_config
from abm.model import MarketModel
from abm.recorder import Recorder
from abm.schedule import ActivitySchedule

BASELINE = Path(__file__).resolve().parent.parent / "configs" / "baseline.yaml"


def timed(seconds: dict, calls: dict, name: str, method: Callable) -> Callable:
    """``method`` with its wall time added to ``seconds[name]`` and its calls to ``calls``."""

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            seconds[name] += time.perf_counter() - start
            calls[name] += 1

    return wrapper


def phase_times(hours: float) -> dict:
    """Run the baseline for ``hours`` with its phases timed: seconds and calls by phase (each
    agent kind's ``act`` without what is listed apart), the ticks and the steps' wall time."""
    model = MarketModel(load_config(BASELINE, [f"run.hours={hours}"]), collect=False)
    seconds: dict[str, float] = defaultdict(float)
    calls: dict[str, int] = defaultdict(int)
    wrapped = [(kind, "act", kind.__name__) for kind in model.active]
    wrapped += [
        (MarketMaker, "quote", "MarketMaker.quote (the ladder)"),
        (Recorder, "record", "recorder"),
        (ActivitySchedule, "next_tick", "schedule"),
    ]
    saved = [(owner, attr, owner.__dict__.get(attr)) for owner, attr, _ in wrapped]
    try:
        for owner, attr, name in wrapped:
            setattr(owner, attr, timed(seconds, calls, name, getattr(owner, attr)))
        start = time.perf_counter()
        while model.running:
            model.step()
        total = time.perf_counter() - start
    finally:
        for owner, attr, original in saved:
            if original is None:
                delattr(owner, attr)  # it was inherited: the base class's again
            else:
                setattr(owner, attr, original)
    seconds["MarketMaker"] -= seconds["MarketMaker.quote (the ladder)"]
    seconds["tick machinery"] = total - sum(seconds.values())
    return {"seconds": dict(seconds), "calls": dict(calls), "ticks": model.ticks, "total": total}
