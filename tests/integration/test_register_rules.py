#!/usr/bin/env python3
"""DESIGN.md "SIP behaviour" rule by rule, with sipp as the phone
(tests/integration/sipp/register_step.xml: REGISTER, on 401 the same with
credentials): refresh, unregister, wildcard, 423, wrong password, unknown
user, Call-ID/CSeq reordering, register_replace on and off with
max_bindings 1, IP-only account from an allowed and a disallowed address.
"""
import os
import re
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from sipreg_testlib import (Tap, TestNet, Dataplane, import_accounts, bindings_by_aor, sipp,  # noqa: E402
                            on_cleanup, run, SERVER_V4, client_v4)

SIP_CONFIG = ("[sip]\ndomains = sipreg.test, 198.18.0.1\nrealm = sipreg.test\n"
              "[policy]\nmin_expires_s = 60\nmax_expires_s = 7200\nregister_replace = %s\n")
ACCOUNTS = [
    ("alice", "secret1", "acme"),
    ("bob", "secret2", "acme", "digest", "", "1"),          # max_bindings 1
    ("trunk", "unused", "carrier", "ip", "198.18.0.3/32"),  # IP-only
]


class SipMsg:
    def __init__(self, text):
        self.src = ""
        lines = text.replace("\r\n", "\n").split("\n")
        m = re.match(r"SIP/2\.0 (\d{3}) (.*)", lines[0])
        self.code = int(m.group(1)) if m else 0
        self.reason = m.group(2) if m else ""
        self.headers = []
        for l in lines[1:]:
            if not l.strip():
                break
            if ":" in l:
                k, v = l.split(":", 1)
                self.headers.append((k.strip().lower(), v.strip()))

    def all(self, name):
        return [v for k, v in self.headers if k == name.lower()]

    def get(self, name):
        v = self.all(name)
        return v[0] if v else None

    def __repr__(self):
        return "%d %s %s" % (self.code, self.reason, self.headers)


def parse_sent(path):
    """The messages sipp sent, as bytes (CRLF line ends), from its
    -trace_msg file."""
    try:
        with open(path, errors="replace") as f:
            text = f.read()
    except OSError:
        return []
    out = []
    for block in re.split(r"^-{20,}.*$", text, flags=re.M):
        block = block.strip("\n")
        if "message sent" not in block.split("\n", 1)[0]:
            continue
        body = block.split("\n", 1)[1].strip("\r\n")
        out.append(("\r\n".join(l.rstrip("\r") for l in body.split("\n")) + "\r\n\r\n").encode())
    return out


RESEND = r"""
import socket, base64
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((%r, %d))
s.settimeout(1.0)
s.sendto(base64.b64decode(%r), ("198.18.0.1", 5060))
try:
    print(s.recv(4096).decode("latin-1").split("\r\n", 1)[0])
except socket.timeout:
    print("timeout")
"""


def parse_received(path):
    """The SIP messages sipp received, from its -trace_msg file."""
    try:
        with open(path, errors="replace") as f:
            text = f.read()
    except OSError:
        return []
    out = []
    for block in re.split(r"^-{20,}.*$", text, flags=re.M):
        block = block.strip("\n")
        first = block.split("\n", 1)[0]
        # "Unexpected UDP message received:" repeats a message already logged
        if "message received" not in first or first.startswith("Unexpected"):
            continue
        body = block.split("\n", 1)[1].lstrip("\n") if "\n" in block else ""
        out.append(SipMsg(body))
    return out


# sipp 3.6.1 never seeds rand(): every sipp process answers its first
# challenge with cnonce 6b8b4567 and nc=00000001. Our nonces are a pure
# function of (second, source IP, realm), so two sipp processes from one
# address within the same second send the same (nonce, nc, cnonce): a true
# replay, which the registrar must refuse (403). Each step therefore comes
# from the next address of this pool (64 addresses, far more than a second's
# worth of steps).
SOURCE_POOL = (["198.18.1.%d" % i for i in range(2, 34)] +
               ["198.18.0.%d" % i for i in range(5, 34)] + ["198.18.0.2"])


