/* md5_x16.h — MD5 of up to 16 messages at once with AVX-512, for the
 * Digest responses of a staged group of REGISTERs (digest.c).
 *
 * Hand-written because it is on the hot path and measured: MD5 has no
 * instruction of its own, and OpenSSL's one-message block function was
 * 8.9 % of perf/bench-pipeline's authenticated registrations (perf record,
 * 3 blocks per REGISTER at ~200 cycles each). Sixteen 32-bit lanes of a
 * 512-bit register run sixteen messages through the same 64 steps: the
 * bench went from ~395 k to ~413 k authenticated registrations/s (1 M
 * users, one core, hugepages), md5_x16 at 1.7 % of its profile.
 */
#ifndef SIPREG_MD5_X16_H
#define SIPREG_MD5_X16_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MD5_X16_LANES 16
/* Bytes between lanes in the caller's message buffer. */
#define MD5_X16_STRIDE 576

/* True when this CPU runs md5_x16 (AVX-512F). */
bool md5_x16_available(void);

/* MD5 digests of n (1..16) padded messages: lane i is blocks[i] 64-byte
 * blocks (1..MD5_X16_STRIDE/64) at buf + i * MD5_X16_STRIDE, padded as
 * MD5 pads. Writes 16 bytes per lane to out. Call only when
 * md5_x16_available(); n outside 1..16 or a block count outside its range
 * writes nothing. */
void md5_x16(const uint8_t *buf, const uint8_t blocks[], unsigned n,
	     uint8_t out[][16]);

#endif
