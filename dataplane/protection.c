/* protection.c — XDP maps, lockout notices and protection commands. */
#include "protection.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "mgmt.h"
#include "xdp_maps.h"

#define MAX_ALLOW 4096

/* One block, as the operator and the lockout made it; the XDP trie and the
 * workers' tables mirror this list, and access.json persists it. */
struct block_rec {
	struct store_cidr cidr;
	int64_t expires_s;        /* wall clock; 0: until unblocked */
	int64_t blocked_at_s;     /* wall clock of the (last) block */
	uint32_t reason;          /* enum xdp_block_reason */
};

struct protection {
	struct protection_config cfg;
	bool have_xdp;
	struct xdp_maps maps;
	struct rte_ring *notices;
	struct prefix_list **allowlist;
	struct rte_rcu_qsbr *qsbr;
	struct mgmt *mgmt;
	int64_t last_sweep_s;
	struct block_rec *blocks;
	size_t n_blocks, cap_blocks;
	bool dirty;               /* access.json is behind */
	bool soft_dirty;          /* soft_blocks is behind (no XDP) */
	struct prefix_list *soft_blocks;  /* published for the workers */
	struct soft_rates soft_rates;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static bool same_cidr(const struct store_cidr *a, const struct store_cidr *b)
{
	return a->family == b->family && a->prefix_len == b->prefix_len &&
	       memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 16) == 0;
}

/* Adds or replaces the block of c. Returns its record, or NULL (no
 * memory, list full). */
static struct block_rec *block_list_put(struct protection *p, const struct store_cidr *c,
					int64_t expires_s, int64_t blocked_at_s, uint32_t reason)
{
	for (size_t i = 0; i < p->n_blocks; i++)
		if (same_cidr(&p->blocks[i].cidr, c)) {
			p->blocks[i].expires_s = expires_s;
			p->blocks[i].blocked_at_s = blocked_at_s;
			p->blocks[i].reason = reason;
			p->dirty = p->soft_dirty = true;
			return &p->blocks[i];
		}
	if (p->n_blocks == XDP_MAX_BLOCKS)
		return NULL;
	if (p->n_blocks == p->cap_blocks) {
		size_t cap = p->cap_blocks ? 2 * p->cap_blocks : 64;
		struct block_rec *grown = realloc(p->blocks, cap * sizeof(*grown));
		if (!grown)
			return NULL;
		p->blocks = grown;
		p->cap_blocks = cap;
	}
	p->blocks[p->n_blocks] = (struct block_rec){ *c, expires_s, blocked_at_s, reason };
	p->dirty = p->soft_dirty = true;
	return &p->blocks[p->n_blocks++];
}

/* Removes the block of c. Returns true when there was one. */
static bool block_list_remove(struct protection *p, const struct store_cidr *c)
{
	for (size_t i = 0; i < p->n_blocks; i++)
		if (same_cidr(&p->blocks[i].cidr, c)) {
			p->blocks[i] = p->blocks[--p->n_blocks];
			p->dirty = p->soft_dirty = true;
			return true;
		}
	return false;
}

static void prefix_from_cidr(const struct store_cidr *c, struct xdp_prefix *x);
static void publish_soft_blocks(struct protection *p);

/* Puts one block into the XDP trie (wall-clock expiry to monotonic). */
static int xdp_put_block(struct protection *p, const struct block_rec *b, int64_t now_s)
{
	struct xdp_prefix x;
	uint64_t expires_ns = 0;

	if (!p->have_xdp)
		return 0;
	prefix_from_cidr(&b->cidr, &x);
	if (b->expires_s) {
		int64_t left = b->expires_s - now_s;
		expires_ns = mono_ns() + (uint64_t)(left > 0 ? left : 1) * 1000000000ull;
	}
	return xdp_maps_block(&p->maps, &x, expires_ns, (enum xdp_block_reason)b->reason);
}

