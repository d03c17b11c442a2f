/*
 * tests/control/test_encoding.c - the admin API's text encoders and request
 * parsing without any store: RFC 4180 CSV fields, JSON strings of arbitrary
 * SIP octets, IP filters (exact, CIDR, wildcard), request and filter
 * validation, policy validation.
 */
#include <stdarg.h>
#include <sys/socket.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "admin.h"
#include "outbuf.h"
#include "policy.h"
#include "query.h"

static char *csv(const char *s)
{
	static char buf[256];
	struct outbuf o = { 0 };

	outbuf_csv_field(&o, s, strlen(s));
	snprintf(buf, sizeof(buf), "%.*s", (int)o.len, o.data);
	outbuf_free(&o);
	return buf;
}

static void test_csv_plain_field_is_not_quoted(void **state)
{
	(void)state;
	assert_string_equal(csv("sip:1001@sipreg.test"), "sip:1001@sipreg.test");
	assert_string_equal(csv(""), "");
}

static void test_csv_rfc4180_quotes_comma_quote_and_line_breaks(void **state)
{
	(void)state;
	assert_string_equal(csv("a,b"), "\"a,b\"");
	assert_string_equal(csv("say \"hi\""), "\"say \"\"hi\"\"\"");
	assert_string_equal(csv("x\r\ny"), "\"x\r\ny\"");
	assert_string_equal(csv("\""), "\"\"\"\"");
	assert_string_equal(csv(" lead"), "\" lead\"");
}

static char *jstr(const char *s, size_t n)
{
	static char buf[256];
	struct outbuf o = { 0 };

	outbuf_json_string(&o, s, n);
	snprintf(buf, sizeof(buf), "%.*s", (int)o.len, o.data);
	outbuf_free(&o);
	return buf;
}

static void test_json_string_escapes_and_stays_valid_for_any_octets(void **state)
{
	(void)state;
	assert_string_equal(jstr("a\"b\\c", 5), "\"a\\\"b\\\\c\"");
	assert_string_equal(jstr("\x01\n", 2), "\"\\u0001\\u000a\"");
	assert_string_equal(jstr("caf\xc3\xa9", 5), "\"caf\xc3\xa9\"");          /* UTF-8 kept */
	assert_string_equal(jstr("\xff\xc3", 2), "\"\\u00ff\\u00c3\"");         /* not UTF-8 */
	assert_string_equal(jstr("a\0b", 3), "\"a\\u0000b\"");
	/* whatever the bytes, jansson reads the result back */
	char bytes[256];
	for (int i = 0; i < 256; i++)
		bytes[i] = (char)i;
	struct outbuf o = { 0 };
	json_error_t e;
	outbuf_json_string(&o, bytes, sizeof(bytes));
	json_t *v = json_loadb(o.data, o.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
	assert_non_null(v);
	assert_int_equal(json_string_length(v), 256 + 128);   /* 0x80.. as 2-byte UTF-8 */
	json_decref(v);
	outbuf_free(&o);
}

static void test_iso_time_matches_gmtime(void **state)
{
	static const int64_t times[] = { 1, 59, 86399, 86400, 951782400 /* 2000-02-29 */,
					 1795706297, 4102444799 /* 2099-12-31T23:59:59 */,
					 253402300799 /* 9999-12-31T23:59:59 */ };

	(void)state;
	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		struct outbuf o = { 0 };
		char want[32];
		time_t t = (time_t)times[i];
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%SZ", &tm);
		outbuf_iso_time(&o, times[i]);
		assert_int_equal(o.len, 20);
		assert_memory_equal(o.data, want, 20);
		outbuf_free(&o);
	}
	for (int64_t t = 1700000000; t < 1700000000 + 400 * 86400; t += 86400 + 3607) {
		struct outbuf o = { 0 };
		char want[32];
		time_t tt = (time_t)t;
		struct tm tm;

		gmtime_r(&tt, &tm);
		strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%SZ", &tm);
		outbuf_iso_time(&o, t);
		assert_memory_equal(o.data, want, 20);
		outbuf_free(&o);
	}
}

