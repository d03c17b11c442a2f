#!/usr/bin/env python3
"""The chain the whole registrar stands on: the test network, hugepages,
DPDK with net_af_xdp on the server veth, our XDP program redirecting only
the SIP port to the socket, while ARP, ICMP and other UDP reach the kernel.

The dataplane runs in echo mode: it sends every SIP-port datagram back, so
the client can check that exactly the datagrams it sent were received.
"""
import sys
import os

sys.path.insert(0, os.path.dirname(__file__))
from sipreg_testlib import Tap, TestNet, Dataplane, SERVER_V4, SERVER_V6, client_v4  # noqa: E402

N_DATAGRAMS = 200

SEND_AND_COLLECT = r"""
import socket, json, sys
fam, src, dst, n, tag = %r
s = socket.socket(socket.AF_INET6 if fam == 6 else socket.AF_INET, socket.SOCK_DGRAM)
s.bind((src, 0))
s.settimeout(2.0)
sent = set()
got = []
for i in range(n):
    payload = ("%%s datagram %%d from %%s" %% (tag, i, src)).encode()
    sent.add(payload)
    s.sendto(payload, (dst, 5060))
    # one at a time keeps the test independent of socket buffer sizes
    try:
        data, addr = s.recvfrom(4096)
        got.append((data.decode(), addr[0], addr[1]))
    except socket.timeout:
        pass
print(json.dumps({"sent": sorted(p.decode() for p in sent), "got": got}))
"""


def main():
    tap = Tap()
    net = TestNet("chain")
    dp = Dataplane(net, mode="echo")
    try:
        dp.start()
        tap.check(True, "dataplane starts on net_af_xdp in the server namespace")
    except RuntimeError as e:
        tap.check(False, "dataplane starts on net_af_xdp in the server namespace", e)
        return tap.finish()

    import json
    total = 0
    for fam, src, dst, tag in ((4, client_v4(0), SERVER_V4, "v4a"),
                               (4, client_v4(7), SERVER_V4, "v4b"),
                               (6, "2001:db8::5", SERVER_V6, "v6")):
        out = json.loads(net.client_python(SEND_AND_COLLECT % ((fam, src, dst, N_DATAGRAMS, tag),)))
        got_payloads = sorted(g[0] for g in out["got"])
        tap.check(got_payloads == out["sent"],
                  "IPv%d from %s: every datagram echoed exactly once" % (fam, src),
                  "sent %d, got %d" % (len(out["sent"]), len(got_payloads)))
        tap.check(all(g[1] == dst and g[2] == 5060 for g in out["got"]),
                  "IPv%d from %s: replies come from the server address and SIP port" % (fam, src))
        total += N_DATAGRAMS

    counters = dp.stats()["counters"]
    tap.check(counters["rx_sip_datagrams"][0] == total,
              "dataplane counted exactly the datagrams sent to the SIP port",
              "rx_sip_datagrams=%d expected %d" % (counters["rx_sip_datagrams"][0], total))
    tap.check(counters["drop_bad_checksum"][0] == 0, "no checksum drops on the veth path",
              counters)

    # Non-SIP traffic passes to the kernel: ARP (a fresh neighbour entry is
    # needed for ping) and ICMP, and UDP to another port gets the kernel's
    # ICMP port unreachable rather than vanishing into the socket.
    net.in_client(["ip", "neigh", "flush", "all"], check=False)
    r = net.in_client(["ping", "-c", "3", "-i", "0.2", "-W", "1", SERVER_V4], check=False)
    tap.check(r.returncode == 0, "ARP and ICMP to the server address still work", r.stdout)
    r = net.in_client(["ping", "-6", "-c", "2", "-i", "0.2", "-W", "1", SERVER_V6], check=False)
    tap.check(r.returncode == 0, "IPv6 neighbour discovery and ICMPv6 still work", r.stdout)
    other = net.client_python(r"""
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(("198.18.0.1", 5999)); s.settimeout(1.0)
s.send(b"not sip")
try:
    s.recv(100); print("reply")
except ConnectionRefusedError:
    print("refused")
except socket.timeout:
    print("timeout")
""").strip()
    tap.check(other == "refused", "UDP to another port reaches the kernel (ICMP port unreachable)", other)
    after = dp.stats()["counters"]
    tap.check(after["rx_sip_datagrams"][0] == total and after["rx_packets"][0] == total,
              "non-SIP traffic never reached the dataplane", after)

    rc = dp.stop()
    tap.check(rc == 0, "dataplane stops cleanly on SIGTERM", dp.log())
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
