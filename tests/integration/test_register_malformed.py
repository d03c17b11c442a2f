#!/usr/bin/env python3
"""Malformed datagrams: each gets a 400 or is dropped, and is counted
(exactly one counter per datagram), and the process keeps serving: a valid
digest registration (sipsak) and OPTIONS still work afterwards. Also the
answers before authentication: 404 (domain), 420 (Require), 405 (INVITE).
"""
import base64
import json
import os
import random
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from sipreg_testlib import (Tap, TestNet, Dataplane, import_accounts, bindings_by_aor,  # noqa: E402
                            wait_for, on_cleanup)

SIP_CONFIG = "[sip]\ndomains = sipreg.test, 198.18.0.1\nrealm = sipreg.test\n"

# A client in the client namespace driven line by line over stdin:
# "send <base64>" sends from 198.18.0.2:5090; "recv <seconds>" prints the
# next datagram received (JSON) or null. The test sends, waits until the
# dataplane's counters show the datagram was handled, then collects the
# answer, so a slow moment on a shared machine cannot shift replies between
# cases.
CLIENT = r"""
import socket, base64, json, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.18.0.2", 5090))
print("ready", flush=True)
for line in sys.stdin:
    cmd, arg = (line.split() + ["-"])[:2]
    if cmd == "send":
        s.sendto(b"" if arg == "-" else base64.b64decode(arg), ("198.18.0.1", 5060))
        print("sent", flush=True)
    else:
        s.settimeout(float(arg))
        try:
            print(json.dumps(s.recv(65535).decode("latin-1")), flush=True)
        except socket.timeout:
            print("null", flush=True)
"""


