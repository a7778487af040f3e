"""The activity schedule: each population acts at its rate, everyone is shuffled together, and a
trader who left is never drawn again."""

from __future__ import annotations

import numpy as np
import pytest

from abm.schedule import BLOCK_AFTER_CHANGE, BLOCK_TICKS, ActivitySchedule

TICKS = 4_000


def counts(schedule: ActivitySchedule, ticks: int) -> dict[str, int]:
    seen: dict[str, int] = {}
    for _ in range(ticks):
        actors = schedule.next_tick()
        assert len(actors) == len(set(actors)), "an agent acts at most once a tick"
        for agent in actors:
            seen[agent] = seen.get(agent, 0) + 1
    return seen


@pytest.mark.parametrize("rate", [0.005, 0.05, 0.5])
def test_each_agent_acts_at_its_population_s_rate(rate):
    """Over 4,000 ticks the mean count per agent is within 4 standard errors of its rate; the
    always-acting population acts every tick. Below DRAW_EACH_ABOVE a tick draws n p picks on
    average, with replacement, duplicates dropped: an agent acts with probability about
    1 - (1 - 1/n)^(n p), a little below p."""
    makers = ["m1", "m2"]
    pool = [f"r{i}" for i in range(300)]
    schedule = ActivitySchedule(np.random.default_rng(7), [makers, pool], [1.0, rate])
    seen = counts(schedule, TICKS)
    assert seen["m1"] == seen["m2"] == TICKS
    per_agent = np.array([seen.get(a, 0) for a in pool]) / TICKS
    standard_error = np.sqrt(rate * (1 - rate) / (TICKS * len(pool)))
    expected = rate if rate >= 0.02 else 1 - (1 - 1 / len(pool)) ** (rate * len(pool))
    assert abs(per_agent.mean() - expected) < 4 * standard_error


def test_the_order_within_a_tick_is_random_across_populations():
    """A population is not always first: the always-acting maker is first in about 1 tick in
    (1 + actors of the other pool)."""
    schedule = ActivitySchedule(np.random.default_rng(3), [["maker"], ["a", "b", "c"]], [1.0, 1.0])
    first = sum(schedule.next_tick()[0] == "maker" for _ in range(TICKS))
    assert abs(first / TICKS - 0.25) < 4 * np.sqrt(0.25 * 0.75 / TICKS)


def test_an_agent_who_left_is_not_drawn_in_the_ticks_drawn_ahead():
    """Leaving mid-block: the rest of the block is drawn again from the pool as it is now."""
    pool = [f"r{i}" for i in range(50)]
    schedule = ActivitySchedule(np.random.default_rng(5), [pool], [0.5])
    schedule.next_tick()
    gone = pool.pop()
    schedule.pools_changed()
    later = [a for _ in range(2 * BLOCK_TICKS) for a in schedule.next_tick()]
    assert gone not in later
    assert set(later) == set(pool)


def test_the_same_seed_draws_the_same_ticks():
    def draws(seed):
        schedule = ActivitySchedule(np.random.default_rng(seed), [list("abcdef")], [0.3])
        return [schedule.next_tick() for _ in range(600)]

    assert draws(11) == draws(11)
    assert draws(11) != draws(12)


def test_pools_and_rates_must_pair_up():
    with pytest.raises(ValueError, match="2 pools but 1 rates"):
        ActivitySchedule(np.random.default_rng(0), [["a"], ["b"]], [0.5])


def test_a_departure_redraws_a_short_block_and_the_blocks_grow_back():
    """A cascade that wipes a trader out every tick draws a few ticks ahead, not 256."""
    pool = [f"r{i}" for i in range(50)]
    schedule = ActivitySchedule(np.random.default_rng(5), [pool], [0.5])
    schedule.next_tick()
    assert len(schedule.drawn) == BLOCK_TICKS
    pool.pop()
    schedule.pools_changed()
    schedule.next_tick()
    assert len(schedule.drawn) == BLOCK_AFTER_CHANGE
    sizes = []
    for _ in range(BLOCK_TICKS):
        schedule.next_tick()
        if schedule.next == 1:
            sizes.append(len(schedule.drawn))
    assert sizes[:4] == [
        2 * BLOCK_AFTER_CHANGE,
        4 * BLOCK_AFTER_CHANGE,
        8 * BLOCK_AFTER_CHANGE,
        16 * BLOCK_AFTER_CHANGE,
    ]
