import sys

from bp_helper.commands.cli import main

sys.exit(main())
