/* protection.c — XDP maps, lockout notices and protection commands. */
#include "protection.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "mgmt.h"
#include "xdp_maps.h"

#define MAX_ALLOW 4096

struct protection {
	struct protection_config cfg;
	bool have_xdp;
	struct xdp_maps maps;
	struct rte_ring *notices;
	struct prefix_list **allowlist;
	struct rte_rcu_qsbr *qsbr;
	struct mgmt *mgmt;
	int64_t last_sweep_s;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
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
	p->notices = notices;
	p->allowlist = allowlist;
	p->qsbr = qsbr;
	if (cfg->xdp_iface) {
		if (xdp_maps_open(cfg->xdp_iface, &p->maps, err, err_len) != 0) {
			free(p);
			return NULL;
		}
		p->have_xdp = true;
		int rc = protection_set_rates(p, cfg->per_ip_rate_pps, cfg->global_rate_pps);
		if (rc != 0) {
			snprintf(err, err_len, "XDP config map: %s", strerror(-rc));
			xdp_maps_close(&p->maps);
			free(p);
			return NULL;
		}
	}
	return p;
}

int protection_set_rates(struct protection *p, uint32_t per_ip_pps, uint32_t global_pps)
{
	unsigned cpus = p->cfg.n_rx_cpus ? p->cfg.n_rx_cpus : 1;

	if (!p->have_xdp)
		return -ENODEV;
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
	if (p->have_xdp)
		xdp_maps_close(&p->maps);
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

/* Collects up to 64 expired entries per sweep (xdp_maps_foreach_block). */
struct sweep {
	struct xdp_prefix list[64];
	unsigned n;
	uint64_t now;
};

static int collect(const struct xdp_prefix *x, const struct xdp_block *b, void *arg)
{
	struct sweep *s = arg;

	if (b->expires_ns && b->expires_ns <= s->now && s->n < 64)
		s->list[s->n++] = *x;
	return s->n == 64;
}

void protection_tick(struct protection *p)
{
	struct lockout_notice n;
	int64_t now_s = (int64_t)time(NULL);

	/* Lockouts first: the 10 ms promise of DESIGN.md is this loop. */
	while (p->notices && rte_ring_dequeue_elem(p->notices, &n, sizeof(n)) == 0) {
		if (p->have_xdp) {
			struct xdp_prefix x = { .family = n.len == 4 ? 4 : 6,
						.prefix_len = (uint8_t)(n.len * 8) };
			memcpy(x.addr, n.addr, n.len);
			int64_t left = n.until_s - now_s;
			(void)xdp_maps_block(&p->maps, &x, mono_ns() + (uint64_t)(left > 0 ? left : 1) * 1000000000ull,
					     XDP_BLOCK_LOCKOUT);
		}
		tell_workers(p, n.addr, n.len, n.until_s);
	}
	if (p->have_xdp && now_s != p->last_sweep_s) {
		/* Expired blocks stop dropping by themselves; this keeps the
		 * tries small and the block list truthful. */
		p->last_sweep_s = now_s;
		struct sweep s = { .n = 0, .now = mono_ns() };
		(void)xdp_maps_foreach_block(&p->maps, collect, &s);
		for (unsigned i = 0; i < s.n; i++)
			(void)xdp_maps_unblock(&p->maps, &s.list[i]);
	}
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
	if (p->qsbr)
		rte_rcu_qsbr_synchronize(p->qsbr, RTE_QSBR_THRID_INVALID);
	free(old);
	return 0;
}

static const char *reason_name(uint32_t reason)
{
	return reason == XDP_BLOCK_LOCKOUT ? "lockout" : reason == XDP_BLOCK_MANUAL ? "manual" : "?";
}

struct list_ctx {
	json_t *array;
	uint64_t now;
};

static int list_block(const struct xdp_prefix *x, const struct xdp_block *b, void *arg)
{
	struct list_ctx *ctx = arg;
	struct store_cidr c = { .family = x->family == 4 ? AF_INET : AF_INET6, .prefix_len = x->prefix_len };
	char text[64];

	if (b->expires_ns && b->expires_ns <= ctx->now)
		return 0;
	memcpy(c.addr, x->addr, 16);
	if (store_cidr_format(&c, text, sizeof(text)) != 0)
		return 0;
	json_array_append_new(ctx->array,
			      json_pack("{s:s,s:s,s:I}", "cidr", text, "reason", reason_name(b->reason),
					"remaining_s",
					b->expires_ns ? (json_int_t)((b->expires_ns - ctx->now) / 1000000000ull)
						      : (json_int_t)-1));
	return 0;
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
			if (json_unpack((json_t *)req, "{s?I}", "duration_s", &duration) != 0 || duration < 0) {
				answer_error(out, out_len, "duration_s must be a whole number of seconds >= 0");
				return true;
			}
			if (p->have_xdp)
				rc = xdp_maps_block(&p->maps, &x,
						    duration ? mono_ns() + (uint64_t)duration * 1000000000ull : 0,
						    XDP_BLOCK_MANUAL);
			if (single)
				tell_workers(p, c.addr, len,
					     duration ? (int64_t)time(NULL) + duration : INT64_MAX / 2);
		} else if (!strcmp(cmd, "unblock")) {
			if (p->have_xdp)
				rc = xdp_maps_unblock(&p->maps, &x);
			if (single)
				tell_workers(p, c.addr, len, 0);
			if (rc == -ENOENT && single)
				rc = 0;         /* a lockout known only to the workers */
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
				 rc == -ENOENT ? "no such entry" : strerror(-rc));
			answer_error(out, out_len, why);
		} else {
			answer(out, out_len, json_pack("{s:b}", "ok", 1));
		}
		return true;
	}
	if (!strcmp(cmd, "blocks")) {
		struct list_ctx ctx = { json_array(), mono_ns() };
		if (p->have_xdp)
			(void)xdp_maps_foreach_block(&p->maps, list_block, &ctx);
		answer(out, out_len, json_pack("{s:b,s:b,s:o}", "ok", 1, "xdp", p->have_xdp, "blocks", ctx.array));
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
