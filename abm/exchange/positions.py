"""Positions as links: a fill creates, extends, closes or re-points links, settling each at the fill.

A side that closes leaves its oldest links first (``exchange.link_matching: fifo``), its newest
first (``lifo``) or every link in proportion to its size (``pro_rata``). Each piece it leaves is
settled at the fill price (the piece's loser pays the winner ``qty x (fill - ref)``), and the
exposure it held passes, at ``ref = fill``, to whoever takes it over: the opener on the other
side, or, when both sides close, the two remaining partners are joined. Settlement moves balance and cost basis by the same
amount, so no equity changes hands; only the holder of each piece of exposure does.
"""

from __future__ import annotations

from collections import deque
from typing import Final

from abm.exchange.accounts import Account, Link
from abm.exchange.ledger import Cause, Ledger
from abm.exchange.records import LINK_LIFO, LINK_PRO_RATA

COMPACT_AFTER: Final = 32


def settle_link_piece(
    accounts: list[Account],
    ledger: Ledger,
    k: int,
    link: Link,
    qty: int,
    price: int,
    cause: Cause,
    event_id: int,
) -> None:
    """Settle ``qty`` lots of ``link`` at ``price`` and remove them from the link."""
    long, short = accounts[link.long], accounts[link.short]
    amount = qty * (price - link.ref) * k
    ledger.pay(short.id, long.id, amount, cause, event_id)
    if not long.cross:
        long.isolated_margin += amount
    if not short.cross:
        short.isolated_margin -= amount
    long.position -= qty
    long.cost -= qty * link.ref
    short.position += qty
    short.cost += qty * link.ref
    long.group.position -= qty
    long.group.cost -= qty * link.ref
    short.group.position += qty
    short.group.cost += qty * link.ref
    link.qty -= qty


def _mark_dead(account: Account) -> None:
    links = account.links
    if links is None:
        return
    account.dead_links += 1
    if account.dead_links > COMPACT_AFTER and account.dead_links * 2 > len(links):
        account.links = deque(link for link in links if link.qty)
        account.dead_links = 0


def leave_links(
    accounts: list[Account],
    ledger: Ledger,
    k: int,
    account: Account,
    qty: int,
    price: int,
    cause: Cause,
    event_id: int,
    mutual: Account | None = None,
    mutual_qty: int = 0,
    matching: int = 0,
) -> tuple[list[tuple[int, int]], int]:
    """Close ``qty`` lots of ``account``'s exposure, settling at ``price``: its oldest links
    first, its newest first (``matching`` :data:`LINK_LIFO`) or all in proportion
    (:data:`LINK_PRO_RATA`, :func:`pro_rata_pieces`).

    Returns the partners left without a counterparty as ``(account id, lots)`` and the lots
    closed directly against ``mutual`` (a counterparty that is itself closing, up to
    ``mutual_qty``): those pieces vanish instead of being re-pointed.
    """
    partners: list[tuple[int, int]] = []
    if not qty:
        return partners, 0
    links = account.links
    if links is None:
        raise ValueError(f"account {account.id} closes {qty} lots but holds no links")
    is_long = account.position > 0
    if matching == LINK_PRO_RATA:
        pieces = pro_rata_pieces(links, qty)
    else:
        pieces = ordered_pieces(account, links, qty, matching == LINK_LIFO)
    closed_mutual = 0
    for link, piece in pieces:
        closed_mutual += leave_piece(
            accounts,
            ledger,
            k,
            link,
            piece,
            price,
            cause,
            event_id,
            is_long,
            mutual,
            mutual_qty - closed_mutual,
            partners,
        )
    if matching == LINK_PRO_RATA:
        account.links = deque(link for link in links if link.qty)
        account.dead_links = 0
    return partners, closed_mutual


def ordered_pieces(
    account: Account, links: deque[Link], qty: int, newest_first: bool
) -> list[tuple[Link, int]]:
    """The lots each link gives up when ``account`` closes ``qty`` lots from one end of its
    queue (its oldest links first, or its newest), taking the links it empties and the closed
    ones it passes off the queue."""
    pieces: list[tuple[Link, int]] = []
    while qty:
        link = links[-1] if newest_first else links[0]
        if link.qty:
            piece = min(qty, link.qty)
            pieces.append((link, piece))
            qty -= piece
            if piece < link.qty:
                break
        else:
            account.dead_links -= 1
        if newest_first:
            links.pop()
        else:
            links.popleft()
    return pieces


