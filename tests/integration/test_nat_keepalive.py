#!/usr/bin/env python3
"""NAT keepalives (DESIGN.md "SIP behaviour") with a real phone behind a
real NAT: baresip listens on 10.77.0.2 in the client namespace and nftables
masquerades it to 198.18.0.2, so its binding is a NAT binding. The owning
worker sends it OPTIONS every nat_keepalive_s; baresip answers through the
NAT. `sipregctl policy set nat_keepalive_s=0` stops them on the running
dataplane. Once baresip is killed (no unregister), nat_keepalive_misses
unanswered OPTIONS remove the binding, with an `unreachable` event in
history.
"""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from sipreg_testlib import (Tap, TestNet, Dataplane, Control, import_accounts, baresip_config,  # noqa: E402
                            bindings_by_aor, wait_for, on_cleanup, run, CLIENT_V4)

INTERVAL_S = 2
MISSES = 2
SIP_CONFIG = ("[sip]\ndomains = sipreg.test, 198.18.0.1\nrealm = sipreg.test\nchallenge = MD5\n"
              "[policy]\nnat_keepalive_s = %d\nnat_keepalive_misses = %d\n" % (INTERVAL_S, MISSES))
PRIVATE = "10.77.0.2"
AOR = "sip:carol@198.18.0.1"
NAT_RULES = """
table ip sipreg_nat {
  chain post {
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr %s/32 snat to %s
  }
}
""" % (PRIVATE, CLIENT_V4)


def start_baresip(net, dp):
    cfg = baresip_config("<sip:carol@198.18.0.1;transport=udp>;auth_pass=secret3;regint=600",
                         PRIVATE + ":5090")
    log_path = os.path.join(cfg, "baresip.log")
    # `ip netns exec` execs timeout, whose child is baresip (kill_baresip).
    proc = subprocess.Popen(["ip", "netns", "exec", net.cli_ns, "timeout", "-s", "KILL", "90",
                             "baresip", "-f", cfg, "-s"],
                            stdout=open(log_path, "w"), stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    on_cleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait(5)))
    return proc, log_path


def counters(dp):
    c = dp.stats()["counters"]
    return {k: c[k][0] for k in ("keepalive_sent", "keepalive_answered", "keepalive_unreachable",
                                 "keepalive_late")}


def main():
    tap = Tap()
    net = TestNet("natka")
    net.in_client(["ip", "addr", "add", PRIVATE + "/32", "dev", "lo"])
    net.in_client(["nft", "-f", "-"], input=NAT_RULES)
    dp = Dataplane(net, extra_config=SIP_CONFIG)
    import_accounts(dp, [("carol", "secret3", "acme")])
    try:
        dp.start()
    except RuntimeError as e:
        tap.check(False, "dataplane starts", e)
        return tap.finish()
    ctl = Control(dp)

    proc, log_path = start_baresip(net, dp)
    bs = wait_for(lambda: bindings_by_aor(dp).get(AOR), timeout=8, step=0.1)
    b = bs[0] if bs else {}
    tap.check(bs and b["contact"].endswith("@%s:5090" % PRIVATE)
              and b["received"].startswith(CLIENT_V4 + ":") and b["nat"] == "nat",
              "baresip behind NAT: binding with the private contact, the public received "
              "address and the nat flag", (bs, dp.log()))

    # Three intervals with baresip answering.
    time.sleep(3 * INTERVAL_S + 1)
    c1 = counters(dp)
    tap.check(c1["keepalive_sent"] >= 2 and c1["keepalive_answered"] >= 2
              and c1["keepalive_answered"] >= c1["keepalive_sent"] - 1,
              "keepalive OPTIONS every %d s reach baresip through the NAT and are answered"
              % INTERVAL_S, c1)
    with open(log_path, errors="replace") as f:
        trace = f.read()
    tap.check(re.search(r"OPTIONS sip:carol[^@ ]*@%s:5090 SIP/2.0" % re.escape(PRIVATE), trace),
              "baresip's SIP trace shows our OPTIONS to its contact", trace[-1500:])
    tap.check(bindings_by_aor(dp).get(AOR) and c1["keepalive_unreachable"] == 0,
              "an answering phone keeps its binding", c1)

    # The policy turns keepalives off and on again on the running dataplane.
    p = ctl.json("policy", "set", "nat_keepalive_s=0")
    time.sleep(0.5)
    c2 = counters(dp)
    time.sleep(2 * INTERVAL_S + 1)
    c3 = counters(dp)
    tap.check(p.get("policy", {}).get("nat_keepalive_s") == 0
              and c3["keepalive_sent"] == c2["keepalive_sent"],
              "policy set nat_keepalive_s=0: no keepalives while off", (p, c2, c3))
    p = ctl.json("policy", "set", "nat_keepalive_s=%d" % INTERVAL_S)
    c4 = wait_for(lambda: (lambda c: c if c["keepalive_sent"] > c3["keepalive_sent"] else None)(
        counters(dp)), timeout=3 * INTERVAL_S, step=0.2)
    tap.check(c4, "policy set nat_keepalive_s=%d: keepalives again" % INTERVAL_S, (p, c4))

    # kill -9: no unregister, no answers. MISSES unanswered rounds remove it.
    run(["pkill", "-KILL", "-P", str(proc.pid), "-x", "baresip"], check=False)
    proc.wait(5)
    t0 = time.time()
    gone = wait_for(lambda: not bindings_by_aor(dp).get(AOR), timeout=(MISSES + 3) * INTERVAL_S,
                    step=0.2)
    took = time.time() - t0
    c5 = counters(dp)
    print("# all counters: %s" % {k: v[0] for k, v in dp.stats()["counters"].items() if v[0]})
    tap.check(gone and c5["keepalive_unreachable"] == 1,
              "phone gone: %d unanswered keepalives remove the binding (%.1f s after the kill)"
              % (MISSES, took), (c5, dp.log()))
    h = ctl.json("history", "--aor", AOR)
    types = [e.get("event") for e in h.get("events", [])]
    tap.check("unreachable" in types, "history: an `unreachable` event for the binding", h)
    tap.check(dp.stop() == 0, "dataplane exits cleanly", dp.log())
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
