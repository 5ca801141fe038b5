# SPDX-License-Identifier: MIT
"""The one test runner of the Python suites (tests/e2e, tests/fleet): every
test_* function of every test_*.py in a folder, one line per test (PASS,
FAIL, or SKIP with the reason) and a closing 'N passed, N failed, N
skipped' line. A test that needs a host feature this machine lacks raises
Skip. With RAMM_TEST_TALLY set, the counts are also appended to that file
(one "P F S" line), so that `make test` can close with the sum of every
suite's.
"""

import glob
import importlib.util
import inspect
import os
import sys
import time
import traceback


class Skip(Exception):
    """A host feature the test needs is missing; the message says which."""


def tally(passed, failed, skipped):
    """Add a run's counts to $RAMM_TEST_TALLY, which make test sums."""
    path = os.environ.get("RAMM_TEST_TALLY")
    if path:
        with open(path, "a") as f:
            f.write("%d %d %d\n" % (passed, failed, skipped))


def run(folder, wanted):
    """Run the tests in @folder whose 'module.function' name contains one
    of @wanted (all if empty). Returns the exit status: 1 if any failed or
    none passed, else 0."""
    sys.path.insert(0, folder)
    passed = failed = skipped = 0
    for path in sorted(glob.glob(os.path.join(folder, "test_*.py"))):
        name = os.path.basename(path)[:-3]
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        tests = [n for n, obj in vars(mod).items()
                 if n.startswith("test_") and inspect.isfunction(obj)
                 and obj.__module__ == mod.__name__]
        for fn_name in sorted(tests):
            full = "%s.%s" % (name, fn_name)
            if wanted and not any(w in full for w in wanted):
                continue
            start = time.monotonic()
            print("== %s" % full, flush=True)
            try:
                getattr(mod, fn_name)()
            except Skip as why:
                skipped += 1
                print("SKIP %s: %s" % (full, why), flush=True)
            except Exception:  # noqa: BLE001 - report every failure, go on
                failed += 1
                traceback.print_exc()
                print("FAIL %s (%.1fs)" % (full, time.monotonic() - start), flush=True)
            else:
                passed += 1
                print("PASS %s (%.1fs)" % (full, time.monotonic() - start), flush=True)
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    tally(passed, failed, skipped)
    return 1 if failed or not passed else 0
