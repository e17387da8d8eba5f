"""Names of tree folders: what repo_checker and package_checker would trip over is refused."""

import pytest

from mlperf_submit.errors import UsageError
from mlperf_submit.submission.names import check_name, name_problem, suggest_name


@pytest.mark.parametrize(
    "good", ["MyOrg", "dgx_h100_n1", "HPE-Cray-XD670_n8_25.09", "a", "1xBM.GPU"]
)
def test_valid_names_pass(good):
    assert check_name("system", good) == good
    assert name_problem(good) is None


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ("a/b", "path separator"),
        ("a\\b", "path separator"),
        (".hidden", "starts with '.'"),
        ("my system", "whitespace"),
        ("tab\there", "whitespace"),
        ("", "empty"),
        ("x" * 200, "longer than"),
        ("ünïcode", "characters other than"),
        ("-dash", "must start"),
        (42, "must be a string"),
    ],
)
def test_invalid_names_are_refused_with_the_reason_and_a_fix(bad, why):
    with pytest.raises(UsageError) as err:
        check_name("system", bad)
    msg = str(err.value)
    assert why in msg
    assert "for example" in msg
    assert name_problem(suggest_name(bad)) is None


def test_suggestion_keeps_the_readable_part():
    assert suggest_name("My System 8x/H100") == "My_System_8x_H100"
