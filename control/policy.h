/*
 * policy.h - the registrar's policy parameters (DESIGN.md "SIP behaviour"
 * and "Protection"): names, ranges, defaults, validation, storage.
 *
 * Stored as one JSON object in <state_dir>/policy.json, written by rename
 * so a reader never sees half a file.  (DESIGN.md puts policy in the
 * `config` LMDB environment; store/account_store.h does not expose that
 * environment yet, and LMDB forbids opening it twice in one process.
 * Moving it there is a change of policy_load/policy_save only.)
 *
 * The dataplane reads [policy] from its INI at start; a running dataplane
 * applies a change when its mgmt socket knows {"cmd":"reload_policy"}.
 */
#ifndef SIPREG_CONTROL_POLICY_H
#define SIPREG_CONTROL_POLICY_H

#include <stddef.h>

#include <jansson.h>

/* Every parameter with its default, as a new object. */
json_t *policy_defaults(void);

/* The stored policy merged over the defaults (new reference), or NULL with
 * err when the file exists but cannot be read or parsed. */
json_t *policy_load(const char *path, char *err, size_t err_len);

/* Writes the object (tmp file + rename).  0 or -1 with err. */
int policy_save(const char *path, const json_t *policy, char *err, size_t err_len);

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
