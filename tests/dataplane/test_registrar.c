/* Unit tests for dataplane/registrar.c: DESIGN.md "SIP behaviour", one
 * test per rule, through registrar_handle() with real parser, store,
 * digest and account table (EAL without hugepages for the DPDK allocations). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <rte_eal.h>
#include <rte_memory.h>

#include "account_import.h"
#include "aor_hash.h"
#include "event_ring.h"
#include "registrar.h"
#include "stats_shm.h"
#include "test_eal.h"

#define REALM "sipreg.test"
#define NOW 1800000000

static struct registrar_config cfg;
static struct registrar reg;
static struct account_table *accounts;
static uint64_t counters[STATS_SHM_MAX_COUNTERS];
static char out[4096];
static uint32_t out_len;
static const struct sip_source phone = { 4, { 198, 18, 0, 2 }, 5062 };
static const struct sip_source other_ip = { 4, { 198, 18, 0, 9 }, 5062 };

/* Lower-case hex of md(text): 32 chars for MD5, 64 for SHA-256. */
static void md_hex(const EVP_MD *md, const char *text, char *hex)
{
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned n;

	EVP_Digest(text, strlen(text), h, &n, md, NULL);
	for (unsigned i = 0; i < n; i++)
		sprintf(hex + 2 * i, "%02x", h[i]);
}

/* An Authorization header for user/password on nonce (qop=auth), with
 * MD5 or SHA-256. */
static void authorization_with(bool sha256, char *buf, size_t cap, const char *user,
			       const char *password, const char *nonce, unsigned nc, const char *cnonce)
{
	const EVP_MD *md = sha256 ? EVP_sha256() : EVP_md5();
	char ha1[65], ha2[65], resp[65], text[512];

	store_ha1_hex(sha256 ? STORE_HA1_SHA256 : STORE_HA1_MD5, user, REALM, password, ha1, sizeof(ha1));
	md_hex(md, "REGISTER:sip:" REALM, ha2);
	snprintf(text, sizeof(text), "%s:%s:%08x:%s:auth:%s", ha1, nonce, nc, cnonce, ha2);
	md_hex(md, text, resp);
	snprintf(buf, cap,
		 "Authorization: Digest username=\"%s\", realm=\"" REALM "\", nonce=\"%s\", "
		 "uri=\"sip:" REALM "\", response=\"%s\", algorithm=%s, cnonce=\"%s\", qop=auth, "
		 "nc=%08x\r\n", user, nonce, resp, sha256 ? "SHA-256" : "MD5", cnonce, nc);
}

/* An Authorization header for user/password on nonce (MD5, qop=auth). */
static void authorization(char *buf, size_t cap, const char *user, const char *password,
			  const char *nonce, unsigned nc, const char *cnonce)
{
	authorization_with(false, buf, cap, user, password, nonce, nc, cnonce);
}

static void nonce_for(const struct sip_source *src, int64_t at, char nonce[DIGEST_NONCE_LEN + 1])
{
	struct digest_source ds = { 4, { 0 } };

	memcpy(ds.addr, src->addr, 4);
	digest_nonce_make(reg.digest, (uint32_t)at, &ds, REALM, strlen(REALM), nonce);
	nonce[DIGEST_NONCE_LEN] = '\0';
}

static char request[4096];

/* A REGISTER for user with extra header lines. */
static const char *register_msg(const char *user, const char *ruri_host, const char *call_id,
				unsigned cseq, const char *extra)
{
	snprintf(request, sizeof(request),
		 "REGISTER sip:%s SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bK-%s-%u;rport\r\n"
		 "From: <sip:%s@" REALM ">;tag=abc\r\n"
		 "To: <sip:%s@" REALM ">\r\n"
		 "Call-ID: %s\r\n"
		 "CSeq: %u REGISTER\r\n"
		 "Contact: <sip:%s@10.0.0.5:5062>\r\n"
		 "%s"
		 "Max-Forwards: 70\r\n"
		 "Content-Length: 0\r\n\r\n",
		 ruri_host, call_id, cseq, user, user, call_id, cseq, user, extra);
	return request;
}

static enum registrar_action handle_from(const char *msg, const struct sip_source *src, int64_t now)
{
	uint32_t owner = 0;
	/* zeros first: a byte of the answer left unwritten shows as a NUL */
	memset(out, 0, sizeof(out));
	enum registrar_action a = registrar_handle(&reg, msg, (uint32_t)strlen(msg), src, now, true,
						   out, sizeof(out) - 1, &out_len, &owner);
	out[a == REGISTRAR_REPLY ? out_len : 0] = '\0';
	if (a == REGISTRAR_REPLY)
		assert_int_equal(strlen(out), out_len);
	return a;
}

static enum registrar_action handle(const char *msg)
{
	return handle_from(msg, &phone, NOW);
}

static void assert_status(const char *status_line)
{
	if (strncmp(out, status_line, strlen(status_line)) != 0)
		fail_msg("expected '%s', got:\n%s", status_line, out);
}

/* Registers user with password through 401 + authorized REGISTER. */
static void register_user(const char *user, const char *password, const char *call_id,
			  unsigned cseq, const char *extra)
{
	char nonce[DIGEST_NONCE_LEN + 1], auth[600], headers[1200];

	nonce_for(&phone, NOW, nonce);
	authorization(auth, sizeof(auth), user, password, nonce, cseq, call_id);
	snprintf(headers, sizeof(headers), "%s%s", auth, extra);
	assert_int_equal(handle(register_msg(user, REALM, call_id, cseq, headers)), REGISTRAR_REPLY);
}

