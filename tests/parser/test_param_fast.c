/* sip_lex.h's parameter scanner takes ";name=value" without whitespace in
 * one load (the fast path); for every input it must give what the general
 * rules give (param_general.c, the same code without the fast path):
 * random parameter lists of every shape, cut at every length, with the
 * datagram going on past the end (so the fast path may load there) and
 * ending right at it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "param_general.h"
#include "sip_lex.h"

static uint32_t rng = 12345;

static uint32_t next_random(void)
{
	rng = rng * 1103515245u + 12345u;
	return rng >> 8;
}

static const char *const pieces[] = {
	";", ";", ";", "=", "=", "tag", "branch", "z9hG4bK776asdhds", "rport", "lr", "x", "reg-id",
	"+sip.instance", "1", "12345", "deadbeef0123456789abcdef", "\"<urn:uuid:00000000-0000-1000>\"",
	"\"a\\\"b\"", "\"\"", "\"open", " ", "\t", "\r\n ", ",", "<", ">", "[::1]", "a:b", "/", "(", "%41",
	"@", "&", "$", "\x01", "\x80", "~", "*",
};

static const char *const names[] = { "tag", "lr", "x", "branch", "+sip.instance", "reg-id", "expires",
				     "received", "a-very-long-parameter-name" };
static const char *const values[] = { "1", "0a1b2c3d", "z9hG4bK776asdhds", "192.0.2.1", "[2001:db8::1]",
				      "\"<urn:uuid:00000000-0000-1000-8000-00000000abcd>\"", "\"\"", "a/b",
				      "0123456789abcdef0123456789" };

/* Appends text to buf (length *len, room cap). */
static void put(char *buf, size_t *len, size_t cap, const char *text)
{
	size_t k = strlen(text);

	if (*len + k < cap) {
		memcpy(buf + *len, text, k);
		*len += k;
	}
}

/* Builds a random parameter list into buf; returns its length. Half of
 * them well formed (";name" or ";name=value", at times a stray piece),
 * half any sequence of pieces. */
static size_t random_params(char *buf, size_t cap)
{
	size_t len = 0;
	unsigned n = 1 + next_random() % 12;

	if (next_random() & 1) {
		for (unsigned i = 0; i < n; i++) {
			put(buf, &len, cap, ";");
			put(buf, &len, cap, names[next_random() % (sizeof(names) / sizeof(names[0]))]);
			if (next_random() % 4 != 0) {
				put(buf, &len, cap, "=");
				put(buf, &len, cap, values[next_random() % (sizeof(values) / sizeof(values[0]))]);
			}
			if (next_random() % 8 == 0)
				put(buf, &len, cap, pieces[next_random() % (sizeof(pieces) / sizeof(pieces[0]))]);
		}
		return len;
	}
	for (unsigned i = 0; i < n; i++) {
		const char *p = pieces[next_random() % (sizeof(pieces) / sizeof(pieces[0]))];
		size_t k = strlen(p);
		if (len + k >= cap)
			break;
		memcpy(buf + len, p, k);
		len += k;
	}
	return len;
}

/* Walks [buf, end) as a caller does, with both scanners side by side. */
static void compare_walk(const char *buf, const char *end, const char *lim, uint8_t cls)
{
	const char *a = buf, *b = buf;

	for (int step = 0; step < 64 && a < end; step++) {
		struct sip_slice na = { 0 }, va = { 0 }, nb = { 0 }, vb = { 0 };
		bool ok_a = sip_param_next_cls_lim(&a, end, lim, &na, &va, cls);
		bool ok_b = general_param_next(&b, end, lim, &nb, &vb, cls);
		if (ok_a != ok_b)
			fail_msg("\"%.*s\": fast %d, general %d", (int)(end - buf), buf, ok_a, ok_b);
		if (!ok_a)
			return;
		if (a != b || na.ptr != nb.ptr || na.len != nb.len || va.ptr != vb.ptr || va.len != vb.len)
			fail_msg("\"%.*s\": fields differ", (int)(end - buf), buf);
	}
}

static void test_fast_path_equals_general_rules(void **state)
{
	static const uint8_t classes[] = { SIP_CC2_PARAM_VALUE, SIP_CC2_GEN_VALUE };
	char buf[256 + 64];
	(void)state;
	for (int round = 0; round < 20000; round++) {
		size_t len = random_params(buf, 256);
		/* what follows the end: more parameter text, or line end */
		for (size_t i = len; i < sizeof(buf); i++)
			buf[i] = (next_random() & 1) ? "ab=;\r\n\"1"[next_random() % 8] : 'x';
		for (size_t cut = 0; cut <= len; cut++)
			for (unsigned c = 0; c < 2; c++) {
				compare_walk(buf, buf + cut, buf + sizeof(buf), classes[c]);
				compare_walk(buf, buf + cut, buf + cut, classes[c]);
			}
	}
}

/* The forms the fast path takes, with their exact fields. */
static void test_usual_parameters(void **state)
{
	static char text[] = ";tag=0a1b2c3d;lr;+sip.instance=\"<urn:x>\";branch=z9hG4bK0123456789abcdef9\r\n"
			     "0123456789abcdef";
	const char *end = strchr(text, '\r'), *p = text;
	struct sip_slice n, v;
	(void)state;
	assert_true(sip_param_next_cls_lim(&p, end, text + sizeof(text) - 1, &n, &v, SIP_CC2_GEN_VALUE));
	assert_int_equal(n.len, 3);
	assert_memory_equal(v.ptr, "0a1b2c3d", 8);
	assert_true(sip_param_next_cls_lim(&p, end, text + sizeof(text) - 1, &n, &v, SIP_CC2_GEN_VALUE));
	assert_int_equal(n.len, 2);
	assert_null(v.ptr);
	assert_true(sip_param_next_cls_lim(&p, end, text + sizeof(text) - 1, &n, &v, SIP_CC2_GEN_VALUE));
	assert_int_equal(n.len, 13);
	assert_int_equal(v.len, 7);
	assert_memory_equal(v.ptr, "<urn:x>", 7);
	assert_true(sip_param_next_cls_lim(&p, end, text + sizeof(text) - 1, &n, &v, SIP_CC2_GEN_VALUE));
	assert_int_equal(v.len, 24);
	assert_ptr_equal(p, end);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fast_path_equals_general_rules),
		cmocka_unit_test(test_usual_parameters),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
