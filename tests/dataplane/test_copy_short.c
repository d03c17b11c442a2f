/* Tests of copy_short.h: the inline copies of the packet path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "copy_short.h"

static char lower_reference(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c + ('a' - 'A')) : c;
}

/* Every byte value in every lane of the word, beside every other value
 * in the next lane (a carry would show there). */
static void test_lower_ascii_word_lowers_capitals_only(void **state)
{
	(void)state;
	for (unsigned lane = 0; lane < 8; lane++)
		for (unsigned c = 0; c < 256; c++)
			for (unsigned next = 0; next < 256; next += 5) {
				unsigned char in[8], want[8];
				uint64_t w;
				for (unsigned i = 0; i < 8; i++)
					in[i] = (unsigned char)(0x41 + i * 7);
				in[lane] = (unsigned char)c;
				in[(lane + 1) % 8] = (unsigned char)next;
				for (unsigned i = 0; i < 8; i++)
					want[i] = (unsigned char)lower_reference((char)in[i]);
				memcpy(&w, in, 8);
				w = lower_ascii_word(w);
				assert_memory_equal(&w, want, 8);
			}
}

static void test_copy_lower_ascii_every_length(void **state)
{
	const char *text = "SIP.Example-HOST.Test.ABCDEFGHIJKLMNOPQRSTUVWXYZ@[]`{z}\x80\xc1\xda";
	size_t len = strlen(text);

	(void)state;
	for (size_t n = 0; n <= len; n++) {
		char out[80], want[80];
		memset(out, '#', sizeof(out));
		memset(want, '#', sizeof(want));
		for (size_t i = 0; i < n; i++)
			want[i] = lower_reference(text[i]);
		copy_lower_ascii(out, text, n);
		assert_memory_equal(out, want, sizeof(out));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lower_ascii_word_lowers_capitals_only),
		cmocka_unit_test(test_copy_lower_ascii_every_length),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