static int setup(void **state)
{
	static const char *const rows[][5] = {
		{ "alice", "secret-a", "acme", "digest", "" },
		{ "bob", "secret-b", "acme", "digest", "" },
		{ "trunk", "", "carrier", "ip", "198.18.0.2/32" },
		{ "pbx", "", "carrier", "ip+port", "198.18.0.2:5062" },
	};
	struct store_account a[4];
	static const uint8_t secret[DIGEST_SECRET_LEN] = { 9, 9, 9 };
	char err[200];

	(void)state;
	for (int i = 0; i < 4; i++) {
		const char *f[5] = { rows[i][0], rows[i][1], rows[i][2], rows[i][3], rows[i][4] };
		if (store_account_from_fields(f, 5, REALM, &a[i], err, sizeof(err)) != 0)
			fail_msg("%s", err);
	}
	accounts = account_table_from_array(a, 4, SOCKET_ID_ANY);
	memset(&cfg, 0, sizeof(cfg));
	registrar_config_set_domains(&cfg, REALM ", 198.18.0.1");
	strcpy(cfg.realm, REALM);
	cfg.realm_len = (uint32_t)strlen(cfg.realm);
	cfg.nonce_validity_s = 300;
	store_policy_defaults(&cfg.policy);
	memset(counters, 0, sizeof(counters));
	reg = (struct registrar){
		.cfg = &cfg,
		.table = binding_table_create(1024, 0, NULL, NOW),
		.digest = digest_engine_create(secret, 300),
		.replay = replay_cache_create(1024, SOCKET_ID_ANY),
		.accounts = &accounts,
		.counters = counters,
		.worker = 0,
		.n_workers = 1,
	};
	return accounts && reg.table && reg.digest && reg.replay ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	binding_table_destroy(reg.table);
	digest_engine_free(reg.digest);
	replay_cache_free(reg.replay);
	account_table_free(accounts);
	return 0;
}

static void test_request_uri_domain_not_served_is_404(void **state)
{
	(void)state;
	assert_int_equal(handle(register_msg("alice", "other.example", "c1", 1, "")), REGISTRAR_REPLY);
	assert_status("SIP/2.0 404 ");
}

static void test_unsupported_require_is_420_with_unsupported(void **state)
{
	(void)state;
	handle(register_msg("alice", REALM, "c1", 1, "Require: path, 100rel, foo\r\n"));
	assert_status("SIP/2.0 420 ");
	assert_non_null(strstr(out, "Unsupported: 100rel, foo\r\n"));
}

static void test_register_without_credentials_is_challenged_with_md5_and_sha256(void **state)
{
	(void)state;
	handle(register_msg("alice", REALM, "c1", 1, ""));
	assert_status("SIP/2.0 401 Unauthorized");
	assert_non_null(strstr(out, "WWW-Authenticate: Digest realm=\"sipreg.test\""));
	assert_non_null(strstr(out, "algorithm=MD5, qop=\"auth\""));
	assert_non_null(strstr(out, "algorithm=SHA-256, qop=\"auth\""));
	assert_int_equal(counters[STAT_auth_challenges], 1);
}

/* The challenge and Contact lines, written with one capacity check each,
 * byte for byte: every piece, the lengths added up right. */
static void test_challenge_and_contact_lines_are_exact(void **state)
{
	char want[600], nonce[DIGEST_NONCE_LEN + 1];
	const char *head = "WWW-Authenticate: Digest realm=\"sipreg.test\", nonce=\"";
	const char *at;

	(void)state;
	handle(register_msg("alice", REALM, "c1", 1, ""));
	assert_status("SIP/2.0 401 ");
	at = strstr(out, head);
	assert_non_null(at);
	memcpy(nonce, at + strlen(head), DIGEST_NONCE_LEN);
	nonce[DIGEST_NONCE_LEN] = '\0';
	snprintf(want, sizeof(want),
		 "\r\n%s%s\", algorithm=MD5, qop=\"auth\"\r\n%s%s\", algorithm=SHA-256, qop=\"auth\"\r\n"
		 "Content-Length: 0\r\n\r\n", head, nonce, head, nonce);
	assert_non_null(strstr(out, want));

	register_user("alice", "secret-a", "c-exact", 2,
		      "Contact: <sip:alice@10.0.0.6:5062>;+sip.instance=\"<urn:uuid:1>\";reg-id=27\r\n"
		      "Expires: 600\r\n");
	assert_status("SIP/2.0 200 ");
	/* behind NAT (Contact 10.0.0.x, source 198.18.0.2): nat_max_expires */
	assert_non_null(strstr(out, "\r\nContact: <sip:alice@10.0.0.5:5062>;expires=120\r\n"));
	assert_non_null(strstr(out, "\r\nContact: <sip:alice@10.0.0.6:5062>;expires=120;"
				    "+sip.instance=\"<urn:uuid:1>\";reg-id=27\r\n"));
	at = strstr(out, "\r\nDate: ");
	assert_non_null(at);
	assert_memory_equal(at + 8 + 25, " GMT\r\nContent-Length: 0\r\n\r\n", 27);
}

static void test_challenge_set_is_policy(void **state)
{
	(void)state;
	cfg.challenge = CHALLENGE_MD5;
	handle(register_msg("alice", REALM, "c-md5", 1, ""));
	assert_non_null(strstr(out, "algorithm=MD5"));
	assert_null(strstr(out, "SHA-256"));
	cfg.challenge = CHALLENGE_SHA256_MD5;
	handle(register_msg("alice", REALM, "c-both", 1, ""));
	assert_true(strstr(out, "algorithm=SHA-256") < strstr(out, "algorithm=MD5"));
	cfg.challenge = CHALLENGE_MD5_SHA256;
}

static void test_unknown_user_gets_the_same_challenge_as_known_user(void **state)
{
	char known[4096];
	(void)state;
	handle(register_msg("alice", REALM, "same-call", 1, ""));
	strcpy(known, out);
	handle(register_msg("zorro", REALM, "same-call", 1, ""));
	/* Same length and same bytes apart from the user name itself. */
	assert_int_equal(strlen(known), strlen(out));
	for (char *p = strstr(known, "alice"); p; p = strstr(p, "alice"))
		memcpy(p, "zorro", 5);
	assert_string_equal(known, out);
}

