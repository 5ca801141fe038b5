#!/usr/bin/env python3
"""The docs keep up with the code. Run from `make unit`.

- Every key of broker/daemon/config.c's tables (config_rammd_keys, config_guest_keys)
  is documented in place in config/rammd.conf (a `key = value` line, possibly
  commented out, under a comment, in the right section; an active line shows
  the default of config_defaults()) and has an entry in docs/man/rammd.conf.5
  in the right section, stating that default and, for numbers, the exact
  range of the table.
- Every command of broker/cli/rammctl.c's table and every long option of rammctl
  and rammd is in their man pages; rammctl's are in the bash completion.
- The man pages render without a groff or man warning.
"""
import ast
import glob
import operator
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
errors = []


def read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def fail(msg):
    errors.append(msg)


# ---- numbers in the key tables -------------------------------------------

def c_defines():
    """NAME -> value text of simple object-like #defines in the headers."""
    defs = {}
    for path in glob.glob(os.path.join(ROOT, "include", "ramm", "*.h")) + \
            glob.glob(os.path.join(ROOT, "broker", "*.h")):
        with open(path, encoding="utf-8") as f:
            for m in re.finditer(r"^#define\s+([A-Z_][A-Z0-9_]*)\s+([^\n/]+)",
                                 f.read(), re.M):
                defs[m.group(1)] = m.group(2).strip()
    return defs


DEFINES = c_defines()
OPS = {ast.LShift: operator.lshift, ast.Mult: operator.mul,
       ast.Add: operator.add, ast.Sub: operator.sub}


def c_number(expr):
    """Evaluate a constant C expression of the tables, or None."""
    for _ in range(8):  # macros expand to macros
        expr = re.sub(r"\b[A-Z_][A-Z0-9_]*\b",
                      lambda m: "(%s)" % DEFINES.get(m.group(0), m.group(0)), expr)
    expr = re.sub(r"\b(\d+)(?:[uU][lL]{0,2}|[lL]{1,2}[uU]?)\b", r"\1", expr.strip())
    if re.search(r"[A-Za-z_]", expr):
        return None

    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in OPS:
            return OPS[type(node.op)](ev(node.left), ev(node.right))
        raise ValueError(expr)
    try:
        return ev(ast.parse(expr, mode="eval"))
    except (ValueError, SyntaxError):
        return None


def config_table(src, table):
    """[(key, kind, lo, hi)] of one `static const struct config_key` table."""
    m = re.search(r"\b%s\s*\[\]\s*=\s*\{(.*?)\n\};" % table, src, re.S)
    if not m:
        fail("broker/daemon/config.c: table %s not found" % table)
        return []
    keys = []
    for line in m.group(1).splitlines():
        line = line.strip()
        if not line or line.startswith(("/*", "*", "//")):
            continue
        # MACRO(name, KIND, lo, hi)  or  { "name", KIND, offsetof(...), lo, hi }
        mm = re.match(r"[A-Z]\w*\(\s*(\w+)\s*,\s*(\w+)\s*,(.*)\)\s*,?$", line) or \
            re.match(r'\{\s*"(\w+)"\s*,\s*(\w+)\s*,\s*offsetof\([^)]*\)\s*,(.*)\}\s*,?$', line)
        if not mm:
            fail("broker/daemon/config.c: %s: cannot read entry: %s" % (table, line))
            continue
        bounds = [b.strip() for b in mm.group(3).split(",")]
        lo = c_number(bounds[0]) if len(bounds) == 2 else None
        hi = c_number(bounds[1]) if len(bounds) == 2 else None
        keys.append((mm.group(1), mm.group(2), lo, hi))
    if not keys:
        fail("broker/daemon/config.c: %s has no keys I can read" % table)
    return keys


# ---- man pages -------------------------------------------------------------

def roff_plain(text):
    text = re.sub(r"\\f[BIRP]|\\f\(..|\\&|\\\|", "", text)
    return text.replace("\\-", "-").replace('"', "")


def roff_line(line):
    """A body line as text: .B x -> x, .BR a b -> ab (alternating fonts)."""
    m = re.match(r"\.([BI]|[BIR]{2})\s+(.*)$", line)
    if not m:
        return line
    args = re.findall(r'"([^"]*)"|(\S+)', m.group(2))
    args = [a or b for a, b in args]
    return (" " if len(m.group(1)) == 1 else "").join(args)


def man_sections(text):
    """{'.SH title': [lines]}"""
    sections, cur = {}, None
    for line in text.splitlines():
        if line.startswith(".SH"):
            cur = line[3:].strip().strip('"')
            sections[cur] = []
        elif cur is not None:
            sections[cur].append(line)
    return sections