/* Writes access.json (blocks and allowlist) atomically; clears dirty. */
static void save_access(struct protection *p)
{
	char tmp[4200], text[64];
	json_t *o = json_object(), *blocks = json_array(), *allow = json_array();
	const struct prefix_list *l = __atomic_load_n(p->allowlist, __ATOMIC_ACQUIRE);

	if (!p->cfg.access_path || !o || !blocks || !allow)
		goto out;
	for (size_t i = 0; i < p->n_blocks; i++)
		if (store_cidr_format(&p->blocks[i].cidr, text, sizeof(text)) == 0)
			json_array_append_new(blocks, json_pack("{s:s,s:I,s:I,s:s}", "cidr", text, "expires_s",
								(json_int_t)p->blocks[i].expires_s, "blocked_at_s",
								(json_int_t)p->blocks[i].blocked_at_s, "reason",
								p->blocks[i].reason == XDP_BLOCK_LOCKOUT ? "lockout" : "manual"));
	for (uint32_t i = 0; l && i < l->n; i++)
		if (store_cidr_format(&l->cidrs[i], text, sizeof(text)) == 0)
			json_array_append_new(allow, json_string(text));
	json_object_set(o, "blocks", blocks);
	json_object_set(o, "allow", allow);
	snprintf(tmp, sizeof(tmp), "%s.tmp", p->cfg.access_path);
	if (json_dump_file(o, tmp, JSON_INDENT(1)) == 0 && rename(tmp, p->cfg.access_path) == 0)
		p->dirty = false;
	else
		fprintf(stderr, "sipreg-dataplane: cannot write %s: %s\n", p->cfg.access_path, strerror(errno));
out:
	json_decref(blocks);
	json_decref(allow);
	json_decref(o);
}

static int change_allowlist(struct protection *p, const struct store_cidr *c, bool add);

/* Loads access.json (when there is one): unexpired blocks and the
 * allowlist come back after a restart. Returns 0, or -1 with err. */
static int load_access(struct protection *p, char *err, size_t err_len)
{
	json_error_t jerr;
	json_t *o, *v;
	size_t i;
	int64_t now = (int64_t)time(NULL);

	if (!p->cfg.access_path)
		return 0;
	o = json_load_file(p->cfg.access_path, 0, &jerr);
	if (!o) {
		if (access(p->cfg.access_path, F_OK) != 0)
			return 0;
		snprintf(err, err_len, "%s: %s", p->cfg.access_path, jerr.text);
		return -1;
	}
	json_array_foreach(json_object_get(o, "blocks"), i, v) {
		struct store_cidr c;
		const char *text = json_string_value(json_object_get(v, "cidr"));
		json_int_t expires = json_integer_value(json_object_get(v, "expires_s"));
		const char *reason = json_string_value(json_object_get(v, "reason"));
		if (!text || store_cidr_parse(text, &c) != 0 || (expires && expires <= now))
			continue;
		uint32_t r = reason && !strcmp(reason, "lockout") ? XDP_BLOCK_LOCKOUT : XDP_BLOCK_MANUAL;
		json_int_t at = json_integer_value(json_object_get(v, "blocked_at_s"));
		const struct block_rec *b = block_list_put(p, &c, expires, at, r);
		if (b)
			(void)xdp_put_block(p, b, now);
	}
	json_array_foreach(json_object_get(o, "allow"), i, v) {
		struct store_cidr c;
		struct xdp_prefix x;
		const char *text = json_string_value(v);
		if (!text || store_cidr_parse(text, &c) != 0)
			continue;
		prefix_from_cidr(&c, &x);
		if (p->have_xdp)
			(void)xdp_maps_allow(&p->maps, &x);
		(void)change_allowlist(p, &c, true);
	}
	json_decref(o);
	p->dirty = false;
	return 0;
}

static void answer(char *out, size_t out_len, json_t *o)
{
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

	snprintf(out, out_len, "%s", text ? text : "{\"ok\":false,\"error\":\"out of memory\"}");
	free(text);
	json_decref(o);
}

static void answer_error(char *out, size_t out_len, const char *what)
{
	answer(out, out_len, json_pack("{s:b,s:s}", "ok", 0, "error", what));
}

struct protection *protection_create(const struct protection_config *cfg,
				     struct rte_ring *notices, struct prefix_list **allowlist,
				     struct rte_rcu_qsbr *qsbr, char *err, size_t err_len)
{
	struct protection *p = calloc(1, sizeof(*p));

	if (!p) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	p->cfg = *cfg;
	p->cfg.access_path = cfg->access_path ? strdup(cfg->access_path) : NULL;
	p->cfg.xdp_iface = NULL;           /* not kept: only used here */
	p->notices = notices;
	p->allowlist = allowlist;
	p->qsbr = qsbr;
	if (cfg->xdp_iface) {
		if (xdp_maps_open(cfg->xdp_iface, &p->maps, err, err_len) != 0) {
			protection_free(p);
			return NULL;
		}
		p->have_xdp = true;
		int rc = protection_set_rates(p, cfg->per_ip_rate_pps, cfg->global_rate_pps);
		if (rc != 0) {
			snprintf(err, err_len, "XDP config map: %s", strerror(-rc));
			protection_free(p);
			return NULL;
		}
	}
	if (!cfg->xdp_iface)
		(void)protection_set_rates(p, cfg->per_ip_rate_pps, cfg->global_rate_pps);
	if (load_access(p, err, err_len) != 0) {
		protection_free(p);
		return NULL;
	}
	p->soft_dirty = true;
	publish_soft_blocks(p);
	return p;
}

