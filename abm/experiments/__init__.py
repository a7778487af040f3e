"""Runs and their outputs: one folder per run (DESIGN section 9)."""

from abm.experiments.run import RunResult, execute, run_model, write_run

__all__ = ["RunResult", "execute", "run_model", "write_run"]
