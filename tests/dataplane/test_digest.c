/* Unit tests for dataplane/digest.c: RFC 2617 / RFC 7616 vectors, and the
 * stateless nonce rules of DESIGN.md "SIP behaviour" step 3. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "account_import.h"
#include "digest.h"

#define S(x) x, sizeof(x) - 1

static const uint8_t secret[DIGEST_SECRET_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8 };
static const struct digest_source src_a = { 4, { 198, 18, 0, 2 } };
static const struct digest_source src_b = { 4, { 198, 18, 0, 3 } };

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
		cmocka_unit_test(test_nonce_older_than_validity_is_stale),
		cmocka_unit_test(test_forged_or_malformed_nonce_is_invalid),
		cmocka_unit_test(test_secret_is_created_once_and_kept),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
