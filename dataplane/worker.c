/* worker.c — the poll loop of a worker lcore: rx burst, decode, act, tx.
 *
 * The packet path allocates nothing, makes no syscalls, takes no locks and
 * logs nothing: every frame ends in exactly one counter.
 */
#include "worker.h"

#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "mgmt.h"
#include "packet.h"

static const enum stats_counter drop_counter[] = {
	[PACKET_NOT_IP] = STAT_drop_not_ip,
	[PACKET_NOT_UDP] = STAT_drop_not_udp,
	[PACKET_TRUNCATED] = STAT_drop_truncated,
	[PACKET_BAD_IP_HEADER] = STAT_drop_bad_ip_header,
	[PACKET_BAD_CHECKSUM] = STAT_drop_bad_checksum,
};

uint64_t worker_now_ns(const struct worker *w)
{
	uint64_t elapsed_ns = (uint64_t)(((unsigned __int128)(rte_get_tsc_cycles() - w->start_tsc) *
					  w->ns_per_cycle_q32) >> 32);

	return (uint64_t)w->start_unix_ns + elapsed_ns;
}

int64_t worker_now_s(const struct worker *w)
{
	return (int64_t)(worker_now_ns(w) / 1000000000);
}

enum verdict {
	VERDICT_FREE,
	VERDICT_REPLY,
	VERDICT_KEPT,        /* handed to the owner worker, or held for a commit */
};

/* Events of this worker's ring the checkpoint has committed: it releases
 * them only after their commit (store/checkpoint.h). */
static uint64_t committed_events(const struct worker *w)
{
	const struct event_ring *ring = w->registrar.events;

	return event_ring_pushed(ring) - event_ring_count(ring);
}

/* The reply in m states bindings: keep it until they are committed. */
static enum verdict hold_for_commit(struct worker *w, struct rte_mbuf *m)
{
	uint64_t after = event_ring_pushed(w->registrar.events);

	if (w->held_head == w->held_tail && committed_events(w) >= after)
		return VERDICT_REPLY;
	if (w->held_tail - w->held_head == WORKER_HELD_MAX) {
		/* The checkpoint is far behind: no answer rather than an
		 * unsafe one; the phone retransmits. */
		w->counters[STAT_drop_held_full]++;
		return VERDICT_FREE;
	}
	w->held[w->held_tail % WORKER_HELD_MAX] = (struct held_reply){ m, after };
	w->held_tail++;
	w->counters[STAT_replies_held]++;
	return VERDICT_KEPT;
}

/* Turns m into the reply held in w->response. The response is built aside
 * because the request's parse slices point into the payload it replaces. */
static enum verdict reply_from_buffer(struct worker *w, struct rte_mbuf *m,
				      const struct udp_datagram *d, uint32_t len)
{
	memcpy(d->payload, w->response, len);
	if (packet_make_reply(m, d, (uint16_t)len) != 0) {
		w->counters[STAT_drop_reply_too_big]++;
		return VERDICT_FREE;
	}
	return VERDICT_REPLY;
}

/* The request in m created or refreshed NAT bindings: their keepalives go
 * back the way it came. Read before the frame becomes the reply. */
static void track_nat_bindings(struct worker *w, const struct rte_mbuf *m,
			       const struct udp_datagram *d)
{
	struct packet_path path;

	packet_path_of(m, d, &path);
	for (uint32_t i = 0; i < w->registrar.n_nat_slots; i++) {
		uint32_t slot = w->registrar.nat_slots[i];
		if (!nat_keepalive_track(w->registrar.keepalive, slot,
					 binding_table_get(w->registrar.table, slot), &path))
			w->counters[STAT_keepalive_untracked]++;
	}
}

/* A frame received here, between its parse and its answer. */
struct staged {
	struct rte_mbuf *m;
	struct udp_datagram d;
	struct handoff *h;          /* holds msg when from the pool (it may move) */
	struct sip_msg *msg;
	enum sip_parse_status st;
};

/* Parses s's frame, into a hand-off buffer when there is more than one
 * worker (the request may have to move with its parse) or else into
 * w->msg[slot], and stages it (registrar_stage_begin). */