def leave_piece(
    accounts: list[Account],
    ledger: Ledger,
    k: int,
    link: Link,
    piece: int,
    price: int,
    cause: Cause,
    event_id: int,
    is_long: bool,
    mutual: Account | None,
    mutual_left: int,
    partners: list[tuple[int, int]],
) -> int:
    """Settle ``piece`` lots of one link a closing side leaves; the partner joins ``partners``
    for what it is not closing itself against the side (``mutual``, up to ``mutual_left``
    lots), a link left empty is dropped lazily from the partner's queue. Returns the lots
    closed against ``mutual``."""
    partner_id = link.short if is_long else link.long
    settle_link_piece(accounts, ledger, k, link, piece, price, cause, event_id)
    both = 0
    if mutual is not None and partner_id == mutual.id and mutual_left > 0:
        both = min(piece, mutual_left)
    if piece > both:
        partners.append((partner_id, piece - both))
    if not link.qty:
        _mark_dead(accounts[partner_id])
    return both


def pro_rata_pieces(links: deque[Link], qty: int) -> list[tuple[Link, int]]:
    """The lots each live link of a side gives up when it closes ``qty`` lots pro rata, oldest
    link first: its share ``qty x link.qty / total`` rounded down, the lots left over one each
    to the links with the largest remainders (ties: the older link). Links giving up nothing
    are left out.

    Links of 3, 1 and 2 lots closing 3 lots: shares 1.5, 0.5 and 1 round down to 1, 0 and 1;
    the lot left over goes to the largest remainder (0.5 twice: the older link) -> 2, 0, 1.
    """
    live = [link for link in links if link.qty]
    total = 0
    for link in live:
        total += link.qty
    shares = [qty * link.qty // total for link in live]
    left = qty - sum(shares)
    if left:
        order = sorted(range(len(live)), key=lambda i: (-(qty * live[i].qty % total), i))
        for i in order[:left]:
            shares[i] += 1
    return [(link, share) for link, share in zip(live, shares, strict=True) if share]


def open_link(accounts: list[Account], long_id: int, short_id: int, qty: int, price: int) -> None:
    """Add ``qty`` lots of exposure between two accounts at ``price``, merging with a twin link."""
    long, short = accounts[long_id], accounts[short_id]
    long.position += qty
    long.cost += qty * price
    short.position -= qty
    short.cost -= qty * price
    long.group.position += qty
    long.group.cost += qty * price
    short.group.position -= qty
    short.group.cost -= qty * price
    long_links, short_links = long.links, short.links
    if long_links and short_links:
        last = long_links[-1]
        if last is short_links[-1] and last.qty and last.ref == price:
            last.qty += qty
            return
    link = Link(long_id, short_id, qty, price)
    if long_links is None:
        long.links = long_links = deque()
    if short_links is None:
        short.links = short_links = deque()
    long_links.append(link)
    short_links.append(link)


def apply_fill(
    accounts: list[Account],
    ledger: Ledger,
    k: int,
    buyer: Account,
    seller: Account,
    qty: int,
    price: int,
    cause: Cause,
    event_id: int,
    matching: int = 0,
) -> None:
    """Move ``qty`` lots from ``seller`` to ``buyer`` at ``price`` through the links; a closing
    side leaves its links by the convention ``matching`` (:func:`leave_links`)."""
    buyer_closes = min(qty, max(0, -buyer.position))
    seller_closes = min(qty, max(0, seller.position))
    if not buyer_closes and not seller_closes:
        open_link(accounts, buyer.id, seller.id, qty, price)
        return
    longs, mutual = leave_links(
        accounts,
        ledger,
        k,
        buyer,
        buyer_closes,
        price,
        cause,
        event_id,
        seller,
        seller_closes,
        matching,
    )
    shorts, _ = leave_links(
        accounts,
        ledger,
        k,
        seller,
        seller_closes - mutual,
        price,
        cause,
        event_id,
        None,
        0,
        matching,
    )
    if qty > buyer_closes:
        longs.append((buyer.id, qty - buyer_closes))
    if qty > seller_closes:
        shorts.append((seller.id, qty - seller_closes))
    i = j = 0
    long_left = longs[0][1] if longs else 0
    short_left = shorts[0][1] if shorts else 0
    while i < len(longs) and j < len(shorts):
        piece = min(long_left, short_left)
        open_link(accounts, longs[i][0], shorts[j][0], piece, price)
        long_left -= piece
        short_left -= piece
        if not long_left:
            i += 1
            long_left = longs[i][1] if i < len(longs) else 0
        if not short_left:
            j += 1
            short_left = shorts[j][1] if j < len(shorts) else 0
