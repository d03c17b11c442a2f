/*
 * outbuf.h - a growable byte buffer, and the one place that encodes a
 * string for the admin API's two text formats: JSON string literals and
 * RFC 4180 CSV fields.
 *
 * Rows of `list` and `export` are written straight into an outbuf instead of
 * building jansson objects: a jansson object per row costs several mallocs
 * and kept the 1 M row export below the 500 k rows/s target
 * (perf/bench-control).  Everything else is built with jansson.
 *
 * Allocation failure is sticky: `failed` is set, later appends are ignored,
 * and the caller answers an error instead of a truncated line.
 */
#ifndef SIPREG_CONTROL_OUTBUF_H
#define SIPREG_CONTROL_OUTBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct outbuf {
	char *data;
	size_t len;
	size_t cap;
	bool failed;       /* an allocation failed; contents are incomplete */
};

void outbuf_free(struct outbuf *o);
void outbuf_reset(struct outbuf *o);
void outbuf_append(struct outbuf *o, const void *p, size_t n);
void outbuf_puts(struct outbuf *o, const char *s);
void outbuf_printf(struct outbuf *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void outbuf_u64(struct outbuf *o, uint64_t v);
void outbuf_i64(struct outbuf *o, int64_t v);
/* Drops the first n bytes (sent to a socket). */
void outbuf_consume(struct outbuf *o, size_t n);

/*
 * A JSON string literal with its quotes.  Bytes that are not valid UTF-8
 * (SIP header values may carry any octet) are written as \u00XX, i.e. read
 * as Latin-1, so the output is always valid JSON.
 */
void outbuf_json_string(struct outbuf *o, const char *s, size_t n);

/*
 * One RFC 4180 field: quoted (with "" for ") when it holds a comma, quote,
 * CR or LF, or starts/ends with a space; else written as is.
 */
void outbuf_csv_field(struct outbuf *o, const char *s, size_t n);

/* "2026-11-26T15:00:00Z" for a Unix time (empty for 0). */
void outbuf_iso_time(struct outbuf *o, int64_t t);

#endif
