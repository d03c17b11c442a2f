/*
 * sip_lex.h - private character classes and scanning helpers shared by the
 * parser's source files. Not part of the public interface (sip_parser.h).
 *
 * Character classes are one 256-entry table so that every test is a single
 * load, whatever the byte (the parser sees raw network input).
 */
#ifndef SIPREG_SIP_LEX_H
#define SIPREG_SIP_LEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sip_parser.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__SSSE3__)
#include <tmmintrin.h>
#endif

enum {
	SIP_CC_TOKEN = 1 << 0,   /* RFC 3261 token */
	SIP_CC_HOST = 1 << 1,    /* hostname / IPv4 characters */
	SIP_CC_USER = 1 << 2,    /* userinfo user part (escaped form) */
	SIP_CC_PASS = 1 << 3,    /* userinfo password (escaped form) */
	SIP_CC_WORD = 1 << 4,    /* Call-ID word */
	SIP_CC_DIGIT = 1 << 5,
	SIP_CC_HEX = 1 << 6,
	SIP_CC_URIC = 1 << 7,    /* printable, no space: allowed in URI params and headers */
};

extern const uint8_t sip_cc[256];

enum {
	SIP_CC2_USER_NOPCT = 1 << 0,   /* SIP_CC_USER except '%' */
	SIP_CC2_URIC_NOPCT = 1 << 1,   /* SIP_CC_URIC except '%' and '?' */
	SIP_CC2_PARAM_VALUE = 1 << 2,  /* token, "[]:/&$()" (sip_param_next values) */
	SIP_CC2_GEN_VALUE = 1 << 3,    /* token, "[]:" (header parameter values) */
};

extern const uint8_t sip_cc2[256];

/* sip_cc2 as nibble tables, like sip_cc_nibble_lo (below). */
extern const uint8_t sip_cc2_nibble_lo[4][16];

/* The classes of sip_cc as nibble tables for a 16-byte lookup with
 * SSSE3's pshufb: byte c is in class bit k when
 * sip_cc_nibble_lo[k][c & 15] & (1 << (c >> 4)) is non-zero (c < 0x80;
 * no class holds a byte >= 0x80). Generated from sip_cc (sip_lex.c). */
extern const uint8_t sip_cc_nibble_lo[8][16];

#if defined(__SSSE3__)
/* Positions of the bytes of v that are not in the class whose nibble
 * table is lo_tbl, as a 16-bit mask: two pshufb, and and compare. Exact
 * for every byte, so a run is not stopped by a class member outside the
 * letters-digits-'-'-'.' core the SSE2 compares test (perf/bench-parse,
 * callgrind: see sip_skip_class_lim). */
static inline __attribute__((always_inline)) unsigned sip_not_in_class16(__m128i v, __m128i lo_tbl)
{
	const __m128i hi_tbl = _mm_setr_epi8(1, 2, 4, 8, 16, 32, 64, (char)0x80, 0, 0, 0, 0, 0, 0, 0, 0);
	const __m128i low4 = _mm_set1_epi8(0x0f);
	__m128i lo = _mm_shuffle_epi8(lo_tbl, _mm_and_si128(v, low4));
	__m128i hi = _mm_shuffle_epi8(hi_tbl, _mm_and_si128(_mm_srli_epi16(v, 4), low4));
	return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_and_si128(lo, hi), _mm_setzero_si128()));
}

/* The nibble table of cls, one SIP_CC_* bit. */
static inline __attribute__((always_inline)) __m128i sip_class_tbl(uint8_t cls)
{
	return _mm_load_si128((const __m128i *)(const void *)sip_cc_nibble_lo[__builtin_ctz(cls)]);
}
#endif

static inline bool sip_is(unsigned char c, uint8_t cls)
{
	return (sip_cc[c] & cls) != 0;
}

static inline bool sip_is_ws(char c)
{
	return c == ' ' || c == '\t';
}

/* Whitespace inside an already delimited header value: a folded line keeps
 * its CR LF, which the line splitter guaranteed is followed by SP or HT. */
static inline bool sip_is_lws(char c)
{
	unsigned char u = (unsigned char)c;
	return u == ' ' || (u < 32 && ((1u << u) & ((1u << '\t') | (1u << '\n') | (1u << '\r'))) != 0);
}

