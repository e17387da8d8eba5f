"""Processes, ranks and the N seeded runs of a submission, in two sub-packages:

``distributed/`` -- code that runs *inside* a training process (all distributed code lives here)
    env.py        launcher variables (torchrun, Slurm, Open MPI, MPICH) -> DistEnv
    dist.py       init_distributed / rank / barrier / broadcast / max (gloo, nccl, mpi4py, Horovod)
    parallel.py   DDP / FSDP2 wrapping, gradient-accumulation no-sync, sums over ranks
    seeding.py    master seeds from OS entropy, per-rank and per-stream seeds derived from them

``campaign/`` -- code that starts, follows and records training processes (no torch import)
    command.py       `mlperf-submit campaign` (CLI)
    runner.py        the campaign loop: seed, clear caches, launch, follow, classify, record
    commandline.py   argv of one run under local / torchrun / mpirun / srun
    torchrun.py      torchrun without its parser reading train's arguments
    slurm.py         run.sub, sbatch, following the job
    manifest.py      campaign.json (atomic, locked)
    cache.py         page-cache clearing that reports the truth
    logtail.py       following a growing MLPerf log (last eval, run_stop, seeds)
    progress_line.py the campaign's one-line progress display
    outlook.py       the live projection after each run / evaluation (printed, in campaign.json)

Importing either package imports nothing heavy; torch and mpi4py load only when a process
group is created.
"""
