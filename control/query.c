/*
 * query.c - filters, list (bounded heap for the page), row encoders and
 * streaming export over LMDB snapshots (query.h).
 */
#include "query.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recovery.h"

static const char *const column_names[QCOL_COUNT] = {
	"aor", "contact", "received", "transport", "expires_in_s", "account",
	"user_agent", "registered_at", "refreshed_at", "status", "nat",
};

static const char *const status_names[QSTATUS_COUNT] = {
	"registered", "expiring", "expired", "unregistered",
};

static const char *const transport_names[] = { "udp", "tcp", "tls", "sctp", "ws", "wss" };

const char *query_column_name(enum query_column c)
{
	return (unsigned)c < QCOL_COUNT ? column_names[c] : NULL;
}

const char *query_status_name(enum query_status s)
{
	return (unsigned)s < QSTATUS_COUNT ? status_names[s] : NULL;
}

static const char *transport_name(uint8_t t)
{
	return t < sizeof(transport_names) / sizeof(transport_names[0]) ? transport_names[t] : "udp";
}

int query_ip_filter_parse(const char *s, struct store_cidr *out)
{
	unsigned octet[4], n = 0, fixed = 0;
	const char *p = s;
	bool wildcard = false;

	if (!strchr(s, 'x') && !strchr(s, 'X') && !strchr(s, '*')) {
		if (strchr(s, '[') || (strchr(s, '.') && strchr(s, ':')))
			return -1;        /* no port forms in a filter */
		if (store_cidr_parse(s, out) != 0)
			return -1;
		out->port = 0;
		return 0;
	}
	/* wildcard: leading decimal octets, then only x */
	while (n < 4) {
		if (*p == 'x' || *p == 'X' || *p == '*') {
			wildcard = true;
			p++;
		} else if (!wildcard && isdigit((unsigned char)*p)) {
			unsigned v = 0, digits = 0;

			while (isdigit((unsigned char)*p) && digits < 4) {
				v = v * 10 + (unsigned)(*p++ - '0');
				digits++;
			}
			if (v > 255 || digits > 3)
				return -1;
			octet[fixed++] = v;
		} else {
			return -1;
		}
		n++;
		if (n < 4 && *p++ != '.')
			return -1;
	}
	if (*p != '\0')
		return -1;
	memset(out, 0, sizeof(*out));
	out->family = AF_INET;
	out->prefix_len = (uint8_t)(8 * fixed);
	for (unsigned i = 0; i < fixed; i++)
		out->addr[i] = (uint8_t)octet[i];
	return 0;
}

static int copy_string_field(const json_t *req, const char *name, char *dst, size_t cap,
			     char *err, size_t err_len)
{
	const json_t *v = json_object_get(req, name);

	dst[0] = '\0';
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v)) {
		snprintf(err, err_len, "field '%s' must be a string", name);
		return -1;
	}
	size_t n = json_string_length(v);
	if (n >= cap) {
		snprintf(err, err_len, "field '%s' is longer than %zu bytes", name, cap - 1);
		return -1;
	}
	if (memchr(json_string_value(v), '\0', n)) {
		snprintf(err, err_len, "field '%s' contains a NUL character", name);
		return -1;
	}
	memcpy(dst, json_string_value(v), n + 1);
	return 0;
}