/* Both skips test "> ' '" first: most calls find no whitespace at all. */
static inline const char *sip_skip_lws(const char *p, const char *end)
{
	while (p < end && (unsigned char)*p <= ' ' && sip_is_lws(*p))
		p++;
	return p;
}

static inline const char *sip_rskip_lws(const char *start, const char *end)
{
	while (end > start && (unsigned char)end[-1] <= ' ' && sip_is_lws(end[-1]))
		end--;
	return end;
}

static inline const char *sip_skip_class(const char *p, const char *end, uint8_t cls)
{
	while (p < end && sip_is((unsigned char)*p, cls))
		p++;
	return p;
}

static inline struct sip_slice sip_mk(const char *a, const char *b)
{
	struct sip_slice s = { a, (uint32_t)(b - a) };
	return s;
}

/* memchr for the short ranges of a header value: inline SSE2, so that the
 * call and libc's set-up do not cost more than the scan (perf/bench-parse).
 * Returns the first c in [p, end), or NULL. */
static inline const char *sip_find_byte(const char *p, const char *end, char c)
{
#if defined(__SSE2__)
	const __m128i needle = _mm_set1_epi8(c);
	while (end - p >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
		unsigned mask = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, needle));
		if (mask != 0)
			return p + __builtin_ctz(mask);
		p += 16;
	}
#endif
	for (; p < end; p++)
		if (*p == c)
			return p;
	return NULL;
}

/* Skips bytes of class cls, one SIP_CC_* bit, which must contain every
 * letter, digit, '-' and '.' (token, host, user, word, uric). SSSE3
 * classifies 16 bytes a step exactly; SSE2 checks 16 bytes a step for that
 * common core and other members of cls one by one. Long
 * runs (branch, tag, nonce, Call-ID, host names) are why this matters:
 * perf/bench-parse. Never reads at or past end. */
static inline const char *sip_skip_class_fast(const char *p, const char *end, uint8_t cls)
{
#if defined(__SSSE3__)
	const __m128i tbl = sip_class_tbl(cls);
	while (end - p >= 16) {
		unsigned mask = sip_not_in_class16(_mm_loadu_si128((const __m128i *)(const void *)p), tbl);
		if (mask != 0)
			return p + __builtin_ctz(mask);
		p += 16;
	}
#elif defined(__SSE2__)
	const __m128i a1 = _mm_set1_epi8('a' - 1), z1 = _mm_set1_epi8('z' + 1);
	const __m128i d1 = _mm_set1_epi8('0' - 1), d2 = _mm_set1_epi8('9' + 1);
	const __m128i dash = _mm_set1_epi8('-'), dot = _mm_set1_epi8('.'), low = _mm_set1_epi8(0x20);
	while (end - p >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
		__m128i l = _mm_or_si128(v, low);
		__m128i ok = _mm_and_si128(_mm_cmpgt_epi8(l, a1), _mm_cmplt_epi8(l, z1));
		ok = _mm_or_si128(ok, _mm_and_si128(_mm_cmpgt_epi8(v, d1), _mm_cmplt_epi8(v, d2)));
		ok = _mm_or_si128(ok, _mm_or_si128(_mm_cmpeq_epi8(v, dash), _mm_cmpeq_epi8(v, dot)));
		unsigned mask = (unsigned)_mm_movemask_epi8(ok) ^ 0xffffu;
		if (mask == 0) {
			p += 16;
			continue;
		}
		p += __builtin_ctz(mask);
		if (!sip_is((unsigned char)*p, cls))
			return p;
		p++;
	}
#endif
	while (p < end && sip_is((unsigned char)*p, cls))
		p++;
	return p;
}

/*
 * "_lim" scanners. The field parsers work on a header value [p, end) that
 * lies inside the datagram [buf, lim). These scanners load 16 bytes at a
 * time as long as 16 bytes remain before lim (the datagram end), not before
 * end, and ignore what they find at or past end. A short field (a tag, a
 * user, a 3-letter transport) is then one load instead of a byte loop, and
 * nothing outside the datagram is ever read: the last 15 bytes of a
 * datagram are scanned one by one. Measured with callgrind on
 * perf/bench-parse's corpus (sip_parse only): the byte-loop tails of the
 * 16-byte scanners were ~10 % of all instructions.
 */

