/* inet_checksum.c — the one's complement sum with AVX2, for the datagrams
 * every request and reply is checksummed over (inet_checksum.h). */
#include "inet_checksum.h"

#if defined(__x86_64__)
#include <immintrin.h>

/* 32 bytes per step: each 64-bit lane adds the two 32-bit words it holds,
 * which keeps the carries (RFC 1071 §2(B)); two accumulators so the adds
 * of consecutive steps overlap. */
__attribute__((target("avx2"))) uint64_t inet_sum_avx2(const void *buf, size_t len, uint64_t sum)
{
	const uint8_t *p = buf;
	const __m256i low32 = _mm256_set1_epi64x(0xffffffff);
	__m256i a = _mm256_setzero_si256(), b = _mm256_setzero_si256();

	for (; len >= 64; p += 64, len -= 64) {
		__m256i x = _mm256_loadu_si256((const __m256i *)p);
		__m256i y = _mm256_loadu_si256((const __m256i *)(p + 32));
		a = _mm256_add_epi64(a, _mm256_and_si256(x, low32));
		a = _mm256_add_epi64(a, _mm256_srli_epi64(x, 32));
		b = _mm256_add_epi64(b, _mm256_and_si256(y, low32));
		b = _mm256_add_epi64(b, _mm256_srli_epi64(y, 32));
	}
	a = _mm256_add_epi64(a, b);
	uint64_t lanes[4];
	_mm256_storeu_si256((__m256i *)lanes, a);
	/* each lane is below 2^49 for any datagram: no overflow */
	sum += lanes[0] + lanes[1] + lanes[2] + lanes[3];
	return inet_sum(p, len, sum);
}
#endif
