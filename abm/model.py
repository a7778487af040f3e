"""The market model: populations of traders on one exchange, priced by their own order flow.

``MarketModel(config)`` builds the exchange from the config's rulebook, the fundamental value and
the spot venue from its world section, and the populations; ``model.run_for(n)`` runs ``n``
ticks. Each tick follows DESIGN section 7: the world moves the fundamental value (information,
which no rule turns into a price) and the spot venue applies the last tick's spot order flow
(arbitrageurs' spot legs, spot value traders) to set the index; the agents sampled as active
act in a random order; the exchange updates mark and funding premium, triggers stops, runs
liquidation rounds and settles funding; the recorder takes the tick's series.

The model follows Mesa's conventions, so that ``mesa.batch_run`` can drive it:
``MarketModel(config=None, *, rng=None, **overrides)`` (see the constructor), one tick per
``step()``, ``running`` False after the last tick, and ``model.datacollector``.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mesa
import numpy as np

from abm.agents import (
    Arbitrageur,
    FundamentalTrader,
    MarketMaker,
    RetailTrader,
    SpotValueTrader,
    Trader,
    Whale,
)
from abm.agents.retail import draw_traits
from abm.config import (
    POPULATIONS,
    SYSTEM_POPULATIONS,
    LogNormal,
    ModelConfig,
    config_path,
    load_config,
    override_config,
)
from abm.draws import StandardNormals
from abm.exchange import Exchange, LiquidationMap, SystemAccount
from abm.recorder import Recorder
from abm.schedule import ActivitySchedule
from abm.world import FundamentalProcess, SpotVenue
from abm.world.prices import replay_start
from abm.world.replay import PerpPath


class MarketView:
    """Public market signals the agents read, updated once per tick in O(1)."""

    def __init__(self, ticks: int, tick_seconds: float, vol_span: int) -> None:
        self.marks = np.zeros(ticks + 1, dtype=np.int64)
        self.tick = 0
        self.tick_seconds = tick_seconds
        self.retail_flow = 0.0
        self.flow_decay = math.exp(-tick_seconds / 300)
        self.taker_flow_btc = 0.0
        """Net taker flow (BTC bought by aggressors less sold), decaying with a 30 s half-life."""
        self.taker_flow_keep = 0.5 ** (tick_seconds / 30)
        self.vol_alpha = 2 / (vol_span + 1)
        self.variance = 0.0

    def observe(self, tick: int, mark: int, lots_per_btc: float) -> None:
        """Record this tick's mark; decay the retail flow; update the EW variance."""
        self.marks[tick] = mark
        if tick:
            previous = self.marks[tick - 1]
            r = (mark - previous) / previous
            self.variance += self.vol_alpha * (r * r - self.variance)
        self.tick = tick
        self.retail_flow *= self.flow_decay

    def record_taker_flow(self, signed_btc: float) -> None:
        """Decay the net taker flow by one tick and add this tick's."""
        self.taker_flow_btc = self.taker_flow_btc * self.taker_flow_keep + signed_btc

    def record_retail_flow(self, signed_lots: int) -> None:
        self.retail_flow += signed_lots / 1_000

    def trend(self, minutes: float) -> float:
        """Log return of the mark over the last ``minutes``."""
        back = max(0, self.tick - round(minutes * 60 / self.tick_seconds))
        return math.log(self.marks[self.tick] / self.marks[back]) if self.marks[back] else 0.0

    def move_bps(self, ticks: int) -> float:
        """Absolute mark move over the last ``ticks``, in basis points."""
        back = max(0, self.tick - ticks)
        then = self.marks[back]
        return abs(int(self.marks[self.tick]) - int(then)) * 10_000 / then if then else 0.0

    def volatility_bps(self, _window: int) -> float:
        """Exponentially weighted standard deviation of one-tick mark returns, in bps."""
        return math.sqrt(self.variance) * 10_000


