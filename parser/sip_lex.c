/*
 * sip_lex.c - character class table and small scanners (see sip_lex.h).
 *
 * The table below was generated from the RFC 3261 §25 ABNF sets; classes:
 *   T token, H host, U user, P password, W Call-ID word, D digit, X hex,
 *   R printable non-space URI character except < > ".
 */
#include <string.h>

#include "sip_lex.h"

#define T SIP_CC_TOKEN
#define H SIP_CC_HOST
#define U SIP_CC_USER
#define P SIP_CC_PASS
#define W SIP_CC_WORD
#define D SIP_CC_DIGIT
#define X SIP_CC_HEX
#define R SIP_CC_URIC

const uint8_t sip_cc[256] = {
	0, 0, 0, 0, 0, 0, 0, 0,  /* 0x00 */
	0, 0, 0, 0, 0, 0, 0, 0,  /* 0x08 */
	0, 0, 0, 0, 0, 0, 0, 0,  /* 0x10 */
	0, 0, 0, 0, 0, 0, 0, 0,  /* 0x18 */
	0, T|U|P|W|R, W, R, U|P|R, T|U|P|W|R, U|P|R, T|U|P|W|R,  /* 0x20 */
	U|P|W|R, U|P|W|R, T|U|P|W|R, T|U|P|W|R, U|P|R, T|H|U|P|W|R, T|H|U|P|W|R, U|W|R,  /* 0x28 */
	T|H|U|P|W|D|X|R, T|H|U|P|W|D|X|R, T|H|U|P|W|D|X|R, T|H|U|P|W|D|X|R, T|H|U|P|W|D|X|R, T|H|U|P|W|D|X|R, T|H|U|P|W|D|X|R, T|H|U|P|W|D|X|R,  /* 0x30 */
	T|H|U|P|W|D|X|R, T|H|U|P|W|D|X|R, W|R, U|R, W, U|P|R, W, U|W|R,  /* 0x38 */
	R, T|H|U|P|W|X|R, T|H|U|P|W|X|R, T|H|U|P|W|X|R, T|H|U|P|W|X|R, T|H|U|P|W|X|R, T|H|U|P|W|X|R, T|H|U|P|W|R,  /* 0x40 */
	T|H|U|P|W|R, T|H|U|P|W|R, T|H|U|P|W|R, T|H|U|P|W|R, T|H|U|P|W|R, T|H|U|P|W|R, T|H|U|P|W|R, T|H|U|P|W|R,  /* 0x48 */
	T|H|U|P|W|R, T|H|U|P|W|R, T|H|U|P|W|R, T|H|U|P|W|R, T|H|U|P|W|R, T|H|U|P|W|R, T|H|U|P|W|R, T|H|U|P|W|R,  /* 0x50 */
	T|H|U|P|W|R, T|H|U|P|W|R, T|H|U|P|W|R, W|R, W|R, W|R, R, T|H|U|P|W|R,  /* 0x58 */
	T|W|R, T|H|U|P|W|X|R, T|H|U|P|W|X|R, T|H|U|P|W|X|R, T|H|U|P|W|X|R, T|H|U|P|W|X|R, T|H|U|P|W|X|R, T|H|U|P|W|R,  /* 0x60 */
	T|H|U|P|W|R, T|H|U|P|W|R, T|H|U|P|W|R, T|H|U|P|W|R, T|H|U|P|W|R, T|H|U|P|W|R, T|H|U|P|W|R, T|H|U|P|W|R,  /* 0x68 */
	T|H|U|P|W|R, T|H|U|P|W|R, T|H|U|P|W|R, T|H|U|P|W|R, T|H|U|P|W|R, T|H|U|P|W|R, T|H|U|P|W|R, T|H|U|P|W|R,  /* 0x70 */
	T|H|U|P|W|R, T|H|U|P|W|R, T|H|U|P|W|R, W|R, R, W|R, T|U|P|W|R, 0,  /* 0x78 */
	0, 0, 0, 0, 0, 0, 0, 0,  /* 0x80 */
	0, 0, 0, 0, 0, 0, 0, 0,  /* 0x88 */
	0, 0, 0, 0, 0, 0, 0, 0,  /* 0x90 */
	0, 0, 0, 0, 0, 0, 0, 0,  /* 0x98 */
	0, 0, 0, 0, 0, 0, 0, 0,  /* 0xa0 */
	0, 0, 0, 0, 0, 0, 0, 0,  /* 0xa8 */
	0, 0, 0, 0, 0, 0, 0, 0,  /* 0xb0 */
	0, 0, 0, 0, 0, 0, 0, 0,  /* 0xb8 */
	0, 0, 0, 0, 0, 0, 0, 0,  /* 0xc0 */
	0, 0, 0, 0, 0, 0, 0, 0,  /* 0xc8 */
	0, 0, 0, 0, 0, 0, 0, 0,  /* 0xd0 */
	0, 0, 0, 0, 0, 0, 0, 0,  /* 0xd8 */
	0, 0, 0, 0, 0, 0, 0, 0,  /* 0xe0 */
	0, 0, 0, 0, 0, 0, 0, 0,  /* 0xe8 */
	0, 0, 0, 0, 0, 0, 0, 0,  /* 0xf0 */
	0, 0, 0, 0, 0, 0, 0, 0,  /* 0xf8 */
};

