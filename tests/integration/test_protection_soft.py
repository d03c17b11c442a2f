#!/usr/bin/env python3
"""Protection without XDP (issue 7, item 1): on a port the XDP prefilter
does not front (vfio-pci in production; net_af_packet here), the workers
apply the same blocklist, lockout and rate rules in software at the top of
their loop, from the same block list the mgmt commands edit.
"""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from sipreg_testlib import (Tap, TestNet, Dataplane, import_accounts, sipp, run,  # noqa: E402
                            on_cleanup, wait_for, mgmt)

REALM = "sipreg.test"

SEND = r"""
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((%r, 0))
for i in range(%d):
    s.sendto(b"OPTIONS sip:sipreg.test SIP/2.0\r\nVia: SIP/2.0/UDP 198.18.0.9;branch=z9hG4bK%%d\r\n"
             b"From: <sip:a@b>;tag=1\r\nTo: <sip:sipreg.test>\r\nCall-ID: c%%d\r\nCSeq: 1 OPTIONS\r\n"
             b"Content-Length: 0\r\n\r\n" %% (i, i), ("198.18.0.1", 5060))
"""



def main():
    tap = Tap()
    net = TestNet("soft")
    work = tempfile.mkdtemp(prefix="sipreg-soft-")
    on_cleanup(lambda: run(["rm", "-rf", work], check=False))
    dp = Dataplane(net, extra_config="[sip]\ndomains = %s, 198.18.0.1\nrealm = %s\n"
                   "[rate]\nper_ip_pps = 50\nper_ip_burst = 100\n"
                   "[lockout]\nfailures = 5\nwindow_s = 60\nduration_s = 600\n" % (REALM, REALM))
    with open(dp.config_path) as f:
        text = f.read()
    with open(dp.config_path, "w") as f:
        f.write(text.replace("port = net_af_xdp0,iface=", "port = net_af_packet0,iface="))
    import_accounts(dp, [("bob", "secret-b")])
    dp.start()
    tap.check(mgmt(dp, {"cmd": "blocks"}).get("xdp") is False, "the port has no XDP prefilter")

    def counter(name):
        return dp.stats()["counters"][name][0]

    # A blocked CIDR: every datagram from it dropped by the worker.
    tap.check(mgmt(dp, {"cmd": "block", "cidr": "198.18.1.0/24"})["ok"], "block a subnet")
    net.client_python(SEND % ("198.18.1.9", 40))
    tap.check(wait_for(lambda: counter("drop_blocked_sw") == 40),
              "datagrams from the blocked subnet are dropped in software", counter("drop_blocked_sw"))
    tap.check(counter("rx_options") == 0, "none of them reached the registrar")

    # Rate: 300 at once from one source, burst 100 at 50/s.
    net.client_python(SEND % ("198.18.0.7", 300))
    wait_for(lambda: counter("drop_rate_ip_sw") + counter("rx_options") >= 300)
    dropped, passed = counter("drop_rate_ip_sw"), counter("rx_options")
    tap.check(100 <= passed <= 130 and dropped == 300 - passed,
              "a source over [rate] per_ip_pps is cut to its burst (%d passed, %d dropped)" % (passed, dropped))

    # An allowlisted source is never rate limited.
    mgmt(dp, {"cmd": "allow", "cidr": "198.18.0.8"})
    before = counter("rx_options")
    net.client_python(SEND % ("198.18.0.8", 300))
    tap.check(wait_for(lambda: counter("rx_options") - before == 300),
              "an allowlisted source is not rate limited", counter("rx_options") - before)

    # Lockout: five wrong passwords, then even the right one is dropped.
    inf = os.path.join(work, "wrong.csv")
    with open(inf, "w") as f:
        f.write("SEQUENTIAL\n" + "".join("bob;[authentication username=bob password=wrong%d]\n" % i
                                         for i in range(5)))
    sipp(net, "register_load.xml", "198.18.0.1:5060", 5, rate=20, inf=inf, source="198.18.0.4",
         keys={"domain": REALM, "expires": 600}, timeout=10)
    tap.check(counter("lockouts") == 1 and "198.18.0.4" in str(mgmt(dp, {"cmd": "blocks"})),
              "five wrong passwords lock the source out", mgmt(dp, {"cmd": "blocks"}))
    before = counter("drop_blocked_sw")
    net.client_python(SEND % ("198.18.0.4", 10))
    tap.check(wait_for(lambda: counter("drop_blocked_sw") - before == 10),
              "the locked-out source is dropped at the top of the worker loop")
    tap.check(mgmt(dp, {"cmd": "unblock", "cidr": "198.18.0.4"})["ok"], "unblock the source")
    ok = os.path.join(work, "right.csv")
    with open(ok, "w") as f:
        f.write("SEQUENTIAL\nbob;[authentication username=bob password=secret-b]\n")
    r = sipp(net, "register_load.xml", "198.18.0.1:5060", 1, rate=10, inf=ok, source="198.18.0.4",
             keys={"domain": REALM, "expires": 600}, timeout=15)
    tap.check(r.count("SuccessfulCall") == 1, "after unblock it registers", r.detail())
    tap.check(dp.stop() == 0, "dataplane stops cleanly", dp.log())
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
