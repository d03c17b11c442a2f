/* sip_response.c — response text from a parsed request, without printf. */
#include "sip_response.h"

#include "hex.h"

#include <arpa/inet.h>
#include <endian.h>
#include <string.h>
#include <strings.h>

char *response_decimal(uint32_t v, char *end)
{
	static const char pairs[] =
		"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
		"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
		"8081828384858687888990919293949596979899";
	char *p = end;

	while (v >= 100) {
		p -= 2;
		memcpy(p, pairs + 2 * (v % 100), 2);
		v /= 100;
	}
	if (v >= 10) {
		p -= 2;
		memcpy(p, pairs + 2 * v, 2);
	} else {
		*--p = (char)('0' + v);
	}
	return p;
}

void response_append_u32(struct response_writer *w, uint32_t v)
{
	char digits[32];          /* 10 used; sized so the inline copy's reach is in bounds */
	char *p = response_decimal(v, digits + sizeof(digits));

	response_append(w, p, (size_t)(digits + sizeof(digits) - p));
}

void response_header(struct response_writer *w, const char *name, const char *value)
{
	response_append_str(w, name);
	response_append(w, ": ", 2);
	response_append_str(w, value);
	response_append(w, "\r\n", 2);
}

/* Decimal text of every octet value: its length, then up to 3 digits. */
static const char octet_text[256][4] = {
#define D1(n) { 1, '0' + (n) }
#define D2(n) { 2, '0' + (n) / 10, '0' + (n) % 10 }
#define D3(n) { 3, '0' + (n) / 100, '0' + (n) / 10 % 10, '0' + (n) % 10 }
#define R10(f, b) f(b), f(b + 1), f(b + 2), f(b + 3), f(b + 4), f(b + 5), f(b + 6), f(b + 7), \
		  f(b + 8), f(b + 9)
	R10(D1, 0), R10(D2, 10), R10(D2, 20), R10(D2, 30), R10(D2, 40), R10(D2, 50),
	R10(D2, 60), R10(D2, 70), R10(D2, 80), R10(D2, 90),
	R10(D3, 100), R10(D3, 110), R10(D3, 120), R10(D3, 130), R10(D3, 140), R10(D3, 150),
	R10(D3, 160), R10(D3, 170), R10(D3, 180), R10(D3, 190), R10(D3, 200), R10(D3, 210),
	R10(D3, 220), R10(D3, 230), R10(D3, 240),
	D3(250), D3(251), D3(252), D3(253), D3(254), D3(255),
#undef R10
#undef D3
#undef D2
#undef D1
};

#define IP_TEXT_MAX INET6_ADDRSTRLEN

/* The source address as text (dotted quad or IPv6 without brackets; not
 * NUL-terminated) in text. Returns its length, 0 when it cannot be
 * written. */
static size_t source_ip_text(const struct sip_source *src, char text[IP_TEXT_MAX])
{
	if (src->ip_version == 4) {
		/* Hot path: four table lookups, no inet_ntop (callgrind: ~280 ->
		 * ~60 instructions a response on perf/bench-pipeline). */
		char *p = text;
		for (int i = 0; i < 4; i++) {
			const char *o = octet_text[src->addr[i]];
			memcpy(p, o + 1, 3);
			p += o[0];
			*p++ = '.';
		}
		return (size_t)(p - text - 1);
	}
	if (!inet_ntop(AF_INET6, src->addr, text, IP_TEXT_MAX))
		return 0;
	return strlen(text);
}

void response_append_source_ip(struct response_writer *w, const struct sip_source *src)
{
	char text[IP_TEXT_MAX];
	size_t n = source_ip_text(src, text);

	if (n == 0) {
		response_fail(w);
		return;
	}
	response_append(w, text, n);
}

static void append_host_port(struct response_writer *w, struct sip_slice host, bool ipv6,
			     bool has_port, uint16_t port)
{
	if (ipv6)
		response_append(w, "[", 1);
	response_append_slice(w, host);
	if (ipv6)
		response_append(w, "]", 1);
	if (has_port) {
		response_append(w, ":", 1);
		response_append_u32(w, port);
	}
}

/* Appends a parameter list with its leading ';' (the parser's slice may
 * or may not start with it). */
static void append_params(struct response_writer *w, struct sip_slice params)
{
	if (params.len == 0)
		return;
	if (params.ptr[0] != ';')
		response_append(w, ";", 1);
	response_append_slice(w, params);
}