def man_entries(lines):
    """{tag's first word: body text} for each .TP entry of a section."""
    entries, i = {}, 0
    while i < len(lines):
        if lines[i].startswith(".TP") and i + 1 < len(lines):
            tag = roff_plain(re.sub(r"^\.[BIR]{1,2}\s+", "", lines[i + 1])).split()
            body = []
            j = i + 2
            while j < len(lines) and not lines[j].startswith((".TP", ".SS", ".SH")):
                body.append(roff_line(lines[j]))
                j += 1
            if tag:
                entries[tag[0].rstrip(",")] = roff_plain(" ".join(body))
            i = j
        else:
            i += 1
    return entries


def section_named(sections, needle, page):
    for title, lines in sections.items():
        if needle in title:
            return lines
    fail("%s: no .SH section with %r" % (page, needle))
    return []


def config_defaults(src):
    """{field: default text} from config_defaults(); fields it leaves
    alone are 0 or empty (memset)."""
    m = re.search(r"\nvoid config_defaults\([^)]*\)\n\{(.*?)\n\}", src, re.S)
    if not m:
        fail("broker/daemon/config.c: config_defaults() not found")
        return {}
    out = {}
    for field, expr in re.findall(r"cfg->(\w+)\s*=\s*([^;]+);", m.group(1)):
        if expr.strip() == "CONFIG_SUPPLY_AUTO":
            out[field] = "auto"
        else:
            n = c_number(expr)
            if n is None:
                fail("broker/daemon/config.c: cannot read the default of %s: %s" % (field, expr))
            else:
                out[field] = str(n)
    for field, value in re.findall(r'snprintf\(cfg->(\w+),[^;]*?"%s",\s*"([^"]*)"\)', m.group(1)):
        out[field] = value
    return out


def default_of(defaults, key, kind):
    if key in defaults:
        return defaults[key]
    return "" if kind in ("KIND_SOCKET", "KIND_STRING", "KIND_LISTEN") else "0"


def check_conf_keys(rammd_keys, guest_keys, defaults):
    page = "docs/man/rammd.conf.5"
    sections = man_sections(read(page))
    for needle, keys in (("[rammd]", rammd_keys), ("[guest", guest_keys)):
        entries = man_entries(section_named(sections, needle, page))
        for key, kind, lo, hi in keys:
            body = entries.get(key)
            if body is None:
                fail("%s: key %s has no .TP entry in the %s section" % (page, key, needle))
                continue
            want = default_of(defaults if needle == "[rammd]" else {}, key, kind)
            shown = re.search(r"\bDefault:\s*(\S+?)[.,;]?(?:\s|$)", body)
            if not shown:
                fail("%s: key %s: no 'Default: VALUE.'" % (page, key))
            elif shown.group(1) != want and not (want == "" and shown.group(1) in ("empty", "none")):
                fail("%s: key %s: Default: %s, but config_defaults() has %r"
                     % (page, key, shown.group(1), want))
            numeric = re.match(r"KIND_(U\d+|S\d+|INT|SUPPLY)$", kind)
            if numeric and lo is not None and hi is not None:
                if "%d..%d" % (lo, hi) not in body:
                    fail("%s: key %s: range %d..%d (from config.c) not stated"
                         % (page, key, lo, hi))
            elif kind == "KIND_STRING" and hi is not None:
                if not re.search(r"(?i)\bat most %d\b" % hi, body):
                    fail("%s: key %s: 'at most %d' (from config.c) not stated" % (page, key, hi))
            elif not re.search(r"(?i)\brange\b|\bpath\b|\bat most\b|\bloopback\b", body):
                # paths and addresses: their limits in words
                fail("%s: key %s: no range or limit stated" % (page, key))

    conf = read("config/rammd.conf").splitlines()
    guest_start = next((i for i, l in enumerate(conf)
                        if re.match(r"#?\s*\[guest\b", l)), len(conf))
    for keys, lo_line, hi_line, where in ((rammd_keys, 0, guest_start, "[rammd]"),
                                          (guest_keys, guest_start, len(conf), "[guest NAME]")):
        for key, *_ in keys:
            lines = [i for i in range(lo_line, hi_line)
                     if re.match(r"#?\s*%s\s*=" % re.escape(key), conf[i])]
            if not lines:
                fail("config/rammd.conf: key %s missing from its %s part" % (key, where))
                continue
            if len(lines) > 1:
                fail("config/rammd.conf: key %s appears %d times in its %s part"
                     % (key, len(lines), where))
            at = lines[0]
            # An active line shows the default (commented-out ones are examples).
            if where == "[rammd]" and not conf[at].lstrip().startswith("#"):
                value = conf[at].split("=", 1)[1].strip()
                want = default_of(defaults, key, "")
                if value != want:
                    fail("config/rammd.conf: %s = %s, but config_defaults() has %r"
                         % (key, value, want))
            # A comment above it, in the same paragraph, that is not itself a key.
            i, documented = at - 1, False
            while i >= 0 and conf[i].strip():
                if conf[i].startswith("#") and not re.match(r"#\s*\w+\s*=", conf[i]):
                    documented = True
                    break
                i -= 1
            if not documented:
                fail("config/rammd.conf: key %s has no comment above it" % key)


