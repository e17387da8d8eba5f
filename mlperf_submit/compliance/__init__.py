"""Parse MLPerf logs and check them, files to org folders, with the official tools' verdicts.

Nothing here imports torch (scipy only when an RCP test runs) or writes to its input. The
official behaviour mirrored is described in docs/official-tools.md.

Logs and rules
    parser.py          MLLOG lines as the official parser accepts them (LogLine, BadLine)
    findings.py        the result types: Finding (one message), CheckResult (a log's verdict)
    rulefiles.py       the official YAML rule files: found, read, compiled once, scanned cheaply
    rule_run.py        one rule file running over the lines of a log (its state, its messages)
    rule_engine.py     RuleEngine: every rule file of a ruleset in one pass, offline or online
    scan.py            the offline hot loop (read + parse + rules inlined, same results)
    filecheck.py       one log file: verdict, findings and the run facts (check_file)
    hints.py           how to fix each kind of finding
Run sets, folders, scores
    meta.py            rulesets, allowed benchmarks, run counts; the newest-ruleset chooser
    targets.py         a benchmark's closed quality target, read from its rule file
    runset.py          one result dir (or loose logs): count, compliance, seeds, RCP, score
    seed_check.py      the official seed checker
    rcp.py             the RCP check, bit-identical to rcp_checker (scaling.json never written)
    scoring.py         time-to-train and the olympic score
    params.py          package_checker_params bypass files, with the official newline bug
    system_desc.py     system description JSONs, with system_desc_checker's verdict
    orgfolder.py       a whole org folder, with package_checker's verdict
Before and around a campaign (not official: never a verdict)
    rcp_outlook.py     what the RCP check will say about a batch size (record, band, nearest sizes)
    eval_schedule.py   the eval schedules and hyperparameter relations the rules text fixes
    projection.py      an incomplete run set projected: score interval, RCP outlook, runs needed
    preflight.py       will a closed configuration pass? (the judgement; the CLI is preflight/)
    rcp_build.py       RCP records in the official format from reference runs
    rcp_command.py     the `mlperf-submit rcp build|check` CLI
    advice.py          check's rule-text warnings and projections, beside the verdict
The official tools
    official.py        run them on temporary copies and read their verdicts
    official_compare.py  our verdicts and scores against theirs (check/verify --official)
The check command
    check_paths.py     classify a PATH, choose its ruleset, check it, the exit code (library)
    report_format.py   check's human and JSON output (docs/check-json.md)
    tail.py            the complete lines of a growing log (the one log tailer)
    follow.py          check --follow: findings printed as the lines of a live log land
    command.py         the `mlperf-submit check` CLI
"""
