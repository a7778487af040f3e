"""The model benchmark's worker: one run of the baseline at a given retail population, in its own
process so that its peak memory is its own. Prints one JSON object.

Usage: ``python benchmarks/model_bench.py RETAIL_MULTIPLIER HOURS``.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

from abm.config import load_config
from abm.experiments.run import simulate
from abm.model import MarketModel

BASELINE = Path(__file__).resolve().parent.parent / "configs" / "baseline.yaml"


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited from the
    parent process that spawned it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def measure(multiplier: int, hours: float) -> dict:
    """Build and run the baseline with ``multiplier`` x its retail traders for ``hours``."""
    base = load_config(BASELINE)
    retail = base.retail.count * multiplier
    config = load_config(BASELINE, [f"retail.count={retail}", f"run.hours={hours}"])
    t0 = time.perf_counter()
    model = MarketModel(config, collect=False)
    built = time.perf_counter() - t0
    t1 = time.perf_counter()
    simulate(model)
    wall = time.perf_counter() - t1
    model.exchange.check_invariants()
    return {
        "retail": retail,
        "sim_hours": hours,
        "build_s": round(built, 2),
        "run_s": round(wall, 2),
        "sim_hours_per_wall_minute": round(hours / (wall / 60), 2),
        "agent_actions": model.agent_actions,
        "us_per_agent_action": round(wall * 1e6 / max(1, model.agent_actions), 2),
        "liquidations": sum(1 for e in model.exchange.liquidations if e.qty),
        "peak_rss_mb": peak_rss_mb(),
    }


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]), float(sys.argv[2]))))
