"""Venues one rule at a time: from a reference rulebook (Binance), a sweep whose points each take
one group of rules from another venue's preset (its cap, its tiers and maintenance margins, its
mark formula, ...), beside the venue's whole preset, so that each venue's difference to the
reference splits by rule, with what the rules do together left as the remainder.

``configs/sweeps/venue_rules.yaml`` is written by :func:`venue_rules_sweep` from the presets in
``configs/exchanges`` (``python tools/venue_rules.py``), and a test checks it still matches
them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from abm.config import Rulebook
from abm.config.rulebook import load_rulebook

RULE_GROUPS: dict[str, tuple[str, ...]] = {
    "cap": ("max_leverage",),
    "tiers": ("brackets",),
    "mark": ("mark_price",),
    "funding": ("funding",),
    "liquidation": ("liquidation",),
    "backstops": ("backstops", "insurance_fund_seed", "backstop_vault_seed"),
    "fees": ("maker_fee", "taker_fee", "market_maker_fees"),
    "instrument": ("tick_size", "lot_size", "price_filter"),
}
"""The rules a venue's preset may differ in, grouped as a venue sets them together: each group
is one point of the sweep. ``name`` and ``margin_mode`` (every preset's default, isolated) are
not rules of this comparison."""

VENUES = ("bitmex", "bybit", "dydx", "hyperliquid")
REFERENCE = "binance"


def rule_differences(reference: Rulebook, venue: Rulebook) -> dict[str, dict[str, Any]]:
    """Per rule group of :data:`RULE_GROUPS` in which ``venue`` differs from ``reference``, the
    venue's values of that group's keys (plain YAML values), groups in their order.

    >>> from abm.config.rulebook import load_rulebook
    >>> binance = load_rulebook("configs/exchanges/binance.yaml")
    >>> list(rule_differences(binance, binance))
    []
    """
    ours, theirs = reference.model_dump(mode="json"), venue.model_dump(mode="json")
    differences = {}
    for group, keys in RULE_GROUPS.items():
        if any(ours[key] != theirs[key] for key in keys):
            differences[group] = {key: theirs[key] for key in keys}
    return differences


def venue_rules_sweep(
    exchanges: Path,
    base: str = "../scenarios/long_squeeze.yaml",
    venues: Sequence[str] = VENUES,
    replications: int = 10,
    seed: int = 2026,
) -> dict[str, Any]:
    """The sweep file's data: the reference preset, then per venue one point per differing rule
    group (``<venue>_<group>``: the reference with that group's rules from the venue) and the
    venue's whole preset (``<venue>``), all paired by seed against the reference."""
    reference = load_rulebook(exchanges / f"{REFERENCE}.yaml")
    points: list[dict[str, Any]] = [
        {"name": REFERENCE, "set": {"exchange": f"exchanges/{REFERENCE}.yaml"}}
    ]
    for venue in venues:
        preset = load_rulebook(exchanges / f"{venue}.yaml")
        for group, values in rule_differences(reference, preset).items():
            overrides: dict[str, Any] = {"exchange": f"exchanges/{REFERENCE}.yaml"}
            overrides.update({f"exchange.{key}": value for key, value in values.items()})
            points.append({"name": f"{venue}_{group}", "set": overrides})
        points.append({"name": venue, "set": {"exchange": f"exchanges/{venue}.yaml"}})
    return {
        "base": base,
        "points": points,
        "replications": replications,
        "seed": seed,
        "metrics": [
            "liquidations",
            "liquidated_share_of_oi",
            "drawdown",
            "deficit_paid_by",
            "backstop_cost",
            "where_money_goes",
        ],
        "reference": {"point": REFERENCE},
    }


HEADER = """\
# Venues one rule at a time: from Binance's rulebook, each point takes one group of rules (cap,
# tiers and maintenance margins, mark formula, funding, liquidation order, backstops, fees,
# instrument) from another venue's preset, beside the venue's whole preset, on the long squeeze
# with paired seeds, so that each venue's difference to Binance splits by rule (what the rules
# do together is the remainder). WRITTEN BY tools/venue_rules.py from configs/exchanges: do not
# edit by hand (tests/test_sweep.py checks it matches the presets).
#   abm sweep venue_rules --workers 2
"""


def write_venue_rules(path: Path, exchanges: Path) -> None:
    """Write :func:`venue_rules_sweep` to ``path`` as YAML under :data:`HEADER`."""
    text = HEADER + yaml.safe_dump(venue_rules_sweep(exchanges), sort_keys=False, width=100)
    path.write_text(text, encoding="utf-8")
