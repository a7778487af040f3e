"""Write configs/sweeps/venue_rules.yaml from the rulebook presets in configs/exchanges: each
venue's rules taken one group at a time into Binance's (abm.experiments.venue_rules).

    uv run python tools/venue_rules.py
"""

from __future__ import annotations

from pathlib import Path

from abm.experiments.venue_rules import write_venue_rules

ROOT = Path(__file__).resolve().parent.parent

if __name__ == "__main__":
    target = ROOT / "configs" / "sweeps" / "venue_rules.yaml"
    write_venue_rules(target, ROOT / "configs" / "exchanges")
    print(target)
