/* Unit tests for dataplane/sip_response: the inline appends and the
 * decimal formatter every response goes through. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>

#include "sip_response.h"

/* Every length a copy can have, at every offset: exactly n bytes land,
 * nothing around them changes. */
static void test_copy_short_writes_exactly_n_bytes(void **state)
{
	char src[128], dst[160], want[160];

	(void)state;
	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (char)('A' + i % 50);
	for (size_t at = 0; at < 8; at++) {
		for (size_t n = 0; n <= 100; n++) {
			memset(dst, '.', sizeof(dst));
			memset(want, '.', sizeof(want));
			memcpy(want + at, src + at, n);
			copy_short(dst + at, src + at, n);
			assert_memory_equal(dst, want, sizeof(dst));
		}
	}
}

static void test_u32_formats_every_digit_count(void **state)
{
	static const struct { uint32_t v; const char *text; } cases[] = {
		{ 0, "0" }, { 7, "7" }, { 10, "10" }, { 99, "99" }, { 100, "100" }, { 101, "101" },
		{ 999, "999" }, { 1000, "1000" }, { 3600, "3600" }, { 65535, "65535" },
		{ 100000, "100000" }, { 1234567, "1234567" }, { 98765432, "98765432" },
		{ 999999999, "999999999" }, { 1000000000, "1000000000" }, { 4294967295u, "4294967295" },
	};
	char buf[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct response_writer w = { buf, sizeof(buf), 0, false };
		response_append(&w, "x", 1);
		response_append_u32(&w, cases[i].v);
		assert_false(w.overflow);
		assert_int_equal(w.len, 1 + strlen(cases[i].text));
		assert_memory_equal(buf + 1, cases[i].text, strlen(cases[i].text));
	}
	for (uint32_t v = 0; v < 200000; v += 7) {
		struct response_writer w = { buf, sizeof(buf), 0, false };
		char text[16];
		int n = snprintf(text, sizeof(text), "%u", v);
		response_append_u32(&w, v);
		assert_int_equal(w.len, (size_t)n);
		assert_memory_equal(buf, text, (size_t)n);
	}
}

/* What does not fit is not written, and nothing after it either. */
static void test_append_past_capacity_sets_overflow_and_writes_nothing(void **state)
{
	char buf[16];
	struct response_writer w = { buf, 10, 0, false };

	(void)state;
	memset(buf, '.', sizeof(buf));
	response_append(&w, "12345678", 8);
	response_append_u32(&w, 123);
	assert_true(w.overflow);
	assert_int_equal(w.len, 8);
	response_append(&w, "1", 1);
	assert_int_equal(w.len, 8);
	assert_memory_equal(buf + 8, "........", 8);
	assert_int_equal(response_finish(&w), -1);
}

/* The source address as inet_ntop writes it, for every octet value in
 * every position. */
static void test_source_ip_text_equals_inet_ntop(void **state)
{
	char buf[64], want[INET_ADDRSTRLEN];

	(void)state;
	for (unsigned v = 0; v < 256; v++) {
		struct sip_source src = { .ip_version = 4,
					  .addr = { (uint8_t)v, (uint8_t)(255 - v), (uint8_t)(v / 2),
						    (uint8_t)(v * 7) } };
		struct response_writer w = { buf, sizeof(buf), 0, false };
		response_append_source_ip(&w, &src);
		assert_non_null(inet_ntop(AF_INET, src.addr, want, sizeof(want)));
		assert_int_equal(w.len, strlen(want));
		assert_memory_equal(buf, want, w.len);
	}
}

/* A request without a To tag gets one made from its Call-ID: the same
 * for a retransmission, another for another Call-ID. */
