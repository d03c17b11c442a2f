/*
 * sipmsg.c — the little SIP the generator needs: a response's status code,
 * Call-ID, CSeq number and digest challenge. Slices point into the datagram;
 * nothing is copied or allocated. Not a general parser (that is parser/):
 * no header folding, first occurrence of a header wins.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "flood.h"

bool slice_eq(struct str_slice s, const char *lit)
{
	size_t n = strlen(lit);
	return s.len == n && memcmp(s.p, lit, n) == 0;
}

bool slice_case_eq(struct str_slice s, const char *lit)
{
	size_t n = strlen(lit);
	return s.len == n && strncasecmp(s.p, lit, n) == 0;
}

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

static struct str_slice trim(const char *p, const char *end)
{
	p = skip_ws(p, end);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	return (struct str_slice){ p, (size_t)(end - p) };
}

int sip_parse_challenge(const char *p, size_t len, struct digest_challenge *ch)
{
	const char *end = p + len;

	memset(ch, 0, sizeof(*ch));
	p = skip_ws(p, end);
	if ((size_t)(end - p) < 6 || strncasecmp(p, "Digest", 6) != 0)
		return -1;
	p += 6;
	while (p < end) {
		p = skip_ws(p, end);
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		const char *name = p;
		while (p < end && *p != '=' && *p != ',' && *p != ' ')
			p++;
		struct str_slice key = { name, (size_t)(p - name) };
		p = skip_ws(p, end);
		if (p >= end || *p != '=')
			continue;
		p = skip_ws(p + 1, end);
		struct str_slice val;
		if (p < end && *p == '"') {
			const char *v = ++p;
			while (p < end && *p != '"') {
				if (*p == '\\' && p + 1 < end)
					p++;
				p++;
			}
			if (p >= end)
				return -1;
			val = (struct str_slice){ v, (size_t)(p - v) };
			p++;
		} else {
			const char *v = p;
			while (p < end && *p != ',')
				p++;
			val = trim(v, p);
		}
		if (slice_case_eq(key, "realm"))
			ch->realm = val;
		else if (slice_case_eq(key, "nonce"))
			ch->nonce = val;
		else if (slice_case_eq(key, "opaque"))
			ch->opaque = val;
		else if (slice_case_eq(key, "algorithm"))
			ch->algorithm = val;
		else if (slice_case_eq(key, "qop"))
			ch->qop = val;
		else if (slice_case_eq(key, "stale"))
			ch->stale = slice_case_eq(val, "true");
	}
	return ch->nonce.p != NULL && ch->realm.p != NULL ? 0 : -1;
}

/* Header names are case-insensitive; compact forms per RFC 3261 §7.3.3. */
static bool header_is(struct str_slice name, const char *full, const char *compact)
{
	return slice_case_eq(name, full) || (compact != NULL && slice_case_eq(name, compact));
}

int sip_parse_response(const char *buf, size_t len, struct sip_response *rsp)
{
	const char *p = buf, *end = buf + len;
	bool challenge_seen = false;

	memset(rsp, 0, sizeof(*rsp));
	if (len < 12 || memcmp(p, "SIP/2.0 ", 8) != 0)
		return -1;
	p += 8;
	if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]) || !isdigit((unsigned char)p[2]))
		return -1;
	rsp->code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
	const char *eol = memchr(p, '\n', (size_t)(end - p));
	if (eol == NULL)
		return -1;
	p = eol + 1;

	while (p < end) {
		eol = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = eol != NULL ? eol : end;
		if (line_end > p && line_end[-1] == '\r')
			line_end--;
		if (line_end == p)
			break;                          /* empty line: end of headers */
		const char *colon = memchr(p, ':', (size_t)(line_end - p));
		if (colon != NULL) {
			struct str_slice name = trim(p, colon);
			struct str_slice value = trim(colon + 1, line_end);
			if (header_is(name, "Call-ID", "i")) {
				if (rsp->call_id.p == NULL)
					rsp->call_id = value;
			} else if (header_is(name, "CSeq", NULL)) {
				rsp->cseq = (uint32_t)strtoul(value.p, NULL, 10);
			} else if (!challenge_seen && (header_is(name, "WWW-Authenticate", NULL) ||
						       header_is(name, "Proxy-Authenticate", NULL))) {
				/* A server may offer several (SHA-256 first, MD5 second);
				 * take the first one we understand. */
				if (sip_parse_challenge(value.p, value.len, &rsp->challenge) == 0) {
					struct str_slice a = rsp->challenge.algorithm;
					if (a.p == NULL || slice_case_eq(a, "MD5") || slice_case_eq(a, "SHA-256")) {
						challenge_seen = true;
						rsp->has_challenge = true;
					}
				}
			}
		}
		if (eol == NULL)
			break;
		p = eol + 1;
	}
	if (rsp->call_id.p == NULL)
		return -1;
	return 0;
}
