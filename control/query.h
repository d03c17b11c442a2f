/*
 * query.h - registrations as the operator sees them: filters, columns,
 * sorting, paging and streaming export over one LMDB read snapshot of the
 * `bindings` environment (plus `history` for status "unregistered").
 *
 * Filters combine (AND); each is optional:
 *   aor          exact AOR ("sip:1001@sipreg.test")
 *   aor_prefix   AOR prefix ("sip:10"); uses the key order (a range scan)
 *   number       the AOR's user part, exact ("1001" matches sip:1001@any)
 *   number_prefix  the user part's prefix ("10")
 *   ip           source IP: exact ("198.18.0.2", "2001:db8::2"), CIDR
 *                ("198.18.0.0/24") or wildcard ("192.168.1.x", "10.x.x.x")
 *   account      exact account name
 *   status       any of "registered", "expiring", "expired" (still in LMDB
 *                past its expiry: the dataplane was down) and "unregistered"
 *                (removed, from history)
 *   user_agent   substring, case-sensitive
 * Columns (query_column_name): aor contact received transport expires_in_s
 * account user_agent registered_at refreshed_at status nat.
 *
 * A list scans every record that can match (the whole table unless aor or
 * aor_prefix narrows it) so `total` is exact, and keeps only the best
 * offset+limit rows (a bounded heap) for the page: memory is
 * O(offset+limit), never O(table).
 *
 * Thread rules: none; every call takes the transactions it reads from.
 */
#ifndef SIPREG_CONTROL_QUERY_H
#define SIPREG_CONTROL_QUERY_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <lmdb.h>

#include "account_store.h"
#include "lmdb_records.h"
#include "outbuf.h"

enum query_column {
	QCOL_AOR,
	QCOL_CONTACT,
	QCOL_RECEIVED,
	QCOL_TRANSPORT,
	QCOL_EXPIRES_IN,
	QCOL_ACCOUNT,
	QCOL_USER_AGENT,
	QCOL_REGISTERED_AT,
	QCOL_REFRESHED_AT,
	QCOL_STATUS,
	QCOL_NAT,
	QCOL_COUNT
};

enum query_status {
	QSTATUS_REGISTERED,
	QSTATUS_EXPIRING,
	QSTATUS_EXPIRED,
	QSTATUS_UNREGISTERED,
	QSTATUS_COUNT
};

#define QUERY_MAX_STRING 512          /* longest filter string */
#define QUERY_MAX_PAGE 10000          /* limit */
#define QUERY_MAX_WINDOW 200000       /* offset + limit (rows held for sorting) */
#define QUERY_DEFAULT_LIMIT 100

struct query_filter {
	char aor[QUERY_MAX_STRING];
	char aor_prefix[QUERY_MAX_STRING];
	char number[QUERY_MAX_STRING];
	char number_prefix[QUERY_MAX_STRING];
	bool has_ip;
	struct store_cidr ip;
	char account[QUERY_MAX_STRING];
	char user_agent[QUERY_MAX_STRING];
	unsigned status_mask;             /* 1u << enum query_status; 0: all live */
};

struct query_options {
	struct query_filter filter;
	enum query_column sort;           /* default QCOL_AOR (key order) */
	bool desc;
	uint64_t offset;
	uint64_t limit;
	bool count_only;
	uint32_t expiring_window_s;       /* policy; 60 by default */
};

const char *query_column_name(enum query_column c);
const char *query_status_name(enum query_status s);

/*
 * Reads filter, sort, desc, offset, limit and count fields from a request
 * object (admin API field names above).  Unknown fields are the caller's
 * business.  Returns 0, or -1 with a one-line reason naming the field in
 * err.  Never fails on any JSON input other than with -1.
 */
int query_options_from_json(const json_t *req, struct query_options *q, char *err,
			    size_t err_len);

/* Parses an IP filter: exact, CIDR or wildcard.  0 or -1. */
int query_ip_filter_parse(const char *s, struct store_cidr *out);

/* One registration row: a live binding or an unregistered one. */
struct query_row {
	struct store_binding_data b;
	uint8_t status;                   /* enum query_status */
	uint8_t reason;                   /* enum store_event_type, unregistered rows */
	int64_t unregistered_at_s;
};

/* Does the live binding b (status st) pass the filter? */
bool query_match(const struct query_filter *f, const struct store_binding_data *b,
		 enum query_status st);

enum query_status query_live_status(const struct store_binding_data *b, int64_t now_s,
				    uint32_t expiring_window_s);

/*
 * Runs a list.  btxn is a read transaction on `bindings` (bdbi); htxn on
 * `history` (hdbi) may be NULL when status does not ask for "unregistered".
 * Appends to out the JSON fields `"total":N` and, unless count_only,
 * `,"rows":[...]` (objects keyed by column name; unregistered rows also carry
 * "reason" and "unregistered_at").  Returns 0 or an LMDB error code.
 */
int query_list(MDB_txn *btxn, MDB_dbi bdbi, MDB_txn *htxn, MDB_dbi hdbi,
	       const struct query_options *q, int64_t now_s, struct outbuf *out,
	       uint64_t *total);

/* One row in the export formats.  CSV: the columns in order, times as
 * ISO-8601 UTC; JSON: one object per line, times as Unix seconds.  Both end
 * with "\n". */
void query_row_csv(struct outbuf *o, const struct query_row *r, int64_t now_s);
void query_row_json(struct outbuf *o, const struct query_row *r, int64_t now_s);
/* The CSV header line. */
void query_csv_header(struct outbuf *o);

/*
 * Streaming export over a snapshot: the caller owns the transaction (kept
 * open for the whole export) and calls query_export_next() until it returns
 * 0 rows, writing each chunk out before asking for more.  Live bindings
 * only, in AOR order.
 */
struct query_export {
	MDB_cursor *cur;
	struct query_options q;
	bool csv;
	bool started;
	bool done;
	int64_t now_s;
	uint64_t rows;
};

int query_export_begin(struct query_export *e, MDB_txn *btxn, MDB_dbi bdbi,
		       const struct query_options *q, bool csv, int64_t now_s);
/* Appends up to max_rows rows; returns how many (0 at the end), or -1 with
 * an LMDB error (rc).  */
long query_export_next(struct query_export *e, struct outbuf *o, long max_rows, int *rc);
void query_export_end(struct query_export *e);

#endif