class Phone:
    """One REGISTER transaction per call of register(): sipp, in the client
    namespace, from source:port (source: the next address of SOURCE_POOL
    unless given)."""

    def __init__(self, net, tap):
        self.net = net
        self.tap = tap
        self.next_source = 0
        self.last_source = None

    def register(self, user, password, contact, expires, call_id, cseq, source=None,
                 port=5070):
        if source is None:
            source = SOURCE_POOL[self.next_source % len(SOURCE_POOL)]
            self.next_source += 1
        self.last_source = source
        wd = tempfile.mkdtemp(prefix="sipreg-step-")
        on_cleanup(lambda: run(["rm", "-rf", wd], check=False))
        inf = os.path.join(wd, "user.csv")
        with open(inf, "w") as f:
            f.write("SEQUENTIAL\n%s;[authentication username=%s password=%s]\n"
                    % (user, user, password))
        msgs = os.path.join(wd, "messages.log")
        r = sipp(self.net, "register_step.xml", SERVER_V4 + ":5060", 1, rate=10, inf=inf,
                 source=source, port=port, timeout=8, workdir=wd,
                 keys={"domain": "sipreg.test", "cseq1": cseq, "cseq2": cseq + 1,
                       "contact": contact, "expires": expires},
                 extra=["-nd", "-cid_str", call_id, "-trace_msg", "-message_file", msgs])
        got = parse_received(msgs)
        self.last_sent = parse_sent(msgs)
        for m in got:
            m.src = source
        # sipp 3.6.1 takes the CSeq method from the first "CSeq" in the
        # message, which for "500 CSeq Out Of Order" is in the status line,
        # so it never matches that 500 to the scenario and fails the call;
        # the answer is in the message log all the same.
        if (r.rc != 0 and not (got and got[-1].code == 500)) or not got:
            print("# sipp: %s" % r.detail().replace("\n", "\n# "))
        return got


def codes(msgs):
    return [m.code for m in msgs]


def snapshot(dp, aor):
    """Bindings of aor in LMDB once the checkpoint has caught up: at least
    100 ms (ten commit windows) and then unchanged over three reads 50 ms
    apart (a commit's fsync can take tens of ms on a busy machine)."""
    def read():
        return {b["contact"]: b for b in bindings_by_aor(dp).get(aor, [])}

    def key(snap):
        return {c: {k: v for k, v in b.items() if k != "expires_in_s"} for c, b in snap.items()}
    time.sleep(0.1)
    last, stable, deadline = read(), 0, time.time() + 3
    while stable < 2 and time.time() < deadline:
        time.sleep(0.05)
        cur = read()
        stable = stable + 1 if key(cur) == key(last) else 0
        last = cur
    return last


def start(net, tap, replace):
    dp = Dataplane(net, extra_config=SIP_CONFIG % replace)
    import_accounts(dp, ACCOUNTS)
    try:
        dp.start()
    except RuntimeError as e:
        tap.check(False, "dataplane starts (register_replace = %s)" % replace, e)
        return None
    return dp


def same(a, b):
    """Two bindings are the same but for expires_in_s (relative to now)."""
    if not a or not b:
        return False
    return {k: v for k, v in a.items() if k != "expires_in_s"} == \
        {k: v for k, v in b.items() if k != "expires_in_s"}


def contacts_of(msg):
    return sorted(re.sub(r";expires=\d+", "", c) for c in msg.all("Contact"))


