/* main.c — sipreg-dataplane: config, EAL, port, workers, shutdown.
 *
 * Configuration is read once, before EAL starts; after that the main lcore
 * only waits for a signal while the workers poll.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include "account_store.h"
#include "account_table.h"
#include "binding_table.h"
#include "checkpoint.h"
#include "config.h"
#include "digest.h"
#include "eal_args.h"
#include "mgmt.h"
#include "policy_store.h"
#include "protection.h"
#include "xdp_maps.h"
#include "recovery.h"
#include "registrar.h"
#include "replay_cache.h"
#include "stats_shm.h"
#include "worker.h"

#ifndef SIPREG_XDP_PROG_DEFAULT
#define SIPREG_XDP_PROG_DEFAULT "/usr/lib/sipreg/sip_prefilter.bpf.o"
#endif

#define MBUFS_PER_WORKER (8191 + WORKER_HELD_MAX)
#define MBUF_CACHE 256
#define RX_DESC 1024
#define TX_DESC 1024
#define HANDOFF_RING_SIZE 4096
/* struct handoff buffers (a parse result, ~14 KB each) per worker: what
 * is in flight between workers at once; none left is answered like a
 * full ring (503). */
#define HANDOFF_BUFFERS_PER_WORKER 2047
#define REPLAY_ENTRIES (1u << 20)
#define LOCKOUT_ENTRIES (1u << 18)

static volatile bool quit;
static volatile bool reload_requested;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload_requested = true;
	else
		quit = true;
}

/* Everything registrar mode owns beside the workers. */
struct registrar_state {
	struct registrar_config cfg;             /* from the INI and the stored policy at start */
	struct registrar_config *live_cfg;       /* what registrars read; swapped on reload */
	struct policy_rates rates;
	struct store_lmdb *lmdb;
	struct store_config *config_env;
	struct account_table *accounts;          /* current; workers load it atomically */
	struct rte_rcu_qsbr *qsbr;
	struct event_ring *rings[CONFIG_MAX_WORKERS];
	struct binding_table *tables[CONFIG_MAX_WORKERS];
	struct rte_ring *handoff[CONFIG_MAX_WORKERS];
	struct rte_mempool *handoff_pool;        /* struct handoff; NULL with one worker */
	struct rte_ring *commands[CONFIG_MAX_WORKERS];
	struct mgmt *mgmt;
	pthread_mutex_t reload_lock;
	struct lockout_table *lockouts[CONFIG_MAX_WORKERS];
	struct rate_table *rates_tables[CONFIG_MAX_WORKERS];
	struct rte_ring *lockout_notices;
	struct prefix_list *allowlist;          /* registrars load it atomically */
	struct protection *protection;
	struct digest_engine *digest[CONFIG_MAX_WORKERS];
	struct replay_cache *replay[CONFIG_MAX_WORKERS];
	/* always there: reload_policy may turn keepalives on */
	struct nat_keepalive *keepalive[CONFIG_MAX_WORKERS];
	struct checkpoint *checkpoint;
	uint8_t secret[DIGEST_SECRET_LEN];
};

/* Builds the registrar state: stores, accounts, tables, recovery, and the
 * checkpoint thread. Returns 0, or -1 after printing one line saying why. */
