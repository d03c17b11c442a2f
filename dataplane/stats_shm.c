/* stats_shm.c — create, map and name the shared-memory stats file. */
#include "stats_shm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STATS_COUNTER_NAME(name) #name,
static const char *const counter_names[] = { STATS_COUNTER_LIST(STATS_COUNTER_NAME) };
#undef STATS_COUNTER_NAME

const char *stats_counter_name(unsigned c)
{
	return c < STATS_COUNTER_COUNT ? counter_names[c] : NULL;
}

int stats_shm_path(char *buf, unsigned buf_len, const char *stats_dir,
		   const char *instance)
{
	int n = snprintf(buf, buf_len, "%s/sipreg-%s.stats", stats_dir, instance);

	return (n < 0 || (unsigned)n >= buf_len) ? -1 : 0;
}

struct stats_shm *stats_shm_create(const char *path, unsigned n_workers)
{
	struct stats_shm *shm;
	int fd;

	if (n_workers == 0 || n_workers > STATS_SHM_MAX_WORKERS) {
		errno = EINVAL;
		return NULL;
	}
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return NULL;
	if (ftruncate(fd, sizeof(*shm)) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return NULL;
	}
	shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (shm == MAP_FAILED)
		return NULL;
	memset(shm, 0, sizeof(*shm));
	shm->version = STATS_SHM_VERSION;
	shm->n_workers = n_workers;
	shm->n_counters = STATS_COUNTER_COUNT;
	shm->pid = (uint32_t)getpid();
	shm->started_at_s = (uint64_t)time(NULL);
	/* Magic last: a reader that sees it sees a complete header. */
	__atomic_store_n(&shm->magic, STATS_SHM_MAGIC, __ATOMIC_RELEASE);
	return shm;
}

const struct stats_shm *stats_shm_open(const char *path)
{
	struct stat st;
	const struct stats_shm *shm;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || (size_t)st.st_size < sizeof(*shm)) {
		close(fd);
		errno = EPROTO;
		return NULL;
	}
	shm = mmap(NULL, sizeof(*shm), PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (shm == MAP_FAILED)
		return NULL;
	if (__atomic_load_n(&shm->magic, __ATOMIC_ACQUIRE) != STATS_SHM_MAGIC ||
	    shm->version != STATS_SHM_VERSION) {
		munmap((void *)shm, sizeof(*shm));
		errno = EPROTO;
		return NULL;
	}
	return shm;
}

uint64_t stats_latency_quantile_ns(const struct stats_shm *shm, double q)
{
	uint64_t hist[STATS_LATENCY_BUCKETS] = { 0 }, total = 0, seen = 0;
	unsigned n = shm->n_workers <= STATS_SHM_MAX_WORKERS ? shm->n_workers : 0;

	for (unsigned w = 0; w < n; w++)
		for (unsigned b = 0; b < STATS_LATENCY_BUCKETS; b++)
			hist[b] += shm->workers[w].latency_hist[b];
	for (unsigned b = 0; b < STATS_LATENCY_BUCKETS; b++)
		total += hist[b];
	if (total == 0)
		return 0;
	for (unsigned b = 0; b < STATS_LATENCY_BUCKETS; b++) {
		seen += hist[b];
		if ((double)seen >= q * (double)total)
			return 2ull << b;
	}
	return 2ull << (STATS_LATENCY_BUCKETS - 1);
}

void stats_shm_close(const struct stats_shm *shm)
{
	if (shm)
		munmap((void *)shm, sizeof(*shm));
}
