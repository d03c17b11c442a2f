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

#include "sip_parser.h"

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
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static inline const char *sip_skip_lws(const char *p, const char *end)
{
	while (p < end && sip_is_lws(*p))
		p++;
	return p;
}

static inline const char *sip_rskip_lws(const char *start, const char *end)
{
	while (end > start && sip_is_lws(end[-1]))
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

/* Skips a quoted string starting at p (which points at '"'). Returns the
 * pointer just past the closing quote, or NULL when it is not closed
 * inside [p, end) or when it holds a control character (RFC 3261 §25.1
 * qdtext / quoted-pair). */
static inline const char *sip_skip_quoted(const char *p, const char *end)
{
	p++;
	while (p < end) {
		unsigned char c = (unsigned char)*p;
		if (c == '"')
			return p + 1;
		if (c == '\\') {
			/* quoted-pair = "\" ( %x00-09 / %x0B-0C / %x0E-7F ) */
			if (p + 1 >= end || p[1] == '\r' || p[1] == '\n' || (unsigned char)p[1] > 0x7f)
				return NULL;
			p += 2;
			continue;
		}
		/* qdtext = LWS / %x21 / %x23-5B / %x5D-7E / UTF8-NONASCII */
		if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f)
			return NULL;
		p++;
	}
	return NULL;
}

/* Lower-case literal compare for names known to be token characters. */
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
const char *sip_scan_port(const char *p, const char *end, uint16_t *port);

#endif /* SIPREG_SIP_LEX_H */