#if defined(__SSE2__)
/* The 16-byte part of every _lim scanner: from *p, 16 bytes at a time while
 * *p < end and 16 bytes remain before lim, the first byte whose bit is set in
 * mask_of(those 16 bytes, arg).  Returns that byte, or end when it lies at or
 * past end or there is none before end; NULL when fewer than 16 bytes remain
 * before lim, with *p where the byte loop goes on.  Always inlined with a
 * constant mask_of, so the mask is computed in place (callgrind). */
static inline __attribute__((always_inline)) const char *sip_scan16_lim(const char **p, const char *end,
									const char *lim,
									unsigned (*mask_of)(__m128i v, __m128i arg),
									__m128i arg)
{
	const char *q = *p;

	while (q < end && lim - q >= 16) {
		unsigned mask = mask_of(_mm_loadu_si128((const __m128i *)(const void *)q), arg);
		if (mask != 0) {
			q += __builtin_ctz(mask);
			return q < end ? q : end;
		}
		q += 16;
	}
	if (q >= end)
		return end;
	*p = q;
	return NULL;
}

static inline __attribute__((always_inline)) unsigned sip_mask16_eq(__m128i v, __m128i needle)
{
	return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, needle));
}
#endif

/* First c in [p, end), or end. */
static inline const char *sip_find_byte_lim(const char *p, const char *end, const char *lim, char c)
{
#if defined(__SSE2__)
	const char *hit = sip_scan16_lim(&p, end, lim, sip_mask16_eq, _mm_set1_epi8((char)c));
	if (hit)
		return hit;
#else
	(void)lim;
#endif
	for (; p < end; p++)
		if (*p == c)
			return p;
	return end;
}

/* sip_skip_class_fast with loads bounded by lim: first byte in [p, end)
 * not in cls (which contains every letter, digit, '-' and '.'), or end. */
static inline const char *sip_skip_class_lim(const char *p, const char *end, const char *lim, uint8_t cls)
{
#if defined(__SSSE3__)
	/* callgrind on perf/bench-parse's corpus: 7.56k -> 7.24k instructions
	 * per REGISTER with this path (sip_skip_class_fast too) */
	const char *hit = sip_scan16_lim(&p, end, lim, sip_not_in_class16, sip_class_tbl(cls));
	if (hit)
		return hit;
#elif defined(__SSE2__)
	const __m128i a1 = _mm_set1_epi8('a' - 1), z1 = _mm_set1_epi8('z' + 1);
	const __m128i d1 = _mm_set1_epi8('0' - 1), d2 = _mm_set1_epi8('9' + 1);
	const __m128i dash = _mm_set1_epi8('-'), dot = _mm_set1_epi8('.'), low = _mm_set1_epi8(0x20);
	while (p < end && lim - p >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
		__m128i l = _mm_or_si128(v, low);
		__m128i ok = _mm_and_si128(_mm_cmpgt_epi8(l, a1), _mm_cmplt_epi8(l, z1));
		ok = _mm_or_si128(ok, _mm_and_si128(_mm_cmpgt_epi8(v, d1), _mm_cmplt_epi8(v, d2)));
		ok = _mm_or_si128(ok, _mm_or_si128(_mm_cmpeq_epi8(v, dash), _mm_cmpeq_epi8(v, dot)));
		unsigned mask = (unsigned)_mm_movemask_epi8(ok) ^ 0xffffu;
		if (mask == 0) {
			p += 16;
			continue;
		}
		p += __builtin_ctz(mask);
		if (p >= end)
			return end;
		if (!sip_is((unsigned char)*p, cls))
			return p;
		p++;
	}
	if (p >= end)
		return end;
#else
	(void)lim;
#endif
	while (p < end && sip_is((unsigned char)*p, cls))
		p++;
	return p;
}

/* First byte in [p, end) not in sip_cc2 class bit cls, or end; 16-byte
 * loads (SSSE3) bounded by lim. The URI fast path's user part and
 * parameter check (sip_uri.c) were byte loops: callgrind on
 * perf/bench-parse's corpus, with this and the URI fields set without a
 * memset, 6.76k -> 6.63k instructions per REGISTER. */
static inline __attribute__((always_inline)) const char *sip_skip_cc2_lim(const char *p, const char *end, const char *lim,
									  uint8_t cls)
{
#if defined(__SSSE3__)
	const __m128i tbl = _mm_load_si128((const __m128i *)(const void *)sip_cc2_nibble_lo[__builtin_ctz(cls)]);
	const char *hit = sip_scan16_lim(&p, end, lim, sip_not_in_class16, tbl);
	if (hit)
		return hit;
#else
	(void)lim;
#endif
	while (p < end && (sip_cc2[(unsigned char)*p] & cls) != 0)
		p++;
	return p;
}

