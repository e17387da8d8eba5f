"""`mlperf-submit verify` on published org folders gives package_checker's verdicts.

Including the published folders the official tool rejects (corpus README): v3.1
Intel-HabanaLabs (no seed lines: the seed checker applies to 3.1.0 closed), v4.0 GigaComputing
(status "available": the 4.1 status list applied to 4.0.0; dlrm logs without seeds) and v4.0
smc-dc-power (status "cloud"). The official verdicts are computed here, on copies.
"""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from mlperf_submit.cli import main
from mlperf_submit.compliance import official

FOLDERS = [
    ("v3.1/closed/Intel-HabanaLabs", "3.1.0", "seed checker requires a `seed` line"),
    ("v4.0/closed/GigaComputing", "4.0.0", "applies the 4.1 status list"),
    ("v4.0/closed/smc-dc-power", "4.0.0", "applies the 4.1 status list"),
    ("v4.1/closed/Krai", "4.1.0", None),
]


@pytest.fixture(scope="module")
def official_verdicts(corpus_dir):
    # Two at a time: the machine has two cores and each tool is one process.
    with ThreadPoolExecutor(2) as pool:
        futures = {rel: pool.submit(official.package_checker, str(corpus_dir / rel), rs)
                   for rel, rs, _ in FOLDERS}  # fmt: skip
        return {rel: f.result() for rel, f in futures.items()}


@pytest.mark.official
@pytest.mark.parametrize(("rel", "ruleset", "behaviour"), FOLDERS)
def test_verify_gives_the_official_verdict(rel, ruleset, behaviour, corpus_dir, official_verdicts,
                                           capsys):  # fmt: skip
    theirs = official_verdicts[rel]
    assert not theirs.crashed, theirs.message
    rc = main(["verify", str(corpus_dir / rel), "--ruleset", ruleset, "--no-code", "--no-summary",
               "--json"])  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    ours = report["package_checker_equivalent"]["passed"]
    assert ours == theirs.passed
    assert rc == (0 if theirs.passed else 1)
    if behaviour:
        text = json.dumps(report)
        assert behaviour in text and "official behaviour" in text


def test_results_only_folder_fails_the_code_policy_without_no_code(corpus_dir, capsys):
    rc = main(["verify", str(corpus_dir / "v4.1/closed/Krai"), "--ruleset", "4.1.0",
               "--no-summary"])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 1
    assert "package_checker checks (ours, same verdict): PASS" in out
    assert "no code in" in out and "VERIFY FAILED" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/nonexistent/org"], "no such directory"),
        (["{corpus}/v4.1/closed/Krai/results"], "not an org folder"),
        (["{corpus}/v4.1/closed/Krai", "--ruleset", "7.7.7"], "unknown ruleset"),
    ],
)
def test_verify_bad_input_exit_2(args, message, corpus_dir, capsys):
    args = [a.replace("{corpus}", str(corpus_dir)) for a in args]
    assert main(["verify", *args, "--no-summary"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
