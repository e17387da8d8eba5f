"""Processes, ranks, nodes, and the N seeded runs of a submission. All distributed code lives here.

    env.py          launcher variables (torchrun, Slurm, Open MPI, MPICH) -> DistEnv
    dist.py         init_distributed / rank / barrier / broadcast / max (gloo, nccl, mpi4py, Horovod)
    seeds.py        master seeds from OS entropy, per-rank seeds derived from them
    command.py      `mlperf-submit campaign` (CLI)
    runner.py       the campaign loop: seed, clear caches, launch, follow, classify, record
    commandline.py  argv of one run under local / torchrun / mpirun / srun
    torchrun.py     torchrun without its parser reading train's arguments
    slurm.py        run.sub, sbatch, following the job
    manifest.py     campaign.json (atomic, locked)
    cache.py        page-cache clearing that reports the truth
    logtail.py      following a growing MLPerf log; progress.py: the progress line

Importing this package imports nothing heavy; torch and mpi4py load only when a process group
is created.
"""
