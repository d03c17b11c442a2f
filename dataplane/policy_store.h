/* policy_store.h — the operator policy sipreg-control stores in the
 * `config` LMDB environment (`sipregctl policy set`; store_policy_get),
 * applied over the INI defaults at start and on the mgmt command
 * reload_policy.
 *
 * Keys (control/policy.c validates them the same way): register_replace
 * ("on"/"off"), max_bindings, default_expires_s, min_expires_s,
 * max_expires_s, expiring_window_s, nat_max_expires_s, lockout_failures,
 * lockout_window_s, lockout_duration_s, rate_per_ip, rate_global,
 * respond_unknown ("challenge"/"drop"), nat_keepalive_s,
 * nat_keepalive_misses.
 */
#ifndef SIPREG_POLICY_STORE_H
#define SIPREG_POLICY_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "account_store.h"
#include "registrar.h"

struct policy_rates {
	uint32_t per_ip_pps;      /* 0: off */
	uint32_t global_pps;      /* 0: off */
};

/* Reads the stored policy and applies every key it has to cfg and rates
 * (keys it lacks keep their values). Returns 0 when applied, 1 when none
 * is stored (nothing changed), -1 with a one-line reason in err when it
 * cannot be read, is not a JSON object, or a value is of the wrong type or
 * out of range (nothing changed then either). */
int policy_store_apply(struct store_config *c, struct registrar_config *cfg,
		       struct policy_rates *rates, char *err, size_t err_len);

#endif
