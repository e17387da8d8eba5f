"""Plots and a summary page for campaigns and submission org folders (`mlperf-submit report`).

Modules, in the order a report is made:
    collect.py         what a report shows, gathered from a campaign dir, org folder or result dir
    plots.py           a benchmark's two PNGs: convergence per seed, time to train per run
    page.py            index.md and index.html linking the plots
    command.py         the `mlperf-submit report` CLI
"""
