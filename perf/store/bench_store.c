/*
 * bench_store.c - perf/bench-store: the store's figures at 1M bindings.
 *
 *   insert    REGISTERs of new AORs into a table already holding ~1M
 *             (ops/s per core: divided by the thread's CPU time)
 *   refresh   re-REGISTERs of random existing AORs (CSeq+1), table at 1M;
 *             one by one, and staged with the prefetch helpers (JSON figure)
 *   memory    RSS delta / bindings: table of capacity 1M created, prefaulted
 *             and filled (what a worker holds for 1M bindings)
 *   checkpoint changes/s committed to LMDB (bindings + history, fsync on):
 *             the checkpoint thread as it runs (default config) behind one
 *             worker registering 1M AORs flat out, ring of --ring events
 *             (JSON checkpoint_changes_per_s: when behind, a commit takes
 *             the backlog), then all of them refreshed once (a refresh storm
 *             on a full `bindings`: every commit rewrites most of its
 *             pages); then commits of exactly 8192 changes (one 10 ms
 *             window at ~800 k/s; JSON checkpoint_8192_changes_per_s), and
 *             those without fsync, through the map (MDB_WRITEMAP)
 *   recovery  seconds to load 1M bindings from LMDB into a table
 *
 * One thread, random AOR order (phones do not register in key order).
 * Request strings are built before timing, like packets already parsed;
 * the AOR hash is computed per request (the dataplane needs it for the owner).
 * The event ring is drained (released, not read) every 16k operations: its
 * memory is a fixed per-worker cost and is allocated before the RSS baseline.
 * Prints a table; the last line is one JSON object.
 *
 * Usage: bench_store [--bindings N] [--refresh-ops N] [--commit CHANGES] [--no-sync]
 *                    [--ring EVENTS] [--state-dir DIR] [--only table|lmdb]
 * (--only: phases 1-3 or 4-5 alone, for profiling; the JSON shows 0 for the rest)
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <sys/socket.h>

#include "aor_hash.h"
#include "big_alloc.h"
#include "binding_table.h"
#include "checkpoint.h"
#include "event_ring.h"
#include "recovery.h"

/* Event ring of the checkpoint-thread run (--ring): a commit holds its
 * events in the ring until it returns, so the worker keeps going only if the
 * ring holds more than the largest commit (max_changes_per_commit, 262144);
 * store/README.md "Ring size". */
static uint32_t thread_ring_capacity = 262144;

#define AOR_BYTES 40
#define CONTACT_BYTES 64
#define NOW0 1700000000

static uint32_t n_bindings = 1000000;
/*
 * The "packets": what the parser leaves for one REGISTER, one 128-byte
 * slot (two cache lines) per AOR, on huge pages like DPDK mbufs.  Before,
 * the strings and lengths sat in four malloc'ed arrays on 4 KiB pages read
 * at random inside the timed loop: the bench's own TLB and cache misses
 * (4 lines per request) cost more than the table (staged refresh 3.0 M/s;
 * huge pages alone 4.1 M/s; this layout ~4.9 M/s; read in rx order, below,
 * and staged per burst of 32 as the dataplane can: ~5.3 M/s; 2-core VM).
 */
struct packet {
	uint8_t aor_len, contact_len;
	char aor[AOR_BYTES];
	char contact[CONTACT_BYTES];
} __attribute__((aligned(128)));

static struct packet *packets;  /* n_bindings, by AOR id */
/*
 * The packets of one timed run, in the order they are applied, as an rx
 * ring hands them over: read sequentially, so what is timed is the store,
 * not the bench's own random reads of `packets` (the parser has read a
 * packet before the store sees it).  receive() fills it before the clock
 * starts.
 */
static struct packet *rx_packets;
static uint32_t rx_capacity;
static uint32_t *order;   /* random permutation */

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of this thread: "per core" figures stay meaningful when other
 * processes share the 2 cores (wall-clock figures are printed as well). */
