/*
 * Unit tests for parser/sip_parser.h: one test per rule, named after it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <stdbool.h>

#include <cmocka.h>

#include "sip_lex.h"
#include "sip_parser.h"

static struct sip_msg msg;

static enum sip_parse_status parse(const char *text)
{
	return sip_parse(text, strlen(text), &msg);
}

static void assert_slice(struct sip_slice s, const char *want)
{
	if (want == NULL) {
		assert_null(s.ptr);
		return;
	}
	assert_non_null(s.ptr);
	if (s.len != strlen(want) || memcmp(s.ptr, want, s.len) != 0)
		fail_msg("slice \"%.*s\" != \"%s\"", (int)s.len, s.ptr, want);
}

#define REG_HEAD "REGISTER sip:example.com SIP/2.0\r\n"
#define VIA "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport\r\n"
#define FROM "From: \"Alice\" <sip:alice@example.com>;tag=1928301774\r\n"
#define TO "To: <sip:alice@example.com>\r\n"
#define CALLID "Call-ID: a84b4c76e66710@pc33.example.com\r\n"
#define CSEQ "CSeq: 2 REGISTER\r\n"
#define MANDATORY VIA FROM TO CALLID CSEQ

static const char second_register[] =
	"REGISTER sip:example.com SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK1234;rport\r\n"
	"Max-Forwards: 70\r\n"
	"From: \"Alice\" <sip:alice@example.com>;tag=abc\r\n"
	"To: <sip:alice@example.com>\r\n"
	"Call-ID: 1234@192.0.2.10\r\n"
	"CSeq: 2 REGISTER\r\n"
	"Contact: <sip:alice@192.0.2.10:5060;transport=udp>;expires=3600;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\";reg-id=1;q=0.7\r\n"
	"Authorization: Digest username=\"alice\", realm=\"example.com\", nonce=\"abc123\", uri=\"sip:example.com\", "
	"response=\"0123456789abcdef0123456789abcdef\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"xyz\", opaque=\"op\"\r\n"
	"Expires: 3600\r\n"
	"User-Agent: Yealink SIP-T46S 66.86.0.15\r\n"
	"Supported: path, outbound, gruu\r\n"
	"Allow: INVITE, ACK, BYE\r\n"
	"Content-Length: 0\r\n"
	"\r\n";

static void test_register_with_authorization_is_fully_decoded(void **state)
{
	(void)state;
	assert_int_equal(parse(second_register), SIP_PARSE_OK);
	assert_true(msg.is_request);
	assert_int_equal(msg.method, SIP_METHOD_REGISTER);
	assert_int_equal(msg.request_uri.scheme, SIP_SCHEME_SIP);
	assert_slice(msg.request_uri.host, "example.com");
	assert_int_equal(msg.via_count, 1);
	assert_slice(msg.via[0].transport, "UDP");
	assert_slice(msg.via[0].host, "192.0.2.10");
	assert_int_equal(msg.via[0].port, 5060);
	assert_slice(msg.via[0].branch, "z9hG4bK1234");
	assert_true(msg.via[0].has_rport);
	assert_false(msg.via[0].rport_has_value);
	assert_slice(msg.from.addr.display, "Alice");
	assert_slice(msg.from.addr.uri.user, "alice");
	assert_slice(msg.from.tag, "abc");
	assert_null(msg.to.tag.ptr);
	assert_slice(msg.call_id, "1234@192.0.2.10");
	assert_int_equal(msg.cseq, 2);
	assert_int_equal(msg.cseq_method, SIP_METHOD_REGISTER);
	assert_int_equal(msg.contact_count, 1);
	struct sip_contact *c = &msg.contact[0];
	assert_slice(c->addr.uri.host, "192.0.2.10");
	assert_int_equal(c->addr.uri.port, 5060);
	assert_slice(c->addr.uri.transport, "udp");
	assert_true(c->has_expires);
	assert_int_equal(c->expires, 3600);
	assert_slice(c->instance, "<urn:uuid:00000000-0000-1000-8000-000A95A0E128>");
	assert_true(c->has_reg_id);
	assert_int_equal(c->reg_id, 1);
	assert_int_equal(c->q_milli, 700);
	assert_int_equal(msg.authorization_count, 1);
	struct sip_credentials *a = &msg.authorization[0];
	assert_true(a->is_digest);
	assert_slice(a->username, "alice");
	assert_slice(a->realm, "example.com");
	assert_slice(a->nonce, "abc123");
	assert_slice(a->uri, "sip:example.com");
	assert_slice(a->response, "0123456789abcdef0123456789abcdef");
	assert_slice(a->algorithm, "MD5");
	assert_slice(a->qop, "auth");
	assert_slice(a->nc, "00000001");
	assert_slice(a->cnonce, "xyz");
	assert_slice(a->opaque, "op");
	assert_true(msg.has_expires);
	assert_int_equal(msg.expires, 3600);
	assert_int_equal(msg.max_forwards, 70);
	assert_slice(msg.user_agent, "Yealink SIP-T46S 66.86.0.15");
	assert_int_equal(msg.supported_count, 3);
	assert_slice(msg.supported[1], "outbound");
	assert_int_equal(msg.other_count, 1);
	assert_slice(msg.other[0].name, "Allow");
	assert_slice(msg.other[0].value, "INVITE, ACK, BYE");
	assert_true(msg.has_content_length);
	assert_int_equal(msg.body.len, 0);
}

static void test_every_slice_points_into_the_buffer(void **state)
{
	(void)state;
	assert_int_equal(parse(second_register), SIP_PARSE_OK);
	const char *lo = second_register, *hi = second_register + strlen(second_register);
	struct sip_slice s[] = { msg.call_id, msg.user_agent, msg.from.tag, msg.authorization[0].response,
				 msg.contact[0].instance, msg.via[0].branch, msg.other[0].value };
	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		assert_true(s[i].ptr >= lo && s[i].ptr + s[i].len <= hi);
}

static void test_compact_form_v_is_via_and_others(void **state)
{
	(void)state;
	assert_int_equal(parse(REG_HEAD "v: SIP/2.0/TCP host.example.com\r\n"
				   "f: <sip:a@example.com>;tag=x\r\nt: sip:a@example.com\r\n"
				   "i: abc\r\nCSeq: 1 REGISTER\r\nm: <sip:a@192.0.2.1>\r\nk: path\r\nl: 0\r\n\r\n"),
			 SIP_PARSE_OK);
	assert_int_equal(msg.via_count, 1);
	assert_slice(msg.via[0].transport, "TCP");
	assert_false(msg.via[0].has_port);
	assert_slice(msg.from.tag, "x");
	assert_slice(msg.to.addr.uri.user, "a");
	assert_slice(msg.call_id, "abc");
	assert_int_equal(msg.contact_count, 1);
	assert_int_equal(msg.supported_count, 1);
	assert_true(msg.has_content_length);
}

static void test_header_names_are_case_insensitive(void **state)
{
	(void)state;
	assert_int_equal(parse(REG_HEAD "VIA: SIP/2.0/UDP h;branch=z9hG4bKx\r\nfRoM: <sip:a@b>;tag=1\r\n"
				   "tO: <sip:a@b>\r\ncall-id: q\r\ncseq: 1 REGISTER\r\nEXPIRES: 60\r\n\r\n"),
			 SIP_PARSE_OK);
	assert_int_equal(msg.expires, 60);
}

static void test_folded_header_value_is_one_value(void **state)
{
	(void)state;
	assert_int_equal(parse(REG_HEAD MANDATORY "Contact: <sip:a@192.0.2.1>\r\n"
						  " ;expires=30\r\nSubject: first\r\n\tsecond\r\n\r\n"),
			 SIP_PARSE_OK);
	assert_int_equal(msg.contact[0].expires, 30);
	assert_slice(msg.other[0].value, "first\r\n\tsecond");
}

/* From, To and CSeq keep their whole value as written, for a response to
 * echo; a value folded over lines has none (the parts are still there). */
static void test_from_to_and_cseq_keep_their_raw_value_on_one_line(void **state)
{
	(void)state;
	assert_int_equal(parse(REG_HEAD VIA "From:   \"A \\\"x\"  <sip:alice@example.com> ;tag=1  \r\n"
				   "t: sip:alice@example.com\r\n" CALLID "CSeq:  7   REGISTER\r\n\r\n"),
			 SIP_PARSE_OK);
	assert_slice(msg.from.raw, "\"A \\\"x\"  <sip:alice@example.com> ;tag=1");
	assert_slice(msg.to.raw, "sip:alice@example.com");
	assert_slice(msg.cseq_raw, "7   REGISTER");
	assert_int_equal(parse(REG_HEAD VIA "From: <sip:alice@example.com>\r\n ;tag=1\r\n"
				   "To: <sip:alice@example.com>\r\n\t;x=1\r\n" CALLID "CSeq: 7\r\n REGISTER\r\n\r\n"),
			 SIP_PARSE_OK);
	assert_null(msg.from.raw.ptr);
	assert_slice(msg.from.tag, "1");
	assert_null(msg.to.raw.ptr);
	assert_null(msg.cseq_raw.ptr);
	assert_int_equal(msg.cseq, 7);
}

