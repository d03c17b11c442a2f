/* worker.h — one poll-mode worker lcore: everything it touches sits in its
 * struct worker (DPDK l3fwd's lcore_conf pattern). */
#ifndef SIPREG_WORKER_H
#define SIPREG_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "packet.h"
#include "protection.h"
#include "rate_table.h"
#include "registrar.h"
#include "stats_shm.h"

struct rte_mbuf;
struct rte_mempool;
struct rte_ring;
struct rte_rcu_qsbr;

#define WORKER_BURST 32
/* Requests staged together (worker_process_burst): enough to overlap each
 * one's loads with the others' work, few enough that their parses stay in
 * the L1/L2 cache. */
#define WORKER_STAGE 16
#define WORKER_RESPONSE_MAX 2048
/* Replies a worker may hold for their commit ([store] reply_after_commit):
 * a 10 ms window plus a 10 ms fsync at 400 k REGISTERs/s. The mbuf pool
 * has room for them on top of the RX/TX rings. */
#define WORKER_HELD_MAX 8192

/* A request on its way to the worker that owns its AOR: the frame and
 * its parse (slices into the frame), so the owner does not parse again.
 * From the shared handoff mempool; the owner puts it back. */
struct handoff {
	struct rte_mbuf *m;
	struct udp_datagram d;          /* m decoded (and its checksum verified) */
	struct sip_msg msg;
};

/* A 200 waiting until the checkpoint has committed the first `after`
 * events of the worker's ring (everything the table had done when it was
 * answered). */
struct held_reply {
	struct rte_mbuf *m;
	uint64_t after;
};

struct worker {
	unsigned index;                 /* 0..workers-1 */
	uint16_t port_id;
	uint16_t rx_queue;              /* UINT16_MAX: this worker has no RX queue */
	uint16_t tx_queue;              /* UINT16_MAX: send through tx_via */
	uint16_t sip_port;
	enum dataplane_mode mode;
	uint64_t *counters;             /* this worker's row in the stats file */
	volatile bool *quit;
	struct registrar registrar;     /* registrar mode */
	struct rte_ring *tx_in;         /* replies of queue-less workers to send */
	struct rte_ring *tx_via;        /* no TX queue of my own: send through here */
	struct rte_ring *handoff_in;    /* struct handoff *: requests whose AOR this worker owns */
	struct rte_mempool *handoff_pool; /* struct handoff; NULL with one worker */
	struct rte_ring *cmd_in;        /* struct worker_command * from the mgmt thread */
	struct rte_ring **handoff_rings;/* every worker's handoff_in, by index */
	struct rte_rcu_qsbr *qsbr;      /* account table reclamation */
	struct rte_mempool *pool;       /* requests we originate (NAT keepalives) */
	/* [store] reply_after_commit: a REGISTER's 200 leaves only once the
	 * binding changes it reports are in LMDB, so a kill -9 or power loss
	 * never loses a registration a phone was told about. */
	bool hold_replies;
	uint32_t held_head, held_tail;  /* FIFO; `after` grows along it */
	struct held_reply held[WORKER_HELD_MAX];
	/* Software prefilter, for ports without XDP (protection.h) */
	bool soft_filter;
	struct prefix_list *const *soft_blocks;
	const struct soft_rates *soft_rates;
	struct rate_table *rates;
	struct xdp_bucket global_bucket;  /* my share of the global cap */
	uint64_t tsc_hz;
	uint64_t ns_per_cycle_q32;      /* 1e9 / tsc_hz in 32.32 fixed point */
	uint64_t *latency_hist;         /* this worker's histogram in the stats file */
	uint64_t start_tsc;
	int64_t start_unix_ns;          /* CLOCK_REALTIME at start_tsc */
	int64_t last_housekeeping_s;
	char response[WORKER_RESPONSE_MAX];
	struct sip_msg msg[WORKER_STAGE]; /* parses of requests that stay here (one worker) */
};

/* lcore entry point for rte_eal_remote_launch; arg is a struct worker.
 * Polls until *quit becomes true. Returns 0. */
int worker_main(void *arg);

/* Processes one burst of received frames in place: frames to answer are
 * moved to the front of pkts and their count returned; frames handed to
 * their owner worker or held for a commit leave pkts; the rest are freed
 * and counted. Exposed for the in-memory pipeline harness and tests. */
uint16_t worker_process_burst(struct worker *w, struct rte_mbuf **pkts, uint16_t n,
			      int64_t now_s);

/* Processes n requests other workers handed to this one (their owner);
 * each goes back to the handoff pool. Frames to answer are written to
 * replies; returns their count. */
uint16_t worker_process_handoffs(struct worker *w, struct handoff **items, uint16_t n,
				 struct rte_mbuf **replies, int64_t now_s);

/* Once a second: expire bindings. Exposed for tests. */
void worker_housekeeping(struct worker *w, int64_t now_s);

/* Sends the held replies whose changes the checkpoint has committed.
 * Returns how many. Exposed for tests. */
unsigned worker_release_held(struct worker *w);

/* Sends the NAT keepalives due by now (nat_keepalive.h) and removes
 * bindings that missed too many; a share of the table per call. Returns
 * keepalives sent. Exposed for tests. */
unsigned worker_send_keepalives(struct worker *w, uint64_t now_ns);

/* Current Unix time from the TSC (no syscall), in seconds / nanoseconds. */
int64_t worker_now_s(const struct worker *w);
uint64_t worker_now_ns(const struct worker *w);

#endif
