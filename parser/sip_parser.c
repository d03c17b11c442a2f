/*
 * sip_parser.c - one pass over a SIP datagram, headers decoded into slices.
 *
 * Shape: find each line end with an SSE2 scan (which also spots the bytes
 * a head must not hold), recognise the decoded headers' names with 8-byte
 * compares (others by length and first letter), decode the few headers a
 * registrar needs, keep the rest as (name, value). The common forms
 * (sip:user@host URIs, "SIP/2.0/", the Authorization Digest line, whose
 * directive scans also find its line end) take fast paths that hand
 * anything unusual to the general code. Character classes are looked up
 * 16 bytes at a time with SSSE3 pshufb nibble tables (sip_lex.h), with
 * SSE2 and scalar fallbacks. No allocation, no copy, every loop is bounded
 * by the datagram; 16-byte loads may pass a field's end but never the
 * datagram's. Speed measured by perf/bench-parse (callgrind on its
 * corpus: ~10.6 k instructions per REGISTER before the fast paths, ~8.2 k
 * to ~8.5 k with the SSE2 ones, ~6.2 k with the SSSE3 scans and the
 * one-pass Digest line).
 */
#include <string.h>

#include "sip_lex.h"
#include "sip_parser.h"

enum hdr_id {
	HDR_OTHER = 0,
	HDR_VIA,
	HDR_FROM,
	HDR_TO,
	HDR_CALL_ID,
	HDR_CSEQ,
	HDR_CONTACT,
	HDR_EXPIRES,
	HDR_AUTHORIZATION,
	HDR_PROXY_AUTHORIZATION,
	HDR_USER_AGENT,
	HDR_PATH,
	HDR_SUPPORTED,
	HDR_REQUIRE,
	HDR_MAX_FORWARDS,
	HDR_CONTENT_LENGTH,
	HDR_CONTENT_TYPE,   /* kept as an other header, checked for duplicates */
};

/* Header name -> id. Compact forms per RFC 3261 §7.3.3 and RFC 3841. */
static enum hdr_id classify(const char *n, size_t len)
{
	char c = (char)(*n | 0x20);
	switch (len) {
	case 1:
		switch (c) {
		case 'v': return HDR_VIA;
		case 'f': return HDR_FROM;
		case 't': return HDR_TO;
		case 'i': return HDR_CALL_ID;
		case 'm': return HDR_CONTACT;
		case 'l': return HDR_CONTENT_LENGTH;
		case 'k': return HDR_SUPPORTED;
		case 'c': return HDR_CONTENT_TYPE;
		default: return HDR_OTHER;
		}
	case 2:
		return sip_eq_token_lower(n, "to", 2) ? HDR_TO : HDR_OTHER;
	case 3:
		return sip_eq_token_lower(n, "via", 3) ? HDR_VIA : HDR_OTHER;
	case 4:
		if (c == 'f' && sip_eq_token_lower(n, "from", 4))
			return HDR_FROM;
		if (c == 'c' && sip_eq_token_lower(n, "cseq", 4))
			return HDR_CSEQ;
		if (c == 'p' && sip_eq_token_lower(n, "path", 4))
			return HDR_PATH;
		return HDR_OTHER;
	case 7:
		if (c == 'c') {
			if (sip_eq_token_lower(n, "call-id", 7))
				return HDR_CALL_ID;
			if (sip_eq_token_lower(n, "contact", 7))
				return HDR_CONTACT;
		} else if (c == 'e' && sip_eq_token_lower(n, "expires", 7)) {
			return HDR_EXPIRES;
		} else if (c == 'r' && sip_eq_token_lower(n, "require", 7)) {
			return HDR_REQUIRE;
		}
		return HDR_OTHER;
	case 9:
		return sip_eq_token_lower(n, "supported", 9) ? HDR_SUPPORTED : HDR_OTHER;
	case 10:
		return sip_eq_token_lower(n, "user-agent", 10) ? HDR_USER_AGENT : HDR_OTHER;
	case 12:
		if (c == 'm')
			return sip_eq_token_lower(n, "max-forwards", 12) ? HDR_MAX_FORWARDS : HDR_OTHER;
		return sip_eq_token_lower(n, "content-type", 12) ? HDR_CONTENT_TYPE : HDR_OTHER;
	case 13:
		return sip_eq_token_lower(n, "authorization", 13) ? HDR_AUTHORIZATION : HDR_OTHER;
	case 14:
		return sip_eq_token_lower(n, "content-length", 14) ? HDR_CONTENT_LENGTH : HDR_OTHER;
	case 19:
		return sip_eq_token_lower(n, "proxy-authorization", 19) ? HDR_PROXY_AUTHORIZATION : HDR_OTHER;
	default:
		return HDR_OTHER;
	}
}

/* [p, p + n) equals lit (n <= 24, letters without case, other bytes
 * exactly); needs 8 <= n and lim - p >= n, or n < 8 and lim - p >= 8.
 * Overlapping 8-byte words; constants fold since lit is a literal. */
static inline __attribute__((always_inline)) bool name_is(const char *p, const char *lit, unsigned n)
{
	if (n <= 8)
		return sip_word_is(p, lit, n);
	if (n <= 16)
		return sip_word_is(p, lit, 8) && sip_word_is(p + n - 8, lit + n - 8, 8);
	return sip_word_is(p, lit, 8) && sip_word_is(p + 8, lit + 8, 8) && sip_word_is(p + n - 8, lit + n - 8, 8);
}

/* A decoded header's name written in full or compact form and directly
 * followed by ':', recognised with one to three 8-byte compares; *len
 * is the name's length (Allow gives HDR_OTHER). Returns -1 for anything
 * else (other headers, whitespace before the colon, near the datagram
 * end), which the caller then scans and classifies. callgrind on perf/bench-parse's corpus: ~470
 * fewer instructions per REGISTER (~33 per header) than the token scan
 * and classify() for every header. Always inlined: when sip_parse() grows
 * past gcc's inlining limits, the call and *len through memory cost ~160
 * instructions per REGISTER (callgrind). */
static inline __attribute__((always_inline)) int fast_header_name(const char *p, const char *lim, size_t *len)
{
	/* name_is() reads max(8, length) bytes: each name is tried when that
	 * much of the datagram is left, so the last header ("Content-Length:
	 * 0" and the empty line, 21 bytes) is recognised too (it took the
	 * token scan and classify(): ~70 instructions a request, callgrind) */
	size_t room = (size_t)(lim - p);

	if (room < 8)
		return -1;
	if (p[1] == ':') {
		*len = 1;
		enum hdr_id id = classify(p, 1);
		return id == HDR_OTHER ? -1 : (int)id;
	}
#define NAME(lit, id)                                                        \
	do {                                                                 \
		if (room >= sizeof(lit) - 1 && name_is(p, lit, sizeof(lit) - 1)) { \
			*len = sizeof(lit) - 2;                              \
			return id;                                           \
		}                                                            \
	} while (0)
	switch (*p | 0x20) {
	case 'v':
		NAME("via:", HDR_VIA);
		break;
	case 'f':
		NAME("from:", HDR_FROM);
		break;
	case 't':
		NAME("to:", HDR_TO);
		break;
	case 'c':
		NAME("call-id:", HDR_CALL_ID);
		NAME("cseq:", HDR_CSEQ);
		NAME("contact:", HDR_CONTACT);
		NAME("content-length:", HDR_CONTENT_LENGTH);
		NAME("content-type:", HDR_CONTENT_TYPE);
		break;
	case 'm':
		NAME("max-forwards:", HDR_MAX_FORWARDS);
		break;
	case 'e':
		NAME("expires:", HDR_EXPIRES);
		break;
	case 'a':
		NAME("authorization:", HDR_AUTHORIZATION);
		/* not decoded, but in nearly every REGISTER */
		NAME("allow:", HDR_OTHER);
		break;
	case 'u':
		NAME("user-agent:", HDR_USER_AGENT);
		break;
	case 's':
		NAME("supported:", HDR_SUPPORTED);
		break;
	case 'r':
		NAME("require:", HDR_REQUIRE);
		break;
	case 'p':
		NAME("path:", HDR_PATH);
		NAME("proxy-authorization:", HDR_PROXY_AUTHORIZATION);
		break;
	default:
		break;
	}
#undef NAME
	return -1;
}

/* End of the comma-separated element starting at p: the next ',' outside
 * quotes and angle brackets, or end. NULL on an unclosed quote or '<'. */