static void test_to_tag_follows_the_call_id(void **state)
{
	static struct sip_msg msg;
	static char text[1024], out[2][2048];
	char tags[41][17];
	struct sip_source src = { .ip_version = 4, .addr = { 192, 0, 2, 1 }, .port = 5060 };

	(void)state;
	for (int i = 0; i <= 40; i++) {
		char call_id[64];
		memset(call_id, 'a', sizeof(call_id));
		call_id[i + 1] = '\0';
		call_id[i / 2] = 'b';
		int n = snprintf(text, sizeof(text),
				 "REGISTER sip:sipreg.test SIP/2.0\r\n"
				 "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n"
				 "From: <sip:u@sipreg.test>;tag=1\r\nTo: <sip:u@sipreg.test>\r\n"
				 "Call-ID: %s\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n", call_id);
		assert_int_equal(sip_parse(text, (size_t)n, &msg), SIP_PARSE_OK);
		for (int k = 0; k < 2; k++) {
			struct response_writer w;
			response_begin(&w, out[k], sizeof(out[k]), 200, "OK", &msg, &src);
			assert_true(response_finish(&w) > 0);
		}
		assert_string_equal(out[0], out[1]);
		const char *tag = strstr(out[0], "\r\nTo: <sip:u@sipreg.test>;tag=");
		assert_non_null(tag);
		tag += strlen("\r\nTo: <sip:u@sipreg.test>;tag=");
		assert_int_equal(strspn(tag, "0123456789abcdef"), 16);
		memcpy(tags[i], tag, 16);
		tags[i][16] = '\0';
		for (int j = 0; j < i; j++)
			assert_string_not_equal(tags[i], tags[j]);
	}
}

/* Parses text into msg and writes the response to it into out (cap
 * bytes, NUL-terminated); returns its length. text must outlive msg. */
static int respond_to(const char *text, struct sip_msg *msg, char *out, size_t cap, unsigned code,
		      const char *reason, const struct sip_source *src)
{
	struct response_writer w;
	int n;

	assert_int_equal(sip_parse(text, strlen(text), msg), SIP_PARSE_OK);
	response_begin(&w, out, cap - 1, code, reason, msg, src);
	n = response_finish(&w);
	assert_true(n > 0);
	out[n] = '\0';
	return n;
}

/* The status line carries the code's three digits; From, To and CSeq are
 * echoed as the request wrote them, or rebuilt from their parts when the
 * request folded them over lines. */
static void test_dialog_headers_are_echoed_as_written(void **state)
{
	static struct sip_msg msg;
	static char out[2048];
	static const struct { const char *head, *want; } cases[] = {
		{ "From:  \"U \\\"q\" <sip:u@sipreg.test> ;tag=1\r\nTo: sip:u@sipreg.test;x=y\r\n"
		  "CSeq: 12  REGISTER\r\n",
		  "From: \"U \\\"q\" <sip:u@sipreg.test> ;tag=1\r\nTo: sip:u@sipreg.test;x=y;tag=" },
		{ "From: <sip:u@sipreg.test>\r\n ;tag=1\r\nTo: <sip:u@sipreg.test>;tag=2\r\n"
		  "CSeq: 12\r\n REGISTER\r\n",
		  "From: <sip:u@sipreg.test>;tag=1\r\nTo: <sip:u@sipreg.test>;tag=2\r\n" },
	};
	struct sip_source src = { .ip_version = 4, .addr = { 192, 0, 2, 1 }, .port = 5060 };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[1024];
		snprintf(text, sizeof(text),
			 "REGISTER sip:sipreg.test SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n%s"
			 "Call-ID: c1\r\nContent-Length: 0\r\n\r\n", cases[i].head);
		respond_to(text, &msg, out, sizeof(out), 423, "Interval Too Brief", &src);
		assert_memory_equal(out, "SIP/2.0 423 Interval Too Brief\r\n", 32);
		assert_non_null(strstr(out, cases[i].want));
		assert_non_null(strstr(out, i == 0 ? "\r\nCSeq: 12  REGISTER\r\n" : "\r\nCSeq: 12 REGISTER\r\n"));
	}
}

/* The top Via is echoed with its sent-by as written and received= and
 * rport= added; a folded one is rebuilt from its parts. */
