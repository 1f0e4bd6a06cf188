import subprocess
import sys

from kinmatch.cli import build_parser, main


def test_help_lists_subcommands(capsys):
    parser = build_parser()
    help_text = parser.format_help()
    assert "commands" in help_text
    assert main([]) == 0


def test_module_entry_point_runs():
    result = subprocess.run([sys.executable, "-m", "kinmatch", "--help"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "usage: kinmatch" in result.stdout
