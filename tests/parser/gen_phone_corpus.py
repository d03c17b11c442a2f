#!/usr/bin/env python3
"""Writes tests/parser/corpus/phones/: REGISTERs shaped like those of real
phones and softphones (header order, Contact parameters, User-Agent strings
as the vendors document and send them). For each: the first REGISTER
(no credentials) and the second one (Digest Authorization after a 401), the
latter being the ~700-byte message perf/bench-parse measures.

Run from the repo root: python3 tests/parser/gen_phone_corpus.py
"""
import hashlib
import os

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "phones")
REALM = "sip.example.com"
NONCE = "Z2V0LWEtbm9uY2UtZnJvbS1zaXByZWctMTcwMDAwMDAwMA"
OPAQUE = "5ccc069c403ebaf9f0171e9517f40e41"


def md5(s):
    return hashlib.md5(s.encode()).hexdigest()


def digest(user, uri, cnonce, nc="00000001", alg="MD5", qop=True, opaque=True, style="std"):
    ha1 = md5(f"{user}:{REALM}:secret")
    ha2 = md5(f"REGISTER:{uri}")
    resp = md5(f"{ha1}:{NONCE}:{nc}:{cnonce}:auth:{ha2}") if qop else md5(f"{ha1}:{NONCE}:{ha2}")
    if alg == "SHA-256":
        resp = hashlib.sha256(resp.encode()).hexdigest()
    parts = [f'username="{user}"', f'realm="{REALM}"', f'nonce="{NONCE}"', f'uri="{uri}"',
             f'response="{resp}"', f"algorithm={alg}"]
    if qop:
        parts += [f'cnonce="{cnonce}"', "qop=auth", f"nc={nc}"]
    if opaque:
        parts.append(f'opaque="{OPAQUE}"')
    if style == "linphone":
        parts = [f'realm="{REALM}"', f'nonce="{NONCE}"', f"algorithm={alg}", f'opaque="{OPAQUE}"',
                 f'username="{user}"', f'uri="{uri}"', f'response="{resp}"', f'cnonce="{cnonce}"',
                 "nc=00000001", "qop=auth"]
    sep = ", " if style != "compact" else ","
    return "Digest " + sep.join(parts)


