/* worker.h — one poll-mode worker lcore: everything it touches sits in its
 * struct worker (DPDK l3fwd's lcore_conf pattern). */
#ifndef SIPREG_WORKER_H
#define SIPREG_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "stats_shm.h"

struct rte_mbuf;

#define WORKER_BURST 32

struct worker {
	unsigned index;                 /* 0..workers-1 */
	uint16_t port_id;
	uint16_t rx_queue;              /* UINT16_MAX: this worker has no RX queue */
	uint16_t tx_queue;
	uint16_t sip_port;
	enum dataplane_mode mode;
	uint64_t *counters;             /* this worker's row in the stats file */
	volatile bool *quit;
};

/* lcore entry point for rte_eal_remote_launch; arg is a struct worker.
 * Polls until *quit becomes true. Returns 0. */
int worker_main(void *arg);

/* Processes one burst of received frames in place: frames to answer are
 * moved to the front of pkts and their count returned; the rest are freed
 * and counted. Exposed for the in-memory pipeline harness and tests. */
uint16_t worker_process_burst(struct worker *w, struct rte_mbuf **pkts, uint16_t n);

#endif