int protection_set_rates(struct protection *p, uint32_t per_ip_pps, uint32_t global_pps)
{
	unsigned cpus = p->cfg.n_rx_cpus ? p->cfg.n_rx_cpus : 1;

	if (!p->have_xdp) {
		unsigned workers = p->cfg.n_workers ? p->cfg.n_workers : 1;
		uint32_t ip_burst = p->cfg.per_ip_burst > per_ip_pps ? p->cfg.per_ip_burst : per_ip_pps;
		uint32_t g_burst = p->cfg.global_burst > global_pps ? p->cfg.global_burst : global_pps;
		__atomic_store_n(&p->soft_rates.per_ip_burst, ip_burst, __ATOMIC_RELAXED);
		__atomic_store_n(&p->soft_rates.per_ip_pps, per_ip_pps, __ATOMIC_RELAXED);
		__atomic_store_n(&p->soft_rates.global_burst_per_worker, (g_burst + workers - 1) / workers,
				 __ATOMIC_RELAXED);
		__atomic_store_n(&p->soft_rates.global_pps_per_worker, (global_pps + workers - 1) / workers,
				 __ATOMIC_RELAXED);
		return 0;
	}
	p->cfg.per_ip_rate_pps = per_ip_pps;
	p->cfg.global_rate_pps = global_pps;
	/* A burst below the rate would cap it: never less than one second. */
	uint32_t ip_burst = p->cfg.per_ip_burst > per_ip_pps ? p->cfg.per_ip_burst : per_ip_pps;
	uint32_t global_burst = p->cfg.global_burst > global_pps ? p->cfg.global_burst : global_pps;
	struct xdp_config xc = {
		.version = XDP_SHARED_VERSION,
		.sip_port = p->cfg.sip_port,
		.per_ip_rate_pps = per_ip_pps,
		.per_ip_burst = ip_burst,
		.global_rate_pps_per_cpu = (global_pps + cpus - 1) / cpus,
		.global_burst_per_cpu = (global_burst + cpus - 1) / cpus,
	};
	return xdp_maps_set_config(&p->maps, &xc);
}

void protection_attach_mgmt(struct protection *p, struct mgmt *m)
{
	p->mgmt = m;
}

void protection_free(struct protection *p)
{
	if (!p)
		return;
	if (p->dirty)
		save_access(p);
	if (p->have_xdp)
		xdp_maps_close(&p->maps);
	free(p->blocks);
	free(p->soft_blocks);
	free((char *)p->cfg.access_path);
	free(p);
}

/* Locks (until_s > 0) or unlocks one address in every worker's table. */
static void tell_workers(struct protection *p, const uint8_t *addr, uint8_t len, int64_t until_s)
{
	if (!p->mgmt)
		return;
	for (unsigned k = 0; k < mgmt_n_workers(p->mgmt); k++) {
		struct worker_command *cmd = calloc(1, sizeof(*cmd));
		if (!cmd)
			return;
		cmd->type = WORKER_CMD_LOCK;
		memcpy(cmd->addr, addr, len);
		cmd->addr_len = len;
		cmd->until_s = until_s;
		if (mgmt_run_on_worker(p->mgmt, k, cmd) == 0)
			free(cmd);
	}
}

static void prefix_from_cidr(const struct store_cidr *c, struct xdp_prefix *x)
{
	memset(x, 0, sizeof(*x));
	x->family = c->family == AF_INET ? 4 : 6;
	x->prefix_len = c->prefix_len;
	memcpy(x->addr, c->addr, x->family == 4 ? 4 : 16);
}

/* Without XDP: republishes the CIDR blocks for the workers (single
 * addresses live in their lockout tables); the old list is freed once
 * every worker has moved on. */
static void publish_soft_blocks(struct protection *p)
{
	struct prefix_list *fresh, *old;
	int64_t now = (int64_t)time(NULL);

	if (p->have_xdp || !p->soft_dirty)
		return;
	fresh = malloc(sizeof(*fresh) + sizeof(struct store_cidr) * (p->n_blocks + 1));
	if (!fresh)
		return;
	fresh->n = 0;
	for (size_t i = 0; i < p->n_blocks; i++) {
		const struct block_rec *b = &p->blocks[i];
		bool single = b->cidr.prefix_len == (b->cidr.family == AF_INET ? 32 : 128);
		if (!single && (b->expires_s == 0 || b->expires_s > now))
			fresh->cidrs[fresh->n++] = b->cidr;
	}
	old = __atomic_exchange_n(&p->soft_blocks, fresh, __ATOMIC_ACQ_REL);
	if (p->qsbr)
		rte_rcu_qsbr_synchronize(p->qsbr, RTE_QSBR_THRID_INVALID);
	free(old);
	p->soft_dirty = false;
}