static int uint_field(const json_t *req, const char *name, uint64_t max, uint64_t *out,
		      char *err, size_t err_len)
{
	const json_t *v = json_object_get(req, name);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) > max) {
		snprintf(err, err_len, "field '%s' must be an integer from 0 to %llu", name,
			 (unsigned long long)max);
		return -1;
	}
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static int bool_field(const json_t *req, const char *name, bool *out, char *err, size_t err_len)
{
	const json_t *v = json_object_get(req, name);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v)) {
		snprintf(err, err_len, "field '%s' must be true or false", name);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

static int status_add(const char *s, size_t n, unsigned *mask)
{
	for (unsigned i = 0; i < QSTATUS_COUNT; i++)
		if (strlen(status_names[i]) == n && memcmp(s, status_names[i], n) == 0) {
			*mask |= 1u << i;
			return 0;
		}
	return -1;
}

static int status_field(const json_t *req, unsigned *mask, char *err, size_t err_len)
{
	const json_t *v = json_object_get(req, "status");
	const char *bad = "field 'status' must be one of registered, expiring, expired, "
			  "unregistered (a string, comma-separated, or an array)";

	*mask = 0;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_string(v)) {
		const char *s = json_string_value(v), *end = s + json_string_length(v);

		while (s < end) {
			const char *c = memchr(s, ',', (size_t)(end - s));
			size_t n = c ? (size_t)(c - s) : (size_t)(end - s);

			if (status_add(s, n, mask) != 0)
				goto fail;
			s += n + (c != NULL);
		}
		if (*mask == 0)
			goto fail;
		return 0;
	}
	if (json_is_array(v) && json_array_size(v) > 0) {
		size_t i;
		const json_t *e;

		json_array_foreach(v, i, e) {
			if (!json_is_string(e) ||
			    status_add(json_string_value(e), json_string_length(e), mask) != 0)
				goto fail;
		}
		return 0;
	}
fail:
	snprintf(err, err_len, "%s", bad);
	return -1;
}

int query_options_from_json(const json_t *req, struct query_options *q, char *err,
			    size_t err_len)
{
	char tmp[QUERY_MAX_STRING];
	const json_t *v;

	memset(q, 0, sizeof(*q));
	q->sort = QCOL_AOR;
	q->limit = QUERY_DEFAULT_LIMIT;
	q->expiring_window_s = 60;
	if (!json_is_object(req)) {
		snprintf(err, err_len, "request must be a JSON object");
		return -1;
	}
	if (copy_string_field(req, "aor", q->filter.aor, sizeof(q->filter.aor), err, err_len) ||
	    copy_string_field(req, "aor_prefix", q->filter.aor_prefix,
			      sizeof(q->filter.aor_prefix), err, err_len) ||
	    copy_string_field(req, "number", q->filter.number, sizeof(q->filter.number), err,
			      err_len) ||
	    copy_string_field(req, "number_prefix", q->filter.number_prefix,
			      sizeof(q->filter.number_prefix), err, err_len) ||
	    copy_string_field(req, "account", q->filter.account, sizeof(q->filter.account),
			      err, err_len) ||
	    copy_string_field(req, "user_agent", q->filter.user_agent,
			      sizeof(q->filter.user_agent), err, err_len) ||
	    copy_string_field(req, "ip", tmp, sizeof(tmp), err, err_len) ||
	    status_field(req, &q->filter.status_mask, err, err_len) ||
	    bool_field(req, "desc", &q->desc, err, err_len) ||
	    bool_field(req, "count", &q->count_only, err, err_len) ||
	    uint_field(req, "offset", QUERY_MAX_WINDOW, &q->offset, err, err_len) ||
	    uint_field(req, "limit", QUERY_MAX_PAGE, &q->limit, err, err_len))
		return -1;
	if (tmp[0]) {
		if (query_ip_filter_parse(tmp, &q->filter.ip) != 0) {
			snprintf(err, err_len,
				 "field 'ip': '%.64s' is not an address, a CIDR or a wildcard "
				 "like 192.168.1.x", tmp);
			return -1;
		}
		q->filter.has_ip = true;
	}
	if (q->offset + q->limit > QUERY_MAX_WINDOW) {
		snprintf(err, err_len, "offset + limit must not exceed %u (narrow the filter)",
			 QUERY_MAX_WINDOW);
		return -1;
	}
	v = json_object_get(req, "sort");
	if (v && !json_is_null(v)) {
		unsigned i;

		if (!json_is_string(v))
			goto bad_sort;
		for (i = 0; i < QCOL_COUNT; i++)
			if (strcmp(json_string_value(v), column_names[i]) == 0)
				break;
		if (i == QCOL_COUNT)
			goto bad_sort;
		q->sort = (enum query_column)i;
	}
	return 0;
bad_sort:
	snprintf(err, err_len, "field 'sort' must be a column name: aor, contact, received, "
		 "transport, expires_in_s, account, user_agent, registered_at, refreshed_at, "
		 "status, nat");
	return -1;
}