static void test_valid_digest_registers_and_200_lists_contacts_with_expires_and_date(void **state)
{
	(void)state;
	register_user("alice", "secret-a", "reg-1", 2, "Expires: 600\r\n");
	assert_status("SIP/2.0 200 OK");
	assert_non_null(strstr(out, "Contact: <sip:alice@10.0.0.5:5062>;expires="));
	assert_non_null(strstr(out, "Date: "));
	assert_non_null(strstr(out, "GMT\r\n"));
	assert_int_equal(counters[STAT_auth_ok], 1);
}

static void test_date_header_is_the_rfc1123_time_of_the_request(void **state)
{
	static const int64_t times[] = { NOW, 951782400 /* 2000-02-29 */, 4102444799 /* 2099-12-31 */,
					 1709251199, 0 };
	(void)state;
	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		char want[64], call[32], nonce[DIGEST_NONCE_LEN + 1], auth[600];
		time_t t = (time_t)times[i];
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(want, sizeof(want), "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
		snprintf(call, sizeof(call), "c-date-%zu", i);
		nonce_for(&phone, times[i], nonce);
		authorization(auth, sizeof(auth), "alice", "secret-a", nonce, 2, call);
		handle_from(register_msg("alice", REALM, call, 2, auth), &phone, times[i]);
		assert_status("SIP/2.0 200 ");
		if (!strstr(out, want))
			fail_msg("want %s in:\n%s", want, out);
	}
}

static void test_nat_contact_expiry_is_capped_at_nat_max_expires(void **state)
{
	(void)state;
	/* Contact 10.0.0.5 is private and is not the source 198.18.0.2. */
	register_user("alice", "secret-a", "reg-nat", 2, "Expires: 600\r\n");
	assert_non_null(strstr(out, "Contact: <sip:alice@10.0.0.5:5062>;expires=120\r\n"));
}

static void test_via_gets_received_and_rport(void **state)
{
	(void)state;
	/* Two Vias: the second one is echoed unchanged. */
	handle("REGISTER sip:" REALM " SIP/2.0\r\n"
	       "Via: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bK-c1-1;rport\r\n"
	       "Via: SIP/2.0/UDP 10.9.9.9;branch=z9hG4bK-edge;received=10.1.1.1\r\n"
	       "From: <sip:alice@" REALM ">;tag=abc\r\nTo: <sip:alice@" REALM ">\r\nCall-ID: c1\r\n"
	       "CSeq: 1 REGISTER\r\nContact: <sip:alice@10.0.0.5:5062>\r\nContent-Length: 0\r\n\r\n");
	if (!strstr(out, "\r\nVia: SIP/2.0/UDP 10.9.9.9;branch=z9hG4bK-edge;received=10.1.1.1\r\n"))
		fail_msg("%s", out);
	if (!strstr(out, "Via: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bK-c1-1;rport=5062;received=198.18.0.2\r\n"))
		fail_msg("%s", out);
}

static void test_via_received_and_rport_written_by_the_client_are_replaced(void **state)
{
	(void)state;
	handle("REGISTER sip:" REALM " SIP/2.0\r\n"
	       "Via: SIP/2.0/UDP 10.0.0.5:5062;received=1.2.3.4;branch=z9hG4bK-x;rport=999\r\n"
	       "From: <sip:alice@" REALM ">;tag=abc\r\nTo: <sip:alice@" REALM ">\r\nCall-ID: c9\r\n"
	       "CSeq: 1 REGISTER\r\nContact: <sip:alice@10.0.0.5:5062>\r\nContent-Length: 0\r\n\r\n");
	if (!strstr(out, "Via: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bK-x;received=198.18.0.2;rport=5062\r\n"))
		fail_msg("%s", out);
}

static void test_wrong_password_is_403_like_an_unknown_user(void **state)
{
	char wrong[4096];
	(void)state;
	register_user("alice", "not-the-password", "c-w", 2, "");
	assert_status("SIP/2.0 403 ");
	strcpy(wrong, out);
	register_user("zorro", "anything", "c-w", 2, "");
	for (char *p = strstr(wrong, "alice"); p; p = strstr(p, "alice"))
		memcpy(p, "zorro", 5);
	assert_string_equal(wrong, out);
	assert_int_equal(counters[STAT_auth_failed], 2);
}

static void test_stale_nonce_with_right_credentials_is_401_stale(void **state)
{
	char nonce[DIGEST_NONCE_LEN + 1], auth[600];
	(void)state;
	nonce_for(&phone, NOW - 400, nonce);
	authorization(auth, sizeof(auth), "alice", "secret-a", nonce, 1, "cn");
	handle(register_msg("alice", REALM, "c-s", 2, auth));
	assert_status("SIP/2.0 401 ");
	assert_non_null(strstr(out, ", qop=\"auth\", stale=true\r\n"));
}

static void test_stale_nonce_with_wrong_credentials_is_403(void **state)
{
	char nonce[DIGEST_NONCE_LEN + 1], auth[600];
	(void)state;
	nonce_for(&phone, NOW - 400, nonce);
	authorization(auth, sizeof(auth), "alice", "wrong", nonce, 1, "cn");
	handle(register_msg("alice", REALM, "c-s", 2, auth));
	assert_status("SIP/2.0 403 ");
}

static void test_nonce_from_another_source_is_challenged_again(void **state)
{
	char nonce[DIGEST_NONCE_LEN + 1], auth[600];
	(void)state;
	nonce_for(&other_ip, NOW, nonce);
	authorization(auth, sizeof(auth), "alice", "secret-a", nonce, 1, "cn");
	handle(register_msg("alice", REALM, "c-n", 2, auth));
	assert_status("SIP/2.0 401 ");
	assert_null(strstr(out, "stale=true"));
}

