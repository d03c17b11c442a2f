/* eal_args.h — derive DPDK EAL arguments from the dataplane config, so an
 * operator never writes EAL flags by hand and every instance gets its own
 * --file-prefix. */
#ifndef SIPREG_EAL_ARGS_H
#define SIPREG_EAL_ARGS_H

#include "config.h"

#define EAL_ARGS_MAX 24
#define EAL_ARG_LEN 512

struct eal_args {
	int argc;
	char *argv[EAL_ARGS_MAX + 1];
	char storage[EAL_ARGS_MAX][EAL_ARG_LEN];
};

/* Builds the EAL argument vector for cfg: --file-prefix sipreg-<instance>,
 * --huge-unlink, -m, --lcores (main lcore plus one per worker, spread over
 * the CPUs this process may run on), and the port as --vdev (a name
 * starting with "net_") or -a (a PCI address). For net_af_xdp ports without
 * an explicit xdp_prog devarg, appends xdp_prog=<default_xdp_prog> and
 * busy_budget. Returns 0, or -1 when an argument does not fit. */
int eal_args_build(struct eal_args *args, const struct dataplane_config *cfg,
		   const char *program, const char *default_xdp_prog);

#endif
