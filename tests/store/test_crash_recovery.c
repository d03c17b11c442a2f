/*
 * test_crash_recovery.c - kill -9 the checkpoint writer at random moments
 * and check that LMDB still opens and every binding it reported committed is
 * recovered (issue 4, item 6).
 *
 * Each round forks a writer that recovers the state dir, then registers new
 * AORs sip:u<N>@example.com (N continuing from what it recovered) and group-
 * commits every 64 changes with fsync on, writing the highest N committed to
 * a pipe after each commit.  Odd rounds keep the rings busy so `bindings`
 * trails history (the write-ahead log) and recovery must replay it.  The parent kills it after 20-250 ms, reopens the
 * state dir with a different worker count and checks AORs 0..N.  Exit code 0
 * on success (meson protocol exitcode).
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "aor_hash.h"
#include "binding_table.h"
#include "checkpoint.h"
#include "event_ring.h"
#include "recovery.h"
#include "store_test_util.h"

#define ROUNDS 20
#define MAX_WORKERS 4
#define CAPACITY (1u << 18)
#define MAX_AORS (1u << 20)     /* per writer */

static struct store_lmdb *
open_state(const char *dir)
{
	struct store_lmdb_config cfg = { .state_dir = dir, .bindings_map_bytes = 1ull << 30,
					 .history_map_bytes = 1ull << 30 };
	struct store_lmdb *l;
	int rc = store_lmdb_open(&cfg, &l);

	if (rc != 0) {
		fprintf(stderr, "store_lmdb_open: %d %s\n", rc, rc > 0 ? mdb_strerror(rc) : strerror(-rc));
		return NULL;
	}
	return l;
}

static void
aor_name(char *buf, size_t cap, uint64_t n)
{
	snprintf(buf, cap, "sip:u%llu@example.com", (unsigned long long)n);
}

/*
 * Writer: never returns; killed by the parent.  deferred: commits take at
 * most 48 changes while 64 come per step, so the rings are never idle and
 * `bindings` is written only every lag_ms: most kills then land with
 * committed changes that only history holds (recovery replays them).
 */
static void
writer(const char *dir, int fd, uint32_t n_workers, bool deferred, uint32_t lag_ms,
       uint32_t cseq)
{
	struct store_lmdb *l = open_state(dir);
	struct event_ring *rings[MAX_WORKERS];
	struct binding_table *tables[MAX_WORKERS];
	struct store_recovery_stats st;
	struct store_policy policy;
	struct checkpoint_config ccfg = { 0 };
	struct checkpoint *cp;
	int64_t now = time(NULL);
	uint64_t next = 0, first, done;
	uint32_t *ring_of = malloc(MAX_AORS * sizeof(*ring_of));
	uint64_t *seq_of = malloc(MAX_AORS * sizeof(*seq_of));

	if (l == NULL || ring_of == NULL || seq_of == NULL)
		_exit(2);
	store_policy_defaults(&policy);
	for (uint32_t w = 0; w < n_workers; w++) {
		rings[w] = event_ring_create(1024);
		tables[w] = binding_table_create(CAPACITY, (uint16_t)w, rings[w], now);
		if (!rings[w] || !tables[w])
			_exit(3);
	}
	if (store_recover(l, tables, n_workers, now, &st) != 0)
		_exit(4);
	/* continue at the first AOR missing (the committed ones are a prefix
	 * plus, with several rings, some beyond it: those are refreshed) */
	for (;; next++) {
		char aor[64];

		aor_name(aor, sizeof(aor), next);
		if (binding_table_find_aor(tables[store_aor_owner(aor, strlen(aor), n_workers)],
					   S(aor)) == STORE_NO_BINDING)
			break;
	}
	first = done = next;
	if (deferred) {
		ccfg.max_changes_per_commit = 48;
		ccfg.bindings_max_lag_ms = lag_ms;
	}
	cp = checkpoint_create(l, &ccfg, rings, n_workers);
	if (cp == NULL)
		_exit(5);
	for (;;) {
		bool room = true;

		for (uint32_t w = 0; w < n_workers; w++)
			room = room && event_ring_count(rings[w]) + 64 < event_ring_capacity(rings[w]);
		for (int i = 0; room && i < 64 && next - first < MAX_AORS; i++, next++) {
			char aor[64];
			struct test_register r;
			struct registration_result res;
			uint32_t w;

			aor_name(aor, sizeof(aor), next);
			w = store_aor_owner(aor, strlen(aor), n_workers);
			reg_init(&r, aor, "crash-call", cseq, now);
			reg_contact(&r, "sip:u@198.18.0.1:5060", 3600);
			binding_table_apply_register(tables[w], &policy, &r.req, &res);
			if (res.status_code != 200 || event_ring_lost(rings[w]) != 0)
				_exit(6);
			ring_of[next - first] = w;
			seq_of[next - first] = event_ring_pushed(rings[w]);
		}
		if (checkpoint_run_once(cp, now) < 0)
			_exit(7);
		/* report the prefix whose events history holds */
		while (done < next && seq_of[done - first] <=
		       checkpoint_committed_seq(cp, ring_of[done - first]))
			done++;
		if (done > first) {
			uint64_t committed = done - 1;

			if (write(fd, &committed, sizeof(committed)) != sizeof(committed))
				_exit(8);
		}
	}
}

