/*
 * sip_uri.c - SIP URI, parameter lists and slice helpers.
 *
 * Kept apart from sip_parser.c because the dataplane uses these on their
 * own (To AOR, Contact URI keys, Digest uri) after a message is parsed.
 */
#include <string.h>

#include "sip_lex.h"
#include "sip_parser.h"

bool sip_slice_eq_fold(struct sip_slice a, struct sip_slice b)
{
	if (a.len != b.len)
		return false;
	for (uint32_t i = 0; i < a.len; i++) {
		unsigned char x = (unsigned char)a.ptr[i];
		unsigned char y = (unsigned char)b.ptr[i];
		if (x >= 'A' && x <= 'Z')
			x = (unsigned char)(x + 32);
		if (y >= 'A' && y <= 'Z')
			y = (unsigned char)(y + 32);
		if (x != y)
			return false;
	}
	return true;
}

/* Octet by octet, at most three digits each, instead of a state machine
 * over every byte: the Contact host of every REGISTER comes here
 * (callgrind on perf/bench-pipeline: ~270 -> ~70 instructions a call). */
bool sip_ipv4_parse(struct sip_slice s, uint8_t out[4])
{
	const char *p = s.ptr, *end = s.ptr + s.len;
	uint8_t octets[4];

	if (s.ptr == NULL || s.len < 7 || s.len > 15)
		return false;
	for (int i = 0; i < 4; i++) {
		if (p >= end)
			return false;
		unsigned v = (unsigned)(unsigned char)*p - '0';

		if (v > 9)
			return false;
		p++;
		if (p < end && (unsigned)(unsigned char)*p - '0' <= 9) {
			if (v == 0)
				return false;          /* leading zero */
			v = v * 10 + (unsigned)(*p++ - '0');
			if (p < end && (unsigned)(unsigned char)*p - '0' <= 9) {
				v = v * 10 + (unsigned)(*p++ - '0');
				if (v > 255)
					return false;
			}
		}
		octets[i] = (uint8_t)v;
		if (i < 3) {
			if (p >= end || *p != '.')
				return false;
			p++;
		}
	}
	if (p != end)
		return false;
	memcpy(out, octets, 4);
	return true;
}

bool sip_slice_to_u32(struct sip_slice s, uint32_t *out)
{
	uint64_t v = 0;
	if (s.len == 0 || s.ptr == NULL)
		return false;
	for (uint32_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.ptr[i];
		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
		if (v > UINT32_MAX)
			return false;
	}
	*out = (uint32_t)v;
	return true;
}

bool sip_param_next(struct sip_slice *rest, struct sip_slice *name, struct sip_slice *value)
{
	if (rest->ptr == NULL)
		return false;
	const char *p = rest->ptr;
	const char *end = p + rest->len;
	if (!sip_param_next_lim(&p, end, end, name, value))
		return false;
	*rest = sip_mk(p, end);
	return true;
}

bool sip_param_find(struct sip_slice params, const char *name, struct sip_slice *value)
{
	struct sip_slice n, v;
	size_t len = strlen(name);
	while (sip_param_next(&params, &n, &v)) {
		if (n.len == len && sip_slice_eq_lit_nocase(n, name)) {
			*value = v;
			return true;
		}
	}
	return false;
}

/* Every byte of [p, end) is in class cls, and every '%' starts an
 * escaped = "%" HEXDIG HEXDIG (RFC 3261 §25.1). */
static bool all_in(const char *p, const char *end, uint8_t cls)
{
	if (sip_skip_class_fast(p, end, cls) != end)
		return false;
	while ((p = sip_find_byte(p, end, '%')) != NULL) {
		if (end - p < 3 || !sip_is((unsigned char)p[1], SIP_CC_HEX) || !sip_is((unsigned char)p[2], SIP_CC_HEX))
			return false;
		p += 3;
	}
	return true;
}

static bool valid_uri_headers(const char *p, const char *end)
{
	for (;;) {
		const char *amp = sip_find_byte(p, end, '&');
		const char *he = amp ? amp : end;
		const char *eq = sip_find_byte(p, he, '=');
		if (eq == NULL || eq == p)
			return false;
		if (amp == NULL)
			return true;
		p = amp + 1;
	}
}

