#!/usr/bin/env python3
"""kill -9 during a sipp REGISTER run, then restart on the same state dir:
every registration answered 200 OK more than one commit window (10 ms)
before the kill is still bound (in LMDB, and served by the restarted
process). Then the restart time with many stored bindings: from process
start to the first answer to a client retrying OPTIONS every 10 ms.
"""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from sipreg_testlib import (Tap, TestNet, Dataplane, import_accounts, bindings, sipp,  # noqa: E402
                            on_cleanup, CLIENT_V4, SERVER_V4)

N_USERS = int(os.environ.get("SIPREG_IT_CRASH_USERS", "100000"))
CRASH_RATE = 2000          # registrations/s during the kill
KILL_AFTER_S = 2.5
# sipp is single-threaded and shares 2 cores with the busy-polling worker:
# it tops out near 3,500 calls/s here.
FILL_RATE = int(os.environ.get("SIPREG_IT_FILL_RATE", "3000"))
COMMIT_WINDOW_S = 0.010
# [rate] per_ip_pps = 0: each sipp run comes from one address, which the
# XDP per-source limit (50 pps by default) would otherwise cut down.
SIP_CONFIG = ("[sip]\ndomains = sipreg.test, 198.18.0.1\nrealm = sipreg.test\n"
              "[rate]\nper_ip_pps = 0\n")
EXPIRES = 3600

PROBE = r"""
import socket, time, json
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.18.0.2", 5095))
s.setblocking(False)
deadline = time.time() + %r
n = 0
first = None
print(json.dumps({"probe_started": time.time()}), flush=True)
while time.time() < deadline and first is None:
    n += 1
    msg = ("OPTIONS sip:sipreg.test SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 198.18.0.2:5095;branch=z9hG4bK-probe%%d\r\n"
           "Max-Forwards: 70\r\nFrom: <sip:probe@sipreg.test>;tag=p\r\n"
           "To: <sip:sipreg.test>\r\nCall-ID: probe-%%d\r\nCSeq: %%d OPTIONS\r\n"
           "Content-Length: 0\r\n\r\n") %% (n, n, n)
    s.sendto(msg.encode(), ("198.18.0.1", 5060))
    end = time.time() + 0.010
    while time.time() < end:
        try:
            data = s.recv(4096)
        except BlockingIOError:
            time.sleep(0.0005)
            continue
        if data.startswith(b"SIP/2.0 200"):
            first = time.time()
            break
print(json.dumps({"first_ok": first, "sent": n}), flush=True)
"""


def user(i):
    return "u%06d" % i


def write_inf(path, users):
    with open(path, "w") as f:
        f.write("SEQUENTIAL\n")
        for i in users:
            f.write("%s;[authentication username=%s password=pw%06d]\n" % (user(i), user(i), i))


def timed_restart(net, dp, tap, label, quiet=False):
    """Starts dp while a client sends OPTIONS every 10 ms; returns seconds
    from process start to the first 200 OK (None if none in 10 s)."""
    probe = subprocess.Popen(["ip", "netns", "exec", net.cli_ns, sys.executable, "-c", PROBE % 10.0],
                             stdout=subprocess.PIPE, text=True)
    on_cleanup(lambda: probe.poll() is None and (probe.kill(), probe.wait(5)))
    json.loads(probe.stdout.readline())      # probing has begun
    t_start = time.time()
    try:
        dp.start(timeout=20)
    except RuntimeError as e:
        if not quiet:
            tap.check(False, "%s: dataplane restarts" % label, e)
        probe.kill()
        probe.wait(5)
        dp.stop()
        return None
    out = json.loads(probe.stdout.readline())
    probe.wait(15)
    return (out["first_ok"] - t_start) if out["first_ok"] else None


