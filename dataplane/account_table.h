/* account_table.h — the dataplane's read-only, in-memory view of the
 * accounts in the `config` environment.
 *
 * Built off the packet path (at start and on reload) from LMDB, indexed by
 * username (an open-addressing index of our own: account_table.c says
 * why not rte_hash), then only read: all workers share one table
 * without locks. A reload builds a new table, publishes it with one atomic
 * pointer store, waits for every worker to pass a quiescent state
 * (rte_rcu_qsbr) and frees the old one.
 */
#ifndef SIPREG_ACCOUNT_TABLE_H
#define SIPREG_ACCOUNT_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "account_store.h"

struct account_table;

/* Loads every account of c into a new table (hugepage memory on the given
 * NUMA socket). Returns the table, or NULL with a one-line reason in err. */
struct account_table *account_table_load(struct store_config *c, int socket_id,
					 char *err, size_t err_len);

/* Builds a table from an array (tests, benchmarks). NULL on failure. */
struct account_table *account_table_from_array(const struct store_account *accounts,
					       uint32_t n, int socket_id);

/* Returns the account named user (user_len bytes, not terminated), or NULL
 * when there is none or user is longer than a username can be. Safe from
 * any number of threads at once. */
const struct store_account *account_table_find(const struct account_table *t,
					       const char *user, size_t user_len);

/* A username to look up, with its hash (computed once, in
 * registrar_stage_begin, which also prefetches its index entry). user
 * points into the request and must outlive the lookup. */
struct account_key {
	const char *user;
	uint32_t len;
	uint64_t hash;
};

/* Fills key for user. false (key untouched) when user is empty or longer
 * than a username can be. */
bool account_table_key(const char *user, size_t user_len, struct account_key *key);

/* Starts loading key's first index entry into the cache; a NULL t is
 * ignored. */
void account_table_prefetch(const struct account_table *t, const struct account_key *key);

/* Starts loading the lines of key's account that a REGISTER reads (its
 * username, account name and MD5 HA1), found through the first index
 * entry with key's tag, which it reads: call it once account_table_prefetch
 * has had time to bring that entry in. No name check (a tag shared with
 * another name only wastes the prefetch); a NULL t or an absent key loads
 * nothing. */
void account_table_prefetch_account(const struct account_table *t, const struct account_key *key);

/* account_table_find for n keys at once: out[i] is the account or NULL.
 * The n accounts' cache misses overlap instead of coming one after
 * another. n above ACCOUNT_TABLE_BULK_MAX or a NULL t: every out[i] NULL. */
#define ACCOUNT_TABLE_BULK_MAX 64
void account_table_find_bulk(const struct account_table *t, const struct account_key *const *keys, uint32_t n,
			     const struct store_account **out);

/* Number of accounts in t. */
uint32_t account_table_size(const struct account_table *t);

/* Frees t; NULL is ignored. No reader may use t any more. */
void account_table_free(struct account_table *t);

#endif