enum query_status query_live_status(const struct store_binding_data *b, int64_t now_s,
				    uint32_t expiring_window_s)
{
	int64_t left = b->expires_at_s - now_s;

	/* store_binding_status() (binding_table.h) with the same rule */
	if (left <= 0)
		return QSTATUS_EXPIRED;
	if (left < (int64_t)expiring_window_s || left * 10 < (int64_t)b->expires_s)
		return QSTATUS_EXPIRING;
	return QSTATUS_REGISTERED;
}

static bool string_equals(const struct store_binding_data *b, enum store_string s,
			  const char *want)
{
	size_t n;
	const char *p = store_binding_string(b, s, &n);

	return strlen(want) == n && memcmp(p, want, n) == 0;
}

/* The user part of an AOR: after the scheme's ':' up to '@' (or ';'). */
static const char *aor_user(const char *aor, size_t n, size_t *len)
{
	const char *colon = memchr(aor, ':', n), *end;

	if (!colon)
		return *len = 0, aor;
	colon++;
	for (end = colon; end < aor + n && *end != '@' && *end != ';'; end++)
		;
	*len = (size_t)(end - colon);
	return colon;
}

bool query_match(const struct query_filter *f, const struct store_binding_data *b,
		 enum query_status st)
{
	size_t n;
	const char *p;

	if (f->status_mask ? !(f->status_mask & (1u << st)) : st == QSTATUS_UNREGISTERED)
		return false;
	if (f->has_ip && !store_cidr_contains(&f->ip, b->source.family, b->source.addr, 0, false))
		return false;
	if (f->aor[0] && !string_equals(b, STORE_STR_AOR, f->aor))
		return false;
	if (f->aor_prefix[0]) {
		size_t pn = strlen(f->aor_prefix);

		p = store_binding_string(b, STORE_STR_AOR, &n);
		if (n < pn || memcmp(p, f->aor_prefix, pn) != 0)
			return false;
	}
	if (f->number[0] || f->number_prefix[0]) {
		size_t un, want;
		const char *u;

		p = store_binding_string(b, STORE_STR_AOR, &n);
		u = aor_user(p, n, &un);
		if (f->number[0] && (un != strlen(f->number) || memcmp(u, f->number, un) != 0))
			return false;
		want = strlen(f->number_prefix);
		if (want && (un < want || memcmp(u, f->number_prefix, want) != 0))
			return false;
	}
	if (f->account[0] && !string_equals(b, STORE_STR_ACCOUNT, f->account))
		return false;
	if (f->user_agent[0]) {
		p = store_binding_string(b, STORE_STR_USER_AGENT, &n);
		if (!memmem(p, n, f->user_agent, strlen(f->user_agent)))
			return false;
	}
	return true;
}

/* --- row encoders --- */

