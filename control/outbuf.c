/*
 * outbuf.c - growable buffer and the JSON / CSV string encoders (outbuf.h).
 */
#include "outbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void outbuf_free(struct outbuf *o)
{
	free(o->data);
	*o = (struct outbuf){ 0 };
}

void outbuf_reset(struct outbuf *o)
{
	o->len = 0;
	o->failed = false;
}

static bool reserve(struct outbuf *o, size_t n)
{
	size_t cap;
	char *p;

	if (o->failed)
		return false;
	if (o->len + n <= o->cap)
		return true;
	cap = o->cap ? o->cap : 4096;
	while (cap < o->len + n)
		cap *= 2;
	p = realloc(o->data, cap);
	if (!p) {
		o->failed = true;
		return false;
	}
	o->data = p;
	o->cap = cap;
	return true;
}

void outbuf_append(struct outbuf *o, const void *p, size_t n)
{
	if (n == 0 || !reserve(o, n))
		return;
	memcpy(o->data + o->len, p, n);
	o->len += n;
}

void outbuf_puts(struct outbuf *o, const char *s)
{
	outbuf_append(o, s, strlen(s));
}

void outbuf_printf(struct outbuf *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !reserve(o, (size_t)n + 1))
		return;
	va_start(ap, fmt);
	vsnprintf(o->data + o->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	o->len += (size_t)n;
}

void outbuf_u64(struct outbuf *o, uint64_t v)
{
	char tmp[24];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	outbuf_append(o, tmp + i, sizeof(tmp) - i);
}

void outbuf_i64(struct outbuf *o, int64_t v)
{
	if (v < 0) {
		outbuf_append(o, "-", 1);
		outbuf_u64(o, (uint64_t)0 - (uint64_t)v);
	} else {
		outbuf_u64(o, (uint64_t)v);
	}
}

void outbuf_consume(struct outbuf *o, size_t n)
{
	if (n >= o->len) {
		o->len = 0;
		return;
	}
	memmove(o->data, o->data + n, o->len - n);
	o->len -= n;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

void outbuf_json_string(struct outbuf *o, const char *str, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, run = 0;

	if (!reserve(o, n + 2))
		return;
	outbuf_append(o, "\"", 1);
	while (i < n) {
		unsigned char c = s[i];
		size_t l;

		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			i++;
			run++;
			continue;
		}
		outbuf_append(o, s + i - run, run);
		run = 0;
		if (c >= 0x80 && (l = utf8_len(s + i, n - i)) > 0) {
			outbuf_append(o, s + i, l);
			i += l;
			continue;
		}
		if (c == '"' || c == '\\') {
			char esc[2] = { '\\', (char)c };
			outbuf_append(o, esc, 2);
		} else {
			char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
			outbuf_append(o, esc, 6);
		}
		i++;
	}
	outbuf_append(o, s + i - run, run);
	outbuf_append(o, "\"", 1);
}

void outbuf_csv_field(struct outbuf *o, const char *s, size_t n)
{
	bool quote = n > 0 && (s[0] == ' ' || s[n - 1] == ' ');

	for (size_t i = 0; i < n && !quote; i++)
		if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n')
			quote = true;
	if (!quote) {
		outbuf_append(o, s, n);
		return;
	}
	outbuf_append(o, "\"", 1);
	for (size_t i = 0, start = 0; i <= n; i++) {
		if (i == n || s[i] == '"') {
			outbuf_append(o, s + start, i - start + (i < n));
			if (i < n)
				outbuf_append(o, "\"", 1);
			start = i + 1;
		}
	}
	outbuf_append(o, "\"", 1);
}

/* UTC calendar date of a day number (days since 1970-01-01), Howard
 * Hinnant's civil_from_days: no gmtime_r/strftime per row, which was a
 * third of the CSV export's time (perf/bench-control). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;

	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

void outbuf_iso_time(struct outbuf *o, int64_t t)
{
	char buf[32];
	int64_t days, y;
	unsigned m, d, secs;

	if (t == 0)
		return;
	days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
	secs = (unsigned)(t - days * 86400);
	civil_from_days(days, &y, &m, &d);
	if (y < 0 || y > 9999)
		return;
	buf[0] = (char)('0' + y / 1000);
	buf[1] = (char)('0' + y / 100 % 10);
	buf[2] = (char)('0' + y / 10 % 10);
	buf[3] = (char)('0' + y % 10);
	buf[4] = '-';
	buf[5] = (char)('0' + m / 10);
	buf[6] = (char)('0' + m % 10);
	buf[7] = '-';
	buf[8] = (char)('0' + d / 10);
	buf[9] = (char)('0' + d % 10);
	buf[10] = 'T';
	buf[11] = (char)('0' + secs / 36000);
	buf[12] = (char)('0' + secs / 3600 % 10);
	buf[13] = ':';
	buf[14] = (char)('0' + secs % 3600 / 600);
	buf[15] = (char)('0' + secs % 3600 / 60 % 10);
	buf[16] = ':';
	buf[17] = (char)('0' + secs % 60 / 10);
	buf[18] = (char)('0' + secs % 10);
	buf[19] = 'Z';
	outbuf_append(o, buf, 20);
}
