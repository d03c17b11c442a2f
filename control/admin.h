/*
 * admin.h - the admin API of sipreg-control: one JSON request line in, one
 * JSON answer line out (or a stream for `export`).
 *
 * Requests are objects with "cmd" and the command's fields; the complete
 * list of commands, fields and errors is in README.md "Operating sipreg".
 * Every answer has "ok"; failures are {"ok":false,"error":"<what is
 * wrong, naming the field>"}.  Bad input never ends the process.
 *
 * `export` answers a header line {"ok":true,"stream":"csv"|"json",...},
 * then the rows (CSV lines with a header line, or one JSON object per
 * line), then a line holding a single ".", then a trailer
 * {"ok":true,"rows":N} (or {"ok":false,...} when the snapshot failed
 * midway).  A row can never be "." alone (a CSV row has ten commas, a
 * JSON row starts with "{").
 *
 * Thread rules: one thread (the server's poll loop) calls everything here.
 */
#ifndef SIPREG_CONTROL_ADMIN_H
#define SIPREG_CONTROL_ADMIN_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>
#include <lmdb.h>

#include "account_store.h"
#include "outbuf.h"
#include "query.h"

#define ADMIN_PROTOCOL_VERSION 1
#define ADMIN_MAX_LINE (1u << 20)     /* request bytes, newline excluded */

struct control_config {
	const char *state_dir;            /* /var/lib/sipreg */
	const char *stats_dir;            /* /dev/shm */
	const char *instance;             /* sipreg */
	const char *dataplane_socket;     /* <state_dir>/dataplane.sock */
	const char *realm;                /* for passwords -> HA1: sipreg.test */
	const char *xdp_iface;            /* read the XDP maps directly (NULL: via the dataplane) */
};

struct rate_sample {
	bool valid;
	int64_t at_ms;
	uint32_t pid;
	uint64_t rx_register, auth_failed, rx_packets, reply_200;
};

struct control {
	struct control_config cfg;
	char bindings_path[PATH_MAX];
	char history_path[PATH_MAX];
	char stats_path[PATH_MAX];
	MDB_env *bindings_env;            /* read-only, opened on first use */
	MDB_dbi bindings_dbi;
	MDB_env *history_env;             /* read-write (admin records) */
	MDB_dbi history_dbi;
	struct store_config *config;      /* accounts */
	json_t *policy_explicit;          /* the values operators set (stored) */
	json_t *policy;
	struct rate_sample older, newer;  /* 1 s apart, for the rates in stats */
};

/* Who sent a request: SO_PEERCRED of the connection. */
struct admin_peer {
	bool known;
	uid_t uid;
	pid_t pid;
};

/* An export in progress (owned by the connection). */
struct admin_stream {
	bool active;
	MDB_txn *txn;
	struct query_export ex;
};

/* Opens the config env (creating) and loads the policy; the bindings and
 * history envs open on first use (the dataplane may start later).
 * 0, or -1 with err. */
int control_open(struct control *c, const struct control_config *cfg, char *err,
		 size_t err_len);
void control_close(struct control *c);

/* Once a second: samples counters for the rates in `stats`. */
void control_tick(struct control *c, int64_t now_ms);

/*
 * Parses a request line: a JSON object with a string "cmd" naming a known
 * command.  Returns the object (new reference) and sets *cmd, or NULL with a
 * reason in err.  Used by admin_handle_line and by the fuzz target.
 */
json_t *admin_request_parse(const char *line, size_t len, const char **cmd, char *err,
			    size_t err_len);

/*
 * Validates a parsed request's fields without touching any store (the
 * fuzz target runs every command's validation through this).  0 or -1
 * with err.
 */
int admin_request_validate(const json_t *req, const char *cmd, const char *realm, char *err,
			   size_t err_len);

/*
 * Handles one request line; appends the answer line (with "\n") to out.
 * For `export` it also fills *stream (active) after writing the header line;
 * the caller then drives admin_stream_next() and admin_stream_end().
 */
void admin_handle_line(struct control *c, const char *line, size_t len,
		       const struct admin_peer *peer, struct outbuf *out,
		       struct admin_stream *stream);

/* Appends up to max_rows rows; at the end appends ".\n" and the trailer
 * and ends the stream (stream->active false). */
void admin_stream_next(struct admin_stream *s, struct outbuf *out, long max_rows);
void admin_stream_end(struct admin_stream *s);

#endif
