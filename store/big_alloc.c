/* big_alloc.c - see big_alloc.h. */
#include "big_alloc.h"

#include <stdint.h>
#include <sys/mman.h>

#define HUGE_PAGE (2u << 20)

void *
store_big_alloc(size_t bytes)
{
	void *p;

	if (bytes == 0)
		bytes = 1;
	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (bytes >= HUGE_PAGE)
		(void)madvise(p, bytes, MADV_HUGEPAGE);
	/* Fault every page in now, at start-up: otherwise the first REGISTERs
	 * after start pay for zeroing the table page by page (perf record of
	 * perf/bench-pipeline: 26% of the storm in clear_page). Kernels
	 * before 5.14 lack MADV_POPULATE_WRITE; they fault lazily as before. */
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
	(void)madvise(p, bytes, MADV_POPULATE_WRITE);
	return p;
}

void
store_big_free(void *p, size_t bytes)
{
	if (p != NULL)
		munmap(p, bytes ? bytes : 1);
}