/* Each Via keeps its sent-protocol and sent-by as written, for a response
 * to echo; a Via line folded over lines has none. */
static void test_via_keeps_its_sent_by_as_written_on_one_line(void **state)
{
	(void)state;
	assert_int_equal(parse(REG_HEAD "Via: SIP / 2.0 / UDP  192.0.2.1 : 5070 ;branch=z9hG4bKa, "
				   "SIP/2.0/TCP [2001:db8::1];branch=z9hG4bKb\r\nv: SIP/2.0/UDP h.example\r\n"
				   FROM TO CALLID CSEQ "\r\n"),
			 SIP_PARSE_OK);
	assert_int_equal(msg.via_count, 3);
	assert_slice(msg.via[0].sent_raw, "SIP / 2.0 / UDP  192.0.2.1 : 5070");
	assert_slice(msg.via[1].sent_raw, "SIP/2.0/TCP [2001:db8::1]");
	assert_slice(msg.via[2].sent_raw, "SIP/2.0/UDP h.example");
	assert_int_equal(parse(REG_HEAD "Via: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKc\r\n"
				   "Via: SIP/2.0/UDP 192.0.2.1:5070,\r\n SIP/2.0/UDP 192.0.2.2;branch=z9hG4bKd\r\n"
				   FROM TO CALLID CSEQ "\r\n"),
			 SIP_PARSE_OK);
	assert_int_equal(msg.via_count, 3);
	assert_slice(msg.via[0].sent_raw, "SIP/2.0/UDP 192.0.2.9");
	assert_null(msg.via[1].sent_raw.ptr);
	assert_null(msg.via[2].sent_raw.ptr);
	assert_int_equal(msg.via[1].port, 5070);
}

static void test_lws_around_colon_and_slash(void **state)
{
	(void)state;
	assert_int_equal(parse(REG_HEAD "Via  :  SIP / 2.0 / UDP   192.0.2.1 : 5070 ; branch = z9hG4bKa\r\n"
				   FROM TO CALLID CSEQ "\r\n"),
			 SIP_PARSE_OK);
	assert_int_equal(msg.via[0].port, 5070);
	assert_slice(msg.via[0].branch, "z9hG4bKa");
}

static void test_comma_separated_and_repeated_via_are_one_list(void **state)
{
	(void)state;
	assert_int_equal(parse(REG_HEAD "Via: SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/TCP b:5061;branch=z9hG4bK2\r\n"
				   "Via: SIP/2.0/TLS [2001:db8::1]:5061;branch=z9hG4bK3;received=192.0.2.9;rport=4000\r\n"
				   FROM TO CALLID CSEQ "\r\n"),
			 SIP_PARSE_OK);
	assert_int_equal(msg.via_count, 3);
	assert_slice(msg.via[1].host, "b");
	assert_slice(msg.via[2].host, "2001:db8::1");
	assert_true(msg.via[2].host_is_ipv6);
	assert_slice(msg.via[2].received, "192.0.2.9");
	assert_true(msg.via[2].rport_has_value);
	assert_int_equal(msg.via[2].rport, 4000);
}

static void test_contact_star_is_recognised(void **state)
{
	(void)state;
	assert_int_equal(parse(REG_HEAD MANDATORY "Contact: *\r\nExpires: 0\r\n\r\n"), SIP_PARSE_OK);
	assert_true(msg.contact_star);
	assert_int_equal(msg.contact_count, 0);
	assert_int_equal(msg.expires, 0);
}

static void test_multiple_contacts_with_params(void **state)
{
	(void)state;
	assert_int_equal(parse(REG_HEAD MANDATORY
			       "Contact: \"Mr. Watson\" <sip:watson@worcester.example.com>;q=0.7; expires=3600,\r\n"
			       " <sips:watson@[2001:db8::2]:5061>;q=1, sip:w@192.0.2.4;expires=10;x-foo=bar\r\n\r\n"),
			 SIP_PARSE_OK);
	assert_int_equal(msg.contact_count, 3);
	assert_slice(msg.contact[0].addr.display, "Mr. Watson");
	assert_true(msg.contact[0].addr.display_quoted);
	assert_int_equal(msg.contact[0].q_milli, 700);
	assert_int_equal(msg.contact[1].addr.uri.scheme, SIP_SCHEME_SIPS);
	assert_slice(msg.contact[1].addr.uri.host, "2001:db8::2");
	assert_int_equal(msg.contact[1].q_milli, 1000);
	/* addr-spec without <>: ;expires belongs to the header, not the URI */
	assert_int_equal(msg.contact[2].expires, 10);
	assert_int_equal(msg.contact[2].addr.uri.params.len, 0);
	struct sip_slice v;
	assert_true(sip_param_find(msg.contact[2].addr.params, "X-FOO", &v));
	assert_slice(v, "bar");
}

static void test_quoted_display_name_keeps_escapes(void **state)
{
	(void)state;
	assert_int_equal(parse(REG_HEAD VIA "From: \"J \\\"Rosenberg\\\\ <\" <sip:jdrosen@example.com>;tag=9\r\n"
				   TO CALLID CSEQ "\r\n"),
			 SIP_PARSE_OK);
	assert_slice(msg.from.addr.display, "J \\\"Rosenberg\\\\ <");
}

static void test_sips_request_uri_with_user_password_port_params(void **state)
{
	(void)state;
	assert_int_equal(parse("REGISTER sips:bob:secret@[2001:db8::10]:5061;transport=tcp;lr?Subject=x SIP/2.0\r\n"
			       MANDATORY "\r\n"),
			 SIP_PARSE_OK);
	struct sip_uri *u = &msg.request_uri;
	assert_int_equal(u->scheme, SIP_SCHEME_SIPS);
	assert_slice(u->user, "bob");
	assert_slice(u->password, "secret");
	assert_slice(u->host, "2001:db8::10");
	assert_true(u->host_is_ipv6);
	assert_int_equal(u->port, 5061);
	assert_slice(u->params, ";transport=tcp;lr");
	assert_slice(u->transport, "tcp");
	assert_slice(u->headers, "Subject=x");
}

static void test_status_line_is_parsed(void **state)
{
	(void)state;
	assert_int_equal(parse("SIP/2.0 401 Unauthorized\r\n" MANDATORY "Content-Length: 0\r\n\r\n"), SIP_PARSE_OK);
	assert_false(msg.is_request);
	assert_int_equal(msg.status_code, 401);
	assert_slice(msg.reason, "Unauthorized");
}

static void test_body_is_content_length_bytes(void **state)
{
	(void)state;
	assert_int_equal(parse(REG_HEAD MANDATORY "Content-Length: 4\r\n\r\nbodyEXTRA"), SIP_PARSE_OK);
	assert_slice(msg.body, "body");
	assert_int_equal(parse(REG_HEAD MANDATORY "\r\nrest"), SIP_PARSE_OK);
	assert_slice(msg.body, "rest");
}

static void test_content_length_beyond_datagram_is_body_truncated(void **state)
{
	(void)state;
	assert_int_equal(parse(REG_HEAD MANDATORY "Content-Length: 50\r\n\r\nshort"), SIP_PARSE_BODY_TRUNCATED);
}

static void test_missing_mandatory_headers_are_named(void **state)
{
	(void)state;
	assert_int_equal(parse(REG_HEAD FROM TO CALLID CSEQ "\r\n"), SIP_PARSE_MISSING_VIA);
	assert_int_equal(parse(REG_HEAD VIA TO CALLID CSEQ "\r\n"), SIP_PARSE_MISSING_FROM);
	assert_int_equal(parse(REG_HEAD VIA FROM CALLID CSEQ "\r\n"), SIP_PARSE_MISSING_TO);
	assert_int_equal(parse(REG_HEAD VIA FROM TO CSEQ "\r\n"), SIP_PARSE_MISSING_CALL_ID);
	assert_int_equal(parse(REG_HEAD VIA FROM TO CALLID "\r\n"), SIP_PARSE_MISSING_CSEQ);
}