static char *put_uint(char *p, unsigned v)
{
	char tmp[10];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

/* "ip:port" / "[ip6]:port".  IPv4 is written by hand: inet_ntop + snprintf
 * were half of a CSV row's instructions (callgrind, perf/bench-control). */
static size_t format_received(const struct store_addr *a, char *buf, size_t cap)
{
	char ip[INET6_ADDRSTRLEN];
	int n;

	if (a->family == AF_INET && cap >= 22) {
		char *p = buf;

		for (int i = 0; i < 4; i++) {
			p = put_uint(p, a->addr[i]);
			*p++ = i < 3 ? '.' : ':';
		}
		p = put_uint(p, a->port);
		return (size_t)(p - buf);
	}
	if (a->family != AF_INET6 || !inet_ntop(AF_INET6, a->addr, ip, sizeof(ip)))
		return 0;
	n = snprintf(buf, cap, "[%s]:%u", ip, a->port);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static int64_t row_expires_in(const struct query_row *r, int64_t now_s)
{
	int64_t left = r->b.expires_at_s - now_s;

	return r->status == QSTATUS_UNREGISTERED || left < 0 ? 0 : left;
}

void query_csv_header(struct outbuf *o)
{
	for (unsigned i = 0; i < QCOL_COUNT; i++) {
		if (i)
			outbuf_append(o, ",", 1);
		outbuf_puts(o, column_names[i]);
	}
	outbuf_append(o, "\n", 1);
}

static void csv_string(struct outbuf *o, const struct store_binding_data *b, enum store_string s)
{
	size_t n;
	const char *p = store_binding_string(b, s, &n);

	outbuf_csv_field(o, p, n);
	outbuf_append(o, ",", 1);
}

void query_row_csv(struct outbuf *o, const struct query_row *r, int64_t now_s)
{
	char recv[64];
	size_t rn = format_received(&r->b.source, recv, sizeof(recv));

	csv_string(o, &r->b, STORE_STR_AOR);
	csv_string(o, &r->b, STORE_STR_CONTACT);
	outbuf_append(o, recv, rn);
	outbuf_append(o, ",", 1);
	outbuf_puts(o, transport_name(r->b.transport));
	outbuf_append(o, ",", 1);
	outbuf_i64(o, row_expires_in(r, now_s));
	outbuf_append(o, ",", 1);
	csv_string(o, &r->b, STORE_STR_ACCOUNT);
	csv_string(o, &r->b, STORE_STR_USER_AGENT);
	outbuf_iso_time(o, r->b.registered_at_s);
	outbuf_append(o, ",", 1);
	outbuf_iso_time(o, r->b.refreshed_at_s);
	outbuf_append(o, ",", 1);
	outbuf_puts(o, status_names[r->status]);
	outbuf_puts(o, (r->b.flags & STORE_BINDING_NAT) ? ",yes\n" : ",no\n");
}

static void json_string_field(struct outbuf *o, const char *name,
			      const struct store_binding_data *b, enum store_string s)
{
	size_t n;
	const char *p = store_binding_string(b, s, &n);

	outbuf_puts(o, name);
	outbuf_json_string(o, p, n);
}

static void row_json_object(struct outbuf *o, const struct query_row *r, int64_t now_s)
{
	char recv[64];
	size_t rn = format_received(&r->b.source, recv, sizeof(recv));

	json_string_field(o, "{\"aor\":", &r->b, STORE_STR_AOR);
	json_string_field(o, ",\"contact\":", &r->b, STORE_STR_CONTACT);
	outbuf_puts(o, ",\"received\":\"");
	outbuf_append(o, recv, rn);
	outbuf_puts(o, "\",\"transport\":\"");
	outbuf_puts(o, transport_name(r->b.transport));
	outbuf_puts(o, "\",\"expires_in_s\":");
	outbuf_i64(o, row_expires_in(r, now_s));
	json_string_field(o, ",\"account\":", &r->b, STORE_STR_ACCOUNT);
	json_string_field(o, ",\"user_agent\":", &r->b, STORE_STR_USER_AGENT);
	outbuf_puts(o, ",\"registered_at\":");
	outbuf_i64(o, r->b.registered_at_s);
	outbuf_puts(o, ",\"refreshed_at\":");
	outbuf_i64(o, r->b.refreshed_at_s);
	outbuf_puts(o, ",\"status\":\"");
	outbuf_puts(o, status_names[r->status]);
	outbuf_puts(o, (r->b.flags & STORE_BINDING_NAT) ? "\",\"nat\":true" : "\",\"nat\":false");
	if (r->status == QSTATUS_UNREGISTERED) {
		outbuf_puts(o, ",\"reason\":\"");
		outbuf_puts(o, store_event_type_name((enum store_event_type)r->reason));
		outbuf_puts(o, "\",\"unregistered_at\":");
		outbuf_i64(o, r->unregistered_at_s);
	}
	outbuf_append(o, "}", 1);
}

void query_row_json(struct outbuf *o, const struct query_row *r, int64_t now_s)
{
	row_json_object(o, r, now_s);
	outbuf_append(o, "\n", 1);
}

/* --- sorting --- */

static int cmp_str(const struct store_binding_data *a, const struct store_binding_data *b,
		   enum store_string s)
{
	size_t an, bn;
	const char *ap = store_binding_string(a, s, &an), *bp = store_binding_string(b, s, &bn);
	int c = memcmp(ap, bp, an < bn ? an : bn);

	return c ? c : (an > bn) - (an < bn);
}

static int cmp_i64(int64_t a, int64_t b)
{
	return (a > b) - (a < b);
}

struct sort_ctx {
	enum query_column col;
	bool desc;
	int64_t now_s;
};

static int row_cmp(const struct query_row *a, const struct query_row *b, const struct sort_ctx *s)
{
	int c = 0;

	switch (s->col) {
	case QCOL_AOR: break;
	case QCOL_CONTACT: c = cmp_str(&a->b, &b->b, STORE_STR_CONTACT); break;
	case QCOL_RECEIVED:
		c = cmp_i64(a->b.source.family, b->b.source.family);
		if (!c)
			c = memcmp(a->b.source.addr, b->b.source.addr, 16);
		if (!c)
			c = cmp_i64(a->b.source.port, b->b.source.port);
		break;
	case QCOL_TRANSPORT: c = cmp_i64(a->b.transport, b->b.transport); break;
	case QCOL_EXPIRES_IN: c = cmp_i64(row_expires_in(a, s->now_s), row_expires_in(b, s->now_s)); break;
	case QCOL_ACCOUNT: c = cmp_str(&a->b, &b->b, STORE_STR_ACCOUNT); break;
	case QCOL_USER_AGENT: c = cmp_str(&a->b, &b->b, STORE_STR_USER_AGENT); break;
	case QCOL_REGISTERED_AT: c = cmp_i64(a->b.registered_at_s, b->b.registered_at_s); break;
	case QCOL_REFRESHED_AT: c = cmp_i64(a->b.refreshed_at_s, b->b.refreshed_at_s); break;
	case QCOL_STATUS: c = cmp_i64(a->status, b->status); break;
	case QCOL_NAT:
		c = cmp_i64(a->b.flags & STORE_BINDING_NAT, b->b.flags & STORE_BINDING_NAT);
		break;
	case QCOL_COUNT: break;
	}
	/* ties (and the aor column) in key order: AOR, then contact */
	if (!c)
		c = cmp_str(&a->b, &b->b, STORE_STR_AOR);
	if (!c)
		c = cmp_str(&a->b, &b->b, STORE_STR_CONTACT);
	if (!c)
		c = cmp_i64(a->status, b->status);
	return s->desc ? -c : c;
}

/*
 * The page: a max-heap (by output order) of the best `cap` rows seen.  A new
 * row replaces the top (the worst kept) when it sorts before it.
 */
struct page_heap {
	struct query_row *rows;
	uint32_t *idx;
	size_t n, cap, alloc;
	struct sort_ctx ctx;
	bool failed;
};

static int heap_cmp(const struct page_heap *h, uint32_t a, uint32_t b)
{
	return row_cmp(&h->rows[a], &h->rows[b], &h->ctx);
}

static void heap_sift_down(struct page_heap *h, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < h->n && heap_cmp(h, h->idx[l], h->idx[m]) > 0)
			m = l;
		if (r < h->n && heap_cmp(h, h->idx[r], h->idx[m]) > 0)
			m = r;
		if (m == i)
			return;
		uint32_t t = h->idx[i];
		h->idx[i] = h->idx[m];
		h->idx[m] = t;
		i = m;
	}
}