static void stage(struct worker *w, struct staged *s, unsigned slot, struct registrar_stage *rs)
{
	s->h = NULL;
	s->msg = &w->msg[slot];
	if (w->handoff_pool && rte_mempool_get(w->handoff_pool, (void **)&s->h) == 0)
		s->msg = &s->h->msg;
	s->st = sip_parse((const char *)s->d.payload, s->d.payload_len, s->msg);
	registrar_stage_begin(&w->registrar, s->msg, s->st, rs);
}

/* Answers m, parsed into msg (status st). h: the hand-off buffer holding
 * msg, which goes to the owner worker or back to the pool; NULL for a
 * request handed here (allow no further hand-off) or parsed into w->msg. */
static enum verdict handle_registrar(struct worker *w, struct rte_mbuf *m,
				     const struct udp_datagram *d, const struct sip_msg *msg,
				     enum sip_parse_status st, struct handoff *h, bool handed_off,
				     const struct registrar_stage *stage, int64_t now_s)
{
	struct sip_source src = { .ip_version = d->ip_version, .port = d->src_port };
	uint32_t len = 0, owner = 0;

	if (d->ip_version == 4)
		memcpy(src.addr, &d->src.v4, 4);
	else
		memcpy(src.addr, d->src.v6, 16);
	uint16_t cap = packet_reply_capacity(m, d);
	if (cap > sizeof(w->response))
		cap = sizeof(w->response);
	enum registrar_action a = registrar_handle_staged(&w->registrar, msg, st, (const char *)d->payload,
							  d->payload_len, &src, now_s, !handed_off, stage,
							  w->response, cap, &len, &owner);
	if (a == REGISTRAR_HANDOFF && h) {
		h->m = m;
		h->d = *d;
		if (rte_ring_enqueue(w->handoff_rings[owner], h) == 0) {
			w->counters[STAT_handoff_sent]++;
			return VERDICT_KEPT;
		}
	}
	if (h)
		rte_mempool_put(w->handoff_pool, h);
	switch (a) {
	case REGISTRAR_REPLY: {
		if (w->registrar.n_nat_slots)
			track_nat_bindings(w, m, d);
		enum verdict v = reply_from_buffer(w, m, d, len);
		if (v == VERDICT_REPLY && w->hold_replies && w->registrar.reply_shows_bindings)
			return hold_for_commit(w, m);
		return v;
	}
	case REGISTRAR_HANDOFF:
		/* The owner is saturated (its ring, or the handoff buffers, are
		 * full): tell the phone to come back. */
		w->counters[STAT_handoff_ring_full]++;
		if (registrar_reply_busy(&w->registrar, (const char *)d->payload, d->payload_len,
					 &src, w->response, cap, &len) != REGISTRAR_REPLY)
			return VERDICT_FREE;
		return reply_from_buffer(w, m, d, len);
	case REGISTRAR_DROP:
	default:
		return VERDICT_FREE;
	}
}

/* The XDP program's rules in software, at the top of the worker loop, for
 * ports without it: allowlisted sources pass; blocked and locked-out
 * sources, and sources over their rate or the global cap, are dropped.
 * Returns true when the datagram may go on. */
static bool soft_filter_pass(struct worker *w, const struct udp_datagram *d, uint64_t now_ns)
{
	struct sip_source src = { .ip_version = d->ip_version, .port = d->src_port };
	uint8_t len = d->ip_version == 4 ? 4 : 16;
	const struct soft_rates *r = w->soft_rates;

	memcpy(src.addr, d->ip_version == 4 ? (const uint8_t *)&d->src.v4 : d->src.v6, len);
	if (w->registrar.allowlist &&
	    prefix_list_contains(__atomic_load_n(w->registrar.allowlist, __ATOMIC_ACQUIRE), &src))
		return true;
	if ((w->registrar.lockouts &&
	     lockout_table_is_locked(w->registrar.lockouts, src.addr, len, (int64_t)(now_ns / 1000000000))) ||
	    (w->soft_blocks && prefix_list_contains(__atomic_load_n(w->soft_blocks, __ATOMIC_ACQUIRE), &src))) {
		w->counters[STAT_drop_blocked_sw]++;
		return false;
	}
	if (r && w->rates &&
	    !rate_table_take(w->rates, src.addr, len, now_ns, __atomic_load_n(&r->per_ip_pps, __ATOMIC_RELAXED),
			     __atomic_load_n(&r->per_ip_burst, __ATOMIC_RELAXED))) {
		w->counters[STAT_drop_rate_ip_sw]++;
		return false;
	}
	if (r && !xdp_bucket_take(&w->global_bucket, now_ns,
				   __atomic_load_n(&r->global_pps_per_worker, __ATOMIC_RELAXED),
				   __atomic_load_n(&r->global_burst_per_worker, __ATOMIC_RELAXED))) {
		w->counters[STAT_drop_rate_global_sw]++;
		return false;
	}
	return true;
}