static int registrar_setup(struct registrar_state *rs, const struct dataplane_config *cfg)
{
	char err[512], path[4096];
	int rc;
	unsigned n = cfg->workers;
	int64_t now_s = (int64_t)time(NULL);

	memset(rs, 0, sizeof(*rs));
	pthread_mutex_init(&rs->reload_lock, NULL);
	if (registrar_config_set_domains(&rs->cfg, cfg->domains) != 0) {
		fprintf(stderr, "sipreg-dataplane: config error: [sip] domains = '%s': need 1..%d names of < %d characters\n",
			cfg->domains, REGISTRAR_MAX_DOMAINS, REGISTRAR_DOMAIN_MAX);
		return -1;
	}
	const char *realm = cfg->realm[0] ? cfg->realm : rs->cfg.domains[0];
	if (strlen(realm) >= sizeof(rs->cfg.realm)) {
		fprintf(stderr, "sipreg-dataplane: config error: [sip] realm: longer than %zu characters\n",
			sizeof(rs->cfg.realm) - 1);
		return -1;
	}
	memcpy(rs->cfg.realm, realm, strlen(realm) + 1);
	rs->cfg.realm_len = (uint32_t)strlen(realm);
	rs->cfg.challenge = (enum challenge_set)cfg->challenge;
	rs->cfg.nonce_validity_s = cfg->nonce_validity_s;
	rs->cfg.lockout = (struct lockout_policy){ cfg->lockout_failures, cfg->lockout_window_s,
						   cfg->lockout_duration_s };
	rs->cfg.expiring_window_s = cfg->expiring_window_s;
	rs->cfg.respond_unknown = cfg->respond_unknown ? RESPOND_UNKNOWN_DROP : RESPOND_UNKNOWN_CHALLENGE;
	store_policy_defaults(&rs->cfg.policy);
	rs->cfg.policy.default_expires_s = cfg->default_expires_s;
	rs->cfg.policy.min_expires_s = cfg->min_expires_s;
	rs->cfg.policy.max_expires_s = cfg->max_expires_s;
	rs->cfg.policy.max_bindings = cfg->max_bindings;
	rs->cfg.policy.register_replace = cfg->register_replace != 0;
	rs->cfg.policy.nat_max_expires_s = cfg->nat_max_expires_s;
	rs->cfg.nat_keepalive_s = cfg->nat_keepalive_s;
	rs->cfg.nat_keepalive_misses = cfg->nat_keepalive_misses;
	rs->rates = (struct policy_rates){ cfg->rate_per_ip_pps, cfg->rate_global_pps };
	rs->live_cfg = &rs->cfg;
	if (cfg->min_expires_s > cfg->max_expires_s) {
		fprintf(stderr, "sipreg-dataplane: config error: [policy] min_expires_s (%u) above max_expires_s (%u)\n",
			cfg->min_expires_s, cfg->max_expires_s);
		return -1;
	}

	/* One dataplane per state dir: two would fight over the bindings and
	 * the mgmt socket. The lock dies with the process, also on kill -9. */
	if (mkdir(cfg->state_dir, 0750) != 0 && errno != EEXIST) {
		fprintf(stderr, "sipreg-dataplane: [store] state_dir '%s': %s\n", cfg->state_dir, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/dataplane.lock", cfg->state_dir);
	int lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
		fprintf(stderr, "sipreg-dataplane: [store] state_dir '%s' is in use by another sipreg-dataplane (%s)\n",
			cfg->state_dir, path);
		return -1;
	}

	struct store_lmdb_config lc = { .state_dir = cfg->state_dir, .no_sync = !cfg->sync };
	rc = store_lmdb_open(&lc, &rs->lmdb);
	if (rc != 0) {
		fprintf(stderr, "sipreg-dataplane: [store] state_dir '%s': cannot open bindings/history: %s\n",
			cfg->state_dir, rc < 0 ? strerror(-rc) : mdb_strerror(rc));
		return -1;
	}
	rc = store_config_open(cfg->state_dir, false, &rs->config_env);
	if (rc != 0) {
		fprintf(stderr, "sipreg-dataplane: [store] state_dir '%s': cannot open config: %s\n",
			cfg->state_dir, rc < 0 ? strerror(-rc) : mdb_strerror(rc));
		return -1;
	}
	rc = policy_store_apply(rs->config_env, &rs->cfg, &rs->rates, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "sipreg-dataplane: policy: %s\n", err);
		return -1;
	}
	if (rc == 0)
		printf("sipreg-dataplane: policy from the config environment (over the INI)\n");
	err[0] = '\0';
	rs->accounts = account_table_load(rs->config_env, (int)rte_socket_id(), err, sizeof(err));
	if (!rs->accounts) {
		fprintf(stderr, "sipreg-dataplane: %s\n", err);
		return -1;
	}
	if (err[0])
		fprintf(stderr, "sipreg-dataplane: warning: %s\n", err);

	snprintf(path, sizeof(path), "%s/nonce.secret", cfg->state_dir);
	rc = digest_secret_load_or_create(path, rs->secret);
	if (rc != 0) {
		fprintf(stderr, "sipreg-dataplane: nonce secret %s: %s\n", path, strerror(-rc));
		return -1;
	}

	size_t qsbr_size = rte_rcu_qsbr_get_memsize(n);
	rs->qsbr = rte_zmalloc("account_qsbr", qsbr_size, RTE_CACHE_LINE_SIZE);
	if (!rs->qsbr || rte_rcu_qsbr_init(rs->qsbr, n) != 0) {
		fprintf(stderr, "sipreg-dataplane: cannot set up RCU for %u workers\n", n);
		return -1;
	}
	if (n > 1) {
		rs->handoff_pool = rte_mempool_create("handoff", HANDOFF_BUFFERS_PER_WORKER * n,
						      sizeof(struct handoff), 32, 0, NULL, NULL, NULL,
						      NULL, (int)rte_socket_id(), 0);
		if (!rs->handoff_pool) {
			fprintf(stderr, "sipreg-dataplane: hand-off buffers (%u x %zu bytes): %s "
				"(raise [dataplane] memory_mb)\n", HANDOFF_BUFFERS_PER_WORKER * n,
				sizeof(struct handoff), rte_strerror(rte_errno));
			return -1;
		}
	}
	for (unsigned k = 0; k < n; k++) {
		char name[32];

		snprintf(name, sizeof(name), "handoff_%u", k);
		rs->rings[k] = event_ring_create(cfg->event_ring_size);
		rs->tables[k] = binding_table_create(cfg->bindings_per_worker, (uint16_t)k, rs->rings[k], now_s);
		rs->handoff[k] = rte_ring_create(name, HANDOFF_RING_SIZE, (int)rte_socket_id(), RING_F_SC_DEQ);
		snprintf(name, sizeof(name), "commands_%u", k);
		rs->commands[k] = rte_ring_create(name, 64, (int)rte_socket_id(), RING_F_SC_DEQ);
		rs->digest[k] = digest_engine_create(rs->secret, cfg->nonce_validity_s);
		rs->replay[k] = replay_cache_create(REPLAY_ENTRIES, (int)rte_socket_id());
		rs->lockouts[k] = lockout_table_create(LOCKOUT_ENTRIES, (int)rte_socket_id());
		rs->rates_tables[k] = rate_table_create(LOCKOUT_ENTRIES, (int)rte_socket_id());
		rs->keepalive[k] = nat_keepalive_create(cfg->bindings_per_worker, k);
		if (!rs->rings[k] || !rs->tables[k] || !rs->handoff[k] || !rs->commands[k] ||
		    !rs->digest[k] || !rs->replay[k] || !rs->lockouts[k] || !rs->rates_tables[k] ||
		    !rs->keepalive[k]) {
			fprintf(stderr, "sipreg-dataplane: worker %u: out of memory for %u bindings "
				"(lower [store] bindings_per_worker or raise [dataplane] memory_mb)\n",
				k, cfg->bindings_per_worker);
			return -1;
		}
	}

	rs->lockout_notices = rte_ring_create_elem("lockout_notices", sizeof(struct lockout_notice),
						   4096, (int)rte_socket_id(), RING_F_SC_DEQ);
	if (!rs->lockout_notices) {
		fprintf(stderr, "sipreg-dataplane: cannot create the lockout notice ring\n");
		return -1;
	}

	struct store_recovery_stats rst;
	double t0 = (double)rte_get_tsc_cycles();
	rc = store_recover(rs->lmdb, rs->tables, n, now_s, &rst);
	if (rc != 0) {
		fprintf(stderr, "sipreg-dataplane: recovery failed: %s\n", mdb_strerror(rc));
		return -1;
	}
	printf("sipreg-dataplane: recovered %llu bindings (%llu expired, %llu no space, %llu malformed; "
	       "%llu changes replayed from history) in %.3f s\n",
	       (unsigned long long)rst.loaded, (unsigned long long)rst.expired,
	       (unsigned long long)rst.no_space, (unsigned long long)rst.malformed,
	       (unsigned long long)rst.replayed, ((double)rte_get_tsc_cycles() - t0) / (double)rte_get_tsc_hz());

	struct checkpoint_config cc = {
		.commit_window_ms = cfg->commit_window_ms,
		.history_retention_s = cfg->history_retention_s,
		.bindings_max_lag_ms = cfg->bindings_max_lag_ms ? cfg->bindings_max_lag_ms
								: CHECKPOINT_APPLY_EVERY_COMMIT,
		.max_pending_changes = cfg->max_pending_changes,
	};
	rs->checkpoint = checkpoint_create(rs->lmdb, &cc, rs->rings, n);
	if (!rs->checkpoint || checkpoint_start(rs->checkpoint) != 0) {
		fprintf(stderr, "sipreg-dataplane: cannot start the checkpoint thread\n");
		return -1;
	}
	return 0;
}