static int
verify(const char *dir, uint64_t committed, bool any, uint32_t n_workers, uint64_t *loaded,
       uint64_t *in_bindings)
{
	struct store_lmdb *l = open_state(dir);
	struct binding_table *tables[MAX_WORKERS];
	struct store_recovery_stats st;
	int64_t now = time(NULL);
	int failures = 0;
	int rc;

	if (l == NULL)
		return 1;
	{
		/* what `bindings` alone held at the kill, before any replay */
		MDB_txn *txn;
		MDB_stat ms;

		*in_bindings = 0;
		if (mdb_txn_begin(store_lmdb_bindings_env(l), NULL, MDB_RDONLY, &txn) == 0) {
			if (mdb_stat(txn, store_lmdb_bindings_dbi(l), &ms) == 0)
				*in_bindings = ms.ms_entries;
			mdb_txn_abort(txn);
		}
	}
	for (uint32_t w = 0; w < n_workers; w++)
		tables[w] = binding_table_create(CAPACITY, (uint16_t)w, NULL, now);
	rc = store_recover(l, tables, n_workers, now, &st);
	if (rc != 0) {
		fprintf(stderr, "store_recover: %s\n", mdb_strerror(rc));
		failures++;
	}
	*loaded = st.loaded;
	for (uint64_t n = 0; any && n <= committed && failures < 5; n++) {
		char aor[64];

		aor_name(aor, sizeof(aor), n);
		if (binding_table_find_aor(tables[store_aor_owner(aor, strlen(aor), n_workers)],
					   S(aor)) == STORE_NO_BINDING) {
			fprintf(stderr, "missing %s (reported committed up to %llu)\n", aor,
				(unsigned long long)committed);
			failures++;
		}
	}
	for (uint32_t w = 0; w < n_workers; w++)
		binding_table_destroy(tables[w]);
	store_lmdb_close(l);
	return failures;
}

int
main(void)
{
	char *dir = make_state_dir("crash");
	uint64_t committed = 0, loaded = 0, in_bindings = 0;
	uint32_t rounds_replayed = 0;
	bool any = false;
	int failures = 0;

	if (dir == NULL)
		return 1;
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	for (int round = 0; round < ROUNDS && failures == 0; round++) {
		int fds[2];
		pid_t pid;
		uint64_t v;
		struct timespec delay;
		uint32_t writer_workers = (uint32_t)round % MAX_WORKERS + 1;
		uint32_t reader_workers = (uint32_t)(round + 2) % MAX_WORKERS + 1;
		bool deferred = round % 2 == 1;
		uint32_t lag_ms = 30 + (uint32_t)(rand() % 300);

		if (pipe(fds) != 0)
			return 1;
		pid = fork();
		if (pid < 0)
			return 1;
		if (pid == 0) {
			close(fds[0]);
			writer(dir, fds[1], writer_workers, deferred, lag_ms, (uint32_t)round + 1);
		}
		close(fds[1]);
		delay.tv_sec = 0;
		delay.tv_nsec = (20 + rand() % 230) * 1000000L;
		nanosleep(&delay, NULL);
		kill(pid, SIGKILL);
		{
			int status = 0;

			waitpid(pid, &status, 0);
			if (WIFEXITED(status)) {
				fprintf(stderr, "round %d: the writer exited early, status %d\n", round,
					WEXITSTATUS(status));
				failures++;
			}
		}
		while (read(fds[0], &v, sizeof(v)) == sizeof(v)) {
			committed = v;
			any = true;
		}
		close(fds[0]);
		failures += verify(dir, committed, any, reader_workers, &loaded, &in_bindings);
		rounds_replayed += any && in_bindings < committed + 1;
		printf("round %2d: writer %u workers%s, killed after %3ld ms, committed up to %llu, "
		       "recovered %llu with %u workers (%llu of them in `bindings` before the replay)\n", round,
		       writer_workers, deferred ? ", bindings deferred" : "",
		       delay.tv_nsec / 1000000L, any ? (unsigned long long)committed : 0ULL,
		       (unsigned long long)loaded, reader_workers, (unsigned long long)in_bindings);
		if (any && loaded < committed + 1) {
			fprintf(stderr, "recovered %llu < %llu committed\n",
				(unsigned long long)loaded, (unsigned long long)committed + 1);
			failures++;
		}
	}
	/* the write-ahead path must have been crossed by some kills */
	if (failures == 0 && rounds_replayed == 0) {
		fprintf(stderr, "no kill left committed changes that only history held\n");
		failures++;
	}
	rm_rf(dir);
	printf("%s\n", failures == 0 ? "crash recovery: ok" : "crash recovery: FAILED");
	return failures == 0 ? 0 : 1;
}