/* Via as received, except on the top one: received= and rport= carry the
 * source address (RFC 3261 §18.2.1, RFC 3581 §4), replacing any such
 * parameters the client put there. */
static void append_via(struct response_writer *w, const struct sip_via *via, bool top,
		       const struct sip_source *src)
{
	struct sip_slice rest = via->params, name, value;

	response_append(w, "Via: ", 5);
	if (via->sent_raw.ptr) {
		/* as written, in one copy (callgrind, perf/bench-pipeline: ~150
		 * fewer instructions a response than the seven parts and the
		 * port's digits) */
		response_append_slice(w, via->sent_raw);
	} else {
		response_append_slice(w, via->protocol);
		response_append(w, "/", 1);
		response_append_slice(w, via->version);
		response_append(w, "/", 1);
		response_append_slice(w, via->transport);
		response_append(w, " ", 1);
		append_host_port(w, via->host, via->host_is_ipv6, via->has_port, via->port);
	}
	if (!top) {
		append_params(w, via->params);
		response_append(w, "\r\n", 2);
		return;
	}
	/* Fast path: the parameters as received, with a value given to a bare
	 * ";rport" (what phones send). Parameter by parameter only when the
	 * client wrote received= or rport=value itself (callgrind, with the inline
	 * appends of sip_response.h: 3.6k ->
	 * 1.6k instructions per response on perf/bench-pipeline). */
	const char *rport = via->has_rport && !via->rport_has_value && !via->received.ptr
				    ? via->rport_name.ptr : NULL;
	if (!via->has_rport && !via->received.ptr) {
		append_params(w, via->params);
	} else if (rport) {
		size_t before = (size_t)(rport - via->params.ptr) + 5;
		if (via->params.ptr[0] != ';')
			response_append(w, ";", 1);
		response_append(w, via->params.ptr, before);
		response_append(w, "=", 1);
		response_append_u32(w, src->port);
		response_append(w, rport + 5, via->params.len - before);
		response_append(w, ";received=", 10);
		response_append_source_ip(w, src);
		response_append(w, "\r\n", 2);
		return;
	} else {
		while (sip_param_next(&rest, &name, &value)) {
			if (sip_slice_eq_lit_nocase(name, "received") || sip_slice_eq_lit_nocase(name, "rport"))
				continue;
			response_append(w, ";", 1);
			response_append_slice(w, name);
			if (value.ptr) {
				response_append(w, "=", 1);
				/* sip_param_next strips quotes; no Via parameter we echo
				 * other than these two is ever quoted by real phones. */
				response_append_slice(w, value);
			}
		}
	}
	response_append(w, ";received=", 10);
	response_append_source_ip(w, src);
	if (via->has_rport) {
		response_append(w, ";rport=", 7);
		response_append_u32(w, src->port);
	}
	response_append(w, "\r\n", 2);
}

static void append_name_addr(struct response_writer *w, const struct sip_name_addr *a)
{
	if (a->display.len) {
		if (a->display_quoted)
			response_append(w, "\"", 1);
		response_append_slice(w, a->display);
		response_append(w, a->display_quoted ? "\" " : " ", a->display_quoted ? 2 : 1);
	}
	response_append(w, "<", 1);
	response_append_slice(w, a->uri.raw);
	response_append(w, ">", 1);
	/* The parser's name-addr params start at their ';'. */
	response_append_slice(w, a->params);
}

#define TO_TAG_LEN (5 + 16)   /* ";tag=" and 16 hex digits */

/* The To tag of a request without one, a hash of its Call-ID so that
 * retransmissions get the same tag: 8 bytes a step (FNV-1a's multiply with
 * a shift to spread the high bits). Byte by byte it was ~480 instructions
 * a response (callgrind, perf/bench-pipeline). */
static char *to_tag_text(struct sip_slice call_id, char *out)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ call_id.len;
	const char *p = call_id.ptr;
	uint32_t n = call_id.len;
	uint8_t bytes[8];

	for (; n >= 8; p += 8, n -= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		h = (h ^ v) * 0x100000001b3ULL;
		h ^= h >> 29;
	}
	if (n && call_id.len >= 8) {
		/* the last n bytes as one word: the 8 ending the Call-ID, those
		 * already mixed shifted out (byte by byte: ~60 instructions a
		 * response, callgrind) */
		uint64_t v;
		memcpy(&v, p + n - 8, 8);
		h = (h ^ (v >> (8 * (8 - n)))) * 0x100000001b3ULL;
		h ^= h >> 29;
		n = 0;
	}
	for (; n; p++, n--)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ULL;
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ULL;
	h ^= h >> 32;
	h = htobe64(h);                    /* the digits of h, high byte first */
	memcpy(bytes, &h, sizeof(bytes));
	memcpy(out, ";tag=", 5);
	hex_encode(bytes, sizeof(bytes), out + 5);
	return out + TO_TAG_LEN;
}

