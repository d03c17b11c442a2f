/*
 * policy.h - the registrar's policy parameters (DESIGN.md "SIP behaviour"
 * and "Protection"): names, ranges, defaults, validation, storage.
 *
 * Stored as one JSON object in the `config` LMDB environment
 * (store_policy_get/put, store/account_store.h), as DESIGN.md wants. The
 * dataplane applies it over its INI at start and on {"cmd":"reload_policy"}
 * (dataplane/policy_store.h).
 */
#ifndef SIPREG_CONTROL_POLICY_H
#define SIPREG_CONTROL_POLICY_H

#include <stddef.h>

#include <jansson.h>

#include "account_store.h"

/* Every parameter with its default, as a new object. */
json_t *policy_defaults(void);

/* The stored policy merged over the defaults (new reference), or NULL with
 * err when it cannot be read or parsed. *explicit_out gets the values an
 * operator set (new reference): only those are stored, so parameters
 * nobody set keep the dataplane's INI values. */
json_t *policy_load(struct store_config *c, json_t **explicit_out, char *err, size_t err_len);

/* Stores the object of explicitly set values (one LMDB transaction).
 * 0 or -1 with err. */
int policy_save(struct store_config *c, const json_t *policy, char *err, size_t err_len);

/*
 * Applies `set` (an object of parameter -> value) to a copy of current.
 * Every name must be known and every value in range; min <= max relations
 * are checked on the result.  Returns the new policy (new reference) and
 * fills *changes with {name:{"old":v,"new":v}} for values that changed, or
 * NULL with a reason naming the parameter in err (nothing applied).
 */
json_t *policy_apply_set(const json_t *current, const json_t *set, json_t **changes, char *err,
			 size_t err_len);

#endif