static void test_replayed_nonce_nc_cnonce_is_403(void **state)
{
	char nonce[DIGEST_NONCE_LEN + 1], auth[600];
	(void)state;
	register_user("alice", "secret-a", "c-r", 2, "");
	assert_status("SIP/2.0 200 ");
	/* The same credentials (nonce, nc, cnonce) in another request. */
	nonce_for(&phone, NOW, nonce);
	authorization(auth, sizeof(auth), "alice", "secret-a", nonce, 2, "c-r");
	handle(register_msg("alice", REALM, "c-r-other", 2, auth));
	assert_status("SIP/2.0 403 ");
	assert_int_equal(counters[STAT_auth_replay], 1);
}

static void test_retransmitted_authorized_register_gets_200_again_and_changes_nothing(void **state)
{
	char first[4096];
	(void)state;
	register_user("alice", "secret-a", "c-rt", 2, "Expires: 600\r\n");
	assert_status("SIP/2.0 200 ");
	strcpy(first, out);
	/* The very same datagram again (the 200 was lost). */
	assert_int_equal(handle(request), REGISTRAR_REPLY);
	assert_status("SIP/2.0 200 ");
	assert_non_null(strstr(out, "Contact: <sip:alice@10.0.0.5:5062>;expires="));
	assert_int_equal(counters[STAT_retransmissions], 1);
	assert_int_equal(counters[STAT_auth_replay], 0);
	(void)first;
}

static void test_authenticated_user_must_own_to_aor_is_403(void **state)
{
	char nonce[DIGEST_NONCE_LEN + 1], auth[600];
	(void)state;
	nonce_for(&phone, NOW, nonce);
	authorization(auth, sizeof(auth), "bob", "secret-b", nonce, 1, "cn");
	handle(register_msg("alice", REALM, "c-o", 2, auth));
	assert_status("SIP/2.0 403 ");
	assert_int_equal(counters[STAT_auth_wrong_user], 1);
}

static void test_ip_account_from_allowed_source_registers_without_challenge(void **state)
{
	(void)state;
	handle(register_msg("trunk", REALM, "c-t", 1, ""));
	assert_status("SIP/2.0 200 ");
}

static void test_ip_account_from_other_source_is_403(void **state)
{
	(void)state;
	handle_from(register_msg("trunk", REALM, "c-t", 1, ""), &other_ip, NOW);
	assert_status("SIP/2.0 403 ");
	assert_int_equal(counters[STAT_auth_ip_denied], 1);
}

static void test_ip_port_account_needs_the_port_too(void **state)
{
	struct sip_source wrong_port = phone;
	(void)state;
	handle(register_msg("pbx", REALM, "c-p", 1, ""));
	assert_status("SIP/2.0 200 ");
	wrong_port.port = 5070;
	handle_from(register_msg("pbx", REALM, "c-p2", 1, ""), &wrong_port, NOW);
	assert_status("SIP/2.0 403 ");
}

static void test_expires_below_min_is_423_with_min_expires(void **state)
{
	(void)state;
	register_user("alice", "secret-a", "c-m", 2, "Expires: 10\r\n");
	assert_status("SIP/2.0 423 ");
	assert_non_null(strstr(out, "Min-Expires: 60\r\n"));
}

static void test_path_is_echoed_in_200(void **state)
{
	(void)state;
	register_user("alice", "secret-a", "c-path", 2, "Path: <sip:edge.example;lr>\r\nSupported: path\r\n");
	assert_status("SIP/2.0 200 ");
	assert_non_null(strstr(out, "Path: <sip:edge.example;lr>\r\n"));
}

static void test_options_is_200_with_allow(void **state)
{
	(void)state;
	handle("OPTIONS sip:" REALM " SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bK1\r\n"
	       "From: <sip:a@b>;tag=1\r\nTo: <sip:" REALM ">\r\nCall-ID: o1\r\nCSeq: 1 OPTIONS\r\n"
	       "Content-Length: 0\r\n\r\n");
	assert_status("SIP/2.0 200 OK");
	assert_non_null(strstr(out, "Allow: REGISTER, OPTIONS\r\n"));
}

static void test_other_method_is_405_with_allow(void **state)
{
	(void)state;
	handle("INVITE sip:bob@" REALM " SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bK1\r\n"
	       "From: <sip:a@b>;tag=1\r\nTo: <sip:bob@" REALM ">\r\nCall-ID: i1\r\nCSeq: 1 INVITE\r\n"
	       "Content-Length: 0\r\n\r\n");
	assert_status("SIP/2.0 405 ");
	assert_non_null(strstr(out, "Allow: REGISTER, OPTIONS\r\n"));
}

static void test_ack_and_responses_are_dropped_and_counted(void **state)
{
	(void)state;
	assert_int_equal(handle("ACK sip:" REALM " SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bK1\r\n"
				"From: <sip:a@b>;tag=1\r\nTo: <sip:" REALM ">;tag=2\r\nCall-ID: a1\r\n"
				"CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"), REGISTRAR_DROP);
	assert_int_equal(handle("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bK1\r\n"
				"From: <sip:a@b>;tag=1\r\nTo: <sip:" REALM ">;tag=2\r\nCall-ID: r1\r\n"
				"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"), REGISTRAR_DROP);
	assert_int_equal(counters[STAT_drop_ack], 1);
	assert_int_equal(counters[STAT_drop_sip_response], 1);
}

static void test_malformed_request_is_400_with_the_parser_reason(void **state)
{
	(void)state;
	/* No Call-ID: the reply copies the headers that are there. */
	assert_int_equal(handle("REGISTER sip:" REALM " SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bK1\r\n"
				"From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: nonsense\r\n"
				"Content-Length: 0\r\n\r\n"), REGISTRAR_REPLY);
	assert_status("SIP/2.0 400 ");
	assert_non_null(strstr(out, "CSeq: nonsense\r\n"));
}