#if defined(__SSE2__)
/* '"', '\\', control characters and DEL in v (arg unused). */
static inline __attribute__((always_inline)) unsigned sip_mask16_qstop(__m128i v, __m128i arg)
{
	const __m128i quote = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\');
	const __m128i c1f = _mm_set1_epi8(0x1f), del = _mm_set1_epi8(0x7f);
	__m128i m = _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bs));

	(void)arg;
	m = _mm_or_si128(m, _mm_cmpeq_epi8(_mm_max_epu8(v, c1f), c1f));
	m = _mm_or_si128(m, _mm_cmpeq_epi8(v, del));
	return (unsigned)_mm_movemask_epi8(m);
}
#endif

/* First byte in [p, end) that ends a run of quoted-string text: '"',
 * '\\', a control character (including HT, CR, LF) or DEL; end if none.
 * 16-byte loads only while they stay before lim (the datagram end). */
static inline const char *sip_find_qstop_lim(const char *p, const char *end, const char *lim)
{
#if defined(__SSE2__)
	const char *hit = sip_scan16_lim(&p, end, lim, sip_mask16_qstop, _mm_setzero_si128());
	if (hit)
		return hit;
#else
	(void)lim;
#endif
	for (; p < end; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"' || c == '\\' || c < 0x20 || c == 0x7f)
			return p;
	}
	return end;
}

/* Skips a quoted string starting at p (which points at '"'). Returns the
 * pointer just past the closing quote, or NULL when it is not closed
 * inside [p, end) or when it holds a control character (RFC 3261 §25.1
 * qdtext / quoted-pair). Loads are bounded by lim. */
static inline __attribute__((always_inline)) const char *sip_skip_quoted_lim(const char *p, const char *end, const char *lim)
{
	p++;
	while (p < end) {
		p = sip_find_qstop_lim(p, end, lim);
		if (p >= end)
			return NULL;
		unsigned char c = (unsigned char)*p;
		if (c == '"')
			return p + 1;
		if (c == '\\') {
			if (p + 1 >= end || p[1] == '\r' || p[1] == '\n' || (unsigned char)p[1] > 0x7f)
				return NULL;
			p += 2;
			continue;
		}
		if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f)
			return NULL;
		p++;
	}
	return NULL;
}

/* True when [p, p + n) equals the literal lit (n <= 8) where letters
 * compare without case and every other byte exactly; needs
 * lim - p >= 8. Used to recognise a header or parameter name together
 * with its delimiter ("via:", "tag=") in one 8-byte compare. The mask and
 * pattern fold to constants when lit is a literal. */
static inline __attribute__((always_inline)) bool sip_word_is(const char *p, const char *lit, unsigned n)
{
	uint64_t w, pat = 0, fold = 0;
	memcpy(&w, p, 8);
#pragma GCC unroll 8
	for (unsigned i = 0; i < n; i++) {
		unsigned char c = (unsigned char)lit[i];
		pat |= (uint64_t)c << (8 * i);
		if (c >= 'a' && c <= 'z')
			fold |= (uint64_t)0x20 << (8 * i);
	}
	uint64_t keep = n >= 8 ? ~(uint64_t)0 : (((uint64_t)1 << (8 * n)) - 1);
	return ((w | fold) & keep) == pat;
}

/* sip_param_next over [*pp, end) with loads bounded by lim: on success
 * advances *pp to the ';' of the next parameter or to end. An unquoted
 * value is made of sip_cc2 class value_cls (SIP_CC2_PARAM_VALUE or
 * SIP_CC2_GEN_VALUE). Inline so that the Via, From/To, Contact and URI
 * parameter loops do not pay a call and a slice round trip per parameter
 * (perf/bench-parse, callgrind). */
