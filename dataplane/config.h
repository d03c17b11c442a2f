/* config.h — sipreg-dataplane configuration (one INI file, parsed by inih).
 *
 * Every key, its type, range and default lives in one table in config.c;
 * README.md "Configuration" documents the same table. The config is parsed
 * once before EAL starts and is read-only afterwards.
 */
#ifndef SIPREG_DATAPLANE_CONFIG_H
#define SIPREG_DATAPLANE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_STR_MAX 256
#define CONFIG_MAX_WORKERS 64

enum dataplane_mode {
	DATAPLANE_MODE_REGISTRAR, /* answer SIP */
	DATAPLANE_MODE_ECHO,      /* send every SIP-port datagram back: path check */
};

struct dataplane_config {
	/* [dataplane] */
	char instance[64];              /* names hugepage files, stats file */
	char port[CONFIG_STR_MAX];      /* PCI address or vdev, e.g. net_af_xdp0,iface=eth1 */
	char xdp_prog[CONFIG_STR_MAX];  /* XDP object for net_af_xdp ports; "" = built-in */
	unsigned workers;
	unsigned memory_mb;             /* hugepage memory for EAL */
	unsigned busy_budget;           /* net_af_xdp busy_budget devarg */
	enum dataplane_mode mode;
	/* (written through the key table as an unsigned) */
	char stats_dir[CONFIG_STR_MAX]; /* shared-memory stats file lives here */
	char mgmt_socket[CONFIG_STR_MAX]; /* "" = <state_dir>/dataplane.sock */
	/* [sip] */
	uint16_t sip_port;
	char domains[CONFIG_STR_MAX];   /* comma-separated */
	char realm[CONFIG_STR_MAX];     /* "" = the first domain */
	unsigned nonce_validity_s;
	unsigned respond_unknown;       /* 0 challenge, 1 drop */
	unsigned challenge;             /* enum challenge_set */
	/* [policy] */
	unsigned default_expires_s;
	unsigned min_expires_s;
	unsigned max_expires_s;
	unsigned max_bindings;
	unsigned register_replace;      /* 0 off, 1 on */
	unsigned nat_max_expires_s;
	unsigned nat_keepalive_s;
	unsigned nat_keepalive_misses;
	unsigned expiring_window_s;
	/* [lockout] */
	unsigned lockout_failures;      /* 0: off */
	unsigned lockout_window_s;
	unsigned lockout_duration_s;
	/* [rate] */
	unsigned rate_per_ip_pps;       /* 0: off */
	unsigned rate_per_ip_burst;
	unsigned rate_global_pps;       /* 0: off */
	unsigned rate_global_burst;
	/* [store] */
	char state_dir[CONFIG_STR_MAX];
	unsigned bindings_per_worker;
	unsigned commit_window_ms;
	unsigned history_retention_s;
	unsigned sync;                  /* 0: no fsync per commit (tests) */
	unsigned reply_after_commit;    /* hold REGISTER 200s until committed */
	unsigned event_ring_size;       /* binding changes queued per worker for the checkpoint */
	unsigned bindings_max_lag_ms;   /* busy checkpoint: `bindings` trails history by at most this; 0: every commit */
	unsigned max_pending_changes;   /* ... or by this many changes */
};

/* Fills cfg with the defaults of every key. Never fails. */
void config_set_defaults(struct dataplane_config *cfg);

/* Parses the INI file at path over cfg (call config_set_defaults first).
 * Returns 0 on success. On any error (file missing, unknown section or
 * key, bad value, value out of range) returns -1 and writes one line to
 * err (at most err_len bytes) naming the file, line, section.key and
 * the problem; cfg is then partly updated and must not be used. */
int config_load(struct dataplane_config *cfg, const char *path,
		char *err, size_t err_len);

/* Returns the text name of a mode ("registrar", "echo"). */
const char *config_mode_name(enum dataplane_mode mode);

_Static_assert(sizeof(enum dataplane_mode) == sizeof(unsigned), "enum keys are stored as unsigned");

#endif