static void append_to_tag(struct response_writer *w, struct sip_slice call_id)
{
	char tag[TO_TAG_LEN];

	to_tag_text(call_id, tag);
	response_append(w, tag, sizeof(tag));
}

/* Points w at buf and writes the status line. */
static void status_line(struct response_writer *w, char *buf, size_t cap, unsigned code,
			const char *reason)
{
	w->buf = buf;
	w->cap = cap;
	w->len = 0;
	w->overflow = false;
	if (code >= 100 && code <= 999) {
		/* the three digits every status code has (RFC 3261 §7.2), without
		 * the general decimal writer */
		char start[13] = "SIP/2.0 xxx ";
		start[8] = (char)('0' + code / 100);
		start[9] = (char)('0' + code / 10 % 10);
		start[10] = (char)('0' + code % 10);
		response_append(w, start, 12);
	} else {
		response_append(w, "SIP/2.0 ", 8);
		response_append_u32(w, code);
		response_append(w, " ", 1);
	}
	response_append_str(w, reason);
	response_append(w, "\r\n", 2);
}

/*
 * response_begin for the request nearly every phone sends: one Via with
 * no received= and a bare rport or none, From, To and CSeq each on one
 * line, an IPv4 source. Its length is added up first and checked once
 * against cap; then it is written through a local cursor, without the
 * writer's check and length update per append. Returns false, having
 * written nothing, for any other request or when it does not fit: the
 * general code below then writes it (or reports the overflow). callgrind
 * on the 200 OK head for perf/bench-pipeline's authorized REGISTER: ~730
 * instructions through the general code, ~590 here (~520 with the To
 * tag's last word and hex_encode8).
 */
static bool begin_common(struct response_writer *w, char *buf, size_t cap, unsigned code,
			 const char *reason, const struct sip_msg *req, const struct sip_source *src)
{
	const struct sip_via *via = &req->via[0];
	bool bare_rport = via->has_rport && !via->rport_has_value;
	char ip[IP_TEXT_MAX], port_digits[16], *port = port_digits + sizeof(port_digits);

	if (req->via_count != 1 || !via->sent_raw.ptr || via->received.ptr ||
	    (via->has_rport && !bare_rport) || (via->params.len && via->params.ptr[0] != ';') ||
	    !req->from.raw.ptr || !req->to.raw.ptr || !req->cseq_raw.ptr || src->ip_version != 4 ||
	    code < 100 || code > 999)
		return false;
	size_t reason_len = strlen(reason);
	size_t ip_len = source_ip_text(src, ip);
	size_t port_len = 0;
	if (bare_rport) {
		port = response_decimal(src->port, port);
		port_len = (size_t)(port_digits + sizeof(port_digits) - port);
	}
	size_t need = 12 + reason_len + 2 + 5 + via->sent_raw.len + via->params.len +
		      (bare_rport ? 1 + port_len : 0) + 10 + ip_len + 2 + 6 + req->from.raw.len + 6 +
		      req->to.raw.len + (req->to.tag.ptr ? 0 : TO_TAG_LEN) + 11 + req->call_id.len + 8 +
		      req->cseq_raw.len + 2;
	if (need > cap)
		return false;

	char start[13] = "SIP/2.0 xxx ";
	char *p = buf;
	start[8] = (char)('0' + code / 100);
	start[9] = (char)('0' + code / 10 % 10);
	start[10] = (char)('0' + code % 10);
	p = response_put(p, start, 12);
	p = response_put(p, reason, reason_len);
	p = response_put(p, "\r\nVia: ", 7);
	p = response_put(p, via->sent_raw.ptr, via->sent_raw.len);
	if (bare_rport) {
		/* the parameters as received, a value given to the bare rport */
		size_t before = (size_t)(via->rport_name.ptr - via->params.ptr) + 5;
		p = response_put(p, via->params.ptr, before);
		*p++ = '=';
		p = response_put(p, port, port_len);
		p = response_put(p, via->params.ptr + before, via->params.len - before);
	} else {
		p = response_put(p, via->params.ptr, via->params.len);
	}
	p = response_put(p, ";received=", 10);
	p = response_put(p, ip, ip_len);
	p = response_put(p, "\r\nFrom: ", 8);
	p = response_put(p, req->from.raw.ptr, req->from.raw.len);
	p = response_put(p, "\r\nTo: ", 6);
	p = response_put(p, req->to.raw.ptr, req->to.raw.len);
	if (!req->to.tag.ptr)
		p = to_tag_text(req->call_id, p);
	p = response_put(p, "\r\nCall-ID: ", 11);
	p = response_put(p, req->call_id.ptr, req->call_id.len);
	p = response_put(p, "\r\nCSeq: ", 8);
	p = response_put(p, req->cseq_raw.ptr, req->cseq_raw.len);
	p = response_put(p, "\r\n", 2);
	w->buf = buf;
	w->cap = cap;
	w->len = (size_t)(p - buf);
	w->overflow = false;
	return true;
}

