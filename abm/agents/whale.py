"""Whales: few, large capital, low leverage. They read the public liquidation map and, when a
cluster of liquidation prices sits close enough, push the price into it and take profit in the
cascade; otherwise they drift in and out of a position slowly."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from abm.agents.trader import Trader
from abm.exchange import BUY, SELL
from abm.exchange.liquidation import liquidated_notional

if TYPE_CHECKING:
    from abm.config import WhaleConfig
    from abm.model import MarketModel


class Whale(Trader):
    population = "whale"

    def __init__(self, model: MarketModel, config: WhaleConfig, capital: float) -> None:
        super().__init__(model, capital, config.leverage)
        self.config = config
        self.campaign_side = 0
        self.campaign_target = 0
        self.campaign_entry = 0
        self.campaign_until = 0
        self.next_map_tick = 0
        self.campaigns = 0
        self.hunt: dict | None = None
        """The campaign under way, as it will be recorded in ``model.hunts``."""

    def act(self) -> None:
        if self.campaign_side:
            self.push()
        elif self.config.hunt and self.model.tick >= self.next_map_tick:
            self.next_map_tick = self.model.tick + self.model.minutes(self.config.map_every_minutes)
            if not self.hunt_liquidations():
                self.drift()
        else:
            self.drift()

    def hunt_liquidations(self) -> bool:
        """Pick the largest liquidation cluster within reach when it pays: the book between here
        and the cluster is thin enough for the whale to eat and at most half the cluster, whose
        forced orders then carry the price further than the whale pushed it."""
        config = self.config
        ex = self.exchange
        liquidation_map = self.model.liquidation_map()
        if not len(liquidation_map.lots):
            return False
        sizes, sides = liquidation_map.lots, liquidation_map.side
        thresholds = liquidation_map.threshold_lots / sizes
        mark = ex.mark
        reach = config.hunt_max_distance
        best = None
        for side, lo, hi in ((1, mark * (1 - reach), mark), (-1, mark, mark * (1 + reach))):
            mask = (sides == side) & (thresholds >= lo) & (thresholds <= hi)
            if not mask.any():
                continue
            bins = np.round(thresholds[mask] / (mark * 0.0025)).astype(np.int64)
            totals = np.bincount(bins - bins.min(), weights=sizes[mask])
            peak = int(np.argmax(totals))
            cluster_lots = float(totals[peak])
            cluster_price = int((peak + bins.min()) * mark * 0.0025)
            if cluster_lots < ex.instrument.lots(config.hunt_min_cluster_btc):
                continue
            if best is None or cluster_lots > best[0]:
                best = (cluster_lots, side, cluster_price)
        if best is None:
            return False
        cluster_lots, liquidated_side, target = best
        push_side = SELL if liquidated_side == 1 else BUY
        depth = ex.book.depth_between(-push_side, target)
        capacity = self.exchange.balance(self.account) * self.leverage // (mark * ex.k)
        if depth > capacity // 2 or depth * 2 > cluster_lots:
            return False
        self.campaign_side = push_side
        self.campaign_target = target
        self.campaign_entry = mark
        self.campaign_until = self.model.tick + self.model.minutes(config.campaign_minutes)
        self.campaigns += 1
        self.hunt = {
            "account": self.account,
            "start_tick": self.model.tick,
            "push_side": "sell" if push_side == SELL else "buy",
            "target_price_usdt": ex.instrument.price(target),
            "start_mark_usdt": ex.instrument.price(mark),
            "cluster_btc": ex.instrument.btc(int(cluster_lots)),
            "book_depth_btc": ex.instrument.btc(depth),
            "equity_start_micro": ex.equity(self.account),
            "liquidations_before": len(ex.liquidations),
        }
        self.push()
        return True

    def push(self) -> None:
        """Trade towards the cluster; once through it (or out of time), take profit."""
        ex = self.exchange
        side = self.campaign_side
        reached = (side == SELL and ex.last <= self.campaign_target) or (
            side == BUY and ex.last >= self.campaign_target
        )
        if reached or self.model.tick >= self.campaign_until:
            self.close_position()
            self.campaign_side = 0
            self.record_hunt(reached)
            return
        self.market(side, self.lots(self.config.clip_btc))

    def record_hunt(self, reached: bool) -> None:
        """Close the campaign's record: whether the price reached the cluster, the liquidations
        on the hunted side while it ran, and the whale's equity change (fees and any position it
        held before included), so a study can ask whether hunting pays."""
        hunt, self.hunt = self.hunt, None
        ex = self.exchange
        hunted = "long" if hunt["push_side"] == "sell" else "short"
        since = ex.liquidations[hunt.pop("liquidations_before") :]
        liquidated = liquidated_notional(ex, (e for e in since if e.side == hunted))
        hunt.update(
            end_tick=self.model.tick,
            reached=reached,
            end_mark_usdt=ex.instrument.price(ex.mark),
            liquidated_notional_usdt=ex.instrument.usdt(liquidated),
            equity_change_usdt=ex.instrument.usdt(
                ex.equity(self.account) - hunt.pop("equity_start_micro")
            ),
        )
        self.model.hunts.append(hunt)

    def drift(self) -> None:
        """Slow accumulation or distribution: a small clip, mean-reverting towards flat."""
        position = self.position
        limit = self.lots(self.config.clip_btc) * 20
        rng = self.model.rng
        if rng.random() < 0.5:
            return
        side = BUY if rng.random() < 0.5 - 0.4 * position / max(limit, 1) else SELL
        self.market(side, self.lots(self.config.clip_btc) // 2)