#if defined(__SSE2__)
/* ',', '"' and '<' in v (arg unused). */
static inline __attribute__((always_inline)) unsigned mask16_element_stop(__m128i v, __m128i arg)
{
	const __m128i comma = _mm_set1_epi8(','), quote = _mm_set1_epi8('"'), laq = _mm_set1_epi8('<');

	(void)arg;
	return (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, comma),
							_mm_or_si128(_mm_cmpeq_epi8(v, quote),
								     _mm_cmpeq_epi8(v, laq))));
}
#endif

static const char *element_end(const char *p, const char *end, const char *lim)
{
	while (p < end) {
#if defined(__SSE2__)
		/* jump to the next ',', '"' or '<' 16 bytes at a time (loads
		 * bounded by the datagram end, hits past end ignored) */
		const char *hit = sip_scan16_lim(&p, end, lim, mask16_element_stop, _mm_setzero_si128());
		if (hit == end)
			break;
		if (hit)
			p = hit;
#endif
		char c = *p;
		if (c == ',')
			return p;
		if (c == '"') {
			p = sip_skip_quoted_lim(p, end, lim);
			if (p == NULL)
				return NULL;
			continue;
		}
		if (c == '<') {
			const char *r = sip_find_byte_lim(p, end, lim, '>');
			if (r == end)
				return NULL;
			p = r + 1;
			continue;
		}
		p++;
	}
	return end;
}

/* element_end() for a Via or Contact value: a value without any ',' is
 * one element, whatever it holds. element_end() would return NULL for an
 * unclosed quoted string or '<' in it, but the element's parser then
 * fails on the same bytes (a quoted string or a '<' is only valid where
 * that parser scans it with the same rules, parameters included), so the
 * status is the same. Not for Path: its parameters are not parsed, so
 * element_end() is what rejects "<sip:p>;x<" there. Only while the list has room (room false: the caller's
 * SIP_PARSE_TOO_MANY_* check comes before the element's parser, and an
 * unclosed quote must still give SIP_PARSE_BAD_*). One 16-byte search
 * instead of a scan that restarts at every quote and angle bracket:
 * callgrind on perf/bench-parse's corpus, 6.63k -> 6.54k instructions per
 * REGISTER. */
static inline const char *element_end_fast(const char *p, const char *end, const char *lim, bool room)
{
	if (room && sip_find_byte_lim(p, end, lim, ',') == end)
		return end;
	return element_end(p, end, lim);
}

/* sip_slice_to_u32() inlined for the header values (CSeq, Max-Forwards,
 * Content-Length, reg-id): the call into sip_uri.c cost more than the few
 * digits (callgrind on perf/bench-parse's corpus: 6.42k -> 6.33k
 * instructions per REGISTER). Same rules: decimal digits only, not empty,
 * at most UINT32_MAX. */
static inline bool u32_decimal(struct sip_slice s, uint32_t *out)
{
	uint64_t v = 0;
	if (s.len == 0 || s.ptr == NULL)
		return false;
	for (uint32_t i = 0; i < s.len; i++) {
		unsigned c = (unsigned char)s.ptr[i] - (unsigned)'0';
		if (c > 9)
			return false;
		v = v * 10 + c;
		if (v > UINT32_MAX)
			return false;
	}
	*out = (uint32_t)v;
	return true;
}

/* Strictly decimal, saturating at UINT32_MAX (delta-seconds, RFC 3261
 * §20.19 / §20.10: a huge value means "as long as allowed"). */
static bool parse_delta_seconds(struct sip_slice s, uint32_t *out)
{
	uint64_t v = 0;
	if (s.len == 0)
		return false;
	for (uint32_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.ptr[i];
		if (c < '0' || c > '9')
			return false;
		if (v <= UINT32_MAX)
			v = v * 10 + (c - '0');
	}
	*out = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
	return true;
}

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ) */
static bool parse_qvalue(struct sip_slice s, uint16_t *milli)
{
	if (s.len == 0 || s.len > 5 || (s.ptr[0] != '0' && s.ptr[0] != '1'))
		return false;
	uint32_t v = (uint32_t)(s.ptr[0] - '0') * 1000;
	if (s.len > 1) {
		if (s.ptr[1] != '.')
			return false;
		uint32_t scale = 100;
		for (uint32_t i = 2; i < s.len; i++, scale /= 10) {
			unsigned char c = (unsigned char)s.ptr[i];
			if (c < '0' || c > '9')
				return false;
			v += (uint32_t)(c - '0') * scale;
		}
	}
	if (v > 1000)
		return false;
	*milli = (uint16_t)v;
	return true;
}

/* name-addr or addr-spec with header params, in [p, end) already trimmed. */
static bool parse_name_addr(const char *p, const char *end, const char *lim, struct sip_name_addr *na)
{
	na->display.ptr = NULL;
	na->display.len = 0;
	na->display_quoted = false;
	na->params.ptr = NULL;
	na->params.len = 0;
	if (p >= end)
		return false;
	const char *laq;
	if (*p == '<') {
		laq = p;
	} else if (*p == '"') {
		const char *q = sip_skip_quoted_lim(p, end, lim);
		if (q == NULL)
			return false;
		na->display = sip_mk(p + 1, q - 1);
		na->display_quoted = true;
		laq = sip_skip_lws(q, end);
		if (laq >= end || *laq != '<')
			return false;
	} else {
		laq = sip_find_byte(p, end, '<');
		if (laq != NULL) {
			const char *de = sip_rskip_lws(p, laq);
			for (const char *d = p; d < de; d++)
				if (!sip_is((unsigned char)*d, SIP_CC_TOKEN) && !sip_is_lws(*d))
					return false;
			if (de > p)
				na->display = sip_mk(p, de);
		}
	}
	const char *after;
	if (laq != NULL) {
		const char *raq = sip_find_byte_lim(laq, end, lim, '>');
		if (raq == end)
			return false;
		if (!sip_uri_parse_lim(sip_mk(laq + 1, raq), lim, &na->uri))
			return false;
		after = sip_skip_lws(raq + 1, end);
		if (after < end && *after != ';')
			return false;
	} else {
		/* addr-spec: parameters after the URI belong to the header
		 * (RFC 3261 §20.10), so the URI stops at the first ';'. */
		const char *semi = sip_find_byte(p, end, ';');
		after = semi ? semi : end;
		if (!sip_uri_parse_lim(sip_mk(p, sip_rskip_lws(p, after)), lim, &na->uri))
			return false;
	}
	if (after < end)
		na->params = sip_mk(after, end);
	return true;
}

static bool parse_from_to(const char *p, const char *end, const char *lim, struct sip_from_to *ft)
{
	if (!parse_name_addr(p, end, lim, &ft->addr))
		return false;
	ft->tag.ptr = NULL;
	ft->tag.len = 0;
	const char *r = ft->addr.params.ptr, *re = r != NULL ? r + ft->addr.params.len : r;
	struct sip_slice n, v;
	while (r < re) {
		if (!sip_header_param_next_lim(&r, re, lim, &n, &v))
			return false;
		if (n.len == 3 && sip_eq_token_lower(n.ptr, "tag", 3)) {
			if (v.ptr == NULL || v.len == 0)
				return false;
			ft->tag = v;
		}
	}
	ft->present = true;
	ft->raw = sip_mk(p, end);
	return true;
}

static bool parse_contact(const char *p, const char *end, const char *lim, struct sip_contact *c)
{
	if (!parse_name_addr(p, end, lim, &c->addr))
		return false;
	c->has_q = false;
	c->q_milli = 0;
	c->q.ptr = NULL;
	c->q.len = 0;
	c->has_expires = false;
	c->expires = 0;
	c->instance.ptr = NULL;
	c->instance.len = 0;
	c->has_reg_id = false;
	c->reg_id = 0;
	const char *r = c->addr.params.ptr, *re = r != NULL ? r + c->addr.params.len : r;
	struct sip_slice n, v;
	while (r < re) {
		if (!sip_header_param_next_lim(&r, re, lim, &n, &v))
			return false;
		if (n.len == 1 && (*n.ptr | 0x20) == 'q') {
			if (!parse_qvalue(v, &c->q_milli))
				return false;
			c->q = v;
			c->has_q = true;
		} else if (n.len == 7 && sip_eq_token_lower(n.ptr, "expires", 7)) {
			if (!parse_delta_seconds(v, &c->expires))
				return false;
			c->has_expires = true;
		} else if (n.len == 13 && sip_eq_token_lower(n.ptr, "+sip.instance", 13)) {
			if (v.ptr == NULL)
				return false;
			c->instance = v;
		} else if (n.len == 6 && sip_eq_token_lower(n.ptr, "reg-id", 6)) {
			if (!u32_decimal(v, &c->reg_id))
				return false;
			c->has_reg_id = true;
		}
	}
	return true;
}

