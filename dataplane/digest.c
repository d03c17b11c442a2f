/* digest.c — stateless nonces and Digest response checks with OpenSSL.
 *
 * The hot path hashes with OpenSSL's block functions (MD5_Transform,
 * SHA256_Transform) over a message assembled and padded here in one
 * buffer, and an HMAC built from two precomputed keyed SHA-256 states
 * (RFC 2104 ipad/opad) that are copied per use. Measured with
 * perf/bench-pipeline under callgrind (20,000 users): through EVP
 * (EVP_MAC re-init, EVP_DigestInit/Final) the nonce MAC cost ~10,300
 * instructions and each MD5 ~2,900; with keyed states and
 * MD5_Update/Final ~3,000 and ~2,100, of which MD5_Update's per-piece
 * buffering (six pieces per response) was ~1,500 a response check;
 * with the block functions ~700 per 64-byte block and nothing more.
 * HA2 (method:uri) is the same for nearly every REGISTER a registrar
 * sees, so each engine keeps the last one per algorithm.
 * The low-level functions are deprecated in OpenSSL 3.0 but present in
 * every 3.x release; the EVP path stays for anything off the packet path.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "digest.h"

#include "copy_short.h"
#include "hex.h"
#include "md5_x16.h"
#include "sip_parser.h"   /* sip_bytes_equal */

#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/md5.h>
#include <openssl/sha.h>

#define NONCE_TS_HEX 8
#define NONCE_MAC_HEX (DIGEST_NONCE_LEN - NONCE_TS_HEX)
#define HASH_BLOCK 64                 /* MD5 and SHA-256 alike */
/* Messages hashed in one buffer: a response over the longest HA1 and a
 * generous nonce and cnonce; anything longer goes through
 * MD5_Update/SHA256_Update. */
#define ONESHOT_MAX 448
#define HA2_KEY_MAX 192               /* "REGISTER:" + a request URI */
#define DIGEST_REALM_MEMO_MAX 128     /* longer realms are not memoised */

struct ha2_memo {
	uint16_t key_len;                 /* 0: empty */
	char key[HA2_KEY_MAX];            /* method ":" uri */
	char hex[DIGEST_SHA256_HEX_LEN];
};

/* A nonce this engine made, or whose MAC it checked, lately: see
 * digest_nonce_check. One cache line. */
struct nonce_memo {
	char nonce[DIGEST_NONCE_LEN];
	uint8_t src_len;          /* 0: empty */
	uint8_t src[16];
	uint8_t unused[7];
};

#define NONCE_MEMO_BITS 16
#define NONCE_MEMO_SLOTS (1u << NONCE_MEMO_BITS)   /* 4 MiB */
#define NONCE_MEMO_PENDING 8          /* entries on their way in: memo_put */

struct digest_engine {
	SHA256_CTX mac_inner;     /* SHA-256 state after (key ^ ipad) */
	SHA256_CTX mac_outer;     /* SHA-256 state after (key ^ opad) */
	uint32_t nonce_validity_s;
	struct ha2_memo ha2[2];   /* by enum digest_algorithm */
	/* The realm of the memo's nonces: a nonce is only recognised for the
	 * realm it was made for, and another realm empties the memo. */
	char memo_realm[DIGEST_REALM_MEMO_MAX];
	size_t memo_realm_len;
	uint64_t memo_hits;
	struct nonce_memo *memo;  /* NONCE_MEMO_SLOTS, direct-mapped */
	/* Entries on their way to the memo: see memo_put */
	uint32_t pending_next;
	struct nonce_memo *pending_slot[NONCE_MEMO_PENDING];   /* NULL: none */
	struct nonce_memo pending[NONCE_MEMO_PENDING];
};

/* Constant-time comparison of n bytes (a multiple of 8), 8 at a time, for
 * nonce MACs and Digest responses: CRYPTO_memcmp goes byte by byte (0.7 %
 * of perf/bench-pipeline). With lower_a, a's ASCII capitals count as small
 * letters (received hex against our lower-case hex). */
