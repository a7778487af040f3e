"""The fundamental value: the information no one trades at directly (DESIGN section 6).

``FundamentalProcess`` precomputes, at construction, the log-value path for ticks ``0..ticks`` so
that reading it in the tick loop costs O(1). Only value traders read it, late and with errors of
their own (:mod:`abm.agents.belief`); the spot venue (:mod:`abm.world.spot`) moves with their
trades and the arbitrageurs', and the perp's price comes from its own book. The path is one of

* ``multiscale`` (default): log returns ``r_t = sigma_t z_t + J_t`` with ``z_t`` Student-t and
  a volatility with long memory, ``sigma_t = sigma exp(X_t - S**2)``, where ``X_t`` is the sum of
  AR(1) log-volatility components on geometrically spaced time scales (``vol_timescales_minutes``,
  each with variance ``vol_of_vol**2 / n``, so ``S**2 = vol_of_vol**2``); a superposition of
  exponentials over decades of time scales decays like a power law over that range (the
  multi-timescale stochastic-volatility idea of Calvet and Fisher's multifractal model), which
  is what real BTC shows in the autocorrelation of ``|r|``;
* ``garch_jump``: log returns ``r_t = sigma_t z_t + J_t`` with ``z_t`` Student-t (``tail_df``
  degrees of freedom, scaled to unit variance), GARCH(1,1) variance
  ``sigma2_t = omega + alpha (r_{t-1} - J_{t-1})**2 + beta sigma2_{t-1}`` (``alpha =
  vol_reaction``, ``beta = vol_persistence - vol_reaction``; jumps do not feed the variance) and
  compound-Bernoulli jumps ``J_t`` (probability ``jumps_per_day * tick_seconds / 86400`` per
  tick, log size Normal(0, ``jump_std``)); or
* ``csv``: a replay of a price file (Binance klines, a ``timestamp,price`` CSV, Parquet or
  Feather: :mod:`abm.world.prices`), carried forward onto the tick grid.

Scenario shocks are deterministic log drifts added on top of either path.

Variance target: ``annual_volatility`` is the long-run volatility of the *total* log return,
jumps included. The jump variance per tick, ``p * jump_std**2``, is subtracted from the target
per-tick variance ``annual_volatility**2 * tick_seconds / (365 * 86400)`` and the GARCH long-run
variance ``omega / (1 - vol_persistence)`` is set to the remainder. A configuration whose jumps
alone exceed the target is rejected. (The ratio of jump to total variance does not depend on
``tick_seconds``.)

Determinism: all randomness comes from the ``numpy.random.Generator`` passed in, drawn in a fixed
order (Student-t innovations for every tick, then one uniform per tick for jump arrivals, then
the sizes of the jumps that occur). The GARCH recursion, exponentials and logarithms are done
with Python floats and ``math`` (IEEE, correctly rounded ``sqrt``) rather than numpy's
CPU-dispatched vector kernels, so a seed gives the same bytes on any machine.

This module imports only numpy at import time; pandas is imported when a CSV is read.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from abm.config import WorldConfig

SECONDS_PER_DAY = 86_400.0
SECONDS_PER_YEAR = 365.0 * SECONDS_PER_DAY


class FundamentalProcess:
    """The fundamental value for a run of ``ticks`` ticks of ``tick_seconds`` seconds.

    Attributes: ``path`` (float64 array of ``ticks + 1`` values in USDT, tick 0 is
    ``start_price`` or the CSV's first price), ``log_path`` (its natural logarithm), ``ticks``,
    ``tick_seconds``, ``config``. ``price(tick)`` reads it in any order.
    """

    def __init__(
        self,
        config: WorldConfig,
        rng: np.random.Generator,
        ticks: int,
        tick_seconds: float = 1.0,
    ) -> None:
        ticks = int(ticks)
        if ticks < 0:
            raise ValueError(f"FundamentalProcess: ticks must be >= 0, got {ticks}")
        if not (tick_seconds > 0 and math.isfinite(tick_seconds)):
            raise ValueError(f"FundamentalProcess: tick_seconds must be > 0, got {tick_seconds}")
        self.config = config
        self.ticks = ticks
        self.tick_seconds = float(tick_seconds)

        # The path is a base price times exp(log moves), so that tick 0 is exactly the start price
        # (or the CSV's first price) and a CSV is replayed exactly where no shock applies.
        if config.process == "multiscale":
            log_base = np.full(ticks + 1, math.log(float(config.start_price)))
            base = np.full(ticks + 1, float(config.start_price))
            moves = _multiscale_log_moves(config, rng, ticks, self.tick_seconds)
        elif config.process == "garch_jump":
            base = np.full(ticks + 1, float(config.start_price))
            log_base = np.full(ticks + 1, math.log(float(config.start_price)))
            moves = _garch_jump_log_moves(config, rng, ticks, self.tick_seconds)
        elif config.process == "csv":
            if not config.csv_path:
                raise ValueError("world.csv_path: required when world.process is 'csv'")
            base = load_price_csv(config.csv_path, ticks, self.tick_seconds)
            log_base = np.array([math.log(b) for b in base.tolist()], dtype=np.float64)
            moves = np.zeros(ticks + 1, dtype=np.float64)
        else:  # pragma: no cover - the config's Literal rules this out
            raise ValueError(
                f"world.process: unknown process {config.process!r}; allowed: 'garch_jump', 'csv'"
            )
        if config.shocks:
            moves += shock_drift(config.shocks, ticks, self.tick_seconds)

        growth = np.array([math.exp(x) for x in moves.tolist()], dtype=np.float64)
        self.path: np.ndarray = base * growth
        self.log_path: np.ndarray = log_base + moves
        # Python lists: indexing them in the tick loop is cheaper than numpy scalar access.
        self._path_list: list[float] = self.path.tolist()

    # ------------------------------------------------------------------ per tick

    def price(self, tick: int) -> float:
        """The fundamental value at ``tick`` in USDT."""
        if not 0 <= tick <= self.ticks:
            raise ValueError(f"FundamentalProcess.price: tick {tick} outside 0..{self.ticks}")
        return self._path_list[tick]

    # ------------------------------------------------------------------ analysis

    def returns(self, minutes: int = 1) -> np.ndarray:
        """Non-overlapping log returns of the exogenous path (shocks included, price discovery
        not) over ``minutes``-minute horizons, starting at tick 0.

        ``minutes * 60`` must be a whole multiple of ``tick_seconds``.
        """
        step_f = minutes * 60.0 / self.tick_seconds
        step = round(step_f)
        if minutes <= 0 or step < 1 or abs(step_f - step) > 1e-9 * max(1.0, step_f):
            raise ValueError(
                f"FundamentalProcess.returns: {minutes} minutes is not a positive whole number of "
                f"{self.tick_seconds}-second ticks"
            )
        return np.diff(self.log_path[::step])


# ---------------------------------------------------------------------- processes


def _jump_returns(
    config: WorldConfig, rng: np.random.Generator, ticks: int, tick_seconds: float
) -> tuple[np.ndarray, float]:
    """Bernoulli-normal jumps per tick and their variance per tick."""
    jump_prob = float(config.jumps_per_day) * tick_seconds / SECONDS_PER_DAY
    if jump_prob > 1:
        raise ValueError(
            f"world.jumps_per_day: {config.jumps_per_day} jumps a day is more than one per "
            f"{tick_seconds}-second tick; allowed: at most {SECONDS_PER_DAY / tick_seconds:g}"
        )
    arrivals = rng.random(ticks) < jump_prob
    jumps = np.zeros(ticks, dtype=np.float64)
    n_jumps = int(arrivals.sum())
    if n_jumps:
        jumps[arrivals] = rng.normal(0.0, float(config.jump_std), size=n_jumps)
    return jumps, jump_prob * float(config.jump_std) ** 2


def _multiscale_log_moves(
    config: WorldConfig, rng: np.random.Generator, ticks: int, tick_seconds: float
) -> np.ndarray:
    """Cumulative log returns from tick 0 of the multi-timescale stochastic-volatility process
    with Student-t innovations and jumps (module docstring). Draw order: the innovations, the
    jump arrivals and sizes, then each volatility component's shocks."""
    df = float(config.tail_df)
    z = rng.standard_t(df, size=ticks) * math.sqrt((df - 2.0) / df)
    jumps, jump_var = _jump_returns(config, rng, ticks, tick_seconds)
    target_var = float(config.annual_volatility) ** 2 * tick_seconds / SECONDS_PER_YEAR
    diffusion_var = target_var - jump_var
    if not diffusion_var > 0:
        raise ValueError(
            f"world: jumps alone ({config.jumps_per_day}/day of std {config.jump_std}) exceed "
            f"world.annual_volatility {config.annual_volatility}"
        )
    scales = config.vol_timescales_minutes
    component_sd = float(config.vol_of_vol) / math.sqrt(len(scales))
    log_vol = np.zeros(ticks, dtype=np.float64)
    for minutes in scales:
        log_vol += ar1_path(
            rng.standard_normal(ticks), math.exp(-tick_seconds / (60.0 * minutes)), component_sd
        )
    sigma = math.sqrt(diffusion_var) * np.exp(log_vol - float(config.vol_of_vol) ** 2)
    moves = np.zeros(ticks + 1, dtype=np.float64)
    np.cumsum(sigma * z + jumps, out=moves[1:])
    return moves


def ar1_path(shocks: np.ndarray, phi: float, sd: float) -> np.ndarray:
    """A stationary AR(1) path ``x_t = phi x_(t-1) + sd sqrt(1 - phi**2) e_t`` started from its
    stationary law (``x_0 = sd e_0``): standard deviation ``sd`` at every step.

    A plain loop over Python floats, so a seed gives the same bytes on any machine.
    """
    out = [0.0] * len(shocks)
    scale = sd * math.sqrt(1.0 - phi * phi)
    x = 0.0
    for i, e in enumerate(shocks.tolist()):
        x = sd * e if i == 0 else phi * x + scale * e
        out[i] = x
    return np.array(out, dtype=np.float64)


def _garch_jump_log_moves(
    config: WorldConfig, rng: np.random.Generator, ticks: int, tick_seconds: float
) -> np.ndarray:
    """Cumulative log returns from tick 0 to ticks 0..ticks (the first is 0) of the GARCH(1,1)-t
    process with Bernoulli-normal jumps."""
    alpha = float(config.vol_reaction)
    beta = float(config.vol_persistence) - alpha
    if not (alpha > 0 and beta > 0):
        raise ValueError(
            f"world.vol_reaction {alpha} must be positive and below vol_persistence "
            f"{config.vol_persistence}"
        )
    df = float(config.tail_df)
    if not df > 2:
        raise ValueError(f"world.tail_df: must be > 2 for a finite variance, got {df}")

    jump_prob = float(config.jumps_per_day) * tick_seconds / SECONDS_PER_DAY
    if jump_prob > 1:
        raise ValueError(
            f"world.jumps_per_day: {config.jumps_per_day} jumps a day is more than one per "
            f"{tick_seconds}-second tick; allowed: at most {SECONDS_PER_DAY / tick_seconds:g}"
        )
    jump_var = jump_prob * float(config.jump_std) ** 2
    target_var = float(config.annual_volatility) ** 2 * tick_seconds / SECONDS_PER_YEAR
    diffusion_var = target_var - jump_var
    if not diffusion_var > 0:
        jump_vol = math.sqrt(float(config.jumps_per_day) * 365.0) * float(config.jump_std)
        raise ValueError(
            f"world: jumps alone ({config.jumps_per_day}/day of std {config.jump_std}) give an "
            f"annualised volatility of {jump_vol:.4g}, not below world.annual_volatility "
            f"{config.annual_volatility}; lower jumps_per_day or jump_std, or raise "
            "annual_volatility"
        )
    omega = diffusion_var * (1.0 - alpha - beta)

    z = rng.standard_t(df, size=ticks) * math.sqrt((df - 2.0) / df)
    arrivals = rng.random(ticks) < jump_prob
    n_jumps = int(arrivals.sum())
    jumps = np.zeros(ticks, dtype=np.float64)
    if n_jumps:
        jumps[arrivals] = rng.normal(0.0, float(config.jump_std), size=n_jumps)

    returns = garch_residuals(z, omega, alpha, beta, diffusion_var) + jumps
    moves = np.zeros(ticks + 1, dtype=np.float64)
    np.cumsum(returns, out=moves[1:])
    return moves


def garch_residuals(
    z: np.ndarray, omega: float, alpha: float, beta: float, h0: float
) -> np.ndarray:
    """GARCH(1,1) residuals ``e_t = sqrt(h_t) z_t`` with ``h_{t+1} = omega + alpha e_t**2 +
    beta h_t``, ``h_0 = h0``, for unit-variance innovations ``z``.

    A plain loop over Python floats: about 0.1 µs a tick (10 ms a simulated day of 1-s ticks),
    linear in the length.
    """
    out = [0.0] * len(z)
    h = float(h0)
    sqrt = math.sqrt
    for i, zi in enumerate(z.tolist()):
        e = sqrt(h) * zi
        out[i] = e
        h = omega + alpha * e * e + beta * h
    return np.array(out, dtype=np.float64)


def shock_drift(shocks, ticks: int, tick_seconds: float) -> np.ndarray:
    """Cumulative log drift at ticks 0..ticks of a sequence of shocks.

    Each shock adds ``log(1 + move)`` spread evenly, linearly in time, from its start minute
    (``start_minute``, or ``minutes_before_end`` before the run's end at ``ticks *
    tick_seconds / 60``) over ``minutes``; afterwards the level stays moved. Shocks add in log
    space (compose multiplicatively). A shock running past the end of the run is applied in part.
    """
    minute = np.arange(ticks + 1, dtype=np.float64) * (tick_seconds / 60.0)
    run_minutes = ticks * tick_seconds / 60.0
    drift = np.zeros(ticks + 1, dtype=np.float64)
    for shock in shocks:
        start = shock.start(run_minutes)
        frac = np.clip((minute - start) / float(shock.minutes), 0.0, 1.0)
        drift += math.log1p(float(shock.move)) * frac
    return drift


# ---------------------------------------------------------------------- replay


def load_price_csv(path: str | Path, ticks: int, tick_seconds: float) -> np.ndarray:
    """Prices at ticks 0..ticks replayed from a price file (any format
    :func:`abm.world.prices.read_price_file` reads), by last observation carried forward;
    ValueError naming ``world.csv_path``, the file and the problem."""
    from abm.world.prices import PriceFileError, read_price_file, replay_prices

    try:
        return replay_prices(read_price_file(path), ticks, tick_seconds)
    except PriceFileError as err:
        raise ValueError(f"world.csv_path: {err}") from None