def crash_round(net, tap, sync, allowance_s, query_source):
    """One dataplane with [store] sync = sync: sipp registers at CRASH_RATE,
    kill -9 after KILL_AFTER_S, restart on the same state dir. Checks that
    every 200 OK received more than COMMIT_WINDOW_S + allowance_s before the
    kill is in LMDB and served by the restarted process. Returns the running
    dataplane, or None."""
    tag = "sync=%s" % sync
    dp = Dataplane(net, extra_config=SIP_CONFIG,
                   store_config="commit_window_ms = %d\nsync = %s" % (COMMIT_WINDOW_S * 1000, sync))
    t0 = time.time()
    import_accounts(dp, ((user(i), "pw%06d" % i, "crash") for i in range(N_USERS)))
    print("# %s: imported %d accounts in %.1fs" % (tag, N_USERS, time.time() - t0))
    try:
        dp.start()
    except RuntimeError as e:
        tap.check(False, "%s: dataplane starts" % tag, e)
        return None

    n_crash = int(CRASH_RATE * (KILL_AFTER_S + 2))
    inf = os.path.join(dp.dir, "crash-users.csv")
    write_inf(inf, range(n_crash))
    log_file = os.path.join(dp.dir, "crash-ok.log")
    proc, wd, finish = sipp(net, "register_load.xml", SERVER_V4 + ":5060", n_crash, rate=CRASH_RATE,
                            inf=inf, source=CLIENT_V4, port=5062, timeout=int(KILL_AFTER_S + 2),
                            keys={"domain": "sipreg.test", "expires": EXPIRES},
                            extra=["-trace_logs", "-log_file", log_file], background=True)
    time.sleep(KILL_AFTER_S)
    t_kill = time.time()
    dp.proc.send_signal(signal.SIGKILL)
    dp.proc.wait(5)
    dp.stop()                                  # reaps, removes hugepage files
    res = finish()
    answered = {}
    with open(log_file) as f:
        for line in f:
            p = line.split()
            if len(p) == 4 and p[0] == "OK":
                answered[p[1]] = float(p[2]) + float(p[3]) / 1e6
    bound = COMMIT_WINDOW_S + allowance_s
    must = sorted(u for u, t in answered.items() if t < t_kill - bound)
    tap.check(len(must) > 1000, "%s: kill -9 after %.1fs of sipp at %d/s: %d registrations answered "
              "200 more than %d ms before the kill (of %d answered)"
              % (tag, KILL_AFTER_S, CRASH_RATE, len(must), bound * 1000, len(answered)), res.detail())
    in_lmdb = {b["aor"] for b in bindings(dp)}
    lost_all = sorted((t_kill - t, u) for u, t in answered.items()
                      if "sip:%s@sipreg.test" % u not in in_lmdb)
    lost = [u for m, u in lost_all if m > bound]
    print("# %s: %d bindings in LMDB after the kill; %d answered 200 are not, answered %s ms "
          "before the kill" % (tag, len(in_lmdb), len(lost_all),
                               "%.1f to %.1f" % (1000 * lost_all[0][0], 1000 * lost_all[-1][0])
                               if lost_all else "-"))
    tap.check(not lost, "%s: every one of them is in LMDB after the kill" % tag,
              "%d lost, e.g. %s" % (len(lost), lost[:5]))

    # A process killed with -9 leaves its XDP program on the interface.
    t_restart = timed_restart(net, dp, tap, "%s: after kill -9" % tag, quiet=True)
    if t_restart is None and "XDP program already attached" in dp.log():
        tap.check(False, "%s: restart after kill -9 without manual clean-up" % tag, dp.log()[-600:],
                  todo="XDP program left attached by the killed process blocks the restart "
                       "(detach it at start)")
        net.in_server(["ip", "link", "set", "dev", net.srv_if, "xdp", "off"], check=False)
        t_restart = timed_restart(net, dp, tap, "%s: after kill -9 and 'ip link set xdp off'" % tag)
    tap.check(t_restart is not None, "%s: restarted after kill -9: first answer %.3fs after start"
              % (tag, t_restart or -1))
    if t_restart is None:
        return None
    # The restarted process serves them: a REGISTER query (no Contact) for
    # each must list its contact.
    time.sleep(1.0)     # AF_XDP may drop in its first second (DESIGN.md)
    qinf = os.path.join(dp.dir, "query-users.csv")
    write_inf(qinf, (int(u[1:]) for u in must))
    q = sipp(net, "register_query.xml", SERVER_V4 + ":5060", len(must), rate=3000, inf=qinf,
             source=query_source, port=5063, timeout=len(must) // 1500 + 20,
             keys={"domain": "sipreg.test"})
    tap.check(q.rc == 0 and q.count("SuccessfulCall") == len(must),
              "%s: the restarted process lists the contact of each of the %d (REGISTER query)"
              % (tag, len(must)), q.detail())
    return dp


def main():
    tap = Tap()
    net = TestNet("regcra")
    # 1. kill -9 in the middle of a sipp run. A killed process keeps its
    # writes in the page cache, so with sync = off nothing but the commit
    # window stands between a 200 OK and LMDB: the rule, 10 ms.
    # With sync = on (the default) each group commit also waits for its
    # fsync before it becomes visible, which on this VM's disk adds tens of
    # ms (up to ~50 ms measured): allow 200 ms and print what was lost.
    dp = crash_round(net, tap, "off", 0.0, "198.18.0.5")
    if dp:
        dp.stop()
    dp = crash_round(net, tap, "on", 0.200, "198.18.0.7")
    if not dp:
        return tap.finish()

    # 2. Restart time with N_USERS stored bindings.
    stored_now = {b["aor"] for b in bindings(dp)}
    rest = [i for i in range(N_USERS) if "sip:%s@sipreg.test" % user(i) not in stored_now]
    finf = os.path.join(dp.dir, "fill-users.csv")
    write_inf(finf, rest)
    t0 = time.time()
    f = sipp(net, "register_fill.xml", SERVER_V4 + ":5060", len(rest), rate=FILL_RATE, inf=finf,
             source="198.18.0.6", port=5064, timeout=len(rest) // max(FILL_RATE // 2, 1) + 30,
             keys={"domain": "sipreg.test", "expires": EXPIRES})
    fill_s = time.time() - t0
    time.sleep(0.2)
    stored = len(bindings(dp))
    tap.check(f.count("SuccessfulCall") == len(rest) and stored == N_USERS,
              "filled to %d stored bindings with sipp in %.1fs (%d/s)"
              % (stored, fill_s, len(rest) / max(fill_s, 0.001)), f.detail())
    rc = dp.stop()
    tap.check(rc == 0, "dataplane stops cleanly with %d bindings" % stored, dp.log())
    t_restart = timed_restart(net, dp, tap, "with %d bindings" % stored)
    tap.check(t_restart is not None and t_restart <= 1.0,
              "restart with %d stored bindings answers within 1 s of start (%.3fs)"
              % (stored, t_restart if t_restart is not None else -1), dp.log())
    if t_restart is not None:
        c = dp.stats()["counters"]
        tap.check(dp.proc.poll() is None and c["drop_unparseable"][0] == 0,
                  "restarted process is running (rx_options=%d)" % c["rx_options"][0])
    rc = dp.stop()
    tap.check(rc == 0, "dataplane stops cleanly", dp.log())
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
