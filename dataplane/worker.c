/* worker.c — the poll loop of a worker lcore: rx burst, decode, act, tx.
 *
 * The packet path allocates nothing, makes no syscalls, takes no locks and
 * logs nothing: every frame ends in exactly one counter.
 */
#include "worker.h"

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "packet.h"

static const enum stats_counter drop_counter[] = {
	[PACKET_NOT_IP] = STAT_drop_not_ip,
	[PACKET_NOT_UDP] = STAT_drop_not_udp,
	[PACKET_TRUNCATED] = STAT_drop_truncated,
	[PACKET_BAD_IP_HEADER] = STAT_drop_bad_ip_header,
	[PACKET_BAD_CHECKSUM] = STAT_drop_bad_checksum,
};

/* Returns true when m (decoded as d) has been turned into a reply. */
static bool handle_sip_datagram(struct worker *w, struct rte_mbuf *m,
				const struct udp_datagram *d)
{
	w->counters[STAT_rx_sip_datagrams]++;
	if (w->mode == DATAPLANE_MODE_ECHO) {
		if (packet_make_reply(m, d, d->payload_len) != 0)
			return false;
		w->counters[STAT_echo_replies]++;
		return true;
	}
	/* Registrar mode grows here (issue 5); until then nothing answers. */
	return false;
}

uint16_t worker_process_burst(struct worker *w, struct rte_mbuf **pkts, uint16_t n)
{
	uint16_t n_reply = 0;

	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		struct udp_datagram d;
		enum packet_status st;

		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
		st = packet_decode_udp(m, &d);
		if (st != PACKET_OK) {
			w->counters[drop_counter[st]]++;
			rte_pktmbuf_free(m);
			continue;
		}
		if (d.dst_port != w->sip_port) {
			w->counters[STAT_drop_not_sip_port]++;
			rte_pktmbuf_free(m);
			continue;
		}
		if (handle_sip_datagram(w, m, &d))
			pkts[n_reply++] = m;
		else
			rte_pktmbuf_free(m);
	}
	return n_reply;
}

int worker_main(void *arg)
{
	struct worker *w = arg;
	struct rte_mbuf *pkts[WORKER_BURST];

	if (w->rx_queue == UINT16_MAX)
		return 0;
	while (!*w->quit) {
		uint16_t n = rte_eth_rx_burst(w->port_id, w->rx_queue, pkts, WORKER_BURST);

		if (n == 0)
			continue;
		w->counters[STAT_rx_packets] += n;
		uint16_t n_tx = worker_process_burst(w, pkts, n);
		if (n_tx == 0)
			continue;
		uint16_t sent = rte_eth_tx_burst(w->port_id, w->tx_queue, pkts, n_tx);
		w->counters[STAT_tx_packets] += sent;
		if (sent < n_tx) {
			w->counters[STAT_tx_failed] += n_tx - sent;
			rte_pktmbuf_free_bulk(&pkts[sent], n_tx - sent);
		}
	}
	return 0;
}