static bool equal_in_constant_time(const char *a, const char *b, size_t n, bool lower_a)
{
	uint64_t diff = 0;

	for (size_t i = 0; i < n; i += 8) {
		uint64_t x, y;
		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		diff |= (lower_a ? lower_ascii_word(x) : x) ^ y;
	}
	return diff == 0;
}

/* Pads the message of len bytes at buf (cap >= len + 72) for MD5 or
 * SHA-256, as if `before` bytes had been hashed ahead of it; returns the
 * padded length, a multiple of HASH_BLOCK. The zeros are one fixed-size
 * store and the bit count one 8-byte store. */
static size_t pad_message(uint8_t *buf, size_t len, uint64_t before, bool big_endian)
{
	size_t total = (len + 9 + HASH_BLOCK - 1) & ~(size_t)(HASH_BLOCK - 1);
	uint64_t bits = (before + len) * 8;
	/* a byte swap, not a loop of shifts by a variable amount (callgrind,
	 * perf/bench-pipeline: ~120 instructions a request) */
	uint64_t count = big_endian ? htobe64(bits) : htole64(bits);

	buf[len] = 0x80;
	memset(buf + len + 1, 0, HASH_BLOCK);   /* total - 8 <= len + 64 */
	memcpy(buf + total - 8, &count, 8);
	return total;
}

/* SHA-256 of the message at buf (len bytes, cap >= len + 72) continued
 * from ctx, which has absorbed `before` bytes (whole blocks). */
static void sha256_oneshot(SHA256_CTX ctx, uint8_t *buf, size_t len, uint64_t before,
			   uint8_t out[SHA256_DIGEST_LENGTH])
{
	size_t total = pad_message(buf, len, before, true);

	for (size_t off = 0; off < total; off += HASH_BLOCK)
		SHA256_Transform(&ctx, buf + off);
	for (int i = 0; i < 8; i++) {
		uint32_t word = htobe32(ctx.h[i]);
		memcpy(out + 4 * i, &word, 4);
	}
}

static void md5_oneshot(uint8_t *buf, size_t len, uint8_t out[MD5_DIGEST_LENGTH])
{
	size_t total = pad_message(buf, len, 0, false);
	MD5_CTX ctx;

	MD5_Init(&ctx);
	for (size_t off = 0; off < total; off += HASH_BLOCK)
		MD5_Transform(&ctx, buf + off);
	const uint32_t words[4] = { htole32(ctx.A), htole32(ctx.B), htole32(ctx.C), htole32(ctx.D) };
	memcpy(out, words, sizeof(words));
}

struct digest_engine *digest_engine_create(const uint8_t secret[DIGEST_SECRET_LEN],
					   uint32_t nonce_validity_s)
{
	struct digest_engine *e = calloc(1, sizeof(*e));
	uint8_t ipad[SHA256_CBLOCK], opad[SHA256_CBLOCK];

	if (!e)
		return NULL;
	e->memo = aligned_alloc(64, sizeof(struct nonce_memo) * NONCE_MEMO_SLOTS);
	if (!e->memo) {
		free(e);
		return NULL;
	}
	memset(e->memo, 0, sizeof(struct nonce_memo) * NONCE_MEMO_SLOTS);
	e->nonce_validity_s = nonce_validity_s;
	/* RFC 2104: a key shorter than the block is zero-padded. */
	memset(ipad, 0x36, sizeof(ipad));
	memset(opad, 0x5c, sizeof(opad));
	for (int i = 0; i < DIGEST_SECRET_LEN; i++) {
		ipad[i] ^= secret[i];
		opad[i] ^= secret[i];
	}
	if (!SHA256_Init(&e->mac_inner) || !SHA256_Update(&e->mac_inner, ipad, sizeof(ipad)) ||
	    !SHA256_Init(&e->mac_outer) || !SHA256_Update(&e->mac_outer, opad, sizeof(opad))) {
		free(e->memo);
		free(e);
		return NULL;
	}
	OPENSSL_cleanse(ipad, sizeof(ipad));
	OPENSSL_cleanse(opad, sizeof(opad));
	return e;
}

