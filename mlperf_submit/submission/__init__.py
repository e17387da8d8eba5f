"""From campaign directories to the official submission tree, and verifying any such tree.

Packaging (`mlperf-submit package`, `make submit`):
    tree.py            `package`: build <out>/<org>/ from campaigns (atomic; refusals before writes)
    plan.py            `make submit`'s plan: benchmark, round and run count for each
    campaign.py        a campaign directory as packaging and reports see it
    select.py          which runs go into a result dir (N consecutive runs around the median)
    runconfig.py       the configuration a campaign's runs used, rebuilt from its manifest
    implementation.py  benchmarks/<bm>/implementations/<impl>/: code, scripts, config
    readme.py          the implementation README (MLCommons reference template)
    detect.py          a system description detected from this machine
    names.py           org, system and implementation names that become folders and files
    atomic.py          trees and files that appear complete or not at all
    command_package.py the `mlperf-submit package` CLI
Verifying (`mlperf-submit verify`):
    verify.py          `verify`: package_checker's verdict, tree rules, summary, --official
    tree_rules.py      the tree checks no official tool makes with package_checker
    summary.py         summary.csv/json with result_summarizer's columns
    command_verify.py  the `mlperf-submit verify` CLI
"""
