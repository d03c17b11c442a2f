/* Unit tests for dataplane/digest.c: RFC 2617 / RFC 7616 vectors, and the
 * stateless nonce rules of DESIGN.md "SIP behaviour" step 3. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "account_import.h"
#include "digest.h"
#include "md5_x16.h"

#define S(x) x, sizeof(x) - 1

static const uint8_t secret[DIGEST_SECRET_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8 };
static const struct digest_source src_a = { 4, { 198, 18, 0, 2 } };
static const struct digest_source src_b = { 4, { 198, 18, 0, 3 } };
static const struct digest_source src_v6 = { 16, { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 } };
#define REALM_LEN_MAX 127   /* registrar.h REGISTRAR_DOMAIN_MAX - 1 */

static void test_rfc2617_md5_qop_auth_vector_matches(void **state)
{
	struct digest_engine *e = digest_engine_create(secret, 300);
	char ha1[33];
	(void)state;
	assert_int_equal(store_ha1_hex(STORE_HA1_MD5, "Mufasa", "testrealm@host.com",
					"Circle Of Life", ha1, sizeof(ha1)), 0);
	struct digest_response_input in = {
		.algorithm = DIGEST_MD5, .method = S("GET"), .uri = S("/dir/index.html"),
		.nonce = S("dcd98b7102dd2f0e8b11d0f600bfb0c093"), .nc = S("00000001"),
		.cnonce = S("0a4f113b"), .qop_auth = true,
		.response = S("6629fae49393a05397450978507c4ef1"),
	};
	assert_true(digest_response_matches(e, ha1, &in));
	in.response = "6629FAE49393A05397450978507C4EF1";
	assert_true(digest_response_matches(e, ha1, &in));
	in.nc = "00000002";
	assert_false(digest_response_matches(e, ha1, &in));
	digest_engine_free(e);
}

