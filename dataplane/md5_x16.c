/* md5_x16.c — see md5_x16.h. RFC 1321's steps, a lane per message. */
#include "md5_x16.h"

#include <endian.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

bool md5_x16_available(void)
{
	return __builtin_cpu_supports("avx512f");
}

/* RFC 1321 round functions as ternary-logic truth tables over (b, c, d). */
#define F(b, c, d) _mm512_ternarylogic_epi32(b, c, d, 0xca)
#define G(b, c, d) _mm512_ternarylogic_epi32(b, c, d, 0xe4)
#define H(b, c, d) _mm512_ternarylogic_epi32(b, c, d, 0x96)
#define I(b, c, d) _mm512_ternarylogic_epi32(b, c, d, 0x39)
#define STEP(f, a, b, c, d, x, k, s)                                                  \
	do {                                                                          \
		a = _mm512_add_epi32(a, _mm512_add_epi32(f(b, c, d),                      \
				     _mm512_add_epi32(x, _mm512_set1_epi32((int)(k)))));   \
		a = _mm512_add_epi32(_mm512_rol_epi32(a, s), b);                          \
	} while (0)

/* m[j] = word j of the block at offset `at` of the 16 messages rows[i]:
 * 16 loads and a 16x16 transpose of 32-bit words in four shuffle stages,
 * in place of 16 gathers. On the development VM (AMD Zen 4, where a
 * 16-element gather is about 16 loads) a group of 16 three-block
 * messages, the size of an authorized REGISTER's response digest, went
 * from ~50 to ~38 ns a lane (md5_x16 alone in a loop, taskset -c 1,
 * three alternating runs each). */
__attribute__((target("avx512f"))) static inline void load_words(const uint8_t *rows[MD5_X16_LANES],
								 size_t at, __m512i m[16])
{
	__m512i r[16], t[16];

	for (int i = 0; i < 16; i++)
		r[i] = _mm512_loadu_si512(rows[i] + at);
	/* within each 128-bit lane: dword pairs, then qword pairs */
	for (int i = 0; i < 16; i += 2) {
		t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
		t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
	}
	for (int g = 0; g < 16; g += 4) {
		r[g] = _mm512_unpacklo_epi64(t[g], t[g + 2]);
		r[g + 1] = _mm512_unpackhi_epi64(t[g], t[g + 2]);
		r[g + 2] = _mm512_unpacklo_epi64(t[g + 1], t[g + 3]);
		r[g + 3] = _mm512_unpackhi_epi64(t[g + 1], t[g + 3]);
	}
	/* r[4g + c], 128-bit lane k: word 4k + c of rows 4g..4g+3; gather the
	 * four row groups' lane k into one vector per word */
	for (int c = 0; c < 4; c++) {
		__m512i x0 = _mm512_shuffle_i32x4(r[c], r[4 + c], 0x88);      /* k = 0, 2 of groups 0, 1 */
		__m512i x1 = _mm512_shuffle_i32x4(r[c], r[4 + c], 0xdd);      /* k = 1, 3 */
		__m512i y0 = _mm512_shuffle_i32x4(r[8 + c], r[12 + c], 0x88); /* groups 2, 3 */
		__m512i y1 = _mm512_shuffle_i32x4(r[8 + c], r[12 + c], 0xdd);
		m[c] = _mm512_shuffle_i32x4(x0, y0, 0x88);
		m[8 + c] = _mm512_shuffle_i32x4(x0, y0, 0xdd);
		m[4 + c] = _mm512_shuffle_i32x4(x1, y1, 0x88);
		m[12 + c] = _mm512_shuffle_i32x4(x1, y1, 0xdd);
	}
}