bool sip_uri_parse(struct sip_slice s, struct sip_uri *uri)
{
	return sip_uri_parse_lim(s, s.ptr != NULL ? s.ptr + s.len : NULL, uri);
}

/*
 * The common URI, sip:user@host[:port][;params] with no escapes, no
 * password, no IPv6 reference and no headers, in one pass. Returns true
 * when it parsed the URI completely (then *uri is exactly what the general
 * code below gives); false when the URI is anything else, valid or not,
 * and the general code must decide. callgrind on perf/bench-parse's
 * corpus (five URIs per REGISTER): ~380 instructions a URI before, ~190
 * with this path, parameters included.
 */
static bool uri_parse_common(struct sip_slice s, const char *lim, struct sip_uri *uri)
{
	const char *p = s.ptr;
	const char *end = p + s.len;
	if (s.len < 5 || lim - p < 16)
		return false;
	if (sip_word_is(p, "sip:", 4)) {
		uri->scheme = SIP_SCHEME_SIP;
		uri->scheme_raw = sip_mk(p, p + 3);
		p += 4;
	} else if (sip_word_is(p, "sips:", 5)) {
		uri->scheme = SIP_SCHEME_SIPS;
		uri->scheme_raw = sip_mk(p, p + 4);
		p += 5;
	} else {
		return false;
	}
	uri->user.ptr = NULL;
	uri->user.len = 0;
	uri->password = uri->user;
	uri->params = uri->user;
	uri->headers = uri->user;
	uri->transport = uri->user;
	uri->host_is_ipv6 = false;
	uri->has_port = false;
	uri->port = 0;
	/* userinfo: user characters up to the first '@'; ':' (a password or a
	 * port), '%' or anything else first goes to the general code, unless
	 * no '@' follows at all ('@' is not a user character) */
	const char *q = sip_skip_cc2_lim(p, end, lim, SIP_CC2_USER_NOPCT);
	if (q < end && *q == '@') {
		if (q == p)
			return false;
		uri->user = sip_mk(p, q);
		p = q + 1;
	} else if (sip_find_byte_lim(q, end, lim, '@') != end) {
		return false;
	}
	if (p >= end || *p == '[')
		return false;
	q = sip_skip_class_lim(p, end, lim, SIP_CC_HOST);
	if (q == p)
		return false;
	uri->host = sip_mk(p, q);
	p = q;
	if (p < end && *p == ':') {
		p = sip_scan_port_lim(p + 1, end, lim, &uri->port);
		if (p == NULL)
			return false;
		uri->has_port = true;
	}
	if (p < end && *p == ';') {
		q = sip_skip_cc2_lim(p + 1, end, lim, SIP_CC2_URIC_NOPCT);
		if (q != end)
			return false;
		uri->params = sip_mk(p, end);
		struct sip_slice n, v;
		while (p < end) {
			if (!sip_param_next_lim(&p, end, lim, &n, &v))
				return false;
			if (n.len == 9 && sip_eq_token_lower(n.ptr, "transport", 9))
				uri->transport = v;
		}
	}
	return p == end;
}

