"""The CLI, called in-process through ``main(argv)``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from eucaqa.cli import main


def test_index_prints_one_summary_line_and_rebuild_embeds_nothing(docs_copy, tmp_path, capsys):
    index_dir = tmp_path / "index"
    assert main(["index", "--documents", str(docs_copy), "--index", str(index_dir)]) == 0
    first = capsys.readouterr().out.strip().splitlines()
    assert len(first) == 1 and "2 documents" in first[0]
    assert main(["index", "--documents", str(docs_copy), "--index", str(index_dir)]) == 0
    assert "embedded 0," in capsys.readouterr().out


def test_index_of_a_missing_folder_is_one_line_and_exit_2(tmp_path, capsys):
    code = main(["index", "--documents", str(tmp_path / "missing"), "--index", str(tmp_path / "index")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err == [f"eucaqa: error: documents folder not found: {tmp_path / 'missing'}"]
    assert not (tmp_path / "index").exists()


def test_skipped_files_are_listed_and_exit_is_0(docs_copy, tmp_path, capsys):
    (docs_copy / "empty.md").write_bytes(b"")
    code = main(["index", "--documents", str(docs_copy), "--index", str(tmp_path / "index")])
    captured = capsys.readouterr()
    assert code == 0
    assert "skipped empty.md: empty file" in captured.err
    assert "skipped 1 files" in captured.out


@pytest.mark.parametrize("command", ["index", "ask", "serve", "eval"])
def test_every_command_has_help_with_an_example(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "example:" in capsys.readouterr().out


def test_python_m_eucaqa_runs():
    result = subprocess.run([sys.executable, "-m", "eucaqa", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "index" in result.stdout


def test_importing_eucaqa_loads_no_heavy_library():
    code = "import sys, eucaqa; print(json.dumps(sorted(m for m in ('torch','faiss','gradio','sentence_transformers') if m in sys.modules)))"
    result = subprocess.run([sys.executable, "-c", "import json; " + code], capture_output=True, text=True, timeout=60)
    assert json.loads(result.stdout) == []
