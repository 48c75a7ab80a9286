"""Allow ``python -m kindling``."""

from kindling.cli.main import main

main()
