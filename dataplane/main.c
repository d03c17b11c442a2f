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

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "config.h"
#include "eal_args.h"
#include "stats_shm.h"
#include "worker.h"

#ifndef SIPREG_XDP_PROG_DEFAULT
#define SIPREG_XDP_PROG_DEFAULT "/usr/lib/sipreg/sip_prefilter.bpf.o"
#endif

#define MBUFS_PER_WORKER 8191
#define MBUF_CACHE 256
#define RX_DESC 1024
#define TX_DESC 1024

static volatile bool quit;

static void on_signal(int sig)
{
	(void)sig;
	quit = true;
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
	if (*n_rx > 1)
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
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

	if (rte_eal_init(eal.argc, eal.argv) < 0) {
		fprintf(stderr, "sipreg-dataplane: EAL init failed: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	int rc = 1;
	uint16_t port_id = 0, n_rx = 0, n_tx = 0;
	struct rte_mempool *pool = NULL;
	struct stats_shm *stats = NULL;

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
	if (port_start(port_id, cfg.workers, pool, &n_rx, &n_tx) != 0)
		goto out;

	unsigned lcore, k = 0;
	RTE_LCORE_FOREACH_WORKER(lcore) {
		struct worker *w = &workers[k];

		w->index = k;
		w->port_id = port_id;
		w->rx_queue = k < n_rx ? (uint16_t)k : UINT16_MAX;
		w->tx_queue = (uint16_t)(k % n_tx);
		w->sip_port = cfg.sip_port;
		w->mode = cfg.mode;
		w->counters = stats->workers[k].counters;
		w->quit = &quit;
		rte_eal_remote_launch(worker_main, w, lcore);
		k++;
	}
	__atomic_store_n(&stats->ready, 1, __ATOMIC_RELEASE);
	printf("sipreg-dataplane: ready instance=%s mode=%s port=%s workers=%u rx_queues=%u stats=%s\n",
	       cfg.instance, config_mode_name(cfg.mode), cfg.port, cfg.workers, n_rx, stats_path);
	fflush(stdout);

	while (!quit)
		sleep(1);
	rte_eal_mp_wait_lcore();
	rte_eth_dev_stop(port_id);
	rte_eth_dev_close(port_id);
	rc = 0;
	printf("sipreg-dataplane: stopped\n");
out:
	stats_shm_close(stats);
	rte_eal_cleanup();
	return rc;
}