def long_options(src, path):
    m = re.search(r"struct option opts\[\]\s*=\s*\{(.*?)\};", src, re.S)
    if not m:
        fail("%s: no getopt_long option table" % path)
        return []
    return re.findall(r'\{\s*"([\w-]+)"\s*,', m.group(1))


def check_rammctl_and_options():
    ctl_src = read("broker/cli/rammctl.c")
    m = re.search(r"rammctl_cmds\[\]\s*=\s*\{(.*?)\n\};", ctl_src, re.S)
    cmds = re.findall(r'\{\s*"([\w-]+)"\s*,', m.group(1)) if m else []
    if not cmds:
        fail("broker/cli/rammctl.c: no commands found in rammctl_cmds")
    page = read("docs/man/rammctl.8")
    entries = man_entries(section_named(man_sections(page), "COMMANDS", "docs/man/rammctl.8"))
    comp = read("config/rammctl.bash-completion")
    cm = re.search(r"local commands='([^']*)'", comp)
    comp_cmds = cm.group(1).split() if cm else []
    om = re.search(r"local options='([^']*)'", comp)
    comp_opts = om.group(1).split() if om else []
    for c in cmds:
        if c not in entries:
            fail("docs/man/rammctl.8: command %s has no .TP entry under COMMANDS" % c)
        if c not in comp_cmds:
            fail("config/rammctl.bash-completion: command %s not completed" % c)
    for opt in long_options(ctl_src, "broker/cli/rammctl.c"):
        if "\\-\\-" + opt.replace("-", "\\-") not in page:
            fail("docs/man/rammctl.8: option --%s not documented" % opt)
        if "--" + opt not in comp_opts:
            fail("config/rammctl.bash-completion: option --%s not completed" % opt)
    d_page = read("docs/man/rammd.8")
    for opt in long_options(read("broker/daemon/rammd.c"), "broker/daemon/rammd.c"):
        if "\\-\\-" + opt.replace("-", "\\-") not in d_page:
            fail("docs/man/rammd.8: option --%s not documented" % opt)
    return cmds


def check_render():
    pages = sorted(glob.glob(os.path.join(ROOT, "docs", "man", "*.[0-9]")))
    if len(pages) < 3:
        fail("docs/man: expected rammd.8, rammctl.8 and rammd.conf.5")
    if not shutil.which("groff"):
        fail("groff not installed (make deps installs groff-base)")
        return
    for p in pages:
        r = subprocess.run(["groff", "-man", "-ww", "-z", p], capture_output=True, text=True)
        if r.returncode or r.stderr.strip():
            fail("groff -man -ww %s: %s" % (os.path.basename(p), r.stderr.strip()))
        if shutil.which("man"):
            r = subprocess.run(["man", "--warnings", "-l", p], capture_output=True,
                               text=True, env=dict(os.environ, MANWIDTH="80", MAN_KEEP_FORMATTING=""))
            if r.returncode or r.stderr.strip():
                fail("man --warnings -l %s: %s" % (os.path.basename(p), r.stderr.strip()))


def main():
    src = read("broker/daemon/config.c")
    rammd_keys = config_table(src, "config_rammd_keys")
    guest_keys = config_table(src, "config_guest_keys")
    check_conf_keys(rammd_keys, guest_keys, config_defaults(src))
    cmds = check_rammctl_and_options()
    check_render()
    for e in errors:
        print("check_docs: FAIL: " + e)
    if errors:
        return 1
    print("check_docs: %d [rammd] and %d [guest] keys in config/rammd.conf and rammd.conf(5); "
          "%d rammctl commands in rammctl(8) and the completion; man pages render clean"
          % (len(rammd_keys), len(guest_keys), len(cmds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
