#!/usr/bin/env python3
"""count-results.py TESTLOG.json... — counts passed and failed tests over
meson test logs, one test case per TAP line where the test speaks TAP
(cmocka with CMOCKA_MESSAGE_OUTPUT=TAP, our Python integration tests) and
one per test program otherwise. A skipped TAP case counts as failed: a test
that cannot run is a failure here, not a skip. A program whose result is
not OK adds one failure even if all its TAP lines passed (a crash after
the last check). Prints "passed failed" and the names of failures to
stderr."""
import json
import re
import sys

TAP_LINE = re.compile(r"^(not ok|ok)\b(.*)$")


def count(path):
    passed = failed = 0
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            t = json.loads(line)
            p = fl = 0
            for out_line in (t.get("stdout") or "").splitlines():
                m = TAP_LINE.match(out_line.strip())
                if not m:
                    continue
                skipped = re.search(r"#\s*(skip|todo)", m.group(2), re.I)
                if m.group(1) == "ok" and not skipped:
                    p += 1
                else:
                    fl += 1
                    print("FAILED: %s: %s" % (t["name"], out_line.strip()), file=sys.stderr)
            if p + fl == 0:
                if t["result"] == "OK":
                    p = 1
                else:
                    fl = 1
                    print("FAILED: %s (%s)" % (t["name"], t["result"]), file=sys.stderr)
            elif t["result"] != "OK" and fl == 0:
                fl = 1
                print("FAILED: %s (%s after its checks)" % (t["name"], t["result"]), file=sys.stderr)
            passed += p
            failed += fl
    return passed, failed


if __name__ == "__main__":
    total_p = total_f = 0
    for path in sys.argv[1:]:
        p, f = count(path)
        total_p += p
        total_f += f
    print(total_p, total_f)
