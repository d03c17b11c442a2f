/*
 * responder.c — the trivial registrar that measures the generator's ceiling.
 *
 * It answers a REGISTER without Authorization with 401 (a fixed nonce) and
 * one with Authorization with 200, without checking anything and without
 * keeping state: the cheapest peer that still makes the generator do its
 * full work (parse the challenge, compute the digest, match the 200). What
 * the generator reaches against it is the generator's ceiling on this
 * path. One socket, recvmmsg/sendmmsg batches.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "flood.h"

static volatile sig_atomic_t responder_stop;

static void on_signal(int sig)
{
	(void)sig;
	responder_stop = 1;
}

struct request_view {
	struct str_slice via[8];
	unsigned n_via;
	struct str_slice from, to, call_id, cseq, contact;
	bool has_auth;
};

static bool name_is(const char *p, size_t n, const char *full, const char *compact)
{
	size_t fl = strlen(full);
	if (n == fl && strncasecmp(p, full, n) == 0)
		return true;
	return compact != NULL && n == 1 && (p[0] | 0x20) == compact[0];
}

static int parse_request(const char *buf, size_t len, struct request_view *rq)
{
	const char *p = buf, *end = buf + len;

	memset(rq, 0, sizeof(*rq));
	if (len < 9 || memcmp(p, "REGISTER ", 9) != 0)
		return -1;
	const char *eol = memchr(p, '\n', len);
	if (eol == NULL)
		return -1;
	p = eol + 1;
	while (p < end) {
		eol = memchr(p, '\n', (size_t)(end - p));
		const char *le = eol != NULL ? eol : end;
		if (le > p && le[-1] == '\r')
			le--;
		if (le == p)
			break;
		const char *colon = memchr(p, ':', (size_t)(le - p));
		if (colon != NULL) {
			const char *ne = colon;
			while (ne > p && (ne[-1] == ' ' || ne[-1] == '\t'))
				ne--;
			const char *v = colon + 1;
			while (v < le && (*v == ' ' || *v == '\t'))
				v++;
			struct str_slice val = { v, (size_t)(le - v) };
			size_t nl = (size_t)(ne - p);
			if (name_is(p, nl, "Via", "v")) {
				if (rq->n_via < 8)
					rq->via[rq->n_via++] = val;
			} else if (name_is(p, nl, "From", "f")) {
				rq->from = val;
			} else if (name_is(p, nl, "To", "t")) {
				rq->to = val;
			} else if (name_is(p, nl, "Call-ID", "i")) {
				rq->call_id = val;
			} else if (name_is(p, nl, "CSeq", NULL)) {
				rq->cseq = val;
			} else if (name_is(p, nl, "Contact", "m")) {
				rq->contact = val;
			} else if (name_is(p, nl, "Authorization", NULL)) {
				rq->has_auth = true;
			}
		}
		if (eol == NULL)
			break;
		p = eol + 1;
	}
	if (rq->n_via == 0 || rq->from.p == NULL || rq->to.p == NULL ||
	    rq->call_id.p == NULL || rq->cseq.p == NULL)
		return -1;
	return 0;
}

static size_t put(char *dst, size_t off, size_t cap, const char *s, size_t n)
{
	if (off + n > cap)
		return cap + 1;
	memcpy(dst + off, s, n);
	return off + n;
}

#define PUT_LIT(lit) (off = put(out, off, cap, lit, sizeof(lit) - 1))
#define PUT_SLICE(sl) (off = put(out, off, cap, (sl).p, (sl).len))

static int build_response(const struct request_view *rq, const char *challenge, char *out, size_t cap)
{
	size_t off = 0;
	if (!rq->has_auth)
		PUT_LIT("SIP/2.0 401 Unauthorized\r\n");
	else
		PUT_LIT("SIP/2.0 200 OK\r\n");
	for (unsigned i = 0; i < rq->n_via; i++) {
		PUT_LIT("Via: ");
		PUT_SLICE(rq->via[i]);
		PUT_LIT("\r\n");
	}
	PUT_LIT("From: ");
	PUT_SLICE(rq->from);
	PUT_LIT("\r\nTo: ");
	PUT_SLICE(rq->to);
	PUT_LIT(";tag=flood-responder\r\nCall-ID: ");
	PUT_SLICE(rq->call_id);
	PUT_LIT("\r\nCSeq: ");
	PUT_SLICE(rq->cseq);
	PUT_LIT("\r\n");
	if (!rq->has_auth) {
		off = put(out, off, cap, challenge, strlen(challenge));
	} else if (rq->contact.p != NULL) {
		PUT_LIT("Contact: ");
		PUT_SLICE(rq->contact);
		PUT_LIT(";expires=3600\r\n");
	}
	PUT_LIT("Server: sipreg-flood-responder\r\nContent-Length: 0\r\n\r\n");
	return off > cap ? -1 : (int)off;
}

int responder_run(const struct flood_config *cfg)
{
	int fd = socket(cfg->listen.ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("flood: socket");
		return 1;
	}
	int one = 1, sz = (int)cfg->rcvbuf;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) != 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) != 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	if (bind(fd, (const struct sockaddr *)&cfg->listen.ss, cfg->listen.len) != 0) {
		fprintf(stderr, "flood: bind %s: %s\n", cfg->listen.host, strerror(errno));
		close(fd);
		return 1;
	}

	char challenge[256];
	snprintf(challenge, sizeof(challenge),
		 "WWW-Authenticate: Digest realm=\"%s\", nonce=\"%08lx0123456789abcdef\", "
		 "algorithm=%s, qop=\"auth\"\r\n",
		 cfg->domain, (unsigned long)time(NULL),
		 cfg->responder_algo == DIGEST_SHA256 ? "SHA-256" : "MD5");

	static struct mmsghdr rx[FLOOD_BATCH], tx[FLOOD_BATCH];
	static struct iovec rx_iov[FLOOD_BATCH], tx_iov[FLOOD_BATCH];
	static struct sockaddr_storage peers[FLOOD_BATCH];
	static char rx_buf[FLOOD_BATCH][FLOOD_MSG_MAX], tx_buf[FLOOD_BATCH][FLOOD_MSG_MAX];
	uint64_t received = 0, answered_401 = 0, answered_200 = 0, ignored = 0;
	uint64_t end_ns = cfg->responder_duration_s > 0
		? now_ns() + (uint64_t)(cfg->responder_duration_s * 1e9) : UINT64_MAX;

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (!cfg->quiet)
		fprintf(stderr, "flood: responder on %s, challenge %s, for %.0f s\n", cfg->listen.host,
			cfg->responder_algo == DIGEST_SHA256 ? "SHA-256" : "MD5", cfg->responder_duration_s);

	while (!responder_stop && now_ns() < end_ns) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		for (unsigned k = 0; k < FLOOD_BATCH; k++) {
			rx_iov[k] = (struct iovec){ rx_buf[k], FLOOD_MSG_MAX };
			rx[k].msg_hdr = (struct msghdr){ .msg_name = &peers[k], .msg_namelen = sizeof(peers[k]),
							 .msg_iov = &rx_iov[k], .msg_iovlen = 1 };
		}
		int r = recvmmsg(fd, rx, FLOOD_BATCH, MSG_DONTWAIT, NULL);
		if (r <= 0)
			continue;
		received += (uint64_t)r;
		unsigned n_tx = 0;
		for (int k = 0; k < r; k++) {
			struct request_view rq;
			if (parse_request(rx_buf[k], rx[k].msg_len, &rq) != 0) {
				ignored++;
				continue;
			}
			int len = build_response(&rq, challenge, tx_buf[n_tx], FLOOD_MSG_MAX);
			if (len < 0) {
				ignored++;
				continue;
			}
			if (rq.has_auth)
				answered_200++;
			else
				answered_401++;
			tx_iov[n_tx] = (struct iovec){ tx_buf[n_tx], (size_t)len };
			tx[n_tx].msg_hdr = (struct msghdr){ .msg_name = &peers[k], .msg_namelen = rx[k].msg_hdr.msg_namelen,
							    .msg_iov = &tx_iov[n_tx], .msg_iovlen = 1 };
			n_tx++;
		}
		unsigned sent = 0;
		while (sent < n_tx) {
			int s = sendmmsg(fd, tx + sent, n_tx - sent, 0);
			if (s <= 0) {
				if (s < 0 && errno == EINTR)
					continue;
				break;
			}
			sent += (unsigned)s;
		}
	}
	close(fd);
	printf("{\"responder_received\":%" PRIu64 ",\"answered_401\":%" PRIu64 ",\"answered_200\":%" PRIu64
	       ",\"ignored\":%" PRIu64 "}\n", received, answered_401, answered_200, ignored);
	return 0;
}