static void test_ip_filter_exact_cidr_and_wildcard(void **state)
{
	struct store_cidr c;
	uint8_t a[4] = { 192, 168, 1, 77 }, b[4] = { 192, 168, 2, 1 };

	(void)state;
	assert_int_equal(query_ip_filter_parse("192.168.1.x", &c), 0);
	assert_int_equal(c.prefix_len, 24);
	assert_true(store_cidr_contains(&c, AF_INET, a, 0, false));
	assert_false(store_cidr_contains(&c, AF_INET, b, 0, false));
	assert_int_equal(query_ip_filter_parse("10.x.x.x", &c), 0);
	assert_int_equal(c.prefix_len, 8);
	assert_int_equal(query_ip_filter_parse("x.x.x.x", &c), 0);
	assert_int_equal(c.prefix_len, 0);
	assert_int_equal(query_ip_filter_parse("192.168.1.77", &c), 0);
	assert_int_equal(c.prefix_len, 32);
	assert_int_equal(query_ip_filter_parse("192.168.0.0/16", &c), 0);
	assert_true(store_cidr_contains(&c, AF_INET, b, 0, false));
	assert_int_equal(query_ip_filter_parse("2001:db8::/32", &c), 0);
	assert_int_equal(c.family, AF_INET6);
	/* wildcards only at the end; no ports; octets in range */
	assert_int_equal(query_ip_filter_parse("10.x.1.x", &c), -1);
	assert_int_equal(query_ip_filter_parse("300.1.1.x", &c), -1);
	assert_int_equal(query_ip_filter_parse("10.1.1", &c), -1);
	assert_int_equal(query_ip_filter_parse("10.1.1.1:5060", &c), -1);
	assert_int_equal(query_ip_filter_parse("10.1.1.x.x", &c), -1);
	assert_int_equal(query_ip_filter_parse("", &c), -1);
}

static int options(const char *json, struct query_options *q, char *err)
{
	json_error_t e;
	json_t *req = json_loads(json, 0, &e);
	int rc;

	assert_non_null(req);
	rc = query_options_from_json(req, q, err, 256);
	json_decref(req);
	return rc;
}

static void test_list_options_combine_and_default(void **state)
{
	struct query_options q;
	char err[256];

	(void)state;
	assert_int_equal(options("{}", &q, err), 0);
	assert_int_equal(q.sort, QCOL_AOR);
	assert_int_equal(q.limit, QUERY_DEFAULT_LIMIT);
	assert_int_equal(q.filter.status_mask, 0);
	assert_int_equal(options("{\"aor_prefix\":\"sip:10\",\"ip\":\"10.0.0.x\",\"account\":\"acme\","
				 "\"user_agent\":\"Yealink\",\"status\":\"registered,expiring\","
				 "\"sort\":\"refreshed_at\",\"desc\":true,\"offset\":5,\"limit\":7,"
				 "\"count\":false}", &q, err), 0);
	assert_string_equal(q.filter.aor_prefix, "sip:10");
	assert_true(q.filter.has_ip);
	assert_int_equal(q.filter.status_mask, (1u << QSTATUS_REGISTERED) | (1u << QSTATUS_EXPIRING));
	assert_int_equal(q.sort, QCOL_REFRESHED_AT);
	assert_true(q.desc);
	assert_int_equal(q.offset, 5);
	assert_int_equal(q.limit, 7);
	assert_int_equal(options("{\"status\":[\"unregistered\"]}", &q, err), 0);
	assert_int_equal(q.filter.status_mask, 1u << QSTATUS_UNREGISTERED);
}

