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


def test_missing_input_file_is_one_clear_line(tmp_path, capsys):
    code = main(["link", str(tmp_path / "nope.csv"), str(tmp_path / "nope2.csv"), "-o", str(tmp_path / "c.csv")])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err and "nope.csv" in err


def test_os_errors_become_messages(monkeypatch, capsys):
    import argparse

    def broken(args):
        raise IsADirectoryError(21, "Is a directory", "/tmp/somewhere")

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args",
                        lambda self, argv=None: argparse.Namespace(command="x", func=broken))
    assert main([]) == 2
    assert "/tmp/somewhere is a folder" in capsys.readouterr().err


def test_the_program_ends_with_its_code_after_exit_handlers_and_flushed_streams(tmp_path):
    # as the program (no argv), main() ends the process itself: with the command's code, the
    # exit handlers run and what was printed flushed, as a normal exit would
    marker = tmp_path / "exit_handler_ran"
    program = (f"import atexit, sys\n"
               f"atexit.register(lambda: open({str(marker)!r}, 'w').write('yes'))\n"
               f"sys.argv = ['kinmatch', 'link', {str(tmp_path / 'nope.csv')!r}, {str(tmp_path / 'no.csv')!r}, "
               f"'-o', {str(tmp_path / 'c.csv')!r}]\n"
               f"from kinmatch.cli import main\n"
               f"print('before', end='')\n"
               f"main()\n"
               f"print('after main')\n")
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert result.returncode == 2, result.stderr
    assert result.stdout == "before"
    assert "nope.csv" in result.stderr and "Traceback" not in result.stderr
    assert marker.read_text() == "yes"
    # called with arguments (tests, scripts), main() returns the code and the process goes on
    assert main(["link", str(tmp_path / "nope.csv"), str(tmp_path / "no.csv"), "-o", str(tmp_path / "c.csv")]) == 2
