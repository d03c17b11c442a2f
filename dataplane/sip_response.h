/* sip_response.h — write a SIP response to a request into a buffer.
 *
 * The hot path builds every answer here (200, 401, 403, 404, 405, 420,
 * 423, 500, 503, and 400 with the parser's reason), so it uses memcpy and
 * a small integer formatter rather than printf. A response that does not
 * fit the buffer is reported, never truncated.
 */
#ifndef SIPREG_SIP_RESPONSE_H
#define SIPREG_SIP_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "copy_short.h"
#include "sip_parser.h"

struct sip_source {
	uint8_t ip_version;           /* 4 or 6 */
	uint8_t addr[16];             /* IPv4 in the first 4 bytes, network order */
	uint16_t port;                /* host order */
};

struct response_writer {
	char *buf;
	size_t cap;
	size_t len;
	bool overflow;                /* something did not fit: do not send (cap is len then) */
};

/* Starts a response: the status line, then the request's Via headers (the
 * top one with RFC 3581 received= and rport=), From, To (with a tag derived
 * from the Call-ID when the request has none, so retransmissions get the
 * same tag), Call-ID and CSeq. req must be a parsed request. */
void response_begin(struct response_writer *w, char *buf, size_t cap, unsigned code,
		    const char *reason, const struct sip_msg *req,
		    const struct sip_source *src);

/* Starts a response to a request that did not parse: copies its Via,
 * From, To, Call-ID and CSeq header lines verbatim (long or compact
 * names), bounded by len. Returns false (w then holds nothing useful) when
 * one of them is missing or the start line is not a request. */
bool response_begin_raw(struct response_writer *w, char *buf, size_t cap, unsigned code,
			const char *reason, const char *payload, size_t len);

/* Marks w failed: nothing more is appended and it is not sent. The
 * capacity shrinks to what is written, so the appends need one check. */
static inline void response_fail(struct response_writer *w)
{
	w->overflow = true;
	w->cap = w->len;
}

/* Appends raw bytes / a NUL-terminated string / a slice / a decimal. On
 * overflow fails w (response_fail). Inline: a response is ~50 small
 * appends, and a call per append was most of its cost (callgrind,
 * perf/bench-pipeline). */
static inline void response_append(struct response_writer *w, const char *s, size_t n)
{
	if (n == 0)
		return;          /* absent slices have ptr NULL */
	if (n > w->cap - w->len) {
		response_fail(w);
		return;
	}
	copy_short(w->buf + w->len, s, n);
	w->len += n;
}

static inline void response_append_str(struct response_writer *w, const char *s)
{
	response_append(w, s, strlen(s));
}

static inline void response_append_slice(struct response_writer *w, struct sip_slice s)
{
	response_append(w, s.ptr, s.len);
}

void response_append_u32(struct response_writer *w, uint32_t v);

/* Writes v in decimal so that it ends just before end (room for 10 digits
 * before it); returns where it starts. */
char *response_decimal(uint32_t v, char *end);

/* Room for exactly n more bytes, for a piece whose length is added up
 * first and then written with response_put: one capacity check instead
 * of one per append (callgrind, perf/bench-pipeline: a Contact line ~295
 * -> ~170 instructions). Returns where to write them (w counts them as
 * written), or NULL when they do not fit (w is failed, response_fail). */
static inline char *response_reserve(struct response_writer *w, size_t n)
{
	char *p;

	if (n > w->cap - w->len) {
		response_fail(w);
		return NULL;
	}
	p = w->buf + w->len;
	w->len += n;
	return p;
}

/* Writes n bytes at p (room reserved); returns the end. */
static inline char *response_put(char *p, const char *s, size_t n)
{
	copy_short(p, s, n);
	return p + n;
}

/* Appends "Name: value\r\n". */
void response_header(struct response_writer *w, const char *name, const char *value);

/* Appends the source address as text (dotted quad or IPv6 without
 * brackets). */
void response_append_source_ip(struct response_writer *w, const struct sip_source *src);

/* Appends "Content-Length: 0" and the empty line. Returns the response
 * length, or -1 when it did not fit (w->overflow). */
int response_finish(struct response_writer *w);

#endif
