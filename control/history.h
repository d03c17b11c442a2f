/*
 * history.h - reading the `history` environment, and the admin-action
 * records sipreg-control adds to it.
 *
 * Admin records share the environment with the dataplane's events
 * (lmdb_records.h), so their layout is fixed here, once:
 *
 *   key:   be64 (time - CONTROL_HISTORY_KEY_LAG_S) . be64 seq   (16 bytes,
 *          store_history_key_build), seq = CONTROL_HISTORY_SEQ_BIT | n,
 *          put with MDB_NOOVERWRITE and the next n on a clash.
 *   value: struct control_admin_record (at_s: the exact time of the
 *          action), then json_len bytes of JSON
 *          {"action":"force-unregister"|"policy-set"|"account-add"|...,
 *           "who":"uid=0(root) pid=123 user=alice", ...action fields}
 *          version = STORE_RECORD_VERSION and type = CONTROL_HISTORY_ADMIN
 *          (>= 0x80, outside enum store_event_type), so a reader of
 *          store_event records skips it by its type.
 *
 * Why the key is dated CONTROL_HISTORY_KEY_LAG_S in the past: the
 * dataplane's checkpoint appends history with MDB_APPEND against the last
 * key *it* wrote (checkpoint.c apply_history).  A key of ours above the
 * keys it is about to write (same second, higher seq) would make that
 * append fail with MDB_KEYEXIST on every retry and stall the checkpoint
 * (seen in tests/integration/test_control.py before this rule).  Events
 * reach LMDB within a commit window (~10 ms) of their time, so every key
 * the dataplane writes from now on is newer than now - LAG: our records
 * never sit above its next key, and the top bit keeps our seqs apart from
 * its seqs in the seconds we share.  Readers use at_s from the value;
 * history_list widens its key range by the lag to find them.
 *
 * LMDB serialises writers across processes, so sipreg-control writing next
 * to the dataplane's checkpoint thread is safe; the retention trim removes
 * admin records like any other by key time.
 */
#ifndef SIPREG_CONTROL_HISTORY_H
#define SIPREG_CONTROL_HISTORY_H

#include <stdint.h>

#include <jansson.h>
#include <lmdb.h>

#include "account_store.h"
#include "lmdb_records.h"
#include "outbuf.h"

#define CONTROL_HISTORY_SEQ_BIT STORE_HISTORY_SEQ_ADMIN_BIT
#define CONTROL_HISTORY_KEY_LAG_S 5
#define CONTROL_HISTORY_ADMIN 0x80u

struct control_admin_record {
	uint16_t version;        /* STORE_RECORD_VERSION */
	uint8_t type;            /* CONTROL_HISTORY_ADMIN */
	uint8_t pad;
	uint32_t json_len;       /* bytes of JSON after this header */
	int64_t at_s;
};

/*
 * Appends one admin record (action object, serialised compactly) at at_s.
 * Retries on MDB_MAP_RESIZED.  Returns 0 or an LMDB error code.
 */
int history_admin_write(MDB_env *env, MDB_dbi dbi, int64_t at_s, const json_t *action);

#define HISTORY_MAX_LIMIT 10000
#define HISTORY_DEFAULT_LIMIT 100

struct history_query {
	char aor[512];                /* exact AOR; empty: any */
	int has_ip;
	struct store_cidr ip;         /* source in this block */
	int64_t from_s, to_s;         /* inclusive; 0: open */
	unsigned type_mask;           /* 1u << enum store_event_type, bit 0 = admin; 0: all */
	uint64_t limit;
};

/* Reads aor, ip, from, to, types, limit from a request.  0 or -1 (err). */
int history_query_from_json(const json_t *req, struct history_query *h, char *err,
			    size_t err_len);

/*
 * Newest first.  Appends `"events":[...]` to out: each
 * {"at":N,"event":"registered"|...|"admin","aor","contact","received",
 *  "user_agent","account","worker"} or, for admin records,
 * {"at":N,"event":"admin", <the stored action fields>}.
 * Returns 0 or an LMDB error code; *n gets the number of events.
 */
int history_list(MDB_txn *txn, MDB_dbi dbi, const struct history_query *h, struct outbuf *out,
		 uint64_t *n);

#endif