/* Stops the checkpoint thread (which drains and commits what the workers
 * produced) and frees everything. Workers must have stopped. */
static void registrar_teardown(struct registrar_state *rs, unsigned n)
{
	mgmt_stop(rs->mgmt);
	protection_free(rs->protection);
	rte_ring_free(rs->lockout_notices);
	free(rs->allowlist);
	if (rs->live_cfg != &rs->cfg)
		free(rs->live_cfg);
	if (rs->checkpoint) {
		checkpoint_stop(rs->checkpoint);
		checkpoint_destroy(rs->checkpoint);
	}
	for (unsigned k = 0; k < n; k++) {
		binding_table_destroy(rs->tables[k]);
		event_ring_destroy(rs->rings[k]);
		rte_ring_free(rs->handoff[k]);
		rte_ring_free(rs->commands[k]);
		digest_engine_free(rs->digest[k]);
		replay_cache_free(rs->replay[k]);
		lockout_table_free(rs->lockouts[k]);
		rate_table_free(rs->rates_tables[k]);
		nat_keepalive_destroy(rs->keepalive[k]);
	}
	account_table_free(rs->accounts);
	rte_mempool_free(rs->handoff_pool);
	rte_free(rs->qsbr);
	store_config_close(rs->config_env);
	store_lmdb_close(rs->lmdb);
}