static inline __attribute__((always_inline)) bool sip_param_next_cls_lim(const char **pp, const char *end, const char *lim,
									 struct sip_slice *name, struct sip_slice *value,
									 uint8_t value_cls)
{
#if defined(__SSSE3__) && !defined(SIP_LEX_GENERAL_PARAMS)
	/* The usual ";name=value" or ";name" without whitespace, the name in
	 * the 16 bytes after the ';': name and value ends from one load and
	 * two class lookups; anything else (whitespace, a quoted value, an
	 * end inside that load, a longer name) is left to the general rules
	 * below, which give the same result for what this accepts
	 * (tests/parser/test_param_fast.c compares the two; defining
	 * SIP_LEX_GENERAL_PARAMS leaves only the general rules). callgrind,
	 * sip_parse alone on perf/bench-pipeline's authorized REGISTER (six
	 * parameters): 6131 -> 5925 instructions; each added ";xy=12345" on
	 * its Contact, 136 -> 92. */
	if (*pp < end && **pp == ';' && lim - *pp >= 17) {
		const char *n = *pp + 1;
		const __m128i v = _mm_loadu_si128((const __m128i *)(const void *)n);
		unsigned stop = sip_not_in_class16(v, sip_class_tbl(SIP_CC_TOKEN)) | 0x10000u;
		unsigned nl = (unsigned)__builtin_ctz(stop);
		const char *c = n + nl;
		if (nl != 0 && nl < 16 && c <= end) {
			if (c == end || *c == ';') {
				*name = sip_mk(n, c);
				value->ptr = NULL;
				value->len = 0;
				*pp = c;
				return true;
			}
			if (*c == '=') {
				const __m128i tbl = _mm_load_si128(
					(const __m128i *)(const void *)sip_cc2_nibble_lo[__builtin_ctz(value_cls)]);
				unsigned vstop = sip_not_in_class16(v, tbl) & ~((2u << nl) - 1u);
				const char *e;
				if (vstop != 0)
					e = n + __builtin_ctz(vstop);
				else if (n + 16 < end)
					e = sip_skip_cc2_lim(n + 16, end, lim, value_cls);
				else
					e = NULL;
				if (e != NULL && e > c + 1 && e <= end && (e == end || *e == ';')) {
					*name = sip_mk(n, c);
					*value = sip_mk(c + 1, e);
					*pp = e;
					return true;
				}
				if (c + 1 < end && c[1] == '"') {
					/* +sip.instance="<urn:...>" */
					e = sip_skip_quoted_lim(c + 1, end, lim);
					if (e != NULL && (e == end || *e == ';')) {
						*name = sip_mk(n, c);
						*value = sip_mk(c + 2, e - 1);
						*pp = e;
						return true;
					}
				}
			}
		}
	}
#endif
	const char *p = sip_skip_lws(*pp, end);
	if (p >= end || *p != ';')
		return false;
	p = sip_skip_lws(p + 1, end);
	const char *n = p;
	p = sip_skip_class_lim(p, end, lim, SIP_CC_TOKEN);
	if (p == n)
		return false;
	*name = sip_mk(n, p);
	value->ptr = NULL;
	value->len = 0;
	p = sip_skip_lws(p, end);
	if (p < end && *p == '=') {
		p = sip_skip_lws(p + 1, end);
		if (p < end && *p == '"') {
			const char *q = sip_skip_quoted_lim(p, end, lim);
			if (q == NULL)
				return false;
			*value = sip_mk(p + 1, q - 1);
			p = q;
		} else {
			/* value_cls contains every token character: one scan
			 * (callgrind on perf/bench-parse's corpus: 6.55k ->
			 * 6.53k instructions per REGISTER, against a token scan
			 * continued past each other value character) */
			const char *v = p;
			p = sip_skip_cc2_lim(p, end, lim, value_cls);
			if (p == v)
				return false;
			*value = sip_mk(v, p);
		}
		p = sip_skip_lws(p, end);
	}
	if (p < end && *p != ';')
		return false;
	*pp = p;
	return true;
}

/* URI parameters: an unquoted value is paramchar (RFC 3261 §19.1.1). */
static inline __attribute__((always_inline)) bool sip_param_next_lim(const char **pp, const char *end, const char *lim,
								     struct sip_slice *name, struct sip_slice *value)
{
	return sip_param_next_cls_lim(pp, end, lim, name, value, SIP_CC2_PARAM_VALUE);
}

/* Header parameters (Via, From, To, Contact): an unquoted value must be a
 * gen-value, token / host (RFC 3261 §25.1), so URI-only characters such
 * as '(' ')' '/' '&' '$' end the value where a ';' or the end must follow,
 * and the header is malformed. Checked in the value scan itself: callgrind
 * on perf/bench-parse's corpus, a second byte loop over each value cost
 * ~270 instructions per REGISTER. */
