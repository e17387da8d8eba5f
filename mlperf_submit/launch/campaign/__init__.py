"""Campaigns: the N seeded runs of a submission, started under local / torchrun / mpirun / Slurm,
followed and recorded in ``campaign.json`` (the map is in ``mlperf_submit/launch/__init__.py``).
The campaign process never imports torch (``torchrun.py`` runs as a launcher process of its
own; the training processes import it)."""
