import sys

try:
    from kinmatch.cli import main

    code = main()
except KeyboardInterrupt:  # Ctrl-C before a command ran (imports, arguments); a command's own is main's
    print("kinmatch: 已中断（Ctrl-C），未做任何改动。", file=sys.stderr)
    code = 130
sys.exit(code)