static void test_rfc7616_sha256_vector_matches(void **state)
{
	struct digest_engine *e = digest_engine_create(secret, 300);
	char ha1[65];
	(void)state;
	assert_int_equal(store_ha1_hex(STORE_HA1_SHA256, "Mufasa", "http-auth@example.org",
					"Circle of Life", ha1, sizeof(ha1)), 0);
	struct digest_response_input in = {
		.algorithm = DIGEST_SHA256, .method = S("GET"), .uri = S("/dir/index.html"),
		.nonce = S("7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"), .nc = S("00000001"),
		.cnonce = S("f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"), .qop_auth = true,
		.response = S("753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
	};
	assert_true(digest_response_matches(e, ha1, &in));
	digest_engine_free(e);
}

static void test_wrong_password_does_not_match(void **state)
{
	struct digest_engine *e = digest_engine_create(secret, 300);
	char ha1[33];
	(void)state;
	store_ha1_hex(STORE_HA1_MD5, "Mufasa", "testrealm@host.com", "wrong", ha1, sizeof(ha1));
	struct digest_response_input in = {
		.algorithm = DIGEST_MD5, .method = S("GET"), .uri = S("/dir/index.html"),
		.nonce = S("dcd98b7102dd2f0e8b11d0f600bfb0c093"), .nc = S("00000001"),
		.cnonce = S("0a4f113b"), .qop_auth = true,
		.response = S("6629fae49393a05397450978507c4ef1"),
	};
	assert_false(digest_response_matches(e, ha1, &in));
	in.response_len = 31;
	assert_false(digest_response_matches(e, ha1, &in));
	digest_engine_free(e);
}

static void test_nonce_verifies_for_its_source_and_realm_only(void **state)
{
	struct digest_engine *e = digest_engine_create(secret, 300);
	char nonce[DIGEST_NONCE_LEN];
	(void)state;
	assert_int_equal(digest_nonce_make(e, 1000, &src_a, S("sipreg.test"), nonce), 0);
	assert_int_equal(digest_nonce_check(e, 1010, &src_a, S("sipreg.test"), nonce, sizeof(nonce)),
			 DIGEST_NONCE_VALID);
	assert_int_equal(digest_nonce_check(e, 1010, &src_b, S("sipreg.test"), nonce, sizeof(nonce)),
			 DIGEST_NONCE_INVALID);
	assert_int_equal(digest_nonce_check(e, 1010, &src_a, S("other.test"), nonce, sizeof(nonce)),
			 DIGEST_NONCE_INVALID);
	digest_engine_free(e);
}

static void hex_of(const unsigned char *h, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", h[i]);
}

/* The nonce is hex(ts) + the first 16 bytes of HMAC-SHA256(secret,
 * hex(ts) | source length | source | realm), as OpenSSL's HMAC computes it:
 * for every realm length across the 64-byte block boundaries, so the
 * hand-padded blocks stay byte-compatible with nonces already issued. */
static void test_nonce_mac_is_hmac_sha256_for_every_realm_length(void **state)
{
	struct digest_engine *e = digest_engine_create(secret, 300);
	char realm[REALM_LEN_MAX + 1], nonce[DIGEST_NONCE_LEN], want[65];
	unsigned char msg[256], mac[32];
	unsigned mac_len = 0;
	(void)state;
	for (size_t n = 0; n <= REALM_LEN_MAX; n++) {
		const struct digest_source *src = n % 2 ? &src_v6 : &src_a;
		memset(realm, 'a' + (int)(n % 26), n);
		assert_int_equal(digest_nonce_make(e, 0x12345678, src, realm, n, nonce), 0);
		memcpy(msg, "12345678", 8);
		msg[8] = src->len;
		memcpy(msg + 9, src->addr, src->len);
		memcpy(msg + 9 + src->len, realm, n);
		assert_non_null(HMAC(EVP_sha256(), secret, sizeof(secret), msg, 9 + src->len + n,
				     mac, &mac_len));
		hex_of(mac, 16, want);
		assert_memory_equal(nonce, "12345678", 8);
		assert_memory_equal(nonce + 8, want, 32);
		assert_int_equal(digest_nonce_check(e, 0x12345678, src, realm, n, nonce, sizeof(nonce)),
				 DIGEST_NONCE_VALID);
	}
	digest_engine_free(e);
}

/* The expected response as RFC 7616 defines it, through EVP. */
static void reference_response(const EVP_MD *md, const char *ha1, const char *method,
			       const char *uri, const char *nonce, const char *cnonce, char *out)
{
	unsigned char h[32];
	char ha2[65], text[4096];
	unsigned n = 0;

	snprintf(text, sizeof(text), "%s:%s", method, uri);
	EVP_Digest(text, strlen(text), h, &n, md, NULL);
	hex_of(h, n, ha2);
	snprintf(text, sizeof(text), "%s:%s:00000001:%s:auth:%s", ha1, nonce, cnonce, ha2);
	EVP_Digest(text, strlen(text), h, &n, md, NULL);
	hex_of(h, n, out);
}

/* Message lengths around every padding boundary, past the one-buffer
 * limit (the streamed path), and the HA2 memo: a request for another
 * URI after a memo, then the first URI again. */
static void test_response_matches_reference_for_every_length_and_uri(void **state)
{
	struct digest_engine *e = digest_engine_create(secret, 300);
	static const char *const uris[] = { "sip:sipreg.test", "sip:other.test", "sip:sipreg.test",
					    "sip:sipreg.tesu" };
	char cnonce[1200], expected[65], ha1[65];
	(void)state;
	for (int alg = 0; alg < 2; alg++) {
		const EVP_MD *md = alg == 0 ? EVP_md5() : EVP_sha256();
		size_t hex_len = alg == 0 ? 32 : 64;
		memset(ha1, 'a' + alg, hex_len);
		ha1[hex_len] = '\0';
		for (size_t n = 1; n < sizeof(cnonce); n += n < 200 ? 1 : 97) {
			const char *uri = uris[n % 4];
			memset(cnonce, 'c', n);
			cnonce[n] = '\0';
			reference_response(md, ha1, "REGISTER", uri, "nonce-1", cnonce, expected);
			struct digest_response_input in = {
				.algorithm = alg == 0 ? DIGEST_MD5 : DIGEST_SHA256,
				.method = S("REGISTER"), .uri = uri, .uri_len = strlen(uri),
				.nonce = S("nonce-1"), .nc = S("00000001"), .cnonce = cnonce,
				.cnonce_len = n, .qop_auth = true, .response = expected,
				.response_len = hex_len,
			};
			assert_true(digest_response_matches(e, ha1, &in));
			expected[0] = expected[0] == '0' ? '1' : '0';
			assert_false(digest_response_matches(e, ha1, &in));
		}
	}
	digest_engine_free(e);
}

/* Every lane count, lanes of different lengths (1 to 9 blocks, each
 * padding boundary), against OpenSSL's MD5. */
static void test_md5_x16_matches_openssl_for_every_lane_count_and_length(void **state)
{
	static uint8_t lanes[MD5_X16_LANES * MD5_X16_STRIDE];
	uint8_t blocks[MD5_X16_LANES], out[MD5_X16_LANES][16], want[16];
	size_t lens[MD5_X16_LANES];
	uint32_t seed = 99;
	unsigned n_md = 0;
	(void)state;
	if (!md5_x16_available())
		skip();
	for (int round = 0; round < 400; round++) {
		unsigned n = 1 + (unsigned)round % MD5_X16_LANES;
		for (unsigned i = 0; i < n; i++) {
			uint8_t *msg = lanes + i * MD5_X16_STRIDE;
			seed = seed * 1103515245u + 12345u;
			lens[i] = round < 64 ? (size_t)(round * 9 + i) % 568 : (seed >> 8) % 568;
			for (size_t j = 0; j < lens[i]; j++) {
				seed = seed * 1103515245u + 12345u;
				msg[j] = (uint8_t)(seed >> 16);
			}
			/* MD5 padding: 0x80, zeros, 64-bit little-endian bit count */
			size_t total = (lens[i] + 9 + 63) / 64 * 64;
			msg[lens[i]] = 0x80;
			memset(msg + lens[i] + 1, 0, total - lens[i] - 1);
			uint64_t bits = lens[i] * 8;
			for (int b = 0; b < 8; b++)
				msg[total - 8 + b] = (uint8_t)(bits >> (8 * b));
			blocks[i] = (uint8_t)(total / 64);
		}
		md5_x16(lanes, blocks, n, out);
		for (unsigned i = 0; i < n; i++) {
			unsigned md_len = 0;
			EVP_Digest(lanes + i * MD5_X16_STRIDE, lens[i], want, &md_len, EVP_md5(), NULL);
			assert_memory_equal(out[i], want, 16);
			n_md++;
		}
	}
	assert_true(n_md > 3000);
	/* counts outside the contract write nothing */
	memset(out, 0xaa, sizeof(out));
	blocks[0] = 0;
	md5_x16(lanes, blocks, 1, out);
	md5_x16(lanes, blocks, 17, out);
	assert_int_equal(out[0][0], 0xaa);
}

/* A group of mixed MD5 and SHA-256 requests, some past the one-buffer
 * limit, gives each the response RFC 7616 defines. */
static void test_expected_many_equals_reference_for_mixed_groups(void **state)
{
	struct digest_engine *e = digest_engine_create(secret, 300);
	enum { N = 41 };
	static char cnonces[N][700];
	static struct digest_response_input in[N];
	struct digest_expected items[N];
	char ha1[2][65], want[65];
	(void)state;
	memset(ha1[0], 'b', 32);
	ha1[0][32] = '\0';
	memset(ha1[1], 'c', 64);
	ha1[1][64] = '\0';
	for (int i = 0; i < N; i++) {
		int alg = i % 5 == 4;
		size_t n = i == 7 ? 650 : (size_t)(1 + i * 7);
		memset(cnonces[i], 'a' + i % 26, n);
		cnonces[i][n] = '\0';
		in[i] = (struct digest_response_input){
			.algorithm = alg ? DIGEST_SHA256 : DIGEST_MD5,
			.method = S("REGISTER"), .uri = S("sip:sipreg.test"),
			.nonce = S("nonce-2"), .nc = S("00000001"), .cnonce = cnonces[i],
			.cnonce_len = n, .qop_auth = true,
		};
		items[i] = (struct digest_expected){ .ha1 = ha1[alg], .in = &in[i] };
	}
	digest_expected_many(e, items, N);
	for (int i = 0; i < N; i++) {
		reference_response(i % 5 == 4 ? EVP_sha256() : EVP_md5(), items[i].ha1, "REGISTER",
				   "sip:sipreg.test", "nonce-2", cnonces[i], want);
		assert_memory_equal(items[i].hex, want, strlen(want));
		in[i].response = want;
		in[i].response_len = strlen(want);
		assert_true(digest_response_equals(&in[i], items[i].hex));
		in[i].response_len--;
		assert_false(digest_response_equals(&in[i], items[i].hex));
	}
	digest_engine_free(e);
}

static void test_nonce_older_than_validity_is_stale(void **state)
{
	struct digest_engine *e = digest_engine_create(secret, 300);
	char nonce[DIGEST_NONCE_LEN];
	(void)state;
	digest_nonce_make(e, 1000, &src_a, S("sipreg.test"), nonce);
	assert_int_equal(digest_nonce_check(e, 1300, &src_a, S("sipreg.test"), nonce, sizeof(nonce)),
			 DIGEST_NONCE_VALID);
	assert_int_equal(digest_nonce_check(e, 1301, &src_a, S("sipreg.test"), nonce, sizeof(nonce)),
			 DIGEST_NONCE_STALE);
	digest_engine_free(e);
}

static void test_forged_or_malformed_nonce_is_invalid(void **state)
{
	struct digest_engine *e = digest_engine_create(secret, 300);
	struct digest_engine *other = digest_engine_create((const uint8_t *)"another secret, 32 bytes long..", 300);
	char nonce[DIGEST_NONCE_LEN];
	(void)state;
	digest_nonce_make(other, 1000, &src_a, S("sipreg.test"), nonce);
	assert_int_equal(digest_nonce_check(e, 1000, &src_a, S("sipreg.test"), nonce, sizeof(nonce)),
			 DIGEST_NONCE_INVALID);
	digest_nonce_make(e, 1000, &src_a, S("sipreg.test"), nonce);
	assert_int_equal(digest_nonce_check(e, 1000, &src_a, S("sipreg.test"), nonce, sizeof(nonce) - 1),
			 DIGEST_NONCE_INVALID);
	nonce[0] = 'z';
	assert_int_equal(digest_nonce_check(e, 1000, &src_a, S("sipreg.test"), nonce, sizeof(nonce)),
			 DIGEST_NONCE_INVALID);
	/* A nonce dated in the future was not made by us at that time. */
	digest_nonce_make(e, 5000, &src_a, S("sipreg.test"), nonce);
	assert_int_equal(digest_nonce_check(e, 1000, &src_a, S("sipreg.test"), nonce, sizeof(nonce)),
			 DIGEST_NONCE_INVALID);
	digest_engine_free(e);
	digest_engine_free(other);
}

/* digest_nonce_check of nonce (realm sipreg.test) gives status, and the
 * memo has recognised `hits` nonces in all. */
static void check_counted(struct digest_engine *e, uint32_t now_s, const struct digest_source *src,
			  const char *nonce, enum digest_nonce_status status, uint64_t hits)
{
	assert_int_equal(digest_nonce_check(e, now_s, src, S("sipreg.test"), nonce, DIGEST_NONCE_LEN),
			 status);
	assert_int_equal(digest_nonce_memo_hits(e), hits);
}

/* A nonce the engine made is recognised from its memo (no HMAC) by the
 * same source, realm and rules: another source, a changed realm or a
 * changed byte is still INVALID, age still makes it STALE; a valid nonce
 * the memo does not hold (made by another engine with the same secret,
 * as after a restart) passes by its HMAC and is remembered. */
static void test_nonce_memo_recognises_only_what_the_mac_would(void **state)
{
	struct digest_engine *e = digest_engine_create(secret, 300);
	struct digest_engine *twin = digest_engine_create(secret, 300);
	char nonce[DIGEST_NONCE_LEN], forged[DIGEST_NONCE_LEN];
	(void)state;
	assert_int_equal(digest_nonce_make(e, 1000, &src_a, S("sipreg.test"), nonce), 0);
	check_counted(e, 1010, &src_a, nonce, DIGEST_NONCE_VALID, 1);
	check_counted(e, 1301, &src_a, nonce, DIGEST_NONCE_STALE, 2);
	check_counted(e, 1010, &src_b, nonce, DIGEST_NONCE_INVALID, 2);
	/* the same from the memo proper, once 9 more nonces have pushed it in */
	for (int i = 0; i < 9; i++) {
		struct digest_source s = { 4, { 10, 9, 8, (uint8_t)i } };
		assert_int_equal(digest_nonce_make(e, 999, &s, S("sipreg.test"), forged), 0);
	}
	check_counted(e, 1010, &src_a, nonce, DIGEST_NONCE_VALID, 3);
	check_counted(e, 1301, &src_a, nonce, DIGEST_NONCE_STALE, 4);
	check_counted(e, 1010, &src_b, nonce, DIGEST_NONCE_INVALID, 4);
	/* the slot is chosen by MAC digits 0-7: change one after them */
	memcpy(forged, nonce, sizeof(forged));
	forged[DIGEST_NONCE_LEN - 1] = forged[DIGEST_NONCE_LEN - 1] == '0' ? '1' : '0';
	check_counted(e, 1010, &src_a, forged, DIGEST_NONCE_INVALID, 4);
	assert_int_equal(digest_nonce_check(e, 1010, &src_a, S("other.test"), nonce, sizeof(nonce)),
			 DIGEST_NONCE_INVALID);

	assert_int_equal(digest_nonce_make(twin, 1000, &src_v6, S("sipreg.test"), nonce), 0);
	check_counted(e, 1010, &src_v6, nonce, DIGEST_NONCE_VALID, 4);
	check_counted(e, 1010, &src_v6, nonce, DIGEST_NONCE_VALID, 5);
	digest_engine_free(e);
	digest_engine_free(twin);
}

/* Made for one realm, a nonce is not recognised for another even from
 * the memo; once the realm changes the memo starts over, and nonces of
 * the old realm are checked by their HMAC (which fails for the new one). */
static void test_nonce_memo_follows_the_realm(void **state)
{
	struct digest_engine *e = digest_engine_create(secret, 300);
	char a[DIGEST_NONCE_LEN], b[DIGEST_NONCE_LEN];
	(void)state;
	assert_int_equal(digest_nonce_make(e, 1000, &src_a, S("one.test"), a), 0);
	assert_int_equal(digest_nonce_make(e, 1000, &src_a, S("two.test"), b), 0);
	assert_int_equal(digest_nonce_check(e, 1000, &src_a, S("two.test"), a, sizeof(a)),
			 DIGEST_NONCE_INVALID);
	assert_int_equal(digest_nonce_check(e, 1000, &src_a, S("two.test"), b, sizeof(b)),
			 DIGEST_NONCE_VALID);
	assert_int_equal(digest_nonce_memo_hits(e), 1);
	assert_int_equal(digest_nonce_check(e, 1000, &src_a, S("one.test"), a, sizeof(a)),
			 DIGEST_NONCE_VALID);
	assert_int_equal(digest_nonce_memo_hits(e), 1);
	digest_engine_free(e);
}

static void test_secret_is_created_once_and_kept(void **state)
{
	char path[64];
	uint8_t a[DIGEST_SECRET_LEN], b[DIGEST_SECRET_LEN];
	(void)state;
	snprintf(path, sizeof(path), "/tmp/sipreg-secret-test-%d", getpid());
	unlink(path);
	assert_int_equal(digest_secret_load_or_create(path, a), 0);
	assert_int_equal(digest_secret_load_or_create(path, b), 0);
	assert_memory_equal(a, b, sizeof(a));
	FILE *f = fopen(path, "w");
	fputs("short", f);
	fclose(f);
	assert_true(digest_secret_load_or_create(path, b) < 0);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc2617_md5_qop_auth_vector_matches),
		cmocka_unit_test(test_rfc7616_sha256_vector_matches),
		cmocka_unit_test(test_wrong_password_does_not_match),
		cmocka_unit_test(test_nonce_verifies_for_its_source_and_realm_only),
		cmocka_unit_test(test_nonce_mac_is_hmac_sha256_for_every_realm_length),
		cmocka_unit_test(test_response_matches_reference_for_every_length_and_uri),
		cmocka_unit_test(test_md5_x16_matches_openssl_for_every_lane_count_and_length),
		cmocka_unit_test(test_expected_many_equals_reference_for_mixed_groups),
		cmocka_unit_test(test_nonce_older_than_validity_is_stale),
		cmocka_unit_test(test_forged_or_malformed_nonce_is_invalid),
		cmocka_unit_test(test_nonce_memo_recognises_only_what_the_mac_would),
		cmocka_unit_test(test_nonce_memo_follows_the_realm),
		cmocka_unit_test(test_secret_is_created_once_and_kept),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
