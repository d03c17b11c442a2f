/* nat_keepalive.c — sweep, probes and answers for NAT bindings. */
#include "nat_keepalive.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "big_alloc.h"
#include "sip_response.h"

#define NO_PATH 0xff
#define BRANCH_PREFIX "z9hG4bK-sipreg-ka-"
/* Slots looked at per sweep call: bounds the time one call takes (a few
 * microseconds) whatever the table size. */
#define VISIT_MAX 512

struct slot_state {
	uint32_t registered_at;   /* low bits of registered_at_s: slot reuse check */
	uint32_t token;           /* of the outstanding probe */
	uint8_t path;             /* NO_PATH: not tracked */
	uint8_t misses;           /* unanswered probes in a row */
	uint8_t outstanding;      /* a probe awaits its answer */
	uint8_t pad;
};

struct nat_keepalive {
	uint32_t capacity;
	uint32_t worker;
	struct slot_state *slots;
	uint32_t tracked;
	uint32_t n_paths;
	uint32_t last_path;
	struct packet_path paths[NAT_KEEPALIVE_MAX_PATHS];
	/* The sweep: slots [0, round_end) are visited between round_start_ms
	 * and round_start_ms + interval, cursor being the next one. */
	int64_t round_start_ms;
	uint32_t round_end;
	uint32_t cursor;
	uint32_t next_token;
};

struct nat_keepalive *nat_keepalive_create(uint32_t capacity, uint32_t worker)
{
	struct nat_keepalive *ka;

	if (capacity == 0)
		return NULL;
	ka = calloc(1, sizeof(*ka));
	if (!ka)
		return NULL;
	ka->slots = store_big_alloc((size_t)capacity * sizeof(ka->slots[0]));
	if (!ka->slots) {
		free(ka);
		return NULL;
	}
	/* Written now, at start, so tracking never page-faults on the packet
	 * path. */
	memset(ka->slots, NO_PATH, (size_t)capacity * sizeof(ka->slots[0]));
	ka->capacity = capacity;
	ka->worker = worker;
	ka->round_start_ms = -1;
	return ka;
}

void nat_keepalive_destroy(struct nat_keepalive *ka)
{
	if (!ka)
		return;
	store_big_free(ka->slots, (size_t)ka->capacity * sizeof(ka->slots[0]));
	free(ka);
}

/* Index of p in the path table, added if new; NO_PATH when full. */
static uint8_t path_index(struct nat_keepalive *ka, const struct packet_path *p)
{
	if (ka->n_paths && memcmp(&ka->paths[ka->last_path], p, sizeof(*p)) == 0)
		return (uint8_t)ka->last_path;
	for (uint32_t i = 0; i < ka->n_paths; i++) {
		if (memcmp(&ka->paths[i], p, sizeof(*p)) == 0) {
			ka->last_path = i;
			return (uint8_t)i;
		}
	}
	if (ka->n_paths == NAT_KEEPALIVE_MAX_PATHS)
		return NO_PATH;
	ka->paths[ka->n_paths] = *p;
	ka->last_path = ka->n_paths;
	return (uint8_t)ka->n_paths++;
}

bool nat_keepalive_track(struct nat_keepalive *ka, uint32_t slot,
			 const struct store_binding_data *b, const struct packet_path *p)
{
	struct slot_state *s;
	uint8_t path;

	if (slot >= ka->capacity)
		return false;
	path = path_index(ka, p);
	if (path == NO_PATH)
		return false;
	s = &ka->slots[slot];
	if (s->path == NO_PATH)
		ka->tracked++;
	*s = (struct slot_state){ .registered_at = (uint32_t)b->registered_at_s, .path = path };
	return true;
}

static void untrack(struct nat_keepalive *ka, struct slot_state *s)
{
	s->path = NO_PATH;
	ka->tracked--;
}

unsigned nat_keepalive_sweep(struct nat_keepalive *ka, struct binding_table *t, int64_t now_ms,
			     uint32_t interval_s, uint32_t max_misses,
			     struct nat_keepalive_probe *probes, unsigned max, uint32_t *removed)
{
	int64_t interval_ms = (int64_t)interval_s * 1000;
	unsigned n = 0;
	uint32_t target;

	if (interval_s == 0)
		return 0;
	if (ka->round_start_ms < 0 ||
	    (ka->cursor >= ka->round_end && now_ms - ka->round_start_ms >= interval_ms)) {
		ka->round_start_ms = now_ms;
		ka->cursor = 0;
		ka->round_end = binding_table_slots_used(t);
		if (ka->round_end > ka->capacity)
			ka->round_end = ka->capacity;
	}
	if (ka->cursor >= ka->round_end)
		return 0;
	if (now_ms - ka->round_start_ms >= interval_ms)
		target = ka->round_end;
	else
		target = (uint32_t)((uint64_t)ka->round_end * (uint64_t)(now_ms - ka->round_start_ms) /
				    (uint64_t)interval_ms);
	if (target - ka->cursor > VISIT_MAX)
		target = ka->cursor + VISIT_MAX;
	for (; ka->cursor < target && n < max; ka->cursor++) {
		uint32_t slot = ka->cursor;
		struct slot_state *s = &ka->slots[slot];
		const struct store_binding_data *b;

		if (s->path == NO_PATH)
			continue;
		b = binding_table_get(t, slot);
		if (!b || !(b->flags & STORE_BINDING_NAT) || (uint32_t)b->registered_at_s != s->registered_at) {
			untrack(ka, s);
			continue;
		}
		if (s->outstanding && ++s->misses >= max_misses) {
			binding_table_remove_unreachable(t, slot, now_ms / 1000);
			untrack(ka, s);
			(*removed)++;
			continue;
		}
		s->token = ++ka->next_token;
		s->outstanding = 1;
		probes[n++] = (struct nat_keepalive_probe){ .slot = slot, .token = s->token, .path = s->path };
	}
	return n;
}