/* Answers a staged frame: a reply goes to pkts[*n_reply]. */
static void finish_staged(struct worker *w, struct staged *s, const struct registrar_stage *rs,
			  struct rte_mbuf **pkts, uint16_t *n_reply, int64_t now_s)
{
	enum verdict v = handle_registrar(w, s->m, &s->d, s->msg, s->st, s->h, false, rs, now_s);

	if (v == VERDICT_REPLY)
		pkts[(*n_reply)++] = s->m;
	else if (v == VERDICT_FREE)
		rte_pktmbuf_free(s->m);
}

/* Frames are answered in groups of WORKER_STAGE: all of a group are decoded,
 * parsed and staged (each starts loading its binding-table index entry and
 * replay-cache set), their accounts are looked up in one bulk lookup and
 * their binding records requested, then each is answered.  The loads of a
 * request overlap the work on the others of its group instead of stalling
 * it (store/binding_table.h, "Burst staging"; perf/bench-pipeline). */
uint16_t worker_process_burst(struct worker *w, struct rte_mbuf **pkts, uint16_t n,
			      int64_t now_s)
{
	uint64_t now_ns = w->soft_filter ? worker_now_ns(w) : 0;
	struct staged staged[WORKER_STAGE];
	struct registrar_stage stages[WORKER_STAGE];
	uint16_t n_reply = 0, i = 0;

	while (i < n) {
		unsigned k = 0;

		for (; i < n && k < WORKER_STAGE; i++) {
			struct rte_mbuf *m = pkts[i];
			struct staged *cur = &staged[k];
			enum packet_status st;

			if (i + 1 < n)
				rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
			st = packet_decode_udp(m, &cur->d);
			if (st != PACKET_OK) {
				w->counters[drop_counter[st]]++;
				rte_pktmbuf_free(m);
				continue;
			}
			if (cur->d.dst_port != w->sip_port) {
				w->counters[STAT_drop_not_sip_port]++;
				rte_pktmbuf_free(m);
				continue;
			}
			w->counters[STAT_rx_sip_datagrams]++;
			if (w->soft_filter && !soft_filter_pass(w, &cur->d, now_ns)) {
				rte_pktmbuf_free(m);
				continue;
			}
			if (w->mode == DATAPLANE_MODE_ECHO) {
				if (packet_make_reply(m, &cur->d, cur->d.payload_len) == 0) {
					w->counters[STAT_echo_replies]++;
					pkts[n_reply++] = m;
				} else {
					rte_pktmbuf_free(m);
				}
				continue;
			}
			cur->m = m;
			stage(w, cur, k, &stages[k]);
			/* Two parses (~1 us) after its staging, a request's
			 * account index entry is in: start loading its
			 * account, whose lines the group's bulk lookup would
			 * otherwise wait for one dependent miss after the
			 * entry. perf/bench-pipeline x1.014 (1.0035-1.026 in
			 * six runs, both variants in one process,
			 * 2026-11-27). */
			if (k >= 2)
				registrar_stage_follow(&w->registrar, &stages[k - 2]);
			k++;
		}
		if (k == 0)
			continue;
		registrar_stage_accounts(&w->registrar, stages, k);
		for (unsigned j = 0; j < k; j++)
			finish_staged(w, &staged[j], &stages[j], pkts, &n_reply, now_s);
	}
	return n_reply;
}