static double
cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static long
rss_bytes(void)
{
	long pages_total, pages_rss;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f == NULL)
		return 0;
	if (fscanf(f, "%ld %ld", &pages_total, &pages_rss) != 2)
		pages_rss = 0;
	fclose(f);
	return pages_rss * sysconf(_SC_PAGESIZE);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void
shuffle(uint32_t *a, uint32_t n)
{
	for (uint32_t i = n - 1; i > 0; i--) {
		uint32_t j = (uint32_t)(rng() % (i + 1));
		uint32_t t = a[i];

		a[i] = a[j];
		a[j] = t;
	}
}

struct request {
	struct registration_request req;
	struct registration_contact contact;
};

static void
request_init(struct request *r)
{
	memset(r, 0, sizeof(*r));
	r->req.call_id.ptr = "a84b4c76e66710@pc33.example.com";
	r->req.call_id.len = (uint32_t)strlen(r->req.call_id.ptr);
	r->req.user_agent.ptr = "Yealink SIP-T46S 66.86.0.15";
	r->req.user_agent.len = (uint32_t)strlen(r->req.user_agent.ptr);
	r->req.account.ptr = "acme";
	r->req.account.len = 4;
	r->req.source.family = AF_INET;
	r->req.source.port = 5060;
	inet_pton(AF_INET, "198.18.0.1", r->req.source.addr);
	r->req.n_contacts = 1;
	r->req.contacts = &r->contact;
	r->req.has_expires_header = true;
	r->req.expires_header_s = 3600;
}

static void
request_set(struct request *r, const struct packet *pk, uint32_t cseq, int64_t now)
{
	r->req.aor.ptr = pk->aor;
	r->req.aor.len = pk->aor_len;
	/* the dataplane hashed the AOR to pick the owner worker */
	r->req.aor_hash = store_aor_hash(r->req.aor.ptr, r->req.aor.len);
	r->contact.uri.ptr = pk->contact;
	r->contact.uri.len = pk->contact_len;
	r->req.cseq = cseq;
	r->req.now_s = now;
}

/* The checkpoint thread's part, without LMDB: free the ring. */
static void
drain(struct event_ring *ring)
{
	const struct store_event *ev;
	uint32_t n;

	while ((n = event_ring_peek(ring, &ev, UINT32_MAX)) > 0)
		event_ring_release(ring, n);
}

/* Line up the packets of AORs ids[0..n) for the next apply_rx(). */
static void
receive(const uint32_t *ids, uint32_t n)
{
	for (uint32_t i = 0; i < n && i < rx_capacity; i++)
		rx_packets[i] = packets[ids[i]];
}

/*
 * Apply the REGISTERs of rx_packets[0..n).  burst 1: one at a time, no
 * staging.  burst > 1: what a dataplane worker does with one rx burst
 * (WORKER_BURST 32), the pattern binding_table.h documents: take every
 * request of the burst (hash its AOR) and prefetch its index entry,
 * prefetch the bindings of the first STAGE, then apply request k while
 * prefetching the binding of k + STAGE.  Nothing carries over from one
 * burst to the next.
 */
#define STAGE 8
#define WORKER_BURST 32     /* dataplane/worker.h */

static int
apply_rx(struct binding_table *t, struct event_ring *ring, const struct store_policy *policy,
	 uint32_t n, uint32_t cseq, int64_t now, uint32_t burst)
{
	struct request r[WORKER_BURST];
	struct registration_result res;

	if (burst > WORKER_BURST)
		burst = WORKER_BURST;
	if (n > rx_capacity)
		return -1;
	for (uint32_t b = 0; b < WORKER_BURST; b++)
		request_init(&r[b]);
	for (uint32_t first = 0; first < n; first += burst) {
		uint32_t m = n - first < burst ? n - first : burst;

		for (uint32_t k = 0; k < m; k++) {
			/* CSeq only grows */
			request_set(&r[k], &rx_packets[first + k], cseq + first + k, now);
			if (burst > 1)
				binding_table_prefetch_index(t, r[k].req.aor_hash);
		}
		for (uint32_t k = 0; burst > 1 && k < STAGE && k < m; k++)
			binding_table_prefetch_aor(t, r[k].req.aor_hash);
		for (uint32_t k = 0; k < m; k++) {
			uint32_t i = first + k;

			if (burst > 1 && k + STAGE < m)
				binding_table_prefetch_aor(t, r[k + STAGE].req.aor_hash);
			binding_table_apply_register(t, policy, &r[k].req, &res);
			if (res.status_code != 200) {
				fprintf(stderr, "apply: %u %s at op %u (%.*s)\n", res.status_code,
					res.reason, i, (int)r[k].req.aor.len, r[k].req.aor.ptr);
				return -1;
			}
			if ((i & 16383) == 16383)
				drain(ring);
		}
	}
	drain(ring);
	return 0;
}

