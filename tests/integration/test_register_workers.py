#!/usr/bin/env python3
"""Ownership across workers (issue 5, item 3): with two workers each AOR
belongs to hash(AOR) % 2; a REGISTER received by the other worker is handed
to the owner through its ring, the owner answers and (on a port with fewer
queues than workers, like AF_XDP on veth) transmits through the queue
owner's ring. Every registration is answered 200 once and lands in LMDB;
a restart with one worker recovers all of them (a different worker count).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from sipreg_testlib import (Tap, TestNet, Dataplane, import_accounts, bindings, sipp,  # noqa: E402
                            wait_for, CLIENT_V4, SERVER_V4)

N = 600
SIP_CONFIG = ("[sip]\ndomains = sipreg.test, 198.18.0.1\nrealm = sipreg.test\n"
              "[rate]\nper_ip_pps = 0\n")


def main():
    tap = Tap()
    net = TestNet("wrk2")
    dp = Dataplane(net, extra_config=SIP_CONFIG, workers=2)
    import_accounts(dp, (("w%04d" % i, "pw%04d" % i) for i in range(N)))
    dp.start()
    inf = os.path.join(dp.dir, "users.csv")
    with open(inf, "w") as f:
        f.write("SEQUENTIAL\n")
        for i in range(N):
            f.write("w%04d;[authentication username=w%04d password=pw%04d]\n" % (i, i, i))
    res = sipp(net, "register_load.xml", SERVER_V4 + ":5060", N, rate=150, inf=inf, source=CLIENT_V4,
               port=5062, timeout=60, keys={"domain": "sipreg.test", "expires": 900})
    tap.check(res.count("SuccessfulCall") == N and res.count("FailedCall") == 0,
              "two workers: every one of %d digest registrations gets 200" % N, res.detail())
    c = dp.stats()["counters"]
    per_worker = c["rx_register"][1:]
    tap.check(len(per_worker) == 2 and all(n > 0 for n in per_worker),
              "both workers answer REGISTERs (they own different AORs)", per_worker)
    tap.check(c["handoff_sent"][0] > 0 and c["handoff_sent"][0] == c["handoff_received"][0],
              "requests received by the non-owner are handed to the owner, none lost",
              (c["handoff_sent"], c["handoff_received"], c["handoff_ring_full"]))
    # Retransmissions (a 200 held for a slow commit on a busy machine) are
    # answered 200 again.
    tap.check(c["reply_200"][0] == N + c["retransmissions"][0] and c["tx_forwarded"][0] > 0,
              "the worker without a TX queue sends through the queue owner",
              (c["reply_200"], c["retransmissions"], c["tx_forwarded"]))
    have = wait_for(lambda: len(bindings(dp)) == N, timeout=5)
    tap.check(have, "every binding is in LMDB", len(bindings(dp)))
    dp.stop()

    # Restart with one worker: everything the two tables held comes back.
    with open(dp.config_path) as f:
        text = f.read()
    with open(dp.config_path, "w") as f:
        f.write(text.replace("workers = 2", "workers = 1"))
    dp.start()
    log = dp.log()
    tap.check("recovered %d bindings" % N in log, "one worker recovers all %d bindings of two" % N, log[-600:])
    tap.check(dp.stop() == 0, "dataplane stops cleanly")
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