static void test_duplicate_single_headers_are_rejected(void **state)
{
	(void)state;
	assert_int_equal(parse(REG_HEAD MANDATORY CALLID "\r\n"), SIP_PARSE_DUPLICATE_CALL_ID);
	assert_int_equal(parse(REG_HEAD MANDATORY FROM "\r\n"), SIP_PARSE_DUPLICATE_FROM);
	assert_int_equal(parse(REG_HEAD MANDATORY CSEQ "\r\n"), SIP_PARSE_DUPLICATE_CSEQ);
	assert_int_equal(parse(REG_HEAD MANDATORY "Content-Length: 0\r\nl: 0\r\n\r\n"),
			 SIP_PARSE_DUPLICATE_CONTENT_LENGTH);
}

static void test_cseq_method_must_match_request_method(void **state)
{
	(void)state;
	assert_int_equal(parse(REG_HEAD VIA FROM TO CALLID "CSeq: 1 INVITE\r\n\r\n"), SIP_PARSE_CSEQ_METHOD_MISMATCH);
}

static void test_cseq_number_must_be_below_2_pow_31(void **state)
{
	(void)state;
	assert_int_equal(parse(REG_HEAD VIA FROM TO CALLID "CSeq: 2147483648 REGISTER\r\n\r\n"), SIP_PARSE_BAD_CSEQ);
	assert_int_equal(parse(REG_HEAD VIA FROM TO CALLID "CSeq: 2147483647 REGISTER\r\n\r\n"), SIP_PARSE_OK);
}

static void test_expires_above_2_pow_32_saturates(void **state)
{
	(void)state;
	assert_int_equal(parse(REG_HEAD MANDATORY "Expires: 99999999999999\r\n\r\n"), SIP_PARSE_OK);
	assert_int_equal(msg.expires, UINT32_MAX);
	assert_int_equal(parse(REG_HEAD MANDATORY "Expires: 1h\r\n\r\n"), SIP_PARSE_BAD_EXPIRES);
}

static void test_sip_version_other_than_2_0_is_bad_version(void **state)
{
	(void)state;
	assert_int_equal(parse("REGISTER sip:example.com SIP/7.0\r\n" MANDATORY "\r\n"), SIP_PARSE_BAD_VERSION);
}

static void test_request_uri_with_space_is_rejected(void **state)
{
	(void)state;
	assert_int_equal(parse("REGISTER sip:exa mple.com SIP/2.0\r\n" MANDATORY "\r\n"), SIP_PARSE_BAD_REQUEST_URI);
}

static void test_unterminated_quote_in_from_is_bad_from(void **state)
{
	(void)state;
	assert_int_equal(parse(REG_HEAD VIA "From: \"Alice <sip:a@b>;tag=1\r\n" TO CALLID CSEQ "\r\n"),
			 SIP_PARSE_BAD_FROM);
}

static void test_missing_empty_line_is_no_end_of_headers(void **state)
{
	(void)state;
	assert_int_equal(parse(REG_HEAD MANDATORY), SIP_PARSE_NO_END_OF_HEADERS);
}

static void test_header_without_colon_is_missing_colon(void **state)
{
	(void)state;
	assert_int_equal(parse(REG_HEAD MANDATORY "Expires 60\r\n\r\n"), SIP_PARSE_MISSING_COLON);
}

/* Header parameter values are gen-value = token / host / quoted-string
 * (RFC 3261 §25.1): '(' ')' '/' are URI-parameter characters only. */
static void test_header_param_values_are_tokens_hosts_or_quoted(void **state)
{
	(void)state;
	assert_int_equal(parse(REG_HEAD "Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK(1)\r\n"
			       FROM TO CALLID CSEQ "\r\n"), SIP_PARSE_BAD_VIA);
	assert_int_equal(parse(REG_HEAD MANDATORY "Contact: <sip:a@192.0.2.10>;x=a/b\r\n\r\n"),
			 SIP_PARSE_BAD_CONTACT);
	assert_int_equal(parse(REG_HEAD VIA "From: <sip:alice@example.com>;tag=a$b\r\n" TO CALLID CSEQ
			       "\r\n"), SIP_PARSE_BAD_FROM);
	/* Quoted, host (IPv6 received) and URI parameters may carry them. */
	assert_int_equal(parse(REG_HEAD "Via: SIP/2.0/UDP 192.0.2.10;received=[2001:db8::1];x=\"(a/b)\"\r\n"
			       FROM TO CALLID CSEQ "Contact: <sip:a@192.0.2.10;x=(a/b)>\r\n\r\n"),
			 SIP_PARSE_OK);
}

static void test_too_many_vias_is_a_distinct_status(void **state)
{
	(void)state;
	char buf[4096];
	int n = snprintf(buf, sizeof(buf), "%s", REG_HEAD);
	for (int i = 0; i <= SIP_MAX_VIAS; i++)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "Via: SIP/2.0/UDP h%d;branch=z9hG4bK%d\r\n", i, i);
	snprintf(buf + n, sizeof(buf) - (size_t)n, "%s", FROM TO CALLID CSEQ "\r\n");
	assert_int_equal(parse(buf), SIP_PARSE_TOO_MANY_VIAS);
}

static void test_too_many_contacts_is_a_distinct_status(void **state)
{
	(void)state;
	char buf[4096];
	int n = snprintf(buf, sizeof(buf), "%s", REG_HEAD MANDATORY);
	for (int i = 0; i <= SIP_MAX_CONTACTS; i++)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "Contact: <sip:a@192.0.2.%d>\r\n", i);
	snprintf(buf + n, sizeof(buf) - (size_t)n, "\r\n");
	assert_int_equal(parse(buf), SIP_PARSE_TOO_MANY_CONTACTS);
}

static void test_too_many_other_headers_is_a_distinct_status(void **state)
{
	(void)state;
	char buf[4096];
	int n = snprintf(buf, sizeof(buf), "%s", REG_HEAD MANDATORY);
	for (int i = 0; i <= SIP_MAX_OTHER_HEADERS; i++)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "X-H%d: v\r\n", i);
	snprintf(buf + n, sizeof(buf) - (size_t)n, "\r\n");
	assert_int_equal(parse(buf), SIP_PARSE_TOO_MANY_HEADERS);
}

static void test_contact_q_above_one_is_bad_contact(void **state)
{
	(void)state;
	assert_int_equal(parse(REG_HEAD MANDATORY "Contact: <sip:a@b>;q=1.5\r\n\r\n"), SIP_PARSE_BAD_CONTACT);
}

static void test_nul_in_headers_is_rejected(void **state)
{
	(void)state;
	static const char m[] = REG_HEAD MANDATORY "Subject: a\0b\r\n\r\n";
	assert_int_equal(sip_parse(m, sizeof(m) - 1, &msg), SIP_PARSE_NUL_IN_HEADERS);
}

static void test_escaped_nul_in_quoted_string_is_valid(void **state)
{
	(void)state;
	/* RFC 3261 §25.1 quoted-pair = "\\" (%x00-09 / ...); RFC 4475 intmeth */
	static const char m[] = REG_HEAD VIA FROM "To: \"NUL:\\\0\" <sip:a@b>\r\n" CALLID CSEQ "\r\n";
	assert_int_equal(sip_parse(m, sizeof(m) - 1, &msg), SIP_PARSE_OK);
	assert_int_equal(msg.to.addr.display.len, 6);
}

static void test_empty_datagram_is_empty(void **state)
{
	(void)state;
	assert_int_equal(sip_parse("", 0, &msg), SIP_PARSE_EMPTY);
}

static void test_every_status_has_a_reason_and_name(void **state)
{
	(void)state;
	for (int s = 0; s < SIP_PARSE_STATUS_COUNT; s++) {
		assert_string_not_equal(sip_parse_status_reason((enum sip_parse_status)s), "Unknown parse error");
		assert_string_not_equal(sip_parse_status_name((enum sip_parse_status)s), "SIP_PARSE_?");
	}
	assert_string_equal(sip_parse_status_reason(SIP_PARSE_STATUS_COUNT), "Unknown parse error");
}

static void test_digest_directive_twice_is_bad_authorization(void **state)
{
	(void)state;
	assert_int_equal(parse(REG_HEAD MANDATORY "Authorization: Digest username=\"a\", username=\"b\"\r\n\r\n"),
			 SIP_PARSE_BAD_AUTHORIZATION);
}

static void test_proxy_authorization_and_path_and_require(void **state)
{
	(void)state;
	assert_int_equal(parse(REG_HEAD MANDATORY "Proxy-Authorization: Digest username=\"bob\",realm=\"r\"\r\n"
						  "Path: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n"
						  "Require: outbound\r\n\r\n"),
			 SIP_PARSE_OK);
	assert_int_equal(msg.proxy_authorization_count, 1);
	assert_slice(msg.proxy_authorization[0].username, "bob");
	assert_slice(msg.proxy_authorization[0].realm, "r");
	assert_int_equal(msg.path_count, 2);
	assert_slice(msg.path[1], "<sip:p2.example.com;lr>");
	assert_int_equal(msg.require_count, 1);
	assert_slice(msg.require[0], "outbound");
}

