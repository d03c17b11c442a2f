/* account_table.h — the dataplane's read-only, in-memory view of the
 * accounts in the `config` environment.
 *
 * Built off the packet path (at start and on reload) from LMDB, indexed by
 * username with rte_hash, then only read: all workers share one table
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

/* The lookup key of user: zero-padded to ACCOUNT_TABLE_KEY_LEN bytes, into
 * an 8-byte aligned key (the table hashes it 8 bytes at a time).
 * false (key untouched) when user is empty or longer than a username. */
#define ACCOUNT_TABLE_KEY_LEN STORE_ACCOUNT_NAME_MAX
bool account_table_key(const char *user, size_t user_len, char key[ACCOUNT_TABLE_KEY_LEN]);

/* account_table_find for n keys (account_table_key) at once: out[i] is the
 * account or NULL.  rte_hash's bulk lookup loads the n keys' buckets in
 * parallel instead of waiting for each in turn.  n above 64
 * (RTE_HASH_LOOKUP_BULK_MAX) or a NULL t: every out[i] NULL. */
void account_table_find_bulk(const struct account_table *t, const void **keys, uint32_t n,
			     const struct store_account **out);

/* Number of accounts in t. */
uint32_t account_table_size(const struct account_table *t);

/* Frees t; NULL is ignored. No reader may use t any more. */
void account_table_free(struct account_table *t);

#endif
