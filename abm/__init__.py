"""abm: an agent-based model of a leveraged Bitcoin perpetual-futures market."""

from abm.compiled import variant

variant()