static void append_hex(struct response_writer *w, uint32_t v)
{
	char text[8];
	int i = 8;

	do {
		text[--i] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v && i > 0);
	response_append(w, text + i, (size_t)(8 - i));
}

/* "-<worker>-<slot>-<token>" after a prefix, all hex. */
static void append_probe_id(struct response_writer *w, const struct nat_keepalive *ka,
			    const struct nat_keepalive_probe *probe)
{
	append_hex(w, ka->worker);
	response_append(w, "-", 1);
	append_hex(w, probe->slot);
	response_append(w, "-", 1);
	append_hex(w, probe->token);
}

int nat_keepalive_build(const struct nat_keepalive *ka, const struct binding_table *t,
			const struct nat_keepalive_probe *probe, const char *from_domain,
			struct rte_mbuf *m)
{
	const struct store_binding_data *b = binding_table_get(t, probe->slot);
	const struct packet_path *p;
	struct sip_source local;
	struct response_writer w;
	struct sip_slice contact;
	size_t contact_len;
	uint16_t headers;

	if (!b || probe->path >= ka->n_paths)
		return -1;
	p = &ka->paths[probe->path];
	if ((b->source.family == AF_INET) != (p->ip_version == 4))
		return -1;
	headers = packet_path_header_len(p);
	if (headers >= m->buf_len - m->data_off)
		return -1;
	contact.ptr = store_binding_string(b, STORE_STR_CONTACT, &contact_len);
	contact.len = (uint32_t)contact_len;
	local.ip_version = p->ip_version;
	memcpy(local.addr, p->local_ip, sizeof(local.addr));
	local.port = p->local_port;

	w = (struct response_writer){ .buf = rte_pktmbuf_mtod(m, char *) + headers,
				      .cap = (size_t)(m->buf_len - m->data_off - headers) };
	response_append_str(&w, "OPTIONS ");
	response_append_slice(&w, contact);
	response_append_str(&w, " SIP/2.0\r\nVia: SIP/2.0/UDP ");
	if (p->ip_version == 6)
		response_append(&w, "[", 1);
	response_append_source_ip(&w, &local);
	response_append_str(&w, p->ip_version == 6 ? "]:" : ":");
	response_append_u32(&w, p->local_port);
	response_append_str(&w, ";branch=" BRANCH_PREFIX);
	append_probe_id(&w, ka, probe);
	response_append_str(&w, ";rport\r\nMax-Forwards: 70\r\nFrom: <sip:keepalive@");
	response_append_str(&w, from_domain);
	response_append_str(&w, ">;tag=");
	append_hex(&w, probe->token);
	response_append_str(&w, "\r\nTo: <");
	response_append_slice(&w, contact);
	response_append_str(&w, ">\r\nCall-ID: sipreg-ka-");
	append_probe_id(&w, ka, probe);
	response_append_str(&w, "\r\nCSeq: 1 OPTIONS\r\n");
	int len = response_finish(&w);
	if (len < 0)
		return -1;
	return packet_build_udp(m, p, b->source.addr, b->source.port, (uint16_t)len);
}

static bool parse_hex(const char **pos, const char *end, uint32_t *out)
{
	const char *s = *pos;
	uint64_t v = 0;

	if (s == end)
		return false;
	while (s < end && *s != '-') {
		char c = *s;
		unsigned d;
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else
			return false;
		v = v * 16 + d;
		if (v > UINT32_MAX)
			return false;
		s++;
	}
	if (s == *pos)
		return false;
	*out = (uint32_t)v;
	*pos = s;
	return true;
}

bool nat_keepalive_parse_branch(struct sip_slice branch, uint32_t *worker, uint32_t *slot,
				uint32_t *token)
{
	static const size_t prefix_len = sizeof(BRANCH_PREFIX) - 1;
	const char *s, *end;

	if (branch.len <= prefix_len || memcmp(branch.ptr, BRANCH_PREFIX, prefix_len) != 0)
		return false;
	s = branch.ptr + prefix_len;
	end = branch.ptr + branch.len;
	if (!parse_hex(&s, end, worker) || s == end || *s++ != '-')
		return false;
	if (!parse_hex(&s, end, slot) || s == end || *s++ != '-')
		return false;
	return parse_hex(&s, end, token) && s == end;
}

bool nat_keepalive_answered(struct nat_keepalive *ka, uint32_t slot, uint32_t token)
{
	struct slot_state *s;

	if (slot >= ka->capacity)
		return false;
	s = &ka->slots[slot];
	if (s->path == NO_PATH || !s->outstanding || s->token != token)
		return false;
	s->outstanding = 0;
	s->misses = 0;
	return true;
}

uint32_t nat_keepalive_tracked(const struct nat_keepalive *ka)
{
	return ka->tracked;
}
