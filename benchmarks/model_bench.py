"""The model benchmark's worker: one run of the baseline at a given retail population, in its own
process so that its peak memory is its own. Prints one JSON object.

Usage: ``python benchmarks/model_bench.py RETAIL HOURS``, where ``RETAIL`` is a multiple of the
baseline's retail population (``100x``) or a count of retail traders (``1000000``).
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

from abm.config import load_config
from abm.exchange.ledger import FIRST_TRADER
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


def rss_mb() -> float:
    """This process's resident memory now, MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(retail: str, hours: float) -> dict:
    """Build and run the baseline with ``retail`` traders (``100x``: that multiple of the
    baseline's) for ``hours``; the memory a trader costs is the build's growth of resident
    memory over the accounts it opened (agent, exchange account, first deposit)."""
    base = load_config(BASELINE)
    count = base.retail.count * int(retail[:-1]) if retail.endswith("x") else int(retail)
    config = load_config(BASELINE, [f"retail.count={count}", f"run.hours={hours}"])
    rss0 = rss_mb()
    t0 = time.perf_counter()
    model = MarketModel(config, collect=False)
    built = time.perf_counter() - t0
    grown_mb = rss_mb() - rss0
    traders = len(model.exchange.accounts) - FIRST_TRADER
    t1 = time.perf_counter()
    simulate(model)
    wall = time.perf_counter() - t1
    model.exchange.check_invariants()
    return {
        "retail": count,
        "sim_hours": hours,
        "build_s": round(built, 2),
        "build_us_per_trader": round(built * 1e6 / max(1, traders), 2),
        "bytes_per_trader": round(grown_mb * 2**20 / max(1, traders)),
        "run_s": round(wall, 2),
        "sim_seconds_per_wall_second": round(hours * 3600 / wall, 1),
        "agent_actions": model.agent_actions,
        "us_per_agent_action": round(wall * 1e6 / max(1, model.agent_actions), 2),
        "liquidations": sum(1 for e in model.exchange.liquidations if e.qty),
        "peak_rss_mb": peak_rss_mb(),
    }


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], float(sys.argv[2]))))