static char cleanup_dirs[3][512];

static void
remove_dir(const char *dir)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

/* atexit: error paths leave no state dir behind */
static void
cleanup(void)
{
	for (int i = 0; i < 3; i++) {
		if (cleanup_dirs[i][0] != '\0' && access(cleanup_dirs[i], F_OK) == 0)
			remove_dir(cleanup_dirs[i]);
	}
}

/* Register n_bindings new AORs (in `order`) and group-commit them; returns
 * the seconds spent in checkpoint_run_once, or -1. */
static double
run_checkpoint(const struct store_lmdb_config *lcfg, uint32_t commit_changes,
	       struct event_ring *ring, const struct store_policy *policy)
{
	struct checkpoint_config ccfg = { .max_changes_per_commit = commit_changes };
	struct store_lmdb *lmdb;
	struct checkpoint *cp;
	struct binding_table *t;
	double spent = 0, t0;
	int rc = store_lmdb_open(lcfg, &lmdb);

	if (rc != 0) {
		fprintf(stderr, "store_lmdb_open(%s): %d\n", lcfg->state_dir, rc);
		return -1;
	}
	cp = checkpoint_create(lmdb, &ccfg, &ring, 1);
	t = binding_table_create(n_bindings, 0, ring, NOW0);
	if (cp == NULL || t == NULL)
		return -1;
	for (uint32_t done = 0; done < n_bindings; done += commit_changes) {
		uint32_t n = n_bindings - done < commit_changes ? n_bindings - done : commit_changes;
		struct request r;
		struct registration_result res;

		request_init(&r);
		for (uint32_t i = 0; i < n; i++) {
			request_set(&r, &packets[order[done + i]], 1, NOW0);
			binding_table_apply_register(t, policy, &r.req, &res);
		}
		t0 = now_s();
		rc = checkpoint_run_once(cp, NOW0);
		spent += now_s() - t0;
		if (rc != (int)n) {
			fprintf(stderr, "checkpoint_run_once: %d\n", rc);
			return -1;
		}
	}
	checkpoint_destroy(cp);
	binding_table_destroy(t);
	store_lmdb_close(lmdb);
	return spent;
}

/* What the phases measured (0: not run, see --only). */
struct figures {
	double fill_s, insert_s, insert_cpu_s, refresh_s, refresh_cpu_s, refresh_single_cpu_s;
	double ckpt_s, ckpt_fast_s, ckpt_thread_s, ckpt_refresh_s, recover_s, recover_cpu_s;
	uint64_t ckpt_thread_commits;
	long rss0, rss1;
	uint64_t events_lost;
};