def rules_replace_on(net, tap, ph):
    dp = start(net, tap, "on")
    if not dp:
        return
    ALICE = "sip:alice@sipreg.test"
    c1 = "sip:alice@198.18.0.2:5070"
    c2 = "sip:alice@198.18.0.2:5071"

    # Registration: 401 then 200 listing the contact with its expires, and Date.
    r = ph.register("alice", "secret1", "<%s>" % c1, 600, "cid-a1", 1)
    tap.check(codes(r) == [401, 200], "digest REGISTER: 401 then 200", r)
    ok = r[-1] if r else SipMsg("")
    tap.check(ok.all("Contact") == ["<%s>;expires=600" % c1] and ok.get("Date"),
              "200 lists the contact with expires=600 and a Date", ok)
    b0 = snapshot(dp, ALICE).get(c1)
    tap.check(b0 and b0["received"] == ph.last_source + ":5070" and b0["cseq"] == 2
              and b0["call_id"] == "cid-a1", "binding in LMDB with received address, CSeq, Call-ID", b0)

    # UDP retransmission of the authorized REGISTER (as when the 200 OK is
    # lost): RFC 3261 17.2.2 wants the same final answer again. The
    # registrar keeps no transactions, so the copy is a replay of (nonce,
    # nc, cnonce) to it, and the phone is told 403.
    import base64
    src = ph.last_source
    line = ph.net.client_python(RESEND % (src, 5070, base64.b64encode(ph.last_sent[-1]).decode())).strip()
    tap.check(line.startswith("SIP/2.0 200"), "a retransmitted authorized REGISTER gets 200 again",
              "%s (binding unchanged: %s)" % (line, same(snapshot(dp, ALICE).get(c1), b0)))
    tap.check(same(snapshot(dp, ALICE).get(c1), b0), "the retransmission changed nothing")

    # Refresh: same Call-ID, higher CSeq.
    time.sleep(1.1)
    r = ph.register("alice", "secret1", "<%s>" % c1, 900, "cid-a1", 3)
    b1 = snapshot(dp, ALICE).get(c1)
    tap.check(codes(r) == [401, 200] and r[-1].all("Contact") == ["<%s>;expires=900" % c1],
              "refresh (same Call-ID, higher CSeq): 200 with the new expires", r)
    tap.check(b0 and b1 and b1["refreshed_at"] > b0["refreshed_at"]
              and b1["registered_at"] == b0["registered_at"] and b1["cseq"] == 4
              and b1["expires_at"] - b1["refreshed_at"] == 900,
              "refresh moves refreshed_at and expiry, keeps registered_at", (b0, b1))

    # Reordering: same Call-ID, CSeq lower than stored (4) -> 500, unchanged.
    r = ph.register("alice", "secret1", "<%s>" % c1, 1200, "cid-a1", 1)
    b2 = snapshot(dp, ALICE).get(c1)
    # (sipp retransmits the authorized REGISTER after the 500 it cannot
    # match, see Phone.register: only the first two answers count.)
    tap.check(codes(r)[:2] == [401, 500], "same Call-ID with a lower CSeq: 500", r)
    tap.check(same(b2, b1), "the reordered request changed nothing", (b1, b2))
    r = ph.register("alice", "secret1", "<%s>" % c1, 1200, "cid-a1", 3)
    tap.check(codes(r)[:2] == [401, 500] and same(snapshot(dp, ALICE).get(c1), b1),
              "same Call-ID with the same CSeq (4): 500, nothing changed", r)

    # A second contact (another Call-ID), then unregister it with Expires: 0.
    r = ph.register("alice", "secret1", "<%s>" % c2, 600, "cid-a2", 1, port=5071)
    tap.check(codes(r) == [401, 200] and contacts_of(r[-1]) == sorted(["<%s>" % c1, "<%s>" % c2]),
              "second contact: 200 lists both contacts", r)
    r = ph.register("alice", "secret1", "<%s>" % c2, 0, "cid-a2", 3, port=5071)
    s = snapshot(dp, ALICE)
    tap.check(codes(r) == [401, 200] and contacts_of(r[-1]) == ["<%s>" % c1],
              "unregister with Expires: 0: 200 lists only the remaining contact", r)
    tap.check(set(s) == {c1}, "unregistered binding is gone from LMDB, the other kept", s)
    r = ph.register("alice", "secret1", "<%s>;expires=0" % c1, 600, "cid-a1", 10)
    s = snapshot(dp, ALICE)
    tap.check(codes(r) == [401, 200] and not r[-1].all("Contact") and not s,
              "unregister with the contact's expires=0 parameter", (r, s))

    # Wildcard.
    for cid, c, port in (("cid-a1", c1, 5070), ("cid-a2", c2, 5071)):
        ph.register("alice", "secret1", "<%s>" % c, 600, cid, 20, port=port)
    before = snapshot(dp, ALICE)
    r = ph.register("alice", "secret1", "*", 300, "cid-a3", 1)
    after = snapshot(dp, ALICE)
    tap.check(codes(r)[-1:] == [400] and len(before) == 2 and after.keys() == before.keys()
              and all(same(after[c], before[c]) for c in before),
              "Contact: * with Expires: 300: 400, nothing removed", (r, before))
    r = ph.register("alice", "secret1", "*", 0, "cid-a3", 3)
    s = snapshot(dp, ALICE)
    tap.check(codes(r) == [401, 200] and not s, "Contact: * with Expires: 0 removes every binding",
              (r, s))

    # 423 below the minimum.
    r = ph.register("alice", "secret1", "<%s>" % c1, 30, "cid-a4", 1)
    tap.check(codes(r) == [401, 423] and r[-1].get("Min-Expires") == "60",
              "Expires: 30 below min_expires_s 60: 423 with Min-Expires: 60", r)
    tap.check(not snapshot(dp, ALICE), "nothing stored after 423")

    # Wrong password; unknown user indistinguishable from a known one.
    failed0 = dp.counter("auth_failed")
    r = ph.register("alice", "wrong", "<%s>" % c1, 600, "cid-a5", 1)
    tap.check(codes(r) == [401, 403] and not snapshot(dp, ALICE),
              "wrong password: 403, nothing stored", r)
    tap.check(dp.counter("auth_failed") == failed0 + 1, "auth_failed counted")
    known = ph.register("alice", "wrong", "<%s>" % c1, 600, "cid-k", 1)
    unknown = ph.register("nobody", "wrong", "<sip:nobody@198.18.0.2:5070>", 600, "cid-k", 1)

    def shape(m, user):
        hs = []
        for k, v in m.headers:
            v = re.sub(r'nonce="[^"]*"', 'nonce=""', v)
            v = re.sub(r";tag=[^;>\s]*", ";tag=", v).replace(user, "USER")
            v = re.sub(r"branch=[^;]*", "branch=", v)
            v = re.sub(r"received=[^;]*", "received=", v).replace(m.src, "SRC")
            hs.append((k, v))
        return (m.code, m.reason, hs)
    tap.check(len(known) == 2 and len(unknown) == 2 and
              shape(known[0], "alice") == shape(unknown[0], "nobody"),
              "unknown user gets the same 401 challenge as a known one (all but the nonce)",
              (known, unknown))
    tap.check(len(known) == 2 and len(unknown) == 2 and known[1].code == 403 and
              shape(known[1], "alice") == shape(unknown[1], "nobody"),
              "unknown user gets the same 403 after credentials as a wrong password", (known, unknown))

    # register_replace = on, max_bindings 1: the second device kicks the first.
    BOB = "sip:bob@sipreg.test"
    d1, d2 = "sip:bob@198.18.0.2:5072", "sip:bob@198.18.0.2:5073"
    r = ph.register("bob", "secret2", "<%s>" % d1, 600, "cid-b1", 1, port=5072)
    tap.check(codes(r) == [401, 200] and set(snapshot(dp, BOB)) == {d1}, "bob's first device registers", r)
    r = ph.register("bob", "secret2", "<%s>" % d2, 600, "cid-b2", 1, port=5073)
    s = snapshot(dp, BOB)
    tap.check(codes(r) == [401, 200] and r[-1].all("Contact") == ["<%s>;expires=600" % d2],
              "register_replace on, max_bindings 1: second device gets 200 listing only itself", r)
    tap.check(set(s) == {d2}, "register_replace on: the first device's binding was kicked", s)

    # IP-only account.
    r = ph.register("trunk", "unused", "<sip:trunk@198.18.0.3:5060>", 600, "cid-t1", 1,
                    source=client_v4(0), port=5060)
    s = snapshot(dp, "sip:trunk@sipreg.test")
    tap.check(codes(r) == [200] and set(s) == {"sip:trunk@198.18.0.3:5060"}
              and s["sip:trunk@198.18.0.3:5060"]["received"] == "198.18.0.3:5060",
              "IP account from an allowed address (198.18.0.3): 200 without a challenge", (r, s))
    denied0 = dp.counter("auth_ip_denied")
    r = ph.register("trunk", "unused", "<sip:trunk@198.18.0.4:5060>", 600, "cid-t2", 1,
                    source=client_v4(1), port=5060)
    s = snapshot(dp, "sip:trunk@sipreg.test")
    tap.check(codes(r) == [403] and set(s) == {"sip:trunk@198.18.0.3:5060"},
              "IP account from a disallowed address (198.18.0.4): 403, nothing stored", (r, s))
    tap.check(dp.counter("auth_ip_denied") == denied0 + 1, "auth_ip_denied counted")
    tap.check(dp.stop() == 0, "dataplane stops cleanly", dp.log())


