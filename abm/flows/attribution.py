"""Liquidation attribution: for every liquidation, who received what the account lost, and who
paid for it, to the micro-unit.

For a liquidation event of account A, the transfers considered are those carrying the event's
id in which A is the source or the destination. Other transfers of the same event (a maker of
the liquidation order settling its own older links, the maker's fee) are not A's and are left
out. The transfers split in two:

- **coverage** flowing to A: ``insurance_payout`` from the insurance fund (the fund's unwind and
  its deficit payment), ``socialized_loss`` from winners, ``debt`` from the exchange (the
  exchange absorbing), and ``backstop_takeover`` from the backstop vault once the position is
  flat (the vault paying a deficit: a vault transfer after A's last non-coverage transfer of the
  event, in an event with a deficit);
- everything else: the settlement of A's links (``trade_pnl``, ``adl``, ``backstop_takeover``),
  the clearance fee, the insurance surplus, and any trading fee.

The **loss** is A's net outflow over the second group: what A paid minus what its link partners
paid it. Two decompositions of it sum exactly to it (integer micro-units):

- ``received``: net to each counterparty account (``counterparty``), ``clearance_fee`` (to the
  fund or the exchange), ``insurance_surplus``, ``trading_fee`` (net of rebates; only in deficit
  resolutions), ``other`` (any other cause: never expected);
- ``paid``: A's ``own_collateral`` (the fall of its balance while it stays at or above zero),
  ``insurance_payout``, ``backstop_vault``, ``socialized_loss`` (one row per contributor),
  ``exchange_absorbs``, and ``trader_debt`` (the fall of its balance below zero).

Memo rows are reported beside the sums, not in them: ``adl_haircut`` (per deleveraged winner,
what it gave up against the mark: ``lots x max(0, bankruptcy - mark)`` for a long, the mirror for
a short) and ``taker_gain`` (per taker of the liquidation order, from ``liquidation`` and
``unwind`` fills: ``lots x (mark - price)`` when it bought from a long, ``lots x (price - mark)``
when it sold to a short; negative when it dealt worse than the mark), both times the instrument's
value per lot-tick.

A **deficit resolution** (a row of ``liquidations.parquet`` with ``qty_lots == 0``) is an
account that closed its position for less than nothing in an ordinary trade; the coverage
arrives in a later event. Its attribution takes A's transfers of both events: the closing event
(the event of A's last fill before the resolution: ``closing_event_id``) and the resolution
event. Its ``side`` is the side it closed (``long`` if it sold; null when it has no closing fill).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from abm.exchange.ledger import SystemAccount

EXCHANGE = int(SystemAccount.EXCHANGE)
INSURANCE_FUND = int(SystemAccount.INSURANCE_FUND)
BACKSTOP_VAULT = int(SystemAccount.BACKSTOP_VAULT)

SETTLEMENT_CAUSES = ("trade_pnl", "adl", "backstop_takeover")
RECEIVED_PARTS = ("counterparty", "clearance_fee", "insurance_surplus", "trading_fee", "other")
PAID_PARTS = (
    "own_collateral",
    "insurance_payout",
    "backstop_vault",
    "socialized_loss",
    "exchange_absorbs",
    "trader_debt",
)
MEMO_PARTS = ("taker_gain", "adl_haircut")
SECTIONS = ("received", "paid", "memo")
COLUMNS = (
    "event_id",
    "tick",
    "account",
    "population",
    "side",
    "kind",
    "closing_event_id",
    "section",
    "part",
    "party",
    "party_population",
    "amount_micro_usdt",
)
_ORDER = {part: i for i, part in enumerate((*RECEIVED_PARTS, *PAID_PARTS, *MEMO_PARTS))}


def _closing_events(
    event: np.ndarray, account: np.ndarray, rows: np.ndarray, fills: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """For the given rows (deficit resolutions), the event of the account's last fill before the
    resolution event (-1 if none) and the side it closed (``long`` if it sold, else ``short``;
    None without such a fill)."""
    closing = np.full(rows.size, -1, dtype=np.int64)
    side = np.full(rows.size, None, dtype=object)
    if not rows.size or fills.empty:
        return closing, side
    f_event = fills["event_id"].to_numpy(np.int64)
    who = np.concatenate([fills["buyer"].to_numpy(np.int64), fills["seller"].to_numpy(np.int64)])
    when = np.concatenate([f_event, f_event])
    order_in_log = np.concatenate([np.arange(len(fills)), np.arange(len(fills))])
    sold = np.concatenate([np.zeros(len(fills), bool), np.ones(len(fills), bool)])
    order = np.lexsort((order_in_log, when, who))
    who, when, sold = who[order], when[order], sold[order]
    base = int(max(when.max(), event.max())) + 1
    keys = who * base + when
    idx = np.searchsorted(keys, account[rows] * base + event[rows], side="left") - 1
    found = (idx >= 0) & (who[np.maximum(idx, 0)] == account[rows])
    closing[found] = when[idx[found]]
    side[found] = np.where(sold[idx[found]], "long", "short")
    return closing, side


def _balances_before(
    transfers: pd.DataFrame, accounts: np.ndarray, positions: np.ndarray
) -> np.ndarray:
    """Each account's balance just before the transfer at log position ``positions`` (a running
    sum of its transfers; every balance starts at zero)."""
    if not accounts.size:
        return np.zeros(0, dtype=np.int64)
    src = transfers["src"].to_numpy(np.int64)
    dst = transfers["dst"].to_numpy(np.int64)
    amount = transfers["amount_micro_usdt"].to_numpy(np.int64)
    pos = np.arange(len(transfers), dtype=np.int64)
    wanted = np.unique(accounts)
    out_mask, in_mask = np.isin(src, wanted), np.isin(dst, wanted)
    who = np.concatenate([src[out_mask], dst[in_mask]])
    at = np.concatenate([pos[out_mask], pos[in_mask]])
    delta = np.concatenate([-amount[out_mask], amount[in_mask]])
    order = np.lexsort((at, who))
    who, at, delta = who[order], at[order], delta[order]
    running = pd.Series(delta).groupby(who).cumsum().to_numpy(np.int64)
    base = len(transfers) + 1
    idx = np.searchsorted(who * base + at, accounts * base + positions, side="left") - 1
    found = (idx >= 0) & (who[np.maximum(idx, 0)] == accounts)
    return np.where(found, running[np.maximum(idx, 0)], 0)


def _no_parts() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "row": pd.Series(dtype="int64"),
            "section": pd.Series(dtype=object),
            "part": pd.Series(dtype=object),
            "party": pd.Series(dtype="int64"),
            "amount": pd.Series(dtype="int64"),
        }
    )


def _empty() -> pd.DataFrame:
    frame = pd.DataFrame({name: pd.Series(dtype="int64") for name in COLUMNS})
    for name in ("population", "side", "kind", "section", "part", "party_population"):
        frame[name] = frame[name].astype(object)
    return frame.astype({"closing_event_id": "Int64"})


def attribute_liquidations(
    transfers: pd.DataFrame,
    liquidations: pd.DataFrame,
    fills: pd.DataFrame,
    accounts: pd.DataFrame,
    *,
    value_per_tick_lot: int = 100,
) -> pd.DataFrame:
    """Decompose every liquidation (and deficit resolution) into who received the loss and who
    paid for it; see the module docstring for the definitions.

    Inputs: a run's ``transfers``, ``liquidations``, ``fills`` and ``accounts`` tables (as in
    ``transfers.parquet`` etc.); ``value_per_tick_lot``, the micro-units of one lot at one tick
    (100 for the default 0.1-USDT tick and 0.001-BTC lot; ``read_run(...).value_per_tick_lot``
    gives a run's).

    Output: one row per (liquidation event, part, party) with columns ``event_id``, ``tick``,
    ``account`` and ``population`` (the liquidated account), ``side`` (``long``/``short``, null
    for a deficit resolution without a closing fill),
    ``kind`` (``liquidation`` or ``deficit_resolution``), ``closing_event_id`` (null for
    liquidations), ``section`` (``received``, ``paid`` or ``memo``), ``part``, ``party`` (the
    account receiving or paying), ``party_population`` and ``amount_micro_usdt`` (int64). These
    are the columns of ``liquidation_attribution.parquet`` but its ``time``. For every event the ``received`` amounts and the ``paid`` amounts each sum to
    its loss; every event has exactly one ``own_collateral`` row.

    Example (tests/test_flows.py): a long A of 0.2 BTC from 50,000 with 1,000 USDT of margin
    (bankruptcy 45,000) is liquidated with the mark at 45,150 into a maker M's bid at 45,100;
    its only link partner is a short S. A's link settles at 45,100 (980 to S), the 27.09
    clearance fee is capped at the 20 left, and M bought 10 USDT below the mark::

        section   part           party  amount_micro_usdt
        received  counterparty   S        980_000_000
        received  clearance_fee  1         20_000_000
        paid      own_collateral A      1_000_000_000
        memo      taker_gain     M         10_000_000
    """
    if liquidations.empty:
        return _empty()
    liq = liquidations.reset_index(drop=True)
    n = len(liq)
    event = liq["event_id"].to_numpy(np.int64)
    account = liq["account"].to_numpy(np.int64)
    resolution = liq["qty_lots"].to_numpy(np.int64) == 0
    res_rows = np.flatnonzero(resolution)
    closing_of_res, side_of_res = _closing_events(event, account, res_rows, fills)
    closing = np.full(n, -1, dtype=np.int64)
    closing[res_rows] = closing_of_res
    side = liq["side"].to_numpy(object).copy()
    side[res_rows] = side_of_res
    deficit = liq["deficit_micro_usdt"].to_numpy(np.int64)
    mark = liq["mark_ticks"].to_numpy(np.int64)
    population = accounts.set_index("account")["population"]

    # The (row, event, account) keys: every row's own event, and a resolution's closing event.
    with_closing = res_rows[closing_of_res >= 0]
    keys = pd.DataFrame(
        {
            "row": np.concatenate([np.arange(n), with_closing]),
            "event_id": np.concatenate([event, closing[with_closing]]),
        }
    )
    keys["account"] = account[keys["row"].to_numpy()]

    # A's transfers in those events, in log order.
    t_event = transfers["event_id"].to_numpy(np.int64)
    in_events = np.flatnonzero(np.isin(t_event, keys["event_id"].to_numpy()))
    log = transfers.iloc[in_events][["src", "dst", "amount_micro_usdt", "cause", "event_id"]]
    log = log.rename(columns={"amount_micro_usdt": "amount"})
    log["pos"] = in_events
    log = log.merge(keys, on="event_id", how="inner")
    mine = (log["src"].to_numpy() == log["account"].to_numpy()) | (
        log["dst"].to_numpy() == log["account"].to_numpy()
    )
    log = log[mine].sort_values(["row", "pos"], kind="stable").reset_index(drop=True)

    src = log["src"].to_numpy(np.int64)
    dst = log["dst"].to_numpy(np.int64)
    who = log["account"].to_numpy(np.int64)
    row = log["row"].to_numpy(np.int64)
    pos = log["pos"].to_numpy(np.int64)
    amount = log["amount"].to_numpy(np.int64)
    cause = log["cause"].to_numpy(object)
    outflow = src == who
    other = np.where(outflow, dst, src)
    signed = np.where(outflow, amount, -amount)

    to_a = dst == who
    payout = to_a & (cause == "insurance_payout") & (src == INSURANCE_FUND)
    social = to_a & (cause == "socialized_loss")
    absorb = to_a & (cause == "debt") & (src == EXCHANGE)
    vault_candidate = to_a & (cause == "backstop_takeover") & (src == BACKSTOP_VAULT)
    candidate = payout | social | absorb | vault_candidate
    last_other = np.full(n, -1, dtype=np.int64)
    np.maximum.at(last_other, row[~candidate], pos[~candidate])
    vault = vault_candidate & (pos > last_other[row]) & (deficit[row] > 0)
    cover = payout | social | absorb | vault

    settlement = np.isin(cause, SETTLEMENT_CAUSES) & (
        (other >= len(SystemAccount)) | (other == BACKSTOP_VAULT)
    )
    received_part = np.select(
        [
            settlement,
            cause == "clearance_fee",
            cause == "insurance_surplus",
            np.isin(cause, ("fee", "maker_rebate")),
        ],
        ["counterparty", "clearance_fee", "insurance_surplus", "trading_fee"],
        default="other",
    )
    paid_part = np.select(
        [payout, vault, social, absorb],
        ["insurance_payout", "backstop_vault", "socialized_loss", "exchange_absorbs"],
        default="",
    )
    parts = pd.DataFrame(
        {
            "row": row,
            "section": np.where(cover, "paid", "received"),
            "part": np.where(cover, paid_part, received_part),
            "party": other,
            "amount": np.where(cover, amount, signed),
        }
    )
    parts = parts.groupby(["row", "section", "part", "party"], as_index=False, sort=False)[
        "amount"
    ].sum()

    # Loss and coverage per row; the rest is A's own balance: collateral above zero, debt below.
    loss = np.zeros(n, dtype=np.int64)
    covered = np.zeros(n, dtype=np.int64)
    np.add.at(loss, row[~cover], signed[~cover])
    np.add.at(covered, row[cover], amount[cover])
    first = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, row, pos)
    has = first < np.iinfo(np.int64).max
    before = np.zeros(n, dtype=np.int64)
    before[has] = _balances_before(transfers, account[has], first[has])
    after = before + covered - loss
    own = np.maximum(before, 0) - np.maximum(after, 0)
    debt = np.maximum(-after, 0) - np.maximum(-before, 0)
    balance_parts = pd.DataFrame(
        {
            "row": np.concatenate([np.arange(n), np.arange(n)]),
            "section": "paid",
            "part": np.repeat(["own_collateral", "trader_debt"], n),
            "party": np.concatenate([account, account]),
            "amount": np.concatenate([own, debt]),
        }
    )
    keep = (balance_parts["part"] == "own_collateral") | (balance_parts["amount"] != 0)
    memo = _memo_parts(liq, account, mark, fills, value_per_tick_lot)

    pieces = [p for p in (parts[parts["amount"] != 0], balance_parts[keep], memo) if len(p)]
    out = pd.concat(pieces, ignore_index=True).astype(
        {"row": "int64", "party": "int64", "amount": "int64"}
    )
    out["order"] = out["part"].map(_ORDER)
    out = out.sort_values(["row", "order", "party"], kind="stable").reset_index(drop=True)
    r = out["row"].to_numpy()
    closing_id = pd.array(closing[r], dtype="Int64")
    closing_id[closing[r] < 0] = pd.NA
    result = pd.DataFrame(
        {
            "event_id": event[r],
            "tick": liq["tick"].to_numpy(np.int64)[r],
            "account": account[r],
            "population": liq["population"].to_numpy(object)[r],
            "side": side[r],
            "kind": np.where(resolution[r], "deficit_resolution", "liquidation"),
            "closing_event_id": closing_id,
            "section": out["section"].to_numpy(object),
            "part": out["part"].to_numpy(object),
            "party": out["party"].to_numpy(np.int64),
            "party_population": out["party"].map(population).to_numpy(object),
            "amount_micro_usdt": out["amount"].to_numpy(np.int64),
        }
    )
    return result


def _memo_parts(
    liq: pd.DataFrame, account: np.ndarray, mark: np.ndarray, fills: pd.DataFrame, k: int
) -> pd.DataFrame:
    """Takers' gains against the mark (liquidation and unwind fills) and ADL haircuts."""
    if fills.empty:
        return _no_parts()
    wanted = fills[fills["kind"].isin(("liquidation", "unwind", "adl"))]
    keys = pd.DataFrame({"row": np.arange(len(liq)), "event_id": liq["event_id"].to_numpy()})
    keys = keys[liq["qty_lots"].to_numpy() > 0]
    merged = wanted.merge(keys, on="event_id", how="inner")
    if merged.empty:
        return _no_parts()
    row = merged["row"].to_numpy(np.int64)
    who = account[row]
    buyer = merged["buyer"].to_numpy(np.int64)
    seller = merged["seller"].to_numpy(np.int64)
    a_sold = seller == who
    involved = a_sold | (buyer == who)
    party = np.where(a_sold, buyer, seller)
    qty = merged["qty_lots"].to_numpy(np.int64)
    price = merged["price_ticks"].to_numpy(np.int64)
    m = mark[row]
    adl = merged["kind"].to_numpy(object) == "adl"
    # Positive when the taker dealt better than the mark: bought below it, or sold above it.
    gain = np.where(a_sold, m - price, price - m) * qty * k
    haircut = np.maximum(0, np.where(a_sold, price - m, m - price)) * qty * k
    memo = pd.DataFrame(
        {
            "row": row,
            "section": "memo",
            "part": np.where(adl, "adl_haircut", "taker_gain"),
            "party": party,
            "amount": np.where(adl, haircut, gain),
        }
    )[involved]
    memo = memo.groupby(["row", "section", "part", "party"], as_index=False, sort=False)[
        "amount"
    ].sum()
    return memo[memo["amount"] != 0]


def liquidation_losses(attribution: pd.DataFrame) -> pd.DataFrame:
    """One row per liquidation event: its loss, what the received side and the paid side sum to
    (both equal the loss), and the memo totals.

    Input: the output of :func:`attribute_liquidations`. Output: a DataFrame indexed by
    ``event_id`` with ``account``, ``population``, ``side``, ``kind``, ``loss``, ``received``,
    ``paid``, ``own_collateral``, ``covered`` (the paid side beyond the account's own money and
    debt), ``taker_gain`` and ``adl_haircut`` (int64 micro-units).

    >>> losses = liquidation_losses(attribution)                # doctest: +SKIP
    >>> (losses.received == losses.paid).all()                  # doctest: +SKIP
    True
    """
    a = attribution
    info = a.groupby("event_id", sort=True)[["account", "population", "side", "kind"]].first()
    table = a.pivot_table(
        index="event_id", columns="part", values="amount_micro_usdt", aggfunc="sum", fill_value=0
    )
    for part in (*RECEIVED_PARTS, *PAID_PARTS, *MEMO_PARTS):
        if part not in table:
            table[part] = 0
    received = table[list(RECEIVED_PARTS)].sum(axis=1)
    paid = table[list(PAID_PARTS)].sum(axis=1)
    out = info.assign(
        loss=received,
        received=received,
        paid=paid,
        own_collateral=table["own_collateral"],
        covered=paid - table["own_collateral"] - table["trader_debt"],
        trader_debt=table["trader_debt"],
        taker_gain=table["taker_gain"],
        adl_haircut=table["adl_haircut"],
    )
    return out.astype({c: "int64" for c in out.columns if c not in info.columns})


def check_attribution(attribution: pd.DataFrame, liquidations: pd.DataFrame) -> pd.DataFrame:
    """Cross-check the attribution against the engine's own record of each event.

    Inputs: the output of :func:`attribute_liquidations` and the ``liquidations`` table. Output:
    one row per disagreement (empty when all agree) with ``event_id``, ``check``, ``expected``
    (the liquidations table's value, or the received side) and ``found``. Checks: received side
    equals paid side; ``clearance_fee``, ``insurance_surplus``, ``socialized``,
    ``exchange_absorbed``, ``debt`` and ``adl_haircut`` columns equal the attributed parts; the
    fund's net change (``insurance_delta``) equals surplus plus clearance fees to the fund minus
    payouts; no transfer fell in the ``other`` part.

    >>> check_attribution(attribution, liquidations).empty      # doctest: +SKIP
    True
    """
    a = attribution
    liq = liquidations.set_index("event_id")

    def part_sum(mask) -> pd.Series:
        amounts = a[mask].groupby("event_id")["amount_micro_usdt"].sum()
        return amounts.reindex(liq.index, fill_value=0)

    part = a["part"]
    received = part_sum(a["section"] == "received")
    paid = part_sum(a["section"] == "paid")
    fee = part_sum(part == "clearance_fee")
    fee_to_fund = part_sum((part == "clearance_fee") & (a["party"] == INSURANCE_FUND))
    surplus = part_sum(part == "insurance_surplus")
    payout = part_sum(part == "insurance_payout")
    checks = {
        "paid side equals received side": (received, paid),
        "clearance_fee": (liq["clearance_fee_micro_usdt"], fee),
        "insurance_surplus": (liq["insurance_surplus_micro_usdt"], surplus),
        "socialized": (liq["socialized_micro_usdt"], part_sum(part == "socialized_loss")),
        "exchange_absorbed": (
            liq["exchange_absorbed_micro_usdt"],
            part_sum(part == "exchange_absorbs"),
        ),
        "debt": (liq["debt_micro_usdt"], part_sum(part == "trader_debt")),
        "adl_haircut": (liq["adl_haircut_micro_usdt"], part_sum(part == "adl_haircut")),
        "insurance_delta": (liq["insurance_delta_micro_usdt"], surplus + fee_to_fund - payout),
        "no unexpected transfers": (pd.Series(0, index=liq.index), part_sum(part == "other")),
    }
    found = []
    for name, (expected, got) in checks.items():
        bad = expected.to_numpy(np.int64) != got.to_numpy(np.int64)
        for event_id, e, g in zip(
            liq.index[bad], expected.to_numpy()[bad], got.to_numpy()[bad], strict=True
        ):
            found.append((int(event_id), name, int(e), int(g)))
    return pd.DataFrame(found, columns=["event_id", "check", "expected", "found"])
