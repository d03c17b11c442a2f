/* Unit tests for dataplane/sip_response: the inline appends and the
 * decimal formatter every response goes through. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "sip_response.h"

/* Every length a copy can have, at every offset: exactly n bytes land,
 * nothing around them changes. */
static void test_copy_writes_exactly_n_bytes(void **state)
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
			response_copy(dst + at, src + at, n);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_copy_writes_exactly_n_bytes),
		cmocka_unit_test(test_u32_formats_every_digit_count),
		cmocka_unit_test(test_append_past_capacity_sets_overflow_and_writes_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