void digest_engine_free(struct digest_engine *e)
{
	if (!e)
		return;
	free(e->memo);
	OPENSSL_cleanse(e, sizeof(*e));
	free(e);
}

/* MAC over (timestamp hex, source, realm), as hex, NONCE_MAC_HEX chars. */
static int nonce_mac_hex(struct digest_engine *e, const char ts_hex[NONCE_TS_HEX],
			 const struct digest_source *src, const char *realm,
			 size_t realm_len, char out[NONCE_MAC_HEX])
{
	uint8_t msg[ONESHOT_MAX + 72], mac[SHA256_DIGEST_LENGTH];
	size_t addr_len = src->len <= sizeof(src->addr) ? src->len : sizeof(src->addr);
	size_t len = NONCE_TS_HEX + 1 + addr_len + realm_len;

	if (len > ONESHOT_MAX)
		return -1;        /* a realm that long is refused by the config */
	memcpy(msg, ts_hex, NONCE_TS_HEX);
	msg[NONCE_TS_HEX] = src->len;
	memcpy(msg + NONCE_TS_HEX + 1, src->addr, addr_len);
	memcpy(msg + NONCE_TS_HEX + 1 + addr_len, realm, realm_len);
	sha256_oneshot(e->mac_inner, msg, len, HASH_BLOCK, msg);
	sha256_oneshot(e->mac_outer, msg, SHA256_DIGEST_LENGTH, HASH_BLOCK, mac);
	hex_encode(mac, NONCE_MAC_HEX / 2, out);
	return 0;
}

/* The memo slot of a nonce: its MAC hex is already uniformly spread, and
 * a nonce someone made up can only land on a slot, never match one. */
static struct nonce_memo *memo_slot(const struct digest_engine *e, const char *nonce)
{
	uint64_t w;

	memcpy(&w, nonce + NONCE_TS_HEX, sizeof(w));
	return &e->memo[(w * 0x9e3779b97f4a7c15ULL) >> (64 - NONCE_MEMO_BITS)];
}

/* True when the memo's nonces are of realm. */
static bool memo_realm_matches(const struct digest_engine *e, const char *realm, size_t realm_len)
{
	return realm_len == e->memo_realm_len && sip_bytes_equal(realm, e->memo_realm, realm_len);
}

/* The memo holds nonces of one realm: true when realm is it, or becomes
 * it (the memo emptied); false for a realm too long to keep. */
static bool memo_realm_is(struct digest_engine *e, const char *realm, size_t realm_len)
{
	if (realm_len > sizeof(e->memo_realm))
		return false;
	if (memo_realm_matches(e, realm, realm_len))
		return true;
	memset(e->memo, 0, sizeof(struct nonce_memo) * NONCE_MEMO_SLOTS);
	memset(e->pending_slot, 0, sizeof(e->pending_slot));
	memcpy(e->memo_realm, realm, realm_len);
	e->memo_realm_len = realm_len;
	return true;
}

/* Remembers a nonce whose MAC is right. Its slot is out of cache as a
 * rule, and a store there would hold up every store after it until the
 * line arrived (stores leave in order: the 401 path of
 * perf/bench-pipeline was 18 % slower; non-temporal stores still cost it
 * 3 %). So the entry waits in a short queue while its line loads, and is
 * written NONCE_MEMO_PENDING nonces later (memo_has looks in the
 * queue too). */
static void memo_put(struct digest_engine *e, const char nonce[DIGEST_NONCE_LEN],
		     const struct digest_source *src, const char *realm, size_t realm_len)
{
	if (src->len == 0 || src->len > sizeof(src->addr) || !memo_realm_is(e, realm, realm_len))
		return;
	uint32_t i = e->pending_next++ % NONCE_MEMO_PENDING;
	struct nonce_memo *m = memo_slot(e, nonce);

	if (e->pending_slot[i])
		*e->pending_slot[i] = e->pending[i];
	memcpy(e->pending[i].nonce, nonce, DIGEST_NONCE_LEN);
	e->pending[i].src_len = src->len;
	memcpy(e->pending[i].src, src->addr, src->len);
	e->pending_slot[i] = m;
	__builtin_prefetch(m, 1);
}

