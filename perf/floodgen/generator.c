/*
 * generator.c — the REGISTER load generator's event loop and user agents.
 *
 * One thread, one state machine per user. An operation is one registration,
 * refresh or unregistration seen from the phone: it starts with a REGISTER
 * and ends with the final response to the last REGISTER it needed (the
 * challenge round trip is part of it), or with a timeout. Latency is
 * measured per operation, from the first send to the final response.
 *
 * Why it is built this way:
 * - A user is bound to one socket, so the server sees each phone at a
 *   stable source address and port, as with real phones. Blocks of
 *   FLOOD_BATCH consecutive users share a socket: operations start in user
 *   order, so a burst of starts fills whole sendmmsg batches.
 * - Requests are queued per socket and sent with sendmmsg; responses are
 *   read with recvmmsg. Syscalls, not SIP, are the generator's cost.
 * - Retransmit timers sit in one FIFO per retransmit level: every entry of
 *   a level has the same delay, so each FIFO is sorted by deadline and a
 *   timer costs O(1). Answered requests leave stale entries behind that are
 *   recognised by a generation number and dropped when they reach the head.
 * - Idle users wait in a FIFO: the next operation goes to the user idle for
 *   the longest time, which cycles through the user set in order.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/resource.h>

#include "flood.h"

enum ua_state { UA_IDLE, UA_WAIT_CHALLENGE, UA_WAIT_FINAL };
enum op_kind { OP_REGISTER, OP_REFRESH, OP_UNREGISTER };

struct ua {
	uint8_t state;
	uint8_t op;
	uint8_t algo;
	uint8_t bad;            /* this operation uses a wrong password */
	uint8_t has_creds;      /* nonce from an earlier operation is usable */
	uint8_t fresh_nonce;    /* the credentials in flight use a nonce from this operation */
	uint8_t has_qop;
	uint8_t has_algo_param;
	uint8_t level;          /* retransmit level of the request in flight */
	uint8_t ha1_valid;
	uint8_t challenges;     /* challenges followed in this operation */
	uint32_t cseq;
	uint32_t nc;
	uint32_t cnonce;
	uint32_t gen;           /* bumps on every new request and on completion */
	uint64_t op_start_ns;
	char nonce[FLOOD_NONCE_MAX];
	char opaque[FLOOD_OPAQUE_MAX];
	char response[FLOOD_HEX_MAX];
	char ha1[FLOOD_HEX_MAX];
};

struct timer_entry {
	uint32_t ua;
	uint32_t gen;
	uint64_t deadline_ns;
};

struct timer_fifo {
	struct timer_entry *e;
	size_t cap, head, n;
	uint64_t delay_ns;
};

struct tx_socket {
	int fd;
	char host[64];          /* local address as written in Via and Contact */
	uint16_t port;
	char hostport[80];      /* "host:port" */
	size_t hostport_len;
	unsigned n_pending;
	struct mmsghdr msgs[FLOOD_BATCH];
	struct iovec iov[FLOOD_BATCH];
	char bufs[FLOOD_BATCH][FLOOD_MSG_MAX];
};

struct run_stats {
	uint64_t ops_started, ops_ok, ops_rejected, ops_failed, timeouts, unfinished;
	uint64_t bad_accepted;  /* 200 to a wrong password: a registrar bug */
	uint64_t requests, retransmits, responses, stray, unparsed, send_errors;
	uint64_t codes[700];
	struct latency_hist lat;
	uint64_t t_start_ns, t_last_ns;
	double cpu_start_s;     /* generator's own CPU time at the phase start */
};