struct prefix_list **protection_soft_blocks(struct protection *p)
{
	return p->have_xdp ? NULL : &p->soft_blocks;
}

const struct soft_rates *protection_soft_rates(struct protection *p)
{
	return p->have_xdp ? NULL : &p->soft_rates;
}

void protection_tick(struct protection *p)
{
	struct lockout_notice n;
	int64_t now_s = (int64_t)time(NULL);

	/* Lockouts first: the 10 ms promise of DESIGN.md is this loop. */
	while (p->notices && rte_ring_dequeue_elem(p->notices, &n, sizeof(n)) == 0) {
		struct store_cidr c = { .family = n.len == 4 ? AF_INET : AF_INET6,
					.prefix_len = (uint8_t)(n.len * 8) };
		memcpy(c.addr, n.addr, n.len);
		const struct block_rec *b = block_list_put(p, &c, n.until_s, now_s, XDP_BLOCK_LOCKOUT);
		if (b)
			(void)xdp_put_block(p, b, now_s);
		tell_workers(p, n.addr, n.len, n.until_s);
	}
	if (now_s == p->last_sweep_s)
		return;
	/* Once a second: expired blocks leave the list and the trie (they
	 * already stopped dropping by themselves), and access.json catches
	 * up with lockouts at most this often. */
	p->last_sweep_s = now_s;
	for (size_t i = 0; i < p->n_blocks;) {
		if (p->blocks[i].expires_s && p->blocks[i].expires_s <= now_s) {
			struct xdp_prefix x;
			prefix_from_cidr(&p->blocks[i].cidr, &x);
			if (p->have_xdp)
				(void)xdp_maps_unblock(&p->maps, &x);
			p->blocks[i] = p->blocks[--p->n_blocks];
			p->dirty = p->soft_dirty = true;
		} else {
			i++;
		}
	}
	if (p->dirty)
		save_access(p);
	publish_soft_blocks(p);
}

static bool parse_cidr_arg(const json_t *req, struct store_cidr *c, char *out, size_t out_len)
{
	const char *text = NULL;

	if (json_unpack((json_t *)req, "{s:s}", "cidr", &text) != 0 || store_cidr_parse(text, c) != 0 ||
	    c->port != 0) {
		answer_error(out, out_len, "needs \"cidr\": an IPv4/IPv6 address or prefix, e.g. 198.18.1.0/24");
		return false;
	}
	return true;
}

/* Rebuilds the allowlist with c added or removed, publishes it, and frees
 * the old one once every worker has moved on. */
static int change_allowlist(struct protection *p, const struct store_cidr *c, bool add)
{
	struct prefix_list *old = __atomic_load_n(p->allowlist, __ATOMIC_ACQUIRE);
	uint32_t n_old = old ? old->n : 0;
	struct prefix_list *fresh = malloc(sizeof(*fresh) + sizeof(struct store_cidr) * (n_old + 1));

	if (!fresh)
		return -1;
	fresh->n = 0;
	for (uint32_t i = 0; i < n_old; i++)
		if (memcmp(&old->cidrs[i], c, sizeof(*c)) != 0)
			fresh->cidrs[fresh->n++] = old->cidrs[i];
	if (add) {
		if (fresh->n >= MAX_ALLOW) {
			free(fresh);
			return -1;
		}
		fresh->cidrs[fresh->n++] = *c;
	}
	__atomic_store_n(p->allowlist, fresh, __ATOMIC_RELEASE);
	p->dirty = true;
	if (p->qsbr)
		rte_rcu_qsbr_synchronize(p->qsbr, RTE_QSBR_THRID_INVALID);
	free(old);
	return 0;
}

static const char *reason_name(uint32_t reason)
{
	return reason == XDP_BLOCK_LOCKOUT ? "lockout" : reason == XDP_BLOCK_MANUAL ? "manual" : "?";
}

