/* Tests of hex.h: hex digits of bytes and 8 hex digits back to a number. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hex.h"

static int digit_value(unsigned char c, bool lower_only)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (!lower_only && c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Every byte value at every position, in both modes, against a reference
 * decoder; a refused input leaves *out as it was. */
static void test_hex_decode8_takes_hex_digits_only(void **state)
{
	(void)state;
	for (int lower_only = 0; lower_only <= 1; lower_only++)
		for (unsigned pos = 0; pos < 8; pos++)
			for (unsigned c = 0; c < 256; c++) {
				char text[8];
				uint32_t got = 0xdeadbeef, want = 0;
				bool ok = true;

				memcpy(text, "7f3A09bE", 8);
				if (lower_only)
					memcpy(text, "7f3a09be", 8);
				text[pos] = (char)c;
				for (unsigned i = 0; i < 8; i++) {
					int d = digit_value((unsigned char)text[i], lower_only);
					ok = ok && d >= 0;
					want = want << 4 | (uint32_t)(d & 15);
				}
				bool res = hex_decode8(text, lower_only, &got);
				if (res != ok)
					fail_msg("byte 0x%02x at %u, lower_only %d: %d, want %d", c, pos,
						 lower_only, res, ok);
				assert_int_equal(got, ok ? want : 0xdeadbeef);
			}
}

static void test_hex_encode_gives_lower_case_digits(void **state)
{
	uint8_t bytes[40];
	char out[80], want[81];

	(void)state;
	for (size_t i = 0; i < sizeof(bytes); i++)
		bytes[i] = (uint8_t)(i * 37 + 11);
	for (size_t n = 0; n <= sizeof(bytes); n++) {
		memset(out, '#', sizeof(out));
		hex_encode(bytes, n, out);
		for (size_t i = 0; i < n; i++)
			snprintf(want + 2 * i, 3, "%02x", bytes[i]);
		assert_memory_equal(out, want, 2 * n);
		if (2 * n < sizeof(out))
			assert_int_equal(out[2 * n], '#');
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hex_decode8_takes_hex_digits_only),
		cmocka_unit_test(test_hex_encode_gives_lower_case_digits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
