/*
 * config_store.h - the `config` LMDB environment: accounts (skeleton).
 *
 * <state_dir>/config/ holds named databases; only "accounts" exists so far
 * (record layout: struct store_account_record in lmdb_records.h).  Policy,
 * blocklist, allowlist, trunks and areas will join it as named databases.
 * sipreg-control writes; the dataplane opens it read-only and copies what it
 * needs into per-worker tables at start and on a reload command (never reads
 * LMDB on the packet path).
 *
 * Thread rules: a config_store may be used by one thread at a time; open it
 * once per process.  Functions return 0, a positive LMDB code
 * (MDB_NOTFOUND when absent) or a negative errno.
 */
#ifndef SIPREG_STORE_CONFIG_STORE_H
#define SIPREG_STORE_CONFIG_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "binding_table.h"
#include "lmdb_records.h"

struct config_store;

int config_store_open(const char *state_dir, bool read_only, struct config_store **out);
void config_store_close(struct config_store *cs);

/* Insert or replace.  -EINVAL: empty username, bad version, n_cidrs too large. */
int config_account_put(struct config_store *cs, const char *username, size_t len,
		       const struct store_account_record *rec);
/* MDB_NOTFOUND when absent; -EINVAL when the stored record has another version. */
int config_account_get(struct config_store *cs, const char *username, size_t len,
		       struct store_account_record *out);
int config_account_delete(struct config_store *cs, const char *username, size_t len);

/* Calls fn for every account in key order (one read snapshot); stops when fn
 * returns non-zero.  Returns 0 or an LMDB code. */
int config_account_foreach(struct config_store *cs,
			   int (*fn)(void *ctx, const char *username, size_t len,
				     const struct store_account_record *rec),
			   void *ctx);

/* The registrar policy of an account: its overrides on top of defaults. */
void store_account_policy(const struct store_account_record *rec,
			  const struct store_policy *defaults, struct store_policy *out);

#endif
