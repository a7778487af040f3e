"""The ledger: integer balances and the one function that moves money.

Money is an integer count of micro-units of the quote currency. Every movement is one call of
:meth:`Ledger.transfer`, logged as ``(tick, src, dst, amount, cause, event_id)``; nothing else
changes a balance.
"""

from __future__ import annotations

from array import array
from enum import IntEnum
from typing import Final

from abm.exchange.accounts import AccountGroup


class Cause(IntEnum):
    """Why money moved; the flow network groups edges by these."""

    DEPOSIT = 0
    WITHDRAWAL = 1
    TRADE_PNL = 2
    FEE = 3
    MAKER_REBATE = 4
    FUNDING = 5
    CLEARANCE_FEE = 6
    INSURANCE_SURPLUS = 7
    INSURANCE_PAYOUT = 8
    ADL = 9
    SOCIALIZED_LOSS = 10
    BACKSTOP_TAKEOVER = 11
    DEBT = 12


class SystemAccount(IntEnum):
    """Accounts that exist beside traders, with fixed ids below the first trader's."""

    EXCHANGE = 0
    INSURANCE_FUND = 1
    BACKSTOP_VAULT = 2
    EXTERNAL = 3


FIRST_TRADER: Final = len(SystemAccount)


class LedgerError(ValueError):
    """A transfer that cannot be made; nothing was changed."""


class Ledger:
    """Balances of all accounts and the log of every transfer, in columnar arrays."""

    __slots__ = (
        "balances",
        "groups",
        "tick",
        "net_deposits",
        "log_tick",
        "log_src",
        "log_dst",
        "log_amount",
        "log_cause",
        "log_event",
    )

    def __init__(self, system: AccountGroup | None = None) -> None:
        self.balances: list[int] = [0] * FIRST_TRADER
        system = AccountGroup("system") if system is None else system
        self.groups: list[AccountGroup] = [system] * FIRST_TRADER
        """Each account's group, whose balance total every transfer keeps."""
        self.tick = 0
        self.net_deposits = 0
        self.log_tick = array("q")
        self.log_src = array("q")
        self.log_dst = array("q")
        self.log_amount = array("q")
        self.log_cause = array("b")
        self.log_event = array("q")

    def open_account(self, group: AccountGroup) -> int:
        """Add an account of ``group`` with a zero balance and return its id."""
        self.balances.append(0)
        self.groups.append(group)
        return len(self.balances) - 1

    def transfer(self, src: int, dst: int, amount: object, cause: Cause, event_id: int) -> None:
        """Move ``amount`` micro-units from ``src`` to ``dst``; zero amounts are not logged."""
        if amount == 0:
            return
        if not (type(amount) is int and amount > 0):
            raise LedgerError(
                f"transfer amount must be a positive whole number of micro-units, got {amount!r} "
                f"({cause.name})"
            )
        if src == dst:
            raise LedgerError(f"transfer from account {src} to itself ({cause.name})")
        balances = self.balances
        balances[src] -= amount
        balances[dst] += amount
        groups = self.groups
        groups[src].balance -= amount
        groups[dst].balance += amount
        self.log_tick.append(self.tick)
        self.log_src.append(src)
        self.log_dst.append(dst)
        self.log_amount.append(amount)
        self.log_cause.append(cause)
        self.log_event.append(event_id)

    def pay(self, payer: int, payee: int, amount: int, cause: Cause, event_id: int) -> None:
        """Transfer a signed amount: positive from ``payer`` to ``payee``, negative the other way."""
        if amount > 0:
            self.transfer(payer, payee, amount, cause, event_id)
        elif amount < 0:
            self.transfer(payee, payer, -amount, cause, event_id)

    def deposit(self, account: int, amount: int, event_id: int) -> None:
        """Money enters from outside the system."""
        if amount <= 0:
            raise LedgerError(f"deposit amount must be positive, got {amount}")
        self.transfer(SystemAccount.EXTERNAL, account, amount, Cause.DEPOSIT, event_id)
        self.net_deposits += amount

    def withdraw(self, account: int, amount: int, event_id: int) -> None:
        """Money leaves the system; the caller checks what the account may withdraw."""
        if amount <= 0:
            raise LedgerError(f"withdrawal amount must be positive, got {amount}")
        self.transfer(account, SystemAccount.EXTERNAL, amount, Cause.WITHDRAWAL, event_id)
        self.net_deposits -= amount

    def __len__(self) -> int:
        return len(self.log_amount)

    def check_conservation(self) -> None:
        """Raise if the balances do not add up to the net external deposits, to the micro-unit."""
        external = self.balances[SystemAccount.EXTERNAL]
        inside = sum(self.balances) - external
        if inside != self.net_deposits or external != -self.net_deposits:
            raise AssertionError(
                f"conservation broken: balances inside the system sum to {inside} micro-units, "
                f"external account holds {external}, net external deposits are {self.net_deposits}"
            )