static void heap_offer(struct page_heap *h, const struct query_row *r)
{
	if (h->cap == 0 || h->failed)
		return;
	if (h->n < h->cap) {
		if (h->n == h->alloc) {
			size_t na = h->alloc ? h->alloc * 2 : 64;

			if (na > h->cap)
				na = h->cap;
			struct query_row *rows = realloc(h->rows, na * sizeof(*rows));
			if (!rows) {
				h->failed = true;
				return;
			}
			h->rows = rows;
			uint32_t *idx = realloc(h->idx, na * sizeof(*idx));
			if (!idx) {
				h->failed = true;
				return;
			}
			h->idx = idx;
			h->alloc = na;
		}
		size_t i = h->n++;
		h->rows[i] = *r;
		h->idx[i] = (uint32_t)i;
		while (i > 0) {
			size_t p = (i - 1) / 2;

			if (heap_cmp(h, h->idx[i], h->idx[p]) <= 0)
				break;
			uint32_t t = h->idx[i];
			h->idx[i] = h->idx[p];
			h->idx[p] = t;
			i = p;
		}
		return;
	}
	if (row_cmp(r, &h->rows[h->idx[0]], &h->ctx) >= 0)
		return;
	h->rows[h->idx[0]] = *r;
	heap_sift_down(h, 0);
}