__attribute__((target("avx512f")))
void md5_x16(const uint8_t *buf, const uint8_t blocks[], unsigned n, uint8_t out[][16])
{
	uint32_t words[4][MD5_X16_LANES];
	const uint8_t *rows[MD5_X16_LANES];
	unsigned max_blocks = 0;

	if (n == 0 || n > MD5_X16_LANES)
		return;
	for (unsigned i = 0; i < n; i++) {
		if (blocks[i] == 0 || blocks[i] > MD5_X16_STRIDE / 64)
			return;
		if (blocks[i] > max_blocks)
			max_blocks = blocks[i];
	}
	/* lanes past n read lane 0's message and are never written out */
	for (unsigned i = 0; i < MD5_X16_LANES; i++)
		rows[i] = buf + (i < n ? i * MD5_X16_STRIDE : 0);
	__m512i a = _mm512_set1_epi32(0x67452301), b = _mm512_set1_epi32((int)0xefcdab89);
	__m512i c = _mm512_set1_epi32((int)0x98badcfe), d = _mm512_set1_epi32(0x10325476);

	for (unsigned blk = 0; blk < max_blocks; blk++) {
		__mmask16 active = 0;
		__m512i m[16];
		const __m512i a0 = a, b0 = b, c0 = c, d0 = d;

		for (unsigned i = 0; i < n; i++)
			if (blocks[i] > blk)
				active |= (__mmask16)(1u << i);
		load_words(rows, (size_t)blk * 64, m);
		STEP(F, a, b, c, d, m[0], 0xd76aa478, 7);
		STEP(F, d, a, b, c, m[1], 0xe8c7b756, 12);
		STEP(F, c, d, a, b, m[2], 0x242070db, 17);
		STEP(F, b, c, d, a, m[3], 0xc1bdceee, 22);
		STEP(F, a, b, c, d, m[4], 0xf57c0faf, 7);
		STEP(F, d, a, b, c, m[5], 0x4787c62a, 12);
		STEP(F, c, d, a, b, m[6], 0xa8304613, 17);
		STEP(F, b, c, d, a, m[7], 0xfd469501, 22);
		STEP(F, a, b, c, d, m[8], 0x698098d8, 7);
		STEP(F, d, a, b, c, m[9], 0x8b44f7af, 12);
		STEP(F, c, d, a, b, m[10], 0xffff5bb1, 17);
		STEP(F, b, c, d, a, m[11], 0x895cd7be, 22);
		STEP(F, a, b, c, d, m[12], 0x6b901122, 7);
		STEP(F, d, a, b, c, m[13], 0xfd987193, 12);
		STEP(F, c, d, a, b, m[14], 0xa679438e, 17);
		STEP(F, b, c, d, a, m[15], 0x49b40821, 22);
		STEP(G, a, b, c, d, m[1], 0xf61e2562, 5);
		STEP(G, d, a, b, c, m[6], 0xc040b340, 9);
		STEP(G, c, d, a, b, m[11], 0x265e5a51, 14);
		STEP(G, b, c, d, a, m[0], 0xe9b6c7aa, 20);
		STEP(G, a, b, c, d, m[5], 0xd62f105d, 5);
		STEP(G, d, a, b, c, m[10], 0x02441453, 9);
		STEP(G, c, d, a, b, m[15], 0xd8a1e681, 14);
		STEP(G, b, c, d, a, m[4], 0xe7d3fbc8, 20);
		STEP(G, a, b, c, d, m[9], 0x21e1cde6, 5);
		STEP(G, d, a, b, c, m[14], 0xc33707d6, 9);
		STEP(G, c, d, a, b, m[3], 0xf4d50d87, 14);
		STEP(G, b, c, d, a, m[8], 0x455a14ed, 20);
		STEP(G, a, b, c, d, m[13], 0xa9e3e905, 5);
		STEP(G, d, a, b, c, m[2], 0xfcefa3f8, 9);
		STEP(G, c, d, a, b, m[7], 0x676f02d9, 14);
		STEP(G, b, c, d, a, m[12], 0x8d2a4c8a, 20);
		STEP(H, a, b, c, d, m[5], 0xfffa3942, 4);
		STEP(H, d, a, b, c, m[8], 0x8771f681, 11);
		STEP(H, c, d, a, b, m[11], 0x6d9d6122, 16);
		STEP(H, b, c, d, a, m[14], 0xfde5380c, 23);
		STEP(H, a, b, c, d, m[1], 0xa4beea44, 4);
		STEP(H, d, a, b, c, m[4], 0x4bdecfa9, 11);
		STEP(H, c, d, a, b, m[7], 0xf6bb4b60, 16);
		STEP(H, b, c, d, a, m[10], 0xbebfbc70, 23);
		STEP(H, a, b, c, d, m[13], 0x289b7ec6, 4);
		STEP(H, d, a, b, c, m[0], 0xeaa127fa, 11);
		STEP(H, c, d, a, b, m[3], 0xd4ef3085, 16);
		STEP(H, b, c, d, a, m[6], 0x04881d05, 23);
		STEP(H, a, b, c, d, m[9], 0xd9d4d039, 4);
		STEP(H, d, a, b, c, m[12], 0xe6db99e5, 11);
		STEP(H, c, d, a, b, m[15], 0x1fa27cf8, 16);
		STEP(H, b, c, d, a, m[2], 0xc4ac5665, 23);
		STEP(I, a, b, c, d, m[0], 0xf4292244, 6);
		STEP(I, d, a, b, c, m[7], 0x432aff97, 10);
		STEP(I, c, d, a, b, m[14], 0xab9423a7, 15);
		STEP(I, b, c, d, a, m[5], 0xfc93a039, 21);
		STEP(I, a, b, c, d, m[12], 0x655b59c3, 6);
		STEP(I, d, a, b, c, m[3], 0x8f0ccc92, 10);
		STEP(I, c, d, a, b, m[10], 0xffeff47d, 15);
		STEP(I, b, c, d, a, m[1], 0x85845dd1, 21);
		STEP(I, a, b, c, d, m[8], 0x6fa87e4f, 6);
		STEP(I, d, a, b, c, m[15], 0xfe2ce6e0, 10);
		STEP(I, c, d, a, b, m[6], 0xa3014314, 15);
		STEP(I, b, c, d, a, m[13], 0x4e0811a1, 21);
		STEP(I, a, b, c, d, m[4], 0xf7537e82, 6);
		STEP(I, d, a, b, c, m[11], 0xbd3af235, 10);
		STEP(I, c, d, a, b, m[2], 0x2ad7d2bb, 15);
		STEP(I, b, c, d, a, m[9], 0xeb86d391, 21);
		/* a lane whose message has ended keeps its digest */
		a = _mm512_mask_add_epi32(a0, active, a0, a);
		b = _mm512_mask_add_epi32(b0, active, b0, b);
		c = _mm512_mask_add_epi32(c0, active, c0, c);
		d = _mm512_mask_add_epi32(d0, active, d0, d);
	}
	_mm512_storeu_si512(words[0], a);
	_mm512_storeu_si512(words[1], b);
	_mm512_storeu_si512(words[2], c);
	_mm512_storeu_si512(words[3], d);
	/* a digest is its four words in little-endian order: a word a store,
	 * not a byte (256 byte stores a group before) */
	for (unsigned i = 0; i < n; i++)
		for (int w = 0; w < 4; w++) {
			uint32_t word = htole32(words[w][i]);
			memcpy(&out[i][4 * w], &word, 4);
		}
}

#else

bool md5_x16_available(void)
{
	return false;
}

void md5_x16(const uint8_t *buf, const uint8_t blocks[], unsigned n, uint8_t out[][16])
{
	(void)buf;
	(void)blocks;
	(void)n;
	(void)out;
}

#endif
