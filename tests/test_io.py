"""core.io: the one atomic writer refuses targets that are not regular files, and commands check
their --out before any work."""

from __future__ import annotations

import os
import stat

import pytest

from core import cli
from core.errors import OutputError
from core.io import atomic_write, check_target


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_a_fifo_or_a_symlink_to_one_is_refused_and_stays_a_fifo(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    link = tmp_path / "link.csv"
    link.symlink_to(fifo)
    for target, said in ((fifo, "is a named pipe (FIFO), not a regular file"),
                         (link, "is a named pipe (FIFO) (a symlink to it), not a regular file")):
        with pytest.raises(OutputError) as err:
            atomic_write(target, b"data")
        assert str(err.value).startswith(f"{target}: {said}")
        with pytest.raises(OutputError, match="refusing to replace it"):
            check_target(target)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and link.is_symlink()
    assert _leftovers(tmp_path) == []


def test_a_folder_is_refused_with_its_files_kept(tmp_path):
    folder = tmp_path / "out.csv"
    folder.mkdir()
    (folder / "keep.txt").write_text("kept")
    with pytest.raises(OutputError, match=r"out\.csv: is a folder, not a regular file"):
        atomic_write(folder, "x")
    assert (folder / "keep.txt").read_text() == "kept"
    assert _leftovers(tmp_path) == []


def test_a_character_device_is_never_replaced(tmp_path):
    device = tmp_path / "null"
    try:
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # the same device as /dev/null
    except (PermissionError, OSError) as exc:
        pytest.skip(f"cannot make a device node here ({exc})")
    with pytest.raises(OutputError, match="is a character device, not a regular file"):
        atomic_write(device, b"x" * 4096)
    assert stat.S_ISCHR(os.stat(device).st_mode)


def test_a_symlink_to_a_regular_file_and_a_new_file_are_written(tmp_path):
    real = tmp_path / "real.csv"
    real.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    assert check_target(link) == link
    atomic_write(link, "new")
    assert link.read_text() == "new"
    assert atomic_write(tmp_path / "sub" / "fresh.csv", "a").read_text() == "a"


def test_a_parent_that_is_a_file_is_named(tmp_path):
    (tmp_path / "file").write_text("keep")
    with pytest.raises(OutputError, match=r"file/out\.csv: cannot write it: .*file is not a folder"):
        check_target(tmp_path / "file" / "out.csv")
    assert (tmp_path / "file").read_text() == "keep"


@pytest.mark.parametrize("command", ["encode", "features", "evaluate", "train"])
def test_commands_refuse_a_special_out_before_any_work(command, tmp_path, capsys, monkeypatch):
    fifo = tmp_path / "out.csv"
    os.mkfifo(fifo)
    import core.corpus

    def no_work(*args, **kwargs):
        raise AssertionError("the corpus was loaded before --out was checked")

    import core.cli.encode
    import core.cli.features

    for module in (core.corpus, core.cli.encode, core.cli.features):
        monkeypatch.setattr(module, "load_sources", no_work)
    argv = {"encode": ["encode", "checkpoints/basic.pt", "demo", "--out", str(fifo)],
            "features": ["features", "demo", "--out", str(fifo)],
            "evaluate": ["evaluate", "--data", "demo", "--out", str(fifo)],
            "train": ["train", "--model", "basic", "--data", "demo", "--out", str(fifo)]}[command]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {fifo}: is a named pipe (FIFO), not a regular file")
    assert "Traceback" not in err
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_evaluate_checks_its_markdown_beside_the_table_first(tmp_path, capsys, monkeypatch):
    (tmp_path / "results.md").mkdir()
    import core.corpus

    monkeypatch.setattr(core.corpus, "load_sources", lambda *a, **k: pytest.fail("ran before checking --out"))
    assert cli.main(["evaluate", "--data", "demo", "--out", str(tmp_path / "results.csv"), "--no-beta-sweep"]) == 2
    assert f"{tmp_path / 'results.md'}: is a folder, not a regular file" in capsys.readouterr().err
    assert not (tmp_path / "results.csv").exists()