static void test_lf_only_line_ends_are_accepted(void **state)
{
	(void)state;
	assert_int_equal(parse("REGISTER sip:example.com SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\n"
			       "From: <sip:a@b>;tag=1\nTo: <sip:a@b>\nCall-ID: x\nCSeq: 1 REGISTER\n\n"),
			 SIP_PARSE_OK);
}

static void test_helpers(void **state)
{
	(void)state;
	uint32_t v = 7;
	struct sip_slice s = { "4294967296", 10 };
	assert_false(sip_slice_to_u32(s, &v));
	assert_int_equal(v, 7);
	s.len = 9;
	assert_true(sip_slice_to_u32(s, &v));
	assert_int_equal(v, 429496729);
	struct sip_uri u;
	struct sip_slice bad = { "sip:[::1", 8 };
	assert_false(sip_uri_parse(bad, &u));
	struct sip_slice badport = { "sip:h:65536", 11 };
	assert_false(sip_uri_parse(badport, &u));
	struct sip_slice tel = { "tel:+1-201-555-0123", 19 };
	assert_true(sip_uri_parse(tel, &u));
	assert_int_equal(u.scheme, SIP_SCHEME_OTHER);
	struct sip_slice a = { "ViA", 3 };
	assert_true(sip_slice_eq_lit_nocase(a, "via"));
}


static void test_bare_cr_in_a_header_is_bare_cr(void **state)
{
	(void)state;
	assert_int_equal(parse(REG_HEAD MANDATORY "Max-Forwards: 7\r\r\n\r\n"), SIP_PARSE_BARE_CR);
	assert_int_equal(parse(REG_HEAD MANDATORY "Subject: a\rb\r\n\r\n"), SIP_PARSE_BARE_CR);
}

static void test_contact_star_with_another_contact_is_bad_contact(void **state)
{
	(void)state;
	assert_int_equal(parse(REG_HEAD MANDATORY "Contact: *\r\nContact: <sip:a@b>\r\n\r\n"), SIP_PARSE_BAD_CONTACT);
	assert_int_equal(parse(REG_HEAD MANDATORY "Contact: <sip:a@b>\r\nContact: *\r\n\r\n"), SIP_PARSE_BAD_CONTACT);
	assert_int_equal(parse(REG_HEAD MANDATORY "Contact: *, <sip:a@b>\r\n\r\n"), SIP_PARSE_BAD_CONTACT);
}

static void test_digest_nc_is_8_hex_digits(void **state)
{
	(void)state;
	assert_int_equal(parse(REG_HEAD MANDATORY "Authorization: Digest username=\"a\", nc=00\r\n\r\n"),
			 SIP_PARSE_BAD_AUTHORIZATION);
	assert_int_equal(parse(REG_HEAD MANDATORY "Authorization: Digest username=\"a\", nc=0000000a\r\n\r\n"),
			 SIP_PARSE_OK);
}

static void test_digest_quoted_directives_must_be_quoted(void **state)
{
	(void)state;
	assert_int_equal(parse(REG_HEAD MANDATORY "Authorization: Digest username=alice\r\n\r\n"),
			 SIP_PARSE_BAD_AUTHORIZATION);
	/* qop and algorithm are tokens, but phones quote them: accepted */
	assert_int_equal(parse(REG_HEAD MANDATORY "Authorization: Digest username=\"a\", qop=\"auth\"\r\n\r\n"),
			 SIP_PARSE_OK);
	assert_slice(msg.authorization[0].qop, "auth");
}

static void test_other_auth_scheme_needs_auth_params(void **state)
{
	(void)state;
	assert_int_equal(parse(REG_HEAD MANDATORY "Authorization: NoOneKnowsThisScheme opaque-data=here\r\n\r\n"),
			 SIP_PARSE_OK);
	assert_false(msg.authorization[0].is_digest);
	assert_int_equal(parse(REG_HEAD MANDATORY "Authorization: Digesoutbound\r\n\r\n"), SIP_PARSE_BAD_AUTHORIZATION);
}

static void test_status_line_needs_sp_after_code(void **state)
{
	(void)state;
	assert_int_equal(parse("SIP/2.0 100\r\n" MANDATORY "\r\n"), SIP_PARSE_BAD_STATUS_CODE);
	assert_int_equal(parse("SIP/2.0 100 \r\n" MANDATORY "\r\n"), SIP_PARSE_OK);
	assert_int_equal(msg.reason.len, 0);
}

static void test_uri_escapes_headers_and_user_with_question_mark(void **state)
{
	(void)state;
	struct sip_uri u;
	struct sip_slice a = { "sip:10?7@192.0.2.1:5060;transport=udp", 37 };
	assert_true(sip_uri_parse(a, &u));
	assert_slice(u.user, "10?7");
	assert_slice(u.host, "192.0.2.1");
	struct sip_slice bad_escape = { "sip:a%zz@h", 10 };
	assert_false(sip_uri_parse(bad_escape, &u));
	struct sip_slice bad_header = { "sip:h?xample", 12 };
	assert_false(sip_uri_parse(bad_header, &u));
	struct sip_slice empty_param = { "sip:h;;lr", 9 };
	assert_false(sip_uri_parse(empty_param, &u));
}

static void test_param_without_value_after_equals_is_rejected(void **state)
{
	(void)state;
	assert_int_equal(parse(REG_HEAD MANDATORY "Contact: <sip:a@b>;newparam =\r\n\r\n"), SIP_PARSE_BAD_CONTACT);
	assert_int_equal(parse(REG_HEAD VIA "From: <sip:a@b>;tag=,x\r\n" TO CALLID CSEQ "\r\n"), SIP_PARSE_BAD_FROM);
}

static void test_duplicate_content_type_is_rejected(void **state)
{
	(void)state;
	assert_int_equal(parse(REG_HEAD MANDATORY "Content-Type: a/b\r\nc: a/b\r\n\r\n"),
			 SIP_PARSE_DUPLICATE_CONTENT_TYPE);
}

static void test_control_character_in_quoted_string_is_rejected(void **state)
{
	(void)state;
	assert_int_equal(parse(REG_HEAD VIA "From: \"A\x0b\" <sip:a@b>;tag=1\r\n" TO CALLID CSEQ "\r\n"),
			 SIP_PARSE_BAD_FROM);
}

/* The scanners load 16 bytes at a time while 16 remain before the
 * datagram end and go byte by byte after that. Every field must come out
 * the same wherever the 16-byte boundaries and the datagram end fall, and
 * nothing past the datagram may be read: each message is parsed from an
 * exactly sized heap copy (the ASan and fuzz builds catch a read past it). */
static enum sip_parse_status parse_exact(const char *text, size_t len, char **copy)
{
	*copy = malloc(len);
	assert_non_null(*copy);
	memcpy(*copy, text, len);
	return sip_parse(*copy, len, &msg);
}

static void test_fields_are_the_same_at_every_16_byte_alignment(void **state)
{
	(void)state;
	char text[2048];
	char pad[80];
	for (int k = 0; k < 64; k++) {
		memset(pad, 'x', (size_t)k);
		pad[k] = '\0';
		/* the padding shifts every later field across the 16-byte
		 * boundaries (the nonce grows with it); Authorization's last
		 * quoted value lies in the datagram's last 16 bytes */
		int n = snprintf(text, sizeof(text),
				 "REGISTER sip:example.com SIP/2.0\r\n"
				 "X-Pad: %s\r\n"
				 "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK1234;rport\r\n"
				 "From: \"Alice\" <sip:alice@example.com>;tag=abc\r\n"
				 "To: <sip:alice@example.com>\r\n"
				 "Call-ID: 1234@192.0.2.10\r\n"
				 "CSeq: 2 REGISTER\r\n"
				 "Contact: <sip:alice@192.0.2.10:5060;transport=udp>;expires=60;+sip.instance=\"<urn:x>\"\r\n"
				 "Authorization: Digest username=\"alice\", realm=\"example.com\", nonce=\"n%s\", "
				 "uri=\"sip:example.com\", response=\"r\", nc=00000001, opaque=\"op\"\r\n"
				 "\r\n",
				 pad, pad);
		char *copy;
		assert_int_equal(parse_exact(text, (size_t)n, &copy), SIP_PARSE_OK);
		assert_slice(msg.via[0].branch, "z9hG4bK1234");
		assert_true(msg.via[0].has_rport);
		assert_slice(msg.via[0].host, "192.0.2.10");
		assert_slice(msg.from.tag, "abc");
		assert_slice(msg.to.addr.uri.host, "example.com");
		assert_slice(msg.call_id, "1234@192.0.2.10");
		assert_int_equal(msg.contact_count, 1);
		assert_slice(msg.contact[0].addr.uri.transport, "udp");
		assert_slice(msg.contact[0].instance, "<urn:x>");
		assert_int_equal(msg.contact[0].expires, 60);
		assert_int_equal(msg.authorization_count, 1);
		assert_slice(msg.authorization[0].opaque, "op");
		assert_slice(msg.authorization[0].nc, "00000001");
		assert_int_equal(msg.authorization[0].nonce.len, (uint32_t)k + 1);
		assert_int_equal(msg.other_count, 1);
		assert_int_equal(msg.other[0].value.len, (uint32_t)k);
		free(copy);
	}
}