#undef T
#undef H
#undef U
#undef P
#undef W
#undef D
#undef X
#undef R

/* Second class table, derived from sip_cc by a script: the URI fast path
 * (sip_uri.c) scans a user part or URI parameters in one loop that also
 * stops at '%' (and '?'), which then go to the general code.
 *   UN user character other than '%', RN URI character other than '%' and
 *   '?', PV parameter value character (token, "[]:/&$()"), GV header
 *   parameter gen-value character (token, "[]:", RFC 3261 §25.1). */
#define UN SIP_CC2_USER_NOPCT
#define RN SIP_CC2_URIC_NOPCT
#define PV SIP_CC2_PARAM_VALUE
#define GV SIP_CC2_GEN_VALUE

const uint8_t sip_cc2[256] = {
	0, 0, 0, 0, 0, 0, 0, 0,  /* 0x00 */
	0, 0, 0, 0, 0, 0, 0, 0,  /* 0x08 */
	0, 0, 0, 0, 0, 0, 0, 0,  /* 0x10 */
	0, 0, 0, 0, 0, 0, 0, 0,  /* 0x18 */
	0, UN|RN|PV|GV, 0, RN, UN|RN|PV, PV|GV, UN|RN|PV, UN|RN|PV|GV,  /* 0x20 */
	UN|RN|PV, UN|RN|PV, UN|RN|PV|GV, UN|RN|PV|GV, UN|RN, UN|RN|PV|GV, UN|RN|PV|GV, UN|RN|PV,  /* 0x28 */
	UN|RN|PV|GV, UN|RN|PV|GV, UN|RN|PV|GV, UN|RN|PV|GV, UN|RN|PV|GV, UN|RN|PV|GV, UN|RN|PV|GV, UN|RN|PV|GV,  /* 0x30 */
	UN|RN|PV|GV, UN|RN|PV|GV, RN|PV|GV, UN|RN, 0, UN|RN, 0, UN,  /* 0x38 */
	RN, UN|RN|PV|GV, UN|RN|PV|GV, UN|RN|PV|GV, UN|RN|PV|GV, UN|RN|PV|GV, UN|RN|PV|GV, UN|RN|PV|GV,  /* 0x40 */
	UN|RN|PV|GV, UN|RN|PV|GV, UN|RN|PV|GV, UN|RN|PV|GV, UN|RN|PV|GV, UN|RN|PV|GV, UN|RN|PV|GV, UN|RN|PV|GV,  /* 0x48 */
	UN|RN|PV|GV, UN|RN|PV|GV, UN|RN|PV|GV, UN|RN|PV|GV, UN|RN|PV|GV, UN|RN|PV|GV, UN|RN|PV|GV, UN|RN|PV|GV,  /* 0x50 */
	UN|RN|PV|GV, UN|RN|PV|GV, UN|RN|PV|GV, RN|PV|GV, RN, RN|PV|GV, RN, UN|RN|PV|GV,  /* 0x58 */
	RN|PV|GV, UN|RN|PV|GV, UN|RN|PV|GV, UN|RN|PV|GV, UN|RN|PV|GV, UN|RN|PV|GV, UN|RN|PV|GV, UN|RN|PV|GV,  /* 0x60 */
	UN|RN|PV|GV, UN|RN|PV|GV, UN|RN|PV|GV, UN|RN|PV|GV, UN|RN|PV|GV, UN|RN|PV|GV, UN|RN|PV|GV, UN|RN|PV|GV,  /* 0x68 */
	UN|RN|PV|GV, UN|RN|PV|GV, UN|RN|PV|GV, UN|RN|PV|GV, UN|RN|PV|GV, UN|RN|PV|GV, UN|RN|PV|GV, UN|RN|PV|GV,  /* 0x70 */
	UN|RN|PV|GV, UN|RN|PV|GV, UN|RN|PV|GV, RN, RN, RN, UN|RN|PV|GV, 0,  /* 0x78 */
	0, 0, 0, 0, 0, 0, 0, 0,  /* 0x80 */
	0, 0, 0, 0, 0, 0, 0, 0,  /* 0x88 */
	0, 0, 0, 0, 0, 0, 0, 0,  /* 0x90 */
	0, 0, 0, 0, 0, 0, 0, 0,  /* 0x98 */
	0, 0, 0, 0, 0, 0, 0, 0,  /* 0xa0 */
	0, 0, 0, 0, 0, 0, 0, 0,  /* 0xa8 */
	0, 0, 0, 0, 0, 0, 0, 0,  /* 0xb0 */
	0, 0, 0, 0, 0, 0, 0, 0,  /* 0xb8 */
	0, 0, 0, 0, 0, 0, 0, 0,  /* 0xc0 */
	0, 0, 0, 0, 0, 0, 0, 0,  /* 0xc8 */
	0, 0, 0, 0, 0, 0, 0, 0,  /* 0xd0 */
	0, 0, 0, 0, 0, 0, 0, 0,  /* 0xd8 */
	0, 0, 0, 0, 0, 0, 0, 0,  /* 0xe0 */
	0, 0, 0, 0, 0, 0, 0, 0,  /* 0xe8 */
	0, 0, 0, 0, 0, 0, 0, 0,  /* 0xf0 */
	0, 0, 0, 0, 0, 0, 0, 0,  /* 0xf8 */
};