static void test_top_via_is_echoed_as_written(void **state)
{
	static struct sip_msg msg;
	static char out[2048];
	static const struct { const char *via, *want; } cases[] = {
		{ "Via: SIP/2.0/UDP  192.0.2.1:5062;branch=z9hG4bK1;rport\r\n",
		  "\r\nVia: SIP/2.0/UDP  192.0.2.1:5062;branch=z9hG4bK1;rport=5060;received=192.0.2.7\r\n" },
		{ "Via: SIP/2.0/UDP\r\n 192.0.2.1:5062;branch=z9hG4bK1\r\n",
		  "\r\nVia: SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bK1;received=192.0.2.7\r\n" },
	};
	struct sip_source src = { .ip_version = 4, .addr = { 192, 0, 2, 7 }, .port = 5060 };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[1024];
		snprintf(text, sizeof(text),
			 "REGISTER sip:sipreg.test SIP/2.0\r\n%s"
			 "From: <sip:u@sipreg.test>;tag=1\r\nTo: <sip:u@sipreg.test>\r\n"
			 "CSeq: 1 REGISTER\r\nCall-ID: c1\r\nContent-Length: 0\r\n\r\n", cases[i].via);
		respond_to(text, &msg, out, sizeof(out), 200, "OK", &src);
		if (strstr(out, cases[i].want) == NULL)
			fail_msg("case %zu: %s", i, out);
	}
}

/* The usual request's head (one Via) is written by a shortcut: it must be
 * byte for byte what the general code writes. The general code's answer
 * to the same request with a second Via, that Via's line taken out, is the
 * reference. */
static void test_one_via_head_equals_the_general_code(void **state)
{
	static struct sip_msg one, two;
	static char out1[2048], out2[2048];
	static const char *const vias[] = {
		"Via: SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bK1;rport\r\n",
		"Via: SIP/2.0/UDP 192.0.2.1:5062;rport;branch=z9hG4bK1\r\n",
		"Via: SIP/2.0/UDP  host.example ;branch=z9hG4bK1\r\n",
		"Via: SIP/2.0/TCP [2001:db8::1]:5070;branch=z9hG4bK1;RPORT;x=\"y\"\r\n",
		"Via: SIP/2.0/UDP 192.0.2.1\r\n",
	};
	static const char *const tos[] = { "To: <sip:u@sipreg.test>\r\n", "t: \"U\" <sip:u@sipreg.test>;tag=abc\r\n" };
	static const char second[] = "Via: SIP/2.0/UDP 198.51.100.9;branch=z9hG4bK2\r\n";
	struct sip_source src = { .ip_version = 4, .addr = { 203, 0, 113, 250 }, .port = 65001 };

	(void)state;
	for (size_t v = 0; v < sizeof(vias) / sizeof(vias[0]); v++)
		for (size_t t = 0; t < 2; t++) {
			char text[1024], text2[1024];   /* each message's slices point into its text */
			const char *rest = "From: <sip:u@sipreg.test>;tag=1\r\nCSeq: 4  REGISTER\r\n"
					   "Call-ID: a-very-long-call-id-0123456789@198.18.0.1\r\n"
					   "Content-Length: 0\r\n\r\n";
			snprintf(text, sizeof(text), "REGISTER sip:sipreg.test SIP/2.0\r\n%s%s%s", vias[v], tos[t],
				 rest);
			snprintf(text2, sizeof(text2), "REGISTER sip:sipreg.test SIP/2.0\r\n%s%s%s%s", vias[v],
				 second, tos[t], rest);
			respond_to(text, &one, out1, sizeof(out1), 401, "Unauthorized", &src);
			respond_to(text2, &two, out2, sizeof(out2), 401, "Unauthorized", &src);
			char *line = strstr(out2, second);
			assert_non_null(line);
			memmove(line, line + strlen(second), strlen(line + strlen(second)) + 1);
			assert_string_equal(out1, out2);
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_copy_short_writes_exactly_n_bytes),
		cmocka_unit_test(test_u32_formats_every_digit_count),
		cmocka_unit_test(test_append_past_capacity_sets_overflow_and_writes_nothing),
		cmocka_unit_test(test_source_ip_text_equals_inet_ntop),
		cmocka_unit_test(test_to_tag_follows_the_call_id),
		cmocka_unit_test(test_dialog_headers_are_echoed_as_written),
		cmocka_unit_test(test_top_via_is_echoed_as_written),
		cmocka_unit_test(test_one_via_head_equals_the_general_code),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