def rules_replace_off(net, tap, ph):
    dp = start(net, tap, "off")
    if not dp:
        return
    BOB = "sip:bob@sipreg.test"
    d1, d2 = "sip:bob@198.18.0.2:5072", "sip:bob@198.18.0.2:5073"
    r = ph.register("bob", "secret2", "<%s>" % d1, 600, "cid-b1", 1, port=5072)
    tap.check(codes(r) == [401, 200] and set(snapshot(dp, BOB)) == {d1},
              "register_replace off: bob's first device registers", r)
    before = snapshot(dp, BOB)
    r = ph.register("bob", "secret2", "<%s>" % d2, 600, "cid-b2", 1, port=5073)
    tap.check(codes(r) == [401, 403], "register_replace off, max_bindings 1: second device gets 403", r)
    tap.check(same(snapshot(dp, BOB).get(d1), before.get(d1)) and len(snapshot(dp, BOB)) == 1,
              "register_replace off: the first binding is kept unchanged")
    r = ph.register("bob", "secret2", "<%s>" % d1, 600, "cid-b1", 3, port=5072)
    tap.check(codes(r) == [401, 200], "the first device can still refresh", r)
    tap.check(dp.stop() == 0, "dataplane stops cleanly", dp.log())


def main():
    tap = Tap()
    net = TestNet("regrul")
    ph = Phone(net, tap)
    t0 = time.time()
    rules_replace_on(net, tap, ph)
    rules_replace_off(net, tap, ph)
    print("# took %.1fs" % (time.time() - t0))
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