/* via-parm = sent-protocol LWS sent-by *( SEMI via-params ) */
static bool parse_via(const char *p, const char *end, const char *lim, struct sip_via *v)
{
	/* every field written here rather than a memset of the struct
	 * (callgrind on perf/bench-parse's corpus: 6.26k -> 6.24k
	 * instructions per REGISTER) */
	const struct sip_slice none = { NULL, 0 };
	v->host_is_ipv6 = false;
	v->has_port = false;
	v->port = 0;
	v->branch = none;
	v->received = none;
	v->has_rport = false;
	v->rport_has_value = false;
	v->rport_name = (struct sip_slice){ NULL, 0 };
	v->rport = 0;
	v->params = none;
	const char *q, *start = p;
	if (end - p > 8 && lim - p >= 16 && memcmp(p, "SIP/2.0/", 8) == 0) {
		/* the usual sent-protocol, as the token scans below would
		 * split it (perf/bench-parse, callgrind: this, the Via host
		 * scan, '<' first in name-addr, the request line's " SIP/2.0"
		 * and element_end's bounded loads saved ~490 instructions per
		 * REGISTER together) */
		v->protocol = sip_mk(p, p + 3);
		v->version = sip_mk(p + 4, p + 7);
		p = sip_skip_lws(p + 8, end);
	} else {
		q = sip_skip_class_fast(p, end, SIP_CC_TOKEN);
		if (q == p)
			return false;
		v->protocol = sip_mk(p, q);
		p = sip_skip_lws(q, end);
		if (p >= end || *p != '/')
			return false;
		p = sip_skip_lws(p + 1, end);
		q = sip_skip_class_fast(p, end, SIP_CC_TOKEN);
		if (q == p)
			return false;
		v->version = sip_mk(p, q);
		p = sip_skip_lws(q, end);
		if (p >= end || *p != '/')
			return false;
		p = sip_skip_lws(p + 1, end);
	}
	q = sip_skip_class_lim(p, end, lim, SIP_CC_TOKEN);
	if (q == p || q >= end || !sip_is_lws(*q))
		return false;
	v->transport = sip_mk(p, q);
	p = sip_skip_lws(q, end);
	if (p < end && *p != '[') {
		q = sip_skip_class_lim(p, end, lim, SIP_CC_HOST);
		if (q == p)
			return false;
		v->host = sip_mk(p, q);
		p = q;
	} else {
		p = sip_scan_host(p, end, &v->host, &v->host_is_ipv6);
		if (p == NULL)
			return false;
	}
	const char *sent_end = p;
	p = sip_skip_lws(p, end);
	if (p < end && *p == ':') {
		p = sip_scan_port_lim(sip_skip_lws(p + 1, end), end, lim, &v->port);
		if (p == NULL)
			return false;
		v->has_port = true;
		sent_end = p;
	}
	v->sent_raw = sip_mk(start, sent_end);
	p = sip_skip_lws(p, end);
	if (p >= end)
		return true;
	if (*p != ';')
		return false;
	v->params = sip_mk(p, end);
	const char *r = p;
	struct sip_slice n, val;
	while (r < end) {
		if (!sip_header_param_next_lim(&r, end, lim, &n, &val))
			return false;
		if (n.len == 6 && sip_eq_token_lower(n.ptr, "branch", 6)) {
			if (val.ptr == NULL || val.len == 0)
				return false;
			v->branch = val;
		} else if (n.len == 8 && sip_eq_token_lower(n.ptr, "received", 8)) {
			if (val.ptr == NULL || val.len == 0)
				return false;
			v->received = val;
		} else if (n.len == 5 && sip_eq_token_lower(n.ptr, "rport", 5)) {
			v->has_rport = true;
			v->rport_name = n;
			if (val.ptr != NULL) {
				if (sip_scan_port(val.ptr, val.ptr + val.len, &v->rport) != val.ptr + val.len)
					return false;
				v->rport_has_value = true;
			}
		}
	}
	return true;
}

/* The directive name at p when it is one the registrar stores: its length
 * (the name is a whole token), else 0. One 8-byte compare per name instead
 * of a token scan and a switch: callgrind on perf/bench-parse's corpus,
 * parse_credentials went from ~1,980 to ~1,870 instructions per REGISTER
 * with this and the _lim scanners (inlining the quoted-string scan then
 * took it lower; the rest is the ten values' own scans). */
static unsigned digest_name(const char *p, const char *end, const char *lim, struct sip_credentials *cr,
			    struct sip_slice **dst, bool *must_quote)
{
	if (lim - p < 16)
		return 0;
	unsigned n = 0;
	switch (*p | 0x20) {
	case 'u':
		if (sip_word_is(p, "username", 8)) {
			n = 8;
			*dst = &cr->username;
		} else if (sip_word_is(p, "uri", 3)) {
			n = 3;
			*dst = &cr->uri;
		}
		break;
	case 'r':
		if (sip_word_is(p, "realm", 5)) {
			n = 5;
			*dst = &cr->realm;
		} else if (sip_word_is(p, "response", 8)) {
			n = 8;
			*dst = &cr->response;
		}
		break;
	case 'n':
		if (sip_word_is(p, "nonce", 5)) {
			n = 5;
			*dst = &cr->nonce;
		} else if (sip_word_is(p, "nc", 2)) {
			n = 2;
			*dst = &cr->nc;
			*must_quote = false;
		}
		break;
	case 'c':
		if (sip_word_is(p, "cnonce", 6)) {
			n = 6;
			*dst = &cr->cnonce;
		}
		break;
	case 'o':
		if (sip_word_is(p, "opaque", 6)) {
			n = 6;
			*dst = &cr->opaque;
		}
		break;
	case 'a':
		if (sip_word_is(p, "algorith", 8) && (p[8] | 0x20) == 'm') {
			n = 9;
			*dst = &cr->algorithm;
			*must_quote = false;
		}
		break;
	case 'q':
		if (sip_word_is(p, "qop", 3)) {
			n = 3;
			*dst = &cr->qop;
			*must_quote = false;
		}
		break;
	default:
		break;
	}
	/* a whole token: it ends inside the value, before a non-token byte */
	if (n == 0 || (size_t)(end - p) < n || (p + n < end && sip_is((unsigned char)p[n], SIP_CC_TOKEN))) {
		*dst = NULL;
		*must_quote = true;
		return 0;
	}
	return n;
}

/* [p, p + 8) are hex digits (nc-value). One 16-byte class lookup when
 * 16 bytes remain before lim, else a byte loop (callgrind: see
 * parse_digest_common's ", " step). */
static inline bool is_8_hex(const char *p, const char *lim)
{
#if defined(__SSSE3__)
	if (lim - p >= 16)
		return (sip_not_in_class16(_mm_loadu_si128((const __m128i *)(const void *)p), sip_class_tbl(SIP_CC_HEX)) &
			0xffu) == 0;
#else
	(void)lim;
#endif
	return sip_skip_class(p, p + 8, SIP_CC_HEX) == p + 8;
}

/* How a Digest directive's value may be written. */
enum digest_form {
	DIGEST_QUOTED,   /* quoted-string only */
	DIGEST_EITHER,   /* token or quoted-string (algorithm, qop) */
	DIGEST_NC,       /* 8LHEX, never quoted */
};

/* The known directive name ("name=") at p: its length, with *dst the slice
 * it fills and *form how its value is written; 0 for anything else.  One
 * switch on the first letter, one or two 8-byte compares. */