/* SIGHUP or the mgmt command: load the accounts again, publish, reclaim
 * the old table once every worker has passed a quiescent state. Returns
 * the new account count, or -1 (the old accounts stay). */
static int64_t registrar_reload_accounts(void *arg)
{
	struct registrar_state *rs = arg;
	char err[512] = "";

	pthread_mutex_lock(&rs->reload_lock);
	struct account_table *fresh = account_table_load(rs->config_env, (int)rte_socket_id(), err, sizeof(err));
	if (!fresh) {
		pthread_mutex_unlock(&rs->reload_lock);
		fprintf(stderr, "sipreg-dataplane: account reload failed, keeping the old accounts: %s\n", err);
		return -1;
	}
	struct account_table *old = __atomic_exchange_n(&rs->accounts, fresh, __ATOMIC_ACQ_REL);
	rte_rcu_qsbr_synchronize(rs->qsbr, RTE_QSBR_THRID_INVALID);
	account_table_free(old);
	int64_t n = account_table_size(fresh);
	pthread_mutex_unlock(&rs->reload_lock);
	printf("sipreg-dataplane: reloaded %lld accounts\n", (long long)n);
	fflush(stdout);
	return n;
}

/* reload_policy: a new config from the stored policy, published like the
 * accounts (the old one is freed once every worker moved on). */
