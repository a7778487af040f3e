"""Published perpetual-futures formulas as pure functions, with floats at the boundary.

This is the small public calculator: it gives the numbers an exchange's help pages give
(maintenance margin, liquidation and bankruptcy prices, the ADL ranking score) without running a
simulation. The exchange itself works in exact integers; these functions are for users, docs and
golden tests. They import nothing from the rest of ``abm``.

Conventions:

- ``side`` is ``"long"`` or ``"short"``; ``s`` is +1 for a long and -1 for a short.
- ``qty`` is the absolute position size in BTC (> 0), prices are in USDT per BTC, amounts in USDT.
- ``brackets`` is a sequence of ``(notional_cap, max_leverage, mmr)`` tiers, caps ascending, the
  last cap possibly ``math.inf``. Objects with ``notional_cap``, ``max_leverage`` and ``mmr``
  attributes (such as ``abm.config.Bracket``) are accepted as well. Tier ``n`` covers notionals
  in ``(cap_(n-1), cap_n]``; the first tier starts at 0.

Sources: Binance FAQs b3c689c1 (maintenance amount, one-way liquidation price) and 25edcd7f
(cross-margin example), BitMEX ``/app/autoDeleveraging`` (ranking). See
``docs/exchange-mechanics.md``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

Side = Literal["long", "short"]
BracketLike = Any
"""A ``(notional_cap, max_leverage, mmr)`` tuple, or an object with those attributes."""

_SIDES: dict[str, int] = {"long": 1, "short": -1}


# --------------------------------------------------------------------------- validation helpers


def _sign(side: str) -> int:
    """+1 for ``"long"``, -1 for ``"short"``; anything else is a ValueError."""
    if not isinstance(side, str) or side not in _SIDES:
        raise ValueError(f"side must be one of 'long' or 'short', got {side!r}")
    return _SIDES[side]


def _finite(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _positive(name: str, value: float, unit: str = "") -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        what = f"a positive finite number{unit}"
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return float(value)


def _tiers(brackets: Sequence[BracketLike]) -> list[tuple[float, float, float]]:
    """Validate ``brackets`` and return them as ``(cap, max_leverage, mmr)`` float tuples."""
    if isinstance(brackets, str | bytes) or not isinstance(brackets, Sequence):
        raise ValueError(
            f"brackets must be a sequence of (notional_cap, max_leverage, mmr) tiers, "
            f"got {brackets!r}"
        )
    if len(brackets) == 0:
        raise ValueError("brackets must hold at least one (notional_cap, max_leverage, mmr) tier")
    tiers: list[tuple[float, float, float]] = []
    previous_cap = 0.0
    for n, tier in enumerate(brackets):
        if hasattr(tier, "notional_cap"):
            raw = (tier.notional_cap, tier.max_leverage, tier.mmr)
        else:
            try:
                raw = tuple(tier)
            except TypeError:
                raw = ()
        if len(raw) != 3:
            raise ValueError(
                f"brackets[{n}] must be a (notional_cap, max_leverage, mmr) tier, got {tier!r}"
            )
        cap, leverage, mmr = raw
        for name, value in (("notional_cap", cap), ("max_leverage", leverage), ("mmr", mmr)):
            if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
                raise ValueError(f"brackets[{n}].{name} must be a number, got {value!r}")
        if not cap > previous_cap:
            raise ValueError(
                f"brackets[{n}].notional_cap must be positive and above the previous tier's cap "
                f"{previous_cap!r} (caps ascending), got {cap!r}"
            )
        if math.isinf(cap) and n != len(brackets) - 1:
            raise ValueError(f"brackets[{n}].notional_cap may be inf only in the last tier")
        if not (math.isfinite(leverage) and leverage > 0):
            raise ValueError(
                f"brackets[{n}].max_leverage must be a positive finite number, got {leverage!r}"
            )
        if not 0 < mmr < 1:
            raise ValueError(f"brackets[{n}].mmr must be in the open interval (0, 1), got {mmr!r}")
        tiers.append((float(cap), float(leverage), float(mmr)))
        previous_cap = float(cap)
    return tiers


def _cums(tiers: list[tuple[float, float, float]]) -> list[float]:
    cums = [0.0]
    for n in range(1, len(tiers)):
        floor = tiers[n - 1][0]
        cums.append(floor * (tiers[n][2] - tiers[n - 1][2]) + cums[-1])
    return cums


def _tier_index(notional: float, tiers: list[tuple[float, float, float]]) -> int | None:
    """Index of the tier whose ``(previous cap, cap]`` holds ``notional``; None above the last."""
    for n, (cap, _, _) in enumerate(tiers):
        if notional <= cap:
            return n
    return None


# ------------------------------------------------------------------------------ public functions


def maintenance_amounts(brackets: Sequence[BracketLike]) -> list[float]:
    """Cumulative maintenance amounts ``cum`` of each tier, derived from caps and rates.

    Binance quotes maintenance margin as ``notional x mmr - cum``; ``cum`` makes the margin
    continuous where the rate steps up: ``cum_0 = 0`` and
    ``cum_n = floor_n x (mmr_n - mmr_(n-1)) + cum_(n-1)``, with ``floor_n`` the previous tier's cap
    (Binance FAQ b3c689c1).

    >>> maintenance_amounts([(50_000, 125, 0.004), (250_000, 100, 0.005), (1e6, 50, 0.01)])
    [0.0, 50.0, 1300.0]
    """
    return _cums(_tiers(brackets))


def maintenance_margin(notional: float, brackets: Sequence[BracketLike]) -> float:
    """Maintenance margin of a position of ``notional`` USDT: ``notional x mmr - cum`` of its tier.

    The tier is the one whose ``(previous cap, cap]`` holds the notional, so a notional exactly at
    a cap uses that (lower) tier; by construction of ``cum`` both neighbours agree there anyway.
    A notional above the last finite cap is a ValueError (no such position is allowed).

    >>> maintenance_margin(500_000, [(50_000, 125, 0.004), (250_000, 100, 0.005), (1e6, 50, 0.01)])
    3700.0
    """
    tiers = _tiers(brackets)
    notional = _finite("notional", notional)
    if notional < 0:
        raise ValueError(f"notional must be a non-negative amount in USDT, got {notional!r}")
    n = _tier_index(notional, tiers)
    if n is None:
        raise ValueError(
            f"notional {notional!r} is above the last bracket's notional_cap {tiers[-1][0]!r}"
        )
    return notional * tiers[n][2] - _cums(tiers)[n]


def liquidation_price(
    side: Side,
    qty: float,
    entry_price: float,
    wallet_balance: float,
    brackets: Sequence[BracketLike],
    *,
    other_maintenance: float = 0.0,
    other_unrealized_pnl: float = 0.0,
) -> float:
    """Mark price at which the position's margin falls to its maintenance margin (Binance one-way).

    ``LP = (WB - TMM1 + UPNL1 + cum - s|q|E) / (|q| x MMR - s|q|)``, from Binance FAQ b3c689c1.
    Isolated mode: ``wallet_balance`` is the isolated margin and the two ``other_*`` are 0. Cross
    mode: ``wallet_balance`` is the cross wallet balance and ``other_maintenance`` /
    ``other_unrealized_pnl`` are TMM1 / UPNL1, the maintenance margin and unrealised PnL of the
    account's other symbols.

    The tier is first the one of the notional at entry, ``|q| x E``. If the notional at the
    result, ``|q| x LP``, lies in another tier, the price is recomputed with that tier's
    ``mmr``/``cum``, as Binance instructs, until the tier is consistent (at most one pass per tier).
    Because maintenance margin is continuous and strictly increasing in the notional, exactly one
    tier is self-consistent (two at a shared cap, with the same price). If the steps cycle (float
    rounding at a cap), every tier is tried and the self-consistent price is returned; should
    several qualify, the most conservative one (highest for a long, lowest for a short) wins.
    Beyond the last finite cap the last tier is extended.

    Returns 0.0 when no positive price solves the equation (the formula gives a price <= 0): a
    long that no positive price liquidates, or a short already below maintenance at every price.
    In both cases "liquidate when mark <= LP (long) / mark >= LP (short)" stays right with 0.0.

    >>> round(liquidation_price("long", 0.02, 50_000, 500, [(50_000, 125, 0.004)]), 2)
    25100.4
    """
    s = _sign(side)
    q = _positive("qty", qty, " of BTC")
    entry = _positive("entry_price", entry_price)
    wallet = _finite("wallet_balance", wallet_balance)
    tmm = _finite("other_maintenance", other_maintenance)
    if tmm < 0:
        raise ValueError(f"other_maintenance must be >= 0, got {other_maintenance!r}")
    upnl = _finite("other_unrealized_pnl", other_unrealized_pnl)
    tiers = _tiers(brackets)
    cums = _cums(tiers)
    last = len(tiers) - 1

    def price_in(n: int) -> float:
        return (wallet - tmm + upnl + cums[n] - s * q * entry) / (q * tiers[n][2] - s * q)

    def tier_of(price: float) -> int:
        found = _tier_index(max(q * price, 0.0), tiers)
        return last if found is None else found

    # At price 0 the maintenance margin is 0, so the margin surplus (equity - maintenance) is
    # WB - TMM1 + UPNL1 - s|q|E. The surplus rises with the price for a long and falls for a short,
    # strictly, so no positive price zeroes it if it is >= 0 there for a long (safe at every price)
    # or <= 0 there for a short (short of margin at every price).
    surplus_at_zero = wallet - tmm + upnl - s * q * entry
    if (s > 0 and surplus_at_zero >= 0) or (s < 0 and surplus_at_zero <= 0):
        return 0.0

    n = tier_of(entry)
    seen: set[int] = set()
    while n not in seen:
        seen.add(n)
        price = price_in(n)
        following = tier_of(price)
        if following == n:
            return price
        n = following

    # Cycle: test every tier for self-consistency, with a little slack at the caps.
    candidates = []
    for m in range(len(tiers)):
        p = price_in(m)
        if p <= 0:
            continue
        notional = q * p
        low = tiers[m - 1][0] if m > 0 else 0.0
        high = tiers[m][0] if m < last else math.inf
        slack = 1e-9 * max(notional, 1.0)
        if low - slack <= notional <= high + slack:
            candidates.append(p)
    if not candidates:
        candidates = [price_in(m) for m in seen]
    best = max(candidates) if s > 0 else min(candidates)
    return max(best, 0.0)


def bankruptcy_price(side: Side, qty: float, entry_price: float, wallet_balance: float) -> float:
    """Price at which the position's equity ``WB + s x q x (P - E)`` is zero.

    Long: ``E - WB/q``; short: ``E + WB/q``, both floored at 0 (a long whose balance covers the
    whole entry value cannot go bankrupt at a positive price). With isolated margin ``WB = qE/lev``
    this is Bybit's ``BP = E x (1 -/+ 1/lev)``. Liquidations and ADL fill at this price.

    >>> bankruptcy_price("long", 1, 10_000, 200)
    9800.0
    """
    s = _sign(side)
    q = _positive("qty", qty, " of BTC")
    entry = _positive("entry_price", entry_price)
    wallet = _finite("wallet_balance", wallet_balance)
    return max(entry - s * wallet / q, 0.0)


def adl_rank(pnl_fraction: float, effective_leverage: float) -> float:
    """BitMEX auto-deleveraging score: higher is deleveraged first.

    ``pnl_fraction x effective_leverage`` if the position is in profit, else
    ``pnl_fraction / effective_leverage``, so profitable, highly leveraged positions rank first
    and, among losers, more leverage ranks higher (less negative). ``pnl_fraction`` is
    ``(mark value - entry value) / |entry value|`` and ``effective_leverage`` is
    ``|mark value| / (mark value - bankrupt value)`` (bitmex.com/app/autoDeleveraging).

    >>> adl_rank(0.1, 5.0)
    0.5
    >>> adl_rank(-0.1, 5.0)
    -0.02
    """
    pnl = _finite("pnl_fraction", pnl_fraction)
    leverage = _positive("effective_leverage", effective_leverage)
    return pnl * leverage if pnl > 0 else pnl / leverage
