"""The ``abm`` command: ``abm run``, ``abm flows``, ``abm figures``, ``abm validate``,
``abm sweep``, ``abm event``, ``abm dashboard``, ``abm configs``, ``abm config show``,
``abm demo`` and ``abm --version``.

A user's mistake (a bad config, an unusable output folder, a run folder that is not complete)
prints ``abm <command>: <message>`` on stderr and exits with status 2, without a traceback. A run
stopped by SIGINT or SIGTERM prints one line and exits with 130 or 143.

The package: :mod:`~abm.cli.entry` builds the parser and dispatches; :mod:`~abm.cli.errors`
reports a user's mistake for every command (``fail``); :mod:`~abm.cli.common` holds what several
commands share (the config argument, ``--set``, the graph flags). One module per command group:
:mod:`~abm.cli.run`, :mod:`~abm.cli.flows`, :mod:`~abm.cli.figures`, :mod:`~abm.cli.validate`,
:mod:`~abm.cli.configs` (``abm configs`` and ``abm config show``), :mod:`~abm.cli.sweep`,
:mod:`~abm.cli.event` and :mod:`~abm.cli.dashboard`. ``python -m abm.cli`` runs the command
(:mod:`~abm.cli.__main__`).
"""

from abm.cli.entry import main
from abm.cli.run import Progress

__all__ = ["Progress", "main"]
