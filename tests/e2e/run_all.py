#!/usr/bin/env python3
"""Run the lab tests: every test_* function in tests/e2e/test_*.py, each
against real QEMU guests. Prints one line per test and a closing
'N passed, N failed, N skipped' line; exits 1 if any failed. A test that
needs a host feature this machine lacks raises common.Skip and prints
'SKIP <test>: <reason>'.

  run_all.py [SUBSTRING...]   run only tests whose name contains one of them
"""

import glob
import importlib.util
import inspect
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import Skip  # noqa: E402


def main(argv):
    wanted = argv[1:]
    passed = failed = skipped = 0
    for path in sorted(glob.glob(os.path.join(HERE, "test_*.py"))):
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
            start = time.time()
            print("== %s" % full, flush=True)
            try:
                getattr(mod, fn_name)()
            except Skip as e:
                skipped += 1
                print("SKIP %s: %s" % (full, e), flush=True)
            except Exception:  # noqa: BLE001 - report every failure, go on
                failed += 1
                traceback.print_exc()
                print("FAIL %s (%.1fs)" % (full, time.time() - start), flush=True)
            else:
                passed += 1
                print("PASS %s (%.1fs)" % (full, time.time() - start), flush=True)
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