static inline __attribute__((always_inline)) unsigned digest_directive(const char *p, struct sip_credentials *cr,
								       struct sip_slice **dst,
								       enum digest_form *form)
{
#define DIRECTIVE(lit, field, value_form)                       \
	do {                                                    \
		if (name_is(p, lit, sizeof(lit) - 1)) {         \
			*dst = &cr->field;                      \
			*form = value_form;                     \
			return sizeof(lit) - 1;                 \
		}                                               \
	} while (0)
	switch (*p | 0x20) {
	case 'u':
		DIRECTIVE("username=", username, DIGEST_QUOTED);
		DIRECTIVE("uri=", uri, DIGEST_QUOTED);
		break;
	case 'r':
		DIRECTIVE("realm=", realm, DIGEST_QUOTED);
		DIRECTIVE("response=", response, DIGEST_QUOTED);
		break;
	case 'n':
		DIRECTIVE("nonce=", nonce, DIGEST_QUOTED);
		DIRECTIVE("nc=", nc, DIGEST_NC);
		break;
	case 'c':
		DIRECTIVE("cnonce=", cnonce, DIGEST_QUOTED);
		break;
	case 'o':
		DIRECTIVE("opaque=", opaque, DIGEST_QUOTED);
		break;
	case 'a':
		DIRECTIVE("algorithm=", algorithm, DIGEST_EITHER);
		break;
	case 'q':
		DIRECTIVE("qop=", qop, DIGEST_EITHER);
		break;
	}
#undef DIRECTIVE
	return 0;
}

/*
 * Digest directives in the form phones send them: a known name directly
 * followed by '=', then a quoted string without escapes or control
 * characters, or a token; directives separated by ',' and optional SP/HT.
 * Returns where the directives stop (after a value not followed by ',':
 * end, or the CR / LF ending the header line when end is the datagram's
 * end), with the ten slices exactly what the general loop in
 * parse_credentials() gives for the directives before it; NULL on
 * anything else, valid or not (an unknown directive, a duplicate, LWS
 * around '=' or before ',', a fold, an escape, the last 16 bytes of the
 * datagram), and the general loop decides. One switch on the first letter,
 * one or two 8-byte compares of "name=", one quoted-string scan per
 * directive. callgrind on perf/bench-parse's corpus: parse_credentials
 * went from ~1,870 to ~1,380 instructions per REGISTER (sip_parse: 8.16k
 * -> 7.67k).
 */
static const char *parse_digest_common(const char *p, const char *end, const char *lim, struct sip_credentials *cr)
{
	for (;;) {
		if (p >= end || lim - p < 16)
			return NULL;
		struct sip_slice *dst;
		enum digest_form form;
		unsigned n = digest_directive(p, cr, &dst, &form);   /* length of "name=" */
		if (n == 0)
			return NULL;
		if (dst->ptr != NULL)
			return NULL;
		p += n;
		if (p < end && *p == '"') {
			if (form == DIGEST_NC)
				return NULL;
			const char *q = sip_find_qstop_lim(p + 1, end, lim);
			if (q >= end || *q != '"')
				return NULL;
			*dst = sip_mk(p + 1, q);
			p = q + 1;
		} else {
			if (form == DIGEST_QUOTED)
				return NULL;
			const char *q = sip_skip_class_lim(p, end, lim, SIP_CC_TOKEN);
			if (q == p)
				return NULL;
			/* nonce-count = "nc" EQUAL nc-value, nc-value = 8LHEX */
			if (form == DIGEST_NC && (q - p != 8 || !is_8_hex(p, lim)))
				return NULL;
			*dst = sip_mk(p, q);
			p = q;
		}
		if (p >= end || *p != ',')
			return p;
		/* ", " then the next name: no loop (callgrind on
		 * perf/bench-parse's corpus: this, is_8_hex() and the
		 * header line trim, 6.53k -> 6.42k per REGISTER) */
		if (end - p > 2 && p[1] == ' ' && (unsigned char)p[2] > ' ') {
			p += 2;
			continue;
		}
		p++;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
	}
}

/* credentials = "Digest" LWS digest-response *(COMMA digest-response) */
static bool parse_credentials(const char *p, const char *end, const char *lim, struct sip_credentials *cr)
{
	memset(cr, 0, sizeof(*cr));
	const char *q = sip_skip_class_lim(p, end, lim, SIP_CC_TOKEN);
	if (q == p)
		return false;
	cr->scheme = sip_mk(p, q);
	cr->is_digest = (q - p == 6 && sip_eq_token_lower(p, "digest", 6));
	if (q < end && !sip_is_lws(*q))
		return false;
	p = sip_skip_lws(q, end);
	cr->params = sip_mk(p, end);
	/* other-response = auth-scheme LWS auth-param *(COMMA auth-param);
	 * its params are checked for syntax but not stored */
	if (p >= end)
		return false;
	if (cr->is_digest) {
		if (parse_digest_common(p, end, lim, cr) == end)
			return true;
		memset(&cr->username, 0, sizeof(*cr) - offsetof(struct sip_credentials, username));
	}
	while (p < end) {
		struct sip_slice *dst = NULL;
		/* RFC 3261 §25.1: username, realm, nonce, uri, response, cnonce
		 * and opaque are quoted-strings; algorithm, qop and nc are
		 * tokens, but phones quote them too, so both are accepted. */
		bool must_quote = true;
		const char *n = p;
		unsigned known = cr->is_digest ? digest_name(p, end, lim, cr, &dst, &must_quote) : 0;
		if (known != 0) {
			p += known;
		} else {
			p = sip_skip_class_lim(p, end, lim, SIP_CC_TOKEN);
			if (p == n)
				return false;
		}
		struct sip_slice name = sip_mk(n, p);
		p = sip_skip_lws(p, end);
		if (p >= end || *p != '=')
			return false;
		p = sip_skip_lws(p + 1, end);
		struct sip_slice val;
		bool quoted = p < end && *p == '"';
		if (quoted) {
			q = sip_skip_quoted_lim(p, end, lim);
			if (q == NULL)
				return false;
			val = sip_mk(p + 1, q - 1);
			p = q;
		} else {
			q = sip_skip_class_lim(p, end, lim, SIP_CC_TOKEN);
			if (q == p)
				return false;
			val = sip_mk(p, q);
			p = q;
		}
		p = sip_skip_lws(p, end);
		if (p < end) {
			if (*p != ',')
				return false;
			p = sip_skip_lws(p + 1, end);
			if (p >= end)
				return false;
		}
		if (!cr->is_digest)
			continue;
		if (known == 0) {
			const char *s = name.ptr;
			switch (name.len) {
			case 2:
				if (sip_eq_token_lower(s, "nc", 2)) {
					dst = &cr->nc;
					must_quote = false;
				}
				break;
			case 3:
				if (sip_eq_token_lower(s, "uri", 3)) {
					dst = &cr->uri;
				} else if (sip_eq_token_lower(s, "qop", 3)) {
					dst = &cr->qop;
					must_quote = false;
				}
				break;
			case 5:
				if (sip_eq_token_lower(s, "realm", 5))
					dst = &cr->realm;
				else if (sip_eq_token_lower(s, "nonce", 5))
					dst = &cr->nonce;
				break;
			case 6:
				if (sip_eq_token_lower(s, "cnonce", 6))
					dst = &cr->cnonce;
				else if (sip_eq_token_lower(s, "opaque", 6))
					dst = &cr->opaque;
				break;
			case 8:
				if (sip_eq_token_lower(s, "username", 8))
					dst = &cr->username;
				else if (sip_eq_token_lower(s, "response", 8))
					dst = &cr->response;
				break;
			case 9:
				if (sip_eq_token_lower(s, "algorithm", 9)) {
					dst = &cr->algorithm;
					must_quote = false;
				}
				break;
			default:
				break;
			}
		}
		if (dst != NULL) {
			if (must_quote && !quoted)
				return false;
			/* nonce-count = "nc" EQUAL nc-value, nc-value = 8LHEX */
			if (dst == &cr->nc && (quoted || val.len != 8 ||
					       sip_skip_class(val.ptr, val.ptr + 8, SIP_CC_HEX) != val.ptr + 8))
				return false;
			if (dst->ptr != NULL)
				return false; /* a directive twice: ambiguous */
			*dst = val;
		}
	}
	return true;
}

/*
 * A whole "Authorization: Digest ..." line in the form phones send (see
 * parse_digest_common), from just after the colon, with the datagram end
 * as the only bound: the directives' own scans find the line end, so the
 * line is not searched first. Every byte up to the line end is then a name,
 * '=', ',', SP/HT, a token or quoted-string text without control
 * characters, so the NUL / bare-CR check of find_lf() is not needed.
 * Returns the LF ending the line, with *cr what parse_credentials() gives
 * for the line's value; NULL for any other form (a fold, trailing
 * whitespace, another scheme, ...), and the caller takes the general path.
 * callgrind on perf/bench-parse's corpus: 7.24k -> 6.76k instructions per
 * REGISTER (the ~400-byte line was searched 16 bytes at a time first).
 */