/* Phases 1-3: fill, insert, refresh.  0 or -1. */
static int
table_phases(struct figures *f, struct event_ring *ring, const struct store_policy *policy,
	     uint32_t n_insert, uint32_t n_refresh)
{
	struct binding_table_stats bst;
	struct binding_table *t;
	double t0, c0;

	/* 1. fill to n_bindings: memory per binding */
	f->rss0 = rss_bytes();
	t = binding_table_create(n_bindings, 0, ring, NOW0);
	if (t == NULL)
		return -1;
	binding_table_prefault(t);     /* as the dataplane does at start-up */
	receive(order, n_bindings);
	t0 = now_s();
	if (apply_rx(t, ring, policy, n_bindings, 1, NOW0, 1) != 0)
		return -1;
	f->fill_s = now_s() - t0;
	f->rss1 = rss_bytes();

	/* 2. insert into a table holding ~n: remove 10 %, register them again */
	for (uint32_t i = 0; i < n_insert; i++) {
		const struct packet *pk = &packets[order[i]];

		binding_table_force_unregister(t, (struct store_slice){ pk->aor, pk->aor_len },
					       (struct store_slice){ NULL, 0 }, NOW0 + 1);
		if ((i & 16383) == 16383)
			drain(ring);
	}
	drain(ring);
	receive(order, n_insert);
	t0 = now_s();
	c0 = cpu_s();
	if (apply_rx(t, ring, policy, n_insert, 1, NOW0 + 2, WORKER_BURST) != 0)
		return -1;
	f->insert_s = now_s() - t0;
	f->insert_cpu_s = cpu_s() - c0;

	/* 3. refresh random bindings of the full table */
	for (uint32_t i = 0; i < n_refresh; i++)
		order[i] = (uint32_t)(rng() % n_bindings);
	receive(order, n_refresh / 2);
	c0 = cpu_s();
	if (apply_rx(t, ring, policy, n_refresh / 2, 1u << 28, NOW0 + 3, 1) != 0)
		return -1;
	f->refresh_single_cpu_s = cpu_s() - c0;
	receive(order + n_refresh / 2, n_refresh / 2);
	t0 = now_s();
	c0 = cpu_s();
	if (apply_rx(t, ring, policy, n_refresh / 2, 1u << 29,
		      NOW0 + 4, WORKER_BURST) != 0)
		return -1;
	f->refresh_s = now_s() - t0;
	f->refresh_cpu_s = cpu_s() - c0;
	binding_table_get_stats(t, &bst);
	f->events_lost = bst.events_lost;
	binding_table_destroy(t);
	return 0;
}

/* Has the checkpoint committed event `seq` to history and every change
 * so far to `bindings`? */
static bool
all_applied(const struct checkpoint *cp, uint64_t seq)
{
	struct checkpoint_stats st;

	if (checkpoint_committed_seq(cp, 0) < seq)
		return false;
	checkpoint_get_stats(cp, &st);
	return st.pending == 0;
}

/*
 * The checkpoint thread as the dataplane runs it (checkpoint_start, default
 * config: 10 ms window, at most 262144 changes per commit), fed by one
 * worker registering n_bindings new AORs as fast as it can.  Behind, each
 * commit takes the whole backlog the ring holds, so ring_capacity bounds the
 * batch.  The producer waits while the ring is full (a worker would lose the
 * change instead, counted in events_lost).  Returns the seconds from the
 * first REGISTER until the last change is committed, or -1; *commits.
 */
