"""Where a sweep's runs execute: local processes by default, or Dask distributed (a running
scheduler, a ``LocalCluster``, or SLURM through ``dask-jobqueue``). Every choice is a
``concurrent.futures.Executor``; the results do not depend on it.

A SLURM cluster, worked example (one single-threaded worker per job, 20 jobs)::

    abm sweep configs/sweeps/leverage_caps.yaml --cluster slurm --workers 20 \\
        --slurm queue=compute --slurm account=myproject --slurm walltime=02:00:00 \\
        --slurm memory=4GB --slurm cores=1

Each ``--slurm key=value`` is a keyword of ``dask_jobqueue.SLURMCluster`` (``queue``,
``account``, ``walltime``, ``memory``, ``cores``, ``processes``, ``job_extra_directives``,
``local_directory``, ...; values parsed as YAML). The workers need this package installed
(``pip install 'abm[cluster]'``) and the sweep's store on a file system they share.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Executor
from contextlib import contextmanager

import yaml

from abm.experiments.sweep import local_executor

CLUSTERS = ("local", "slurm")


def slurm_options(pairs: list[str]) -> dict:
    """``--slurm key=value`` pairs as SLURMCluster keywords (values parsed as YAML).

    >>> slurm_options(["queue=compute", "cores=1", "memory=4GB"])
    {'queue': 'compute', 'cores': 1, 'memory': '4GB'}
    """
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--slurm {pair!r}: expected key=value, e.g. queue=compute")
        options[key] = yaml.safe_load(value)
    return options


def _dask(what: str):
    try:
        import dask.distributed as distributed
    except ImportError as err:
        raise ValueError(
            f"{what} needs Dask distributed, which is not installed: pip install 'abm[cluster]'"
        ) from err
    return distributed


@contextmanager
def sweep_executor(
    workers: int,
    scheduler: str | None = None,
    cluster: str | None = None,
    slurm: list[str] = (),
) -> Iterator[Executor]:
    """The executor a sweep runs on, closed after: ``scheduler`` (a Dask scheduler's address),
    ``cluster`` (``local``: a Dask LocalCluster of ``workers`` single-threaded processes;
    ``slurm``: ``workers`` SLURM jobs of ``dask_jobqueue.SLURMCluster(**slurm_options(slurm))``),
    or ``workers`` local processes. ValueError for a cluster kind not in :data:`CLUSTERS`."""
    if scheduler is None and cluster is None:
        executor = local_executor(workers)
        try:
            yield executor
        finally:
            executor.shutdown(wait=True, cancel_futures=True)
        return
    if cluster is not None and cluster not in CLUSTERS:
        raise ValueError(f"--cluster {cluster!r}: allowed: {', '.join(CLUSTERS)}")
    distributed = _dask("--scheduler" if scheduler else f"--cluster {cluster}")
    made = None
    if scheduler is not None:
        client = distributed.Client(scheduler)
    elif cluster == "local":
        made = distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = distributed.Client(made)
    else:
        from dask_jobqueue import SLURMCluster

        made = SLURMCluster(**slurm_options(list(slurm)))
        made.scale(jobs=workers)
        client = distributed.Client(made)
    try:
        yield client.get_executor(pure=False)
    finally:
        client.close()
        if made is not None:
            made.close()
