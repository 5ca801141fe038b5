#!/usr/bin/env python3
"""Run the lab tests: every test_* function in tests/e2e/test_*.py, each
against real QEMU guests (tests/runner.py prints the lines and the closing
'N passed, N failed, N skipped'; exits 1 if any failed).

  run_all.py [SUBSTRING...]   run only tests whose name contains one of them
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import runner  # noqa: E402

if __name__ == "__main__":
    sys.exit(runner.run(HERE, sys.argv[1:]))