static bool memo_entry_is(const struct nonce_memo *m, const char nonce[DIGEST_NONCE_LEN],
			  const struct digest_source *src)
{
	return m->src_len == src->len && src->len <= sizeof(src->addr) &&
	       memcmp(m->nonce, nonce, DIGEST_NONCE_LEN) == 0 &&
	       sip_bytes_equal((const char *)m->src, (const char *)src->addr, src->len);
}

/* True when the memo, or its queue, holds nonce for src and realm. */
static bool memo_has(struct digest_engine *e, const char nonce[DIGEST_NONCE_LEN],
		     const struct digest_source *src, const char *realm, size_t realm_len)
{
	const struct nonce_memo *m = memo_slot(e, nonce);

	if (!memo_realm_matches(e, realm, realm_len))
		return false;
	if (memo_entry_is(m, nonce, src))
		return true;
	/* made moments ago: still queued (a phone answering a 401 at once) */
	for (int i = 0; i < NONCE_MEMO_PENDING; i++)
		if (e->pending_slot[i] == m && memo_entry_is(&e->pending[i], nonce, src))
			return true;
	return false;
}

void digest_nonce_prefetch(const struct digest_engine *e, const char *nonce, size_t nonce_len)
{
	if (nonce_len == DIGEST_NONCE_LEN)
		__builtin_prefetch(memo_slot(e, nonce));
}

uint64_t digest_nonce_memo_hits(const struct digest_engine *e)
{
	return e->memo_hits;
}

int digest_nonce_make(struct digest_engine *e, uint32_t now_s,
		      const struct digest_source *src, const char *realm,
		      size_t realm_len, char out[DIGEST_NONCE_LEN])
{
	uint8_t ts[4] = { (uint8_t)(now_s >> 24), (uint8_t)(now_s >> 16),
			  (uint8_t)(now_s >> 8), (uint8_t)now_s };

	hex_encode(ts, sizeof(ts), out);
	if (nonce_mac_hex(e, out, src, realm, realm_len, out + NONCE_TS_HEX) != 0)
		return -1;
	memo_put(e, out, src, realm, realm_len);
	return 0;
}

enum digest_nonce_status digest_nonce_check(struct digest_engine *e, uint32_t now_s,
					    const struct digest_source *src,
					    const char *realm, size_t realm_len,
					    const char *nonce, size_t nonce_len)
{
	char expected[NONCE_MAC_HEX];
	uint32_t ts = 0;

	if (nonce_len != DIGEST_NONCE_LEN)
		return DIGEST_NONCE_INVALID;
	_Static_assert(NONCE_TS_HEX == 8, "the time is 8 hex digits");
	if (!hex_decode8(nonce, true, &ts))
		return DIGEST_NONCE_INVALID;
	/* A nonce made (or checked) here lately is recognised without its
	 * HMAC: the authorized REGISTER that follows a 401 within the second
	 * brings back exactly the nonce just made for its source. */
	if (memo_has(e, nonce, src, realm, realm_len)) {
		e->memo_hits++;
	} else {
		if (nonce_mac_hex(e, nonce, src, realm, realm_len, expected) != 0)
			return DIGEST_NONCE_INVALID;
		if (!equal_in_constant_time(expected, nonce + NONCE_TS_HEX, NONCE_MAC_HEX, false))
			return DIGEST_NONCE_INVALID;
		memo_put(e, nonce, src, realm, realm_len);
	}
	/* A few seconds of clock step back is tolerated; more is forgery. */
	if (ts > now_s + 5)
		return DIGEST_NONCE_INVALID;
	if (now_s > ts && now_s - ts > e->nonce_validity_s)
		return DIGEST_NONCE_STALE;
	return DIGEST_NONCE_VALID;
}

/* Hex digest of the concatenated parts, streamed: for messages longer
 * than ONESHOT_MAX, which no phone sends but the wire allows. */