bool sip_uri_parse_lim(struct sip_slice s, const char *lim, struct sip_uri *uri)
{
	/* uri_parse_common sets every field when it succeeds: no memset */
	uri->raw = s;
	if (s.ptr != NULL && uri_parse_common(s, lim, uri))
		return true;

	memset(uri, 0, sizeof(*uri));
	uri->raw = s;
	if (s.ptr == NULL || s.len == 0)
		return false;
	const char *p = s.ptr;
	const char *end = p + s.len;

	/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
	const char *q = p;
	if (!((*q | 0x20) >= 'a' && (*q | 0x20) <= 'z'))
		return false;
	while (q < end && *q != ':') {
		char c = *q;
		if (!(sip_is((unsigned char)c, SIP_CC_HOST) || c == '+'))
			return false;
		q++;
	}
	if (q >= end)
		return false;
	uri->scheme_raw = sip_mk(p, q);
	p = q + 1;
	if (p >= end)
		return false;
	if (uri->scheme_raw.len == 3 && sip_eq_token_lower(uri->scheme_raw.ptr, "sip", 3)) {
		uri->scheme = SIP_SCHEME_SIP;
	} else if (uri->scheme_raw.len == 4 && sip_eq_token_lower(uri->scheme_raw.ptr, "sips", 4)) {
		uri->scheme = SIP_SCHEME_SIPS;
	} else {
		uri->scheme = SIP_SCHEME_OTHER;
		return all_in(p, end, SIP_CC_URIC);
	}

	/* userinfo: up to the '@' (RFC 3261 §25.1: '@' cannot appear unescaped
	 * in the user, password, parameters or headers, but '?' and ';' can be
	 * in the user part) */
	const char *at = sip_find_byte(p, end, '@');
	if (at != NULL) {
		const char *colon = sip_find_byte(p, at, ':');
		const char *user_end = colon ? colon : at;
		if (user_end == p || !all_in(p, user_end, SIP_CC_USER))
			return false;
		uri->user = sip_mk(p, user_end);
		if (colon != NULL) {
			if (!all_in(colon + 1, at, SIP_CC_PASS))
				return false;
			uri->password = sip_mk(colon + 1, at);
		}
		p = at + 1;
	}

	p = sip_scan_host(p, end, &uri->host, &uri->host_is_ipv6);
	if (p == NULL)
		return false;
	if (p < end && *p == ':') {
		p = sip_scan_port(p + 1, end, &uri->port);
		if (p == NULL)
			return false;
		uri->has_port = true;
	}
	if (p < end && *p == ';') {
		const char *qmark = sip_find_byte(p, end, '?');
		const char *pe = qmark ? qmark : end;
		if (!all_in(p + 1, pe, SIP_CC_URIC))
			return false;
		uri->params = sip_mk(p, pe);
		p = pe;
		const char *r = p - uri->params.len;
		struct sip_slice n, v;
		while (r < pe) {
			if (!sip_param_next_lim(&r, pe, lim, &n, &v))
				return false;
			if (n.len == 9 && sip_eq_token_lower(n.ptr, "transport", 9))
				uri->transport = v;
		}
	}
	if (p < end && *p == '?') {
		/* headers = "?" header *( "&" header ), header = hname "=" hvalue */
		if (!all_in(p + 1, end, SIP_CC_URIC) || !valid_uri_headers(p + 1, end))
			return false;
		uri->headers = sip_mk(p + 1, end);
		p = end;
	}
	return p == end;
}

enum sip_method sip_method_from_slice(struct sip_slice s)
{
	const char *m = s.ptr;
	switch (s.len) {
	case 3:
		if (memcmp(m, "ACK", 3) == 0)
			return SIP_METHOD_ACK;
		if (memcmp(m, "BYE", 3) == 0)
			return SIP_METHOD_BYE;
		break;
	case 4:
		if (memcmp(m, "INFO", 4) == 0)
			return SIP_METHOD_INFO;
		break;
	case 5:
		if (memcmp(m, "PRACK", 5) == 0)
			return SIP_METHOD_PRACK;
		if (memcmp(m, "REFER", 5) == 0)
			return SIP_METHOD_REFER;
		break;
	case 6:
		if (memcmp(m, "INVITE", 6) == 0)
			return SIP_METHOD_INVITE;
		if (memcmp(m, "CANCEL", 6) == 0)
			return SIP_METHOD_CANCEL;
		if (memcmp(m, "NOTIFY", 6) == 0)
			return SIP_METHOD_NOTIFY;
		if (memcmp(m, "UPDATE", 6) == 0)
			return SIP_METHOD_UPDATE;
		break;
	case 7:
		if (memcmp(m, "OPTIONS", 7) == 0)
			return SIP_METHOD_OPTIONS;
		if (memcmp(m, "PUBLISH", 7) == 0)
			return SIP_METHOD_PUBLISH;
		if (memcmp(m, "MESSAGE", 7) == 0)
			return SIP_METHOD_MESSAGE;
		break;
	case 8:
		if (memcmp(m, "REGISTER", 8) == 0)
			return SIP_METHOD_REGISTER;
		break;
	case 9:
		if (memcmp(m, "SUBSCRIBE", 9) == 0)
			return SIP_METHOD_SUBSCRIBE;
		break;
	default:
		break;
	}
	return SIP_METHOD_OTHER;
}