def replayed_path(config: ModelConfig) -> PerpPath:
    """The perp price path ``config.replay`` names: read from ``perp_path``, or recorded from a
    run of ``config`` with the overrides ``perp_from`` (same seed, replay off), made here
    first. ValueError naming the key when the path does not cover the run."""
    replay = config.replay
    if replay.perp_path is not None:
        return PerpPath.read(replay.perp_path, config.ticks)
    reference = override_config(
        config, {"replay": {"perp_path": None, "perp_from": None}, **(replay.perp_from or {})}
    )
    model = MarketModel(reference, collect=False)
    model.run_for(model.ticks)
    return PerpPath.from_columns(
        model.recorder.columns, config.ticks, f"the run of replay.perp_from {replay.perp_from}"
    )


def resolve_config(
    config: ModelConfig | str | Path | None, rng: object, overrides: Mapping[str, Any]
) -> ModelConfig:
    """The config a :class:`MarketModel` runs (see its constructor): ``config`` loaded by file
    or name unless it is a ModelConfig already, then the ``overrides``, then ``rng`` as
    ``run.seed``. TypeError for an ``rng`` or a ``config`` of a type it does not take."""
    if isinstance(rng, bool) or not (rng is None or isinstance(rng, int | np.integer)):
        raise TypeError(
            f"rng must be a whole number (the run's seed, run.seed) or None (the config's "
            f"run.seed), not a {type(rng).__name__}: a run is reproduced from the integer seed "
            "that its config and manifest record"
        )
    source = None
    if not isinstance(config, ModelConfig):
        if not (config is None or isinstance(config, str | Path)):
            raise TypeError(
                "config must be a ModelConfig, a config file, the name of a shipped config "
                f"(baseline) or None (the baseline), not a {type(config).__name__}"
            )
        source = config_path("baseline" if config is None else config)
        config = load_config(source)
    if rng is not None:
        overrides = {**overrides, "run.seed": int(rng)}
    config = override_config(config, overrides, source) if overrides else config
    return replay_start(config).scaled()


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while a block runs (as it was after). Every agent
    and account built is a tracked object, and with 10^6 of them the collector's repeated passes
    over the young generations cost more than the objects themselves (a 10^6-trader build took
    12.2 s with it, 7.8 s without); nothing built here is garbage, so the passes find nothing."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class MarketModel(mesa.Model):
    """A leveraged BTC perpetual market: see the module docstring."""

    def __init__(
        self,
        config: ModelConfig | str | Path | None = None,
        *,
        rng: int | None = None,
        collect: bool = True,
        **overrides: Any,
    ) -> None:
        """Build the model, in Mesa's conventions (``mesa.batch_run(MarketModel, ...)`` works).

        ``config``: a ModelConfig, a config file, the name of a shipped config, or None for the
        baseline. ``overrides``: dotted keys (``**{"exchange.max_leverage": 20}``) or sections
        holding mappings (``retail={"count": 100}``), applied on top of the config and validated
        like ``--set`` (:func:`abm.config.override_config`: ConfigError naming the key).
        ``rng``: the run's seed, ``run.seed`` (batch_run passes each of its ``rng=[...]``); None
        keeps the config's. The exchange, the world and the agents draw from
        ``np.random.SeedSequence(seed).spawn(3)``, so ``MarketModel(config, rng=7)`` is the run
        of ``config`` with ``run.seed`` 7. A numpy Generator or SeedSequence is refused
        (TypeError): a run is reproduced from the integer seed its manifest records.
        ``collect``: give the model ``datacollector``, a ``mesa.DataCollector`` of
        :data:`abm.reporters.MODEL_REPORTERS` collected now and after every tick; with False it
        is None (the command-line run records its own tables and saves the cost). A
        DataCollector assigned to ``model.datacollector`` later is collected after every tick.
        """
        config = resolve_config(config, rng, overrides)
        replayed = replayed_path(config) if config.replay.active else None
        seeds = np.random.SeedSequence(config.run.seed).spawn(3)
        super().__init__(rng=np.random.default_rng(seeds[0]))
        self.standard_normal = StandardNormals(self.rng)
        """One standard normal draw per call, drawn in blocks from the model's generator."""
        self.config = config
        self.replayed = replayed
        """The perp price path this run replays (``replay``), or None: prices from the market."""
        self.tick = 0
        self.tick_seconds = config.run.tick_seconds
        self.ticks = config.ticks
        self.exchange = Exchange(config.exchange, seed=seeds[1])
        world_seed = seeds[2] if config.world.seed is None else config.world.seed
        self.fundamental = FundamentalProcess(
            config.world, np.random.default_rng(world_seed), self.ticks, self.tick_seconds
        )
        self.spot = SpotVenue(config.world.spot, self.fundamental.price(0), self.tick_seconds)
        self.check_index_range()
        self.market = MarketView(
            self.ticks, self.tick_seconds, config.market_makers.vol_window_ticks
        )
        self.minimum_balance = self.exchange.instrument.micro(config.retail.minimum_balance)
        self.minute_ticks = self.minutes(1)
        self.sentiment_std = config.retail.sentiment_std
        self.sentiment_keep = 0.5 ** (1 / (config.retail.sentiment_half_life_hours * 60))
        self.sentiment = 0.0
        """Retail's shared mood, added to its lean to long (:meth:`update_sentiment`)."""
        self.market_protection = config.trading.market_protection
        self.population_of: dict[int, str] = {int(a): p for a, p in SYSTEM_POPULATIONS.items()}
        self._map_tick = -1
        self._map: LiquidationMap | None = None
        self._liquidations_seen = 0
        self._fills_seen = 0
        self.hunts: list[dict] = []
        """Whales' liquidation hunts, one record each when it ends (``hunts.parquet``)."""
        self.wiped_out = 0
        self.exchange.begin_tick(0, self.exchange.instrument.ticks(self.spot.price))
        with collector_paused():
            self.create_populations()
        self.traders: list[Trader] = [a for a in self.agents if isinstance(a, Trader)]
        """The agents with an exchange account (all but the spot value traders)."""
        self.agent_by_account = {agent.account: agent for agent in self.traders}
        self.active = {
            RetailTrader: list(self.agents_by_type.get(RetailTrader, [])),
            Whale: list(self.agents_by_type.get(Whale, [])),
            Arbitrageur: list(self.agents_by_type.get(Arbitrageur, [])),
            FundamentalTrader: list(self.agents_by_type.get(FundamentalTrader, [])),
            MarketMaker: list(self.agents_by_type.get(MarketMaker, [])),
            SpotValueTrader: list(self.agents_by_type.get(SpotValueTrader, [])),
        }
        for slot, trader in enumerate(self.active[RetailTrader]):
            trader.activity_slot = slot
        self.activity = {
            RetailTrader: self.per_tick(config.retail.activity_per_hour),
            Whale: self.per_tick(config.whales.activity_per_hour),
            Arbitrageur: self.per_tick(config.arbitrageurs.activity_per_hour),
            FundamentalTrader: self.per_tick(config.fundamental_traders.activity_per_hour),
            MarketMaker: 1.0,
            SpotValueTrader: self.per_tick(config.spot_value_traders.activity_per_hour),
        }
        self.activity_schedule = ActivitySchedule(
            self.rng, list(self.active.values()), [self.activity[kind] for kind in self.active]
        )
        """Who acts in each tick (:mod:`abm.schedule`)."""
        self.agent_actions = 0
        for agent in self.active[MarketMaker] + self.active[Arbitrageur]:
            agent.act()
        self.exchange.end_tick()
        self.market.observe(0, self.exchange.mark, self.exchange.instrument.lots_per_btc_inverse)
        self.recorder = Recorder(self)
        self.recorder.record(self)
        self.datacollector = self.default_datacollector() if collect else None
        if self.datacollector is not None:
            self.datacollector.collect(self)

    # ------------------------------------------------------------------ set-up

    @staticmethod
    def default_datacollector() -> mesa.DataCollector:
        """A DataCollector of the main series in natural units
        (:data:`abm.reporters.MODEL_REPORTERS`)."""
        from abm.reporters import MODEL_REPORTERS  # abm.reporters imports this module

        return mesa.DataCollector(model_reporters=MODEL_REPORTERS)

    def check_index_range(self) -> None:
        """ValueError before the first tick if the fundamental value path (shocks and a CSV's
        prices included) leaves the prices the exchange quotes, 1 tick to its maximum (the
        spot, and with it the index, stays close to it)."""
        inst = self.exchange.instrument
        low, high = float(self.fundamental.path.min()), float(self.fundamental.path.max())
        if inst.ticks(low) < 1 or inst.ticks(high) > inst.max_price_ticks:
            raise ValueError(
                f"world: the fundamental value path runs from {low:,.6g} to {high:,.6g} USDT, outside the "
                f"exchange's prices {inst.price(1):g} to {inst.price(inst.max_price_ticks):,.6g} "
                "USDT (exchange.tick_size to exchange.price_filter.max_price); change the "
                "shocks, world.start_price or the CSV's prices"
            )

    def per_tick(self, per_hour: float) -> float:
        return min(1.0, per_hour * self.tick_seconds / 3_600)

    def minutes(self, minutes: float) -> int:
        """Ticks in ``minutes`` (at least one)."""
        return max(1, round(minutes * 60 / self.tick_seconds))

    def draw_lognormal(self, dist: LogNormal) -> float:
        return float(dist.median * math.exp(dist.sigma * self.rng.normal()))

    def draw_lognormals(self, dist: LogNormal, n: int) -> np.ndarray:
        return dist.median * np.exp(dist.sigma * self.rng.normal(size=n))

    def create_populations(self) -> None:
        """Market makers and arbitrageurs first (they make the book), then fundamental traders,
        whales and retail.

        Retail leverage is drawn from the config's distribution; a trader who wants more than the
        rulebook's cap uses the cap (the agent keeps what it wanted), or with
        ``above_cap_stay_out`` stays out of the market.
        """
        config = self.config
        for kind, section in (
            (MarketMaker, config.market_makers),
            (Arbitrageur, config.arbitrageurs),
            (FundamentalTrader, config.fundamental_traders),
            (Whale, config.whales),
            (SpotValueTrader, config.spot_value_traders),
        ):
            capitals = self.draw_lognormals(section.capital, section.count).tolist()
            kind.create_agents(self, section.count, section, capitals)
        retail = config.retail
        weights = np.asarray(retail.leverage.weights, dtype=float)
        wanted = self.rng.choice(
            np.asarray(retail.leverage.values), size=retail.count, p=weights / weights.sum()
        )
        stay_out = self.rng.random(retail.count) < retail.above_cap_stay_out
        cap = self.exchange.max_leverage
        capitals = self.draw_lognormals(retail.capital, retail.count)
        joins = ~((wanted > cap) & stay_out)
        self.stayed_out = int(retail.count - joins.sum())
        self.stayed_out_draws = {
            "wanted_leverage": wanted[~joins].astype(int).tolist(),
            "capital_draw_usdt": capitals[~joins].tolist(),
        }
        """What the traders who stayed out drew (``stayed_out.parquet``): they never get an
        account."""
        joining = int(joins.sum())
        RetailTrader.create_agents(
            self,
            joining,
            retail,
            capitals[joins].tolist(),
            wanted[joins].astype(int).tolist(),
            *draw_traits(self.rng, retail, joining).values(),
        )

    # ------------------------------------------------------------------ the tick

    def step(self) -> None:
        """One tick, in the order of DESIGN section 6, then the DataCollector (if any) takes
        it. ``running`` turns False with the last tick; a step after it does nothing."""
        if self.tick >= self.ticks:
            return
        self.tick += 1
        ex = self.exchange
        self.update_sentiment()
        index = self.spot.step()
        replayed = self.replayed
        if replayed is not None:
            index = replayed.index_usdt[self.tick]
        ex.begin_tick(self.tick, ex.instrument.ticks(index))
        acting = self.activity_schedule.next_tick()
        for agent in acting:
            agent.act()
        self.agent_actions += len(acting)
        if replayed is not None:
            ticks = ex.instrument.ticks
            ex.hold_prices(
                ticks(replayed.mark_usdt[self.tick]), ticks(replayed.last_usdt[self.tick])
            )
        ex.end_tick()
        self.market.observe(self.tick, ex.mark, ex.instrument.lots_per_btc_inverse)
        self.note_taker_flow()
        self.note_liquidations()
        self.recorder.record(self)
        self.running = self.tick < self.ticks
        if self.datacollector is not None:
            self.datacollector.collect(self)

    def update_sentiment(self) -> None:
        """Once a simulated minute, move retail's shared mood (an Ornstein-Uhlenbeck process of
        standard deviation ``retail.sentiment_std``), which shifts its lean to long."""
        if self.tick % self.minute_ticks or not self.sentiment_std:
            return
        keep = self.sentiment_keep
        shock = self.sentiment_std * math.sqrt(1 - keep * keep) * self.standard_normal()
        self.sentiment = keep * self.sentiment + shock

    def note_taker_flow(self) -> None:
        """Feed this tick's fills (aggressor side times size) into the market's taker flow."""
        fills = self.exchange.fills
        seen, total = self._fills_seen, len(fills["qty"])
        signed = sum(
            a * q for a, q in zip(fills["aggressor"][seen:], fills["qty"][seen:], strict=True)
        )
        self._fills_seen = total
        self.market.record_taker_flow(signed * self.exchange.instrument.lots_per_btc_inverse)

    def note_liquidations(self) -> None:
        """Count wipe-outs among this tick's liquidated retail traders."""
        events = self.exchange.liquidations
        for event in events[self._liquidations_seen :]:
            if (
                event.qty
                and event.closed == event.qty
                and self.population_of.get(event.account) == "retail"
                and self.is_wiped_out(event.account)
            ):
                self.agent_by_account[event.account].wiped_out += 1
                self.wiped_out += 1
        self._liquidations_seen = len(events)

    def is_wiped_out(self, account: int) -> bool:
        """Balance below the minimum, or below ``wipe_out_share`` of what was deposited."""
        balance = self.exchange.balance(account)
        share = self.config.retail.wipe_out_share
        return balance < self.minimum_balance or balance < share * self.exchange.deposited[account]

    def depart(self, agent: RetailTrader) -> None:
        """A wiped-out trader leaves for good: drop it from the activity pool in O(1) (the
        last trader of the pool takes its place)."""
        pool = self.active[RetailTrader]
        last = pool.pop()
        if last is not agent:
            pool[agent.activity_slot] = last
            last.activity_slot = agent.activity_slot
        self.activity_schedule.pools_changed()

    def liquidation_map(self) -> LiquidationMap:
        """The public liquidation map (:meth:`Exchange.liquidation_map`), read at most once a
        minute."""
        minute = self.tick // self.minutes(1)
        if self._map is None or minute != self._map_tick:
            self._map = self.exchange.liquidation_map()
            self._map_tick = minute
        return self._map

    # ------------------------------------------------------------------ readings in USDT
    # The exchange counts in its own integers (prices in ticks, sizes in lots, money in
    # micro-USDT: model.exchange.mark is a tick count). Readers (a Mesa reporter, a notebook)
    # take these instead, in natural units.

    @property
    def mark_usdt(self) -> float:
        """The mark price, which triggers liquidations (USDT)."""
        return self.exchange.instrument.price(self.exchange.mark)

    @property
    def index_usdt(self) -> float:
        """The index, the spot venue's price (USDT)."""
        return self.exchange.instrument.price(self.exchange.index)

    @property
    def last_usdt(self) -> float:
        """The last traded price (USDT; NaN before the first trade)."""
        last = self.exchange.last
        return self.exchange.instrument.price(last) if last else math.nan

    @property
    def fundamental_usdt(self) -> float:
        """The fundamental value the world supplies this tick (USDT)."""
        return float(self.fundamental.price(self.tick))

    @property
    def open_interest_btc(self) -> float:
        """Open interest, one side of it (BTC)."""
        return self.exchange.instrument.btc(self.exchange.open_interest()[0])

    @property
    def insurance_fund_usdt(self) -> float:
        """The insurance fund's balance (USDT)."""
        return self.exchange.instrument.usdt(self.exchange.balance(SystemAccount.INSURANCE_FUND))

    def equity_by_population(self) -> dict[str, int]:
        """Balance plus unrealized PnL summed per population, micro-units (exact integers),
        from the exchange's running group totals: its cost does not grow with the accounts."""
        equity = self.exchange.equity_by_group()
        return {p: equity.get(p, 0) for p in POPULATIONS}