void response_begin(struct response_writer *w, char *buf, size_t cap, unsigned code,
		    const char *reason, const struct sip_msg *req,
		    const struct sip_source *src)
{
	if (begin_common(w, buf, cap, code, reason, req, src))
		return;
	status_line(w, buf, cap, code, reason);
	for (unsigned i = 0; i < req->via_count; i++)
		append_via(w, &req->via[i], i == 0, src);
	/* From, To and CSeq as the request wrote them when they were on one
	 * line (callgrind, perf/bench-pipeline: ~90 fewer instructions a
	 * response than rebuilding them from their parts) */
	response_append(w, "From: ", 6);
	if (req->from.raw.ptr)
		response_append_slice(w, req->from.raw);
	else
		append_name_addr(w, &req->from.addr);
	response_append(w, "\r\nTo: ", 6);
	if (req->to.raw.ptr)
		response_append_slice(w, req->to.raw);
	else
		append_name_addr(w, &req->to.addr);
	if (!req->to.tag.ptr)
		append_to_tag(w, req->call_id);
	response_append(w, "\r\nCall-ID: ", 11);
	response_append_slice(w, req->call_id);
	response_append(w, "\r\nCSeq: ", 8);
	if (req->cseq_raw.ptr) {
		response_append_slice(w, req->cseq_raw);
	} else {
		response_append_u32(w, req->cseq);
		response_append(w, " ", 1);
		response_append_slice(w, req->cseq_method_raw);
	}
	response_append(w, "\r\n", 2);
}

int response_finish(struct response_writer *w)
{
	response_append(w, "Content-Length: 0\r\n\r\n", 21);
	return w->overflow ? -1 : (int)w->len;
}

/* Which of the five headers a 400 must echo this line is: 0 none, else a
 * bit (1 Via, 2 From, 4 To, 8 Call-ID, 16 CSeq). */
static unsigned dialog_header_bit(const char *line, size_t n)
{
	static const struct { const char *name; unsigned bit; } names[] = {
		{ "via", 1 }, { "v", 1 }, { "from", 2 }, { "f", 2 }, { "to", 4 }, { "t", 4 },
		{ "call-id", 8 }, { "i", 8 }, { "cseq", 16 },
	};
	size_t name_len = 0;

	while (name_len < n && line[name_len] != ':' && line[name_len] != ' ' &&
	       line[name_len] != '\t')
		name_len++;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i].name) == name_len &&
		    strncasecmp(line, names[i].name, name_len) == 0)
			return names[i].bit;
	return 0;
}

bool response_begin_raw(struct response_writer *w, char *buf, size_t cap, unsigned code,
			const char *reason, const char *payload, size_t len)
{
	const char *p = payload, *end = payload + len;
	const char *eol = memchr(p, '\n', len);
	unsigned seen = 0;

	/* A request line ends in SIP/2.0; a response starts with it. */
	status_line(w, buf, cap, code, reason);
	if (!eol || eol - p < 12 || strncmp(p, "SIP/2.0", 7) == 0)
		return false;
	const char *version = eol - (eol[-1] == '\r' ? 8 : 7);
	if (strncmp(version, "SIP/2.0", 7) != 0)
		return false;
	for (p = eol + 1; p < end; p = eol + 1) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			break;
		size_t n = (size_t)(eol - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n == 0)
			break;                  /* end of headers */
		unsigned bit = dialog_header_bit(p, n);
		if (!bit)
			continue;
		seen |= bit;
		response_append(w, p, n);
		response_append(w, "\r\n", 2);
	}
	return seen == 31 && !w->overflow;
}
