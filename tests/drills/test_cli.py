"""Bad input to ``mlops-guard drill``: exit 2, one line, before any work starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_guard.cli import main


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["drill", "no-such-fault"], "unknown drill scenario 'no-such-fault'"),
        (["drill", "all", "no-such-fault"], "unknown drill scenario 'no-such-fault'"),
        (["drill", "clean", "--runs", "0"], "--runs"),
        (["drill", "clean", "--runs", "three"], "--runs"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main([*argv, "--workdir", str(tmp_path / "w")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert needle in err[0]
    assert not (tmp_path / "w").exists()


def test_unwritable_markdown_path(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    code = main(
        ["drill", "clean", "--markdown", str(blocker / "card.md"), "--workdir", str(tmp_path / "w")]
    )
    assert code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "--markdown" in line
    assert "a-file" in line
    assert not (tmp_path / "w").exists()


def test_plot_without_matplotlib_names_the_extra(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "matplotlib" else real(name, *a),
    )
    code = main(
        ["drill", "clean", "--plot", str(tmp_path / "t.png"), "--workdir", str(tmp_path / "w")]
    )
    assert code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "mlops-guard[plot]" in line


def test_a_used_workdir_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "x").write_text("")
    assert main(["drill", "clean", "--workdir", str(tmp_path / "w")]) == 2
    assert "not an empty directory" in capsys.readouterr().err