class Client:
    def __init__(self, net):
        self.p = subprocess.Popen(["ip", "netns", "exec", net.cli_ns, sys.executable, "-c", CLIENT],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        on_cleanup(self.close)
        assert self.p.stdout.readline().strip() == "ready"

    def send(self, payload):
        self.p.stdin.write("send %s\n" % base64.b64encode(payload).decode())
        self.p.stdin.flush()
        self.p.stdout.readline()

    def recv(self, timeout):
        self.p.stdin.write("recv %s\n" % timeout)
        self.p.stdin.flush()
        return json.loads(self.p.stdout.readline())

    def close(self):
        if self.p.poll() is None:
            self.p.stdin.close()
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(5)


def register(cseq=1, call_id=True, extra="", via="SIP/2.0/UDP 198.18.0.2:5090;branch=z9hG4bK-m1;rport"):
    lines = ["REGISTER sip:sipreg.test SIP/2.0",
             "Via: " + via,
             "Max-Forwards: 70",
             "From: <sip:alice@sipreg.test>;tag=m1",
             "To: <sip:alice@sipreg.test>"]
    if call_id:
        lines.append("Call-ID: malformed-%d@198.18.0.2" % cseq)
    lines += ["CSeq: %d REGISTER" % cseq,
              "Contact: <sip:alice@198.18.0.2:5090>",
              "Expires: 600"]
    if extra:
        lines.append(extra)
    lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def cases():
    rnd = random.Random(5)
    full = register()
    yield "truncated REGISTER (cut inside the headers)", full[:len(full) // 2]
    yield "truncated REGISTER (request line only, no CRLF)", b"REGISTER sip:sipreg.test SIP/2.0"
    yield "binary garbage", bytes(rnd.randrange(256) for _ in range(300))
    yield "NUL bytes", b"\x00" * 64
    yield "REGISTER with NUL in a header", full.replace(b"Max-Forwards: 70", b"Max-Forwards: 7\x000")
    yield "REGISTER missing Call-ID", register(call_id=False)
    # Over the parser's limits (parser/sip_parser.h), each within one
    # 1,500-byte frame so the parser, not IP, sees it.
    yield "REGISTER with 70 Via entries (limit 64)", register(
        via="SIP/2.0/UDP 198.18.0.2:5090;branch=z9hG4bK-m1, " +
        ", ".join("SIP/2.0/UDP h%d" % i for i in range(69)))
    yield "REGISTER with 40 unknown headers (limit 32)", register(
        extra="\r\n".join("X-H%d: v" % i for i in range(40)))
    yield "REGISTER with 9 Contacts (limit 8)", register(
        extra="\r\n".join("Contact: <sip:alice@198.18.0.2:%d>" % (6000 + i) for i in range(8)))
    yield "REGISTER with a bad CSeq", register().replace(b"CSeq: 1 REGISTER", b"CSeq: abc REGISTER")
    yield "REGISTER with CSeq method mismatch", register().replace(b"CSeq: 1 REGISTER", b"CSeq: 1 INVITE")
    yield "REGISTER with Content-Length beyond the datagram", register().replace(
        b"Content-Length: 0", b"Content-Length: 500")
    yield "REGISTER with an unterminated <Contact", register().replace(
        b"Contact: <sip:alice@198.18.0.2:5090>", b"Contact: <sip:alice@198.18.0.2:5090")
    yield "REGISTER with a bad request URI", register().replace(b"REGISTER sip:sipreg.test", b"REGISTER ::::")
    yield "SIP/3.0 request", register().replace(b"SIP/2.0\r\n", b"SIP/3.0\r\n", 1)
    yield "a SIP response (registrar sends none)", b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 198.18.0.2:5090;branch=z9hG4bK-r\r\nFrom: <sip:a@sipreg.test>;tag=1\r\nTo: <sip:a@sipreg.test>\r\nCall-ID: r1\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n"
    yield "empty datagram", b""
    yield "4,000-byte datagram (IP fragments)", register(extra="X-Pad: " + "p" * 3900)


def main():
    tap = Tap()
    net = TestNet("regmal")
    dp = Dataplane(net, extra_config=SIP_CONFIG)
    import_accounts(dp, [("alice", "secret1", "acme")])
    try:
        dp.start()
    except RuntimeError as e:
        tap.check(False, "dataplane starts", e)
        return tap.finish()

    def counters():
        return {k: v[0] for k, v in dp.stats()["counters"].items()}

    client = Client(net)

    def exchange(payload):
        """Sends payload; returns (reply or None, counter delta) once the
        dataplane has counted an outcome for it (at most 5 s)."""
        before = counters()
        client.send(payload)
        deadline = time.time() + 5
        while True:
            after = counters()
            delta = {k: after[k] - before[k] for k in after if after[k] != before[k]}
            if any(k.startswith(("drop_", "reply_")) for k in delta) or time.time() > deadline:
                break
            time.sleep(0.01)
        time.sleep(0.05)        # the rest of a fragmented datagram
        after = counters()
        delta = {k: after[k] - before[k] for k in after if after[k] != before[k]}
        replied = any(k.startswith("reply_") for k in delta)
        return client.recv(3.0 if replied else 0.2), delta

    for name, payload in cases():
        reply, delta = exchange(payload)
        first = reply.split("\r\n", 1)[0] if reply else None
        drops = sum(v for k, v in delta.items() if k.startswith("drop_"))
        replies = sum(v for k, v in delta.items() if k.startswith("reply_"))
        if reply is None:
            # one frame, one counter; IP fragments are each dropped
            good = (drops == 1 or drops == delta.get("drop_bad_ip_header", 0) >= 1) and replies == 0
        else:
            good = ((first.startswith("SIP/2.0 400 ") and delta.get("reply_400") == 1
                     or first.startswith("SIP/2.0 513 ") and delta.get("reply_other") == 1)
                    and drops == 0)
        tap.check(good and delta.get("reply_200", 0) == 0,
                  "%s: %s, counted (%s)" % (name, first or "dropped",
                                            ", ".join(k for k in delta if k.startswith(("drop_", "reply_")))),
                  "reply=%r delta=%s" % (reply and reply[:300], delta))
        if reply:
            tap.check("Via: SIP/2.0/UDP 198.18.0.2:5090" in reply and "\r\n\r\n" in reply,
                      "%s: the 400 goes back to the source with its Via" % name, reply[:500])

    tap.check(not bindings_by_aor(dp), "no malformed request created a binding")

    # Well-formed requests the registrar refuses before authentication.
    for name, payload, code, header in (
            ("REGISTER for a domain not served", register().replace(b"sip:sipreg.test SIP", b"sip:other.test SIP"),
             "404", None),
            ("REGISTER with Require: foo", register(extra="Require: path, foo"), "420", "Unsupported: foo"),
            ("INVITE", register().replace(b"REGISTER sip:", b"INVITE sip:").replace(b"1 REGISTER", b"1 INVITE"),
             "405", "Allow: REGISTER, OPTIONS"),
            ("OPTIONS", register().replace(b"REGISTER sip:", b"OPTIONS sip:").replace(b"1 REGISTER", b"1 OPTIONS"),
             "200", "Allow: REGISTER, OPTIONS")):
        reply, delta = exchange(payload)
        tap.check(reply is not None and reply.startswith("SIP/2.0 %s " % code)
                  and (header is None or "\r\n%s\r\n" % header in reply)
                  and delta.get("reply_%s" % code) == 1,
                  "%s: %s%s, counted" % (name, code, " with %s" % header if header else ""),
                  (reply and reply[:400], delta))

    # Long but legal: a 1,000-byte header value is not malformed; the
    # request goes on to authentication (401).
    reply, delta = exchange(register(extra="X-Big: " + "a" * 1000))
    tap.check(reply and reply.startswith("SIP/2.0 401 "),
              "REGISTER with a 1,000-byte header value is challenged normally (401)",
              (reply and reply[:300], delta))
    st = dp.stats()
    tap.check(dp.proc.poll() is None, "dataplane still running after the malformed datagrams")

    # Still serving: OPTIONS, and a full digest registration.
    reply, delta = exchange(register().replace(b"REGISTER sip:sipreg.test", b"OPTIONS sip:sipreg.test")
                            .replace(b"1 REGISTER", b"1 OPTIONS"))
    tap.check(reply and reply.startswith("SIP/2.0 200 "), "OPTIONS answered 200 afterwards",
              (reply, delta))
    client.close()
    r = net.in_client(["timeout", "10", "sipsak", "-U", "-C", "sip:alice@198.18.0.2:5070",
                       "-s", "sip:alice@198.18.0.1", "-a", "secret1", "-u", "alice", "-x", "600"],
                      check=False, timeout=15)
    bs = wait_for(lambda: bindings_by_aor(dp).get("sip:alice@198.18.0.1"), timeout=2)
    tap.check(r.returncode == 0 and bs, "a valid digest registration (sipsak) still works afterwards",
              r.stdout[-1000:])
    tap.check(dp.stop() == 0, "dataplane stops cleanly", dp.log())
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
