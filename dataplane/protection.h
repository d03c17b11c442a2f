/* protection.h — the dataplane side of DESIGN.md "Protection": the XDP
 * prefilter's maps (blocks, allowlist, rates, counters), lockouts decided
 * by workers, and the management commands that operate them.
 *
 * Runs on the management thread only (mgmt.h hooks): workers talk to it
 * through the lockout notice ring, it talks to workers through their
 * command rings. On a port without XDP (vfio-pci) the map operations
 * report that the prefilter is absent; lockouts still apply in the
 * workers' own tables.
 *
 * Blocks (manual and lockouts, with wall-clock expiry) and the allowlist
 * persist in <state_dir>/access.json, written on every manual change and at
 * most once a second for lockouts, and loaded at start.
 *
 * Commands (JSON lines on the mgmt socket):
 *   {"cmd":"block","cidr":"198.18.1.0/24"[,"duration_s":N]}   0/absent: until unblocked
 *   {"cmd":"unblock","cidr":"..."}
 *   {"cmd":"allow","cidr":"..."}  {"cmd":"disallow","cidr":"..."}
 *   {"cmd":"blocks"}       -> {"ok":true,"blocks":[{"cidr","reason","remaining_s"}...]}
 *   {"cmd":"allowlist"}    -> {"ok":true,"allow":["cidr",...]}
 *   {"cmd":"xdp_counters"} -> {"ok":true,"counters":{"drop_blocked":N,...}}
 */
#ifndef SIPREG_PROTECTION_H
#define SIPREG_PROTECTION_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "registrar.h"

struct mgmt;
struct rte_rcu_qsbr;

struct protection_config {
	const char *xdp_iface;           /* NULL: no XDP prefilter on this port */
	uint16_t sip_port;
	uint32_t per_ip_rate_pps;        /* 0: no per-source limit */
	uint32_t per_ip_burst;
	uint32_t global_rate_pps;        /* 0: no global cap */
	uint32_t global_burst;
	unsigned n_rx_cpus;              /* CPUs that receive: the global cap is split */
	unsigned n_workers;
	const char *access_path;         /* blocks and allowlist persist here (NULL: not) */
};

/* The rate rules for the software path (ports without XDP), written by
 * the mgmt thread, read by workers (aligned 32-bit words). */
struct soft_rates {
	uint32_t per_ip_pps;
	uint32_t per_ip_burst;
	uint32_t global_pps_per_worker;
	uint32_t global_burst_per_worker;
};

struct protection;

/* Sets up protection: opens the XDP maps of xdp_iface (when given) and
 * writes the rate config into them. notices is the ring workers put
 * struct lockout_notice on; allowlist is the pointer the registrars read.
 * Returns NULL with a one-line reason in err. */
struct protection *protection_create(const struct protection_config *cfg,
				     struct rte_ring *notices, struct prefix_list **allowlist,
				     struct rte_rcu_qsbr *qsbr, char *err, size_t err_len);

/* Without XDP: the CIDR blocks workers check in software (single addresses
 * are in their lockout tables), and the rates they apply. NULL with XDP. */
struct prefix_list **protection_soft_blocks(struct protection *p);
const struct soft_rates *protection_soft_rates(struct protection *p);

/* The mgmt thread must be known before ticks and commands run. */
void protection_attach_mgmt(struct protection *p, struct mgmt *m);

/* mgmt_hooks.command / mgmt_hooks.tick. */
bool protection_command(struct protection *p, const char *cmd, const json_t *req, char *out,
			size_t out_len);
void protection_tick(struct protection *p);

/* Changes the rate limits (0: off): in the XDP config map, or for the
 * workers' software path. Returns 0 or a negative errno. */
int protection_set_rates(struct protection *p, uint32_t per_ip_pps, uint32_t global_pps);

void protection_free(struct protection *p);

#endif