static double
run_checkpoint_thread(const struct store_lmdb_config *lcfg, uint32_t ring_capacity,
		      const struct store_policy *policy, uint64_t *commits, double *refresh_s)
{
	const struct timespec nap = { .tv_nsec = 100000 };
	int64_t now = (int64_t)time(NULL);     /* history retention is against the clock */
	struct event_ring *ring = event_ring_create(ring_capacity);
	struct checkpoint_stats st;
	struct registration_result res;
	struct store_lmdb *lmdb = NULL;
	struct checkpoint *cp;
	struct binding_table *t;
	struct request r;
	double t0, spent;

	if (ring == NULL || store_lmdb_open(lcfg, &lmdb) != 0)
		return -1;
	cp = checkpoint_create(lmdb, NULL, &ring, 1);
	t = binding_table_create(n_bindings, 0, ring, now);
	if (cp == NULL || t == NULL)
		return -1;
	binding_table_prefault(t);
	request_init(&r);
	t0 = now_s();
	if (checkpoint_start(cp) != 0)
		return -1;
	for (uint32_t i = 0; i < n_bindings; i++) {
		while (event_ring_count(ring) >= event_ring_capacity(ring) - 1)
			nanosleep(&nap, NULL);
		request_set(&r, &packets[order[i]], 1, now);
		binding_table_apply_register(t, policy, &r.req, &res);
		if (res.status_code != 200)
			return -1;
	}
	/* one event per new AOR, seq from 1; committed to history and written
	 * to `bindings` (what a restart loads without replay, what
	 * sipreg-control reads) */
	while (!all_applied(cp, n_bindings))
		nanosleep(&nap, NULL);
	spent = now_s() - t0;
	checkpoint_get_stats(cp, &st);
	*commits = st.commits;
	/* then a refresh storm: every binding once more (CSeq 2), in another
	 * random order, against a `bindings` that already holds all of them */
	t0 = now_s();
	for (uint32_t i = 0; i < n_bindings; i++) {
		uint32_t id = order[(uint32_t)(((uint64_t)i * 7919u) % n_bindings)];

		while (event_ring_count(ring) >= event_ring_capacity(ring) - 1)
			nanosleep(&nap, NULL);
		request_set(&r, &packets[id], 2, now + 1);
		binding_table_apply_register(t, policy, &r.req, &res);
		if (res.status_code != 200)
			return -1;
	}
	while (!all_applied(cp, 2ull * n_bindings))
		nanosleep(&nap, NULL);
	*refresh_s = now_s() - t0;
	checkpoint_destroy(cp);
	binding_table_destroy(t);
	store_lmdb_close(lmdb);
	event_ring_destroy(ring);
	return spent;
}

/* Phases 4-5: checkpoint (fsync, then no fsync + write map), recovery.
 * 0 or -1. */
static int
lmdb_phases(struct figures *f, struct event_ring *ring, const struct store_policy *policy,
	    struct store_lmdb_config lcfg, const char *state_parent, uint32_t commit_changes)
{
	char state_dir[512], state_dir_fast[512], state_dir_thread[512];
	struct store_lmdb_config fast_cfg = { 0 }, thread_cfg = lcfg;
	struct store_recovery_stats rst;
	struct store_lmdb *lmdb;
	struct binding_table *t;
	double t0, c0;
	int rc;

	/* 4. checkpoint: n_bindings registrations committed to LMDB, durable
	 * (default config), then again without fsync, through the map */
	for (uint32_t i = 0; i < n_bindings; i++)
		order[i] = i;
	shuffle(order, n_bindings);
	snprintf(state_dir, sizeof(state_dir), "%s/sipreg-bench-store-%d", state_parent, (int)getpid());
	lcfg.state_dir = state_dir;
	snprintf(cleanup_dirs[0], sizeof(cleanup_dirs[0]), "%s", state_dir);
	atexit(cleanup);
	f->ckpt_s = run_checkpoint(&lcfg, commit_changes, ring, policy);
	if (f->ckpt_s < 0)
		return -1;
	snprintf(state_dir_fast, sizeof(state_dir_fast), "%s/sipreg-bench-store-%d-nosync",
		 state_parent, (int)getpid());
	fast_cfg.state_dir = state_dir_fast;
	snprintf(cleanup_dirs[1], sizeof(cleanup_dirs[1]), "%s", state_dir_fast);
	fast_cfg.no_sync = true;
	fast_cfg.write_map = true;
	f->ckpt_fast_s = run_checkpoint(&fast_cfg, commit_changes, ring, policy);
	remove_dir(state_dir_fast);
	if (f->ckpt_fast_s < 0)
		return -1;
	snprintf(state_dir_thread, sizeof(state_dir_thread), "%s/sipreg-bench-store-%d-thread",
		 state_parent, (int)getpid());
	thread_cfg.state_dir = state_dir_thread;
	snprintf(cleanup_dirs[2], sizeof(cleanup_dirs[2]), "%s", state_dir_thread);
	f->ckpt_thread_s = run_checkpoint_thread(&thread_cfg, thread_ring_capacity, policy,
						 &f->ckpt_thread_commits, &f->ckpt_refresh_s);
	remove_dir(state_dir_thread);
	if (f->ckpt_thread_s < 0)
		return -1;
	sync();   /* no writeback of the runs above during the recovery timing */