uint16_t worker_process_handoffs(struct worker *w, struct handoff **items, uint16_t n,
				 struct rte_mbuf **replies, int64_t now_s)
{
	uint16_t n_reply = 0;

	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = items[i]->m;
		enum verdict v;

		w->counters[STAT_handoff_received]++;
		v = handle_registrar(w, m, &items[i]->d, &items[i]->msg, SIP_PARSE_OK, NULL, true, NULL,
				     now_s);
		rte_mempool_put(w->handoff_pool, items[i]);
		if (v == VERDICT_REPLY)
			replies[n_reply++] = m;
		else if (v == VERDICT_FREE)
			rte_pktmbuf_free(m);
	}
	return n_reply;
}

void worker_housekeeping(struct worker *w, int64_t now_s)
{
	if (w->registrar.table) {
		struct binding_table_stats st;
		w->counters[STAT_bindings_expired] += binding_table_expire(w->registrar.table, now_s);
		binding_table_get_stats(w->registrar.table, &st);
		w->counters[STAT_events_lost] = st.events_lost;
	}
	if (w->registrar.digest)
		w->counters[STAT_nonce_memo_hits] = digest_nonce_memo_hits(w->registrar.digest);
	w->last_housekeeping_s = now_s;
}

/* A management command for this worker's table (mgmt.h). */
static void run_command(struct worker *w, struct worker_command *cmd, int64_t now_s)
{
	struct binding_table_stats st;

	switch (cmd->type) {
	case WORKER_CMD_KICK:
		cmd->result = binding_table_force_unregister(
			w->registrar.table, (struct store_slice){ cmd->aor, cmd->aor_len },
			(struct store_slice){ cmd->binding_key, cmd->binding_key_len }, now_s);
		break;
	case WORKER_CMD_COUNT_BINDINGS:
		binding_table_get_stats(w->registrar.table, &st);
		cmd->result = st.bindings;
		break;
	case WORKER_CMD_LOCK:
		if (w->registrar.lockouts)
			lockout_table_set(w->registrar.lockouts, cmd->addr, cmd->addr_len, cmd->until_s);
		cmd->result = 0;
		break;
	}
	__atomic_store_n(&cmd->done, 1, __ATOMIC_RELEASE);
}

/* Counts n requests that took `cycles` together in the latency histogram:
 * one multiply and one bit scan per burst, not per packet. */
static void record_latency(struct worker *w, uint64_t cycles, uint16_t n)
{
	uint64_t ns = (uint64_t)(((unsigned __int128)cycles * w->ns_per_cycle_q32) >> 32) / n;
	unsigned b = ns ? 63u - (unsigned)__builtin_clzll(ns) : 0;

	if (!w->latency_hist)
		return;
	w->latency_hist[b < STATS_LATENCY_BUCKETS ? b : STATS_LATENCY_BUCKETS - 1] += n;
}

/* Sends on this worker's TX queue, or, for a worker without one (a port
 * with fewer queues than workers, such as net_af_xdp on veth), through the
 * ring of the worker that owns a queue: TX queues are never shared. */
static void transmit(struct worker *w, struct rte_mbuf **pkts, uint16_t n)
{
	uint16_t sent;

	if (n == 0)
		return;
	if (w->tx_via) {
		sent = (uint16_t)rte_ring_enqueue_burst(w->tx_via, (void **)pkts, n, NULL);
		w->counters[STAT_tx_forwarded] += sent;
	} else {
		uint64_t start = rte_rdtsc();
		sent = rte_eth_tx_burst(w->port_id, w->tx_queue, pkts, n);
		w->counters[STAT_tx_cycles] += rte_rdtsc() - start;
		w->counters[STAT_tx_packets] += sent;
	}
	if (sent < n) {
		w->counters[STAT_tx_failed] += n - sent;
		rte_pktmbuf_free_bulk(&pkts[sent], n - sent);
	}
}

unsigned worker_release_held(struct worker *w)
{
	struct rte_mbuf *pkts[WORKER_BURST];
	uint64_t done;
	uint16_t n = 0;

	if (w->held_head == w->held_tail)
		return 0;
	done = committed_events(w);
	while (w->held_head != w->held_tail && n < WORKER_BURST) {
		const struct held_reply *h = &w->held[w->held_head % WORKER_HELD_MAX];
		if (h->after > done)
			break;
		pkts[n++] = h->m;
		w->held_head++;
	}
	transmit(w, pkts, n);
	return n;
}

