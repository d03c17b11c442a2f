/* digest.h — HTTP Digest for REGISTER (RFC 3261 §22.4, RFC 7616): stateless
 * nonces and response checks, MD5 and SHA-256, qop=auth.
 *
 * A nonce is hex(timestamp_s, 8 digits) + hex(HMAC-SHA256(secret,
 * timestamp | source address | realm))[0..32): the registrar needs no
 * per-challenge state, a nonce only verifies for the source it was given
 * to, and its age tells stale from forged. Each engine also remembers the
 * nonces it made or checked lately (a 4 MiB direct-mapped memo), so that
 * the authorized REGISTER which follows a 401 checks its nonce by compare
 * instead of by HMAC; a nonce the memo has lost (overwritten by another
 * in its slot, restart) is checked by its HMAC as before. One struct
 * digest_engine per worker: its keyed HMAC states are computed once and
 * copied per use, so the packet path neither allocates nor re-keys
 * (DESIGN.md: 1.1 us naive vs 0.12 us with precomputed keyed states).
 */
#ifndef SIPREG_DIGEST_H
#define SIPREG_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DIGEST_SECRET_LEN 32
#define DIGEST_NONCE_LEN 40           /* 8 hex timestamp + 32 hex MAC */
#define DIGEST_MD5_HEX_LEN 32
#define DIGEST_SHA256_HEX_LEN 64

enum digest_algorithm {
	DIGEST_MD5,
	DIGEST_SHA256,
};

/* Hex digits of an algorithm's digest (and of an HA1): 32 for MD5, 64 for
 * anything else. */
static inline size_t digest_hex_len(enum digest_algorithm alg)
{
	return alg == DIGEST_MD5 ? DIGEST_MD5_HEX_LEN : DIGEST_SHA256_HEX_LEN;
}

enum digest_nonce_status {
	DIGEST_NONCE_VALID,
	DIGEST_NONCE_STALE,    /* ours, but older than the validity: 401 stale=true */
	DIGEST_NONCE_INVALID,  /* not ours, another source, or from the future */
};

/* The source a nonce is bound to: IPv4 (4 bytes) or IPv6 (16 bytes). */
struct digest_source {
	uint8_t len;
	uint8_t addr[16];
};

struct digest_engine;

/* Creates an engine keyed with secret. Returns NULL when out of memory or
 * when OpenSSL's SHA-256 fails (the caller reports it and exits). */
struct digest_engine *digest_engine_create(const uint8_t secret[DIGEST_SECRET_LEN],
					   uint32_t nonce_validity_s);

/* Frees an engine; NULL is ignored. */
void digest_engine_free(struct digest_engine *e);

/* Writes a nonce for (now_s, src, realm) into out (DIGEST_NONCE_LEN bytes,
 * not NUL-terminated). Returns 0, or -1 when the MAC fails (never on
 * valid arguments). */
int digest_nonce_make(struct digest_engine *e, uint32_t now_s,
		      const struct digest_source *src, const char *realm,
		      size_t realm_len, char out[DIGEST_NONCE_LEN]);

/* Checks a nonce received from src for realm at now_s. Any malformed nonce
 * (wrong length, not hex) is DIGEST_NONCE_INVALID. */
enum digest_nonce_status digest_nonce_check(struct digest_engine *e, uint32_t now_s,
					    const struct digest_source *src,
					    const char *realm, size_t realm_len,
					    const char *nonce, size_t nonce_len);

/* Starts loading what digest_nonce_check will read for this nonce (its
 * memo slot). Any nonce, even a malformed one, is fine. */
void digest_nonce_prefetch(const struct digest_engine *e, const char *nonce, size_t nonce_len);

/* Nonces digest_nonce_check recognised from the memo, without an HMAC. */
uint64_t digest_nonce_memo_hits(const struct digest_engine *e);

/* Parameters of an Authorization header, as slices of the packet. */
struct digest_response_input {
	enum digest_algorithm algorithm;
	const char *method; size_t method_len;
	const char *uri; size_t uri_len;
	const char *nonce; size_t nonce_len;
	const char *nc; size_t nc_len;            /* qop=auth only */
	const char *cnonce; size_t cnonce_len;    /* qop=auth only */
	bool qop_auth;                            /* false: RFC 2069 form */
	const char *response; size_t response_len;
};

/* Returns true when in->response is the digest of the request for an
 * account whose HA1 (lower-case hex of the algorithm: 32 chars for MD5, 64
 * for SHA-256) is ha1. Returns false for any mismatch, including a
 * response of the wrong length or case-folded differently than hex
 * allows (hex compares case-insensitively). */
bool digest_response_matches(struct digest_engine *e, const char *ha1,
			     const struct digest_response_input *in);

/* One response to work out in a group (digest_expected_many). */
struct digest_expected {
	const char *ha1;                         /* lower-case hex of in->algorithm */
	const struct digest_response_input *in;
	char hex[DIGEST_SHA256_HEX_LEN];         /* out: the response in must carry */
};

/* Writes items[i].hex, the response (lower-case hex, 32 or 64 chars) a
 * request with items[i].in must carry for an account whose HA1 is
 * items[i].ha1, for i < n. MD5 ones go through md5_x16 sixteen at a time
 * where the CPU has AVX-512; the result is the same either way. in->response
 * is not read. */
void digest_expected_many(struct digest_engine *e, struct digest_expected *items, unsigned n);

/* True when in->response is expected (as written by digest_expected_many),
 * compared in constant time, hex case-insensitively. False for a response
 * of the wrong length. */
bool digest_response_equals(const struct digest_response_input *in, const char *expected);

/* Reads the nonce secret from path, or creates it (mode 0600, from the
 * kernel's random source) when the file does not exist. Returns 0, or a
 * negative errno (unreadable file, short file, no randomness). */
int digest_secret_load_or_create(const char *path, uint8_t secret[DIGEST_SECRET_LEN]);

#endif