static void md_hex_streamed(enum digest_algorithm alg, const char *const parts[],
			    const size_t lens[], int n, char *out)
{
	uint8_t h[SHA256_DIGEST_LENGTH];

	if (alg == DIGEST_MD5) {
		MD5_CTX ctx;
		MD5_Init(&ctx);
		for (int i = 0; i < n; i++)
			MD5_Update(&ctx, parts[i], lens[i]);
		MD5_Final(h, &ctx);
		hex_encode(h, MD5_DIGEST_LENGTH, out);
		return;
	}
	SHA256_CTX ctx;
	SHA256_Init(&ctx);
	for (int i = 0; i < n; i++)
		SHA256_Update(&ctx, parts[i], lens[i]);
	SHA256_Final(h, &ctx);
	hex_encode(h, SHA256_DIGEST_LENGTH, out);
}

/* Concatenates the parts into msg (room for ONESHOT_MAX + padding).
 * Returns the length, or SIZE_MAX when longer than ONESHOT_MAX. */
static size_t assemble(const char *const parts[], const size_t lens[], int n, uint8_t *msg)
{
	size_t len = 0;

	for (int i = 0; i < n; i++) {
		if (lens[i] > ONESHOT_MAX - len)
			return SIZE_MAX;
		copy_short((char *)msg + len, parts[i], lens[i]);
		len += lens[i];
	}
	return len;
}

/* Hex digest (32 or 64 chars into out) of the concatenated parts. */
static void md_hex(enum digest_algorithm alg, const char *const parts[], const size_t lens[],
		   int n, char *out)
{
	uint8_t msg[ONESHOT_MAX + 72], h[SHA256_DIGEST_LENGTH];
	size_t len = assemble(parts, lens, n, msg);

	if (len == SIZE_MAX) {
		md_hex_streamed(alg, parts, lens, n, out);
		return;
	}
	if (alg == DIGEST_MD5) {
		md5_oneshot(msg, len, h);
		hex_encode(h, MD5_DIGEST_LENGTH, out);
		return;
	}
	SHA256_CTX ctx;
	SHA256_Init(&ctx);
	sha256_oneshot(ctx, msg, len, 0, h);
	hex_encode(h, SHA256_DIGEST_LENGTH, out);
}

/* HA2 = H(method ":" uri), from the engine's memo when the last request
 * with this algorithm had the same method and URI. */
static void ha2_hex(struct digest_engine *e, const struct digest_response_input *in, char *out)
{
	struct ha2_memo *m = &e->ha2[in->algorithm == DIGEST_MD5 ? 0 : 1];
	size_t hex_len = digest_hex_len(in->algorithm);
	size_t key_len = in->method_len + 1 + in->uri_len;
	const char *a2[] = { in->method, ":", in->uri };
	const size_t a2_len[] = { in->method_len, 1, in->uri_len };

	if (key_len == m->key_len && sip_bytes_equal(m->key, in->method, in->method_len) &&
	    m->key[in->method_len] == ':' && sip_bytes_equal(m->key + in->method_len + 1, in->uri, in->uri_len)) {
		memcpy(out, m->hex, hex_len);
		return;
	}
	md_hex(in->algorithm, a2, a2_len, 3, out);
	if (key_len > sizeof(m->key))
		return;
	memcpy(m->key, in->method, in->method_len);
	m->key[in->method_len] = ':';
	memcpy(m->key + in->method_len + 1, in->uri, in->uri_len);
	memcpy(m->hex, out, hex_len);
	m->key_len = (uint16_t)key_len;
}

/* The parts of the response digest's message (RFC 7616 §3.4.1) into
 * parts/lens; ha2 must stay alive while they are used. Returns their count. */
static int response_parts(const struct digest_response_input *in, const char *ha1,
			  const char *ha2, const char *parts[9], size_t lens[9])
{
	size_t hex_len = digest_hex_len(in->algorithm);

	if (in->qop_auth) {
		const char *r[] = { ha1, ":", in->nonce, ":", in->nc, ":", in->cnonce, ":auth:", ha2 };
		const size_t r_len[] = { hex_len, 1, in->nonce_len, 1, in->nc_len, 1,
					 in->cnonce_len, 6, hex_len };
		memcpy(parts, r, sizeof(r));
		memcpy(lens, r_len, sizeof(r_len));
		return 9;
	}
	const char *r[] = { ha1, ":", in->nonce, ":", ha2 };
	const size_t r_len[] = { hex_len, 1, in->nonce_len, 1, hex_len };
	memcpy(parts, r, sizeof(r));
	memcpy(lens, r_len, sizeof(r_len));
	return 5;
}