PHONES = {
    "yealink-t46s": dict(
        user="1001", ip="192.168.1.101", port=5060, transport="UDP",
        branch="z9hG4bK1431257613", tag="1723461890", callid="0_2512938421@192.168.1.101",
        ua="Yealink SIP-T46S 66.86.0.15",
        contact='<sip:1001@192.168.1.101:5060>;reg-id=1;+sip.instance="<urn:uuid:00100000-0000-1000-8000-805ec0a1b2c3>"',
        extra=["Allow: INVITE, INFO, PRACK, ACK, BYE, CANCEL, OPTIONS, NOTIFY, REGISTER, SUBSCRIBE, REFER, PUBLISH, UPDATE, MESSAGE",
               "Supported: path, outbound"],
        order="via contact mf from to callid cseq ua extra expires auth cl", cnonce="0a4f113b"),
    "grandstream-gxp2170": dict(
        user="1002", ip="192.168.1.102", port=5062, transport="UDP",
        branch="z9hG4bK1087543210", tag="1285926347", callid="1958573049-5062-1@BJC.BGI.B.BCC",
        ua="Grandstream GXP2170 1.0.11.3",
        contact='<sip:1002@192.168.1.102:5062;transport=udp>;reg-id=1;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000B82A1B2C3>"',
        extra=["Supported: path", "Allow: INVITE, ACK, OPTIONS, CANCEL, BYE, SUBSCRIBE, NOTIFY, INFO, REFER, UPDATE, MESSAGE"],
        order="via route? from to callid cseq contact auth mf ua extra expires cl", cnonce="6b8b4567"),
    "polycom-vvx411": dict(
        user="1003", ip="10.0.0.23", port=5061, transport="TLS",
        branch="z9hG4bKa8a1b9e1c4d2E3F4", tag="4C1A2B3C-5D6E7F80", callid="a1b2c3d4-e5f60718-2a3b4c5d@10.0.0.23",
        ua="PolycomVVX-VVX_411-UA/6.3.1.8427",
        contact='<sip:1003@10.0.0.23:5061;transport=tls>;methods="INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, MESSAGE, SUBSCRIBE, NOTIFY, PRACK, UPDATE, REFER"',
        extra=["Accept-Language: en", "Max-Forwards: 70"],
        order="via from to cseq callid contact ua extra auth expires cl", cnonce="d7c0e6f1", nomf=True),
    "cisco-spa504g": dict(
        user="1004", ip="192.168.1.50", port=5060, transport="UDP",
        branch="z9hG4bK-6a3f8c21", tag="c0e2f1a9d8b7c6e5i0", callid="6d2f41b0-7b2c1a40@192.168.1.50",
        ua="Cisco/SPA504G-7.6.2c",
        contact='<sip:1004@192.168.1.50:5060>;expires=3600',
        extra=["Allow: ACK, BYE, CANCEL, INFO, INVITE, NOTIFY, OPTIONS, REFER, UPDATE",
               "Supported: replaces"],
        order="via from to callid cseq mf auth contact ua extra expires cl", cnonce="ab12cd34", rport=True),
    "snom-d785": dict(
        user="1005", ip="192.168.1.60", port=5060, transport="UDP",
        branch="z9hG4bK-xsk0o2b1a1mk;rport", tag="f1h2k3m4n5", callid="3c26700b5f7a-zr4ntg8gpwf2",
        ua="snomD785/10.1.73.16",
        contact='<sip:1005@192.168.1.60:5060;line=kdq8vf1a>;reg-id=1;q=1.0;+sip.instance="<urn:uuid:a1b2c3d4-e5f6-4a5b-8c9d-000413a1b2c3>";audio;mobility="fixed";duplex="full";description="snom D785";actor="principal";events="dialog";methods="INVITE,ACK,CANCEL,BYE,REFER,OPTIONS,NOTIFY,SUBSCRIBE,PRACK,MESSAGE,INFO,UPDATE"',
        extra=["Allow-Events: dialog", "X-Real-IP: 192.168.1.60", "Supported: path, gruu, outbound"],
        order="via from to callid cseq mf contact ua extra auth expires cl", cnonce="8cfe0a3e"),
    "zoiper": dict(
        user="1006", ip="10.0.0.5", port=52143, transport="UDP",
        branch="z9hG4bK-524287-1---f1b4b3a3d3c2e1f0;rport", tag="d7a3b9c1", callid="ZTk4MmJmNzM4YTc1ZjA4ZTk1ZWJkY2Y3OGYwYjE1ZTI",
        ua="Z 5.6.1 v2.10.19.9",
        contact='<sip:1006@203.0.113.7:52143;rinstance=2f0c1d58f0a1b3c5;transport=UDP>',
        extra=["Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE",
               "Allow-Events: presence, kpml, talk"],
        order="via mf contact to from callid cseq expires extra ua auth cl", cnonce="4e4f4e434521", zoiper=True),
    "linphone": dict(
        user="1007", ip="192.0.2.77", port=37417, transport="UDP",
        branch="z9hG4bK.Pm0r~5dJd", tag="lK4qkP~Zy", callid="bXw9gk-DVD",
        ua="Linphone-Desktop/5.2.0 (belle-sip/5.2.0)",
        contact='<sip:1007@192.0.2.77:37417;transport=udp>;+sip.instance="<urn:uuid:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0>";+org.linphone.specs="lime"',
        extra=["Supported: replaces, outbound, gruu, path"],
        order="via from to cseq callid mf supported? expires contact ua auth extra cl", cnonce="Vt8e3Ld~qK", alg="SHA-256",
        style="linphone"),
    "baresip": dict(
        user="1008", ip="192.0.2.88", port=5060, transport="UDP",
        branch="z9hG4bK9c5a4f0e2d1b3a47", tag="e9a2c14f0b7d3a58", callid="8f2a1c3e5b7d9f01",
        ua="baresip v3.10.1 (x86_64/Linux)",
        contact='<sip:1008-0x55a84c2b@192.0.2.88:5060;transport=udp>;expires=3600',
        extra=["Allow: INVITE,ACK,BYE,CANCEL,OPTIONS,NOTIFY,SUBSCRIBE,INFO,MESSAGE,REFER,UPDATE", "Supported: replaces,norefersub"],
        order="via contact mf to from callid cseq auth ua extra expires cl", cnonce="b4e1f2a3c5d6e7f8", rport=True, style="compact"),
    "sipp": dict(
        user="1009", ip="198.18.0.2", port=5060, transport="UDP",
        branch="z9hG4bK-2471-1-0", tag="2471SIPpTag001", callid="1-2471@198.18.0.2",
        ua="sipp",
        contact='sip:1009@198.18.0.2:5060',
        extra=["Subject: Performance Test"],
        order="via from to callid cseq contact mf extra expires auth cl", cnonce="0001", noua=True),
    "microsip": dict(
        user="1010", ip="192.168.0.10", port=63425, transport="UDP",
        branch="z9hG4bKPj5c3f1b2e9a4d47c0b8e6f5a2d1c3b4e7", tag="3e4f5a6b7c8d49e0a1b2c3d4e5f6a7b8",
        callid="9a1b2c3d4e5f47a8b9c0d1e2f3a4b5c6",
        ua="MicroSIP/3.21.3",
        contact='<sip:1010@192.168.0.10:63425;ob>',
        extra=["Supported: outbound, path", "Allow: PRACK, INVITE, ACK, BYE, CANCEL, UPDATE, INFO, SUBSCRIBE, NOTIFY, REFER, MESSAGE, OPTIONS"],
        order="via mf from to callid cseq ua contact expires extra auth cl", cnonce="f0d3a5b7c9e14d2a8b6c", rport=True, pj=True),
}