static const char *authorization_line(const char *v, const char *end, struct sip_credentials *cr)
{
	const char *p = v;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (end - p < 16 || !name_is(p, "digest ", 7))
		return NULL;
	memset(cr, 0, sizeof(*cr));
	cr->scheme = sip_mk(p, p + 6);
	cr->is_digest = true;
	p += 7;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	const char *params = p;
	const char *q = parse_digest_common(p, end, end, cr);
	if (q == NULL || q >= end)
		return NULL;
	const char *nl;
	if (*q == '\n')
		nl = q;
	else if (*q == '\r' && end - q >= 2 && q[1] == '\n')
		nl = q + 1;
	else
		return NULL;
	/* a folded line continues the value: general path */
	if (end - nl < 2 || nl[1] == ' ' || nl[1] == '\t')
		return NULL;
	cr->params = sip_mk(params, q);
	return nl;
}

/* CSeq = 1*DIGIT LWS Method; the number must be < 2**31 (§8.1.1.5).
 * Loads bounded by lim (the datagram end), as for the Call-ID and option
 * tags below: the short method, Call-ID words and option tags were scanned
 * byte by byte when fewer than 16 bytes of the value were left (callgrind on
 * perf/bench-pipeline's REGISTER: ~85 fewer instructions). */
static bool parse_cseq(const char *p, const char *end, const char *lim, struct sip_msg *m)
{
	const char *value = p;
	const char *q = sip_skip_class(p, end, SIP_CC_DIGIT);
	uint32_t n;
	if (q == p || q >= end || !sip_is_lws(*q) || !u32_decimal(sip_mk(p, q), &n) || n >= 0x80000000u)
		return false;
	p = sip_skip_lws(q, end);
	q = sip_skip_class_lim(p, end, lim, SIP_CC_TOKEN);
	if (q == p || q != end)
		return false;
	m->cseq = n;
	m->cseq_method_raw = sip_mk(p, q);
	m->cseq_method = sip_method_from_slice(m->cseq_method_raw);
	m->cseq_raw = sip_mk(value, end);
	m->has_cseq = true;
	return true;
}

/* Call-ID = word [ "@" word ] */
static bool valid_call_id(const char *p, const char *end, const char *lim)
{
	const char *q = sip_skip_class_lim(p, end, lim, SIP_CC_WORD);
	if (q == p)
		return false;
	if (q < end && *q == '@') {
		const char *r = sip_skip_class_lim(q + 1, end, lim, SIP_CC_WORD);
		if (r == q + 1)
			return false;
		q = r;
	}
	return q == end;
}

static enum sip_parse_status parse_option_tags(const char *p, const char *end, const char *lim,
					       struct sip_slice *tags, uint8_t *count)
{
	while (p < end) {
		const char *q = sip_skip_class_lim(p, end, lim, SIP_CC_TOKEN);
		if (q == p)
			return SIP_PARSE_BAD_OPTION_TAG;
		if (*count >= SIP_MAX_OPTION_TAGS)
			return SIP_PARSE_TOO_MANY_OPTION_TAGS;
		tags[(*count)++] = sip_mk(p, q);
		p = sip_skip_lws(q, end);
		if (p < end) {
			if (*p != ',')
				return SIP_PARSE_BAD_OPTION_TAG;
			p = sip_skip_lws(p + 1, end);
			if (p >= end)
				return SIP_PARSE_BAD_OPTION_TAG;
		}
	}
	return SIP_PARSE_OK;
}

static bool parse_number(const char *p, const char *end, uint32_t *out)
{
	return u32_decimal(sip_mk(p, end), out);
}

static enum sip_parse_status add_other(struct sip_msg *m, struct sip_slice name, const char *v, const char *ve)
{
	if (m->other_count >= SIP_MAX_OTHER_HEADERS)
		return SIP_PARSE_TOO_MANY_HEADERS;
	m->other[m->other_count].name = name;
	m->other[m->other_count].value = sip_mk(v, ve);
	m->other_count++;
	return SIP_PARSE_OK;
}

static enum sip_parse_status parse_header(struct sip_msg *m, enum hdr_id id, struct sip_slice name,
					  const char *v, const char *ve, const char *lim)
{
	switch (id) {
	case HDR_VIA:
		if (v >= ve)
			return SIP_PARSE_BAD_VIA;
		while (v < ve) {
			const char *e = element_end_fast(v, ve, lim, m->via_count < SIP_MAX_VIAS);
			if (e == NULL)
				return SIP_PARSE_BAD_VIA;
			if (m->via_count >= SIP_MAX_VIAS)
				return SIP_PARSE_TOO_MANY_VIAS;
			if (!parse_via(v, sip_rskip_lws(v, e), lim, &m->via[m->via_count]))
				return SIP_PARSE_BAD_VIA;
			m->via_count++;
			if (e < ve) {
				v = sip_skip_lws(e + 1, ve);
				if (v >= ve)
					return SIP_PARSE_BAD_VIA;
			} else {
				v = e;
			}
		}
		return SIP_PARSE_OK;
	case HDR_FROM:
		if (m->from.present)
			return SIP_PARSE_DUPLICATE_FROM;
		return parse_from_to(v, ve, lim, &m->from) ? SIP_PARSE_OK : SIP_PARSE_BAD_FROM;
	case HDR_TO:
		if (m->to.present)
			return SIP_PARSE_DUPLICATE_TO;
		return parse_from_to(v, ve, lim, &m->to) ? SIP_PARSE_OK : SIP_PARSE_BAD_TO;
	case HDR_CALL_ID:
		if (m->call_id.ptr != NULL)
			return SIP_PARSE_DUPLICATE_CALL_ID;
		if (!valid_call_id(v, ve, lim))
			return SIP_PARSE_BAD_CALL_ID;
		m->call_id = sip_mk(v, ve);
		return SIP_PARSE_OK;
	case HDR_CSEQ:
		if (m->has_cseq)
			return SIP_PARSE_DUPLICATE_CSEQ;
		return parse_cseq(v, ve, lim, m) ? SIP_PARSE_OK : SIP_PARSE_BAD_CSEQ;
	case HDR_CONTACT:
		/* Contact: ( STAR / contact-param *(COMMA contact-param) ):
		 * "*" cannot be combined with another Contact (§7.3.1, §20.10) */
		if (v >= ve || m->contact_star)
			return SIP_PARSE_BAD_CONTACT;
		if (*v == '*' && v + 1 == ve) {
			if (m->contact_count > 0)
				return SIP_PARSE_BAD_CONTACT;
			m->contact_star = true;
			return SIP_PARSE_OK;
		}
		while (v < ve) {
			const char *e = element_end_fast(v, ve, lim, m->contact_count < SIP_MAX_CONTACTS);
			if (e == NULL)
				return SIP_PARSE_BAD_CONTACT;
			if (m->contact_count >= SIP_MAX_CONTACTS)
				return SIP_PARSE_TOO_MANY_CONTACTS;
			if (!parse_contact(v, sip_rskip_lws(v, e), lim, &m->contact[m->contact_count]))
				return SIP_PARSE_BAD_CONTACT;
			m->contact_count++;
			if (e < ve) {
				v = sip_skip_lws(e + 1, ve);
				if (v >= ve)
					return SIP_PARSE_BAD_CONTACT;
			} else {
				v = e;
			}
		}
		return SIP_PARSE_OK;
	case HDR_EXPIRES:
		if (m->has_expires)
			return SIP_PARSE_DUPLICATE_EXPIRES;
		if (!parse_delta_seconds(sip_mk(v, ve), &m->expires))
			return SIP_PARSE_BAD_EXPIRES;
		m->has_expires = true;
		return SIP_PARSE_OK;
	case HDR_AUTHORIZATION:
		if (m->authorization_count >= SIP_MAX_CREDENTIALS)
			return SIP_PARSE_TOO_MANY_CREDENTIALS;
		if (!parse_credentials(v, ve, lim, &m->authorization[m->authorization_count]))
			return SIP_PARSE_BAD_AUTHORIZATION;
		m->authorization_count++;
		return SIP_PARSE_OK;
	case HDR_PROXY_AUTHORIZATION:
		if (m->proxy_authorization_count >= SIP_MAX_CREDENTIALS)
			return SIP_PARSE_TOO_MANY_CREDENTIALS;
		if (!parse_credentials(v, ve, lim, &m->proxy_authorization[m->proxy_authorization_count]))
			return SIP_PARSE_BAD_PROXY_AUTHORIZATION;
		m->proxy_authorization_count++;
		return SIP_PARSE_OK;
	case HDR_USER_AGENT:
		if (m->user_agent.ptr == NULL)
			m->user_agent = sip_mk(v, ve);
		return SIP_PARSE_OK;
	case HDR_PATH:
		if (v >= ve)
			return SIP_PARSE_BAD_PATH;
		while (v < ve) {
			const char *e = element_end(v, ve, lim);
			struct sip_name_addr na;
			if (e == NULL)
				return SIP_PARSE_BAD_PATH;
			const char *te = sip_rskip_lws(v, e);
			if (!parse_name_addr(v, te, lim, &na))
				return SIP_PARSE_BAD_PATH;
			if (m->path_count >= SIP_MAX_PATHS)
				return SIP_PARSE_TOO_MANY_PATHS;
			m->path[m->path_count++] = sip_mk(v, te);
			if (e < ve) {
				v = sip_skip_lws(e + 1, ve);
				if (v >= ve)
					return SIP_PARSE_BAD_PATH;
			} else {
				v = e;
			}
		}
		return SIP_PARSE_OK;
	case HDR_SUPPORTED:
		return parse_option_tags(v, ve, lim, m->supported, &m->supported_count);
	case HDR_REQUIRE:
		return parse_option_tags(v, ve, lim, m->require, &m->require_count);
	case HDR_MAX_FORWARDS:
		if (m->has_max_forwards)
			return SIP_PARSE_DUPLICATE_MAX_FORWARDS;
		if (!parse_number(v, ve, &m->max_forwards))
			return SIP_PARSE_BAD_MAX_FORWARDS;
		m->has_max_forwards = true;
		return SIP_PARSE_OK;
	case HDR_CONTENT_LENGTH:
		if (m->has_content_length)
			return SIP_PARSE_DUPLICATE_CONTENT_LENGTH;
		if (!parse_number(v, ve, &m->content_length))
			return SIP_PARSE_BAD_CONTENT_LENGTH;
		m->has_content_length = true;
		return SIP_PARSE_OK;
	case HDR_CONTENT_TYPE:
		if (m->has_content_type)
			return SIP_PARSE_DUPLICATE_CONTENT_TYPE;
		m->has_content_type = true;
		return add_other(m, name, v, ve);
	case HDR_OTHER:
	default:
		return add_other(m, name, v, ve);
	}
}

/* SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT; only 2.0 is accepted. */
static bool is_sip_2_0(const char *p, const char *end)
{
	/* two overlapping 4-byte compares: "SIP" without case (OR-ing 0x20
	 * turns only 'S', 'I', 'P' into 's', 'i', 'p'), then "/2.0" exactly
	 * (callgrind, perf/bench-pipeline: ~40 fewer instructions a request
	 * line than the byte compares) */
	uint32_t head, tail, want_head, want_tail, fold, keep;

	if (end - p != 7)
		return false;
	memcpy(&head, p, 4);
	memcpy(&tail, p + 3, 4);
	memcpy(&want_head, "sip/", 4);
	memcpy(&want_tail, "/2.0", 4);
	memcpy(&fold, "\x20\x20\x20\x00", 4);
	memcpy(&keep, "\xff\xff\xff\x00", 4);
	return ((head | fold) & keep) == (want_head & keep) && tail == want_tail;
}

static enum sip_parse_status parse_request_line(struct sip_msg *m, const char *p, const char *end, const char *lim)
{
	const char *sp1 = sip_find_byte(p, end, ' ');
	if (sp1 == NULL)
		return SIP_PARSE_BAD_START_LINE;
	/* 16 bytes a step (callgrind: 6.22k -> 6.20k per REGISTER) */
	if (sp1 == p || sip_skip_class_lim(p, sp1, lim, SIP_CC_TOKEN) != sp1)
		return SIP_PARSE_BAD_METHOD;
	m->method_raw = sip_mk(p, sp1);
	m->method = sip_method_from_slice(m->method_raw);
	const char *sp2 = end;
	if (end - sp1 > 8 && end[-8] == ' ' && is_sip_2_0(end - 7, end)) {
		sp2 = end - 7; /* the usual " SIP/2.0": no byte loop (see parse_via) */
	} else {
		while (sp2 > sp1 && sp2[-1] != ' ')
			sp2--;
	}
	/* sp2 now points after the last space */
	if (sp2 - 1 == sp1)
		return SIP_PARSE_BAD_START_LINE;
	if (!is_sip_2_0(sp2, end))
		return SIP_PARSE_BAD_VERSION;
	m->version = sip_mk(sp2, end);
	if (!sip_uri_parse_lim(sip_mk(sp1 + 1, sp2 - 1), lim, &m->request_uri))
		return SIP_PARSE_BAD_REQUEST_URI;
	return SIP_PARSE_OK;
}

static enum sip_parse_status parse_status_line(struct sip_msg *m, const char *p, const char *end)
{
	const char *sp = sip_find_byte(p, end, ' ');
	if (sp == NULL || !is_sip_2_0(p, sp))
		return SIP_PARSE_BAD_VERSION;
	m->version = sip_mk(p, sp);
	p = sp + 1;
	if (end - p < 3)
		return SIP_PARSE_BAD_STATUS_CODE;
	for (int i = 0; i < 3; i++)
		if (p[i] < '0' || p[i] > '9')
			return SIP_PARSE_BAD_STATUS_CODE;
	m->status_code = (uint16_t)((p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0'));
	if (m->status_code < 100 || m->status_code > 699)
		return SIP_PARSE_BAD_STATUS_CODE;
	p += 3;
	/* Status-Line = SIP-Version SP Status-Code SP Reason-Phrase CRLF: the
	 * second SP is there even when the reason phrase is empty */
	if (p >= end || *p != ' ')
		return SIP_PARSE_BAD_STATUS_CODE;
	p++;
	for (const char *r = p; r < end; r++) {
		unsigned char c = (unsigned char)*r;
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return SIP_PARSE_BAD_REASON_PHRASE;
	}
	m->reason = sip_mk(p, end);
	return SIP_PARSE_OK;
}

/* The next LF in [p, end), or NULL; end is the datagram end. Sets *odd
 * when a byte before that LF is a NUL or a CR not followed by LF: the
 * bytes check_header_bytes() rejects. The lines are searched from the
 * start line's first byte and from each header value's first byte (a
 * header name, its whitespace and its colon hold neither), so a head
 * without *odd set passes check_header_bytes() and that second pass over
 * the head is only made for the rare head with a NUL or a bare-looking
 * CR. callgrind on perf/bench-parse's corpus: ~400 fewer instructions per
 * REGISTER than the second pass over every head. (A 64-byte bitmap of
 * LF, CR and NUL for the whole head was tried first: with SSE2's 16-bit
 * movemasks it cost ~400 more than the per-line search.) */
static inline const char *find_lf(const char *p, const char *end, bool *odd)
{
#if defined(__SSE2__)
	/* The NUL / bare-CR flags of each 16 bytes are OR-ed into one vector
	 * and tested once per line, not per 16 bytes. The bytes after the LF
	 * in its 16 are flagged too (the next line's, or the body's after the
	 * empty line): *odd may then be set for a head that passes, which
	 * only costs check_header_bytes()'s second pass; it is never missed
	 * for a head that fails. callgrind on perf/bench-parse's corpus: ~110
	 * fewer instructions per REGISTER than a movemask and a branch on the
	 * flags of every 16 bytes. */
	const __m128i lf = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r'), zero = _mm_setzero_si128();
	__m128i flags = zero;
	while (end - p >= 17) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
		__m128i next = _mm_loadu_si128((const __m128i *)(const void *)(p + 1));
		unsigned lfm = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, lf));
		__m128i bad = _mm_andnot_si128(_mm_cmpeq_epi8(next, lf), _mm_cmpeq_epi8(v, cr));
		flags = _mm_or_si128(flags, _mm_or_si128(bad, _mm_cmpeq_epi8(v, zero)));
		if (lfm != 0) {
			if (_mm_movemask_epi8(flags) != 0)
				*odd = true;
			return p + __builtin_ctz(lfm);
		}
		p += 16;
	}
	if (_mm_movemask_epi8(flags) != 0)
		*odd = true;
