/* registrar.h — what a phone sees: DESIGN.md "SIP behaviour" for one
 * datagram, from parse to the response text.
 *
 * One struct registrar per worker. registrar_handle() is the whole
 * transaction logic of the packet path: parse, method dispatch, domain,
 * Require, authentication by account mode, AOR ownership, the binding
 * table's decision, the response. It allocates nothing and never blocks;
 * every outcome increments one counter of the worker's stats row.
 */
#ifndef SIPREG_REGISTRAR_H
#define SIPREG_REGISTRAR_H

#include <stdbool.h>
#include <stdint.h>

#include "account_table.h"
#include "binding_table.h"
#include "digest.h"
#include "lockout_table.h"
#include "nat_keepalive.h"
#include "replay_cache.h"
#include "sip_response.h"

#define REGISTRAR_MAX_DOMAINS 16
#define REGISTRAR_DOMAIN_MAX 128

enum respond_unknown {
	RESPOND_UNKNOWN_CHALLENGE,   /* unknown users get the same 401/403 as known ones */
	RESPOND_UNKNOWN_DROP,        /* silence for unknown users and unknown IP sources */
};

/* [sip] challenge: the WWW-Authenticate headers of a 401, in order. */
enum challenge_set {
	CHALLENGE_MD5_SHA256,
	CHALLENGE_SHA256_MD5,
	CHALLENGE_MD5,
	CHALLENGE_SHA256,
};

/* Read-only after start; shared by all workers. */
struct registrar_config {
	unsigned n_domains;
	char domains[REGISTRAR_MAX_DOMAINS][REGISTRAR_DOMAIN_MAX]; /* lower case */
	uint32_t domain_len[REGISTRAR_MAX_DOMAINS];
	char realm[REGISTRAR_DOMAIN_MAX];   /* every challenge and HA1 uses it */
	uint32_t realm_len;
	enum challenge_set challenge;       /* which challenges, in which order */
	uint32_t nonce_validity_s;
	uint32_t expiring_window_s;
	enum respond_unknown respond_unknown;
	uint32_t nat_keepalive_s;           /* OPTIONS interval for NAT bindings; 0: off */
	uint32_t nat_keepalive_misses;      /* unanswered in a row: binding removed */
	struct store_policy policy;  /* global defaults; accounts override */
	struct lockout_policy lockout;
};

/* What a worker tells the management thread when a source crosses the
 * lockout threshold (fixed-size ring element). */
struct lockout_notice {
	uint8_t addr[16];
	uint8_t len;                 /* 4 or 16 */
	uint8_t pad[3];
	uint32_t worker;
	int64_t until_s;
	char user[64];               /* the user of the failure that crossed it */
};

/* A read-only list of address blocks (the allowlist), swapped whole. */
struct prefix_list {
	uint32_t n;
	struct store_cidr cidrs[];
};

/* True when src is in list (NULL: empty). */
bool prefix_list_contains(const struct prefix_list *list, const struct sip_source *src);

/* Parses "a.example, B.example" into cfg->domains (lower-cased). Returns 0,
 * or -1 when empty, too many, or a name is too long. */
int registrar_config_set_domains(struct registrar_config *cfg, const char *list);

struct registrar {
	const struct registrar_config *cfg;    /* loaded from live_cfg per request */
	struct registrar_config *const *live_cfg; /* swapped on reload_policy; NULL: cfg fixed */
	struct binding_table *table;           /* this worker's */
	struct digest_engine *digest;
	struct replay_cache *replay;
	struct account_table *const *accounts; /* current table, swapped on reload */
	uint64_t *counters;                    /* this worker's stats row */
	struct lockout_table *lockouts;        /* this worker's; NULL: no lockout */
	struct rte_ring *lockout_notices;      /* to the mgmt thread (struct lockout_notice) */
	struct prefix_list *const *allowlist;  /* never locked out; swapped on change */
	struct event_ring *events;             /* the table's ring: security events to history */
	struct nat_keepalive *keepalive;       /* this worker's; NULL: no keepalives */
	/* Set by each registrar_handle: slots of NAT bindings the request
	 * created or refreshed from its source, for the caller to
	 * nat_keepalive_track() with the frame's path. */
	uint32_t n_nat_slots;
	uint32_t nat_slots[STORE_MAX_BINDINGS_PER_AOR];
	/* Set by each registrar_handle: the reply is a REGISTER's 200, which
	 * states bindings; [store] reply_after_commit holds it until the
	 * table's events so far are committed. */
	bool reply_shows_bindings;
	unsigned reply_code;                   /* of the last reply built */
	uint32_t worker;
	uint32_t n_workers;
	int64_t date_s;                        /* second the Date text is for */
	char date[40];
	char scratch[1024];                    /* joined Path values */
};

