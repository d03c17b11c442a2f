#!/usr/bin/env python3
"""sipp digest REGISTER over 10,000 imported users at a bounded rate:
every registration gets 200 OK, and every binding is in LMDB afterwards
with the right contact, received address and expiry.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from sipreg_testlib import (Tap, TestNet, Dataplane, import_accounts, bindings, sipp,  # noqa: E402
                            wait_for, CLIENT_V4, SERVER_V4)

N_USERS = int(os.environ.get("SIPREG_IT_LOAD_USERS", "10000"))
RATE = 1000
EXPIRES = 900
# [rate] per_ip_pps = 0: the whole load comes from one address, which the
# XDP per-source limit (50 pps by default) would otherwise cut down.
# [lockout] failures = 0: a retransmitted authorized REGISTER is answered
# 403 as a replay and counted as a failed authentication, so a few sipp
# retransmissions on a busy machine would lock the one address out.
SIP_CONFIG = ("[sip]\ndomains = sipreg.test, 198.18.0.1\nrealm = sipreg.test\n"
              "[rate]\nper_ip_pps = 0\n[lockout]\nfailures = 0\n")


def user(i):
    return "u%05d" % i


def password(i):
    return "pw%05d" % i


def write_inf(path, n):
    with open(path, "w") as f:
        f.write("SEQUENTIAL\n")
        for i in range(n):
            f.write("%s;[authentication username=%s password=%s]\n" % (user(i), user(i), password(i)))


def main():
    tap = Tap()
    net = TestNet("reglod")
    dp = Dataplane(net, extra_config=SIP_CONFIG)
    t0 = time.time()
    import_accounts(dp, ((user(i), password(i), "load") for i in range(N_USERS)))
    tap.check(True, "imported %d accounts in %.1fs" % (N_USERS, time.time() - t0))
    try:
        dp.start()
    except RuntimeError as e:
        tap.check(False, "dataplane starts", e)
        return tap.finish()
    tap.check(True, "dataplane starts")

    inf = os.path.join(dp.dir, "users.csv")
    write_inf(inf, N_USERS)
    port = 5062
    t0 = time.time()
    res = sipp(net, "register_load.xml", SERVER_V4 + ":5060", N_USERS, rate=RATE, inf=inf,
               source=CLIENT_V4, port=port, timeout=N_USERS // RATE + 40,
               keys={"domain": "sipreg.test", "expires": EXPIRES})
    took = time.time() - t0
    ok = res.count("SuccessfulCall")
    tap.check(res.rc == 0 and ok == N_USERS and res.count("FailedCall") == 0,
              "sipp: %d of %d digest registrations got 200 OK in %.1fs at -r %d"
              % (ok, N_USERS, took, RATE), res.detail())
    c = dp.stats()["counters"]
    # A 200 waits for its group commit (reply_after_commit); when an fsync
    # is slow sipp retransmits, and each retransmission is answered 200
    # again from the replay cache (counted in retransmissions).
    tap.check(c["reply_200"][0] == N_USERS + c["retransmissions"][0] and c["auth_ok"][0] == N_USERS,
              "dataplane counted %d auth_ok, and a reply_200 for each and for each "
              "retransmission" % N_USERS,
              {k: c[k][0] for k in ("rx_register", "reply_200", "reply_401", "reply_403",
                                   "auth_ok", "auth_failed", "auth_replay", "events_lost",
                                   "retransmissions", "replies_held")})

    # Each authorized REGISTER brings back the nonce its 401 was made with
    # moments before: recognised from the worker's memo, not by HMAC
    # (published by the housekeeping tick, once a second).
    enough = wait_for(lambda: dp.counter("nonce_memo_hits") >= 0.9 * N_USERS, timeout=3.0, step=0.1)
    tap.check(enough,
              "nonce memo recognised at least 90 %% of the %d authorized nonces (%s)"
              % (N_USERS, dp.counter("nonce_memo_hits")))

    # Every binding checkpointed: the commit window is 10 ms, give it 2 s.
    def all_there():
        bs = bindings(dp)
        return bs if len(bs) >= N_USERS else None
    wait_for(all_there, timeout=3.0, step=0.1)
    now = int(time.time())
    bs = {b["aor"]: b for b in bindings(dp)}
    missing, wrong = [], []
    for i in range(N_USERS):
        aor = "sip:%s@sipreg.test" % user(i)
        b = bs.get(aor)
        if b is None:
            missing.append(aor)
            continue
        exp_contact = "sip:%s@%s:%d" % (user(i), CLIENT_V4, port)
        if (b["contact"] != exp_contact or b["received"] != "%s:%d" % (CLIENT_V4, port)
                or not (EXPIRES - 120 <= b["expires_at"] - now <= EXPIRES)
                or b["expires_at"] - b["refreshed_at"] != EXPIRES or b["user_agent"] != "sipp-load"):
            wrong.append(b)
    tap.check(not missing, "every one of the %d bindings is in LMDB" % N_USERS,
              "%d missing, e.g. %s" % (len(missing), missing[:5]))
    tap.check(not wrong, "every binding has the right contact, received address and expiry",
              "%d wrong, e.g. %s" % (len(wrong), wrong[:3]))
    tap.check(len(bs) == N_USERS, "no other bindings in LMDB", len(bs))

    rc = dp.stop()
    tap.check(rc == 0, "dataplane stops cleanly", dp.log())
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
