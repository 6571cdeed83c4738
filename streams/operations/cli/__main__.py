"""`python -m streams.operations.cli`: the same as the `trendctl` script."""

from streams.operations.cli.app import main

main()