enum registrar_action {
	REGISTRAR_DROP,      /* nothing to send (counted) */
	REGISTRAR_REPLY,     /* out[0..*out_len) is the response */
	REGISTRAR_HANDOFF,   /* another worker owns the AOR (or the keepalive
	                      * this response answers): *owner */
};

/* Handles one datagram payload from src at now_s. allow_handoff is false
 * when the request was handed to this worker by another one (this worker
 * is then the owner). Returns the action; on REGISTRAR_REPLY the response
 * is in out (never longer than out_cap; a response that does not fit is
 * dropped and counted). Malformed input is answered 400 when the request's
 * Via, From, To, Call-ID and CSeq can be found, else dropped. */
enum registrar_action registrar_handle(struct registrar *r, const char *payload, uint32_t len,
				       const struct sip_source *src, int64_t now_s,
				       bool allow_handoff, char *out, uint32_t out_cap,
				       uint32_t *out_len, uint32_t *owner);

/* registrar_handle for a datagram already parsed into msg by sip_parse
 * (st its status; msg's slices point into payload): a worker parses once
 * and hands the parse result to the AOR's owner with the frame. */
enum registrar_action registrar_handle_msg(struct registrar *r, const struct sip_msg *msg,
					   enum sip_parse_status st, const char *payload, uint32_t len,
					   const struct sip_source *src, int64_t now_s,
					   bool allow_handoff, char *out, uint32_t out_cap,
					   uint32_t *out_len, uint32_t *owner);

/*
 * Staging: what the worker learns about a request before answering it, so
 * the memory it will need (binding-table index and record, account,
 * replay-cache set) loads while other requests of the burst are worked on.
 * registrar_stage_begin, per request right after its parse: the AOR hash
 * (0 for anything but a REGISTER this worker owns: then nothing else is
 * staged), a prefetch of its binding-table index entry, the account key of
 * the To user, the replay-cache key of its credentials (and a prefetch of
 * that set).  registrar_stage_accounts, once for the burst: every staged
 * account in one bulk lookup, and prefetches of the accounts and binding
 * records.  registrar_stage_follow, for each request a couple of
 * requests after its registrar_stage_begin (by then its account's index
 * entry has arrived): a prefetch of the lines of its account the answer
 * reads, so the bulk lookup finds them loaded.  registrar_handle_staged
 * then answers as registrar_handle_msg would, using what the stage found
 * (a stage from an account table that has since been replaced is
 * ignored).
 */
#define REGISTRAR_AOR_MAX 256                    /* sip:user@host, bytes */

struct registrar_stage {
	uint64_t aor_hash;                       /* 0: nothing staged */
	uint16_t aor_len;
	char aor[REGISTRAR_AOR_MAX];             /* sip:user@host of To, host lower-cased */
	const struct account_table *accounts;    /* table of `account`; NULL: not looked up */
	const struct store_account *account;     /* NULL: no such user */
	/* the Digest credentials for the realm at staging time (a reload may
	 * change it before the answer): the replay key and the Digest
	 * response below are of these; NULL: none */
	const struct sip_credentials *cred;
	bool has_account_key;
	bool has_replay_key;
	struct replay_key replay;
	struct account_key account_key;
	/* The Digest response the request's credentials must carry for
	 * `account`, worked out with the group's (md5_x16) */
	bool has_digest_in;
	bool has_expected;
	const struct store_account *expected_account; /* the account `expected` is for */
	struct digest_response_input digest_in;
	char expected[DIGEST_SHA256_HEX_LEN];
};

void registrar_stage_begin(struct registrar *r, const struct sip_msg *msg,
			   enum sip_parse_status st, struct registrar_stage *s);

/* See "Staging" above; a stage without an account key loads nothing. */
void registrar_stage_follow(struct registrar *r, const struct registrar_stage *s);

/* n stages (at most 64; more: the accounts are left to the handler). */
void registrar_stage_accounts(struct registrar *r, struct registrar_stage *stages, uint32_t n);

/* registrar_handle_msg with what stage found; stage NULL: the same as
 * registrar_handle_msg. */
enum registrar_action registrar_handle_staged(struct registrar *r, const struct sip_msg *msg,
					      enum sip_parse_status st, const char *payload,
					      uint32_t len, const struct sip_source *src,
					      int64_t now_s, bool allow_handoff,
					      const struct registrar_stage *stage, char *out,
					      uint32_t out_cap, uint32_t *out_len, uint32_t *owner);

/* Answers 503 with Retry-After to a request that cannot be processed now
 * (the owner's hand-off ring is full). Same return contract as
 * registrar_handle, without hand-off. */
enum registrar_action registrar_reply_busy(struct registrar *r, const char *payload, uint32_t len,
					   const struct sip_source *src, char *out,
					   uint32_t out_cap, uint32_t *out_len);

#endif