static void test_bare_cr_and_nul_are_found_at_every_16_byte_alignment(void **state)
{
	(void)state;
	char text[512];
	for (int k = 0; k < 40; k++) {
		for (int what = 0; what < 3; what++) {
			/* what 0: a bare CR, 1: a NUL, 2: CR LF split by the
			 * 16-byte boundary at some k (valid) */
			char pad[64];
			memset(pad, 'y', (size_t)k);
			pad[k] = '\0';
			int n = snprintf(text, sizeof(text), REG_HEAD MANDATORY "X-A: %s%s\r\n\r\n", pad,
					 what == 2 ? "" : "!z");
			char *mark = strstr(text, "!z");
			if (mark != NULL)
				*mark = what == 0 ? '\r' : '\0';
			char *copy;
			enum sip_parse_status st = parse_exact(text, (size_t)n, &copy);
			assert_int_equal(st, what == 0 ? SIP_PARSE_BARE_CR :
					 what == 1 ? SIP_PARSE_NUL_IN_HEADERS : SIP_PARSE_OK);
			free(copy);
		}
	}
}

static void test_message_cut_at_every_length_reads_only_the_datagram(void **state)
{
	(void)state;
	size_t full = strlen(second_register);
	for (size_t len = 1; len < full; len++) {
		char *copy;
		/* a cut head has no empty line (or, cut inside it, is short) */
		enum sip_parse_status st = parse_exact(second_register, len, &copy);
		assert_int_not_equal(st, SIP_PARSE_OK);
		free(copy);
	}
	char *copy;
	assert_int_equal(parse_exact(second_register, full, &copy), SIP_PARSE_OK);
	free(copy);
}

/* The fast paths (header names with their colon, "SIP/2.0/", sip:user@host
 * URIs, Digest directive names) must give what the general code gives
 * for the forms they do not take. */
static void test_uncommon_forms_of_fast_path_fields(void **state)
{
	(void)state;
	assert_int_equal(parse(REG_HEAD
			       "VIA : SIP / 2.0 / UDP 192.0.2.10;BRANCH=z9hG4bKx\r\n"
			       "FROM:<SIP:Alice:pw@EXAMPLE.com;user=phone>;TAG=t1\r\n"
			       "TO\t:<sips:%61lice@[2001:db8::1]:5061>\r\n"
			       "CALL-ID: c@h\r\n"
			       "cseq: 2 REGISTER\r\n"
			       "CONTACT: sip:alice@192.0.2.10;expires=5\r\n"
			       "Authorization: Digest USERNAME=\"a\", Realm=\"r\", usernamex=\"y\", NC=00000001, "
			       "Algorithm=MD5\r\n"
			       "\r\n"),
			 SIP_PARSE_OK);
	assert_slice(msg.via[0].protocol, "SIP");
	assert_slice(msg.via[0].version, "2.0");
	assert_slice(msg.via[0].transport, "UDP");
	assert_slice(msg.via[0].branch, "z9hG4bKx");
	assert_int_equal(msg.from.addr.uri.scheme, SIP_SCHEME_SIP);
	assert_slice(msg.from.addr.uri.user, "Alice");
	assert_slice(msg.from.addr.uri.password, "pw");
	assert_slice(msg.from.tag, "t1");
	assert_int_equal(msg.to.addr.uri.scheme, SIP_SCHEME_SIPS);
	assert_slice(msg.to.addr.uri.user, "%61lice");
	assert_true(msg.to.addr.uri.host_is_ipv6);
	assert_int_equal(msg.to.addr.uri.port, 5061);
	assert_slice(msg.contact[0].addr.uri.host, "192.0.2.10");
	assert_int_equal(msg.contact[0].expires, 5);
	assert_slice(msg.authorization[0].username, "a");
	assert_slice(msg.authorization[0].realm, "r");
	assert_slice(msg.authorization[0].nc, "00000001");
	assert_slice(msg.authorization[0].algorithm, "MD5");
}

/* parse_digest_common() takes "name=value" directives separated by ','
 * and LWS; every other spelling goes to the general loop, which must give
 * the same fields or the same error. */
static void test_digest_directives_in_uncommon_spellings(void **state)
{
	(void)state;
	assert_int_equal(parse(REG_HEAD MANDATORY
			       "Authorization: Digest username=\"a\\\"b\", realm = \"r\" , nonce=\n\t\"n\",\turi=\"sip:x\","
			       "\r\n foo=\"bar\", response=\"\", qop=\"auth\", cnonce=\"c\", opaque=\"o\"\r\n"
			       "X-Tail: 0123456789abcdef0123456789\r\n\r\n"),
			 SIP_PARSE_OK);
	const struct sip_credentials *a = &msg.authorization[0];
	assert_slice(a->username, "a\\\"b");
	assert_slice(a->realm, "r");
	assert_slice(a->nonce, "n");
	assert_slice(a->uri, "sip:x");
	assert_slice(a->response, "");
	assert_slice(a->qop, "auth");
	assert_slice(a->cnonce, "c");
	assert_slice(a->opaque, "o");
	assert_null(a->algorithm.ptr);
	assert_null(a->nc.ptr);
	/* errors, whichever loop finds them */
	static const char *const bad[] = {
		"username=\"a\", username=\"b\"",
		"username=\"a\", nc=\"00000001\"",
		"username=\"a\", nc=0000001",
		"username=\"a\", nc=0000000g",
		"username=\"a\",",
		"username=\"a\", ",
		"username=\"a\" x",
		"username=a",
		"realm=\"a",
		"algorithm=MD5;x",
		"username=\"a\"\"b\"",
		"username=\"a\x01\"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[512];
		/* once with the directive in the datagram's last 16 bytes, once
		 * far from them */
		for (int tail = 0; tail < 2; tail++) {
			snprintf(text, sizeof(text), REG_HEAD MANDATORY "Authorization: Digest %s\r\n%s\r\n", bad[i],
				 tail ? "X-Tail: 0123456789abcdef0123456789\r\n" : "");
			if (parse(text) != SIP_PARSE_BAD_AUTHORIZATION)
				fail_msg("%s: %s", bad[i], sip_parse_status_name(parse(text)));
		}
	}
	/* the last directive ends the datagram's head: general loop */
	assert_int_equal(parse(REG_HEAD MANDATORY "Authorization: Digest realm=\"r\", nc=00000001\r\n\r\n"),
			 SIP_PARSE_OK);
	assert_slice(msg.authorization[0].nc, "00000001");
	assert_slice(msg.authorization[0].realm, "r");
}

/* sip_lex.h's SSSE3 scanners classify 16 bytes with nibble tables that
 * must say exactly what sip_cc says, for every byte and class. */
static void test_class_nibble_tables_match_the_class_table(void **state)
{
	(void)state;
	for (int k = 0; k < 8; k++)
		for (int c = 0; c < 256; c++) {
			bool in_table = c < 0x80 && (sip_cc_nibble_lo[k][c & 15] & (1u << (c >> 4))) != 0;
			if (in_table != ((sip_cc[c] & (1u << k)) != 0))
				fail_msg("class bit %d byte 0x%02x", k, c);
		}
	for (int k = 0; k < 4; k++)
		for (int c = 0; c < 256; c++) {
			bool in_table = c < 0x80 && (sip_cc2_nibble_lo[k][c & 15] & (1u << (c >> 4))) != 0;
			if (in_table != ((sip_cc2[c] & (1u << k)) != 0))
				fail_msg("class 2 bit %d byte 0x%02x", k, c);
		}
}

/* The URI fast path's user and parameter scans (16 bytes a step) stop
 * where the general code's byte loops stopped, at every offset and in the
 * datagram's last 16 bytes: '@' ends the user, '%' and '?' hand the URI
 * to the general code. */
