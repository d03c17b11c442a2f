/* jhash_bytes.h — rte_jhash over bytes at any alignment.
 *
 * On x86 rte_jhash reads the key as 32-bit words whatever its alignment.
 * Keys that point into a packet (nonce, cnonce) or into a packed source
 * address are often not 4-byte aligned: undefined behaviour in C, and
 * UBSan (halt_on_error in the sanitizer CI run) stops the process on the
 * first REGISTER. Hashing an aligned copy gives the same value for keys up
 * to 256 bytes; longer keys are hashed in chained 256-byte pieces.
 */
#ifndef SIPREG_JHASH_BYTES_H
#define SIPREG_JHASH_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <rte_jhash.h>

static inline uint32_t jhash_bytes(const void *key, size_t len, uint32_t seed)
{
	uint32_t words[64];
	const char *p = key;

	if (((uintptr_t)key & 3) == 0 && len <= sizeof(words))
		return rte_jhash(key, (uint32_t)len, seed);
	do {
		size_t n = len < sizeof(words) ? len : sizeof(words);
		memcpy(words, p, n);
		seed = rte_jhash(words, (uint32_t)n, seed);
		p += n;
		len -= n;
	} while (len);
	return seed;
}

#endif