bool protection_command(struct protection *p, const char *cmd, const json_t *req, char *out,
			size_t out_len)
{
	struct store_cidr c;
	struct xdp_prefix x;
	int rc = 0;

	if (!strcmp(cmd, "block") || !strcmp(cmd, "unblock") || !strcmp(cmd, "allow") ||
	    !strcmp(cmd, "disallow")) {
		if (!parse_cidr_arg(req, &c, out, out_len))
			return true;
		prefix_from_cidr(&c, &x);
		bool single = c.prefix_len == (c.family == AF_INET ? 32 : 128);
		uint8_t len = c.family == AF_INET ? 4 : 16;
		if (!strcmp(cmd, "block")) {
			json_int_t duration = 0;
			int64_t now = (int64_t)time(NULL);
			if (json_unpack((json_t *)req, "{s?I}", "duration_s", &duration) != 0 || duration < 0) {
				answer_error(out, out_len, "duration_s must be a whole number of seconds >= 0");
				return true;
			}
			const struct block_rec *b = block_list_put(p, &c, duration ? now + duration : 0, now,
								   XDP_BLOCK_MANUAL);
			rc = b ? xdp_put_block(p, b, now) : -E2BIG;
			if (rc == 0 && single)
				tell_workers(p, c.addr, len, duration ? now + duration : INT64_MAX / 2);
		} else if (!strcmp(cmd, "unblock")) {
			bool listed = block_list_remove(p, &c);
			if (p->have_xdp)
				rc = xdp_maps_unblock(&p->maps, &x);
			if (single)
				tell_workers(p, c.addr, len, 0);
			if (rc == -ENOENT && (listed || single))
				rc = 0;         /* not in the trie: no XDP, or a worker-only lockout */
			if (!listed && !single && !p->have_xdp)
				rc = -ENOENT;
		} else {
			bool add = !strcmp(cmd, "allow");
			if (p->have_xdp)
				rc = add ? xdp_maps_allow(&p->maps, &x) : xdp_maps_disallow(&p->maps, &x);
			if (rc == 0 && change_allowlist(p, &c, add) != 0)
				rc = -ENOMEM;
		}
		if (rc != 0) {
			char why[128];
			snprintf(why, sizeof(why), "%s failed: %s", cmd,
				 rc == -ENOENT ? "no such entry" : rc == -E2BIG ? "the block list is full" :
				 strerror(-rc));
			answer_error(out, out_len, why);
		} else {
			if (p->dirty)
				save_access(p);
			publish_soft_blocks(p);
			answer(out, out_len, json_pack("{s:b}", "ok", 1));
		}
		return true;
	}
	if (!strcmp(cmd, "blocks")) {
		json_t *array = json_array();
		int64_t now = (int64_t)time(NULL);
		char text[64];
		for (size_t i = 0; i < p->n_blocks; i++) {
			const struct block_rec *b = &p->blocks[i];
			if ((b->expires_s && b->expires_s <= now) ||
			    store_cidr_format(&b->cidr, text, sizeof(text)) != 0)
				continue;
			json_array_append_new(array, json_pack("{s:s,s:s,s:I,s:I,s:I}", "cidr", text, "reason",
							       reason_name(b->reason), "blocked_at",
							       (json_int_t)b->blocked_at_s, "remaining_s",
							       (json_int_t)(b->expires_s ? b->expires_s - now : -1),
							       "expires_at", (json_int_t)b->expires_s));
		}
		answer(out, out_len, json_pack("{s:b,s:b,s:o}", "ok", 1, "xdp", p->have_xdp, "blocks", array));
		return true;
	}
	if (!strcmp(cmd, "allowlist")) {
		json_t *array = json_array();
		const struct prefix_list *l = __atomic_load_n(p->allowlist, __ATOMIC_ACQUIRE);
		char text[64];
		for (uint32_t i = 0; l && i < l->n; i++)
			if (store_cidr_format(&l->cidrs[i], text, sizeof(text)) == 0)
				json_array_append_new(array, json_string(text));
		answer(out, out_len, json_pack("{s:b,s:o}", "ok", 1, "allow", array));
		return true;
	}
	if (!strcmp(cmd, "xdp_counters")) {
		uint64_t values[XDP_COUNT_MAX];
		json_t *o = json_object();
		if (!p->have_xdp || xdp_maps_counters(&p->maps, values) != 0) {
			json_decref(o);
			answer_error(out, out_len, "no XDP prefilter on this port");
			return true;
		}
		for (unsigned i = 0; i < XDP_COUNT_MAX; i++)
			json_object_set_new(o, xdp_counter_name(i), json_integer((json_int_t)values[i]));
		answer(out, out_len, json_pack("{s:b,s:o}", "ok", 1, "counters", o));
		return true;
	}
	return false;
}
