"""Unit tests of the ledger: the one function that moves money, its log and conservation."""

from __future__ import annotations

import pytest

from abm.exchange.accounts import AccountGroup
from abm.exchange.ledger import FIRST_TRADER, Cause, Ledger, LedgerError, SystemAccount

EXTERNAL = SystemAccount.EXTERNAL
TRADERS = AccountGroup("traders")


def log_rows(ledger: Ledger) -> list[tuple[int, int, int, int, int, int]]:
    """The transfer log as ``(tick, src, dst, amount, cause, event_id)`` rows."""
    return list(
        zip(
            ledger.log_tick,
            ledger.log_src,
            ledger.log_dst,
            ledger.log_amount,
            ledger.log_cause,
            ledger.log_event,
            strict=True,
        )
    )


def two_accounts() -> tuple[Ledger, int, int]:
    ledger = Ledger()
    a, b = ledger.open_account(TRADERS), ledger.open_account(TRADERS)
    ledger.deposit(a, 1_000, event_id=1)
    return ledger, a, b


def test_new_ledger_has_the_system_accounts_at_zero_and_an_empty_log():
    ledger = Ledger()
    assert ledger.balances == [0] * len(SystemAccount)
    assert len(ledger) == 0
    assert ledger.net_deposits == 0


def test_open_account_returns_consecutive_ids_after_the_system_accounts():
    ledger = Ledger()
    assert [ledger.open_account(TRADERS) for _ in range(3)] == [
        FIRST_TRADER,
        FIRST_TRADER + 1,
        FIRST_TRADER + 2,
    ]
    assert ledger.balances[FIRST_TRADER:] == [0, 0, 0]


def test_transfer_moves_money_and_logs_tick_src_dst_amount_cause_event():
    ledger, a, b = two_accounts()
    ledger.tick = 17
    ledger.transfer(a, b, 300, Cause.TRADE_PNL, 42)
    assert ledger.balances[a] == 700
    assert ledger.balances[b] == 300
    assert log_rows(ledger)[-1] == (17, a, b, 300, Cause.TRADE_PNL, 42)
    assert len(ledger) == 2


def test_transfer_may_take_a_balance_below_zero():
    ledger, a, b = two_accounts()
    ledger.transfer(b, a, 5, Cause.DEBT, 2)
    assert ledger.balances[b] == -5
    assert ledger.balances[a] == 1_005


def test_zero_transfer_is_not_logged_and_changes_nothing():
    ledger, a, b = two_accounts()
    ledger.transfer(a, b, 0, Cause.FEE, 9)
    assert len(ledger) == 1
    assert ledger.balances[a] == 1_000 and ledger.balances[b] == 0


@pytest.mark.parametrize("amount", [-1, -1_000])
def test_negative_transfer_raises_and_changes_nothing(amount):
    ledger, a, b = two_accounts()
    before = (list(ledger.balances), len(ledger))
    with pytest.raises(LedgerError, match=f"must be a positive .*, got {amount} \\(FEE\\)"):
        ledger.transfer(a, b, amount, Cause.FEE, 9)
    assert (ledger.balances, len(ledger)) == before


def test_self_transfer_raises_and_changes_nothing():
    ledger, a, _ = two_accounts()
    before = (list(ledger.balances), len(ledger))
    with pytest.raises(LedgerError, match=f"from account {a} to itself \\(FUNDING\\)"):
        ledger.transfer(a, a, 10, Cause.FUNDING, 9)
    assert (ledger.balances, len(ledger)) == before


@pytest.mark.parametrize("amount", [1.5, 2.0, "3"])
def test_non_integer_transfer_raises_ledger_error_and_changes_nothing(amount):
    # A float amount used to change both balances and then fail half-way through the log.
    ledger, a, b = two_accounts()
    before = (list(ledger.balances), len(ledger.log_tick), len(ledger))
    with pytest.raises(LedgerError, match=f"got {amount!r} \\(FEE\\)"):
        ledger.transfer(a, b, amount, Cause.FEE, 9)
    assert (ledger.balances, len(ledger.log_tick), len(ledger)) == before