static void test_garbage_is_dropped_and_counted(void **state)
{
	static const char garbage[] = "\x01\x02\xff\xfe binary \x00 junk";
	uint32_t owner;
	(void)state;
	assert_int_equal(registrar_handle(&reg, garbage, sizeof(garbage) - 1, &phone, NOW, true, out,
					  sizeof(out), &out_len, &owner), REGISTRAR_DROP);
	assert_int_equal(counters[STAT_drop_unparseable], 1);
}

static void test_respond_unknown_drop_is_silent_for_unknown_users(void **state)
{
	(void)state;
	cfg.respond_unknown = RESPOND_UNKNOWN_DROP;
	assert_int_equal(handle(register_msg("zorro", REALM, "c-u", 1, "")), REGISTRAR_DROP);
	assert_int_equal(handle_from(register_msg("trunk", REALM, "c-u", 1, ""), &other_ip, NOW),
			 REGISTRAR_DROP);
	handle(register_msg("alice", REALM, "c-u", 1, ""));
	assert_status("SIP/2.0 401 ");
	cfg.respond_unknown = RESPOND_UNKNOWN_CHALLENGE;
	assert_int_equal(counters[STAT_drop_silent_unknown], 2);
}

static void test_failed_authentication_is_logged_with_source_user_and_reason(void **state)
{
	struct event_ring *ring = event_ring_create(64);
	const struct store_event *ev;
	size_t len;
	(void)state;
	reg.events = ring;
	register_user("alice", "not-the-password", "c-log", 2, "");
	reg.events = NULL;
	assert_int_equal(event_ring_peek(ring, &ev, 8), 1);
	assert_int_equal(ev->type, STORE_EVENT_AUTH_FAILED);
	assert_int_equal(ev->reason, STORE_AUTH_FAILURE_WRONG_CREDENTIALS);
	assert_memory_equal(ev->binding.source.addr, phone.addr, 4);
	const char *aor = store_binding_string(&ev->binding, STORE_STR_AOR, &len);
	assert_int_equal(len, strlen("sip:alice@" REALM));
	assert_memory_equal(aor, "sip:alice@" REALM, len);
	assert_true(store_event_touches_binding(STORE_EVENT_AUTH_FAILED) == 0);
	event_ring_destroy(ring);
}

static void test_fifth_failure_locks_the_source_and_its_requests_are_dropped(void **state)
{
	struct lockout_table *t = lockout_table_create(64, SOCKET_ID_ANY);
	(void)state;
	cfg.lockout = (struct lockout_policy){ 5, 60, 900 };
	reg.lockouts = t;
	for (int i = 0; i < 5; i++) {
		char call[16];
		snprintf(call, sizeof(call), "c-l%d", i);
		register_user("alice", "wrong", call, 2, "");
		assert_status("SIP/2.0 403 ");
	}
	assert_int_equal(counters[STAT_lockouts], 1);
	/* Even the right password does not reach the digest check now. */
	assert_int_equal(handle(register_msg("alice", REALM, "c-l9", 1, "")), REGISTRAR_DROP);
	assert_int_equal(counters[STAT_drop_locked_out], 1);
	/* Another source is not affected. */
	handle_from(register_msg("alice", REALM, "c-l10", 1, ""), &other_ip, NOW);
	assert_status("SIP/2.0 401 ");
	/* The lock ends after lockout.duration. */
	handle_from(register_msg("alice", REALM, "c-l11", 1, ""), &phone, NOW + 901);
	assert_status("SIP/2.0 401 ");
	reg.lockouts = NULL;
	lockout_table_free(t);
}

static void test_allowlisted_source_is_never_locked_out(void **state)
{
	struct lockout_table *t = lockout_table_create(64, SOCKET_ID_ANY);
	struct prefix_list *allow = malloc(sizeof(*allow) + sizeof(struct store_cidr));
	(void)state;
	allow->n = 1;
	assert_int_equal(store_cidr_parse("198.18.0.0/24", &allow->cidrs[0]), 0);
	cfg.lockout = (struct lockout_policy){ 2, 60, 900 };
	reg.lockouts = t;
	reg.allowlist = &allow;
	for (int i = 0; i < 6; i++)
		register_user("alice", "wrong", "c-a", 2 + (unsigned)i, "");
	assert_int_equal(counters[STAT_lockouts], 0);
	handle(register_msg("alice", REALM, "c-a2", 1, ""));
	assert_status("SIP/2.0 401 ");
	reg.lockouts = NULL;
	reg.allowlist = NULL;
	free(allow);
	lockout_table_free(t);
}

static void test_aor_owned_by_another_worker_is_handed_off(void **state)
{
	uint32_t owner = 99;
	const char *msg = register_msg("alice", REALM, "c-h", 1, "");
	(void)state;
	reg.n_workers = 64;
	enum registrar_action a = registrar_handle(&reg, msg, (uint32_t)strlen(msg), &phone, NOW, true,
						   out, sizeof(out), &out_len, &owner);
	reg.n_workers = 1;
	if (owner == 0)
		assert_int_equal(a, REGISTRAR_REPLY);
	else
		assert_int_equal(a, REGISTRAR_HANDOFF);
	assert_true(owner < 64);
}

/* A phone behind NAT (contact 10.0.0.5, source 198.18.0.2): the
 * registrar reports the binding so the worker can track its keepalives. */
