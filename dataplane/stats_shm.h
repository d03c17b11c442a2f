/* stats_shm.h — layout of the dataplane's shared-memory stats file.
 *
 * The dataplane creates <stats_dir>/sipreg-<instance>.stats and each
 * worker increments only its own row (single writer, naturally aligned
 * 64-bit words, so readers in other processes see whole values without
 * locks). sipreg-control and tools/sipreg-stats map it read-only. The
 * counter list below is the one place a counter is named; bump
 * STATS_SHM_VERSION when the layout changes.
 */
#ifndef SIPREG_STATS_SHM_H
#define SIPREG_STATS_SHM_H

#include <stdint.h>

#define STATS_SHM_MAGIC 0x53495052454753ULL /* "SIPREGS" */
#define STATS_SHM_VERSION 3
#define STATS_SHM_MAX_WORKERS 64

/* Every counter, in file order. Drop reasons start with drop_. */
#define STATS_COUNTER_LIST(X)                                               \
	X(rx_packets)          /* frames taken from the RX queue */         \
	X(tx_packets)          /* frames handed to the TX queue */          \
	X(tx_failed)           /* frames the TX queue refused (freed) */    \
	X(tx_forwarded)        /* replies sent via another worker's queue */\
	X(rx_sip_datagrams)    /* UDP datagrams to the SIP port */          \
	X(echo_replies)        /* echo mode: datagrams sent back */         \
	X(drop_not_ip)         /* ARP, LLDP, other ethertypes */            \
	X(drop_not_udp)        /* TCP, ICMP, other IP protocols */          \
	X(drop_not_sip_port)   /* UDP to another port */                    \
	X(drop_truncated)      /* headers or lengths beyond the frame */    \
	X(drop_bad_ip_header)  /* version, IHL, fragments, bad IPv4 sum */  \
	X(drop_bad_checksum)   /* UDP checksum does not verify */          \
	X(drop_unparseable)    /* not SIP, and no headers to answer 400 */  \
	X(drop_sip_response)   /* SIP responses: a registrar sends none */  \
	X(drop_ack)            /* ACK is never answered */                  \
	X(drop_silent_unknown) /* respond_unknown = drop */                 \
	X(drop_reply_too_big)  /* response did not fit the mbuf */          \
	X(rx_register)                                                      \
	X(rx_options)                                                       \
	X(rx_other_method)                                                  \
	X(reply_200)                                                        \
	X(reply_400)                                                        \
	X(reply_401)                                                        \
	X(reply_403)                                                        \
	X(reply_404)                                                        \
	X(reply_405)                                                        \
	X(reply_420)                                                        \
	X(reply_423)                                                        \
	X(reply_500)                                                        \
	X(reply_503)                                                        \
	X(reply_other)                                                      \
	X(auth_challenges)     /* 401 without stale */                      \
	X(auth_ok)                                                          \
	X(auth_failed)         /* wrong response, unknown user: 403 */      \
	X(auth_stale)          /* right credentials, old nonce: 401 stale */ \
	X(auth_bad_nonce)      /* not our nonce: new challenge */           \
	X(auth_replay)         /* (nonce, nc, cnonce) seen: 403 */          \
	X(auth_wrong_user)     /* authenticated user does not own To: 403 */ \
	X(auth_ip_denied)      /* IP account, source not allowed: 403 */    \
	X(handoff_sent)        /* to the AOR's owner worker */              \
	X(handoff_received)                                                 \
	X(handoff_ring_full)   /* owner's ring full: 503 */                 \
	X(bindings_expired)    /* removed by the housekeeping tick */       \
	X(events_lost)         /* event ring full: change not checkpointed */ \
	X(drop_locked_out)     /* source locked out: not even challenged */ \
	X(lockouts)            /* sources that crossed the failure limit */ \
	X(lockout_notices_lost) /* mgmt ring full: XDP block delayed */ \
	X(retransmissions)     /* an authorized REGISTER again: re-answered */ \
	X(drop_blocked_sw)     /* no XDP: blocked or locked-out source */ \
	X(drop_rate_ip_sw)     /* no XDP: source over [rate] per_ip_pps */ \
	X(drop_rate_global_sw) /* no XDP: over [rate] global_pps */      \
	X(keepalive_sent)      /* NAT keepalive OPTIONS sent */           \
	X(keepalive_answered)  /* ... answered in time */                 \
	X(keepalive_late)      /* answers to no outstanding keepalive */  \
	X(keepalive_unreachable) /* bindings removed: misses in a row */  \
	X(keepalive_untracked) /* NAT bindings with no room for their path */ \
	X(keepalive_no_mbuf)   /* keepalive not sent: mbuf pool empty */  \
	X(replies_held)        /* 200s held until their changes were committed */ \
	X(checkpoint_behind)   /* REGISTERs answered 503: event ring nearly full */ \
	X(drop_held_full)      /* 200s not sent: held-reply queue full */ \
	X(busy_cycles)         /* TSC cycles spent on received bursts */  \
	X(tx_cycles)           /* ... of which in the PMD's tx_burst (AF_XDP: \
				* the kernel's copy and the veth) */     \
	X(tsc_hz)              /* TSC frequency, to turn cycles into time */ \
	X(nonce_memo_hits)     /* nonces recognised without their HMAC (digest.h) */

