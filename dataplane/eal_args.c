/* eal_args.c — config -> EAL argv. */
#include "eal_args.h"

#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int add(struct eal_args *args, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (args->argc >= EAL_ARGS_MAX)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(args->storage[args->argc], EAL_ARG_LEN, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= EAL_ARG_LEN)
		return -1;
	args->argv[args->argc] = args->storage[args->argc];
	args->argc++;
	args->argv[args->argc] = NULL;
	return 0;
}

/* Lcore k runs on the k-th allowed CPU, wrapping around, so the config
 * works on machines with fewer CPUs than lcores (tests on 2 cores). */
static int lcore_map(char *buf, size_t len, unsigned n_lcores)
{
	cpu_set_t allowed;
	unsigned cpus[CPU_SETSIZE], n_cpus = 0;
	size_t used = 0;

	if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0)
		return -1;
	for (unsigned c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &allowed))
			cpus[n_cpus++] = c;
	if (n_cpus == 0)
		return -1;
	for (unsigned k = 0; k < n_lcores; k++) {
		int n = snprintf(buf + used, len - used, "%s%u@%u", k ? "," : "", k,
				 cpus[k % n_cpus]);
		if (n < 0 || (size_t)n >= len - used)
			return -1;
		used += (size_t)n;
	}
	return 0;
}

int eal_args_build(struct eal_args *args, const struct dataplane_config *cfg,
		   const char *program, const char *default_xdp_prog)
{
	char lcores[EAL_ARG_LEN];
	const char *port = cfg->port;

	memset(args, 0, sizeof(*args));
	if (add(args, "%s", program) || add(args, "--file-prefix=sipreg-%s", cfg->instance) ||
	    add(args, "--huge-unlink") || add(args, "-m") || add(args, "%u", cfg->memory_mb))
		return -1;
	if (lcore_map(lcores, sizeof(lcores), cfg->workers + 1) || add(args, "--lcores=%s", lcores))
		return -1;
	if (strncmp(port, "net_", 4) == 0) {
		char vdev[EAL_ARG_LEN];
		int n = snprintf(vdev, sizeof(vdev), "%s", port);

		if (strncmp(port, "net_af_xdp", 10) == 0) {
			if (!strstr(port, "xdp_prog=")) {
				const char *prog = cfg->xdp_prog[0] ? cfg->xdp_prog : default_xdp_prog;
				n += snprintf(vdev + n, sizeof(vdev) - (size_t)n, ",xdp_prog=%s", prog);
			}
			if (!strstr(port, "busy_budget=") && n > 0 && (size_t)n < sizeof(vdev))
				n += snprintf(vdev + n, sizeof(vdev) - (size_t)n, ",busy_budget=%u",
					      cfg->busy_budget);

		}
		if (n < 0 || (size_t)n >= sizeof(vdev))
			return -1;
		if (add(args, "--no-pci") || add(args, "--vdev=%s", vdev))
			return -1;
	} else {
		if (add(args, "-a") || add(args, "%s", port))
			return -1;
	}
	return 0;
}
