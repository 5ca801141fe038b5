#!/usr/bin/env python3
"""Run the fleet tests: every test_* function in tests/fleet/test_*.py,
against rammd and a fleet of fake guests (no QEMU). tests/runner.py prints
one line per test and the closing 'N passed, N failed, N skipped'; exits 1
if any failed.

  run_tests.py [SUBSTRING...]   run only tests whose name contains one of them

RAMMD and RAMMCTL (environment) name the binaries under test; by default
build/rammd and build/rammctl of this repository.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree

import runner  # noqa: E402

if __name__ == "__main__":
    sys.exit(runner.run(HERE, sys.argv[1:]))
