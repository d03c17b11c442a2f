/* sipreg-stats — print the dataplane's shared-memory counters.
 *
 * A small, dependency-free reader of stats_shm.h for tests and operators
 * while sipreg-control does not run; `sipregctl stats` shows the same
 * figures through the control plane.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "stats_shm.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: sipreg-stats [--json] [--dir DIR] [--instance NAME | --file PATH]\n"
		     "  prints every counter: total, then one column per worker\n"
		     "  defaults: --dir /dev/shm --instance sipreg\n"
		     "  exit status: 0 ok, 1 stats file missing or unreadable, 2 usage\n");
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },   { "dir", required_argument, NULL, 'd' },
		{ "instance", required_argument, NULL, 'i' },
		{ "file", required_argument, NULL, 'f' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = "/dev/shm", *instance = "sipreg", *file = NULL;
	bool json = false;
	char path[512];
	int opt;

	while ((opt = getopt_long(argc, argv, "jd:i:f:h", options, NULL)) != -1) {
		switch (opt) {
		case 'j': json = true; break;
		case 'd': dir = optarg; break;
		case 'i': instance = optarg; break;
		case 'f': file = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (file)
		snprintf(path, sizeof(path), "%s", file);
	else if (stats_shm_path(path, sizeof(path), dir, instance) != 0) {
		fprintf(stderr, "sipreg-stats: path too long\n");
		return 2;
	}
	const struct stats_shm *shm = stats_shm_open(path);
	if (!shm) {
		fprintf(stderr, "sipreg-stats: %s: %s\n", path,
			errno == EPROTO ? "not a sipreg stats file of this version" : strerror(errno));
		return 1;
	}
	unsigned n_workers = shm->n_workers <= STATS_SHM_MAX_WORKERS ? shm->n_workers : 0;
	unsigned n_counters = shm->n_counters < STATS_COUNTER_COUNT ? shm->n_counters
								      : STATS_COUNTER_COUNT;
	if (json)
		printf("{\"pid\":%u,\"ready\":%llu,\"workers\":%u,\"counters\":{", shm->pid,
		       (unsigned long long)shm->ready, n_workers);
	else
		printf("%-22s %14s%s\n", "counter", "total", n_workers > 1 ? "  per worker" : "");
	for (unsigned c = 0; c < n_counters; c++) {
		unsigned long long total = 0;

		for (unsigned w = 0; w < n_workers; w++)
			total += shm->workers[w].counters[c];
		if (json) {
			printf("%s\"%s\":[%llu", c ? "," : "", stats_counter_name(c), total);
			for (unsigned w = 0; w < n_workers; w++)
				printf(",%llu", (unsigned long long)shm->workers[w].counters[c]);
			printf("]");
		} else {
			printf("%-22s %14llu", stats_counter_name(c), total);
			for (unsigned w = 0; n_workers > 1 && w < n_workers; w++)
				printf(" %12llu", (unsigned long long)shm->workers[w].counters[c]);
			printf("\n");
		}
	}
	if (json)
		printf("}}\n");
	stats_shm_close(shm);
	return 0;
}
