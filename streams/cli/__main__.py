"""`python -m streams.cli`: the same as the `trendctl` script."""

from streams.cli.app import main

main()
