/*
 * recovery.c - one read-only cursor pass over `bindings`; expired records
 * are removed in a second, write, pass only when there are some.
 */
#include "recovery.h"

#include <errno.h>
#include <string.h>

#include "aor_hash.h"
#include "lmdb_records.h"

int store_binding_value_decode(const void *value, size_t size, struct store_binding_data *b)
{
	struct store_binding_value_header hdr;
	size_t body;

	if (size < sizeof(hdr) + offsetof(struct store_binding_data, str))
		return -1;
	memcpy(&hdr, value, sizeof(hdr));
	body = size - sizeof(hdr);
	if (hdr.version != STORE_RECORD_VERSION || body > sizeof(*b))
		return -1;
	memcpy(b, (const char *)value + sizeof(hdr), body);
	return store_binding_data_used_size(b) == body && b->str_len[STORE_STR_AOR] != 0 ? 0 : -1;
}

/* Decode one `bindings` value into *b; false when malformed. */
static bool
decode_value(const MDB_val *v, struct store_binding_data *b)
{
	return store_binding_value_decode(v->mv_data, v->mv_size, b) == 0;
}

static int
delete_expired(struct store_lmdb *l, int64_t now_s)
{
	MDB_txn *btxn, *htxn;
	MDB_cursor *cur;
	MDB_val k, v, hk, hv;
	uint64_t seq = 1;
	struct store_event ev;
	uint8_t key[STORE_HISTORY_KEY_BYTES];
	int rc;

	rc = mdb_txn_begin(store_lmdb_bindings_env(l), NULL, 0, &btxn);
	if (rc != 0)
		return rc;
	rc = mdb_txn_begin(store_lmdb_history_env(l), NULL, 0, &htxn);
	if (rc != 0) {
		mdb_txn_abort(btxn);
		return rc;
	}
	/* history sequence continues after the last key */
	if (mdb_cursor_open(htxn, store_lmdb_history_dbi(l), &cur) == 0) {
		if (mdb_cursor_get(cur, &hk, &hv, MDB_LAST) == 0 &&
		    hk.mv_size == STORE_HISTORY_KEY_BYTES)
			seq = store_history_key_seq(hk.mv_data) + 1;
		mdb_cursor_close(cur);
	}
	rc = mdb_cursor_open(btxn, store_lmdb_bindings_dbi(l), &cur);
	for (int op = MDB_FIRST; rc == 0; op = MDB_NEXT) {
		rc = mdb_cursor_get(cur, &k, &v, op);
		if (rc != 0)
			break;
		memset(&ev, 0, sizeof(ev));
		if (!decode_value(&v, &ev.binding) || ev.binding.expires_at_s > now_s)
			continue;
		ev.version = STORE_RECORD_VERSION;
		ev.type = STORE_EVENT_EXPIRED;
		ev.at_s = now_s;
		store_history_key_build(now_s, seq++, key);
		hk.mv_size = sizeof(key);
		hk.mv_data = key;
		hv.mv_size = store_event_used_size(&ev);
		hv.mv_data = &ev;
		rc = mdb_put(htxn, store_lmdb_history_dbi(l), &hk, &hv, 0);
		if (rc == 0)
			rc = mdb_cursor_del(cur, 0);
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
	if (rc == 0) {
		rc = mdb_txn_commit(btxn);
		if (rc == 0)
			rc = mdb_txn_commit(htxn);
		else
			mdb_txn_abort(htxn);
	} else {
		mdb_txn_abort(btxn);
		mdb_txn_abort(htxn);
	}
	return rc;
}

int
store_recover(struct store_lmdb *l, struct binding_table *const *tables, uint32_t n_workers,
	      int64_t now_s, struct store_recovery_stats *stats)
{
	struct store_recovery_stats st;
	struct store_binding_data b;
	MDB_txn *txn;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	int rc;

	memset(&st, 0, sizeof(st));
	if (n_workers == 0)
		return EINVAL;
	rc = mdb_txn_begin(store_lmdb_bindings_env(l), NULL, MDB_RDONLY, &txn);
	if (rc != 0)
		return rc;
	rc = mdb_cursor_open(txn, store_lmdb_bindings_dbi(l), &cur);
	for (int op = MDB_FIRST; rc == 0; op = MDB_NEXT) {
		uint32_t owner;
		int r;

		rc = mdb_cursor_get(cur, &k, &v, op);
		if (rc != 0)
			break;
		st.records++;
		if (!decode_value(&v, &b)) {
			st.malformed++;
			continue;
		}
		if (b.expires_at_s <= now_s) {
			st.expired++;
			continue;
		}
		owner = store_aor_owner(b.str, b.str_len[STORE_STR_AOR], n_workers);
		r = binding_table_restore(tables[owner], &b);
		if (r == 0)
			st.loaded++;
		else if (r == -EEXIST)
			st.duplicates++;
		else if (r == -ENOSPC)
			st.no_space++;
		else
			st.malformed++;
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
	if (cur != NULL)
		mdb_cursor_close(cur);   /* read-only txns do not free their cursors */
	mdb_txn_abort(txn);
	if (rc == 0 && st.expired > 0)
		rc = delete_expired(l, now_s);
	if (stats)
		*stats = st;
	return rc;
}