struct generator {
	const struct flood_config *cfg;
	struct ua *uas;
	unsigned n_users;
	char **csv_users, **csv_passwords;
	char *names;            /* n_users names of name_stride bytes, from --user-format */
	size_t name_stride;
	size_t domain_len;
	struct tx_socket *socks;
	unsigned n_socks;
	struct pollfd *pfds;
	struct timer_fifo timers[8];
	unsigned n_levels;
	uint32_t *idle;         /* FIFO of idle users */
	size_t idle_head, idle_n;
	unsigned inflight;
	uint32_t run_id;
	uint64_t rng;
	char realm[FLOOD_REALM_MAX];
	char ha2[2][FLOOD_HEX_MAX];   /* per algorithm, H(REGISTER:sip:domain) */
	char algo_seen[16];
	struct run_stats st;
	/* phase */
	bool setup;
	enum op_kind op_kind;
	uint64_t op_target;
	uint64_t phase_end_ns;
	double tokens;
	uint64_t tokens_ns;
	struct mmsghdr rx_msgs[FLOOD_BATCH];
	struct iovec rx_iov[FLOOD_BATCH];
	char rx_bufs[FLOOD_BATCH][FLOOD_MSG_MAX];
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double cpu_seconds(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static uint64_t rng_next(struct generator *g)
{
	/* xorshift64*: fast, reproducible with --seed */
	g->rng ^= g->rng >> 12;
	g->rng ^= g->rng << 25;
	g->rng ^= g->rng >> 27;
	return g->rng * 0x2545F4914F6CDD1DULL;
}

/* ---- user set -------------------------------------------------------- */

/* The name of user i: from the CSV, the precomputed table, or the format. */
static const char *user_name(const struct generator *g, uint32_t i, char *buf, size_t cap)
{
	if (g->csv_users != NULL)
		return g->csv_users[i];
	if (g->names != NULL)
		return g->names + (size_t)i * g->name_stride;
	snprintf(buf, cap, g->cfg->user_format, (int)(g->cfg->user_base + i));
	return buf;
}

static void user_password(const struct generator *g, uint32_t i, bool bad, char *out, size_t cap)
{
	if (g->csv_passwords != NULL)
		snprintf(out, cap, "%s%s", g->csv_passwords[i], bad ? "-wrong" : "");
	else if (bad)
		snprintf(out, cap, "wrong-%u", i);
	else
		snprintf(out, cap, g->cfg->password_format, (int)(g->cfg->user_base + i));
}

static int load_csv(struct generator *g, const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		fprintf(stderr, "flood: %s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t cap = 1024, n = 0;
	char line[512];
	g->csv_users = malloc(cap * sizeof(char *));
	g->csv_passwords = malloc(cap * sizeof(char *));
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		char *comma = strchr(line, ',');
		if (comma == NULL || line[0] == '#')
			continue;
		if (comma - line > 63 || strlen(comma + 1) > 63) {
			fprintf(stderr, "flood: %s: username or password longer than 63\n", path);
			fclose(f);
			return -1;
		}
		*comma = '\0';
		if (n == cap) {
			cap *= 2;
			g->csv_users = realloc(g->csv_users, cap * sizeof(char *));
			g->csv_passwords = realloc(g->csv_passwords, cap * sizeof(char *));
		}
		g->csv_users[n] = strdup(line);
		g->csv_passwords[n] = strdup(comma + 1);
		n++;
		if (g->cfg->users != 0 && n == g->cfg->users)
			break;
	}
	fclose(f);
	if (n == 0) {
		fprintf(stderr, "flood: %s: no username,password lines\n", path);
		return -1;
	}
	g->n_users = (unsigned)n;
	return 0;
}

/* ---- timers -------------------------------------------------------------- */

static void timer_push(struct timer_fifo *t, uint32_t ua, uint32_t gen, uint64_t now)
{
	if (t->n == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 4096;
		struct timer_entry *e = malloc(ncap * sizeof(*e));
		for (size_t i = 0; i < t->n; i++)
			e[i] = t->e[(t->head + i) % t->cap];
		free(t->e);
		t->e = e;
		t->cap = ncap;
		t->head = 0;
	}
	t->e[(t->head + t->n) % t->cap] = (struct timer_entry){ ua, gen, now + t->delay_ns };
	t->n++;
}

static unsigned socket_of(const struct generator *g, uint32_t idx)
{
	return (idx / FLOOD_BATCH) % g->n_socks;
}

/* ---- sending -------------------------------------------------------------- */

static void flush_socket(struct generator *g, struct tx_socket *s)
{
	unsigned done = 0;
	while (done < s->n_pending) {
		int r = sendmmsg(s->fd, s->msgs + done, s->n_pending - done, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			/* ECONNREFUSED from an earlier ICMP, ENOBUFS: drop the rest
			 * of the batch; the retransmit timers recover. */
			g->st.send_errors += s->n_pending - done;
			break;
		}
		done += (unsigned)r;
	}
	s->n_pending = 0;
}

static void flush_all(struct generator *g)
{
	for (unsigned i = 0; i < g->n_socks; i++)
		if (g->socks[i].n_pending != 0)
			flush_socket(g, &g->socks[i]);
}

/* Appenders for build_request: snprintf was 15 % of the generator's time
 * at its ceiling (perf record, against the responder). */
static char *put(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

#define PUT_LIT(p, lit) put((p), (lit), sizeof(lit) - 1)

static char *put_str(char *p, const char *s)
{
	return put(p, s, strlen(s));
}

static char *put_u32(char *p, uint32_t v)
{
	char tmp[10];
	unsigned n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (n != 0)
		*p++ = tmp[--n];
	return p;
}

/* Fixed width, lowercase: nc and cnonce ("%08x"). */
static char *put_hex8(char *p, uint32_t v)
{
	static const char hex[] = "0123456789abcdef";
	for (int i = 7; i >= 0; i--)
		*p++ = hex[(v >> (4 * i)) & 15];
	return p;
}

/*
 * Every field has a bounded length (domain < 128, user < 96, host:port < 80,
 * realm/nonce/opaque below their FLOOD_*_MAX), so a request stays well under
 * FLOOD_MSG_MAX; the check at the end is a guard, not a limit.
 */
static int build_request(struct generator *g, uint32_t idx, char *buf, size_t cap)
{
	const struct flood_config *cfg = g->cfg;
	struct ua *ua = &g->uas[idx];
	struct tx_socket *s = &g->socks[socket_of(g, idx)];
	char user_buf[96];
	const char *user = user_name(g, idx, user_buf, sizeof(user_buf));
	char *p = buf;

	p = PUT_LIT(p, "REGISTER sip:");
	p = put(p, cfg->domain, g->domain_len);
	p = PUT_LIT(p, " SIP/2.0\r\nVia: SIP/2.0/UDP ");
	p = put(p, s->hostport, s->hostport_len);
	p = PUT_LIT(p, ";rport;branch=z9hG4bK");
	p = put_hex8(p, g->run_id);
	*p++ = '.';
	p = put_u32(p, idx);
	*p++ = '.';
	p = put_u32(p, ua->cseq);
	p = PUT_LIT(p, "\r\nMax-Forwards: 70\r\nFrom: <sip:");
	p = put_str(p, user);
	*p++ = '@';
	p = put(p, cfg->domain, g->domain_len);
	p = PUT_LIT(p, ">;tag=");
	p = put_hex8(p, g->run_id);
	*p++ = '.';
	p = put_u32(p, idx);
	p = PUT_LIT(p, "\r\nTo: <sip:");
	p = put_str(p, user);
	*p++ = '@';
	p = put(p, cfg->domain, g->domain_len);
	p = PUT_LIT(p, ">\r\nCall-ID: ");
	p = put_u32(p, idx);
	*p++ = '.';
	p = put_hex8(p, g->run_id);
	p = PUT_LIT(p, "@flood\r\nCSeq: ");
	p = put_u32(p, ua->cseq);
	p = PUT_LIT(p, " REGISTER\r\nContact: <sip:");
	p = put_str(p, user);
	*p++ = '@';
	p = put(p, s->hostport, s->hostport_len);
	p = PUT_LIT(p, ">\r\nExpires: ");
	p = put_u32(p, ua->op == OP_UNREGISTER ? 0 : cfg->expires_s);
	p = PUT_LIT(p, "\r\n");
	if (ua->state == UA_WAIT_FINAL && !cfg->no_auth) {
		p = PUT_LIT(p, "Authorization: Digest username=\"");
		p = put_str(p, user);
		p = PUT_LIT(p, "\", realm=\"");
		p = put_str(p, g->realm);
		p = PUT_LIT(p, "\", nonce=\"");
		p = put_str(p, ua->nonce);
		p = PUT_LIT(p, "\", uri=\"sip:");
		p = put(p, cfg->domain, g->domain_len);
		p = PUT_LIT(p, "\", response=\"");
		p = put_str(p, ua->response);
		*p++ = '"';
		if (ua->has_algo_param) {
			if (ua->algo == DIGEST_SHA256)
				p = PUT_LIT(p, ", algorithm=SHA-256");
			else
				p = PUT_LIT(p, ", algorithm=MD5");
		}
		if (ua->opaque[0] != '\0') {
			p = PUT_LIT(p, ", opaque=\"");
			p = put_str(p, ua->opaque);
			*p++ = '"';
		}
		if (ua->has_qop) {
			p = PUT_LIT(p, ", qop=auth, nc=");
			p = put_hex8(p, ua->nc);
			p = PUT_LIT(p, ", cnonce=\"");
			p = put_hex8(p, ua->cnonce);
			*p++ = '"';
		}
		p = PUT_LIT(p, "\r\n");
	}
	p = PUT_LIT(p, "User-Agent: sipreg-flood\r\nContent-Length: 0\r\n\r\n");
	if ((size_t)(p - buf) > cap)
		abort();        /* cannot happen with the bounded fields above */
	return (int)(p - buf);
}

/* Queues the UA's current request (new or retransmitted) on its socket. */
static void send_request(struct generator *g, uint32_t idx, uint64_t now)
{
	struct tx_socket *s = &g->socks[socket_of(g, idx)];
	if (s->n_pending == FLOOD_BATCH)
		flush_socket(g, s);
	unsigned k = s->n_pending;
	int len = build_request(g, idx, s->bufs[k], FLOOD_MSG_MAX);
	if (len < 0) {
		g->st.send_errors++;
		return;
	}
	s->iov[k].iov_base = s->bufs[k];
	s->iov[k].iov_len = (size_t)len;
	s->msgs[k].msg_hdr = (struct msghdr){ .msg_iov = &s->iov[k], .msg_iovlen = 1 };
	s->n_pending++;
	g->st.requests++;
	struct ua *ua = &g->uas[idx];
	timer_push(&g->timers[ua->level], idx, ua->gen, now);
}

/* A new request of the operation: new CSeq, fresh timers. */
static void send_new_request(struct generator *g, uint32_t idx, enum ua_state state, uint64_t now)
{
	struct ua *ua = &g->uas[idx];
	ua->state = state;
	ua->cseq++;
	ua->gen++;
	ua->level = 0;
	if (state == UA_WAIT_FINAL && !g->cfg->no_auth) {
		char nc[9], cnonce[9];
		ua->nc++;
		ua->cnonce = (uint32_t)rng_next(g);
		snprintf(nc, sizeof(nc), "%08x", ua->nc);
		snprintf(cnonce, sizeof(cnonce), "%08x", ua->cnonce);
		char ha1[FLOOD_HEX_MAX];
		if (ua->bad || !ua->ha1_valid) {
			char user_buf[96], pw[96];
			const char *user = user_name(g, idx, user_buf, sizeof(user_buf));
			user_password(g, idx, ua->bad, pw, sizeof(pw));
			digest_ha1(ua->algo, user, g->realm, pw, ha1);
			if (!ua->bad) {
				memcpy(ua->ha1, ha1, sizeof(ha1));
				ua->ha1_valid = 1;
			}
		} else {
			memcpy(ha1, ua->ha1, sizeof(ha1));
		}
		digest_response(ua->algo, ha1, ua->nonce, ua->has_qop ? nc : NULL, cnonce,
				g->ha2[ua->algo], ua->response);
	}
	send_request(g, idx, now);
}

/* ---- operations -------------------------------------------------------------- */

static void idle_push(struct generator *g, uint32_t idx)
{
	g->idle[(g->idle_head + g->idle_n) % g->n_users] = idx;
	g->idle_n++;
}

static void start_op(struct generator *g, uint64_t now)
{
	uint32_t idx = g->idle[g->idle_head];
	g->idle_head = (g->idle_head + 1) % g->n_users;
	g->idle_n--;

	struct ua *ua = &g->uas[idx];
	ua->op = (uint8_t)g->op_kind;
	ua->op_start_ns = now;
	ua->challenges = 0;
	ua->bad = !g->setup && g->cfg->workload == WORKLOAD_MIXED &&
		  rng_next(g) % 100 < g->cfg->bad_pct;
	g->inflight++;
	g->st.ops_started++;
	if (g->cfg->no_auth) {
		send_new_request(g, idx, UA_WAIT_FINAL, now);
	} else if (ua->op != OP_REGISTER && ua->has_creds && !ua->bad && !g->cfg->refresh_rechallenge) {
		ua->fresh_nonce = 0;
		send_new_request(g, idx, UA_WAIT_FINAL, now);
	} else {
		send_new_request(g, idx, UA_WAIT_CHALLENGE, now);
	}
}

/* code 0: timed out */
static void finish_op(struct generator *g, uint32_t idx, int code, uint64_t now)
{
	struct ua *ua = &g->uas[idx];
	if (code == 200 && ua->bad) {
		g->st.bad_accepted++;
	} else if (code == 200) {
		g->st.ops_ok++;
		latency_add(&g->st.lat, (now - ua->op_start_ns) / 1000);
		ua->has_creds = !g->cfg->no_auth;
	} else if (code == 0) {
		g->st.timeouts++;
		ua->has_creds = 0;
	} else if (ua->bad && (code == 401 || code == 403 || code == 407)) {
		g->st.ops_rejected++;   /* the expected answer to a wrong password */
	} else {
		g->st.ops_failed++;
		ua->has_creds = 0;
	}
	ua->state = UA_IDLE;
	ua->gen++;
	g->inflight--;
	g->st.t_last_ns = now;
	idle_push(g, idx);
}

static enum digest_algo algo_of(struct str_slice a)
{
	return a.p != NULL && slice_case_eq(a, "SHA-256") ? DIGEST_SHA256 : DIGEST_MD5;
}

static void copy_slice(char *dst, size_t cap, struct str_slice s)
{
	size_t n = s.len < cap - 1 ? s.len : cap - 1;
	memcpy(dst, s.p, n);
	dst[n] = '\0';
}

static void on_response(struct generator *g, const char *buf, size_t len, uint64_t now)
{
	struct sip_response rsp;
	if (sip_parse_response(buf, len, &rsp) != 0) {
		g->st.unparsed++;
		return;
	}
	g->st.responses++;
	if (rsp.code >= 100 && rsp.code < 700)
		g->st.codes[rsp.code]++;

	/* Call-ID is "<user>.<run id hex>@flood" */
	char *end;
	char cid[64];
	copy_slice(cid, sizeof(cid), rsp.call_id);
	unsigned long idx = strtoul(cid, &end, 10);
	if (*end != '.' || idx >= g->n_users || strtoul(end + 1, NULL, 16) != g->run_id) {
		g->st.stray++;
		return;
	}
	struct ua *ua = &g->uas[idx];
	if (ua->state == UA_IDLE || rsp.cseq != ua->cseq) {
		g->st.stray++;          /* answer to a retransmission, or late */
		return;
	}
	if (rsp.code < 200)
		return;

	if ((rsp.code == 401 || rsp.code == 407) && rsp.has_challenge && !g->cfg->no_auth) {
		/* A challenge is followed when the request had no credentials,
		 * when it reused a nonce of an earlier operation, or when the
		 * server says the nonce is stale; a 401 to credentials built
		 * from this operation's own fresh nonce is a failure. */
		bool follow = (ua->state == UA_WAIT_CHALLENGE || !ua->fresh_nonce || rsp.challenge.stale) &&
			      ua->challenges < 3;  /* a server that always says stale must not loop us */
		if (follow) {
			struct digest_challenge *ch = &rsp.challenge;
			if (g->realm[0] == '\0' || !slice_eq(ch->realm, g->realm)) {
				copy_slice(g->realm, sizeof(g->realm), ch->realm);
				for (unsigned a = 0; a < 2; a++) {
					char tmp[256];
					int n = snprintf(tmp, sizeof(tmp), "REGISTER:sip:%s", g->cfg->domain);
					digest_hex((enum digest_algo)a, tmp, (size_t)n, g->ha2[a]);
				}
				for (unsigned i = 0; i < g->n_users; i++)
					g->uas[i].ha1_valid = 0;
			}
			enum digest_algo algo = algo_of(ch->algorithm);
			if (algo != ua->algo)
				ua->ha1_valid = 0;
			ua->algo = (uint8_t)algo;
			ua->has_algo_param = ch->algorithm.p != NULL;
			if (g->algo_seen[0] == '\0')
				snprintf(g->algo_seen, sizeof(g->algo_seen), "%s",
					 algo == DIGEST_SHA256 ? "SHA-256" : "MD5");
			ua->has_qop = ch->qop.p != NULL && memmem(ch->qop.p, ch->qop.len, "auth", 4) != NULL;
			copy_slice(ua->nonce, sizeof(ua->nonce), ch->nonce);
			if (ch->opaque.p != NULL)
				copy_slice(ua->opaque, sizeof(ua->opaque), ch->opaque);
			else
				ua->opaque[0] = '\0';
			ua->nc = 0;
			ua->fresh_nonce = 1;
			ua->challenges++;
			send_new_request(g, (uint32_t)idx, UA_WAIT_FINAL, now);
			return;
		}
	}
	finish_op(g, (uint32_t)idx, rsp.code, now);
}

/* Reads the sockets that poll() found readable; waits at most wait_ns. */
static unsigned receive_ready(struct generator *g, uint64_t wait_ns, uint64_t *now)
{
	struct timespec ts = { (time_t)(wait_ns / 1000000000u), (long)(wait_ns % 1000000000u) };
	int ready = ppoll(g->pfds, g->n_socks, &ts, NULL);
	unsigned total = 0;
	if (ready <= 0)
		return 0;
	for (unsigned i = 0; i < g->n_socks && ready > 0; i++) {
		if (!(g->pfds[i].revents & POLLIN))
			continue;
		ready--;
		for (unsigned k = 0; k < FLOOD_BATCH; k++) {
			g->rx_iov[k].iov_base = g->rx_bufs[k];
			g->rx_iov[k].iov_len = FLOOD_MSG_MAX;
			g->rx_msgs[k].msg_hdr = (struct msghdr){ .msg_iov = &g->rx_iov[k], .msg_iovlen = 1 };
		}
		int r = recvmmsg(g->socks[i].fd, g->rx_msgs, FLOOD_BATCH, MSG_DONTWAIT, NULL);
		if (r <= 0)
			continue;
		*now = now_ns();
		for (int k = 0; k < r; k++)
			on_response(g, g->rx_bufs[k], g->rx_msgs[k].msg_len, *now);
		total += (unsigned)r;
		if (g->socks[i].n_pending != 0)
			flush_socket(g, &g->socks[i]);
	}
	return total;
}

static void expire_timers(struct generator *g, uint64_t now)
{
	for (unsigned l = 0; l < g->n_levels; l++) {
		struct timer_fifo *t = &g->timers[l];
		while (t->n != 0) {
			struct timer_entry e = t->e[t->head];
			struct ua *ua = &g->uas[e.ua];
			if (ua->gen != e.gen || ua->state == UA_IDLE) {
				t->head = (t->head + 1) % t->cap;
				t->n--;
				continue;
			}
			if (e.deadline_ns > now)
				break;
			t->head = (t->head + 1) % t->cap;
			t->n--;
			if (l + 1 < g->n_levels) {
				ua->level = (uint8_t)(l + 1);
				g->st.retransmits++;
				send_request(g, e.ua, now);
			} else {
				finish_op(g, e.ua, 0, now);
			}
		}
	}
}

static uint64_t next_timer_ns(const struct generator *g)
{
	uint64_t next = UINT64_MAX;
	for (unsigned l = 0; l < g->n_levels; l++) {
		const struct timer_fifo *t = &g->timers[l];
		if (t->n != 0 && t->e[t->head].deadline_ns < next)
			next = t->e[t->head].deadline_ns;
	}
	return next;
}

/* ---- phases ---------------------------------------------------------------- */

static void begin_phase(struct generator *g, bool setup, uint64_t now)
{
	const struct flood_config *cfg = g->cfg;
	g->setup = setup;
	memset(&g->st, 0, sizeof(g->st));
	g->st.t_start_ns = now;
	g->st.t_last_ns = now;
	g->st.cpu_start_s = cpu_seconds();
	g->tokens = 0;
	g->tokens_ns = now;
	if (setup) {
		g->op_kind = OP_REGISTER;
		g->op_target = g->n_users;
		g->phase_end_ns = now + (uint64_t)(cfg->setup_timeout_s * 1e9);
		return;
	}
	switch (cfg->workload) {
	case WORKLOAD_REFRESH: g->op_kind = OP_REFRESH; break;
	case WORKLOAD_UNREG: g->op_kind = OP_UNREGISTER; break;
	default: g->op_kind = OP_REGISTER; break;
	}
	g->op_target = cfg->count != 0 ? cfg->count : g->n_users;
	g->phase_end_ns = now + (uint64_t)(cfg->duration_s * 1e9);
}

/* Runs the current phase until its operations are done or its time is up. */
static void run_phase(struct generator *g)
{
	const struct flood_config *cfg = g->cfg;
	double rate = g->setup ? 0 : cfg->rate;
	/* Pacing: operations start in steps of 1 ms worth of tokens (1 to one
	 * batch), so each wake-up fills a sendmmsg batch instead of sending
	 * one datagram per syscall; up to 2 ms of tokens may accumulate. */
	double step = rate / 1000 < 1 ? 1 : rate / 1000 > FLOOD_BATCH ? FLOOD_BATCH : rate / 1000;
	double burst = rate * 0.002 > FLOOD_BATCH ? rate * 0.002 : FLOOD_BATCH;

	for (;;) {
		uint64_t now = now_ns();
		if (stop_requested || now >= g->phase_end_ns)
			break;
		if (g->st.ops_started >= g->op_target && g->inflight == 0)
			break;

		expire_timers(g, now);

		unsigned started = 0;
		if (rate > 0) {
			g->tokens += rate * (double)(now - g->tokens_ns) / 1e9;
			if (g->tokens > burst)
				g->tokens = burst;
			g->tokens_ns = now;
		}
		bool paced_ok = rate <= 0 || g->tokens >= step;
		while (paced_ok && g->st.ops_started < g->op_target && g->inflight < cfg->window &&
		       g->idle_n != 0 && (rate <= 0 || g->tokens >= 1.0) && started < 4 * FLOOD_BATCH) {
			start_op(g, now);
			started++;
			if (rate > 0)
				g->tokens -= 1.0;
		}
		flush_all(g);

		/* Work left to start now: only look for responses. Otherwise
		 * sleep until a response, a timer, a token or the end. */
		uint64_t wait_ns = 0;
		bool can_start = g->st.ops_started < g->op_target && g->inflight < cfg->window && g->idle_n != 0;
		if (!(can_start && (rate <= 0 || g->tokens >= step))) {
			uint64_t wake = next_timer_ns(g);
			if (g->phase_end_ns < wake)
				wake = g->phase_end_ns;
			if (rate > 0 && can_start) {
				uint64_t t = now + (uint64_t)((step - g->tokens) / rate * 1e9);
				if (t < wake)
					wake = t;
			}
			wait_ns = wake > now ? wake - now : 0;
			if (wait_ns > 10000000)
				wait_ns = 10000000;
		}
		receive_ready(g, wait_ns, &now);
		flush_all(g);
	}
	g->st.unfinished = g->inflight;
}

/* ---- report ------------------------------------------------------------------- */

static const char *workload_name(enum flood_workload w)
{
	switch (w) {
	case WORKLOAD_STORM: return "storm";
	case WORKLOAD_REFRESH: return "refresh";
	case WORKLOAD_MIXED: return "mixed";
	case WORKLOAD_UNREG: return "unregister";
	}
	return "?";
}

static void report(const struct generator *g, const struct run_stats *setup_st, bool had_setup)
{
	const struct flood_config *cfg = g->cfg;
	const struct run_stats *st = &g->st;
	uint64_t end = st->unfinished != 0 || st->t_last_ns <= st->t_start_ns ? now_ns() : st->t_last_ns;
	double elapsed = (double)(end - st->t_start_ns) / 1e9;
	if (elapsed <= 0)
		elapsed = 1e-9;
	double ok_per_s = (double)st->ops_ok / elapsed;
	double req_per_s = (double)st->requests / elapsed;
	uint64_t p50 = latency_quantile(&st->lat, 0.50), p90 = latency_quantile(&st->lat, 0.90);
	uint64_t p99 = latency_quantile(&st->lat, 0.99);
	double mean = st->lat.count ? st->lat.sum_us / (double)st->lat.count : 0;
	const char *target = cfg->target.host;
	double cpu_s = cpu_seconds() - st->cpu_start_s;
	/* Near 100 %: the generator, not the server, limited this run. */
	double cpu_pct = 100.0 * cpu_s / ((double)(now_ns() - st->t_start_ns) / 1e9);

	if (!cfg->quiet) {
		printf("flood: %s against %s:%u, %u users, %u sockets, rate %s, window %u\n",
		       workload_name(cfg->workload), target,
		       ntohs(cfg->target.ss.ss_family == AF_INET6
			     ? ((const struct sockaddr_in6 *)&cfg->target.ss)->sin6_port
			     : ((const struct sockaddr_in *)&cfg->target.ss)->sin_port),
		       g->n_users, g->n_socks,
		       cfg->rate > 0 ? "limited" : "unlimited", cfg->window);
		if (cfg->rate > 0)
			printf("  target rate          %12.0f ops/s\n", cfg->rate);
		if (had_setup)
			printf("  setup registrations  %12" PRIu64 " ok of %" PRIu64 " (%.2f s)\n",
			       setup_st->ops_ok, setup_st->ops_started,
			       (double)(setup_st->t_last_ns - setup_st->t_start_ns) / 1e9);
		printf("  %-20s %12.3f s\n", "elapsed", elapsed);
		printf("  %-20s %12" PRIu64 "\n", "operations started", st->ops_started);
		printf("  %-20s %12" PRIu64 "   %10.0f /s\n", "completed (200)", st->ops_ok, ok_per_s);
		printf("  %-20s %12" PRIu64 "\n", "rejected (expected)", st->ops_rejected);
		printf("  %-20s %12" PRIu64 "\n", "failed", st->ops_failed);
		if (st->bad_accepted)
			printf("  %-20s %12" PRIu64 "   (200 OK to a wrong password)\n", "BAD PASSWORD ACCEPTED",
			       st->bad_accepted);
		printf("  %-20s %12" PRIu64 "\n", "timeouts", st->timeouts);
		printf("  %-20s %12" PRIu64 "\n", "unfinished", st->unfinished);
		printf("  %-20s %12" PRIu64 "   %10.0f /s\n", "requests sent", st->requests, req_per_s);
		printf("  %-20s %12" PRIu64 "\n", "retransmits", st->retransmits);
		printf("  %-20s %12" PRIu64 "\n", "responses", st->responses);
		printf("  %-20s %12" PRIu64 "\n", "stray responses", st->stray);
		if (st->send_errors || st->unparsed)
			printf("  %-20s %12" PRIu64 " send errors, %" PRIu64 " unparsed\n", "errors",
			       st->send_errors, st->unparsed);
		printf("  response codes      ");
		for (int c = 100; c < 700; c++)
			if (st->codes[c])
				printf(" %d:%" PRIu64, c, st->codes[c]);
		printf("\n");
		printf("  latency (us)         p50 %" PRIu64 "  p90 %" PRIu64 "  p99 %" PRIu64 "  max %" PRIu64 "  mean %.0f\n",
		       p50, p90, p99, st->lat.max_us, mean);
		if (g->algo_seen[0])
			printf("  digest algorithm     %s\n", g->algo_seen);
		printf("  generator CPU        %.2f s (%.0f %% of one core)\n", cpu_s, cpu_pct);
	}

	printf("{\"workload\":\"%s\",\"target\":\"%s\",\"users\":%u,\"sockets\":%u,"
	       "\"rate_target\":%.0f,\"window\":%u,\"algorithm\":\"%s\",\"elapsed_s\":%.3f,"
	       "\"ops_started\":%" PRIu64 ",\"completed\":%" PRIu64 ",\"completed_per_s\":%.1f,"
	       "\"rejected\":%" PRIu64 ",\"bad_accepted\":%" PRIu64 ",\"failed\":%" PRIu64 ",\"timeouts\":%" PRIu64 ",\"unfinished\":%" PRIu64 ","
	       "\"requests\":%" PRIu64 ",\"requests_per_s\":%.1f,\"retransmits\":%" PRIu64 ",\"responses\":%" PRIu64 ","
	       "\"setup_ok\":%" PRIu64 ",\"gen_cpu_s\":%.2f,\"gen_cpu_pct\":%.0f,\"codes\":{",
	       workload_name(cfg->workload), target, g->n_users, g->n_socks,
	       cfg->rate, cfg->window, cfg->no_auth ? "none" : (g->algo_seen[0] ? g->algo_seen : ""), elapsed,
	       st->ops_started, st->ops_ok, ok_per_s,
	       st->ops_rejected, st->bad_accepted, st->ops_failed, st->timeouts, st->unfinished,
	       st->requests, req_per_s, st->retransmits, st->responses,
	       had_setup ? setup_st->ops_ok : 0, cpu_s, cpu_pct);
	bool first = true;
	for (int c = 100; c < 700; c++)
		if (st->codes[c]) {
			printf("%s\"%d\":%" PRIu64, first ? "" : ",", c, st->codes[c]);
			first = false;
		}
	printf("},\"latency_us\":{\"p50\":%" PRIu64 ",\"p90\":%" PRIu64 ",\"p99\":%" PRIu64 ",\"max\":%" PRIu64 ",\"mean\":%.0f}}\n",
	       p50, p90, p99, st->lat.max_us, mean);
	fflush(stdout);
}

/* ---- set-up ------------------------------------------------------------------- */

static int open_socket(struct generator *g, struct tx_socket *s, const struct flood_addr *src, unsigned nth)
{
	const struct flood_config *cfg = g->cfg;
	int family = cfg->target.ss.ss_family;
	s->fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		perror("flood: socket");
		return -1;
	}
	int sz = (int)cfg->rcvbuf;
	if (setsockopt(s->fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) != 0)
		setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (setsockopt(s->fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) != 0)
		setsockopt(s->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	struct flood_addr any = { .len = cfg->target.len };
	any.ss.ss_family = (sa_family_t)family;
	snprintf(any.host, sizeof(any.host), "%s", family == AF_INET6 ? "[::]" : "0.0.0.0");
	if (src == NULL && cfg->src_port != 0)
		src = &any;
	if (src != NULL) {
		if (src->ss.ss_family != family) {
			fprintf(stderr, "flood: source %s and target %s differ in address family\n",
				src->host, cfg->target.host);
			return -1;
		}
		struct sockaddr_storage a = src->ss;
		uint16_t port = htons((uint16_t)(cfg->src_port ? cfg->src_port + (int)nth : 0));
		if (a.ss_family == AF_INET6)
			((struct sockaddr_in6 *)&a)->sin6_port = port;
		else
			((struct sockaddr_in *)&a)->sin_port = port;
		if (bind(s->fd, (const struct sockaddr *)&a, src->len) != 0) {
			fprintf(stderr, "flood: bind %s:%u: %s\n", src->host, ntohs(port), strerror(errno));
			return -1;
		}
	}
	/* connect: the kernel picks the source when none is given, and drops
	 * datagrams from anyone but the target. */
	if (connect(s->fd, (const struct sockaddr *)&cfg->target.ss, cfg->target.len) != 0) {
		fprintf(stderr, "flood: connect %s: %s\n", cfg->target.host, strerror(errno));
		return -1;
	}
	struct sockaddr_storage local;
	socklen_t llen = sizeof(local);
	getsockname(s->fd, (struct sockaddr *)&local, &llen);
	char ip[INET6_ADDRSTRLEN];
	if (local.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&local;
		inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
		snprintf(s->host, sizeof(s->host), "[%s]", ip);
		s->port = ntohs(a->sin6_port);
	} else {
		const struct sockaddr_in *a = (const struct sockaddr_in *)&local;
		inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
		snprintf(s->host, sizeof(s->host), "%s", ip);
		s->port = ntohs(a->sin_port);
	}
	s->hostport_len = (size_t)snprintf(s->hostport, sizeof(s->hostport), "%s:%u", s->host, s->port);
	return 0;
}

int generator_run(const struct flood_config *cfg)
{
	struct generator *g = calloc(1, sizeof(*g));
	int rc = 1;
	if (g == NULL)
		return 1;
	g->cfg = cfg;
	g->n_users = cfg->users;
	if (cfg->users_csv != NULL && load_csv(g, cfg->users_csv) != 0)
		goto out;
	if (g->n_users == 0) {
		fprintf(stderr, "flood: no users\n");
		goto out;
	}
	g->domain_len = strlen(cfg->domain);
	if (g->csv_users == NULL && (uint64_t)g->n_users * 24 <= (1u << 30)) {
		/* Names are formatted once; up to 23 characters each. */
		g->name_stride = 24;
		g->names = malloc((size_t)g->n_users * g->name_stride);
		for (unsigned i = 0; g->names != NULL && i < g->n_users; i++) {
			int n = snprintf(g->names + (size_t)i * g->name_stride, g->name_stride,
					 cfg->user_format, (int)(cfg->user_base + i));
			if (n < 0 || (size_t)n >= g->name_stride) {
				free(g->names);         /* longer names: format per request */
				g->names = NULL;
			}
		}
	}
	g->rng = cfg->seed ? cfg->seed : ((uint64_t)getpid() << 32 | (uint64_t)time(NULL));
	g->run_id = (uint32_t)rng_next(g);
	g->uas = calloc(g->n_users, sizeof(*g->uas));
	g->idle = malloc(g->n_users * sizeof(*g->idle));
	unsigned n_src = cfg->n_sources ? cfg->n_sources : 1;
	g->n_socks = n_src * cfg->sockets_per_source;
	g->socks = calloc(g->n_socks, sizeof(*g->socks));
	g->pfds = calloc(g->n_socks, sizeof(*g->pfds));
	if (g->uas == NULL || g->idle == NULL || g->socks == NULL || g->pfds == NULL)
		goto out;
	for (unsigned i = 0; i < g->n_socks; i++) {
		const struct flood_addr *src = cfg->n_sources ? &cfg->sources[i % cfg->n_sources] : NULL;
		if (open_socket(g, &g->socks[i], src, cfg->n_sources ? i / cfg->n_sources : i) != 0)
			goto out;
		g->pfds[i] = (struct pollfd){ .fd = g->socks[i].fd, .events = POLLIN };
	}
	g->n_levels = cfg->retransmits + 1;
	for (unsigned l = 0; l < g->n_levels; l++)
		g->timers[l].delay_ns = ((uint64_t)cfg->t1_ms << l) * 1000000u;
	for (unsigned i = 0; i < g->n_users; i++) {
		g->uas[i].cseq = (uint32_t)(rng_next(g) % 1000) + 1;
		idle_push(g, i);
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	struct run_stats setup_st;
	bool had_setup = cfg->workload == WORKLOAD_REFRESH || cfg->workload == WORKLOAD_UNREG;
	if (had_setup) {
		begin_phase(g, true, now_ns());
		run_phase(g);
		setup_st = g->st;
		if (setup_st.ops_ok == 0) {
			fprintf(stderr, "flood: setup phase registered nobody (%" PRIu64 " timeouts, %" PRIu64 " failed)\n",
				setup_st.timeouts, setup_st.ops_failed);
		}
		/* Let in-flight setup operations settle outside the measurement. */
		uint64_t settle_end = now_ns() + 2000000000u;
		while (g->inflight != 0 && now_ns() < settle_end && !stop_requested) {
			uint64_t now = now_ns();
			expire_timers(g, now);
			receive_ready(g, 1000000, &now);
			flush_all(g);
		}
	}
	begin_phase(g, false, now_ns());
	run_phase(g);
	report(g, &setup_st, had_setup);
	rc = 0;
out:
	if (g->socks != NULL)
		for (unsigned i = 0; i < g->n_socks; i++)
			if (g->socks[i].fd > 0)
				close(g->socks[i].fd);
	for (unsigned l = 0; l < 8; l++)
		free(g->timers[l].e);
	free(g->socks);
	free(g->pfds);
	free(g->uas);
	free(g->idle);
	free(g->names);
	free(g);
	return rc;
}
