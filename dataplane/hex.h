/* hex.h — lower-case hex digits of bytes, for the packet path: nonce MACs
 * and digests (digest.c), the To tag (sip_response.c); and 8 hex digits
 * back to a number (a nonce's time, a Digest nc).
 *
 * Sixteen bytes at a time with SSSE3 (every CPU DPDK 22.11 runs on has
 * SSE4.2), written as two 16-byte stores: byte by byte, a reader that
 * loads the digits 8 or 16 at a time (the nonce memo, the response text,
 * the constant-time compare) waited for the 32 single-byte stores to
 * reach the cache first (a store-forwarding stall: +20 % on the 401 path
 * of perf/bench-pipeline once the nonce memo copied the nonce). */
#ifndef SIPREG_HEX_H
#define SIPREG_HEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

/* The hex digits of the bytes of v: those of the first 8 bytes in *low,
 * those of the last 8 in *high, in order. */
__attribute__((target("ssse3")))
static inline void hex_digits16(__m128i v, __m128i *low, __m128i *high)
{
	const __m128i digits = _mm_setr_epi8('0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a',
					     'b', 'c', 'd', 'e', 'f');
	const __m128i nibble = _mm_set1_epi8(0x0f);
	__m128i hi = _mm_shuffle_epi8(digits, _mm_and_si128(_mm_srli_epi16(v, 4), nibble));
	__m128i lo = _mm_shuffle_epi8(digits, _mm_and_si128(v, nibble));

	*low = _mm_unpacklo_epi8(hi, lo);
	*high = _mm_unpackhi_epi8(hi, lo);
}

__attribute__((target("ssse3")))
static inline void hex_encode16(const uint8_t *in, char *out)
{
	__m128i low, high;

	hex_digits16(_mm_loadu_si128((const __m128i *)(const void *)in), &low, &high);
	_mm_storeu_si128((__m128i *)(void *)out, low);
	_mm_storeu_si128((__m128i *)(void *)(out + 16), high);
}

/* hex_encode16 for 8 bytes: one 16-byte store. */
__attribute__((target("ssse3")))
static inline void hex_encode8(const uint8_t *in, char *out)
{
	__m128i low, high;

	hex_digits16(_mm_loadl_epi64((const __m128i *)(const void *)in), &low, &high);
	(void)high;
	_mm_storeu_si128((__m128i *)(void *)out, low);
}
#endif

/* Writes the 2n hex digits of in[0..n) to out (not NUL-terminated): 16
 * and then 8 bytes a step, the rest a pair of digits per table load. The
 * To tag's 8 bytes cost ~65 instructions a response by the table, ~10 in
 * one step (callgrind, perf/bench-pipeline). */
static inline void hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char pairs[] =
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
		"202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
		"404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
		"606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
		"808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
		"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
		"c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
		"e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

#if defined(__x86_64__)
	for (; n >= 16; in += 16, out += 32, n -= 16)
		hex_encode16(in, out);
	if (n >= 8) {
		hex_encode8(in, out);
		in += 8;
		out += 16;
		n -= 8;
	}
#endif
	for (size_t i = 0; i < n; i++)
		memcpy(out + 2 * i, pairs + 2 * in[i], 2);
}

/* The value of the 8 hex digits at p (the first most significant) into
 * *out. Returns false, *out untouched, when one is not a hex digit, or is
 * a capital letter and lower_only is set (our nonces are written in lower
 * case; a Digest nc may be in either). The eight bytes as one word: digit
 * by digit it was ~140 instructions (callgrind, perf/bench-pipeline). */
static inline bool hex_decode8(const char *p, bool lower_only, uint32_t *out)
{
	const uint64_t ones = 0x0101010101010101ULL, top = 0x8080808080808080ULL;
	uint64_t w;

	memcpy(&w, p, 8);
	if (w & top)
		return false;
	/* a byte b (below 0x80) is in [lo, hi] when b + 0x80 - lo has its top
	 * bit set and b + 0x7f - hi has not; no sum carries into the next byte */
	uint64_t digit = (w + (0x80 - '0') * ones) & ~(w + (0x7f - '9') * ones);
	uint64_t folded = lower_only ? w : w | 0x20 * ones;
	uint64_t letter = (folded + (0x80 - 'a') * ones) & ~(folded + (0x7f - 'f') * ones);
	if (((digit | letter) & top) != top)
		return false;
	/* a digit's value is its low nibble, a letter's its low nibble + 9 */
	uint64_t nibbles = (w & 0x0f * ones) + ((w >> 6) & ones) * 9;
	/* the first digit is the lowest byte: gather the nibbles high to low */
	nibbles = __builtin_bswap64(nibbles);
	nibbles = (nibbles | (nibbles >> 4)) & 0x00ff00ff00ff00ffULL;
	nibbles = (nibbles | (nibbles >> 8)) & 0x0000ffff0000ffffULL;
	nibbles = (nibbles | (nibbles >> 16)) & 0x00000000ffffffffULL;
	*out = (uint32_t)nibbles;
	return true;
}

#endif