def build(name, p, cseq, auth):
    uri = f"sip:{REALM}"
    via = f"Via: SIP/2.0/{p['transport']} {p['ip']}:{p['port']}"
    if p.get("rport") or p.get("pj"):
        via += ";rport"
    via += f";branch={p['branch']}" + (str(cseq) if not p['branch'].endswith(';rport') else '')
    if p['branch'].endswith(';rport'):
        via = f"Via: SIP/2.0/{p['transport']} {p['ip']}:{p['port']};branch={p['branch'].replace(';rport', str(cseq) + ';rport')}"
    hdr = {
        "via": via,
        "contact": f"Contact: {p['contact']}",
        "mf": "Max-Forwards: 70",
        "from": f"From: <sip:{p['user']}@{REALM}>;tag={p['tag']}" if name not in ("polycom-vvx411", "linphone")
        else f"From: \"{p['user']}\" <sip:{p['user']}@{REALM}>;tag={p['tag']}",
        "to": f"To: <sip:{p['user']}@{REALM}>",
        "callid": f"Call-ID: {p['callid']}",
        "cseq": f"CSeq: {cseq} REGISTER",
        "ua": f"User-Agent: {p['ua']}",
        "expires": "Expires: 3600",
        "cl": "Content-Length: 0",
    }
    lines = [f"REGISTER {uri} SIP/2.0"]
    for key in p["order"].split():
        if key.endswith("?"):
            continue
        if key == "extra":
            lines += p["extra"]
        elif key == "auth":
            if auth:
                lines.append("Authorization: " + digest(p["user"], uri, p["cnonce"], alg=p.get("alg", "MD5"),
                                                        style=p.get("style", "std")))
        elif key == "ua" and p.get("noua"):
            continue
        elif key == "mf" and p.get("nomf"):
            continue
        else:
            lines.append(hdr[key])
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, p in PHONES.items():
        open(os.path.join(OUT, f"{name}-1-initial.sip"), "wb").write(build(name, p, 1, False))
        open(os.path.join(OUT, f"{name}-2-auth.sip"), "wb").write(build(name, p, 2, True))
    # a few registrar shapes every phone produces sooner or later
    base = build("yealink-t46s", PHONES["yealink-t46s"], 3, True).decode()
    unreg = base.replace("Expires: 3600", "Expires: 0").replace(
        f"Contact: {PHONES['yealink-t46s']['contact']}", "Contact: *")
    open(os.path.join(OUT, "yealink-t46s-3-unregister-star.sip"), "wb").write(unreg.encode())
    v6 = build("linphone", PHONES["linphone"], 2, True).decode().replace("192.0.2.77", "[2001:db8::77]")
    open(os.path.join(OUT, "linphone-ipv6.sip"), "wb").write(v6.encode())
    tls = build("polycom-vvx411", PHONES["polycom-vvx411"], 2, True).decode().replace(
        "REGISTER sip:", "REGISTER sips:").replace("<sip:1003@10.0.0.23", "<sips:1003@10.0.0.23")
    open(os.path.join(OUT, "polycom-vvx411-sips.sip"), "wb").write(tls.encode())
    path = base.replace("Max-Forwards: 70", "Max-Forwards: 69\r\nPath: <sip:edge1.example.com;lr>\r\n"
                        "Via: SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bKedge1")
    open(os.path.join(OUT, "yealink-t46s-via-edge-proxy-path.sip"), "wb").write(path.encode())
    ok = ("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.168.1.101:5060;branch=z9hG4bK14312576132;rport=5060;"
          "received=203.0.113.9\r\nFrom: <sip:1001@sip.example.com>;tag=1723461890\r\nTo: <sip:1001@sip.example.com>"
          ";tag=as5f1e2d3c\r\nCall-ID: 0_2512938421@192.168.1.101\r\nCSeq: 2 REGISTER\r\nContact: <sip:1001@192.168.1.101:5060>"
          ";expires=3600\r\nDate: Thu, 26 Nov 2026 14:00:00 GMT\r\nContent-Length: 0\r\n\r\n")
    open(os.path.join(OUT, "registrar-200-ok.sip"), "wb").write(ok.encode())
    chal = ("SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/UDP 192.168.1.101:5060;branch=z9hG4bK14312576131;rport=5060;"
            "received=203.0.113.9\r\nFrom: <sip:1001@sip.example.com>;tag=1723461890\r\nTo: <sip:1001@sip.example.com>"
            f";tag=as5f1e2d3c\r\nCall-ID: 0_2512938421@192.168.1.101\r\nCSeq: 1 REGISTER\r\nWWW-Authenticate: Digest "
            f"realm=\"{REALM}\", nonce=\"{NONCE}\", opaque=\"{OPAQUE}\", algorithm=MD5, qop=\"auth\"\r\nContent-Length: 0\r\n\r\n")
    open(os.path.join(OUT, "registrar-401-challenge.sip"), "wb").write(chal.encode())


if __name__ == "__main__":
    main()