#define STATS_COUNTER_ENUM(name) STAT_##name,
enum stats_counter { STATS_COUNTER_LIST(STATS_COUNTER_ENUM) STATS_COUNTER_COUNT };
#undef STATS_COUNTER_ENUM

#define STATS_SHM_MAX_COUNTERS 128
_Static_assert(STATS_COUNTER_COUNT <= STATS_SHM_MAX_COUNTERS, "grow STATS_SHM_MAX_COUNTERS");

/* Processing time per request: bucket b counts requests whose time (the
 * average over their receive burst, decode to transmit) was in
 * [2^b, 2^(b+1)) nanoseconds. */
#define STATS_LATENCY_BUCKETS 32

struct stats_worker_row {
	uint64_t counters[STATS_SHM_MAX_COUNTERS];
	uint64_t latency_hist[STATS_LATENCY_BUCKETS];
} __attribute__((aligned(64)));

struct stats_shm {
	uint64_t magic;
	uint32_t version;
	uint32_t n_workers;
	uint32_t n_counters;       /* STATS_COUNTER_COUNT of the writer */
	uint32_t pid;              /* writer's pid */
	uint64_t started_at_s;     /* unix time the dataplane started */
	uint64_t ready;            /* 1 once workers answer packets */
	struct stats_worker_row workers[STATS_SHM_MAX_WORKERS];
};

/* Returns the name of counter c ("rx_packets"), or NULL when c is out of
 * range. */
const char *stats_counter_name(unsigned c);

/* Writes the stats file path for instance into buf. Returns 0, or -1 when
 * it does not fit. */
int stats_shm_path(char *buf, unsigned buf_len, const char *stats_dir,
		   const char *instance);

/* Creates (or truncates) the stats file and maps it read-write, zeroed,
 * with the header filled. Returns the mapping, or NULL with errno set. */
struct stats_shm *stats_shm_create(const char *path, unsigned n_workers);

/* Maps an existing stats file read-only. Returns NULL with errno set when
 * it is missing (ENOENT), too small or of another version (EPROTO). */
const struct stats_shm *stats_shm_open(const char *path);

/* The q-quantile (0 < q < 1) of the processing time over all workers, in
 * nanoseconds (the upper bound of its histogram bucket). Returns 0 when
 * nothing was counted yet. */
uint64_t stats_latency_quantile_ns(const struct stats_shm *shm, double q);

/* Unmaps a mapping from stats_shm_create or stats_shm_open. */
void stats_shm_close(const struct stats_shm *shm);

#endif