	/* 5. recovery of n_bindings (page cache warm, as after a restart) */
	rc = store_lmdb_open(&lcfg, &lmdb);
	t = binding_table_create(n_bindings, 0, NULL, NOW0);
	if (rc != 0 || t == NULL)
		return -1;
	binding_table_prefault(t);
	t0 = now_s();
	c0 = cpu_s();
	rc = store_recover(lmdb, &t, 1, NOW0 + 10, &rst);
	f->recover_s = now_s() - t0;
	f->recover_cpu_s = cpu_s() - c0;
	if (rc != 0 || rst.loaded != n_bindings) {
		fprintf(stderr, "store_recover: rc %d loaded %llu\n", rc, (unsigned long long)rst.loaded);
		return -1;
	}
	binding_table_destroy(t);
	store_lmdb_close(lmdb);
	remove_dir(state_dir);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *state_parent = "/tmp";
	struct store_policy policy;
	struct event_ring *ring;
	struct store_lmdb_config lcfg = { 0 };
	uint32_t commit_changes = 8192;
	struct figures f;
	uint32_t n_insert, n_refresh = 0;
	bool run_table = true, run_lmdb = true;   /* --only table | lmdb */

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--bindings") == 0 && i + 1 < argc)
			n_bindings = (uint32_t)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--refresh-ops") == 0 && i + 1 < argc)
			n_refresh = (uint32_t)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--no-sync") == 0)
			lcfg.no_sync = true;
		else if (strcmp(argv[i], "--write-map") == 0)
			lcfg.write_map = true;
		else if (strcmp(argv[i], "--commit") == 0 && i + 1 < argc)
			commit_changes = (uint32_t)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--ring") == 0 && i + 1 < argc)
			thread_ring_capacity = (uint32_t)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--state-dir") == 0 && i + 1 < argc)
			state_parent = argv[++i];
		else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc &&
			 (strcmp(argv[i + 1], "table") == 0 || strcmp(argv[i + 1], "lmdb") == 0))
			run_lmdb = !(run_table = strcmp(argv[++i], "table") == 0);
		else {
			fprintf(stderr, "usage: %s [--bindings N] [--commit CHANGES] [--no-sync] "
				"[--ring EVENTS] [--state-dir DIR] [--only table|lmdb]\n", argv[0]);
			return 2;
		}
	}
	if (n_bindings < 1000)
		n_bindings = 1000;
	n_insert = n_bindings / 10;
	if (n_refresh < n_bindings)
		n_refresh = n_bindings < 1000000 ? 2000000 : 2 * n_bindings;
	store_policy_defaults(&policy);
	policy.max_bindings = 4;

	/* the "packets": strings for every AOR, and a random order */
	packets = store_big_alloc((size_t)n_bindings * sizeof(*packets));
	order = malloc((size_t)n_refresh * sizeof(uint32_t));
	rx_capacity = n_bindings > n_refresh / 2 ? n_bindings : n_refresh / 2;
	rx_packets = store_big_alloc((size_t)rx_capacity * sizeof(*rx_packets));
	if (!packets || !order || !rx_packets)
		return 1;
	for (uint32_t i = 0; i < n_bindings; i++) {
		packets[i].aor_len = (uint8_t)snprintf(packets[i].aor, AOR_BYTES,
						"sip:+1555%07u@example.com", i);
		packets[i].contact_len = (uint8_t)snprintf(packets[i].contact, CONTACT_BYTES,
			 "sip:+1555%07u@198.18.%u.%u:5060;transport=udp", i, (i >> 8) & 255, i & 255);
	}
	for (uint32_t i = 0; i < n_bindings; i++)
		order[i] = i;
	shuffle(order, n_bindings);
	ring = event_ring_create(commit_changes > 65536 ? commit_changes + 1 : 65536);
	if (ring == NULL)
		return 1;

	memset(&f, 0, sizeof(f));
	if (run_table && table_phases(&f, ring, &policy, n_insert, n_refresh) != 0)
		return 1;
	if (run_lmdb && lmdb_phases(&f, ring, &policy, lcfg, state_parent, commit_changes) != 0)
		return 1;

	printf("bench-store: %u bindings, one thread, random AOR order, binding record %zu B\n",
	       n_bindings, sizeof(struct store_binding_data));
	printf("ops/s per core = ops / thread CPU time (wall-clock rate in the last column)\n");
	printf("%-36s %14s %14s\n", "figure", "value", "wall");
	if (run_table) {
		printf("%-36s %14.0f\n", "fill 0 -> N, one by one (ops/s wall)",
		       n_bindings / f.fill_s);
		printf("%-36s %14.0f %14.0f\n", "insert at ~N, staged (ops/s/core)",
		       n_insert / f.insert_cpu_s, n_insert / f.insert_s);
		printf("%-36s %14.0f\n", "refresh at N, one by one (ops/s/core)",
		       n_refresh / 2 / f.refresh_single_cpu_s);
		printf("%-36s %14.0f %14.0f\n", "refresh at N, staged (ops/s/core)",
		       n_refresh / 2 / f.refresh_cpu_s, n_refresh / 2 / f.refresh_s);
		printf("%-36s %14.1f\n", "memory (bytes/binding, RSS delta)",
		       (double)(f.rss1 - f.rss0) / n_bindings);
		printf("%-36s %14llu\n", "events lost (ring full)",
		       (unsigned long long)f.events_lost);
	}
	if (run_lmdb) {
		printf("%-36s %14.0f  %llu commits\n", "checkpoint thread, fsync (changes/s)",
		       n_bindings / f.ckpt_thread_s, (unsigned long long)f.ckpt_thread_commits);
		printf("%-36s %14.0f\n", "  then refresh storm (changes/s)",
		       n_bindings / f.ckpt_refresh_s);
		printf("%-36s %14.0f\n", "commits of 8192, fsync (changes/s wall)", n_bindings / f.ckpt_s);
		printf("%-36s %14.0f\n", "checkpoint, no fsync (changes/s wall)",
		       n_bindings / f.ckpt_fast_s);
		printf("%-36s %14.3f\n", "recovery of N (s wall)", f.recover_s);
		printf("%-36s %14.3f\n", "recovery of N (s CPU)", f.recover_cpu_s);
		printf("%-36s %14.0f\n", "recovery rate (bindings/s wall)", n_bindings / f.recover_s);
	}
	/* the JSON line: figures of phases not run (--only) are 0 */
	printf("{\"refresh_ops_per_s\":%.0f,\"insert_ops_per_s\":%.0f,"
	       "\"bytes_per_binding\":%.1f,\"checkpoint_changes_per_s\":%.0f,"
	       "\"recovery_s_1m\":%.3f,\"checkpoint_8192_changes_per_s\":%.0f,"
	       "\"checkpoint_refresh_storm_changes_per_s\":%.0f}\n",
	       run_table ? n_refresh / 2 / f.refresh_cpu_s : 0,
	       run_table ? n_insert / f.insert_cpu_s : 0,
	       run_table ? (double)(f.rss1 - f.rss0) / n_bindings : 0,
	       run_lmdb ? n_bindings / f.ckpt_thread_s : 0,
	       run_lmdb ? f.recover_s * 1e6 / n_bindings : 0,
	       run_lmdb ? n_bindings / f.ckpt_s : 0,
	       run_lmdb ? n_bindings / f.ckpt_refresh_s : 0);
	event_ring_destroy(ring);
	store_big_free(packets, (size_t)n_bindings * sizeof(*packets));
	store_big_free(rx_packets, (size_t)rx_capacity * sizeof(*rx_packets));
	free(order);
	return 0;
}