static void test_nat_registration_is_tracked_for_keepalives(void **state)
{
	(void)state;
	reg.keepalive = nat_keepalive_create(1024, 0);
	register_user("alice", "secret-a", "c1", 1, "");
	assert_status("SIP/2.0 200 OK");
	assert_int_equal(reg.n_nat_slots, 1);
	assert_int_equal(reg.nat_slots[0], binding_table_find_aor(reg.table,
		(struct store_slice){ "sip:alice@" REALM, sizeof("sip:alice@" REALM) - 1 }));
	/* The next request starts with an empty list. */
	handle("OPTIONS sip:" REALM " SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bK1\r\n"
	       "From: <sip:a@" REALM ">;tag=1\r\nTo: <sip:" REALM ">\r\nCall-ID: o1\r\n"
	       "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(reg.n_nat_slots, 0);
	nat_keepalive_destroy(reg.keepalive);
	reg.keepalive = NULL;
}

static const char *keepalive_answer(const char *branch)
{
	snprintf(request, sizeof(request),
		 "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 198.18.0.1:5060;branch=%s;received=198.18.0.1\r\n"
		 "From: <sip:keepalive@" REALM ">;tag=1\r\nTo: <sip:alice@10.0.0.5:5062>;tag=x\r\n"
		 "Call-ID: ka\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n", branch);
	return request;
}

/* The answer to a keepalive resets the binding's misses once; a second
 * copy, another worker's and a stranger's answers do not. */
static void test_keepalive_answers_reach_their_probe(void **state)
{
	struct packet_path path = { .ip_version = 4, .local_port = 5060, .local_ip = { 198, 18, 0, 1 } };
	struct nat_keepalive_probe probe;
	uint32_t removed = 0, owner = 0, slot;
	char branch[80];

	(void)state;
	reg.keepalive = nat_keepalive_create(1024, 0);
	register_user("alice", "secret-a", "c1", 1, "");
	slot = reg.nat_slots[0];
	assert_true(nat_keepalive_track(reg.keepalive, slot, binding_table_get(reg.table, slot), &path));
	assert_int_equal(nat_keepalive_sweep(reg.keepalive, reg.table, NOW * 1000LL, 30, 3, &probe, 1,
					     &removed), 0);
	assert_int_equal(nat_keepalive_sweep(reg.keepalive, reg.table, NOW * 1000LL + 30000, 30, 3,
					     &probe, 1, &removed), 1);
	snprintf(branch, sizeof(branch), "z9hG4bK-sipreg-ka-0-%x-%x", probe.slot, probe.token);
	assert_int_equal(handle(keepalive_answer(branch)), REGISTRAR_DROP);
	assert_int_equal(counters[STAT_keepalive_answered], 1);
	assert_int_equal(handle(keepalive_answer(branch)), REGISTRAR_DROP);
	assert_int_equal(counters[STAT_keepalive_late], 1);
	assert_int_equal(handle(keepalive_answer("z9hG4bK-other")), REGISTRAR_DROP);
	assert_int_equal(counters[STAT_drop_sip_response], 1);
	/* Worker 1's probe, received by worker 0, goes to worker 1. */
	reg.n_workers = 2;
	snprintf(branch, sizeof(branch), "z9hG4bK-sipreg-ka-1-%x-%x", probe.slot, probe.token);
	const char *answer = keepalive_answer(branch);
	assert_int_equal(registrar_handle(&reg, answer, (uint32_t)strlen(answer),
					  &phone, NOW, true, out, sizeof(out), &out_len, &owner),
			 REGISTRAR_HANDOFF);
	assert_int_equal(owner, 1);
	reg.n_workers = 1;
	nat_keepalive_destroy(reg.keepalive);
	reg.keepalive = NULL;
}

/* Only a REGISTER's 200 states bindings (and is held for the commit
 * under [store] reply_after_commit). */
static void test_only_register_200_is_marked_as_stating_bindings(void **state)
{
	(void)state;
	handle(register_msg("alice", REALM, "c1", 1, ""));
	assert_status("SIP/2.0 401 ");
	assert_false(reg.reply_shows_bindings);
	register_user("alice", "secret-a", "c1", 2, "");
	assert_status("SIP/2.0 200 OK");
	assert_true(reg.reply_shows_bindings);
	handle("OPTIONS sip:" REALM " SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bK1\r\n"
	       "From: <sip:a@" REALM ">;tag=1\r\nTo: <sip:" REALM ">\r\nCall-ID: o1\r\n"
	       "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
	assert_status("SIP/2.0 200 OK");
	assert_false(reg.reply_shows_bindings);
}

/* Answers text (parsed here) with stage. */
static enum registrar_action handle_with_stage(const char *text, struct sip_msg *msg,
					       const struct registrar_stage *stage)
{
	uint32_t owner = 0;
	enum sip_parse_status st = sip_parse(text, (uint32_t)strlen(text), msg);
	enum registrar_action a = registrar_handle_staged(&reg, msg, st, text, (uint32_t)strlen(text),
							  &phone, NOW, true, stage, out,
							  sizeof(out) - 1, &out_len, &owner);
	out[a == REGISTRAR_REPLY ? out_len : 0] = '\0';
	return a;
}

/* Alice's authorized REGISTER with cnonce call_id, parsed into msg and
 * staged into s (registrar_stage_begin); its nonce in nonce. */
static const char *stage_alice(const char *call_id, struct sip_msg *msg,
			       struct registrar_stage *s, char nonce[DIGEST_NONCE_LEN + 1])
{
	static char auth[600];
	const char *text;

	nonce_for(&phone, NOW, nonce);
	authorization(auth, sizeof(auth), "alice", "secret-a", nonce, 1, call_id);
	text = register_msg("alice", REALM, call_id, 1, auth);
	assert_int_equal(sip_parse(text, (uint32_t)strlen(text), msg), SIP_PARSE_OK);
	registrar_stage_begin(&reg, msg, SIP_PARSE_OK, s);
	return text;
}

/* The stage names the AOR's hash, the To user's account and the replay key
 * of the credentials, for the REGISTERs this worker owns, nothing for
 * anything else. */
static void test_stage_names_the_aor_account_and_replay_key_of_owned_registers(void **state)
{
	static struct sip_msg msg;
	struct registrar_stage s[2];
	char nonce[DIGEST_NONCE_LEN + 1];
	const char *text;

	static char alice_text[2048];

	(void)state;
	/* The stage points into the request's bytes, as into its mbuf, up to
	 * the answer: alice's outlive the next register_msg here. */
	text = stage_alice("st-1", &msg, &s[0], nonce);
	snprintf(alice_text, sizeof(alice_text), "%s", text);
	assert_int_equal(sip_parse(alice_text, (uint32_t)strlen(alice_text), &msg), SIP_PARSE_OK);
	registrar_stage_begin(&reg, &msg, SIP_PARSE_OK, &s[0]);
	assert_true(s[0].aor_hash == store_aor_hash("sip:alice@" REALM, strlen("sip:alice@" REALM)));
	assert_true(s[0].has_account_key);
	assert_true(s[0].has_replay_key);
	assert_ptr_equal(s[0].cred, &msg.authorization[0]);
	assert_true(s[0].replay.key == replay_cache_key(reg.replay, nonce, strlen(nonce), "st-1", 4).key);
	text = register_msg("zorro", REALM, "st-2", 1, "");
	static struct sip_msg unknown;
	assert_int_equal(sip_parse(text, (uint32_t)strlen(text), &unknown), SIP_PARSE_OK);
	registrar_stage_begin(&reg, &unknown, SIP_PARSE_OK, &s[1]);
	assert_false(s[1].has_replay_key);
	registrar_stage_accounts(&reg, s, 2);
	assert_ptr_equal(s[0].accounts, accounts);
	assert_non_null(s[0].account);
	assert_string_equal(s[0].account->username, "alice");
	assert_ptr_equal(s[1].accounts, accounts);
	assert_null(s[1].account);

	registrar_stage_begin(&reg, &msg, SIP_PARSE_BAD_START_LINE, &s[0]);
	assert_true(s[0].aor_hash == 0);
	reg.worker = 1;
	reg.n_workers = 64;
	registrar_stage_begin(&reg, &msg, SIP_PARSE_OK, &s[0]);
	assert_true(s[0].aor_hash == 0 || store_aor_owner_of_hash(s[0].aor_hash, 64) == 1);
	reg.worker = 0;
	reg.n_workers = 1;
	text = "OPTIONS sip:" REALM " SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bK1\r\n"
	       "From: <sip:a@" REALM ">;tag=1\r\nTo: <sip:a@" REALM ">\r\nCall-ID: o1\r\n"
	       "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
	assert_int_equal(sip_parse(text, (uint32_t)strlen(text), &msg), SIP_PARSE_OK);
	registrar_stage_begin(&reg, &msg, SIP_PARSE_OK, &s[0]);
	assert_true(s[0].aor_hash == 0);
}

/* The handler answers with the stage's account (bob's HA1 cannot check
 * alice's response: 403), unless the stage comes from another account table
 * (a reload since): then it looks the account up itself (200). */
static void test_staged_account_is_used_unless_its_table_was_replaced(void **state)
{
	static struct sip_msg msg;
	struct registrar_stage s;
	char nonce[DIGEST_NONCE_LEN + 1];
	const char *text;

	(void)state;
	text = stage_alice("st-3", &msg, &s, nonce);
	registrar_stage_accounts(&reg, &s, 1);
	s.account = account_table_find(accounts, "bob", 3);
	assert_non_null(s.account);
	assert_int_equal(handle_with_stage(text, &msg, &s), REGISTRAR_REPLY);
	assert_status("SIP/2.0 403 ");

	text = stage_alice("st-4", &msg, &s, nonce);
	registrar_stage_accounts(&reg, &s, 1);
	s.account = account_table_find(accounts, "bob", 3);
	s.accounts = (const struct account_table *)&s;     /* not the current table */
	assert_int_equal(handle_with_stage(text, &msg, &s), REGISTRAR_REPLY);
	assert_status("SIP/2.0 200 ");
}

/* A group's Digest responses are worked out together in its stages
 * (md5_x16 where the CPU has it) and decide each request: the right
 * password passes, a wrong one does not, and the stage's answer is the
 * one used. */
static void test_group_digests_decide_each_request(void **state)
{
	static struct sip_msg msg[3];
	static char texts[3][4096], auth[600];
	static const char *const password[3] = { "secret-a", "wrong", "secret-a" };
	static const char *const call_id[3] = { "gd-1", "gd-2", "gd-3" };
	struct registrar_stage s[3];
	char nonce[DIGEST_NONCE_LEN + 1];

	(void)state;
	nonce_for(&phone, NOW, nonce);
	for (int i = 0; i < 3; i++) {
		authorization(auth, sizeof(auth), "alice", password[i], nonce, 1, call_id[i]);
		snprintf(texts[i], sizeof(texts[i]), "%s", register_msg("alice", REALM, call_id[i], 1, auth));
		assert_int_equal(sip_parse(texts[i], (uint32_t)strlen(texts[i]), &msg[i]), SIP_PARSE_OK);
		registrar_stage_begin(&reg, &msg[i], SIP_PARSE_OK, &s[i]);
	}
	registrar_stage_accounts(&reg, s, 3);
	for (int i = 0; i < 3; i++)
		assert_true(s[i].has_expected);
	assert_int_equal(handle_with_stage(texts[0], &msg[0], &s[0]), REGISTRAR_REPLY);
	assert_status("SIP/2.0 200 ");
	assert_int_equal(handle_with_stage(texts[1], &msg[1], &s[1]), REGISTRAR_REPLY);
	assert_status("SIP/2.0 403 ");
	s[2].expected[0] = s[2].expected[0] == '0' ? '1' : '0';
	assert_int_equal(handle_with_stage(texts[2], &msg[2], &s[2]), REGISTRAR_REPLY);
	assert_status("SIP/2.0 403 ");
}

/* A group mixing SHA-256 and MD5 responses: each is worked out with its
 * own algorithm's HA1 (64 and 32 hex characters, copied out of the
 * account before the group's digests) and decides its request. */
static void test_group_digests_with_sha256_and_md5(void **state)
{
	static struct sip_msg msg[4];
	static char texts[4][4096], auth[700];
	static const bool sha256[4] = { true, false, true, false };
	static const char *const password[4] = { "secret-a", "secret-a", "wrong", "wrong" };
	static const char *const call_id[4] = { "gs-1", "gs-2", "gs-3", "gs-4" };
	static const char *const want[4] = { "SIP/2.0 200 ", "SIP/2.0 200 ", "SIP/2.0 403 ", "SIP/2.0 403 " };
	struct registrar_stage s[4];
	char nonce[DIGEST_NONCE_LEN + 1];

	(void)state;
	nonce_for(&phone, NOW, nonce);
	for (int i = 0; i < 4; i++) {
		authorization_with(sha256[i], auth, sizeof(auth), "alice", password[i], nonce, 1, call_id[i]);
		snprintf(texts[i], sizeof(texts[i]), "%s", register_msg("alice", REALM, call_id[i], 1, auth));
		assert_int_equal(sip_parse(texts[i], (uint32_t)strlen(texts[i]), &msg[i]), SIP_PARSE_OK);
		registrar_stage_begin(&reg, &msg[i], SIP_PARSE_OK, &s[i]);
	}
	registrar_stage_accounts(&reg, s, 4);
	for (int i = 0; i < 4; i++) {
		assert_true(s[i].has_expected);
		assert_int_equal(handle_with_stage(texts[i], &msg[i], &s[i]), REGISTRAR_REPLY);
		assert_status(want[i]);
	}
}

/* A checkpoint so far behind that a request's events might not fit the
 * ring: 503, nothing applied (a change it never sees would be lost). */
static void test_full_event_ring_is_503_and_changes_nothing(void **state)
{
	struct event_ring *ring = event_ring_create(128);
	static const struct store_event ev;
	const struct store_event *first;

	(void)state;
	reg.events = ring;
	for (int i = 0; i < 65; i++)
		assert_true(event_ring_push(ring, &ev));
	register_user("alice", "secret-a", "c1", 1, "");
	assert_status("SIP/2.0 503 ");
	assert_int_equal(counters[STAT_checkpoint_behind], 1);
	assert_int_equal(binding_table_find_aor(reg.table, (struct store_slice){
				 "sip:alice@" REALM, sizeof("sip:alice@" REALM) - 1 }), STORE_NO_BINDING);
	event_ring_release(ring, event_ring_peek(ring, &first, 128));
	register_user("alice", "secret-a", "c1", 2, "");
	assert_status("SIP/2.0 200 OK");
	reg.events = NULL;
	event_ring_destroy(ring);
}

int main(void)
{
	if (test_eal_init("registrar", "128") != 0)
		return 1;
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_request_uri_domain_not_served_is_404),
		T(test_unsupported_require_is_420_with_unsupported),
		T(test_register_without_credentials_is_challenged_with_md5_and_sha256),
		T(test_challenge_and_contact_lines_are_exact),
		T(test_challenge_set_is_policy),
		T(test_unknown_user_gets_the_same_challenge_as_known_user),
		T(test_valid_digest_registers_and_200_lists_contacts_with_expires_and_date),
		T(test_date_header_is_the_rfc1123_time_of_the_request),
		T(test_nat_contact_expiry_is_capped_at_nat_max_expires),
		T(test_via_gets_received_and_rport),
		T(test_via_received_and_rport_written_by_the_client_are_replaced),
		T(test_wrong_password_is_403_like_an_unknown_user),
		T(test_stale_nonce_with_right_credentials_is_401_stale),
		T(test_stale_nonce_with_wrong_credentials_is_403),
		T(test_nonce_from_another_source_is_challenged_again),
		T(test_replayed_nonce_nc_cnonce_is_403),
		T(test_retransmitted_authorized_register_gets_200_again_and_changes_nothing),
		T(test_authenticated_user_must_own_to_aor_is_403),
		T(test_ip_account_from_allowed_source_registers_without_challenge),
		T(test_ip_account_from_other_source_is_403),
		T(test_ip_port_account_needs_the_port_too),
		T(test_expires_below_min_is_423_with_min_expires),
		T(test_path_is_echoed_in_200),
		T(test_options_is_200_with_allow),
		T(test_other_method_is_405_with_allow),
		T(test_ack_and_responses_are_dropped_and_counted),
		T(test_malformed_request_is_400_with_the_parser_reason),
		T(test_garbage_is_dropped_and_counted),
		T(test_respond_unknown_drop_is_silent_for_unknown_users),
		T(test_failed_authentication_is_logged_with_source_user_and_reason),
		T(test_fifth_failure_locks_the_source_and_its_requests_are_dropped),
		T(test_allowlisted_source_is_never_locked_out),
		T(test_aor_owned_by_another_worker_is_handed_off),
		T(test_nat_registration_is_tracked_for_keepalives),
		T(test_keepalive_answers_reach_their_probe),
		T(test_only_register_200_is_marked_as_stating_bindings),
		T(test_stage_names_the_aor_account_and_replay_key_of_owned_registers),
		T(test_staged_account_is_used_unless_its_table_was_replaced),
		T(test_group_digests_decide_each_request),
		T(test_group_digests_with_sha256_and_md5),
		T(test_full_event_ring_is_503_and_changes_nothing),
#undef T
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	rte_eal_cleanup();
	return rc;
}