static void test_list_options_errors_name_the_field(void **state)
{
	static const struct { const char *req, *field; } bad[] = {
		{ "{\"limit\":\"ten\"}", "limit" },
		{ "{\"limit\":-1}", "limit" },
		{ "{\"limit\":10001}", "limit" },
		{ "{\"offset\":1.5}", "offset" },
		{ "{\"offset\":199000,\"limit\":5000}", "offset + limit" },
		{ "{\"ip\":\"1.2.3.999\"}", "ip" },
		{ "{\"ip\":5}", "ip" },
		{ "{\"aor\":[]}", "aor" },
		{ "{\"status\":\"gone\"}", "status" },
		{ "{\"status\":\"\"}", "status" },
		{ "{\"status\":[]}", "status" },
		{ "{\"sort\":\"password\"}", "sort" },
		{ "{\"desc\":1}", "desc" },
		{ "{\"count\":\"yes\"}", "count" },
	};
	struct query_options q;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(options(bad[i].req, &q, err), -1);
		assert_non_null(strstr(err, bad[i].field));
	}
}

static void test_request_parse_needs_object_with_known_cmd(void **state)
{
	static const char *bad[] = {
		"", "not json", "[1]", "\"list\"", "{}", "{\"cmd\":1}", "{\"cmd\":\"drop_tables\"}",
		"{\"cmd\":\"list\",\"cmd\":\"list\"}", "{\"cmd\":\"list\"} trailing",
	};
	const char *cmd;
	char err[512];
	json_t *req;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		req = admin_request_parse(bad[i], strlen(bad[i]), &cmd, err, sizeof(err));
		assert_null(req);
		assert_true(err[0] != '\0');
	}
	req = admin_request_parse("{\"cmd\":\"list\",\"ip\":\"10.x.x.x\"}", 30, &cmd, err, sizeof(err));
	assert_non_null(req);
	assert_string_equal(cmd, "list");
	assert_int_equal(admin_request_validate(req, cmd, "sipreg.test", err, sizeof(err)), 0);
	json_decref(req);
}

static json_t *policy_set(const char *set_json, json_t **changes, char *err)
{
	json_error_t e;
	json_t *set = json_loads(set_json, 0, &e), *def = policy_defaults();
	json_t *p = policy_apply_set(def, set, changes, err, 256);

	json_decref(set);
	json_decref(def);
	return p;
}

static void test_policy_set_validates_every_value(void **state)
{
	json_t *changes, *p;
	char err[256];

	(void)state;
	p = policy_set("{\"register_replace\":\"off\",\"max_bindings\":1}", &changes, err);
	assert_non_null(p);
	assert_string_equal(json_string_value(json_object_get(p, "register_replace")), "off");
	assert_int_equal(json_object_size(changes), 2);
	json_decref(p);
	json_decref(changes);
	static const char *bad[] = {
		"{\"max_bindings\":0}", "{\"max_bindings\":33}", "{\"max_bindings\":\"2\"}",
		"{\"register_replace\":\"maybe\"}", "{\"respond_unknown\":1}", "{\"nope\":1}", "{}",
		"[]", "{\"min_expires_s\":9000}", "{\"default_expires_s\":30}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_null(policy_set(bad[i], &changes, err));
		assert_true(err[0] != '\0');
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csv_plain_field_is_not_quoted),
		cmocka_unit_test(test_csv_rfc4180_quotes_comma_quote_and_line_breaks),
		cmocka_unit_test(test_json_string_escapes_and_stays_valid_for_any_octets),
		cmocka_unit_test(test_iso_time_matches_gmtime),
		cmocka_unit_test(test_ip_filter_exact_cidr_and_wildcard),
		cmocka_unit_test(test_list_options_combine_and_default),
		cmocka_unit_test(test_list_options_errors_name_the_field),
		cmocka_unit_test(test_request_parse_needs_object_with_known_cmd),
		cmocka_unit_test(test_policy_set_validates_every_value),
	};

	return cmocka_run_group_tests_name("control-encoding", tests, NULL, NULL);
}