static void test_uri_user_and_params_at_every_offset(void **state)
{
	(void)state;
	for (int k = 1; k < 36; k++) {
		for (int tail = 0; tail < 2; tail++) {
			char user[64], text[1024];
			memset(user, 'u', (size_t)k);
			user[k - 1] = (char)"-_.!~*'()&=+$,;?/"[k % 17];
			user[k] = '\0';
			int n = snprintf(text, sizeof(text),
					 REG_HEAD VIA FROM TO CALLID CSEQ "%s"
					 "Contact: <sip:%s@192.0.2.10:5060;transport=tcp;lr;x=%%41>;expires=60\r\n\r\n",
					 tail ? "" : "X-Pad: 0123456789abcdef0123456789abcdef\r\n", user);
			char *copy;
			assert_int_equal(parse_exact(text, (size_t)n, &copy), SIP_PARSE_OK);
			assert_slice(msg.contact[0].addr.uri.user, user);
			assert_slice(msg.contact[0].addr.uri.host, "192.0.2.10");
			assert_int_equal(msg.contact[0].addr.uri.port, 5060);
			assert_slice(msg.contact[0].addr.uri.transport, "tcp");
			assert_slice(msg.contact[0].addr.uri.params, ";transport=tcp;lr;x=%41");
			free(copy);
		}
	}
	/* no user, an '@' only in a parameter: the run before it is the user */
	assert_int_equal(parse(REG_HEAD VIA FROM TO CALLID CSEQ "Contact: <sip:h.example;x=a@b.example>\r\n\r\n"),
			 SIP_PARSE_OK);
	assert_slice(msg.contact[0].addr.uri.user, "h.example;x=a");
	assert_slice(msg.contact[0].addr.uri.host, "b.example");
	assert_int_equal(parse(REG_HEAD VIA FROM TO CALLID CSEQ "Contact: <sip:a%4a:pw@h.example;x=1>\r\n\r\n"),
			 SIP_PARSE_OK);
	assert_slice(msg.contact[0].addr.uri.user, "a%4a");
	assert_slice(msg.contact[0].addr.uri.password, "pw");
	assert_int_equal(parse(REG_HEAD VIA FROM TO CALLID CSEQ "Contact: <sip:@h.example>\r\n\r\n"), SIP_PARSE_BAD_CONTACT);
}

/* Token characters outside letters, digits, '-' and '.' ("_!~%*+`'") do
 * not end a token, wherever they fall in the 16-byte steps, and the first
 * non-token byte does, also in the datagram's last 16 bytes. */
static void test_token_runs_with_rare_characters_at_every_offset(void **state)
{
	(void)state;
	static const char rare[] = "_!~%*+`'";
	for (int k = 0; k < 40; k++) {
		for (int tail = 0; tail < 2; tail++) {
			char branch[64], text[1024];
			memset(branch, 'a', (size_t)k);
			snprintf(branch + k, sizeof(branch) - (size_t)k, "%c9", rare[k % 8]);
			int n = snprintf(text, sizeof(text),
					 REG_HEAD FROM TO CALLID CSEQ "%s"
					 "Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK%s;received=192.0.2.1\r\n\r\n",
					 tail ? "" : "X-Pad: 0123456789abcdef0123456789abcdef\r\n", branch);
			char *copy;
			assert_int_equal(parse_exact(text, (size_t)n, &copy), SIP_PARSE_OK);
			char want[80];
			snprintf(want, sizeof(want), "z9hG4bK%s", branch);
			assert_slice(msg.via[0].branch, want);
			assert_slice(msg.via[0].received, "192.0.2.1");
			free(copy);
		}
	}
	/* a non-token byte ends the run: '(' in a header parameter value */
	assert_int_equal(parse(REG_HEAD FROM TO CALLID CSEQ
			       "Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKabcdefghijklmnop(q\r\n\r\n"),
			 SIP_PARSE_BAD_VIA);
}

/* authorization_line() parses "Authorization: Digest ..." with the
 * datagram end as its bound and finds the line end itself; other forms of
 * the line go to the line search and parse_credentials(), with the same
 * result. */
#define AUTH_TAIL "X-Tail: 0123456789abcdef0123456789\r\n\r\n"
static void test_authorization_line_forms(void **state)
{
	(void)state;
	assert_int_equal(parse(REG_HEAD MANDATORY "Authorization: Digest username=\"a\", realm=\"r\"\r\n" AUTH_TAIL),
			 SIP_PARSE_OK);
	assert_slice(msg.authorization[0].scheme, "Digest");
	assert_slice(msg.authorization[0].params, "username=\"a\", realm=\"r\"");
	assert_slice(msg.authorization[0].realm, "r");
	assert_slice(msg.other[0].name, "X-Tail");
	/* fold after a comma, trailing whitespace, tabs, bare LF line end */
	assert_int_equal(parse(REG_HEAD MANDATORY "Authorization: Digest username=\"a\",\r\n realm=\"r\"\r\n" AUTH_TAIL),
			 SIP_PARSE_OK);
	assert_slice(msg.authorization[0].realm, "r");
	assert_slice(msg.authorization[0].params, "username=\"a\",\r\n realm=\"r\"");
	assert_int_equal(parse(REG_HEAD MANDATORY "Authorization: Digest username=\"a\" \t\r\n" AUTH_TAIL), SIP_PARSE_OK);
	assert_slice(msg.authorization[0].params, "username=\"a\"");
	assert_int_equal(parse(REG_HEAD MANDATORY "Authorization:\tDigest\tusername=\"a\"\r\n" AUTH_TAIL), SIP_PARSE_OK);
	assert_slice(msg.authorization[0].username, "a");
	assert_int_equal(parse(REG_HEAD MANDATORY "Authorization: digest username=\"a\"\n" AUTH_TAIL), SIP_PARSE_OK);
	assert_slice(msg.authorization[0].scheme, "digest");
	assert_slice(msg.authorization[0].username, "a");
	assert_slice(msg.other[0].name, "X-Tail");
	/* the value folded onto the next line as a whole */
	assert_int_equal(parse(REG_HEAD MANDATORY "Authorization:\r\n Digest username=\"a\"\r\n" AUTH_TAIL), SIP_PARSE_OK);
	assert_slice(msg.authorization[0].username, "a");
	/* two lines, each its own credentials */
	assert_int_equal(parse(REG_HEAD MANDATORY "Authorization: Digest username=\"a\", realm=\"r1\"\r\n"
			       "Authorization: Digest username=\"b\", realm=\"r2\"\r\n" AUTH_TAIL),
			 SIP_PARSE_OK);
	assert_int_equal(msg.authorization_count, 2);
	assert_slice(msg.authorization[1].realm, "r2");
	/* bytes the line search rejects stay rejected */
	assert_int_equal(parse(REG_HEAD MANDATORY "Authorization: Digest username=\"a\"\r, realm=\"r\"\r\n" AUTH_TAIL),
			 SIP_PARSE_BARE_CR);
	assert_int_equal(parse(REG_HEAD MANDATORY "Authorization: Digest username=\"a\x01\"\r\n" AUTH_TAIL),
			 SIP_PARSE_BAD_AUTHORIZATION);
	assert_int_equal(parse(REG_HEAD MANDATORY "Authorization: Digest username=\"a\"\r\n"), SIP_PARSE_NO_END_OF_HEADERS);
	assert_int_equal(parse(REG_HEAD MANDATORY "Authorization: Digest username=\"a\" realm=\"r\"\r\n" AUTH_TAIL),
			 SIP_PARSE_BAD_AUTHORIZATION);
}

/* A Via or Contact value without ',' is one element (no element scan);
 * an unclosed quoted string or '<' in it, or in a Path value, is still
 * that header's error, also when the list is full. */