static int sort_idx_cmp(const void *a, const void *b, void *arg)
{
	const struct page_heap *h = arg;

	return heap_cmp(h, *(const uint32_t *)a, *(const uint32_t *)b);
}

/* --- scanning --- */

/* 64-bit FNV-1a: identity of a binding (AOR '\0' key) in the history scan. */
static uint64_t fnv64(const void *p, size_t n)
{
	const uint8_t *s = p;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 0x100000001b3ULL;
	return h ? h : 1;
}

struct hash_set {
	uint64_t *slots;
	size_t mask, n;
};

/* Inserts h; returns 1 when new, 0 when present, -1 on ENOMEM. */
static int hash_set_add(struct hash_set *s, uint64_t h)
{
	if (!s->slots || (s->n + 1) * 2 > s->mask + 1) {
		size_t ncap = s->slots ? (s->mask + 1) * 2 : 1024;
		uint64_t *ns = calloc(ncap, sizeof(*ns));

		if (!ns)
			return -1;
		for (size_t i = 0; s->slots && i <= s->mask; i++) {
			if (!s->slots[i])
				continue;
			size_t j = s->slots[i] & (ncap - 1);
			while (ns[j])
				j = (j + 1) & (ncap - 1);
			ns[j] = s->slots[i];
		}
		free(s->slots);
		s->slots = ns;
		s->mask = ncap - 1;
	}
	for (size_t j = h & s->mask;; j = (j + 1) & s->mask) {
		if (s->slots[j] == h)
			return 0;
		if (!s->slots[j]) {
			s->slots[j] = h;
			s->n++;
			return 1;
		}
	}
}

/* Where a scan starts and when it stops: aor / aor_prefix use key order. */
static void scan_bounds(const struct query_filter *f, const char **prefix, size_t *prefix_len,
			char *buf, size_t cap)
{
	*prefix = NULL;
	*prefix_len = 0;
	if (f->aor[0]) {
		size_t n = strlen(f->aor);

		if (n + 1 <= cap) {
			memcpy(buf, f->aor, n);
			buf[n] = '\0';
			*prefix = buf;
			*prefix_len = n + 1;   /* AOR '\0' */
		}
	} else if (f->aor_prefix[0]) {
		*prefix = f->aor_prefix;
		*prefix_len = strlen(f->aor_prefix);
	}
}

static int scan_first(MDB_cursor *cur, MDB_val *k, MDB_val *v, const char *prefix, size_t pn)
{
	if (!prefix)
		return mdb_cursor_get(cur, k, v, MDB_FIRST);
	k->mv_data = (void *)prefix;
	k->mv_size = pn;
	return mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
}

static bool in_prefix(const MDB_val *k, const char *prefix, size_t pn)
{
	return !prefix || (k->mv_size >= pn && memcmp(k->mv_data, prefix, pn) == 0);
}

static int scan_unregistered(MDB_txn *btxn, MDB_dbi bdbi, MDB_txn *htxn, MDB_dbi hdbi,
			     const struct query_options *q, struct page_heap *heap,
			     uint64_t *total)
{
	struct hash_set seen = { 0 };
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	rc = mdb_cursor_open(htxn, hdbi, &cur);
	if (rc != 0)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_LAST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
		struct store_event ev;
		char key[STORE_BINDING_KEY_MAX + 16];
		size_t kn;

		if (v.mv_size < offsetof(struct store_event, binding.str) ||
		    v.mv_size > sizeof(ev))
			continue;
		memset(&ev, 0, sizeof(ev));
		memcpy(&ev, v.mv_data, v.mv_size);
		if (ev.version != STORE_RECORD_VERSION || ev.type == 0 ||
		    ev.type >= STORE_EVENT_TYPE_COUNT ||
		    store_event_used_size(&ev) != v.mv_size || ev.binding.str_len[STORE_STR_AOR] == 0)
			continue;   /* admin records (control/history.h) and foreign versions */
		if (!store_event_touches_binding((enum store_event_type)ev.type))
			continue;   /* security events (auth-failed, locked-out) */
		kn = store_binding_lmdb_key_build(&ev.binding, key, sizeof(key));
		if (kn == 0)
			continue;
		int added = hash_set_add(&seen, fnv64(key, kn));
		if (added < 0) {
			rc = ENOMEM;
			break;
		}
		if (!added || !store_event_removes((enum store_event_type)ev.type))
			continue;
		MDB_val bk = { .mv_size = kn, .mv_data = key }, bv;
		if (mdb_get(btxn, bdbi, &bk, &bv) == 0)
			continue;      /* registered again since */
		if (!query_match(&q->filter, &ev.binding, QSTATUS_UNREGISTERED))
			continue;
		struct query_row row = { .b = ev.binding, .status = QSTATUS_UNREGISTERED,
					 .reason = ev.type, .unregistered_at_s = ev.at_s };
		(*total)++;
		heap_offer(heap, &row);
	}
	mdb_cursor_close(cur);
	free(seen.slots);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/*
 * Cheap pre-check on the LMDB value in place: source address and status
 * need only the fixed part of the record, so most rows a CIDR or status
 * filter rejects are never copied (perf/bench-control: the full decode of
 * every record was most of a 1 M-row scan).  true: cannot match.
 */
