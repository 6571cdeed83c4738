"""`python -m bench`: every benchmark, one combined table (see bench/run.py)."""

from bench.run import main

main()
