"""Metrics over model outputs: plain numpy functions (inequality and concentration so far)."""

from abm.analysis.inequality import concentration, gini, hhi, top_share

__all__ = ["concentration", "gini", "hhi", "top_share"]