static void registrar_reload_policy(struct registrar_state *rs, char *out, size_t out_len)
{
	char err[512];
	struct registrar_config *next = malloc(sizeof(*next));
	struct policy_rates rates = rs->rates;

	if (!next) {
		snprintf(out, out_len, "{\"ok\":false,\"error\":\"out of memory\"}");
		return;
	}
	pthread_mutex_lock(&rs->reload_lock);
	*next = *rs->live_cfg;
	int rc = policy_store_apply(rs->config_env, next, &rates, err, sizeof(err));
	if (rc != 0) {
		pthread_mutex_unlock(&rs->reload_lock);
		free(next);
		json_t *o = json_pack("{s:b,s:s}", "ok", 0, "error",
				      rc > 0 ? "no policy stored in the config environment" : err);
		char *text = json_dumps(o, JSON_COMPACT);
		snprintf(out, out_len, "%s", text ? text : "{\"ok\":false}");
		free(text);
		json_decref(o);
		return;
	}
	struct registrar_config *old = __atomic_exchange_n(&rs->live_cfg, next, __ATOMIC_ACQ_REL);
	rte_rcu_qsbr_synchronize(rs->qsbr, RTE_QSBR_THRID_INVALID);
	if (old != &rs->cfg)
		free(old);
	rs->rates = rates;
	int rate_rc = rs->protection ? protection_set_rates(rs->protection, rates.per_ip_pps, rates.global_pps) : 0;
	pthread_mutex_unlock(&rs->reload_lock);
	snprintf(out, out_len, "{\"ok\":true,\"rates\":\"%s\"}",
		 rate_rc == 0 ? "applied in XDP" : "no XDP prefilter on this port");
	printf("sipreg-dataplane: policy reloaded from the config environment\n");
	fflush(stdout);
}

static bool registrar_protection_command(void *arg, const char *cmd, const json_t *req, char *out,
					 size_t out_len)
{
	struct registrar_state *rs = arg;

	if (strcmp(cmd, "reload_policy") == 0) {
		registrar_reload_policy(rs, out, out_len);
		return true;
	}
	return rs->protection && protection_command(rs->protection, cmd, req, out, out_len);
}

static void registrar_protection_tick(void *arg)
{
	struct registrar_state *rs = arg;

	if (rs->protection)
		protection_tick(rs->protection);
}

/* The iface= of a net_af_xdp port string into buf; false for other ports. */
static bool af_xdp_iface(const char *port, char *buf, size_t len)
{
	const char *p = strstr(port, "iface=");
	size_t n;

	if (strncmp(port, "net_af_xdp", 10) != 0 || !p)
		return false;
	p += 6;
	n = strcspn(p, ",");
	if (n == 0 || n >= len)
		return false;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return true;
}

static uint32_t registrar_account_count(void *arg)
{
	struct registrar_state *rs = arg;

	return account_table_size(__atomic_load_n(&rs->accounts, __ATOMIC_ACQUIRE));
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: sipreg-dataplane -c FILE [--check-config]\n"
		"  -c, --config FILE   dataplane config (INI; see README \"Configuration\")\n"
		"      --check-config  parse the config, print the EAL arguments, exit\n"
		"  -h, --help          this text\n");
}