void digest_expected_many(struct digest_engine *e, struct digest_expected *items, unsigned n)
{
	/* MD5 messages of a group, a lane each, for md5_x16 */
	uint8_t lanes[MD5_X16_LANES * MD5_X16_STRIDE], blocks[MD5_X16_LANES];
	uint8_t digests[MD5_X16_LANES][16];
	struct digest_expected *lane_item[MD5_X16_LANES];
	bool wide = n > 1 && md5_x16_available();
	unsigned k = 0;

	for (unsigned i = 0; i < n; i++) {
		struct digest_expected *it = &items[i];
		char ha2[DIGEST_SHA256_HEX_LEN];
		const char *parts[9];
		size_t lens[9];

		ha2_hex(e, it->in, ha2);
		int n_parts = response_parts(it->in, it->ha1, ha2, parts, lens);
		if (!wide || it->in->algorithm != DIGEST_MD5) {
			md_hex(it->in->algorithm, parts, lens, n_parts, it->hex);
			continue;
		}
		uint8_t *msg = lanes + (size_t)k * MD5_X16_STRIDE;
		size_t len = assemble(parts, lens, n_parts, msg);
		if (len == SIZE_MAX) {
			md_hex_streamed(DIGEST_MD5, parts, lens, n_parts, it->hex);
			continue;
		}
		blocks[k] = (uint8_t)(pad_message(msg, len, 0, false) / HASH_BLOCK);
		lane_item[k++] = it;
		if (k == MD5_X16_LANES || i + 1 == n) {
			md5_x16(lanes, blocks, k, digests);
			for (unsigned j = 0; j < k; j++)
				hex_encode(digests[j], MD5_DIGEST_LENGTH, lane_item[j]->hex);
			k = 0;
		}
	}
}

bool digest_response_equals(const struct digest_response_input *in, const char *expected)
{
	size_t hex_len = digest_hex_len(in->algorithm);

	if (in->response_len != hex_len)
		return false;
	/* hex compares case-insensitively: the received one lower-cased
	 * (expected is lower-case hex, so folding other capitals too cannot
	 * make a match) */
	return equal_in_constant_time(in->response, expected, hex_len, true);
}

bool digest_response_matches(struct digest_engine *e, const char *ha1,
			     const struct digest_response_input *in)
{
	struct digest_expected item = { .ha1 = ha1, .in = in };

	if (in->response_len != digest_hex_len(in->algorithm))
		return false;
	digest_expected_many(e, &item, 1);
	return digest_response_equals(in, item.hex);
}

int digest_secret_load_or_create(const char *path, uint8_t secret[DIGEST_SECRET_LEN])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		ssize_t n = read(fd, secret, DIGEST_SECRET_LEN);
		int e = errno;
		close(fd);
		if (n < 0)
			return -e;
		return n == DIGEST_SECRET_LEN ? 0 : -EPROTO;
	}
	if (errno != ENOENT)
		return -errno;
	if (getrandom(secret, DIGEST_SECRET_LEN, 0) != DIGEST_SECRET_LEN)
		return -EIO;
	/* Write to a temporary name and rename, so a crash never leaves a
	 * short secret that would make every outstanding nonce invalid. */
	char tmp[4096];
	int n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, secret, DIGEST_SECRET_LEN) != DIGEST_SECRET_LEN || fsync(fd) != 0) {
		int e = errno ? errno : EIO;
		close(fd);
		unlink(tmp);
		return -e;
	}
	close(fd);
	if (rename(tmp, path) != 0) {
		int e = errno;
		unlink(tmp);
		return -e;
	}
	return 0;
}
