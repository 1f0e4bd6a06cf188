import sys

from kinmatch.cli import main

sys.exit(main())
