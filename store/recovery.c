/*
 * recovery.c - first the history records `bindings` has not caught up with
 * (a crash between a history commit and the bindings one) are written into
 * it; then one read-only cursor pass over `bindings`; expired records are
 * removed in a third, write, pass only when there are some.
 */
#include "recovery.h"

#include <errno.h>
#include <string.h>

#include "aor_hash.h"
#include "bindings_batch.h"
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

/* A checkpoint record of `history` after after_seq into *ev (aligned copy);
 * false for older ones, sipreg-control's admin records and anything
 * malformed. */
static bool
decode_history_event(const MDB_val *k, const MDB_val *v, uint64_t after_seq,
		     struct store_event *ev, uint64_t *seq)
{
	const size_t min = offsetof(struct store_event, binding) +
			   offsetof(struct store_binding_data, str);

	if (k->mv_size != STORE_HISTORY_KEY_BYTES)
		return false;
	*seq = store_history_key_seq(k->mv_data);
	if ((*seq & STORE_HISTORY_SEQ_ADMIN_BIT) || *seq <= after_seq ||
	    v->mv_size < min || v->mv_size > sizeof(*ev))
		return false;
	memcpy(ev, v->mv_data, v->mv_size);
	return ev->version == STORE_RECORD_VERSION && store_event_used_size(ev) == v->mv_size;
}

/*
 * Write into `bindings` the checkpoint's history records after the applied
 * mark, in sequence order, and move the mark past them.  0 or an LMDB code.
 */
static int
replay_history(struct store_lmdb *l, int64_t now_s, uint64_t *replayed)
{
	struct store_applied_mark mark;
	struct bindings_batch *batch;
	struct store_event ev;
	uint8_t key[STORE_HISTORY_KEY_BYTES];
	uint64_t last_seq, seq;
	int64_t last_s = now_s;
	MDB_txn *txn;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	int rc;

	*replayed = 0;
	rc = store_applied_mark_read(l, &mark);
	if (rc == MDB_NOTFOUND)
		return 0;       /* no writer has run here yet (checkpoint_create) */
	if (rc != 0)
		return rc;
	batch = bindings_batch_create();
	if (batch == NULL)
		return ENOMEM;
	last_seq = mark.applied_seq;
	rc = mdb_txn_begin(store_lmdb_history_env(l), NULL, MDB_RDONLY, &txn);
	if (rc != 0) {
		bindings_batch_destroy(batch);
		return rc;
	}
	rc = mdb_cursor_open(txn, store_lmdb_history_dbi(l), &cur);
	store_history_key_build(mark.replay_from_s, 0, key);
	k.mv_size = sizeof(key);
	k.mv_data = key;
	for (int op = MDB_SET_RANGE; rc == 0; op = MDB_NEXT) {
		rc = mdb_cursor_get(cur, &k, &v, op);
		if (rc != 0)
			break;
		if (!decode_history_event(&k, &v, mark.applied_seq, &ev, &seq))
			continue;
		rc = bindings_batch_add(batch, &ev, seq);
		if (seq > last_seq)
			last_seq = seq;
		if (ev.at_s < last_s)
			last_s = ev.at_s;
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
	if (cur != NULL)
		mdb_cursor_close(cur);   /* read-only txns do not free their cursors */
	mdb_txn_abort(txn);
	*replayed = bindings_batch_count(batch);
	if (rc == 0)
		rc = bindings_batch_commit(batch, store_lmdb_bindings_env(l), store_lmdb_bindings_dbi(l));
	bindings_batch_destroy(batch);
	if (rc == 0 && last_seq != mark.applied_seq) {
		mark.applied_seq = last_seq;
		/* the writer moves it back itself if an older event comes */
		mark.replay_from_s = last_s;
		rc = store_applied_mark_write(l, &mark);
	}
	return rc;
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
	rc = replay_history(l, now_s, &st.replayed);
	if (rc != 0)
		return rc;
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