#endif
	for (; p < end; p++) {
		if (*p == '\n')
			return p;
		if (*p == '\0' || (*p == '\r' && (p + 1 >= end || p[1] != '\n')))
			*odd = true;
	}
	return NULL;
}

/* One pass over the start line and headers [buf, hend): every CR is
 * followed by LF (line end or fold, RFC 3261 §7.3.1), and a NUL byte only
 * appears escaped, right after a backslash (quoted-pair, RFC 3261 §25.1;
 * RFC 4475 intmeth has one). The field parsers treat CR as whitespace and
 * do not look inside unknown header values, so this check is what rejects
 * a bare CR or a raw NUL. hend is past the empty line, so its CR LF is
 * complete. (A NUL after a backslash outside a quoted string, in a value we
 * do not decode, passes: it cannot change any decoded field.) */
static enum sip_parse_status check_header_bytes(const char *buf, const char *hend)
{
	bool nul = false, bare_cr = false;
	const char *p = buf;
	if (p < hend && *p == '\0')
		return SIP_PARSE_NUL_IN_HEADERS;
#if defined(__SSE2__)
	/* v = bytes p..p+15, next = p+1..p+16 */
	const __m128i cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n'), bs = _mm_set1_epi8('\\');
	const __m128i zero = _mm_setzero_si128();
	__m128i bad_acc = zero, nul_acc = zero;
	while (hend - p >= 17) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
		__m128i next = _mm_loadu_si128((const __m128i *)(const void *)(p + 1));
		bad_acc = _mm_or_si128(bad_acc, _mm_andnot_si128(_mm_cmpeq_epi8(next, lf), _mm_cmpeq_epi8(v, cr)));
		nul_acc = _mm_or_si128(nul_acc, _mm_andnot_si128(_mm_cmpeq_epi8(v, bs), _mm_cmpeq_epi8(next, zero)));
		p += 16;
	}
	bare_cr = _mm_movemask_epi8(bad_acc) != 0;
	nul = _mm_movemask_epi8(nul_acc) != 0;
#endif
	for (; p < hend; p++) {
		if (*p == '\r' && (p + 1 >= hend || p[1] != '\n'))
			bare_cr = true;
		if (p + 1 < hend && p[1] == '\0' && *p != '\\')
			nul = true;
	}
	if (nul)
		return SIP_PARSE_NUL_IN_HEADERS;
	return bare_cr ? SIP_PARSE_BARE_CR : SIP_PARSE_OK;
}

enum sip_parse_status sip_parse(const char *buf, size_t len, struct sip_msg *m)
{
	/* Cleared: everything before the arrays except what a successful
	 * parse always writes whole, From and To (both mandatory; their
	 * present flags are cleared for the duplicate checks) and a
	 * request's Request-URI (cleared below for a response). callgrind
	 * on perf/bench-parse's corpus: the clear of all ~720 bytes cost ~100
	 * instructions per REGISTER, this ~30 (6.33k -> 6.26k). */
	memset(m, 0, offsetof(struct sip_msg, request_uri));
	memset(&m->status_code, 0, offsetof(struct sip_msg, from) - offsetof(struct sip_msg, status_code));
	m->from.present = false;
	m->to.present = false;
	memset(&m->call_id, 0, offsetof(struct sip_msg, via) - offsetof(struct sip_msg, call_id));
	if (len == 0)
		return SIP_PARSE_EMPTY;
	if (len > SIP_MAX_MESSAGE_LEN)
		return SIP_PARSE_TOO_LONG;
	const char *p = buf;
	const char *end = buf + len;

	/* start line */
	bool odd = false;
	const char *nl = find_lf(p, end, &odd);
	if (nl == NULL)
		return SIP_PARSE_NO_END_OF_LINE;
	const char *le = (nl > p && nl[-1] == '\r') ? nl - 1 : nl;
	enum sip_parse_status st;
	if (le - p >= 4 && sip_eq_lower(p, "sip/", 4)) {
		m->is_request = false;
		memset(&m->request_uri, 0, sizeof(m->request_uri));
		st = parse_status_line(m, p, le);
	} else {
		m->is_request = true;
		st = parse_request_line(m, p, le, end);
	}
	if (st != SIP_PARSE_OK)
		return st;
	p = nl + 1;

	/* headers */
	for (;;) {
		/* a header name's first byte is above CR: one test for the
		 * usual line (callgrind, perf/bench-pipeline: ~3 instructions
		 * a line) */
		if (p >= end)
			return SIP_PARSE_NO_END_OF_HEADERS;
		if ((unsigned char)*p <= '\r') {
			if (*p == '\n') {
				p++;
				break;
			}
			if (*p == '\r') {
				if (p + 1 >= end)
					return SIP_PARSE_NO_END_OF_HEADERS;
				if (p[1] == '\n') {
					p += 2;
					break;
				}
				return SIP_PARSE_BAD_HEADER_NAME;
			}
		}
		const char *n = p;
		size_t name_len;
		int id = fast_header_name(p, end, &name_len);
		struct sip_slice name;
		if (id >= 0) {
			name = sip_mk(n, n + name_len);
			p += name_len;
		} else {
			p = sip_skip_class_fast(p, end, SIP_CC_TOKEN);
			if (p == n)
				return SIP_PARSE_BAD_HEADER_NAME;
			name = sip_mk(n, p);
			while (p < end && sip_is_ws(*p))
				p++;
			if (p >= end)
				return SIP_PARSE_NO_END_OF_LINE;
			if (*p != ':')
				return SIP_PARSE_MISSING_COLON;
			id = (int)classify(name.ptr, name.len);
		}
		const char *v = ++p;
		if (id == HDR_AUTHORIZATION && m->authorization_count < SIP_MAX_CREDENTIALS) {
			const char *lf = authorization_line(v, end, &m->authorization[m->authorization_count]);
			if (lf != NULL) {
				m->authorization_count++;
				p = lf + 1;
				continue;
			}
		}
		/* line end, joining folded continuation lines (§7.3.1) */
		bool folded = false;
		for (;;) {
			nl = find_lf(p, end, &odd);
			if (nl == NULL)
				return SIP_PARSE_NO_END_OF_LINE;
			if (nl + 1 < end && (unsigned char)nl[1] <= ' ' && sip_is_ws(nl[1])) {
				p = nl + 1;
				folded = true;
				continue;
			}
			break;
		}
		/* the usual "Name: value\r\n" trimmed with four tests, and
		 * anything else by the general rules (callgrind on
		 * perf/bench-pipeline's REGISTER: ~80 instructions, 6 a line) */
		const char *ve = nl;
		if (ve - v >= 3 && ve[-1] == '\r' && (unsigned char)ve[-2] > ' ' && *v == ' ' &&
		    (unsigned char)v[1] > ' ') {
			ve--;
			v++;
		} else {
			if (ve > v && ve[-1] == '\r')
				ve--;
			ve = sip_rskip_lws(v, ve);
			if (v < ve && *v == ' ')
				v++;
			v = sip_skip_lws(v, ve);
		}
		p = nl + 1;
		unsigned vias_before = m->via_count;
		st = parse_header(m, (enum hdr_id)id, name, v, ve, end);
		if (st != SIP_PARSE_OK)
			return st;
		if (folded) {
			/* a raw value is only given whole on one line */
			for (unsigned i = vias_before; i < m->via_count; i++)
				m->via[i].sent_raw = sip_mk(NULL, NULL);
			if (id == HDR_FROM)
				m->from.raw = sip_mk(NULL, NULL);
			else if (id == HDR_TO)
				m->to.raw = sip_mk(NULL, NULL);
			else if (id == HDR_CSEQ)
				m->cseq_raw = sip_mk(NULL, NULL);
		}
	}
	if (odd) {
		st = check_header_bytes(buf, p);
		if (st != SIP_PARSE_OK)
			return st;
	}

	if (m->via_count == 0)
		return SIP_PARSE_MISSING_VIA;
	if (!m->from.present)
		return SIP_PARSE_MISSING_FROM;
	if (!m->to.present)
		return SIP_PARSE_MISSING_TO;
	if (m->call_id.ptr == NULL)
		return SIP_PARSE_MISSING_CALL_ID;
	if (!m->has_cseq)
		return SIP_PARSE_MISSING_CSEQ;
	if (m->is_request && (m->cseq_method != m->method ||
			      (m->method == SIP_METHOD_OTHER && !sip_slice_eq_nocase(m->cseq_method_raw, m->method_raw))))
		return SIP_PARSE_CSEQ_METHOD_MISMATCH;