static bool fast_reject(const struct query_options *q, const MDB_val *v, int64_t now_s)
{
	struct store_binding_data fixed;
	size_t hdr = sizeof(struct store_binding_value_header);

	if (!q->filter.has_ip && !q->filter.status_mask)
		return false;
	if (v->mv_size < hdr + offsetof(struct store_binding_data, str))
		return false;   /* the full decode rejects it */
	memcpy(&fixed, (const char *)v->mv_data + hdr, offsetof(struct store_binding_data, str));
	if (q->filter.has_ip &&
	    !store_cidr_contains(&q->filter.ip, fixed.source.family, fixed.source.addr, 0, false))
		return true;
	if (q->filter.status_mask &&
	    !(q->filter.status_mask & (1u << query_live_status(&fixed, now_s, q->expiring_window_s))))
		return true;
	return false;
}

int query_list(MDB_txn *btxn, MDB_dbi bdbi, MDB_txn *htxn, MDB_dbi hdbi,
	       const struct query_options *q, int64_t now_s, struct outbuf *out,
	       uint64_t *total_out)
{
	struct page_heap heap = {
		.cap = q->count_only ? 0 : q->offset + q->limit,
		.ctx = { .col = q->sort, .desc = q->desc, .now_s = now_s },
	};
	unsigned live_mask = (1u << QSTATUS_REGISTERED) | (1u << QSTATUS_EXPIRING) |
			     (1u << QSTATUS_EXPIRED);
	uint64_t total = 0;
	char pbuf[QUERY_MAX_STRING + 1];
	const char *prefix;
	size_t pn;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = 0;

	const struct query_filter *f = &q->filter;
	bool unfiltered = !f->aor[0] && !f->aor_prefix[0] && !f->number[0] && !f->number_prefix[0] &&
			  !f->has_ip && !f->account[0] && !f->user_agent[0] && !f->status_mask;
	if (unfiltered) {
		/* every record matches: the count is the table's, and in key
		 * order the page is its first offset+limit records */
		MDB_stat st;

		rc = mdb_stat(btxn, bdbi, &st);
		if (rc != 0)
			return rc;
		total = st.ms_entries;
	}
	if (unfiltered && (q->count_only || (q->sort == QCOL_AOR && !q->desc))) {
		rc = 0;
		if (!q->count_only) {
			rc = mdb_cursor_open(btxn, bdbi, &cur);
			if (rc != 0)
				return rc;
			for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && heap.n < heap.cap;
			     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
				struct query_row row = { 0 };

				if (store_binding_value_decode(v.mv_data, v.mv_size, &row.b) != 0)
					continue;
				row.status = (uint8_t)query_live_status(&row.b, now_s, q->expiring_window_s);
				heap_offer(&heap, &row);
			}
			mdb_cursor_close(cur);
			rc = rc == MDB_NOTFOUND ? 0 : rc;
		}
	} else if (!q->filter.status_mask || (q->filter.status_mask & live_mask)) {
		if (unfiltered)
			total = 0;   /* counted again by the scan below */
		rc = mdb_cursor_open(btxn, bdbi, &cur);
		if (rc != 0)
			return rc;
		scan_bounds(&q->filter, &prefix, &pn, pbuf, sizeof(pbuf));
		for (rc = scan_first(cur, &k, &v, prefix, pn); rc == 0 && in_prefix(&k, prefix, pn);
		     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			struct query_row row;

			if (fast_reject(q, &v, now_s) ||
			    store_binding_value_decode(v.mv_data, v.mv_size, &row.b) != 0)
				continue;
			row.status = (uint8_t)query_live_status(&row.b, now_s, q->expiring_window_s);
			if (!query_match(&q->filter, &row.b, (enum query_status)row.status))
				continue;
			row.reason = 0;
			row.unregistered_at_s = 0;
			total++;
			heap_offer(&heap, &row);
		}
		mdb_cursor_close(cur);
		if (rc == MDB_NOTFOUND || rc == 0)
			rc = 0;
	}
	if (rc == 0 && (q->filter.status_mask & (1u << QSTATUS_UNREGISTERED)) && htxn)
		rc = scan_unregistered(btxn, bdbi, htxn, hdbi, q, &heap, &total);
	if (rc == 0 && heap.failed)
		rc = ENOMEM;
	if (rc == 0) {
		outbuf_puts(out, "\"total\":");
		outbuf_u64(out, total);
		if (!q->count_only) {
			if (heap.n > 1)
				qsort_r(heap.idx, heap.n, sizeof(*heap.idx), sort_idx_cmp, &heap);
			outbuf_puts(out, ",\"rows\":[");
			for (size_t i = q->offset; i < heap.n; i++) {
				if (i > q->offset)
					outbuf_append(out, ",", 1);
				row_json_object(out, &heap.rows[heap.idx[i]], now_s);
			}
			outbuf_append(out, "]", 1);
		}
	}
	if (total_out)
		*total_out = total;
	free(heap.rows);
	free(heap.idx);
	return rc;
}

