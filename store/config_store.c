/*
 * config_store.c - accounts in the `config` environment (skeleton; see
 * config_store.h).
 */
#include "config_store.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lmdb.h>

#define CONFIG_MAP_BYTES (1ull << 30)
#define CONFIG_MAX_DBS 16

struct config_store {
	MDB_env *env;
	MDB_dbi accounts;
	bool read_only;
};

int
config_store_open(const char *state_dir, bool read_only, struct config_store **out)
{
	char path[PATH_MAX];
	struct config_store *cs;
	MDB_txn *txn;
	int rc;

	*out = NULL;
	if (snprintf(path, sizeof(path), "%s/config", state_dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	if (!read_only && (mkdir(state_dir, 0750) != 0 && errno != EEXIST))
		return -errno;
	if (!read_only && (mkdir(path, 0750) != 0 && errno != EEXIST))
		return -errno;
	cs = calloc(1, sizeof(*cs));
	if (cs == NULL)
		return -ENOMEM;
	cs->read_only = read_only;
	rc = mdb_env_create(&cs->env);
	if (rc == 0)
		rc = mdb_env_set_maxdbs(cs->env, CONFIG_MAX_DBS);
	if (rc == 0)
		rc = mdb_env_set_mapsize(cs->env, CONFIG_MAP_BYTES);
	if (rc == 0)
		rc = mdb_env_open(cs->env, path, MDB_NOTLS | (read_only ? MDB_RDONLY : 0), 0640);
	if (rc == 0)
		rc = mdb_txn_begin(cs->env, NULL, read_only ? MDB_RDONLY : 0, &txn);
	if (rc == 0) {
		rc = mdb_dbi_open(txn, "accounts", read_only ? 0 : MDB_CREATE, &cs->accounts);
		if (rc == 0)
			rc = mdb_txn_commit(txn);
		else
			mdb_txn_abort(txn);
	}
	if (rc != 0) {
		config_store_close(cs);
		return rc;
	}
	*out = cs;
	return 0;
}

void
config_store_close(struct config_store *cs)
{
	if (cs == NULL)
		return;
	if (cs->env)
		mdb_env_close(cs->env);
	free(cs);
}

int
config_account_put(struct config_store *cs, const char *username, size_t len,
		   const struct store_account_record *rec)
{
	MDB_txn *txn;
	MDB_val k = { .mv_size = len, .mv_data = (void *)username };
	MDB_val v = { .mv_size = sizeof(*rec), .mv_data = (void *)rec };
	int rc;

	if (len == 0 || len > 511 || rec->version != STORE_ACCOUNT_RECORD_VERSION ||
	    rec->n_cidrs > STORE_ACCOUNT_CIDRS_MAX)
		return -EINVAL;
	if (cs->read_only)
		return -EROFS;
	rc = mdb_txn_begin(cs->env, NULL, 0, &txn);
	if (rc != 0)
		return rc;
	rc = mdb_put(txn, cs->accounts, &k, &v, 0);
	if (rc != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	return mdb_txn_commit(txn);
}

static int
decode_account(const MDB_val *v, struct store_account_record *out)
{
	if (v->mv_size != sizeof(*out))
		return -EINVAL;
	memcpy(out, v->mv_data, sizeof(*out));
	if (out->version != STORE_ACCOUNT_RECORD_VERSION || out->n_cidrs > STORE_ACCOUNT_CIDRS_MAX)
		return -EINVAL;
	out->account[STORE_ACCOUNT_NAME_MAX] = '\0';
	return 0;
}

int
config_account_get(struct config_store *cs, const char *username, size_t len,
		   struct store_account_record *out)
{
	MDB_txn *txn;
	MDB_val k = { .mv_size = len, .mv_data = (void *)username }, v;
	int rc;

	if (len == 0 || len > 511)
		return -EINVAL;
	rc = mdb_txn_begin(cs->env, NULL, MDB_RDONLY, &txn);
	if (rc != 0)
		return rc;
	rc = mdb_get(txn, cs->accounts, &k, &v);
	if (rc == 0)
		rc = decode_account(&v, out);
	mdb_txn_abort(txn);
	return rc;
}

int
config_account_delete(struct config_store *cs, const char *username, size_t len)
{
	MDB_txn *txn;
	MDB_val k = { .mv_size = len, .mv_data = (void *)username };
	int rc;

	if (len == 0 || len > 511)
		return -EINVAL;
	if (cs->read_only)
		return -EROFS;
	rc = mdb_txn_begin(cs->env, NULL, 0, &txn);
	if (rc != 0)
		return rc;
	rc = mdb_del(txn, cs->accounts, &k, NULL);
	if (rc != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	return mdb_txn_commit(txn);
}

int
config_account_foreach(struct config_store *cs,
		       int (*fn)(void *ctx, const char *username, size_t len,
				 const struct store_account_record *rec),
		       void *ctx)
{
	struct store_account_record rec;
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	rc = mdb_txn_begin(cs->env, NULL, MDB_RDONLY, &txn);
	if (rc != 0)
		return rc;
	rc = mdb_cursor_open(txn, cs->accounts, &cur);
	if (rc != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	for (int op = MDB_FIRST; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0; op = MDB_NEXT) {
		if (decode_account(&v, &rec) != 0)
			continue;       /* other version: skipped */
		if (fn(ctx, k.mv_data, k.mv_size, &rec) != 0)
			break;
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return rc;
}

void
store_account_policy(const struct store_account_record *rec, const struct store_policy *defaults,
		     struct store_policy *out)
{
	*out = *defaults;
	if (rec->max_bindings)
		out->max_bindings = rec->max_bindings;
	if (rec->default_expires_s)
		out->default_expires_s = rec->default_expires_s;
	if (rec->min_expires_s)
		out->min_expires_s = rec->min_expires_s;
	if (rec->max_expires_s)
		out->max_expires_s = rec->max_expires_s;
	if (rec->nat_max_expires_s)
		out->nat_max_expires_s = rec->nat_max_expires_s;
	if (rec->flags & STORE_ACCOUNT_REPLACE_SET)
		out->register_replace = (rec->flags & STORE_ACCOUNT_REPLACE_ON) != 0;
}