	size_t left = (size_t)(end - p);
	if (m->has_content_length) {
		if (m->content_length > left)
			return SIP_PARSE_BODY_TRUNCATED;
		m->body = sip_mk(p, p + m->content_length);
	} else {
		m->body = sip_mk(p, end);
	}
	return SIP_PARSE_OK;
}

static const char *const status_reason[SIP_PARSE_STATUS_COUNT] = {
	[SIP_PARSE_OK] = "OK",
	[SIP_PARSE_EMPTY] = "Empty Message",
	[SIP_PARSE_TOO_LONG] = "Message Too Long",
	[SIP_PARSE_NUL_IN_HEADERS] = "NUL Byte In Headers",
	[SIP_PARSE_NO_END_OF_LINE] = "Missing Line End",
	[SIP_PARSE_NO_END_OF_HEADERS] = "Missing Empty Line After Headers",
	[SIP_PARSE_BARE_CR] = "Bare CR In Headers",
	[SIP_PARSE_BAD_START_LINE] = "Bad Request Line",
	[SIP_PARSE_BAD_METHOD] = "Bad Method",
	[SIP_PARSE_BAD_REQUEST_URI] = "Bad Request-URI",
	[SIP_PARSE_BAD_VERSION] = "Bad SIP Version",
	[SIP_PARSE_BAD_STATUS_CODE] = "Bad Status Code",
	[SIP_PARSE_BAD_REASON_PHRASE] = "Bad Reason Phrase",
	[SIP_PARSE_BAD_HEADER_NAME] = "Bad Header Name",
	[SIP_PARSE_MISSING_COLON] = "Missing Colon In Header",
	[SIP_PARSE_BAD_VIA] = "Bad Via",
	[SIP_PARSE_BAD_FROM] = "Bad From",
	[SIP_PARSE_BAD_TO] = "Bad To",
	[SIP_PARSE_BAD_CALL_ID] = "Bad Call-ID",
	[SIP_PARSE_BAD_CSEQ] = "Bad CSeq",
	[SIP_PARSE_BAD_CONTACT] = "Bad Contact",
	[SIP_PARSE_BAD_EXPIRES] = "Bad Expires",
	[SIP_PARSE_BAD_MAX_FORWARDS] = "Bad Max-Forwards",
	[SIP_PARSE_BAD_CONTENT_LENGTH] = "Bad Content-Length",
	[SIP_PARSE_BAD_AUTHORIZATION] = "Bad Authorization",
	[SIP_PARSE_BAD_PROXY_AUTHORIZATION] = "Bad Proxy-Authorization",
	[SIP_PARSE_BAD_PATH] = "Bad Path",
	[SIP_PARSE_BAD_OPTION_TAG] = "Bad Option Tag",
	[SIP_PARSE_DUPLICATE_FROM] = "Duplicate From",
	[SIP_PARSE_DUPLICATE_TO] = "Duplicate To",
	[SIP_PARSE_DUPLICATE_CALL_ID] = "Duplicate Call-ID",
	[SIP_PARSE_DUPLICATE_CSEQ] = "Duplicate CSeq",
	[SIP_PARSE_DUPLICATE_EXPIRES] = "Duplicate Expires",
	[SIP_PARSE_DUPLICATE_MAX_FORWARDS] = "Duplicate Max-Forwards",
	[SIP_PARSE_DUPLICATE_CONTENT_LENGTH] = "Duplicate Content-Length",
	[SIP_PARSE_DUPLICATE_CONTENT_TYPE] = "Duplicate Content-Type",
	[SIP_PARSE_MISSING_VIA] = "Missing Via",
	[SIP_PARSE_MISSING_FROM] = "Missing From",
	[SIP_PARSE_MISSING_TO] = "Missing To",
	[SIP_PARSE_MISSING_CALL_ID] = "Missing Call-ID",
	[SIP_PARSE_MISSING_CSEQ] = "Missing CSeq",
	[SIP_PARSE_CSEQ_METHOD_MISMATCH] = "CSeq Method Mismatch",
	[SIP_PARSE_BODY_TRUNCATED] = "Body Shorter Than Content-Length",
	[SIP_PARSE_TOO_MANY_VIAS] = "Too Many Via Entries",
	[SIP_PARSE_TOO_MANY_CONTACTS] = "Too Many Contacts",
	[SIP_PARSE_TOO_MANY_CREDENTIALS] = "Too Many Credentials",
	[SIP_PARSE_TOO_MANY_PATHS] = "Too Many Path Entries",
	[SIP_PARSE_TOO_MANY_OPTION_TAGS] = "Too Many Option Tags",
	[SIP_PARSE_TOO_MANY_HEADERS] = "Too Many Headers",
};

#define NAME(x) [x] = #x
static const char *const status_name[SIP_PARSE_STATUS_COUNT] = {
	NAME(SIP_PARSE_OK), NAME(SIP_PARSE_EMPTY), NAME(SIP_PARSE_TOO_LONG),
	NAME(SIP_PARSE_NUL_IN_HEADERS), NAME(SIP_PARSE_NO_END_OF_LINE),
	NAME(SIP_PARSE_NO_END_OF_HEADERS), NAME(SIP_PARSE_BARE_CR), NAME(SIP_PARSE_BAD_START_LINE),
	NAME(SIP_PARSE_BAD_METHOD), NAME(SIP_PARSE_BAD_REQUEST_URI),
	NAME(SIP_PARSE_BAD_VERSION), NAME(SIP_PARSE_BAD_STATUS_CODE),
	NAME(SIP_PARSE_BAD_REASON_PHRASE), NAME(SIP_PARSE_BAD_HEADER_NAME),
	NAME(SIP_PARSE_MISSING_COLON), NAME(SIP_PARSE_BAD_VIA), NAME(SIP_PARSE_BAD_FROM),
	NAME(SIP_PARSE_BAD_TO), NAME(SIP_PARSE_BAD_CALL_ID), NAME(SIP_PARSE_BAD_CSEQ),
	NAME(SIP_PARSE_BAD_CONTACT), NAME(SIP_PARSE_BAD_EXPIRES),
	NAME(SIP_PARSE_BAD_MAX_FORWARDS), NAME(SIP_PARSE_BAD_CONTENT_LENGTH),
	NAME(SIP_PARSE_BAD_AUTHORIZATION), NAME(SIP_PARSE_BAD_PROXY_AUTHORIZATION),
	NAME(SIP_PARSE_BAD_PATH), NAME(SIP_PARSE_BAD_OPTION_TAG),
	NAME(SIP_PARSE_DUPLICATE_FROM), NAME(SIP_PARSE_DUPLICATE_TO),
	NAME(SIP_PARSE_DUPLICATE_CALL_ID), NAME(SIP_PARSE_DUPLICATE_CSEQ),
	NAME(SIP_PARSE_DUPLICATE_EXPIRES), NAME(SIP_PARSE_DUPLICATE_MAX_FORWARDS),
	NAME(SIP_PARSE_DUPLICATE_CONTENT_LENGTH), NAME(SIP_PARSE_DUPLICATE_CONTENT_TYPE),
	NAME(SIP_PARSE_MISSING_VIA),
	NAME(SIP_PARSE_MISSING_FROM), NAME(SIP_PARSE_MISSING_TO),
	NAME(SIP_PARSE_MISSING_CALL_ID), NAME(SIP_PARSE_MISSING_CSEQ),
	NAME(SIP_PARSE_CSEQ_METHOD_MISMATCH), NAME(SIP_PARSE_BODY_TRUNCATED),
	NAME(SIP_PARSE_TOO_MANY_VIAS), NAME(SIP_PARSE_TOO_MANY_CONTACTS),
	NAME(SIP_PARSE_TOO_MANY_CREDENTIALS), NAME(SIP_PARSE_TOO_MANY_PATHS),
	NAME(SIP_PARSE_TOO_MANY_OPTION_TAGS), NAME(SIP_PARSE_TOO_MANY_HEADERS),
};
#undef NAME

const char *sip_parse_status_reason(enum sip_parse_status status)
{
	if ((unsigned)status >= SIP_PARSE_STATUS_COUNT || status_reason[status] == NULL)
		return "Unknown parse error";
	return status_reason[status];
}

const char *sip_parse_status_name(enum sip_parse_status status)
{
	if ((unsigned)status >= SIP_PARSE_STATUS_COUNT || status_name[status] == NULL)
		return "SIP_PARSE_?";
	return status_name[status];
}
