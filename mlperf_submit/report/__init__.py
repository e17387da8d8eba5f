"""Plots and a summary page for campaigns and submission org folders (`mlperf-submit report`).

Modules, in the order a report is made:
    collect.py         what a report shows, gathered from a campaign dir, org folder or result dir
    plots.py           a benchmark's two PNGs: convergence per seed, time to train per run
    projection_plot.py the projection replayed run by run (score interval, RCP outlook), its PNG
    page.py            index.md and index.html linking the plots
    command.py         the `mlperf-submit report` CLI
"""