/* Returns 0, or -1 after printing why the port could not start. */
static int port_start(uint16_t port_id, unsigned n_workers, struct rte_mempool *pool,
		      uint16_t *n_rx, uint16_t *n_tx)
{
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf;
	int rc;

	memset(&conf, 0, sizeof(conf));
	rc = rte_eth_dev_info_get(port_id, &info);
	if (rc != 0) {
		fprintf(stderr, "sipreg-dataplane: port %u: cannot read device info: %s\n",
			port_id, strerror(-rc));
		return -1;
	}
	*n_rx = (uint16_t)RTE_MIN(n_workers, info.max_rx_queues);
	*n_tx = (uint16_t)RTE_MIN(n_workers, info.max_tx_queues);
	rc = rte_eth_dev_configure(port_id, *n_rx, *n_tx, &conf);
	if (rc != 0) {
		fprintf(stderr, "sipreg-dataplane: port %u: configure failed: %s\n", port_id,
			strerror(-rc));
		return -1;
	}
	for (uint16_t q = 0; q < *n_rx; q++) {
		rc = rte_eth_rx_queue_setup(port_id, q, RX_DESC, rte_eth_dev_socket_id(port_id),
					    NULL, pool);
		if (rc != 0) {
			fprintf(stderr, "sipreg-dataplane: port %u rx queue %u: %s\n", port_id, q,
				strerror(-rc));
			return -1;
		}
	}
	for (uint16_t q = 0; q < *n_tx; q++) {
		rc = rte_eth_tx_queue_setup(port_id, q, TX_DESC, rte_eth_dev_socket_id(port_id),
					    NULL);
		if (rc != 0) {
			fprintf(stderr, "sipreg-dataplane: port %u tx queue %u: %s\n", port_id, q,
				strerror(-rc));
			return -1;
		}
	}
	rc = rte_eth_dev_start(port_id);
	if (rc != 0) {
		fprintf(stderr, "sipreg-dataplane: port %u: start failed: %s\n", port_id,
			strerror(-rc));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct dataplane_config cfg;
	static struct eal_args eal;
	static struct worker workers[CONFIG_MAX_WORKERS];
	const char *config_path = NULL;
	bool check_only = false;
	char err[600], stats_path[512];
	int opt;

	while ((opt = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
		switch (opt) {
		case 'c': config_path = optarg; break;
		case 'k': check_only = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!config_path) {
		usage(stderr);
		return 2;
	}
	config_set_defaults(&cfg);
	if (config_load(&cfg, config_path, err, sizeof(err)) != 0) {
		fprintf(stderr, "sipreg-dataplane: config error: %s\n", err);
		return 2;
	}
	if (eal_args_build(&eal, &cfg, argv[0], SIPREG_XDP_PROG_DEFAULT) != 0) {
		fprintf(stderr, "sipreg-dataplane: config error: [dataplane] port: EAL arguments too long\n");
		return 2;
	}
	if (check_only) {
		printf("config ok: mode=%s workers=%u\neal:", config_mode_name(cfg.mode), cfg.workers);
		for (int i = 1; i < eal.argc; i++)
			printf(" %s", eal.argv[i]);
		printf("\n");
		return 0;
	}
	if (stats_shm_path(stats_path, sizeof(stats_path), cfg.stats_dir, cfg.instance) != 0) {
		fprintf(stderr, "sipreg-dataplane: config error: [dataplane] stats_dir: too long\n");
		return 2;
	}

	char stale_iface[64];
	if (af_xdp_iface(cfg.port, stale_iface, sizeof(stale_iface))) {
		/* Only a program no live dataplane holds is stale: the interface
		 * lock (per network namespace) is held for the process's life. */
		struct stat ns;
		char lock_path[256];
		mkdir("/run/sipreg", 0755);
		if (stat("/proc/self/ns/net", &ns) != 0)
			ns.st_ino = 0;
		snprintf(lock_path, sizeof(lock_path), "/run/sipreg/xdp-%lu-%s.lock",
			 (unsigned long)ns.st_ino, stale_iface);
		int iface_lock = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
		if (iface_lock < 0 || flock(iface_lock, LOCK_EX | LOCK_NB) != 0) {
			fprintf(stderr, "sipreg-dataplane: [dataplane] port: interface %s is in use by another "
				"sipreg-dataplane (%s)\n", stale_iface, lock_path);
			return 1;
		}
		int rc = xdp_detach_stale(stale_iface, err, sizeof(err));
		if (rc < 0) {
			fprintf(stderr, "sipreg-dataplane: [dataplane] port: %s\n", err);
			return 1;
		}
		if (rc > 0)
			printf("sipreg-dataplane: detached the XDP program a killed instance left on %s\n",
			       stale_iface);
	}
	if (rte_eal_init(eal.argc, eal.argv) < 0) {
		fprintf(stderr, "sipreg-dataplane: EAL init failed (%s); see the EAL lines above: a "
			"dataplane with [dataplane] instance = %s may already run, or hugepages are missing "
			"(tools/testnet up reserves them)\n", rte_strerror(rte_errno), cfg.instance);
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);

	int rc = 1;
	uint16_t port_id = 0, n_rx = 0, n_tx = 0;
	struct rte_mempool *pool = NULL;
	struct stats_shm *stats = NULL;
	static struct registrar_state rs;
	bool registrar_mode = cfg.mode == DATAPLANE_MODE_REGISTRAR;

	if (rte_eth_dev_count_avail() != 1) {
		fprintf(stderr, "sipreg-dataplane: [dataplane] port '%s': %u ports found, need 1\n",
			cfg.port, rte_eth_dev_count_avail());
		goto out;
	}
	if (rte_lcore_count() != cfg.workers + 1) {
		fprintf(stderr, "sipreg-dataplane: EAL gave %u lcores, need %u\n",
			rte_lcore_count(), cfg.workers + 1);
		goto out;
	}
	RTE_ETH_FOREACH_DEV(port_id) break;
	pool = rte_pktmbuf_pool_create("sipreg_mbufs", MBUFS_PER_WORKER * cfg.workers + 4096,
				       MBUF_CACHE, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       rte_eth_dev_socket_id(port_id));
	if (!pool) {
		fprintf(stderr, "sipreg-dataplane: mbuf pool: %s (raise [dataplane] memory_mb)\n",
			rte_strerror(rte_errno));
		goto out;
	}
	stats = stats_shm_create(stats_path, cfg.workers);
	if (!stats) {
		fprintf(stderr, "sipreg-dataplane: stats file %s: %s\n", stats_path, strerror(errno));
		goto out;
	}
	/* Bindings are recovered before the port starts: the first packet
	 * answered already sees every stored binding. */
	if (registrar_mode && registrar_setup(&rs, &cfg) != 0)
		goto out;
	if (port_start(port_id, cfg.workers, pool, &n_rx, &n_tx) != 0)
		goto out;

	static struct rte_ring *tx_rings[CONFIG_MAX_WORKERS];
	if (n_tx < cfg.workers) {
		for (unsigned q = 0; q < n_tx; q++) {
			char name[32];
			snprintf(name, sizeof(name), "tx_%u", q);
			tx_rings[q] = rte_ring_create(name, HANDOFF_RING_SIZE, (int)rte_socket_id(),
						      RING_F_SC_DEQ);
			if (!tx_rings[q]) {
				fprintf(stderr, "sipreg-dataplane: cannot create TX ring %u\n", q);
				goto out;
			}
		}
	}

	unsigned lcore, k = 0;
	RTE_LCORE_FOREACH_WORKER(lcore) {
		struct worker *w = &workers[k];

		w->index = k;
		w->port_id = port_id;
		w->rx_queue = k < n_rx ? (uint16_t)k : UINT16_MAX;
		w->tx_queue = k < n_tx ? (uint16_t)k : UINT16_MAX;
		w->tx_in = k < n_tx ? tx_rings[k] : NULL;
		w->tx_via = k < n_tx ? NULL : tx_rings[k % n_tx];
		w->sip_port = cfg.sip_port;
		w->mode = cfg.mode;
		w->counters = stats->workers[k].counters;
		w->quit = &quit;
		w->tsc_hz = rte_get_tsc_hz();
		w->ns_per_cycle_q32 = (uint64_t)((1000000000ull << 32) / w->tsc_hz);
		w->latency_hist = stats->workers[k].latency_hist;
		struct timespec wall;
		clock_gettime(CLOCK_REALTIME, &wall);
		w->start_tsc = rte_get_tsc_cycles();
		w->start_unix_ns = (int64_t)wall.tv_sec * 1000000000 + wall.tv_nsec;
		if (registrar_mode) {
			w->registrar = (struct registrar){
				.cfg = rs.live_cfg,
				.live_cfg = &rs.live_cfg,
				.table = rs.tables[k],
				.digest = rs.digest[k],
				.replay = rs.replay[k],
				.accounts = &rs.accounts,
				.counters = w->counters,
				.worker = k,
				.n_workers = cfg.workers,
				.lockouts = rs.lockouts[k],
				.lockout_notices = rs.lockout_notices,
				.allowlist = &rs.allowlist,
				.events = rs.rings[k],
				.keepalive = rs.keepalive[k],
			};
			w->pool = pool;
			w->hold_replies = cfg.reply_after_commit != 0;
			w->handoff_in = rs.handoff[k];
			w->cmd_in = rs.commands[k];
			w->handoff_rings = rs.handoff;
			w->handoff_pool = rs.handoff_pool;
			w->qsbr = rs.qsbr;
		}
		rte_eal_remote_launch(worker_main, w, lcore);
		k++;
	}
	if (registrar_mode) {
		char mgmt_path[CONFIG_STR_MAX + 32], iface[64], access_path[CONFIG_STR_MAX + 32];
		snprintf(access_path, sizeof(access_path), "%s/access.json", cfg.state_dir);
		bool xdp = af_xdp_iface(cfg.port, iface, sizeof(iface));
		struct protection_config pc = {
			.xdp_iface = xdp ? iface : NULL,
			.sip_port = cfg.sip_port,
			.per_ip_rate_pps = rs.rates.per_ip_pps,
			.per_ip_burst = cfg.rate_per_ip_burst,
			.global_rate_pps = rs.rates.global_pps,
			.global_burst = cfg.rate_global_burst,
			.n_rx_cpus = n_rx,
			.access_path = access_path,
			.n_workers = cfg.workers,
		};
		rs.protection = protection_create(&pc, rs.lockout_notices, &rs.allowlist, rs.qsbr, err,
						  sizeof(err));
		if (!rs.protection) {
			fprintf(stderr, "sipreg-dataplane: protection: %s\n", err);
			quit = true;
		}
		struct mgmt_hooks hooks = { registrar_reload_accounts, registrar_account_count,
					    registrar_protection_command, registrar_protection_tick, &rs };
		if (cfg.mgmt_socket[0])
			snprintf(mgmt_path, sizeof(mgmt_path), "%s", cfg.mgmt_socket);
		else
			snprintf(mgmt_path, sizeof(mgmt_path), "%s/dataplane.sock", cfg.state_dir);
		rs.mgmt = mgmt_start(mgmt_path, rs.commands, cfg.workers, &hooks, err, sizeof(err));
		if (!rs.mgmt) {
			fprintf(stderr, "sipreg-dataplane: %s\n", err);
			quit = true;
		} else if (rs.protection) {
			protection_attach_mgmt(rs.protection, rs.mgmt);
		}
		/* Without XDP the workers apply the same rules in software. */
		for (unsigned k = 0; rs.protection && !xdp && k < cfg.workers; k++) {
			workers[k].soft_blocks = protection_soft_blocks(rs.protection);
			workers[k].soft_rates = protection_soft_rates(rs.protection);
			workers[k].rates = rs.rates_tables[k];
			__atomic_store_n(&workers[k].soft_filter, true, __ATOMIC_RELEASE);
		}
	}
	__atomic_store_n(&stats->ready, 1, __ATOMIC_RELEASE);
	printf("sipreg-dataplane: ready instance=%s mode=%s port=%s workers=%u rx_queues=%u stats=%s\n",
	       cfg.instance, config_mode_name(cfg.mode), cfg.port, cfg.workers, n_rx, stats_path);
	fflush(stdout);

	while (!quit) {
		usleep(100 * 1000);
		if (reload_requested && registrar_mode) {
			reload_requested = false;
			(void)registrar_reload_accounts(&rs);
		}
	}
	rte_eal_mp_wait_lcore();
	rte_eth_dev_stop(port_id);
	rte_eth_dev_close(port_id);
	rc = 0;
	printf("sipreg-dataplane: stopped\n");
out:
	if (registrar_mode)
		registrar_teardown(&rs, cfg.workers);
	stats_shm_close(stats);
	rte_eal_cleanup();
	return rc;
}
