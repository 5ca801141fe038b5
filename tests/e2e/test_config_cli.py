"""rammd refuses a bad configuration: --check-config and a real start both
name the file, the line and the key, exit 1, and leave nothing running."""

import os
import subprocess
import tempfile

from common import BUILD, check

RAMMD = os.path.join(BUILD, "rammd")

BAD = [
    ("[rammd]\ntick_ms = 5\n", ":2: key 'tick_ms'"),
    ("[rammd]\nno_such_key = 1\n", ":2: key 'no_such_key'"),
    ("[rammd]\nmetrics_listen = 0.0.0.0:9464\n", ":2: key 'metrics_listen'"),
    ("[guest a]\nqmp = /q\n", ":1: key 'agent'"),
    ("[guest a]\nqmp = /q\nagent = /a\nfloor_mib = 9\ncap_mib = 8\n", ":1: key 'floor_mib'"),
    ("[rammd]\nstate_file = relative/path\n", ":2: key 'state_file'"),
]


def test_config_errors_name_file_line_key():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "bad.conf")
        for text, want in BAD:
            with open(path, "w") as f:
                f.write(text)
            for argv in ([RAMMD, "--check-config", path], [RAMMD, "-c", path]):
                r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, timeout=10)
                check(r.returncode == 1, "%r on %r: exit %d" % (argv[1], text, r.returncode))
                check(path + want in r.stdout,
                      "%r on %r said %r, want %r" % (argv[1], text, r.stdout, path + want))
        with open(path, "w") as f:
            f.write("[rammd]\ntick_ms = 500\n")
        r = subprocess.run([RAMMD, "--check-config", path], stdout=subprocess.PIPE, text=True)
        check(r.returncode == 0 and "ok" in r.stdout, "a good file was refused: %r" % r.stdout)