static void test_single_element_values_with_unclosed_quote_or_angle(void **state)
{
	(void)state;
	assert_int_equal(parse(REG_HEAD FROM TO CALLID CSEQ "Via: SIP/2.0/UDP h;x=\"abc\r\n\r\n"), SIP_PARSE_BAD_VIA);
	assert_int_equal(parse(REG_HEAD FROM TO CALLID CSEQ "Via: SIP/2.0/UDP h;x=<\r\n\r\n"), SIP_PARSE_BAD_VIA);
	assert_int_equal(parse(REG_HEAD FROM TO CALLID CSEQ "Via: SIP/2.0/UDP h;x=\"<\"\r\n\r\n"), SIP_PARSE_OK);
	assert_int_equal(parse(REG_HEAD MANDATORY "Contact: <sip:a@b\r\n\r\n"), SIP_PARSE_BAD_CONTACT);
	assert_int_equal(parse(REG_HEAD MANDATORY "Contact: <sip:a@b>;x=\"q\r\n\r\n"), SIP_PARSE_BAD_CONTACT);
	assert_int_equal(parse(REG_HEAD MANDATORY "Contact: sip:a@b;x=<\r\n\r\n"), SIP_PARSE_BAD_CONTACT);
	assert_int_equal(parse(REG_HEAD MANDATORY "Contact: \"a<b\" <sip:a@b>;x=\"<\"\r\n\r\n"), SIP_PARSE_OK);
	assert_slice(msg.contact[0].addr.display, "a<b");
	assert_int_equal(parse(REG_HEAD MANDATORY "Path: <sip:p@b;lr\r\n\r\n"), SIP_PARSE_BAD_PATH);
	/* Path's parameters are not parsed: the element scan rejects these */
	assert_int_equal(parse(REG_HEAD MANDATORY "Path: <sip:p@b>; 66.<6\r\n\r\n"), SIP_PARSE_BAD_PATH);
	assert_int_equal(parse(REG_HEAD MANDATORY "Path: <sip:p@b>;x=\"a\r\n\r\n"), SIP_PARSE_BAD_PATH);
	/* a full list: the element is checked before the count */
	char text[8192];
	size_t n = (size_t)snprintf(text, sizeof(text), "%s", REG_HEAD FROM TO CALLID CSEQ);
	for (int i = 0; i < SIP_MAX_VIAS; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "Via: SIP/2.0/UDP h%d\r\n", i);
	size_t full = n;
	snprintf(text + n, sizeof(text) - n, "Via: SIP/2.0/UDP h;x=\"abc\r\n\r\n");
	assert_int_equal(parse(text), SIP_PARSE_BAD_VIA);
	snprintf(text + full, sizeof(text) - full, "Via: SIP/2.0/UDP h\r\n\r\n");
	assert_int_equal(parse(text), SIP_PARSE_TOO_MANY_VIAS);
	n = (size_t)snprintf(text, sizeof(text), "%s", REG_HEAD MANDATORY);
	for (int i = 0; i < SIP_MAX_CONTACTS; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "Contact: <sip:c%d@h>\r\n", i);
	full = n;
	snprintf(text + n, sizeof(text) - n, "Contact: <sip:c@h\r\n\r\n");
	assert_int_equal(parse(text), SIP_PARSE_BAD_CONTACT);
	snprintf(text + full, sizeof(text) - full, "Contact: <sip:c@h>\r\n\r\n");
	assert_int_equal(parse(text), SIP_PARSE_TOO_MANY_CONTACTS);
}

/* nc's 8 hex digits are checked 16 bytes at a time only while 16 bytes
 * remain in the datagram: a body of 0..20 bytes after the head moves the
 * last directive across that bound. */
static void test_digest_nc_near_the_datagram_end(void **state)
{
	(void)state;
	for (int k = 0; k < 20; k++) {
		for (int bad = 0; bad < 2; bad++) {
			char body[32], text[1024];
			memset(body, 'b', (size_t)k);
			body[k] = '\0';
			int n = snprintf(text, sizeof(text),
					 REG_HEAD MANDATORY
					 "Authorization: Digest username=\"a\",  realm=\"r\", nc=%s\r\n\r\n%s",
					 bad ? "0000000x" : "0000000a", body);
			char *copy;
			assert_int_equal(parse_exact(text, (size_t)n, &copy),
					 bad ? SIP_PARSE_BAD_AUTHORIZATION : SIP_PARSE_OK);
			if (!bad) {
				assert_slice(msg.authorization[0].nc, "0000000a");
				assert_slice(msg.authorization[0].realm, "r");
				assert_int_equal(msg.body.len, (uint32_t)k);
			}
			free(copy);
		}
	}
}

static void assert_same_slice(struct sip_slice a, struct sip_slice b)
{
	assert_ptr_equal(a.ptr, b.ptr);
	assert_int_equal(a.len, b.len);
}

static void assert_same_uri(const struct sip_uri *a, const struct sip_uri *b)
{
	assert_same_slice(a->raw, b->raw);
	assert_int_equal(a->scheme, b->scheme);
	assert_same_slice(a->scheme_raw, b->scheme_raw);
	assert_same_slice(a->user, b->user);
	assert_same_slice(a->password, b->password);
	assert_same_slice(a->host, b->host);
	assert_int_equal(a->host_is_ipv6, b->host_is_ipv6);
	assert_int_equal(a->has_port, b->has_port);
	assert_int_equal(a->port, b->port);
	assert_same_slice(a->params, b->params);
	assert_same_slice(a->headers, b->headers);
	assert_same_slice(a->transport, b->transport);
}

static void assert_same_from_to(const struct sip_from_to *a, const struct sip_from_to *b)
{
	assert_int_equal(a->present, b->present);
	assert_same_slice(a->addr.display, b->addr.display);
	assert_int_equal(a->addr.display_quoted, b->addr.display_quoted);
	assert_same_uri(&a->addr.uri, &b->addr.uri);
	assert_same_slice(a->addr.params, b->addr.params);
	assert_same_slice(a->tag, b->tag);
}

/* sip_parse() does not clear From, To, the Request-URI and Via entries
 * first (a successful parse writes them whole): a struct full of stale
 * bytes, or of a previous message, gives the same fields as a zeroed
 * one. */
static void test_stale_struct_gives_the_same_fields(void **state)
{
	(void)state;
	static const char *const texts[] = {
		second_register,
		"REGISTER sips:u:pw@[2001:db8::1]:5061;transport=tls?h=v SIP/2.0\r\n" VIA
		"From: sip:alice@example.com;tag=x\r\nTo: \"A\" <sip:%61@example.com>\r\n" CALLID CSEQ "\r\n",
		"SIP/2.0 200 OK\r\n" VIA FROM TO CALLID "CSeq: 2 REGISTER\r\n\r\n",
		"REGISTER sip:example.com SIP/2.0\r\nVia: SIP / 2.0 / TCP [2001:db8::1]:5070;received=192.0.2.1;rport=5071,"
		" SIP/2.0/UDP h\r\n" FROM TO CALLID CSEQ "\r\n",
	};
	static struct sip_msg zeroed, stale;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		memset(&zeroed, 0, sizeof(zeroed));
		memset(&stale, 0xa5, sizeof(stale));
		assert_int_equal(sip_parse(texts[i], strlen(texts[i]), &zeroed), SIP_PARSE_OK);
		assert_int_equal(sip_parse(texts[i], strlen(texts[i]), &stale), SIP_PARSE_OK);
		assert_int_equal(stale.is_request, zeroed.is_request);
		assert_same_uri(&stale.request_uri, &zeroed.request_uri);
		assert_int_equal(stale.status_code, zeroed.status_code);
		assert_same_slice(stale.reason, zeroed.reason);
		assert_same_from_to(&stale.from, &zeroed.from);
		assert_same_from_to(&stale.to, &zeroed.to);
		assert_same_slice(stale.call_id, zeroed.call_id);
		assert_same_slice(stale.user_agent, zeroed.user_agent);
		assert_same_slice(stale.body, zeroed.body);
		assert_int_equal(stale.via_count, zeroed.via_count);
		for (int k = 0; k < zeroed.via_count; k++) {
			const struct sip_via *a = &stale.via[k], *b = &zeroed.via[k];
			assert_same_slice(a->protocol, b->protocol);
			assert_same_slice(a->version, b->version);
			assert_same_slice(a->transport, b->transport);
			assert_same_slice(a->host, b->host);
			assert_int_equal(a->host_is_ipv6, b->host_is_ipv6);
			assert_int_equal(a->has_port, b->has_port);
			assert_int_equal(a->port, b->port);
			assert_same_slice(a->branch, b->branch);
			assert_same_slice(a->received, b->received);
			assert_int_equal(a->has_rport, b->has_rport);
			assert_int_equal(a->rport_has_value, b->rport_has_value);
			assert_int_equal(a->rport, b->rport);
			assert_same_slice(a->params, b->params);
		}
	}
	/* a response after a request: no Request-URI left over */
	assert_int_equal(sip_parse(texts[0], strlen(texts[0]), &stale), SIP_PARSE_OK);
	assert_int_equal(sip_parse(texts[2], strlen(texts[2]), &stale), SIP_PARSE_OK);
	assert_int_equal(stale.status_code, 200);
	assert_null(stale.request_uri.raw.ptr);
	assert_null(stale.request_uri.host.ptr);
	assert_int_equal(stale.request_uri.scheme, SIP_SCHEME_NONE);
}

/* Ports of 1 to 5 digits are converted from one 16-byte digit search;
 * longer runs (leading zeros) and ports in the datagram's last 16 bytes
 * take the byte loop. Same rule everywhere: digits only, value <= 65535. */
