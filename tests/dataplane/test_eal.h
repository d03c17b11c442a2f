/* test_eal.h — the EAL of a dataplane unit test: no hugepages, no PCI, no
 * shared config, and a file prefix of its own (name and PID) so that tests
 * running at once do not collide. */
#ifndef SIPREG_TEST_EAL_H
#define SIPREG_TEST_EAL_H

#include <stdio.h>
#include <unistd.h>

#include <rte_eal.h>

/* Starts the EAL with memory_mb of memory. Returns 0, or -1 (with a line
 * on stderr) when the EAL does not start. */
static inline int test_eal_init(const char *name, const char *memory_mb)
{
	char prefix[64];

	snprintf(prefix, sizeof(prefix), "--file-prefix=test-%s-%d", name, getpid());
	char *eal_argv[] = { "test", "--no-huge", "--no-pci", "-m", (char *)memory_mb, "--no-shconf",
			     "--log-level=error", prefix, NULL };
	if (rte_eal_init(8, eal_argv) < 0) {
		fprintf(stderr, "EAL init failed\n");
		return -1;
	}
	return 0;
}

#endif
