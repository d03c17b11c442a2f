/*
 * flood.h — shared types of the REGISTER load generator (perf/flood).
 *
 * The generator plays many SIP user agents from one thread: one UDP socket
 * per source address, requests and responses moved in sendmmsg/recvmmsg
 * batches, one state machine per user (challenge -> digest -> 200 OK).
 * The responder (--responder) is the trivial peer used to measure the
 * generator's own ceiling. Everything a run needs is in struct flood_config,
 * parsed once in main.c before any socket is opened.
 */
#ifndef FLOOD_H
#define FLOOD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define FLOOD_MAX_SOURCES   1024
#define FLOOD_BATCH         64      /* datagrams per sendmmsg/recvmmsg call */
#define FLOOD_MSG_MAX       4096    /* largest datagram built or accepted */
#define FLOOD_NONCE_MAX     128
#define FLOOD_OPAQUE_MAX    96
#define FLOOD_REALM_MAX     96
#define FLOOD_HEX_MAX       65      /* SHA-256 hex + NUL */

enum flood_workload {
	WORKLOAD_STORM,     /* every user registers (challenge + digest), once per op */
	WORKLOAD_REFRESH,   /* setup: register all; measured: refreshes */
	WORKLOAD_MIXED,     /* storm with --bad-pct wrong-password attempts */
	WORKLOAD_UNREG,     /* setup: register all; measured: Expires: 0 */
};

enum digest_algo {
	DIGEST_MD5,
	DIGEST_SHA256,
};

struct flood_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	char host[64];          /* as written in Via/Contact: "198.18.0.2", "[2001:db8::2]" */
};

struct flood_config {
	/* generator */
	enum flood_workload workload;
	struct flood_addr target;
	struct flood_addr sources[FLOOD_MAX_SOURCES];
	unsigned n_sources;                 /* 0: one socket on the wildcard address */
	unsigned sockets_per_source;
	int src_port;                       /* first local port per source; 0: ephemeral; -1: default */
	char domain[128];                   /* Request-URI and AOR domain */
	unsigned users;
	unsigned user_base;                 /* index of the first user */
	char user_format[64];               /* printf format with one %d: "u%06d" */
	char password_format[64];           /* "pw%06d" */
	const char *users_csv;              /* username,password lines; overrides the formats */
	double rate;                        /* operations started per second; 0: as fast as the window allows */
	unsigned window;                    /* operations in flight at most */
	uint64_t count;                     /* measured operations to start; 0: one per user */
	double duration_s;                  /* measured phase stops after this */
	double setup_timeout_s;             /* refresh/unreg setup phase stops after this */
	unsigned bad_pct;                   /* mixed: percentage of wrong-password operations */
	unsigned t1_ms;                     /* first retransmit after this; doubles */
	unsigned retransmits;               /* retransmits before an operation times out */
	unsigned expires_s;
	bool no_auth;                       /* expect 200 to the first REGISTER (plain mode) */
	bool refresh_rechallenge;           /* refreshes start without credentials */
	bool quiet;
	unsigned rcvbuf;                    /* SO_RCVBUF/SO_SNDBUF in bytes */
	uint64_t seed;

	/* responder */
	bool responder;
	struct flood_addr listen;
	enum digest_algo responder_algo;
	double responder_duration_s;
};

/* digest.c — RFC 7616/8760 digest response with a pre-fetched EVP_MD. */
int digest_init(void);
void digest_fini(void);
/* Writes the lowercase hex digest of data into out (33 or 65 bytes). */
void digest_hex(enum digest_algo algo, const char *data, size_t len, char *out);
/* HA1 = H(user:realm:password) */
void digest_ha1(enum digest_algo algo, const char *user, const char *realm,
		const char *password, char *out);
/* response = H(HA1:nonce:nc:cnonce:auth:HA2) with HA2 = H(REGISTER:uri);
 * nc == NULL: no qop offered, response = H(HA1:nonce:HA2). */
void digest_response(enum digest_algo algo, const char *ha1, const char *nonce,
		     const char *nc, const char *cnonce, const char *ha2, char *out);

/* sipmsg.c — just enough SIP to drive and answer REGISTER. */
struct str_slice {
	const char *p;
	size_t len;
};

struct digest_challenge {
	struct str_slice realm, nonce, opaque, algorithm, qop;
	bool stale;
};

struct sip_response {
	int code;
	struct str_slice call_id;
	uint32_t cseq;
	bool has_challenge;
	struct digest_challenge challenge;
};

/* Returns 0 or -1 (not a parseable SIP response). */
int sip_parse_response(const char *buf, size_t len, struct sip_response *rsp);
/* Parses a WWW-Authenticate/Proxy-Authenticate value "Digest a=b, ...". */
int sip_parse_challenge(const char *p, size_t len, struct digest_challenge *ch);
bool slice_eq(struct str_slice s, const char *lit);
bool slice_case_eq(struct str_slice s, const char *lit);

/* generator.c */
int generator_run(const struct flood_config *cfg);

/* responder.c */
int responder_run(const struct flood_config *cfg);

/* latency.c — log-linear histogram, 1.6 % resolution, microseconds. */
#define LAT_SUB_BITS 6
#define LAT_BUCKETS  (64 * 40)
struct latency_hist {
	uint64_t buckets[LAT_BUCKETS];
	uint64_t count;
	uint64_t max_us;
	double sum_us;
};
void latency_add(struct latency_hist *h, uint64_t us);
/* Value at quantile q (0..1), upper bound of its bucket. */
uint64_t latency_quantile(const struct latency_hist *h, double q);

uint64_t now_ns(void);
int parse_addr_port(const char *s, uint16_t default_port, struct flood_addr *out);

#endif