def test_pay_positive_goes_payer_to_payee_and_negative_the_other_way():
    ledger, a, b = two_accounts()
    ledger.pay(a, b, 30, Cause.TRADE_PNL, 2)
    ledger.pay(a, b, -10, Cause.TRADE_PNL, 3)
    ledger.pay(a, b, 0, Cause.TRADE_PNL, 4)
    assert ledger.balances[a] == 980 and ledger.balances[b] == 20
    assert [row[1:4] for row in log_rows(ledger)[1:]] == [(a, b, 30), (b, a, 10)]


def test_deposit_and_withdraw_move_money_through_external_and_track_net_deposits():
    ledger = Ledger()
    a = ledger.open_account(TRADERS)
    ledger.tick = 3
    ledger.deposit(a, 1_000, event_id=5)
    ledger.withdraw(a, 250, event_id=6)
    assert ledger.balances[a] == 750
    assert ledger.balances[EXTERNAL] == -750
    assert ledger.net_deposits == 750
    assert log_rows(ledger) == [
        (3, EXTERNAL, a, 1_000, Cause.DEPOSIT, 5),
        (3, a, EXTERNAL, 250, Cause.WITHDRAWAL, 6),
    ]
    ledger.check_conservation()


@pytest.mark.parametrize("amount", [0, -7])
def test_deposit_and_withdraw_of_non_positive_amounts_raise_and_change_nothing(amount):
    ledger, a, _ = two_accounts()
    before = (list(ledger.balances), len(ledger), ledger.net_deposits)
    with pytest.raises(LedgerError, match=f"deposit amount must be positive, got {amount}"):
        ledger.deposit(a, amount, 2)
    with pytest.raises(LedgerError, match=f"withdrawal amount must be positive, got {amount}"):
        ledger.withdraw(a, amount, 2)
    assert (ledger.balances, len(ledger), ledger.net_deposits) == before


def test_internal_transfers_keep_conservation():
    ledger, a, b = two_accounts()
    ledger.transfer(a, b, 400, Cause.TRADE_PNL, 2)
    ledger.transfer(b, SystemAccount.EXCHANGE, 7, Cause.FEE, 2)
    ledger.transfer(SystemAccount.EXCHANGE, SystemAccount.INSURANCE_FUND, 3, Cause.DEBT, 3)
    ledger.check_conservation()


def test_check_conservation_names_the_numbers_when_a_balance_is_tampered_with():
    ledger, a, _ = two_accounts()
    ledger.balances[a] += 1
    with pytest.raises(AssertionError) as err:
        ledger.check_conservation()
    assert str(err.value) == (
        "conservation broken: balances inside the system sum to 1001 micro-units, "
        "external account holds -1000, net external deposits are 1000"
    )


def test_check_conservation_catches_a_tampered_external_account():
    ledger, a, _ = two_accounts()
    ledger.balances[EXTERNAL] -= 1
    ledger.balances[a] += 1
    with pytest.raises(AssertionError, match="external account holds -1001"):
        ledger.check_conservation()


def test_every_transfer_keeps_the_groups_balance_totals():
    ledger = Ledger()
    retail, whales = AccountGroup("retail"), AccountGroup("whale")
    a, b, c = ledger.open_account(retail), ledger.open_account(retail), ledger.open_account(whales)
    ledger.deposit(a, 1_000, event_id=1)
    ledger.deposit(c, 500, event_id=2)
    ledger.transfer(a, b, 300, Cause.TRADE_PNL, 3)
    ledger.transfer(b, c, 120, Cause.FEE, 4)
    assert (retail.balance, whales.balance) == (880, 620)
    assert ledger.groups[EXTERNAL].balance == -1_500