/* --- export --- */

int query_export_begin(struct query_export *e, MDB_txn *btxn, MDB_dbi bdbi,
		       const struct query_options *q, bool csv, int64_t now_s)
{
	memset(e, 0, sizeof(*e));
	e->q = *q;
	e->csv = csv;
	e->now_s = now_s;
	return mdb_cursor_open(btxn, bdbi, &e->cur);
}

long query_export_next(struct query_export *e, struct outbuf *o, long max_rows, int *rc_out)
{
	char pbuf[QUERY_MAX_STRING + 1];
	const char *prefix;
	size_t pn;
	MDB_val k, v;
	long n = 0;
	int rc;

	*rc_out = 0;
	if (e->done)
		return 0;
	scan_bounds(&e->q.filter, &prefix, &pn, pbuf, sizeof(pbuf));
	if (!e->started) {
		e->started = true;
		rc = scan_first(e->cur, &k, &v, prefix, pn);
	} else {
		rc = mdb_cursor_get(e->cur, &k, &v, MDB_NEXT);
	}
	for (; rc == 0 && in_prefix(&k, prefix, pn); rc = mdb_cursor_get(e->cur, &k, &v, MDB_NEXT)) {
		struct query_row row;

		if (fast_reject(&e->q, &v, e->now_s) ||
		    store_binding_value_decode(v.mv_data, v.mv_size, &row.b) != 0)
			continue;
		row.status = (uint8_t)query_live_status(&row.b, e->now_s, e->q.expiring_window_s);
		if (!query_match(&e->q.filter, &row.b, (enum query_status)row.status))
			continue;
		row.reason = 0;
		row.unregistered_at_s = 0;
		if (e->csv)
			query_row_csv(o, &row, e->now_s);
		else
			query_row_json(o, &row, e->now_s);
		e->rows++;
		if (++n == max_rows)
			return n;   /* the cursor stays on this row; NEXT continues */
	}
	e->done = true;
	if (rc != 0 && rc != MDB_NOTFOUND) {
		*rc_out = rc;
		return -1;
	}
	return n;
}

void query_export_end(struct query_export *e)
{
	if (e->cur)
		mdb_cursor_close(e->cur);
	e->cur = NULL;
}
