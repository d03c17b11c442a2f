#!/usr/bin/env python3
"""Real phones against the registrar: sipsak and baresip register with
digest over IPv4, sipp registers over IPv6 on the veth; each binding shows
up in LMDB with the client's contact and source address.
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from sipreg_testlib import (Tap, TestNet, Dataplane, import_accounts, bindings_by_aor, sipp,  # noqa: E402
                            baresip_config, wait_for, on_cleanup, CLIENT_V4, CLIENT_V6, SERVER_V6)

# challenge = MD5: libre 1.1 (Debian 12's baresip 1.0) fails the whole
# challenge with ENOSYS when any WWW-Authenticate names SHA-256.
SIP_CONFIG = "[sip]\ndomains = sipreg.test, 198.18.0.1\nrealm = sipreg.test\nchallenge = MD5\n"
N_V6 = 20


def check_sipsak(net, dp, tap):
    aor = "sip:alice@198.18.0.1"
    r = net.in_client(["timeout", "10", "sipsak", "-U", "-C", "sip:alice@198.18.0.2:5070",
                       "-s", "sip:alice@198.18.0.1", "-a", "secret1", "-u", "alice", "-x", "600",
                       "-vv"], check=False, timeout=15)
    tap.check(r.returncode == 0 and "authorizing" in r.stdout,
              "sipsak: challenged with 401", r.stdout[-2000:])
    tap.check(r.returncode == 0 and "completed successful" in r.stdout,
              "sipsak: digest registration succeeds", r.stdout[-2000:])
    bs = wait_for(lambda: bindings_by_aor(dp).get(aor), timeout=2)
    b = bs[0] if bs else {}
    tap.check(bs and len(bs) == 1 and b["contact"] == "sip:alice@198.18.0.2:5070"
              and b["received"].startswith(CLIENT_V4 + ":") and 590 <= b["expires_in_s"] <= 600
              and b["user_agent"].startswith("sipsak"),
              "sipsak: binding in LMDB (contact, received address, expires 600, User-Agent)", bs)
    # Unregister with sipsak (-x 0).
    r = net.in_client(["timeout", "10", "sipsak", "-U", "-C", "sip:alice@198.18.0.2:5070",
                       "-s", "sip:alice@198.18.0.1", "-a", "secret1", "-u", "alice", "-x", "0"],
                      check=False, timeout=15)
    gone = wait_for(lambda: not bindings_by_aor(dp).get(aor), timeout=2)
    tap.check(r.returncode == 0 and gone, "sipsak -x 0 removes the binding", r.stdout[-1500:])


def check_baresip(net, dp, tap):
    aor = "sip:carol@198.18.0.1"
    cfg = baresip_config("<sip:carol@198.18.0.1;transport=udp>;auth_pass=secret3;regint=600",
                         "198.18.0.2:5080")
    log_path = os.path.join(cfg, "baresip.log")
    log = open(log_path, "w")
    # -s: SIP trace; -t 4: quit after 4 s (it unregisters on the way out).
    proc = subprocess.Popen(["ip", "netns", "exec", net.cli_ns, "timeout", "15", "baresip",
                             "-f", cfg, "-s", "-t", "4"],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    on_cleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait(5)))
    bs = wait_for(lambda: bindings_by_aor(dp).get(aor), timeout=3.5, step=0.05)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
    log.close()
    with open(log_path, errors="replace") as f:
        out = f.read()
    b = bs[0] if bs else {}
    tap.check(bs and len(bs) == 1 and b["contact"].startswith("sip:carol")
              and b["contact"].endswith("@198.18.0.2:5080") and b["received"] == "198.18.0.2:5080"
              and b["user_agent"].startswith("baresip"),
              "baresip: digest registration creates the binding", (bs, out[-1200:]))
    tap.check("200 OK" in out and "401 Unauthorized" in out,
              "baresip: 401 then 200 OK in its SIP trace", out[-1200:])
    gone = wait_for(lambda: not bindings_by_aor(dp).get(aor), timeout=2)
    tap.check(bs and gone, "baresip unregisters on exit: binding gone", "")


def check_ipv6(net, dp, tap):
    inf = os.path.join(dp.dir, "v6users.csv")
    with open(inf, "w") as f:
        f.write("SEQUENTIAL\n")
        for i in range(N_V6):
            f.write("v6u%02d;[authentication username=v6u%02d password=pw6%02d]\n" % (i, i, i))
    res = sipp(net, "register_load.xml", "[%s]:5060" % SERVER_V6, N_V6, rate=50, inf=inf,
               source=CLIENT_V6, port=5064, timeout=20,
               keys={"domain": "sipreg.test", "expires": 300})
    tap.check(res.rc == 0 and res.count("SuccessfulCall") == N_V6,
              "sipp over IPv6 ([2001:db8::2] -> [2001:db8::1]:5060): %d digest registrations get 200"
              % N_V6, res.detail())
    def wrong_v6_bindings():
        by = bindings_by_aor(dp)
        bad = []
        for i in range(N_V6):
            bs = by.get("sip:v6u%02d@sipreg.test" % i, [])
            if not (len(bs) == 1 and bs[0]["contact"] == "sip:v6u%02d@[%s]:5064" % (i, CLIENT_V6)
                    and bs[0]["received"] == "[%s]:5064" % CLIENT_V6):
                bad.append(bs)
        return bad
    # The checkpoint commits (with fsync) within a window or so; a loaded
    # machine may take longer than one window.
    bad = wait_for(lambda: not wrong_v6_bindings(), timeout=3) and [] or wrong_v6_bindings()
    tap.check(not bad, "IPv6 bindings in LMDB with [2001:db8::2]:5064 as contact and received",
              bad[:3])


def main():
    tap = Tap()
    net = TestNet("regcli")
    dp = Dataplane(net, extra_config=SIP_CONFIG)
    import_accounts(dp, [("alice", "secret1", "acme"), ("carol", "secret3", "acme")] +
                    [("v6u%02d" % i, "pw6%02d" % i, "v6") for i in range(N_V6)])
    try:
        dp.start()
    except RuntimeError as e:
        tap.check(False, "dataplane starts", e)
        return tap.finish()
    t0 = time.time()
    check_sipsak(net, dp, tap)
    check_baresip(net, dp, tap)
    check_ipv6(net, dp, tap)
    tap.check(dp.stop() == 0, "dataplane stops cleanly", dp.log())
    print("# took %.1fs" % (time.time() - t0))
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