unsigned worker_send_keepalives(struct worker *w, uint64_t now_ns)
{
	const struct registrar_config *cfg = w->registrar.live_cfg
		? __atomic_load_n(w->registrar.live_cfg, __ATOMIC_ACQUIRE) : w->registrar.cfg;
	struct nat_keepalive_probe probes[WORKER_BURST];
	struct rte_mbuf *pkts[WORKER_BURST];
	uint32_t removed = 0;
	uint16_t n = 0;
	unsigned k;

	k = nat_keepalive_sweep(w->registrar.keepalive, w->registrar.table, (int64_t)(now_ns / 1000000),
				cfg->nat_keepalive_s, cfg->nat_keepalive_misses, probes, WORKER_BURST,
				&removed);
	w->counters[STAT_keepalive_unreachable] += removed;
	for (unsigned i = 0; i < k; i++) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(w->pool);
		if (!m) {
			w->counters[STAT_keepalive_no_mbuf]++;
			continue;
		}
		if (nat_keepalive_build(w->registrar.keepalive, w->registrar.table, &probes[i],
					cfg->realm, m) != 0) {
			w->counters[STAT_drop_reply_too_big]++;
			rte_pktmbuf_free(m);
			continue;
		}
		pkts[n++] = m;
	}
	w->counters[STAT_keepalive_sent] += n;
	transmit(w, pkts, n);
	return n;
}

int worker_main(void *arg)
{
	struct worker *w = arg;
	struct rte_mbuf *pkts[WORKER_BURST];
	unsigned thread_id = w->index;

	w->counters[STAT_tsc_hz] = w->tsc_hz;
	if (w->qsbr)
		rte_rcu_qsbr_thread_online(w->qsbr, thread_id);
	while (!*w->quit) {
		int64_t now_s = worker_now_s(w);
		uint16_t n = 0;

		if (w->rx_queue != UINT16_MAX) {
			n = rte_eth_rx_burst(w->port_id, w->rx_queue, pkts, WORKER_BURST);
			if (n) {
				uint64_t start = rte_rdtsc();
				w->counters[STAT_rx_packets] += n;
				transmit(w, pkts, worker_process_burst(w, pkts, n, now_s));
				uint64_t spent = rte_rdtsc() - start;
				w->counters[STAT_busy_cycles] += spent;
				record_latency(w, spent, n);
			}
		}
		if (w->tx_in) {
			unsigned k = rte_ring_dequeue_burst(w->tx_in, (void **)pkts, WORKER_BURST, NULL);
			if (k)
				transmit(w, pkts, (uint16_t)k);
		}
		if (w->handoff_in) {
			struct handoff *items[WORKER_BURST];
			unsigned k = rte_ring_dequeue_burst(w->handoff_in, (void **)items, WORKER_BURST, NULL);
			if (k) {
				uint64_t start = rte_rdtsc();
				transmit(w, pkts, worker_process_handoffs(w, items, (uint16_t)k, pkts, now_s));
				uint64_t spent = rte_rdtsc() - start;
				w->counters[STAT_busy_cycles] += spent;
				record_latency(w, spent, (uint16_t)k);
			}
		}
		if (w->cmd_in) {
			struct worker_command *cmd;
			if (rte_ring_dequeue(w->cmd_in, (void **)&cmd) == 0)
				run_command(w, cmd, now_s);
		}
		if (now_s != w->last_housekeeping_s)
			worker_housekeeping(w, now_s);
		if (w->registrar.keepalive && w->pool)
			worker_send_keepalives(w, worker_now_ns(w));
		worker_release_held(w);
		if (w->qsbr)
			rte_rcu_qsbr_quiescent(w->qsbr, thread_id);
	}
	if (w->qsbr)
		rte_rcu_qsbr_thread_offline(w->qsbr, thread_id);
	/* Stopping: what was not committed is not answered. */
	while (w->held_head != w->held_tail)
		rte_pktmbuf_free(w->held[w->held_head++ % WORKER_HELD_MAX].m);
	return 0;
}