static inline __attribute__((always_inline)) bool sip_header_param_next_lim(const char **pp, const char *end,
									    const char *lim, struct sip_slice *name,
									    struct sip_slice *value)
{
	return sip_param_next_cls_lim(pp, end, lim, name, value, SIP_CC2_GEN_VALUE);
}

/* Compare with a lower-case literal, for s made of token or host
 * characters only: OR-ing 0x20 lower-cases letters and cannot turn any
 * other token character into a letter, '-', '+', '.' or '/' of a literal.
 * Eight bytes a step: header and parameter names are compared for every
 * line (perf/bench-parse). */
static inline bool sip_eq_token_lower(const char *s, const char *lit, size_t n)
{
	if (n >= 8) {
		/* 8-byte steps, the last one overlapping the previous */
		for (size_t i = 0;; i += 8) {
			if (i + 8 > n)
				i = n - 8;
			uint64_t a, b;
			memcpy(&a, s + i, 8);
			memcpy(&b, lit + i, 8);
			if ((a | 0x2020202020202020ull) != b)
				return false;
			if (i + 8 == n)
				return true;
		}
	}
	if (n >= 4) {
		uint32_t a, b, c, d;
		memcpy(&a, s, 4);
		memcpy(&b, lit, 4);
		memcpy(&c, s + n - 4, 4);
		memcpy(&d, lit + n - 4, 4);
		return (a | 0x20202020u) == b && (c | 0x20202020u) == d;
	}
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] | 0x20) != (unsigned char)lit[i])
			return false;
	return true;
}

/* Lower-case literal compare for any bytes. */
static inline bool sip_eq_lower(const char *s, const char *lit, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c + 32);
		if (c != (unsigned char)lit[i])
			return false;
	}
	return true;
}

/* Host (hostname, IPv4 or "[IPv6]") at p. Sets *host (without brackets),
 * *is_ipv6, returns the pointer after it, or NULL if malformed/empty. */
const char *sip_scan_host(const char *p, const char *end, struct sip_slice *host, bool *is_ipv6);

/* Port digits at p: 1-5 digits, value <= 65535. Returns the pointer after
 * them or NULL. */
static inline const char *sip_scan_port(const char *p, const char *end, uint16_t *port)
{
	uint32_t v = 0;
	const char *q = p;
	while (q < end && (unsigned char)(*q - '0') <= 9) {
		v = v * 10 + (uint32_t)(*q - '0');
		if (v > 65535)
			return NULL;
		q++;
	}
	if (q == p)
		return NULL;
	*port = (uint16_t)v;
	return q;
}

/* sip_scan_port with a 16-byte digit search bounded by lim: a port of 1
 * to 5 digits is converted without testing each byte twice; longer runs
 * (leading zeros) and the datagram's last 15 bytes take sip_scan_port.
 * callgrind on perf/bench-parse's corpus: ~20 fewer instructions per
 * REGISTER (the Via and Contact ports; 6.24k -> 6.22k together with
 * fast_header_name() always inlined). */
static inline const char *sip_scan_port_lim(const char *p, const char *end, const char *lim, uint16_t *port)
{
#if defined(__SSE2__)
	if (p < end && lim - p >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
		__m128i d = _mm_sub_epi8(v, _mm_set1_epi8('0'));
		/* digit: (unsigned)(c - '0') <= 9 */
		__m128i not_digit = _mm_cmpeq_epi8(_mm_max_epu8(d, _mm_set1_epi8(9)), _mm_set1_epi8(9));
		unsigned run = (unsigned)__builtin_ctz(~(unsigned)_mm_movemask_epi8(not_digit));
		if ((size_t)(end - p) < run)
			run = (unsigned)(end - p);
		if (run == 0)
			return NULL;
		if (run <= 5) {
			uint32_t val = 0;
			for (unsigned i = 0; i < run; i++)
				val = val * 10 + (uint32_t)(p[i] - '0');
			if (val > 65535)
				return NULL;
			*port = (uint16_t)val;
			return p + run;
		}
	}
#else
	(void)lim;
#endif
	return sip_scan_port(p, end, port);
}

/* sip_uri_parse for a URI inside a datagram that ends at lim (>= s's
 * end): SIMD loads may reach past the URI, never past lim. */
bool sip_uri_parse_lim(struct sip_slice s, const char *lim, struct sip_uri *uri);

#endif /* SIPREG_SIP_LEX_H */