static void test_ports_of_every_length_and_position(void **state)
{
	(void)state;
	static const struct {
		const char *port;
		bool ok;
		uint16_t value;
	} cases[] = {
		{ "5", true, 5 },          { "50", true, 50 },       { "5060", true, 5060 },
		{ "65535", true, 65535 },  { "65536", false, 0 },    { "99999", false, 0 },
		{ "05060", true, 5060 },   { "0005060", true, 5060 }, { "00000000000000000007", true, 7 },
		{ "", false, 0 },          { "5x", false, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int tail = 0; tail < 2; tail++) {
			char text[1024];
			/* tail 0: the Contact port is in the datagram's last 16 bytes */
			int n = snprintf(text, sizeof(text),
					 REG_HEAD "Via: SIP/2.0/UDP h:%s;branch=z9hG4bKx\r\n" FROM TO CALLID CSEQ
					 "%sContact: <sip:a@h:%s>\r\n\r\n",
					 cases[i].port, tail ? "X-Pad: 0123456789abcdef0123456789\r\n" : "", cases[i].port);
			char *copy;
			enum sip_parse_status st = parse_exact(text, (size_t)n, &copy);
			if (cases[i].ok) {
				assert_int_equal(st, SIP_PARSE_OK);
				assert_int_equal(msg.via[0].port, cases[i].value);
				assert_int_equal(msg.contact[0].addr.uri.port, cases[i].value);
				assert_true(msg.contact[0].addr.uri.has_port);
			} else {
				assert_int_equal(st, SIP_PARSE_BAD_VIA);
			}
			free(copy);
			/* the Contact alone */
			n = snprintf(text, sizeof(text), REG_HEAD MANDATORY "%sContact: <sip:a@h:%s>\r\n\r\n",
				     tail ? "X-Pad: 0123456789abcdef0123456789\r\n" : "", cases[i].port);
			st = parse_exact(text, (size_t)n, &copy);
			assert_int_equal(st, cases[i].ok ? SIP_PARSE_OK : SIP_PARSE_BAD_CONTACT);
			free(copy);
		}
	}
}

/* sip_ipv4_parse accepts exactly what inet_pton(AF_INET) accepts, with the
 * same result: listed edge cases, then random strings over digits, dots
 * and a letter. */
static void test_ipv4_parse_agrees_with_inet_pton(void **state)
{
	static const char *const cases[] = {
		"0.0.0.0", "255.255.255.255", "256.1.1.1", "1.2.3", "1.2.3.4.", ".1.2.3.4",
		"1..2.3", "01.2.3.4", "1.2.3.04", "1.2.3.0", "10.0.0.1", "1.2.3.4.5", "",
		"1.2.3.4a", "1.2.3.-4", "001.2.3.4", "198.18.255.9", "1.2.3.4 ", "111.2.3.", "1.2.3.255",
		"1.2.3.256", "1.2.3.1000", "99.2.3.4",
	};
	uint32_t seed = 7;
	char text[32];

	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]) + 200000; k++) {
		if (k < sizeof(cases) / sizeof(cases[0])) {
			strcpy(text, cases[k]);
		} else {
			seed = seed * 1103515245u + 12345u;
			size_t n = (seed >> 16) % 18;
			for (size_t i = 0; i < n; i++) {
				seed = seed * 1103515245u + 12345u;
				unsigned r = (seed >> 16) % 16;
				text[i] = r < 10 ? (char)('0' + r) : r < 15 ? '.' : 'a';
			}
			text[n] = '\0';
		}
		uint8_t ours[4] = { 9, 9, 9, 9 }, ref[4] = { 9, 9, 9, 9 };
		bool ok = sip_ipv4_parse((struct sip_slice){ text, (uint32_t)strlen(text) }, ours);
		bool ref_ok = inet_pton(AF_INET, text, ref) == 1;
		if (ok != ref_ok)
			fail_msg("\"%s\": ours %d, inet_pton %d", text, ok, ref_ok);
		if (ok)
			assert_memory_equal(ours, ref, 4);
		else
			assert_memory_equal(ours, "\x09\x09\x09\x09", 4);
	}
	assert_false(sip_ipv4_parse((struct sip_slice){ NULL, 0 }, (uint8_t[4]){ 0 }));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register_with_authorization_is_fully_decoded),
		cmocka_unit_test(test_every_slice_points_into_the_buffer),
		cmocka_unit_test(test_compact_form_v_is_via_and_others),
		cmocka_unit_test(test_header_names_are_case_insensitive),
		cmocka_unit_test(test_folded_header_value_is_one_value),
		cmocka_unit_test(test_from_to_and_cseq_keep_their_raw_value_on_one_line),
		cmocka_unit_test(test_via_keeps_its_sent_by_as_written_on_one_line),
		cmocka_unit_test(test_lws_around_colon_and_slash),
		cmocka_unit_test(test_comma_separated_and_repeated_via_are_one_list),
		cmocka_unit_test(test_contact_star_is_recognised),
		cmocka_unit_test(test_multiple_contacts_with_params),
		cmocka_unit_test(test_quoted_display_name_keeps_escapes),
		cmocka_unit_test(test_sips_request_uri_with_user_password_port_params),
		cmocka_unit_test(test_status_line_is_parsed),
		cmocka_unit_test(test_body_is_content_length_bytes),
		cmocka_unit_test(test_content_length_beyond_datagram_is_body_truncated),
		cmocka_unit_test(test_missing_mandatory_headers_are_named),
		cmocka_unit_test(test_duplicate_single_headers_are_rejected),
		cmocka_unit_test(test_cseq_method_must_match_request_method),
		cmocka_unit_test(test_cseq_number_must_be_below_2_pow_31),
		cmocka_unit_test(test_expires_above_2_pow_32_saturates),
		cmocka_unit_test(test_sip_version_other_than_2_0_is_bad_version),
		cmocka_unit_test(test_request_uri_with_space_is_rejected),
		cmocka_unit_test(test_unterminated_quote_in_from_is_bad_from),
		cmocka_unit_test(test_missing_empty_line_is_no_end_of_headers),
		cmocka_unit_test(test_header_without_colon_is_missing_colon),
		cmocka_unit_test(test_header_param_values_are_tokens_hosts_or_quoted),
		cmocka_unit_test(test_too_many_vias_is_a_distinct_status),
		cmocka_unit_test(test_too_many_contacts_is_a_distinct_status),
		cmocka_unit_test(test_too_many_other_headers_is_a_distinct_status),
		cmocka_unit_test(test_contact_q_above_one_is_bad_contact),
		cmocka_unit_test(test_nul_in_headers_is_rejected),
		cmocka_unit_test(test_escaped_nul_in_quoted_string_is_valid),
		cmocka_unit_test(test_empty_datagram_is_empty),
		cmocka_unit_test(test_every_status_has_a_reason_and_name),
		cmocka_unit_test(test_digest_directive_twice_is_bad_authorization),
		cmocka_unit_test(test_proxy_authorization_and_path_and_require),
		cmocka_unit_test(test_lf_only_line_ends_are_accepted),
		cmocka_unit_test(test_helpers),
		cmocka_unit_test(test_bare_cr_in_a_header_is_bare_cr),
		cmocka_unit_test(test_contact_star_with_another_contact_is_bad_contact),
		cmocka_unit_test(test_digest_nc_is_8_hex_digits),
		cmocka_unit_test(test_digest_quoted_directives_must_be_quoted),
		cmocka_unit_test(test_digest_directives_in_uncommon_spellings),
		cmocka_unit_test(test_authorization_line_forms),
		cmocka_unit_test(test_digest_nc_near_the_datagram_end),
		cmocka_unit_test(test_class_nibble_tables_match_the_class_table),
		cmocka_unit_test(test_token_runs_with_rare_characters_at_every_offset),
		cmocka_unit_test(test_uri_user_and_params_at_every_offset),
		cmocka_unit_test(test_single_element_values_with_unclosed_quote_or_angle),
		cmocka_unit_test(test_stale_struct_gives_the_same_fields),
		cmocka_unit_test(test_ports_of_every_length_and_position),
		cmocka_unit_test(test_other_auth_scheme_needs_auth_params),
		cmocka_unit_test(test_status_line_needs_sp_after_code),
		cmocka_unit_test(test_uri_escapes_headers_and_user_with_question_mark),
		cmocka_unit_test(test_param_without_value_after_equals_is_rejected),
		cmocka_unit_test(test_duplicate_content_type_is_rejected),
		cmocka_unit_test(test_control_character_in_quoted_string_is_rejected),
		cmocka_unit_test(test_fields_are_the_same_at_every_16_byte_alignment),
		cmocka_unit_test(test_bare_cr_and_nul_are_found_at_every_16_byte_alignment),
		cmocka_unit_test(test_message_cut_at_every_length_reads_only_the_datagram),
		cmocka_unit_test(test_uncommon_forms_of_fast_path_fields),
		cmocka_unit_test(test_ipv4_parse_agrees_with_inet_pton),
	};
	return cmocka_run_group_tests_name("parser", tests, NULL, NULL);
}