#undef UN
#undef RN
#undef PV
#undef GV

/* sip_cc as nibble tables (see sip_lex.h), generated from sip_cc above by
 * a program that sets bit h of entry [k][l] when byte h * 16 + l is in
 * class bit k. */
const uint8_t sip_cc_nibble_lo[8][16] __attribute__((aligned(16))) = {
	{0xe8, 0xfc, 0xf8, 0xf8, 0xf8, 0xfc, 0xf8, 0xfc, 0xf8, 0xf8, 0xf4, 0x54, 0x50, 0x54, 0xd4, 0x70},  /* token */
	{0xa8, 0xf8, 0xf8, 0xf8, 0xf8, 0xf8, 0xf8, 0xf8, 0xf8, 0xf8, 0xf0, 0x50, 0x50, 0x54, 0x54, 0x70},  /* host */
	{0xa8, 0xfc, 0xf8, 0xf8, 0xfc, 0xfc, 0xfc, 0xfc, 0xfc, 0xfc, 0xf4, 0x5c, 0x54, 0x5c, 0xd4, 0x7c},  /* user */
	{0xa8, 0xfc, 0xf8, 0xf8, 0xfc, 0xfc, 0xfc, 0xfc, 0xfc, 0xfc, 0xf4, 0x54, 0x54, 0x5c, 0xd4, 0x70},  /* password */
	{0xe8, 0xfc, 0xfc, 0xf8, 0xf8, 0xfc, 0xf8, 0xfc, 0xfc, 0xfc, 0xfc, 0xf4, 0x78, 0xf4, 0xdc, 0x7c},  /* Call-ID word */
	{0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},  /* digit */
	{0x08, 0x58, 0x58, 0x58, 0x58, 0x58, 0x58, 0x08, 0x08, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},  /* hex */
	{0xf8, 0xfc, 0xf8, 0xfc, 0xfc, 0xfc, 0xfc, 0xfc, 0xfc, 0xfc, 0xfc, 0xfc, 0xf4, 0xfc, 0xf4, 0x7c},  /* uric */
};

/* sip_cc2 as nibble tables, generated the same way. */
const uint8_t sip_cc2_nibble_lo[4][16] __attribute__((aligned(16))) = {
	{0xa8, 0xfc, 0xf8, 0xf8, 0xfc, 0xf8, 0xfc, 0xfc, 0xfc, 0xfc, 0xf4, 0x5c, 0x54, 0x5c, 0xd4, 0x7c},  /* user except '%' */
	{0xf8, 0xfc, 0xf8, 0xfc, 0xfc, 0xf8, 0xfc, 0xfc, 0xfc, 0xfc, 0xfc, 0xfc, 0xf4, 0xfc, 0xf4, 0x74},  /* URI character except '%' and '?' */
	{0xe8, 0xfc, 0xf8, 0xf8, 0xfc, 0xfc, 0xfc, 0xfc, 0xfc, 0xfc, 0xfc, 0x74, 0x50, 0x74, 0xd4, 0x74},  /* URI parameter value */
	{0xe8, 0xfc, 0xf8, 0xf8, 0xf8, 0xfc, 0xf8, 0xfc, 0xf8, 0xf8, 0xfc, 0x74, 0x50, 0x74, 0xd4, 0x70},  /* header parameter gen-value */
};

const char *sip_scan_host(const char *p, const char *end, struct sip_slice *host, bool *is_ipv6)
{
	if (p >= end)
		return NULL;
	if (*p == '[') {
		const char *a = p + 1;
		const char *q = a;
		int colons = 0;
		while (q < end && (sip_is((unsigned char)*q, SIP_CC_HEX) || *q == ':' || *q == '.')) {
			colons += (*q == ':');
			q++;
		}
		if (q >= end || *q != ']' || q == a || colons < 2)
			return NULL;
		*host = sip_mk(a, q);
		*is_ipv6 = true;
		return q + 1;
	}
	const char *q = sip_skip_class_fast(p, end, SIP_CC_HOST);
	if (q == p)
		return NULL;
	*host = sip_mk(p, q);
	*is_ipv6 = false;
	return q;
}
